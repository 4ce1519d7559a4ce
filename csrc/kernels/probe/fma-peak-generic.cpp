// Peak-FMA probe of the portable path: fma-peak-simd.h on one float per "vector" (the compiler
// may vectorise the chains for the baseline ISA, as it may the scalar kernels).
#include "kernels/probe/fma-peak-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

namespace {
struct Scalar {
  using Reg = float;
  static constexpr int kWidth = 1;
  static Reg set1(float v) { return v; }
  static Reg fma(Reg a, Reg b, Reg c) { return a * b + c; }
  static Reg add(Reg a, Reg b) { return a + b; }
  static float sum(Reg v) { return v; }
};
}  // namespace

float fma_peak_generic(int64_t iterations, float seed) {
  return fma_peak::run<Scalar>(iterations, seed);
}
int64_t fma_peak_generic_flops() { return fma_peak::flops_per_iteration<Scalar>(); }

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
