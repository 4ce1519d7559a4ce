// Weight packing for the blocked GEMM kernels (kernels.h: GemmBlockArgs), parameterised by the
// active table's tile sizes. Packing is done once per call today; a prepacked layer object can keep
// the result and skip it.
#pragma once

#include <cstdint>

#include "core/parallel.h"
#include "kernels/kernels.h"

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

namespace sepconv {
namespace detail {

// B panels of a k x n matrix B(kk, j) = src[kk * k_stride + j * n_stride], bias per column (may be
// null). packed_b_floats() floats at dst.
int64_t packed_b_floats(int64_t k, int64_t n, const kernels::GemmTiles& t);
void pack_gemm_b(const float* src, int64_t k, int64_t n, int64_t k_stride, int64_t n_stride,
                 const float* bias, const kernels::GemmTiles& t, float* dst);

// Scratch floats per thread for the B-rows kernels (GemmBlockArgs::workspace).
inline int64_t gemm_rows_workspace(int64_t kc, int64_t n, const kernels::GemmTiles& t) {
  return kc * ((n + t.nr - 1) / t.nr) * t.nr;
}

#if defined(__SSE2__)
// dst[j * dst_stride + i] = src[i * src_stride + j] for i, j < 4, in SSE registers (the baseline ISA:
// core files only, never a per-ISA kernel).
inline void transpose_4x4(const float* src, int64_t src_stride, float* dst, int64_t dst_stride) {
  __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + src_stride);
  __m128 r2 = _mm_loadu_ps(src + 2 * src_stride), r3 = _mm_loadu_ps(src + 3 * src_stride);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  _mm_storeu_ps(dst, r0);
  _mm_storeu_ps(dst + dst_stride, r1);
  _mm_storeu_ps(dst + 2 * dst_stride, r2);
  _mm_storeu_ps(dst + 3 * dst_stride, r3);
}
#endif

// k-block for a depth of k: the table's kc, balanced so that the blocks are near equal.
int64_t gemm_kc(int64_t k, const kernels::GemmTiles& t);

// A partition of an m x n GEMM into blocks of whole tiles (mr x nr; the last may be short), even
// in each dimension (parallel.h: Split): at most max_mb x max_nb (rounded down to whole tiles), and
// at least min_tasks blocks (counting `other` independent GEMMs), a number the threads divide,
// while blocks can still be split.
struct GemmBlocks {
  Split m, n;
};
GemmBlocks gemm_blocks(int64_t m, int64_t n, int64_t mr, int64_t nr, int64_t max_mb, int64_t max_nb,
                       int64_t other, int64_t min_tasks);

}  // namespace detail
}  // namespace sepconv
