// Plain double-precision reference implementations for the C++ tests: direct loops over PyTorch
// weight layouts, geometry computed here independently of sepconv::conv_geometry. Each function
// also returns, per output element, the sum of the absolute values of the terms that produced it
// (the natural scale for judging a float32 result's rounding error).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "sepconv/sepconv.h"

namespace ref {

using sepconv::Activation;
using sepconv::Layout;
using sepconv::PaddingMode;
using sepconv::Window;

struct Geo {
  int64_t out_h = 0, out_w = 0, pad_top = 0, pad_left = 0;
};

// Output size and top/left padding, written from the documented semantics (TensorFlow "same").
inline Geo geometry(int64_t in_h, int64_t in_w, const Window& w) {
  const int64_t eff_h = (w.kernel_h - 1) * w.dilation_h + 1;
  const int64_t eff_w = (w.kernel_w - 1) * w.dilation_w + 1;
  Geo g;
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;
  if (w.padding.mode == PaddingMode::Explicit) {
    pt = w.padding.top;
    pb = w.padding.bottom;
    pl = w.padding.left;
    pr = w.padding.right;
  } else if (w.padding.mode == PaddingMode::Same) {
    const int64_t oh = (in_h + w.stride_h - 1) / w.stride_h;
    const int64_t ow = (in_w + w.stride_w - 1) / w.stride_w;
    const int64_t th = std::max<int64_t>(0, (oh - 1) * w.stride_h + eff_h - in_h);
    const int64_t tw = std::max<int64_t>(0, (ow - 1) * w.stride_w + eff_w - in_w);
    pt = th / 2;
    pb = th - pt;
    pl = tw / 2;
    pr = tw - pl;
  }
  g.pad_top = pt;
  g.pad_left = pl;
  g.out_h = (in_h + pt + pb - eff_h) / w.stride_h + 1;
  g.out_w = (in_w + pl + pr - eff_w) / w.stride_w + 1;
  return g;
}

inline double activate(double v, Activation a) {
  switch (a) {
    case Activation::ReLU: return v < 0 ? 0 : v;
    case Activation::ReLU6: return v < 0 ? 0 : (v > 6 ? 6 : v);
    case Activation::HardSwish: {
      double t = v + 3;
      t = t < 0 ? 0 : (t > 6 ? 6 : t);
      return v * t / 6;
    }
    case Activation::SiLU: return v / (1 + std::exp(-v));
    default: return v;
  }
}

// Index of element (n, c, h, w) of a dense tensor with dims (N, C, H, W) stored in `layout`.
inline int64_t at(Layout layout, int64_t C, int64_t H, int64_t W, int64_t n, int64_t c, int64_t h,
                  int64_t w) {
  if (layout == Layout::NHWC) return ((n * H + h) * W + w) * C + c;
  return ((n * C + c) * H + h) * W + w;
}

struct Result {
  std::vector<double> y;      // in the descriptor's layout
  std::vector<double> scale;  // sum of |terms| per output element (>= |y| before the activation)
  int64_t out_c = 0, out_h = 0, out_w = 0;
};

// Grouped convolution (the general case): weight (Cout, Cin/groups, KH, KW). Depthwise is groups =
// Cin with Cout = Cin * multiplier; pointwise is a 1x1 window. When x is an earlier stage's result,
// x_scale is that stage's scale: the terms' magnitudes then include the error carried forward.
template <class T>
inline Result conv(Layout layout, int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout,
                   int64_t groups, const Window& win, const std::vector<T>& x,
                   const float* weight, const float* bias, Activation act,
                   const std::vector<double>* x_scale = nullptr) {
  const Geo g = geometry(H, W, win);
  Result r;
  r.out_c = Cout;
  r.out_h = g.out_h;
  r.out_w = g.out_w;
  r.y.assign(static_cast<size_t>(N * Cout * g.out_h * g.out_w), 0.0);
  r.scale.assign(r.y.size(), 0.0);
  const int64_t cin_g = Cin / groups, cout_g = Cout / groups;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t co = 0; co < Cout; ++co) {
      const int64_t grp = co / cout_g;
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          double acc = bias != nullptr ? bias[co] : 0.0;
          double mag = std::fabs(acc);
          for (int64_t ci = 0; ci < cin_g; ++ci) {
            const int64_t c_in = grp * cin_g + ci;
            for (int64_t kh = 0; kh < win.kernel_h; ++kh) {
              const int64_t ih = oh * win.stride_h - g.pad_top + kh * win.dilation_h;
              if (ih < 0 || ih >= H) continue;
              for (int64_t kw = 0; kw < win.kernel_w; ++kw) {
                const int64_t iw = ow * win.stride_w - g.pad_left + kw * win.dilation_w;
                if (iw < 0 || iw >= W) continue;
                const double wv =
                    weight[((co * cin_g + ci) * win.kernel_h + kh) * win.kernel_w + kw];
                const size_t i = static_cast<size_t>(at(layout, Cin, H, W, n, c_in, ih, iw));
                const double xv = x[i];
                acc += wv * xv;
                mag += std::fabs(wv) * (std::fabs(xv) + (x_scale != nullptr ? (*x_scale)[i] : 0.0));
              }
            }
          }
          const size_t o = static_cast<size_t>(at(layout, Cout, g.out_h, g.out_w, n, co, oh, ow));
          r.y[o] = activate(acc, act);
          r.scale[o] = mag;
        }
      }
    }
  }
  return r;
}

