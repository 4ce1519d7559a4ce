#include <vector>

#include "core/check.h"
#include "core/operators.h"

namespace sepconv {

void separable_conv2d(const SeparableConv2dDesc& desc, const float* x,
                      const float* depthwise_weight, const float* pointwise_weight,
                      const float* depthwise_bias, const float* pointwise_bias, float* y) {
  const SeparablePlan s = plan(desc);
  const ConvPlan& dw = s.depthwise;
  const ConvPlan& pw = s.pointwise;
  detail::require_pointer(x, "x");
  detail::require_pointer(depthwise_weight, "depthwise_weight");
  detail::require_pointer(pointwise_weight, "pointwise_weight");
  detail::require_pointer(y, "out");
  detail::require_disjoint(y, pw.y_count, x, dw.x_count, "x");
  detail::require_disjoint(y, pw.y_count, depthwise_weight, dw.weight_count, "depthwise_weight");
  detail::require_disjoint(y, pw.y_count, depthwise_bias, dw.out_channels, "depthwise_bias");
  detail::require_disjoint(y, pw.y_count, pointwise_weight, pw.weight_count, "pointwise_weight");
  detail::require_disjoint(y, pw.y_count, pointwise_bias, pw.out_channels, "pointwise_bias");

  std::vector<float> intermediate(static_cast<size_t>(dw.y_count));
  detail::run_depthwise(dw, x, depthwise_weight, depthwise_bias, intermediate.data());
  detail::run_pointwise(pw, intermediate.data(), pointwise_weight, pointwise_bias, y);
}

}  // namespace sepconv
