#include <algorithm>

#include "core/check.h"
#include "core/dispatch.h"
#include "core/operators.h"
#include "core/parallel.h"

namespace sepconv {
namespace detail {

std::vector<float> pack_dwconv_nhwc(const ConvPlan& p, const float* weight, const float* bias,
                                    int64_t channel_tile) {
  const int64_t taps = p.window.kernel_h * p.window.kernel_w;
  const int64_t tiles = ceil_div(p.out_channels, channel_tile);
  std::vector<float> packed(static_cast<size_t>(tiles * (1 + taps) * channel_tile), 0.0f);
  for (int64_t t = 0; t < tiles; ++t) {
    float* dst = packed.data() + t * (1 + taps) * channel_tile;
    const int64_t c0 = t * channel_tile;
    const int64_t nc = std::min(channel_tile, p.out_channels - c0);
    for (int64_t j = 0; j < nc; ++j) {
      dst[j] = bias != nullptr ? bias[c0 + j] : 0.0f;
      for (int64_t k = 0; k < taps; ++k) dst[(1 + k) * channel_tile + j] = weight[(c0 + j) * taps + k];
    }
  }
  return packed;
}

void run_depthwise(const ConvPlan& p, const float* x, const float* weight, const float* bias,
                   float* y) {
  const kernels::KernelTable& kt = active_kernels();
  const Geometry& g = p.geometry;
  const Window& w = p.window;
  const int64_t multiplier = p.out_channels / p.in_channels;
  const int64_t min_tasks = 4 * static_cast<int64_t>(get_num_threads());

  if (p.layout == Layout::NCHW) {
    const int64_t planes = p.batch * p.out_channels;
    const int64_t rows = block_size_for(g.out_h, planes, min_tasks, 1);
    const int64_t row_blocks = ceil_div(g.out_h, rows);
    const int64_t taps = w.kernel_h * w.kernel_w;
    parallel_for(planes * row_blocks, [&](int64_t task, int) {
      const int64_t plane = task / row_blocks;
      const int64_t n = plane / p.out_channels;
      const int64_t oc = plane % p.out_channels;
      const int64_t oh0 = (task % row_blocks) * rows;
      kernels::DwconvNchwArgs a;
      a.x = x + (n * p.in_channels + oc / multiplier) * p.in_pixels();
      a.weight = weight + oc * taps;
      a.bias = bias != nullptr ? bias[oc] : 0.0f;
      a.y = y + plane * p.out_pixels();
      a.kernel_h = w.kernel_h; a.kernel_w = w.kernel_w;
      a.stride_h = w.stride_h; a.stride_w = w.stride_w;
      a.dilation_h = w.dilation_h; a.dilation_w = w.dilation_w;
      a.geometry = g;
      a.oh_begin = oh0;
      a.oh_end = std::min(g.out_h, oh0 + rows);
      a.activation = p.activation;
      kt.dwconv_nchw(a);
    });
    return;
  }

  const int64_t tile = kt.dwconv_nhwc_channel_tile;
  const std::vector<float> packed = pack_dwconv_nhwc(p, weight, bias, tile);
  const int64_t tiles = ceil_div(p.out_channels, tile);
  const int64_t rows = block_size_for(g.out_h, p.batch, min_tasks, 1);
  const int64_t row_blocks = ceil_div(g.out_h, rows);
  const int64_t tiles_per_task = block_size_for(tiles, p.batch * row_blocks, min_tasks, 1);
  const int64_t tile_blocks = ceil_div(tiles, tiles_per_task);
  parallel_for(p.batch * row_blocks * tile_blocks, [&](int64_t task, int) {
    const int64_t n = task / (row_blocks * tile_blocks);
    const int64_t rb = (task / tile_blocks) % row_blocks;
    const int64_t tb = task % tile_blocks;
    kernels::DwconvNhwcArgs a;
    a.x = x + n * p.in_pixels() * p.in_channels;
    a.packed = packed.data();
    a.y = y + n * p.out_pixels() * p.out_channels;
    a.channels = p.in_channels;
    a.multiplier = multiplier;
    a.channel_tile = tile;
    a.kernel_h = w.kernel_h; a.kernel_w = w.kernel_w;
    a.stride_h = w.stride_h; a.stride_w = w.stride_w;
    a.dilation_h = w.dilation_h; a.dilation_w = w.dilation_w;
    a.geometry = g;
    a.oh_begin = rb * rows;
    a.oh_end = std::min(g.out_h, a.oh_begin + rows);
    a.tile_begin = tb * tiles_per_task;
    a.tile_end = std::min(tiles, a.tile_begin + tiles_per_task);
    a.activation = p.activation;
    (multiplier == 1 ? kt.dwconv_nhwc : kt.dwconv_nhwc_multiplier)(a);
  });
}

void require_output(const ConvPlan& p, float* y, const float* x, const float* weight,
                    const float* bias, int64_t bias_count) {
  require_pointer(x, "x");
  require_pointer(weight, "weight");
  require_pointer(y, "out");
  require_disjoint(y, p.y_count, x, p.x_count, "x");
  require_disjoint(y, p.y_count, weight, p.weight_count, "weight");
  require_disjoint(y, p.y_count, bias, bias_count, "bias");
}

}  // namespace detail

void depthwise_conv2d(const DepthwiseConv2dDesc& desc, const float* x, const float* weight,
                      const float* bias, float* y) {
  const ConvPlan p = plan(desc);
  detail::require_output(p, y, x, weight, bias, p.out_channels);
  detail::run_depthwise(p, x, weight, bias, y);
}

}  // namespace sepconv
