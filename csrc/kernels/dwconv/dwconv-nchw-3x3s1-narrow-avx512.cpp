// Depthwise NCHW 3x3 s1 on narrow planes, avx512 instantiation of dwconv-nchw-3x3s1-narrow-simd.h.
#include "kernels/simd/vec-avx512.h"
#include "kernels/dwconv/dwconv-nchw-3x3s1-narrow-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void dwconv_nchw_3x3s1_narrow_simd(const kernels::DwconvNchwNarrowArgs& p) {
  dwconv_nchw_3x3s1_narrow::run<VecAvx512>(p);
}
int64_t dwconv_nchw_3x3s1_narrow_max_width() {
  return dwconv_nchw_3x3s1_narrow::kMaxWidth<VecAvx512>;
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
