// AVX-512F vector of 16 floats; mirrors vec-avx2.h. Included inside namespace sepconv::<isa>.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace sepconv {
namespace SEPCONV_ISA_NS {

struct VecAvx512 {
  using Reg = __m512;
  using Mask = __mmask16;
  static constexpr int kWidth = 16;

  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static Reg load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, Reg v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, Reg v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static Reg broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Reg set1(float v) { return _mm512_set1_ps(v); }
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static Reg div(Reg a, Reg b) { return _mm512_div_ps(a, b); }
  // Same NaN rule as VPMAXPS/VMAXPS on AVX2: the second operand is returned when either is NaN.
  static Reg max(Reg a, Reg b) { return _mm512_max_ps(a, b); }
  static Reg min(Reg a, Reg b) { return _mm512_min_ps(a, b); }
  static Reg round(Reg v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static Reg pow2(Reg n) {
    const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_castsi512_ps(bits);
  }
  static Mask tail_mask(int64_t n) { return static_cast<Mask>((1u << n) - 1u); }
};

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
