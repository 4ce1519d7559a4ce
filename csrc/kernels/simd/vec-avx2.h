// AVX2+FMA vector of 8 floats, the interface the SIMD kernel templates are written against
// (vec-avx512.h mirrors it with 16 lanes). Included inside namespace sepconv::<isa>.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace sepconv {
namespace SEPCONV_ISA_NS {

struct VecAvx2 {
  using Reg = __m256;
  using Mask = __m256i;
  static constexpr int kWidth = 8;
  static constexpr int kRegisters = 16;
  static constexpr int kMaskRegisters = 0;  // masks take vector registers

  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static Reg load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, Reg v) { _mm256_storeu_ps(p, v); }
  static void store(float* p, Reg v, Mask m) { _mm256_maskstore_ps(p, m, v); }
  // Lanes [0, n), 0 < n < kWidth. VMASKMOVPS stores cost ~15 cycles each on Zen 3 (measured:
  // 4-6 ns vs 0.75 ns for these pieces), which dominates rows of 7 or 14 outputs.
  static void store_first(float* p, Reg v, int64_t n) {
    __m128 part = _mm256_castps256_ps128(v);
    if (n & 4) {
      _mm_storeu_ps(p, part);
      part = _mm256_extractf128_ps(v, 1);
      p += 4;
    }
    if (n & 2) {
      _mm_storel_pi(reinterpret_cast<__m64*>(p), part);
      part = _mm_movehl_ps(part, part);
      p += 2;
    }
    if (n & 1) _mm_store_ss(p, part);
  }
  // Two vectors per 64-byte cache line: non-temporal stores would write half lines.
  static constexpr bool kLineVector = false;
  static void stream(float* p, Reg v) { _mm256_stream_ps(p, v); }  // p 32-byte aligned
  static void stream_fence() { _mm_sfence(); }
  static Reg broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Reg set1(float v) { return _mm256_set1_ps(v); }
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg fma(Reg a, Reg b, Reg c, Mask m) { return fma(and_mask(a, m), b, c); }  // c off m
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static float sum(Reg v) {  // of the lanes
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static Reg div(Reg a, Reg b) { return _mm256_div_ps(a, b); }
  // Return b where either operand is NaN, so max(lo, v) and min(hi, v) propagate a NaN in v.
  static Reg max(Reg a, Reg b) { return _mm256_max_ps(a, b); }
  static Reg min(Reg a, Reg b) { return _mm256_min_ps(a, b); }
  static Reg round(Reg v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // 2^n for integral n in [-126, 127].
  static Reg pow2(Reg n) {
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_castsi256_ps(bits);
  }
  // Lanes [0, n) on, for 0 < n <= kWidth.
  static Mask tail_mask(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  // Lanes [lo, hi) on; lo and hi may lie outside [0, kWidth].
  static Mask range_mask(int64_t lo, int64_t hi) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i below_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(clamp_lanes(hi)), lane);
    const __m256i below_lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(clamp_lanes(lo)), lane);
    return _mm256_andnot_si256(below_lo, below_hi);
  }
  // p[lane * stride] for the lanes of m (others 0); p may lie outside the array where m is off.
  static Reg gather(const float* p, int64_t stride, Mask m) {
    const __m256i index = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32(static_cast<int>(stride)));
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, index, _mm256_castsi256_ps(m), 4);
  }
  static Mask all_lanes() { return _mm256_set1_epi32(-1); }
  // A mask stored as one int32 per lane (-1 on, 0 off).
  static Mask load_mask(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  // v where m is on, 0 elsewhere.
  static Reg and_mask(Reg v, Mask m) { return _mm256_and_ps(v, _mm256_castsi256_ps(m)); }

  // Even / odd elements of the 16 floats a:b, for stride-2 windows. VSHUFPS keeps them within
  // 128-bit halves (one shuffle each): lanes come out in the order 0 1 4 5 2 3 6 7, which every
  // tap shares, so accumulators stay in that order until from_pair_order() before the store.
  static Reg even(Reg a, Reg b) { return _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)); }
  static Reg odd(Reg a, Reg b) { return _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)); }
  static Reg from_pair_order(Reg v) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  // Halves (4 lanes): [half HX of x | half HY of y] (one VPERM2F128), [lo's low | hi's high]
  // (one VBLENDPS), and a vector whose halves come from or go to two addresses.
  template <int HX, int HY>
  static Reg halves(Reg x, Reg y) { return _mm256_permute2f128_ps(x, y, HX | (2 + HY) << 4); }
  static Reg blend_halves(Reg lo, Reg hi) { return _mm256_blend_ps(lo, hi, 0xf0); }
  static Reg load_halves(const float* lo, const float* hi) {
    return _mm256_loadu2_m128(hi, lo);
  }
  static void store_halves(float* lo, float* hi, Reg v) {
    _mm_storeu_ps(lo, _mm256_castps256_ps128(v));
    _mm_storeu_ps(hi, _mm256_extractf128_ps(v, 1));
  }

 private:
  static int clamp_lanes(int64_t n) { return static_cast<int>(n < 0 ? 0 : n > kWidth ? kWidth : n); }
};

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
