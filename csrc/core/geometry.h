// Validated, derived form of an op descriptor (what the operators run from).
#pragma once

#include "sepconv/sepconv.h"

namespace sepconv {

struct ConvPlan {
  Layout layout = Layout::NCHW;
  int64_t batch = 1, in_channels = 1, out_channels = 1, groups = 1;
  Window window;
  Geometry geometry;
  int64_t x_count = 0, weight_count = 0, y_count = 0;
  Activation activation = Activation::None;

  int64_t out_pixels() const { return geometry.out_h * geometry.out_w; }
  int64_t in_pixels() const { return geometry.in_h * geometry.in_w; }
  Shape4 output_shape() const;
  // The same op on `images` images: the first `images` of this plan's batch.
  ConvPlan with_batch(int64_t images) const;
};

struct SeparablePlan {
  ConvPlan depthwise, pointwise;
  SeparablePlan with_batch(int64_t images) const;
};

struct InvertedResidualPlan {
  bool expand = true;
  ConvPlan expansion, depthwise, projection;  // expansion is unused without expand
  bool residual = false;
  InvertedResidualPlan with_batch(int64_t images) const;
};

// Each throws InvalidArgument if the descriptor is invalid.
ConvPlan plan(const DepthwiseConv2dDesc& desc);
ConvPlan plan(const PointwiseConv2dDesc& desc);
ConvPlan plan(const Conv2dDesc& desc);
SeparablePlan plan(const SeparableConv2dDesc& desc);
InvertedResidualPlan plan(const InvertedResidualDesc& desc);

}  // namespace sepconv
