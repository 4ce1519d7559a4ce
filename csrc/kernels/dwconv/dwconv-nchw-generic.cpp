// Depthwise convolution, NCHW, any kernel/stride/dilation: one output plane, row by row. Each tap
// accumulates into the output row over its padding-free interior, so the inner loop is a plain
// strided multiply-add the compiler vectorises for the ISA this file is built for.
#include "kernels/isa-common.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void dwconv_nchw_generic(const kernels::DwconvNchwArgs& p) {
  const Geometry& g = p.geometry;
  with_activation(p.activation, [&](auto tag) {
    constexpr Activation A = decltype(tag)::value;
    for (int64_t oh = p.oh_begin; oh < p.oh_end; ++oh) {
      float* __restrict y = p.y + oh * g.out_w;
      for (int64_t ow = 0; ow < g.out_w; ++ow) y[ow] = p.bias;
      for (int64_t kh = 0; kh < p.window.kernel_h; ++kh) {
        const int64_t ih = oh * p.window.stride_h - g.pad_top + kh * p.window.dilation_h;
        if (ih < 0 || ih >= g.in_h) continue;
        const float* __restrict x = p.x + ih * g.in_w;
        for (int64_t kw = 0; kw < p.window.kernel_w; ++kw) {
          const int64_t offset = kw * p.window.dilation_w - g.pad_left;
          int64_t lo, hi;
          valid_outputs(offset, p.window.stride_w, g.in_w, g.out_w, &lo, &hi);
          const float w = p.weight[kh * p.window.kernel_w + kw];
          const int64_t sw = p.window.stride_w;
          for (int64_t ow = lo; ow < hi; ++ow) y[ow] += w * x[ow * sw + offset];
        }
      }
      activate_row<A>(y, g.out_w);
    }
  });
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
