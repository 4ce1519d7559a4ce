// Peak-FMA probe, avx512 instantiation of fma-peak-simd.h.
#include "kernels/simd/vec-avx512.h"
#include "kernels/probe/fma-peak-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

float fma_peak_simd(int64_t iterations, float seed) {
  return fma_peak::run<VecAvx512>(iterations, seed);
}
int64_t fma_peak_simd_flops() { return fma_peak::flops_per_iteration<VecAvx512>(); }

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
