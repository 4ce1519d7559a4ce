// Depthwise NCHW (one output plane, any multiplier), avx512 instantiation of dwconv-nchw-simd.h.
#include "kernels/simd/vec-avx512.h"
#include "kernels/dwconv/dwconv-nchw-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void dwconv_nchw_simd(const kernels::DwconvNchwArgs& p) { dwconv_nchw::run<VecAvx512>(p); }

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
