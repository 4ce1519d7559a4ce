// sepconv prepacked layers: the way inference code calls the same convolution many times.
//
// A layer validates its parameters and packs its weights once, for the ISA active when it is built
// (isa()); the caller's weight arrays may be freed afterwards. The descriptor's batch and image
// size describe an example input that is validated at construction; each call then passes its own
// x_shape (in the layer's layout: (N, C, H, W) or (N, H, W, C)) with any batch and image size.
// Calls are const, allocate their own scratch and may run from several threads at once; they
// validate x_shape and the pointers like the plain ops and throw InvalidArgument.
//
//   sepconv::DepthwiseConv2dDesc d;  // layout, channels, kernel, ...
//   sepconv::DepthwiseConv2d layer(d, weight, bias);
//   layer({{1, 56, 56, 144}}, x, y);  // y holds layer.output_shape({{1, 56, 56, 144}}) floats
#pragma once

#include <memory>

#include "sepconv/sepconv.h"

namespace sepconv {

template <class Desc>
class Layer {
 public:
  Shape4 output_shape(const Shape4& x_shape) const;
  // Floats past a 4 KiB page at which the output for x runs fastest, below 16 a cache-line
  // offset alone (see sepconv::output_offset): 0 but for NHWC depthwise layers.
  int64_t output_offset(const Shape4& x_shape, const float* x) const;
  void operator()(const Shape4& x_shape, const float* x, float* y) const;
  const Desc& desc() const { return desc_; }
  Isa isa() const { return isa_; }

  struct Op;  // the packed operator (internal)

 protected:
  Layer(const Desc& desc, std::shared_ptr<const Op> op);

 private:
  Desc desc_;
  std::shared_ptr<const Op> op_;
  Isa isa_;
};

class DepthwiseConv2d : public Layer<DepthwiseConv2dDesc> {
 public:
  DepthwiseConv2d(const DepthwiseConv2dDesc& desc, const float* weight, const float* bias);
};

class PointwiseConv2d : public Layer<PointwiseConv2dDesc> {
 public:
  PointwiseConv2d(const PointwiseConv2dDesc& desc, const float* weight, const float* bias);
};

class SeparableConv2d : public Layer<SeparableConv2dDesc> {
 public:
  SeparableConv2d(const SeparableConv2dDesc& desc, const float* depthwise_weight,
                  const float* pointwise_weight, const float* depthwise_bias,
                  const float* pointwise_bias);
};

class Conv2d : public Layer<Conv2dDesc> {
 public:
  Conv2d(const Conv2dDesc& desc, const float* weight, const float* bias);
};

class InvertedResidual : public Layer<InvertedResidualDesc> {
 public:
  InvertedResidual(const InvertedResidualDesc& desc, const float* expand_weight,
                   const float* expand_bias, const float* depthwise_weight,
                   const float* depthwise_bias, const float* project_weight,
                   const float* project_bias);
};

}  // namespace sepconv
