// Blocked GEMM, avx512 instantiation of gemm-simd.h: 8x32 microkernel (16 accumulators, 2 B vectors,
// 1 broadcast of the 32 zmm registers). kc = 128: a 8 x 128 A sliver (4 KiB) and a 128 x 32 B panel
// (16 KiB) stay in L1 together.
#include "kernels/simd/vec-avx512.h"
#include "kernels/gemm/gemm-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

namespace {
constexpr int kMR = 8, kKc = 128;
}

void gemm_rows_panels_simd(const kernels::GemmBlockArgs& p) { gemm_simd::run_rows_panels<VecAvx512, kMR>(p); }
void gemm_rows_rows_simd(const kernels::GemmBlockArgs& p) { gemm_simd::run_rows_rows<VecAvx512, kMR>(p); }
void gemm_columns_panels_simd(const kernels::GemmBlockArgs& p) { gemm_simd::run_columns_panels<VecAvx512, kMR>(p); }
void gemm_taps_panels_simd(const kernels::GemmTapsArgs& p) { gemm_simd::run_taps_panels<VecAvx512, kMR>(p); }
kernels::GemmTiles gemm_simd_tiles() { return {kMR, 2 * VecAvx512::kWidth, VecAvx512::kWidth, kKc}; }

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
