// Depthwise NCHW 3x3 s2, avx512 instantiation of dwconv-nchw-3x3s2-rows-simd.h.
#include "kernels/simd/vec-avx512.h"
#include "kernels/dwconv/dwconv-nchw-3x3s2-rows-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void dwconv_nchw_3x3s2_rows_simd(const kernels::DwconvNchw3x3s2Args& p) {
  dwconv_nchw_3x3s2_rows::run<VecAvx512>(p);
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
