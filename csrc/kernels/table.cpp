// The kernel table of the ISA this file is built for (-DSEPCONV_ISA_NS=<isa>).
#include "kernels/isa-common.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void dwconv_nchw_generic(const kernels::DwconvNchwArgs& p);
void dwconv_nhwc_generic(const kernels::DwconvNhwcArgs& p);
kernels::GemmTiles gemm_generic_tiles();
void gemm_rows_panels_generic(const kernels::GemmBlockArgs& p);
void gemm_rows_rows_generic(const kernels::GemmBlockArgs& p);
void gemm_columns_panels_generic(const kernels::GemmBlockArgs& p);
void gemm_taps_panels_generic(const kernels::GemmTapsArgs& p);
void interleave_channels(const kernels::InterleaveArgs& p);
void deinterleave_channels(const kernels::InterleaveArgs& p);
float fma_peak_generic(int64_t iterations, float seed);
int64_t fma_peak_generic_flops();

#if defined(SEPCONV_ISA_SIMD)
// Hand-written SIMD kernels of this ISA (dwconv-nhwc-<isa>.cpp, ...).
void dwconv_nhwc_simd(const kernels::DwconvNhwcArgs& p);
void dwconv_nchw_simd(const kernels::DwconvNchwArgs& p);
void dwconv_nchw_flat_simd(const kernels::DwconvNchwFlatArgs& p);
int64_t dwconv_nchw_flat_width();
#if defined(SEPCONV_ISA_RUN)
void dwconv_nchw_3x3s1_run_simd(const kernels::DwconvNchwRunArgs& p);
void dwconv_nchw_3x3s2_rows_simd(const kernels::DwconvNchw3x3s2Args& p);
#endif
int64_t dwconv_nhwc_simd_tile();
void interleave_channels_simd(const kernels::InterleaveArgs& p);
void deinterleave_channels_simd(const kernels::InterleaveArgs& p);
kernels::GemmTiles gemm_simd_tiles();  // gemm-<isa>.cpp
void gemm_rows_panels_simd(const kernels::GemmBlockArgs& p);
void gemm_rows_rows_simd(const kernels::GemmBlockArgs& p);
void gemm_columns_panels_simd(const kernels::GemmBlockArgs& p);
void gemm_taps_panels_simd(const kernels::GemmTapsArgs& p);
float fma_peak_simd(int64_t iterations, float seed);  // fma-peak-<isa>.cpp
int64_t fma_peak_simd_flops();
#endif

const kernels::KernelTable& kernel_table() {
  static const kernels::KernelTable table = [] {
    kernels::KernelTable t{};
    t.isa = SEPCONV_ISA_ENUM;
    t.dwconv_nhwc_multiplier = dwconv_nhwc_generic;
#if defined(SEPCONV_ISA_SIMD)
    t.dwconv_nchw = dwconv_nchw_simd;
    t.dwconv_nchw_flat = dwconv_nchw_flat_simd;
    t.dwconv_nchw_flat_width = dwconv_nchw_flat_width();
#if defined(SEPCONV_ISA_RUN)
    t.dwconv_nchw_3x3s1_run = dwconv_nchw_3x3s1_run_simd;
    t.dwconv_nchw_3x3s2_rows = dwconv_nchw_3x3s2_rows_simd;
#endif
    t.dwconv_nhwc_channel_tile = dwconv_nhwc_simd_tile();
    t.dwconv_nhwc = dwconv_nhwc_simd;
    // Multiplier-1 NCHW layers with wide kernels run the NHWC kernel on interleaved channel tiles
    // (DepthwiseOp::planar says which).
    t.dwconv_nchw_interleaved = true;
    t.interleave_channels = interleave_channels_simd;
    t.deinterleave_channels = deinterleave_channels_simd;
    t.gemm_tiles = gemm_simd_tiles();
    t.gemm_rows_panels = gemm_rows_panels_simd;
    t.gemm_rows_rows = gemm_rows_rows_simd;
    t.gemm_columns_panels = gemm_columns_panels_simd;
    t.gemm_taps_panels = gemm_taps_panels_simd;
    t.fma_peak = fma_peak_simd;
    t.fma_peak_flops = fma_peak_simd_flops();
#else
    t.dwconv_nchw = dwconv_nchw_generic;
    t.dwconv_nchw_flat = nullptr;
    t.dwconv_nchw_flat_width = 0;
    t.dwconv_nhwc_channel_tile = 8;
    t.dwconv_nhwc = dwconv_nhwc_generic;
    t.dwconv_nchw_interleaved = false;
    t.interleave_channels = interleave_channels;
    t.deinterleave_channels = deinterleave_channels;
    t.gemm_tiles = gemm_generic_tiles();
    t.gemm_rows_panels = gemm_rows_panels_generic;
    t.gemm_rows_rows = gemm_rows_rows_generic;
    t.gemm_columns_panels = gemm_columns_panels_generic;
    t.gemm_taps_panels = gemm_taps_panels_generic;
    t.fma_peak = fma_peak_generic;
    t.fma_peak_flops = fma_peak_generic_flops();
#endif
    return t;
  }();
  return table;
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
