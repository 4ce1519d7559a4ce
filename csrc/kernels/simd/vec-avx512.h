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
  static constexpr int kRegisters = 32;
  static constexpr int kMaskRegisters = 7;  // k1-k7 can mask an instruction

  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static Reg load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, Reg v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, Reg v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static void store_first(float* p, Reg v, int64_t n) { store(p, v, tail_mask(n)); }
  // A vector is one 64-byte cache line, so non-temporal stores write whole lines.
  static constexpr bool kLineVector = true;
  static void stream(float* p, Reg v) { _mm512_stream_ps(p, v); }  // p 64-byte aligned
  static void stream_fence() { _mm_sfence(); }
  static Reg broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Reg set1(float v) { return _mm512_set1_ps(v); }
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg fma(Reg a, Reg b, Reg c, Mask m) { return _mm512_mask3_fmadd_ps(a, b, c, m); }  // c off m
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static float sum(Reg v) { return _mm512_reduce_add_ps(v); }  // of the lanes
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
  static Mask range_mask(int64_t lo, int64_t hi) {
    return static_cast<Mask>(((1u << clamp_lanes(hi)) - 1u) & ~((1u << clamp_lanes(lo)) - 1u));
  }
  static Reg gather(const float* p, int64_t stride, Mask m) {
    const __m512i index = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(static_cast<int>(stride)));
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, index, p, 4);
  }
  static Mask all_lanes() { return static_cast<Mask>(0xffffu); }
  static Mask load_mask(const int32_t* p) { return _mm512_movepi32_mask(_mm512_loadu_si512(p)); }
  // a + b on the lanes of m, a elsewhere.
  static Reg add_on(Reg a, Mask m, Reg b) { return _mm512_mask_add_ps(a, m, a, b); }
  // v, with *p broadcast to the lanes of m (one masked VBROADCASTSS).
  static Reg select(Mask m, Reg v, const float* p) {
    return _mm512_mask_mov_ps(v, m, _mm512_set1_ps(*p));
  }
  // v where m is on, 0 elsewhere.
  static Reg and_mask(Reg v, Mask m) { return _mm512_maskz_mov_ps(m, v); }

  // Even / odd elements of the 32 floats a:b in natural order (VPERMT2PS is one shuffle here).
  static Reg even(Reg a, Reg b) {
    const __m512i index = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(a, index, b);
  }
  static Reg odd(Reg a, Reg b) {
    const __m512i index = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return _mm512_permutex2var_ps(a, index, b);
  }
  static Reg from_pair_order(Reg v) { return v; }
  // Lanes N .. N + 15 of the 32 floats lo:hi, 0 < N < 16 (one VALIGND).
  template <int N>
  static Reg alignr(Reg hi, Reg lo) {
    return _mm512_castsi512_ps(
        _mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), N));
  }
  // Halves (8 lanes): [half HX of x | half HY of y] (one VSHUFF32X4), [lo's low | hi's high]
  // (one VBLENDMPS), and a vector whose halves come from or go to two addresses.
  template <int HX, int HY>
  static Reg halves(Reg x, Reg y) {
    return _mm512_shuffle_f32x4(x, y, (2 * HX) | (2 * HX + 1) << 2 | (2 * HY) << 4 |
                                          (2 * HY + 1) << 6);
  }
  static Reg blend_halves(Reg lo, Reg hi) { return _mm512_mask_blend_ps(0xff00, lo, hi); }
  static Reg load_halves(const float* lo, const float* hi) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(lo)), _mm256_loadu_ps(hi), 1);
  }
  static void store_halves(float* lo, float* hi, Reg v) {
    _mm256_storeu_ps(lo, _mm512_castps512_ps256(v));
    _mm256_storeu_ps(hi, _mm512_extractf32x8_ps(v, 1));
  }

 private:
  static unsigned clamp_lanes(int64_t n) {
    return static_cast<unsigned>(n < 0 ? 0 : n > kWidth ? kWidth : n);
  }
};

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
