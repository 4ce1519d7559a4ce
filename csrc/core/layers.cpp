// Prepacked layers: a packed operator built once, rebound to each call's input size.
#include "sepconv/layers.h"

#include <string>
#include <vector>

#include "core/check.h"
#include "core/operators.h"

namespace sepconv {

namespace {

// The layer's own copies of the arrays its operator reads in place (the operators borrow them).
class OwnedArrays {
 public:
  const float* keep(const float* src, int64_t n) {
    if (src == nullptr) return nullptr;
    arrays_.emplace_back(src, src + n);
    return arrays_.back().data();
  }

 private:
  std::vector<std::vector<float>> arrays_;  // moving an inner vector keeps its buffer
};

}  // namespace

// Each Op declares `owned` before `op`, so the copies exist when the operator is built.
template <class Operator>
struct SingleStageOp {  // one plan, one weight, one bias
  SingleStageOp(const ConvPlan& p, const float* weight, const float* bias)
      : op(p, owned.keep(weight, p.weight_count), owned.keep(bias, p.out_channels)) {}
  OwnedArrays owned;
  Operator op;
};
template <>
struct Layer<DepthwiseConv2dDesc>::Op : SingleStageOp<detail::DepthwiseOp> {
  using SingleStageOp::SingleStageOp;
};
template <>
struct Layer<PointwiseConv2dDesc>::Op : SingleStageOp<detail::PointwiseOp> {
  using SingleStageOp::SingleStageOp;
};
template <>
struct Layer<Conv2dDesc>::Op : SingleStageOp<detail::Conv2dOp> {
  using SingleStageOp::SingleStageOp;
};
template <>
struct Layer<SeparableConv2dDesc>::Op {
  Op(const SeparablePlan& s, const float* dw_weight, const float* dw_bias, const float* pw_weight,
     const float* pw_bias)
      : op(s, owned.keep(dw_weight, s.depthwise.weight_count),
           owned.keep(dw_bias, s.depthwise.out_channels),
           owned.keep(pw_weight, s.pointwise.weight_count),
           owned.keep(pw_bias, s.pointwise.out_channels)) {}
  OwnedArrays owned;
  detail::SeparableOp op;
};
template <>
struct Layer<InvertedResidualDesc>::Op {
  Op(const InvertedResidualPlan& r, const float* expand_weight, const float* expand_bias,
     const float* dw_weight, const float* dw_bias, const float* project_weight,
     const float* project_bias)
      : op(r, owned.keep(expand_weight, r.expansion.weight_count),
           owned.keep(expand_bias, r.expansion.out_channels),
           owned.keep(dw_weight, r.depthwise.weight_count),
           owned.keep(dw_bias, r.depthwise.out_channels),
           owned.keep(project_weight, r.projection.weight_count),
           owned.keep(project_bias, r.projection.out_channels)) {}
  OwnedArrays owned;
  detail::InvertedResidualOp op;
};

namespace {

// (N, C, H, W) of x_shape in `layout`, C checked against the layer's channels.
struct Input {
  int64_t batch, channels, h, w;
};

Input input_of(Layout layout, const Shape4& s, int64_t channels) {
  const Input in = layout == Layout::NHWC ? Input{s.dim[0], s.dim[3], s.dim[1], s.dim[2]}
                                          : Input{s.dim[0], s.dim[1], s.dim[2], s.dim[3]};
  if (in.channels != channels) {
    detail::fail("x has shape ", detail::shape_str({s.dim[0], s.dim[1], s.dim[2], s.dim[3]}), " (",
                 layout == Layout::NHWC ? "NHWC" : "NCHW", ") with ", in.channels,
                 " channels, the layer expects ", channels);
  }
  return in;
}

DepthwiseConv2dDesc with_input(DepthwiseConv2dDesc d, const Shape4& s) {
  const Input in = input_of(d.layout, s, d.channels);
  d.batch = in.batch, d.in_h = in.h, d.in_w = in.w;
  return d;
}
PointwiseConv2dDesc with_input(PointwiseConv2dDesc d, const Shape4& s) {
  const Input in = input_of(d.layout, s, d.in_channels);
  d.batch = in.batch, d.height = in.h, d.width = in.w;
  return d;
}
template <class Desc>  // separable, conv2d and inverted residual name their fields alike
Desc with_input(Desc d, const Shape4& s) {
  const Input in = input_of(d.layout, s, d.in_channels);
  d.batch = in.batch, d.in_h = in.h, d.in_w = in.w;
  return d;
}

// Element counts of x and y under a plan.
int64_t x_count(const ConvPlan& p) { return p.x_count; }
int64_t y_count(const ConvPlan& p) { return p.y_count; }
Shape4 y_shape(const ConvPlan& p) { return p.output_shape(); }
int64_t x_count(const SeparablePlan& s) { return s.depthwise.x_count; }
int64_t y_count(const SeparablePlan& s) { return s.pointwise.y_count; }
Shape4 y_shape(const SeparablePlan& s) { return s.pointwise.output_shape(); }
int64_t x_count(const InvertedResidualPlan& r) {
  return r.expand ? r.expansion.x_count : r.depthwise.x_count;
}
int64_t y_count(const InvertedResidualPlan& r) { return r.projection.y_count; }
Shape4 y_shape(const InvertedResidualPlan& r) { return r.projection.output_shape(); }

// Only the NHWC depthwise kernels want their output placed (detail::depthwise_output_offset).
int64_t output_offset_of(const detail::DepthwiseOp& op, const ConvPlan& p, const float* x) {
  return detail::depthwise_output_offset(p, op.channel_tile(), x);
}
template <class Op, class Plan>
int64_t output_offset_of(const Op&, const Plan&, const float*) {
  return 0;
}

// Weights are read once, here; a null required weight is an error before anything is read.
const float* required(const float* p, const char* name) {
  detail::require_pointer(p, name);
  return p;
}

const InvertedResidualPlan& expansion_checked(const InvertedResidualPlan& r, const float* weight,
                                             const float* bias) {
  detail::require_expansion(r, weight, bias);
  return r;
}

}  // namespace

template <class Desc>
Layer<Desc>::Layer(const Desc& desc, std::shared_ptr<const Op> op)
    : desc_(desc), op_(std::move(op)), isa_(active_isa()) {}

template <class Desc>
Shape4 Layer<Desc>::output_shape(const Shape4& x_shape) const {
  return y_shape(plan(with_input(desc_, x_shape)));
}

template <class Desc>
int64_t Layer<Desc>::output_offset(const Shape4& x_shape, const float* x) const {
  return output_offset_of(op_->op, plan(with_input(desc_, x_shape)), x);
}

template <class Desc>
void Layer<Desc>::operator()(const Shape4& x_shape, const float* x, float* y) const {
  const auto p = plan(with_input(desc_, x_shape));
  detail::require_pointer(x, "x");
  detail::require_pointer(y, "out");
  detail::require_disjoint(y, y_count(p), x, x_count(p), "x");
  op_->op.for_plan(p)(x, y);
}

template class Layer<DepthwiseConv2dDesc>;
template class Layer<PointwiseConv2dDesc>;
template class Layer<SeparableConv2dDesc>;
template class Layer<Conv2dDesc>;
template class Layer<InvertedResidualDesc>;

DepthwiseConv2d::DepthwiseConv2d(const DepthwiseConv2dDesc& desc, const float* weight,
                                 const float* bias)
    : Layer(desc, std::make_shared<const Op>(plan(desc), required(weight, "weight"), bias)) {}

PointwiseConv2d::PointwiseConv2d(const PointwiseConv2dDesc& desc, const float* weight,
                                 const float* bias)
    : Layer(desc, std::make_shared<const Op>(plan(desc), required(weight, "weight"), bias)) {}

SeparableConv2d::SeparableConv2d(const SeparableConv2dDesc& desc, const float* depthwise_weight,
                                 const float* pointwise_weight, const float* depthwise_bias,
                                 const float* pointwise_bias)
    : Layer(desc, std::make_shared<const Op>(
                      plan(desc), required(depthwise_weight, "depthwise_weight"), depthwise_bias,
                      required(pointwise_weight, "pointwise_weight"), pointwise_bias)) {}

Conv2d::Conv2d(const Conv2dDesc& desc, const float* weight, const float* bias)
    : Layer(desc, std::make_shared<const Op>(plan(desc), required(weight, "weight"), bias)) {}

InvertedResidual::InvertedResidual(const InvertedResidualDesc& desc, const float* expand_weight,
                                   const float* expand_bias, const float* depthwise_weight,
                                   const float* depthwise_bias, const float* project_weight,
                                   const float* project_bias)
    : Layer(desc, std::make_shared<const Op>(
                      expansion_checked(plan(desc), expand_weight, expand_bias), expand_weight,
                      expand_bias, required(depthwise_weight, "depthwise_weight"), depthwise_bias,
                      required(project_weight, "project_weight"), project_bias)) {}

}  // namespace sepconv
