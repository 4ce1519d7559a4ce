#include <algorithm>

#include "core/check.h"
#include "core/dispatch.h"
#include "core/operators.h"
#include "core/packing.h"
#include "core/parallel.h"

namespace sepconv {
namespace detail {

void run_pointwise(const ConvPlan& p, const float* x, const float* weight, const float* bias,
                   float* y) {
  const kernels::KernelTable& kt = active_kernels();
  const kernels::GemmTiles& tiles = kt.gemm_tiles;
  const int64_t pixels = p.out_pixels();
  const int64_t cin = p.in_channels, cout = p.out_channels;
  const int64_t threads = get_num_threads();
  const int64_t min_tasks = threads > 1 ? 4 * threads : 1;
  const int64_t kc = gemm_kc(cin, tiles);
  // Per task: the k-block of the operand reused across the block stays in L2 (64 K floats), the C
  // block across the k-blocks too (32 K floats).
  const int64_t max_reused = std::max(std::max(tiles.mr, tiles.nr), (int64_t(1) << 16) / kc);

  if (p.layout == Layout::NCHW) {
    // Y_n (Cout x P) = W (Cout x Cin) * X_n (Cin x P): W read in place, bias per row; the kernel
    // copies each k-block of X_n into panels in the workspace. Both the A block and the B block
    // share L2 (32 K floats each).
    const int64_t max_mb = std::max(tiles.mr, (int64_t(1) << 15) / kc);
    const int64_t max_nb = std::max(tiles.nr, (int64_t(1) << 15) / kc);
    const GemmBlocks blk =
        gemm_blocks(cout, pixels, tiles.mr, tiles.nr, max_mb, max_nb, p.batch, min_tasks);
    const int64_t per_image = blk.m_blocks * blk.n_blocks;
    const int64_t ws_floats = gemm_rows_workspace(kc, blk.nb, tiles);
    std::vector<float> workspace(static_cast<size_t>(threads * ws_floats));
    parallel_for(p.batch * per_image, [&](int64_t task, int thread) {
      const int64_t n = task / per_image;
      const int64_t m0 = (task % per_image) / blk.n_blocks * blk.mb;
      const int64_t p0 = (task % blk.n_blocks) * blk.nb;
      kernels::GemmBlockArgs a;
      a.m = std::min(blk.mb, cout - m0); a.n = std::min(blk.nb, pixels - p0);
      a.k = cin; a.kc = kc;
      a.a = weight + m0 * cin; a.lda = cin;
      a.b = x + n * cin * pixels + p0; a.ldb = pixels;
      a.bias = bias != nullptr ? bias + m0 : nullptr;
      a.c = y + (n * cout + m0) * pixels + p0; a.ldc = pixels;
      a.activation = p.activation;
      a.workspace = workspace.data() + thread * ws_floats;
      kt.gemm_rows_rows(a);
    });
    return;
  }

  // Y (N*P x Cout) = X (N*P x Cin, read in place) * W^T (packed B panels with the bias).
  std::vector<float> packed(static_cast<size_t>(packed_b_floats(cin, cout, tiles)));
  pack_gemm_b(weight, cin, cout, 1, cin, bias, tiles, packed.data());
  const int64_t rows_total = p.batch * pixels;
  const int64_t max_nb = max_reused;
  const int64_t max_mb = std::max(tiles.mr, (int64_t(1) << 15) / std::min(cout, max_nb));
  const GemmBlocks blk =
      gemm_blocks(rows_total, cout, tiles.mr, tiles.nr, max_mb, max_nb, 1, min_tasks);
  parallel_for(blk.m_blocks * blk.n_blocks, [&](int64_t task, int) {
    const int64_t r0 = task / blk.n_blocks * blk.mb;
    const int64_t c0 = task % blk.n_blocks * blk.nb;
    kernels::GemmBlockArgs a;
    a.m = std::min(blk.mb, rows_total - r0); a.n = std::min(blk.nb, cout - c0);
    a.k = cin; a.kc = kc;
    a.a = x + r0 * cin; a.lda = cin;
    a.b = packed.data() + c0 * (cin + 1); a.ldb = 0;
    a.bias = nullptr;
    a.c = y + r0 * cout + c0; a.ldc = cout;
    a.activation = p.activation;
    a.workspace = nullptr;
    kt.gemm_rows_panels(a);
  });
}

}  // namespace detail

void pointwise_conv2d(const PointwiseConv2dDesc& desc, const float* x, const float* weight,
                      const float* bias, float* y) {
  const ConvPlan p = plan(desc);
  detail::require_output(p, y, x, weight, bias, p.out_channels);
  detail::run_pointwise(p, x, weight, bias, y);
}

}  // namespace sepconv
