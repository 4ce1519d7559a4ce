// Operators run a validated plan: weight packing, work partitioning and the kernel calls.
#pragma once

#include <vector>

#include "core/geometry.h"

namespace sepconv {
namespace detail {

// Packs depthwise weights (C*m, 1, KH, KW) and bias into the NHWC kernels' tiled order (kernels.h).
std::vector<float> pack_dwconv_nhwc(const ConvPlan& p, const float* weight, const float* bias,
                                    int64_t channel_tile);

void run_depthwise(const ConvPlan& p, const float* x, const float* weight, const float* bias,
                   float* y);
void run_pointwise(const ConvPlan& p, const float* x, const float* weight, const float* bias,
                   float* y);
void run_conv2d(const ConvPlan& p, const float* x, const float* weight, const float* bias, float* y);

// Checks that y is non-null and shares no memory with the inputs.
void require_output(const ConvPlan& p, float* y, const float* x, const float* weight,
                    const float* bias, int64_t bias_count);

}  // namespace detail
}  // namespace sepconv
