// Channel-tile interleave between NCHW planes and the NHWC kernels' tiles (interleave-x86.h), built
// once per x86 SIMD ISA (the transposes need only AVX). Its own translation unit: beside the NHWC
// kernels it changed GCC's inlining of their blocks.
#include "kernels/layout/interleave-x86.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void interleave_channels_simd(const kernels::InterleaveArgs& p) { interleave_x86::interleave(p); }
void deinterleave_channels_simd(const kernels::InterleaveArgs& p) {
  interleave_x86::deinterleave(p);
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
