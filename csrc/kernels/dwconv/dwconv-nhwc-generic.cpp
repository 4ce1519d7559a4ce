// Depthwise convolution, NHWC, any kernel/stride/dilation/multiplier: per output pixel, a channel
// tile of accumulators over the valid taps. Reads the packed [bias][taps] tiles (kernels.h).
#include "kernels/isa-common.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void dwconv_nhwc_generic(const kernels::DwconvNhwcArgs& p) {
  const Geometry& g = p.geometry;
  const int64_t out_channels = p.channels * p.multiplier;
  const int64_t taps = p.window.kernel_h * p.window.kernel_w;
  const int64_t tile = p.channel_tile;
  with_activation(p.activation, [&](auto tag) {
    constexpr Activation A = decltype(tag)::value;
    for (int64_t oh = p.oh_begin; oh < p.oh_end; ++oh) {
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        float* y = p.y + (oh * g.out_w + ow) * p.y_pixel_stride;
        for (int64_t t = p.tile_begin; t < p.tile_end; ++t) {
          const int64_t c0 = t * tile;
          const int64_t nc = min_i64(tile, out_channels - c0);
          const float* w = p.packed + t * (1 + taps) * tile;
          float acc[kernels::kMaxChannelTile];
          for (int64_t j = 0; j < nc; ++j) acc[j] = w[j];
          for (int64_t kh = 0; kh < p.window.kernel_h; ++kh) {
            const int64_t ih = oh * p.window.stride_h - g.pad_top + kh * p.window.dilation_h;
            if (ih < 0 || ih >= g.in_h) continue;
            for (int64_t kw = 0; kw < p.window.kernel_w; ++kw) {
              const int64_t iw = ow * p.window.stride_w - g.pad_left + kw * p.window.dilation_w;
              if (iw < 0 || iw >= g.in_w) continue;
              const float* x = p.x + (ih * g.in_w + iw) * p.channels;
              const float* wt = w + (1 + kh * p.window.kernel_w + kw) * tile;
              if (p.multiplier == 1) {
                for (int64_t j = 0; j < nc; ++j) acc[j] += x[c0 + j] * wt[j];
              } else {
                for (int64_t j = 0; j < nc; ++j) acc[j] += x[(c0 + j) / p.multiplier] * wt[j];
              }
            }
          }
          for (int64_t j = 0; j < nc; ++j) y[c0 + j] = activate<A>(acc[j]);
        }
      }
    }
  });
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
