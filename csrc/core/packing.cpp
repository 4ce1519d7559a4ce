#include "core/packing.h"

#include <algorithm>

#include "core/parallel.h"

namespace sepconv {
namespace detail {

int64_t packed_b_floats(int64_t k, int64_t n, const kernels::GemmTiles& t) {
  return ceil_div(n, t.nr) * t.nr * (k + 1);
}

void pack_gemm_b(const float* src, int64_t k, int64_t n, int64_t k_stride, int64_t n_stride,
                 const float* bias, const kernels::GemmTiles& t, float* dst) {
  for (int64_t j0 = 0; j0 < n; j0 += t.nr) {
    const int64_t nr = std::min(t.nr, n - j0);
    const int64_t w = std::min(t.nr, ceil_div(nr, t.nr_step) * t.nr_step);
    float* panel = dst + (j0 / t.nr) * t.nr * (k + 1);
    for (int64_t j = 0; j < w; ++j) panel[j] = j < nr && bias != nullptr ? bias[j0 + j] : 0.0f;
    float* rows = panel + w;
    if (nr < w) std::fill(rows, rows + k * w, 0.0f);
    int64_t k_done = 0;
#if defined(__SSE2__)
    // Source contiguous along k (PyTorch weights for NHWC): 4 x 4 transposes in SSE registers.
    if (k_stride == 1 && nr % 4 == 0) {
      k_done = k & ~int64_t(3);
      for (int64_t k0 = 0; k0 < k_done; k0 += 4) {
        for (int64_t j = 0; j < nr; j += 4) {
          transpose_4x4(src + (j0 + j) * n_stride + k0, n_stride, rows + k0 * w + j, w);
        }
      }
    }
#endif
    // Blocks of 8 k so that the nr source streams are read a cache line at a time.
    for (int64_t k0 = k_done; k0 < k; k0 += 8) {
      const int64_t kn = std::min<int64_t>(8, k - k0);
      for (int64_t j = 0; j < nr; ++j) {
        const float* s = src + k0 * k_stride + (j0 + j) * n_stride;
        float* d = rows + k0 * w + j;
        for (int64_t kk = 0; kk < kn; ++kk) d[kk * w] = s[kk * k_stride];
      }
    }
  }
}

int64_t gemm_kc(int64_t k, const kernels::GemmTiles& t) {
  const int64_t kc = std::max<int64_t>(1, t.kc);
  return ceil_div(k, ceil_div(k, kc));
}

GemmBlocks gemm_blocks(int64_t m, int64_t n, int64_t mr, int64_t nr, int64_t max_mb, int64_t max_nb,
                       int64_t other, int64_t min_tasks) {
  const int64_t mt = ceil_div(m, mr), nt = ceil_div(n, nr);  // tiles
  int64_t m_blocks = ceil_div(mt, std::max<int64_t>(1, max_mb / mr));
  int64_t n_blocks = ceil_div(nt, std::max<int64_t>(1, max_nb / nr));
  other = std::max<int64_t>(1, other);
  while (m_blocks * n_blocks * other < min_tasks || tasks_unbalanced(m_blocks * n_blocks * other)) {
    const int64_t per_m = ceil_div(mt, m_blocks), per_n = ceil_div(nt, n_blocks);
    if (per_m <= 1 && per_n <= 1) break;
    // Split the dimension with more tiles per block; M first on ties (distinct inputs per task).
    if (per_m >= per_n) {
      ++m_blocks;
    } else {
      ++n_blocks;
    }
  }
  return GemmBlocks{Split{m, mr, std::min(m_blocks, mt)}, Split{n, nr, std::min(n_blocks, nt)}};
}

}  // namespace detail
}  // namespace sepconv
