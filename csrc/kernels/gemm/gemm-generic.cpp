// C = act(A * B + bias), row-major, any size: row by row with the k loop outside the contiguous j
// loop, which the compiler vectorises for the ISA this file is built for.
#include "kernels/isa-common.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

void gemm_generic(const kernels::GemmArgs& p) {
  with_activation(p.activation, [&](auto tag) {
    constexpr Activation A = decltype(tag)::value;
    for (int64_t i = 0; i < p.m; ++i) {
      float* __restrict c = p.c + i * p.ldc;
      switch (p.bias_axis) {
        case kernels::BiasAxis::Row:
          for (int64_t j = 0; j < p.n; ++j) c[j] = p.bias[i];
          break;
        case kernels::BiasAxis::Column:
          for (int64_t j = 0; j < p.n; ++j) c[j] = p.bias[j];
          break;
        default:
          for (int64_t j = 0; j < p.n; ++j) c[j] = 0.0f;
      }
      const float* a = p.a + i * p.lda;
      for (int64_t k = 0; k < p.k; ++k) {
        const float aik = a[k];
        const float* __restrict b = p.b + k * p.ldb;
        for (int64_t j = 0; j < p.n; ++j) c[j] += aik * b[j];
      }
      activate_row<A>(c, p.n);
    }
  });
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
