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

namespace {

// Interleaved input band + output band per thread: sized to stay in half of a 512 KiB L2.
constexpr int64_t kBandBytes = 192 * 1024;

// The window, geometry and epilogue of p for the NHWC kernel over `channels`-wide pixels.
kernels::DwconvNhwcArgs nhwc_args(const ConvPlan& p, int64_t channels, int64_t tile) {
  const Window& w = p.window;
  kernels::DwconvNhwcArgs a{};
  a.channels = channels;
  a.multiplier = p.out_channels / p.in_channels;
  a.channel_tile = tile;
  a.kernel_h = w.kernel_h; a.kernel_w = w.kernel_w;
  a.stride_h = w.stride_h; a.stride_w = w.stride_w;
  a.dilation_h = w.dilation_h; a.dilation_w = w.dilation_w;
  a.geometry = p.geometry;
  a.activation = p.activation;
  return a;
}

// NCHW, multiplier 1: per (image, channel tile, band of output rows), interleave the band's input
// rows of the tile's channels into a per-thread buffer, run the NHWC kernel on it and de-interleave
// its output into the planes. Only L2-sized tiles are ever copied, never the whole tensor.
void run_depthwise_nchw_interleaved(const ConvPlan& p, const kernels::KernelTable& kt,
                                    const float* x, const float* weight, const float* bias,
                                    float* y) {
  const Geometry& g = p.geometry;
  const Window& w = p.window;
  const int64_t T = kt.dwconv_nhwc_channel_tile;
  const int64_t C = p.in_channels;
  const int64_t taps = w.kernel_h * w.kernel_w;
  const int64_t eff_h = (w.kernel_h - 1) * w.dilation_h + 1;
  const std::vector<float> packed = pack_dwconv_nhwc(p, weight, bias, T);
  const int64_t tiles = ceil_div(C, T);
  const auto in_rows = [&](int64_t band) { return (band - 1) * w.stride_h + eff_h; };
  const auto band_floats = [&](int64_t band) {
    return (std::min(in_rows(band), g.in_h) * g.in_w + band * g.out_w) * T;
  };
  int64_t band = block_size_for(g.out_h, p.batch * tiles, 4 * int64_t(get_num_threads()), 1);
  while (band > 1 && band_floats(band) * int64_t(sizeof(float)) > kBandBytes) band = (band + 1) / 2;
  const int64_t bands = ceil_div(g.out_h, band);
  const int64_t stride = band_floats(band);
  const int64_t in_band_floats = std::min(in_rows(band), g.in_h) * g.in_w * T;
  std::vector<float> buffers(static_cast<size_t>(stride * get_num_threads()));

  parallel_for(p.batch * tiles * bands, [&](int64_t task, int thread) {
    const int64_t n = task / (tiles * bands);
    const int64_t t = (task / bands) % tiles;
    const int64_t oh0 = (task % bands) * band;
    const int64_t oh1 = std::min(g.out_h, oh0 + band);
    const int64_t r0 = std::clamp<int64_t>(oh0 * w.stride_h - g.pad_top, 0, g.in_h);
    const int64_t r1 = std::clamp<int64_t>((oh1 - 1) * w.stride_h - g.pad_top + eff_h, r0, g.in_h);
    const int64_t c0 = t * T;
    const int64_t nc = std::min(T, C - c0);
    float* x_band = buffers.data() + thread * stride;
    float* y_band = x_band + in_band_floats;

    kt.interleave_channels({x + ((n * C + c0) * g.in_h + r0) * g.in_w, g.in_h * g.in_w, x_band, nc,
                            T, r1 - r0, g.in_w});

    kernels::DwconvNhwcArgs a = nhwc_args(p, T, T);
    a.x = x_band;
    a.packed = packed.data() + t * (1 + taps) * T;
    a.y = y_band;
    // The band as an image of its own: rows [r0, r1) of the input, output rows [oh0, oh1).
    a.geometry.in_h = r1 - r0;
    a.geometry.out_h = oh1 - oh0;
    a.geometry.pad_top = g.pad_top + r0 - oh0 * w.stride_h;
    a.oh_begin = 0;
    a.oh_end = oh1 - oh0;
    a.tile_begin = 0;
    a.tile_end = 1;
    kt.dwconv_nhwc(a);

    kt.deinterleave_channels({y + ((n * C + c0) * g.out_h + oh0) * g.out_w, g.out_h * g.out_w,
                              y_band, nc, T, oh1 - oh0, g.out_w});
  });
}

}  // namespace

void run_depthwise(const ConvPlan& p, const float* x, const float* weight, const float* bias,
                   float* y) {
  const kernels::KernelTable& kt = active_kernels();
  const Geometry& g = p.geometry;
  const Window& w = p.window;
  const int64_t multiplier = p.out_channels / p.in_channels;
  const int64_t min_tasks = 4 * static_cast<int64_t>(get_num_threads());

  if (p.layout == Layout::NCHW && multiplier == 1 && kt.dwconv_nchw_interleaved) {
    run_depthwise_nchw_interleaved(p, kt, x, weight, bias, y);
    return;
  }
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
    kernels::DwconvNhwcArgs a = nhwc_args(p, p.in_channels, tile);
    a.x = x + n * p.in_pixels() * p.in_channels;
    a.packed = packed.data();
    a.y = y + n * p.out_pixels() * p.out_channels;
    a.oh_begin = rb * rows;
    a.oh_end = std::min(g.out_h, a.oh_begin + rows);
    a.tile_begin = tb * tiles_per_task;
    a.tile_end = std::min(tiles, a.tile_begin + tiles_per_task);
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
