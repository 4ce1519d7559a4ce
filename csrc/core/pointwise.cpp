#include <algorithm>

#include "core/check.h"
#include "core/dispatch.h"
#include "core/operators.h"
#include "core/parallel.h"

namespace sepconv {
namespace detail {

void run_pointwise(const ConvPlan& p, const float* x, const float* weight, const float* bias,
                   float* y) {
  const kernels::KernelTable& kt = active_kernels();
  const int64_t pixels = p.out_pixels();
  const int64_t cin = p.in_channels, cout = p.out_channels;
  const int64_t min_tasks = 4 * static_cast<int64_t>(get_num_threads());
  const kernels::BiasAxis bias_axis = bias == nullptr ? kernels::BiasAxis::None
                                      : p.layout == Layout::NCHW ? kernels::BiasAxis::Row
                                                                 : kernels::BiasAxis::Column;

  if (p.layout == Layout::NCHW) {
    // Y_n (Cout x P) = W (Cout x Cin) * X_n (Cin x P): the weights are already row-major.
    const int64_t cols = block_size_for(pixels, p.batch, min_tasks, 64);
    const int64_t col_blocks = ceil_div(pixels, cols);
    parallel_for(p.batch * col_blocks, [&](int64_t task, int) {
      const int64_t n = task / col_blocks;
      const int64_t p0 = (task % col_blocks) * cols;
      kernels::GemmArgs a;
      a.m = cout; a.n = std::min(cols, pixels - p0); a.k = cin;
      a.a = weight; a.lda = cin;
      a.b = x + n * cin * pixels + p0; a.ldb = pixels;
      a.c = y + n * cout * pixels + p0; a.ldc = pixels;
      a.bias = bias; a.bias_axis = bias_axis;
      a.activation = p.activation;
      kt.gemm(a);
    });
    return;
  }

  // Y (N*P x Cout) = X (N*P x Cin) * W^T (Cin x Cout).
  std::vector<float> wt(static_cast<size_t>(cin * cout));
  for (int64_t co = 0; co < cout; ++co) {
    for (int64_t ci = 0; ci < cin; ++ci) wt[ci * cout + co] = weight[co * cin + ci];
  }
  const int64_t rows_total = p.batch * pixels;
  const int64_t rows = block_size_for(rows_total, 1, min_tasks, 16);
  parallel_for(ceil_div(rows_total, rows), [&](int64_t task, int) {
    const int64_t r0 = task * rows;
    kernels::GemmArgs a;
    a.m = std::min(rows, rows_total - r0); a.n = cout; a.k = cin;
    a.a = x + r0 * cin; a.lda = cin;
    a.b = wt.data(); a.ldb = cout;
    a.c = y + r0 * cout; a.ldc = cout;
    a.bias = bias; a.bias_axis = bias_axis;
    a.activation = p.activation;
    kt.gemm(a);
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
