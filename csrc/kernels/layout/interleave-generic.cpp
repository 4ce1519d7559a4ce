// Channel-tile interleave between planar (NCHW) rows and the NHWC kernels' [row][w][tile] order,
// so NCHW depthwise runs the NHWC microkernels on one channel tile at a time (no whole-tensor copy).
#include "kernels/isa-common.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void interleave_channels(const kernels::InterleaveArgs& p) {
  const int64_t n = p.rows * p.width;
  for (int64_t j = 0; j < p.channels; ++j) {
    const float* __restrict src = p.planar + j * p.plane_stride;
    float* __restrict dst = p.interleaved + j;
    for (int64_t i = 0; i < n; ++i) dst[i * p.tile] = src[i];
  }
  for (int64_t j = p.channels; j < p.tile; ++j) {
    float* __restrict dst = p.interleaved + j;
    for (int64_t i = 0; i < n; ++i) dst[i * p.tile] = 0.0f;
  }
}

void deinterleave_channels(const kernels::InterleaveArgs& p) {
  const int64_t n = p.rows * p.width;
  for (int64_t j = 0; j < p.channels; ++j) {
    const float* __restrict src = p.interleaved + j;
    float* __restrict dst = const_cast<float*>(p.planar) + j * p.plane_stride;
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i * p.tile];
  }
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
