// Depthwise NHWC (multiplier 1), avx2 instantiation of dwconv-nhwc-simd.h.
#include "kernels/simd/vec-avx2.h"
#include "kernels/dwconv/dwconv-nhwc-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void dwconv_nhwc_simd(const kernels::DwconvNhwcArgs& p) { dwconv_nhwc::run<VecAvx2>(p); }
int64_t dwconv_nhwc_simd_tile() { return VecAvx2::kWidth; }

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
