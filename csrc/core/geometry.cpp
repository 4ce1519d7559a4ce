// Output sizes and descriptor validation: the one place where shapes are computed.
#include "core/geometry.h"

#include "core/check.h"

namespace sepconv {

using detail::checked_numel;
using detail::fail;
using detail::require_in_range;
using detail::require_positive;

Geometry conv_geometry(int64_t in_h, int64_t in_w, const Window& win) {
  require_positive(in_h, "input height");
  require_positive(in_w, "input width");
  require_positive(win.kernel_h, "kernel height");
  require_positive(win.kernel_w, "kernel width");
  require_positive(win.stride_h, "stride");
  require_positive(win.stride_w, "stride");
  require_positive(win.dilation_h, "dilation");
  require_positive(win.dilation_w, "dilation");
  const int64_t eff_h = (win.kernel_h - 1) * win.dilation_h + 1;
  const int64_t eff_w = (win.kernel_w - 1) * win.dilation_w + 1;

  Geometry g;
  g.in_h = in_h;
  g.in_w = in_w;
  switch (win.padding.mode) {
    case PaddingMode::Valid:
      break;
    case PaddingMode::Same: {
      const int64_t out_h = (in_h + win.stride_h - 1) / win.stride_h;
      const int64_t out_w = (in_w + win.stride_w - 1) / win.stride_w;
      const int64_t total_h = (out_h - 1) * win.stride_h + eff_h - in_h;
      const int64_t total_w = (out_w - 1) * win.stride_w + eff_w - in_w;
      g.pad_top = total_h > 0 ? total_h / 2 : 0;
      g.pad_bottom = total_h > 0 ? total_h - g.pad_top : 0;
      g.pad_left = total_w > 0 ? total_w / 2 : 0;
      g.pad_right = total_w > 0 ? total_w - g.pad_left : 0;
      break;
    }
    case PaddingMode::Explicit:
      require_in_range(win.padding.top, 0, "padding (top)");
      require_in_range(win.padding.bottom, 0, "padding (bottom)");
      require_in_range(win.padding.left, 0, "padding (left)");
      require_in_range(win.padding.right, 0, "padding (right)");
      g.pad_top = win.padding.top;
      g.pad_bottom = win.padding.bottom;
      g.pad_left = win.padding.left;
      g.pad_right = win.padding.right;
      break;
    default:
      fail("padding mode ", static_cast<int>(win.padding.mode), " is unknown");
  }
  const int64_t padded_h = in_h + g.pad_top + g.pad_bottom;
  const int64_t padded_w = in_w + g.pad_left + g.pad_right;
  if (padded_h < eff_h || padded_w < eff_w) {
    fail("kernel ", detail::shape_str({win.kernel_h, win.kernel_w}), " with dilation ",
         detail::shape_str({win.dilation_h, win.dilation_w}), " spans ",
         detail::shape_str({eff_h, eff_w}), ", larger than the padded input ",
         detail::shape_str({padded_h, padded_w}), " (input ", detail::shape_str({in_h, in_w}),
         "): the output would be empty");
  }
  g.out_h = (padded_h - eff_h) / win.stride_h + 1;
  g.out_w = (padded_w - eff_w) / win.stride_w + 1;
  return g;
}

namespace {

Shape4 in_layout(Layout layout, int64_t n, int64_t c, int64_t h, int64_t w) {
  if (layout == Layout::NHWC) return Shape4{{n, h, w, c}};
  return Shape4{{n, c, h, w}};
}

void require_layout(Layout layout) {
  if (layout != Layout::NCHW && layout != Layout::NHWC) {
    fail("layout ", static_cast<int>(layout), " is unknown (expected NCHW or NHWC)");
  }
}

void require_activation(Activation a, const char* name) {
  const int v = static_cast<int>(a);
  if (v < 0 || v > static_cast<int>(Activation::SiLU)) fail(name, " ", v, " is unknown");
}

}  // namespace

ConvPlan plan(const DepthwiseConv2dDesc& d) {
  require_layout(d.layout);
  require_activation(d.activation, "activation");
  require_positive(d.batch, "batch size");
  require_positive(d.channels, "channels");
  require_positive(d.multiplier, "depth multiplier");
  ConvPlan p;
  p.layout = d.layout;
  p.batch = d.batch;
  p.in_channels = d.channels;
  p.out_channels = detail::checked_mul(d.channels, d.multiplier, "weight");
  p.window = d.window;
  p.geometry = conv_geometry(d.in_h, d.in_w, d.window);
  p.x_count = checked_numel({d.batch, d.channels, d.in_h, d.in_w}, "x");
  p.weight_count = checked_numel({p.out_channels, d.window.kernel_h, d.window.kernel_w}, "weight");
  p.y_count = checked_numel({d.batch, p.out_channels, p.geometry.out_h, p.geometry.out_w}, "output");
  p.activation = d.activation;
  return p;
}

ConvPlan plan(const PointwiseConv2dDesc& d) {
  require_layout(d.layout);
  require_activation(d.activation, "activation");
  require_positive(d.batch, "batch size");
  require_positive(d.in_channels, "in_channels");
  require_positive(d.out_channels, "out_channels");
  ConvPlan p;
  p.layout = d.layout;
  p.batch = d.batch;
  p.in_channels = d.in_channels;
  p.out_channels = d.out_channels;
  p.geometry = conv_geometry(d.height, d.width, Window{});
  p.x_count = checked_numel({d.batch, d.in_channels, d.height, d.width}, "x");
  p.weight_count = checked_numel({d.out_channels, d.in_channels}, "weight");
  p.y_count = checked_numel({d.batch, d.out_channels, d.height, d.width}, "output");
  p.activation = d.activation;
  return p;
}

ConvPlan plan(const Conv2dDesc& d) {
  require_layout(d.layout);
  require_activation(d.activation, "activation");
  require_positive(d.batch, "batch size");
  require_positive(d.in_channels, "in_channels");
  require_positive(d.out_channels, "out_channels");
  require_positive(d.groups, "groups");
  if (d.in_channels % d.groups != 0 || d.out_channels % d.groups != 0) {
    fail("groups = ", d.groups, " must divide in_channels = ", d.in_channels,
         " and out_channels = ", d.out_channels);
  }
  ConvPlan p;
  p.layout = d.layout;
  p.batch = d.batch;
  p.in_channels = d.in_channels;
  p.out_channels = d.out_channels;
  p.groups = d.groups;
  p.window = d.window;
  p.geometry = conv_geometry(d.in_h, d.in_w, d.window);
  p.x_count = checked_numel({d.batch, d.in_channels, d.in_h, d.in_w}, "x");
  p.weight_count = checked_numel(
      {d.out_channels, d.in_channels / d.groups, d.window.kernel_h, d.window.kernel_w}, "weight");
  p.y_count = checked_numel({d.batch, d.out_channels, p.geometry.out_h, p.geometry.out_w}, "output");
  p.activation = d.activation;
  return p;
}

SeparablePlan plan(const SeparableConv2dDesc& d) {
  require_activation(d.depthwise_activation, "depthwise_activation");
  DepthwiseConv2dDesc dw;
  dw.layout = d.layout;
  dw.batch = d.batch;
  dw.channels = d.in_channels;
  dw.in_h = d.in_h;
  dw.in_w = d.in_w;
  dw.multiplier = d.multiplier;
  dw.window = d.window;
  dw.activation = d.depthwise_activation;
  SeparablePlan s;
  s.depthwise = plan(dw);
  PointwiseConv2dDesc pw;
  pw.layout = d.layout;
  pw.batch = d.batch;
  pw.in_channels = s.depthwise.out_channels;
  pw.out_channels = d.out_channels;
  pw.height = s.depthwise.geometry.out_h;
  pw.width = s.depthwise.geometry.out_w;
  pw.activation = d.activation;
  s.pointwise = plan(pw);
  return s;
}

Shape4 ConvPlan::output_shape() const {
  return in_layout(layout, batch, out_channels, geometry.out_h, geometry.out_w);
}

Shape4 output_shape(const DepthwiseConv2dDesc& desc) { return plan(desc).output_shape(); }
Shape4 output_shape(const PointwiseConv2dDesc& desc) { return plan(desc).output_shape(); }
Shape4 output_shape(const SeparableConv2dDesc& desc) { return plan(desc).pointwise.output_shape(); }
Shape4 output_shape(const Conv2dDesc& desc) { return plan(desc).output_shape(); }

}  // namespace sepconv
