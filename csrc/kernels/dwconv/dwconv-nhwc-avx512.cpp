// Depthwise NHWC (multiplier 1), avx512 instantiation of dwconv-nhwc-simd.h.
#include "kernels/simd/vec-avx512.h"
#include "kernels/dwconv/dwconv-nhwc-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

// 3x3 passes of 2 rows x 8 outputs (9 weights + 16 accumulators + 1 input of the 32 registers).
// Against 2 x 4, 1 thread, batch 1, each against the AVX2 kernel alternating in one process:
// C32@112 1.12 -> 1.20x, C144@56 1.13 -> 1.17x, C384@14 1.22 -> 1.25x, C192@28 1.17 -> 1.15x.
template <>
constexpr int dwconv_nhwc_3x3::block_width<VecAvx512>() {
  return 8;
}

// These passes beat the row kernel's segments from 6 outputs wide (1 thread, batch 1,
// alternating in one process): 6x6 C960 1.15x, 7x7 C64-C960 1.26-1.32x, 8x8 C384 1.36x, 9x9 C576
// 1.31x, 10x10 C576 1.37x, 12x12 C512 1.07x; 5x5 C960 0.93x, 4x4 C960 0.79x.
template <>
constexpr int dwconv_nhwc::segments_max_width_3x3<VecAvx512>() {
  return 5;
}

void dwconv_nhwc_simd(const kernels::DwconvNhwcArgs& p) { dwconv_nhwc::run<VecAvx512>(p); }
int64_t dwconv_nhwc_simd_tile() { return VecAvx512::kWidth; }

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
