// Depthwise NCHW 3x3 s1 on whole planes, avx512 instantiation of dwconv-nchw-3x3s1-run-simd.h.
#include "kernels/simd/vec-avx512.h"
#include "kernels/dwconv/dwconv-nchw-3x3s1-run-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void dwconv_nchw_3x3s1_run_simd(const kernels::DwconvNchwRunArgs& p) {
  dwconv_nchw_3x3s1_run::run<VecAvx512>(p);
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
