// Blocked GEMM, avx2 instantiation of gemm-simd.h: 6x16 microkernel (12 accumulators, 2 B vectors,
// 1 broadcast of the 16 ymm registers). kc = 256: a 6 x 256 A sliver (6 KiB) and a 256 x 16 B panel
// (16 KiB) stay in the 32 KiB L1 together.
#include "kernels/simd/vec-avx2.h"
#include "kernels/gemm/gemm-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

namespace {
constexpr int kMR = 6, kKc = 256;
}

void gemm_rows_panels_simd(const kernels::GemmBlockArgs& p) { gemm_simd::run_rows_panels<VecAvx2, kMR>(p); }
void gemm_rows_rows_simd(const kernels::GemmBlockArgs& p) { gemm_simd::run_rows_rows<VecAvx2, kMR>(p); }
void gemm_columns_panels_simd(const kernels::GemmBlockArgs& p) { gemm_simd::run_columns_panels<VecAvx2, kMR>(p); }
void gemm_taps_panels_simd(const kernels::GemmTapsArgs& p) { gemm_simd::run_taps_panels<VecAvx2, kMR>(p); }
kernels::GemmTiles gemm_simd_tiles() { return {kMR, 2 * VecAvx2::kWidth, VecAvx2::kWidth, kKc}; }

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
