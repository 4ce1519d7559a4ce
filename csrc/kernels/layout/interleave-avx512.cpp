// Channel-tile interleave between NCHW planes and the NHWC kernels' tiles, avx512 instantiation of
// interleave-x86.h (its own translation unit: beside the NHWC kernels it changed GCC's inlining of
// their blocks).
#include "kernels/layout/interleave-x86.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void interleave_channels_simd(const kernels::InterleaveArgs& p) { interleave_x86::interleave(p); }
void deinterleave_channels_simd(const kernels::InterleaveArgs& p) {
  interleave_x86::deinterleave(p);
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
