// The planes of an NCHW depthwise kernel call (kernels::DwconvNchwPlanes), one output channel at a
// time, for the kernels that take a call's planes at once. Included inside namespace
// sepconv::<isa> after a vector type's header.
#pragma once

#include <cstdint>

#include "kernels/kernels.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

// Calls plane(x, y, w, bias) for each output channel c of the call: x its input plane (c /
// multiplier), y its output plane, w its Taps weights and bias broadcast to vectors of V.
template <class V, int Taps, class Plane>
static inline void for_each_plane(const kernels::DwconvNchwPlanes& a, Plane&& plane) {
  using Reg = typename V::Reg;
  const float* x = a.x + (a.channel_begin / a.multiplier) * a.x_plane_stride;
  int64_t m = a.channel_begin % a.multiplier;
  for (int64_t c = a.channel_begin; c < a.channel_end; ++c) {
    Reg w[Taps];
#pragma GCC unroll 49
    for (int t = 0; t < Taps; ++t) w[t] = V::broadcast(a.weight + c * Taps + t);
    plane(x, a.y + c * a.y_plane_stride, w, V::set1(a.bias != nullptr ? a.bias[c] : 0.0f));
    if (++m == a.multiplier) {
      m = 0;
      x += a.x_plane_stride;
    }
  }
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
