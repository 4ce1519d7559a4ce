// Peak-FMA probe of the portable path: twelve independent multiply-add chains in plain C++ (the
// compiler may vectorise them for the baseline ISA, as it may the scalar kernels).
#include <cstdint>

namespace sepconv {
namespace SEPCONV_ISA_NS {

namespace {
constexpr int kChains = 12;
}

float fma_peak_generic(int64_t iterations, float seed) {
  float c[kChains];
  for (int j = 0; j < kChains; ++j) c[j] = seed + j;
  for (int64_t i = 0; i < iterations; ++i) {
    for (int j = 0; j < kChains; ++j) c[j] = c[j] * 0.999f + seed * 1e-3f;
  }
  float s = 0.0f;
  for (int j = 0; j < kChains; ++j) s += c[j];
  return s;
}
int64_t fma_peak_generic_flops() { return 2 * kChains; }

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
