// The kernel table of the ISA this file is built for (-DSEPCONV_ISA_NS=<isa>).
#include "kernels/isa-common.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void dwconv_nchw_generic(const kernels::DwconvNchwArgs& p);
void dwconv_nhwc_generic(const kernels::DwconvNhwcArgs& p);
void gemm_generic(const kernels::GemmArgs& p);

#if defined(SEPCONV_ISA_SIMD)
// Hand-written SIMD kernels of this ISA (dwconv-nhwc-<isa>.cpp, ...).
void dwconv_nhwc_simd(const kernels::DwconvNhwcArgs& p);
int64_t dwconv_nhwc_simd_tile();
#endif

const kernels::KernelTable& kernel_table() {
#if defined(SEPCONV_ISA_SIMD)
  static const kernels::KernelTable table = {
      SEPCONV_ISA_ENUM, dwconv_nhwc_simd_tile(), dwconv_nhwc_simd, dwconv_nhwc_generic,
      dwconv_nchw_generic, gemm_generic,
  };
#else
  static const kernels::KernelTable table = {
      SEPCONV_ISA_ENUM, 8, dwconv_nhwc_generic, dwconv_nhwc_generic,
      dwconv_nchw_generic, gemm_generic,
  };
#endif
  return table;
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
