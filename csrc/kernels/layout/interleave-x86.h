// Channel-tile interleave (see interleave-generic.cpp) with 8x8 AVX transposes: 8 channels x 8
// pixels in, 8 pixels x 8 channels out. Used by the AVX2 and AVX-512 builds (both have 256-bit
// AVX), for the NCHW depthwise path's channel tiles and conv2d's change of layout (a tile as wide
// as the pixel; either way a whole number of groups of 8 channels). A pixel count n that is not a
// multiple of 8 ends with one more block over the last 8 pixels, which rewrites a few of them with
// the same values (the scalar loop per pixel and channel cost a quarter of the instructions on 7x7
// and 14x14 images); fewer than 8 pixels go through the scalar loop.
#pragma once

#include <immintrin.h>

#include "kernels/isa-common.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace interleave_x86 {

// Rows r[0..7] of 8 floats become their columns (a transpose is its own inverse).
static inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// The pixels in steps of 16 and each step channel group by group, two 8x8 blocks per group: each
// step's tiles are filled (or drained) whole before the next, and each plane is read (or written)
// a whole cache line at a time. Measured against each group over all the pixels before the next
// (AVX-512, Zen 5, 1 thread, µs, two binaries taking turns): NCHW depthwise batch 1 3x3 C192@28
// 37.4 -> 32.2, 5x5 C240@28 73 -> 67, 7x7 C96@56 204 -> 187, 3x3 C960@7 and C384@14 a tie; batch
// 8 5x5 C240@28 833 -> 715, 7x7 C96@56 2042 -> 1878; NCHW conv2d 3x3 384->64@14 357 -> 361
// against steps of 8 pixels (which lost 0.9x on those batch-8 layers, read from memory half a
// line per plane at a time). fn(i, blocks) covers the blocks of 8 from pixel i.
template <class Step>
static inline void steps_of_16(int64_t n, Step&& fn) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) fn(i, 2);
  if (i + 8 <= n) {
    fn(i, 1);
    i += 8;
  }
  if (i < n && n >= 8) fn(n - 8, 1);
}

// The planes past `channels` read as zeros. Locals rather than fields of p: the intrinsic stores
// may alias anything, so fields would be reloaded after each of them.
static inline void interleave(const kernels::InterleaveArgs& p) {
  const int64_t n = p.rows * p.width;
  const int64_t tile = p.tile, channels = p.channels, stride = p.plane_stride;
  const float* const planar = p.planar;
  float* const interleaved = p.interleaved;
  steps_of_16(n, [&](int64_t i0, int blocks) {
    for (int64_t g = 0; g < tile; g += 8) {
      const float* const plane = planar + g * stride;
      float* const out = interleaved + g;
      const int64_t live = channels - g;  // planes of the group to read (full: 8 or more)
      for (int b = 0; b < blocks; ++b) {
        const int64_t i = i0 + 8 * b;
        __m256 r[8];
        if (live >= 8) {  // a full group loads without the per-plane test
          for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(plane + j * stride + i);
        } else {
          for (int j = 0; j < 8; ++j) {
            r[j] = j < live ? _mm256_loadu_ps(plane + j * stride + i) : _mm256_setzero_ps();
          }
        }
        transpose8(r);
        for (int k = 0; k < 8; ++k) _mm256_storeu_ps(out + (i + k) * tile, r[k]);
      }
    }
  });
  if (n >= 8) return;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < p.tile; ++j) {
      p.interleaved[i * p.tile + j] = j < p.channels ? p.planar[j * p.plane_stride + i] : 0.0f;
    }
  }
}

static inline void deinterleave(const kernels::InterleaveArgs& p) {
  const int64_t n = p.rows * p.width;
  const int64_t tile = p.tile, channels = p.channels, stride = p.plane_stride;
  float* const planar = const_cast<float*>(p.planar);
  const float* const interleaved = p.interleaved;
  steps_of_16(n, [&](int64_t i0, int blocks) {
    for (int64_t g = 0; g < tile && g < channels; g += 8) {
      const float* const in = interleaved + g;
      float* const plane = planar + g * stride;
      const int64_t live = channels - g < 8 ? channels - g : 8;  // planes to write
      for (int b = 0; b < blocks; ++b) {
        const int64_t i = i0 + 8 * b;
        __m256 r[8];
        for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(in + (i + k) * tile);
        transpose8(r);
        for (int j = 0; j < live; ++j) _mm256_storeu_ps(plane + j * stride + i, r[j]);
      }
    }
  });
  if (n >= 8) return;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < p.channels; ++j) {
      planar[j * p.plane_stride + i] = p.interleaved[i * p.tile + j];
    }
  }
}

}  // namespace interleave_x86
}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
