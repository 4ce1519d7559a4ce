// The kernel table of the ISA this file is built for (-DSEPCONV_ISA_NS=<isa>).
#include "kernels/isa-common.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void dwconv_nchw_generic(const kernels::DwconvNchwArgs& p);
void dwconv_nhwc_generic(const kernels::DwconvNhwcArgs& p);
int64_t dwconv_nhwc_generic_tile();
void gemm_generic(const kernels::GemmArgs& p);

const kernels::KernelTable& kernel_table() {
  static const kernels::KernelTable table = {
      SEPCONV_ISA_ENUM,
      dwconv_nhwc_generic_tile(),
      dwconv_nhwc_generic,
      dwconv_nchw_generic,
      gemm_generic,
  };
  return table;
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
