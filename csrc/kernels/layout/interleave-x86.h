// Channel-tile interleave (see interleave-generic.cpp) with 8x8 AVX transposes: 8 channels x 8
// pixels in, 8 pixels x 8 channels out, per group of 8 channels of the tile. Used by the AVX2 and
// AVX-512 builds (both have 256-bit AVX). A pixel count n that is not a multiple of 8 ends with
// one more block over the last 8 pixels, which rewrites a few of them with the same values (the
// scalar loop per pixel and channel cost a quarter of the instructions on 7x7 and 14x14 images);
// fewer than 8 pixels go through the scalar loop.
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

// Pixels [i, i + 8) at the 8x8 blocks of 8 pixels from 0 to n8, and, when n8 < n, at n - 8.
template <class Block>
static inline void blocks_of_8(int64_t n, int64_t n8, Block&& block) {
  for (int64_t i = 0; i < n8; i += 8) block(i);
  if (n8 < n && n >= 8) block(n - 8);
}

// Channels [g, g + 8) of the tile, planes from `planar`: 8x8 blocks, the planes past `live` (the
// tile's missing channels) read as zeros. The strides and the 8 plane pointers are locals: the
// intrinsic stores may alias anything, so fields of p would be reloaded after each of them.
template <bool Full>
static inline void interleave_group(const kernels::InterleaveArgs& p, int64_t g, int64_t live,
                                    int64_t n, int64_t n8) {
  const int64_t tile = p.tile;
  const float* planes[8];  // null past `live`, which are never read
  for (int j = 0; j < 8; ++j) planes[j] = j < live ? p.planar + (g + j) * p.plane_stride : nullptr;
  float* const dst = p.interleaved + g;
  blocks_of_8(n, n8, [&](int64_t i) {
    __m256 r[8];
    for (int j = 0; j < 8; ++j) {
      r[j] = Full || j < live ? _mm256_loadu_ps(planes[j] + i) : _mm256_setzero_ps();
    }
    transpose8(r);
    float* out = dst + i * tile;
    for (int k = 0; k < 8; ++k, out += tile) _mm256_storeu_ps(out, r[k]);
  });
}

static inline void interleave(const kernels::InterleaveArgs& p) {
  const int64_t n = p.rows * p.width;
  const int64_t n8 = n - n % 8;
  for (int64_t g = 0; g < p.tile; g += 8) {
    // Full groups load without the per-plane test. With that and the locals of
    // interleave_group, 3x3 7x7 C960 NCHW (callgrind, per call): interleave 105k -> 53k
    // instructions, deinterleave 86k -> 48k.
    if (g + 8 <= p.channels) {
      interleave_group<true>(p, g, 8, n, n8);
    } else {
      interleave_group<false>(p, g, p.channels - g, n, n8);
    }
  }
  if (n >= 8) return;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < p.tile; ++j) {
      p.interleaved[i * p.tile + j] = j < p.channels ? p.planar[j * p.plane_stride + i] : 0.0f;
    }
  }
}

static inline void deinterleave(const kernels::InterleaveArgs& p) {
  float* planar = const_cast<float*>(p.planar);
  const int64_t n = p.rows * p.width;
  const int64_t n8 = n - n % 8;
  const int64_t tile = p.tile;
  for (int64_t g = 0; g < tile && g < p.channels; g += 8) {
    const int64_t live = p.channels - g;
    const float* const src = p.interleaved + g;
    float* planes[8];  // null past `live`, which are never written
    for (int j = 0; j < 8; ++j) planes[j] = j < live ? planar + (g + j) * p.plane_stride : nullptr;
    blocks_of_8(n, n8, [&](int64_t i) {
      __m256 r[8];
      const float* in = src + i * tile;
      for (int k = 0; k < 8; ++k, in += tile) r[k] = _mm256_loadu_ps(in);
      transpose8(r);
      if (live >= 8) {
        for (int j = 0; j < 8; ++j) _mm256_storeu_ps(planes[j] + i, r[j]);
      } else {
        for (int j = 0; j < live; ++j) _mm256_storeu_ps(planes[j] + i, r[j]);
      }
    });
  }
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
