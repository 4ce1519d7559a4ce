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

namespace {

// The stages of a composite op, planned as the single ops they are.
ConvPlan depthwise_stage(Layout layout, int64_t batch, int64_t channels, int64_t in_h, int64_t in_w,
                         int64_t multiplier, const Window& window, Activation activation) {
  DepthwiseConv2dDesc dw;
  dw.layout = layout;
  dw.batch = batch;
  dw.channels = channels;
  dw.in_h = in_h;
  dw.in_w = in_w;
  dw.multiplier = multiplier;
  dw.window = window;
  dw.activation = activation;
  return plan(dw);
}

ConvPlan pointwise_stage(Layout layout, int64_t batch, int64_t in_channels, int64_t out_channels,
                         int64_t height, int64_t width, Activation activation) {
  PointwiseConv2dDesc pw;
  pw.layout = layout;
  pw.batch = batch;
  pw.in_channels = in_channels;
  pw.out_channels = out_channels;
  pw.height = height;
  pw.width = width;
  pw.activation = activation;
  return plan(pw);
}

}  // namespace

SeparablePlan plan(const SeparableConv2dDesc& d) {
  require_activation(d.depthwise_activation, "depthwise_activation");
  SeparablePlan s;
  s.depthwise = depthwise_stage(d.layout, d.batch, d.in_channels, d.in_h, d.in_w, d.multiplier,
                                d.window, d.depthwise_activation);
  const Geometry& g = s.depthwise.geometry;
  s.pointwise = pointwise_stage(d.layout, d.batch, s.depthwise.out_channels, d.out_channels,
                                g.out_h, g.out_w, d.activation);
  return s;
}

InvertedResidualPlan plan(const InvertedResidualDesc& d) {
  InvertedResidualPlan r;
  r.expand = d.expand;
  r.residual = d.residual;
  if (d.expand) {
    r.expansion = pointwise_stage(d.layout, d.batch, d.in_channels, d.expanded_channels, d.in_h,
                                  d.in_w, d.activation);
  } else if (d.expanded_channels != d.in_channels) {
    fail("expanded_channels = ", d.expanded_channels, " must equal in_channels = ",
         d.in_channels, " without an expand stage");
  }
  r.depthwise = depthwise_stage(d.layout, d.batch, d.expanded_channels, d.in_h, d.in_w, 1,
                                d.window, d.activation);
  const Geometry& g = r.depthwise.geometry;
  r.projection = pointwise_stage(d.layout, d.batch, d.expanded_channels, d.out_channels, g.out_h,
                                 g.out_w, Activation::None);
  if (d.residual && (d.out_channels != d.in_channels || g.out_h != d.in_h || g.out_w != d.in_w)) {
    fail("the residual connection needs an output of the input's shape: x has ", d.in_channels,
         " channels of ", detail::shape_str({d.in_h, d.in_w}), ", the block gives ",
         d.out_channels, " of ", detail::shape_str({g.out_h, g.out_w}));
  }
  return r;
}

Shape4 ConvPlan::output_shape() const {
  return in_layout(layout, batch, out_channels, geometry.out_h, geometry.out_w);
}

ConvPlan ConvPlan::with_batch(int64_t images) const {
  ConvPlan p = *this;
  p.x_count = x_count / batch * images;
  p.y_count = y_count / batch * images;
  p.batch = images;
  return p;
}

SeparablePlan SeparablePlan::with_batch(int64_t images) const {
  return SeparablePlan{depthwise.with_batch(images), pointwise.with_batch(images)};
}

InvertedResidualPlan InvertedResidualPlan::with_batch(int64_t images) const {
  return InvertedResidualPlan{expand, expansion.with_batch(images), depthwise.with_batch(images),
                              projection.with_batch(images), residual};
}

Shape4 output_shape(const DepthwiseConv2dDesc& desc) { return plan(desc).output_shape(); }
Shape4 output_shape(const PointwiseConv2dDesc& desc) { return plan(desc).output_shape(); }
Shape4 output_shape(const SeparableConv2dDesc& desc) { return plan(desc).pointwise.output_shape(); }
Shape4 output_shape(const Conv2dDesc& desc) { return plan(desc).output_shape(); }
Shape4 output_shape(const InvertedResidualDesc& desc) {
  return plan(desc).projection.output_shape();
}

}  // namespace sepconv
