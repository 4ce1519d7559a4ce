// Depthwise NHWC (multiplier 1), avx512 instantiation of dwconv-nhwc-simd.h, and the channel-tile
// interleave that lets NCHW depthwise run it.
#include "kernels/simd/vec-avx512.h"
#include "kernels/dwconv/dwconv-nhwc-simd.h"
#include "kernels/layout/interleave-x86.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

// 3x3 passes of 2 rows x 4 outputs (26 of 32 registers would allow 8: untuned here, and each
// width is unrolled for every activation, stride and clipping variant, so 8 would multiply code
// size and compile time for no measured gain).
template <>
constexpr int dwconv_nhwc_3x3::block_width<VecAvx512>() {
  return 4;
}

void dwconv_nhwc_simd(const kernels::DwconvNhwcArgs& p) { dwconv_nhwc::run<VecAvx512>(p); }
void interleave_channels_simd(const kernels::InterleaveArgs& p) { interleave_x86::interleave(p); }
void deinterleave_channels_simd(const kernels::InterleaveArgs& p) {
  interleave_x86::deinterleave(p);
}
int64_t dwconv_nhwc_simd_tile() { return VecAvx512::kWidth; }

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
