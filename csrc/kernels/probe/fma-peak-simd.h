// The peak-FMA probe written once against a vector type V (instantiated per ISA by
// fma-peak-<isa>.cpp): independent FMA chains and nothing else, the roofline of the kernels.
// Twelve chains: FMA latency (4-5 cycles) times two FMA pipes needs at least ten in flight, and the
// AVX2 budget of 16 registers holds twelve with the two operands.
#pragma once

#include <cstdint>

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace fma_peak {

constexpr int kChains = 12;

template <class V>
float run(int64_t iterations, float seed) {
  using Reg = typename V::Reg;
  // c <- c * m + a converges to a / (1 - m): no overflow and no denormals however long it runs.
  const Reg m = V::set1(0.999f);
  const Reg a = V::set1(seed * 1e-3f);
  Reg c[kChains];
  for (int j = 0; j < kChains; ++j) c[j] = V::set1(seed + j);
  for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < kChains; ++j) c[j] = V::fma(c[j], m, a);
  }
  Reg s = c[0];
  for (int j = 1; j < kChains; ++j) s = V::add(s, c[j]);
  return V::sum(s);
}

template <class V>
constexpr int64_t flops_per_iteration() {
  return int64_t(2) * kChains * V::kWidth;
}

}  // namespace fma_peak
}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
