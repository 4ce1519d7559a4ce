// Depthwise NCHW on flat planes (stride 1, "same" width), avx512 instantiation of
// dwconv-nchw-flat-simd.h.
#include "kernels/simd/vec-avx512.h"
#include "kernels/dwconv/dwconv-nchw-flat-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void dwconv_nchw_flat_simd(const kernels::DwconvNchwFlatArgs& p) { dwconv_nchw_flat::run<VecAvx512>(p); }
int64_t dwconv_nchw_flat_width() { return VecAvx512::kWidth; }

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