inline Result depthwise(const sepconv::DepthwiseConv2dDesc& d, const std::vector<float>& x,
                        const float* weight, const float* bias) {
  return conv(d.layout, d.batch, d.channels, d.in_h, d.in_w, d.channels * d.multiplier, d.channels,
              d.window, x, weight, bias, d.activation);
}

inline Result pointwise(const sepconv::PointwiseConv2dDesc& d, const std::vector<float>& x,
                        const float* weight, const float* bias) {
  return conv(d.layout, d.batch, d.in_channels, d.height, d.width, d.out_channels, 1, Window{}, x,
              weight, bias, d.activation);
}

inline Result conv2d(const sepconv::Conv2dDesc& d, const std::vector<float>& x, const float* weight,
                     const float* bias) {
  return conv(d.layout, d.batch, d.in_channels, d.in_h, d.in_w, d.out_channels, d.groups, d.window,
              x, weight, bias, d.activation);
}

// Depthwise then pointwise, the intermediate kept in double.
inline Result separable(const sepconv::SeparableConv2dDesc& d, const std::vector<float>& x,
                        const float* dw_weight, const float* pw_weight, const float* dw_bias,
                        const float* pw_bias) {
  const int64_t C = d.in_channels, Cm = C * d.multiplier;
  const Result mid = conv(d.layout, d.batch, C, d.in_h, d.in_w, Cm, C, d.window, x, dw_weight,
                          dw_bias, d.depthwise_activation);
  return conv(d.layout, d.batch, Cm, mid.out_h, mid.out_w, d.out_channels, 1, Window{}, mid.y,
              pw_weight, pw_bias, d.activation, &mid.scale);
}

// Expand, depthwise, project [+ x], every intermediate kept in double.
inline Result inverted_residual(const sepconv::InvertedResidualDesc& d, const std::vector<float>& x,
                                const float* expand_weight, const float* expand_bias,
                                const float* dw_weight, const float* dw_bias,
                                const float* project_weight, const float* project_bias) {
  const int64_t C = d.in_channels, Ce = d.expanded_channels;
  Result e;
  e.y.assign(x.begin(), x.end());
  e.scale.assign(x.size(), 0.0);
  if (d.expand) {
    e = conv(d.layout, d.batch, C, d.in_h, d.in_w, Ce, 1, Window{}, x, expand_weight, expand_bias,
             d.activation);
  }
  const Result mid = conv(d.layout, d.batch, Ce, d.in_h, d.in_w, Ce, Ce, d.window, e.y, dw_weight,
                          dw_bias, d.activation, &e.scale);
  Result r = conv(d.layout, d.batch, Ce, mid.out_h, mid.out_w, d.out_channels, 1, Window{}, mid.y,
                  project_weight, project_bias, Activation::None, &mid.scale);
  if (d.residual) {
    for (size_t i = 0; i < r.y.size(); ++i) {
      r.y[i] += x[i];
      r.scale[i] += std::fabs(x[i]);
    }
  }
  return r;
}

}  // namespace ref
