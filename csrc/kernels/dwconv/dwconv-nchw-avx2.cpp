// Depthwise NCHW (one output plane, any multiplier), avx2 instantiation of dwconv-nchw-simd.h.
#include "kernels/simd/vec-avx2.h"
#include "kernels/dwconv/dwconv-nchw-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void dwconv_nchw_simd(const kernels::DwconvNchwArgs& p) { dwconv_nchw::run<VecAvx2>(p); }

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
