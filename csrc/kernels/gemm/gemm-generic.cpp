// Blocked GEMM entries (kernels.h: GemmBlockArgs) for ISAs without a SIMD microkernel: the whole
// depth at once, with the panels of gemm_generic_tiles(). Plain loops over the contiguous j axis,
// vectorised by the compiler for the ISA this file is built for.
#include "kernels/isa-common.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

namespace {
constexpr int64_t kGenericMr = 4, kGenericNr = 8;
}

kernels::GemmTiles gemm_generic_tiles() { return {kGenericMr, kGenericNr, kGenericNr, 256}; }

// B panels; A(i, k) at a[i * row_step + k * k_step].
template <Activation A>
static void gemm_panels_generic(const kernels::GemmBlockArgs& p, int64_t row_step,
                                int64_t k_step) {
  const int64_t panel_stride = kGenericNr * (p.k + 1);
  for (int64_t j0 = 0; j0 < p.n; j0 += kGenericNr) {
    const int64_t nr = min_i64(kGenericNr, p.n - j0);
    const float* panel = p.b + (j0 / kGenericNr) * panel_stride;
    for (int64_t i = 0; i < p.m; ++i) {
      const float* a = p.a + i * row_step;
      float acc[kGenericNr];
      for (int64_t j = 0; j < kGenericNr; ++j) acc[j] = panel[j];
      for (int64_t k = 0; k < p.k; ++k) {
        const float aik = a[k * k_step];
        const float* brow = panel + (1 + k) * kGenericNr;
        for (int64_t j = 0; j < kGenericNr; ++j) acc[j] += aik * brow[j];
      }
      float* c = p.c + i * p.ldc + j0;
      for (int64_t j = 0; j < nr; ++j) c[j] = activate<A>(acc[j]);
    }
  }
}

void gemm_rows_panels_generic(const kernels::GemmBlockArgs& p) {
  with_activation(p.activation,
                  [&](auto tag) { gemm_panels_generic<decltype(tag)::value>(p, p.lda, 1); });
}

void gemm_columns_panels_generic(const kernels::GemmBlockArgs& p) {
  with_activation(p.activation,
                  [&](auto tag) { gemm_panels_generic<decltype(tag)::value>(p, 1, p.lda); });
}

void gemm_taps_panels_generic(const kernels::GemmTapsArgs& p) {
  with_activation(p.activation, [&](auto tag) {
    constexpr Activation A = decltype(tag)::value;
    const int64_t panel_stride = kGenericNr * (p.taps * p.tap_depth + 1);
    for (int64_t j0 = 0; j0 < p.n; j0 += kGenericNr) {
      const int64_t nr = min_i64(kGenericNr, p.n - j0);
      const float* panel = p.b + (j0 / kGenericNr) * panel_stride;
      for (int64_t i = 0; i < p.m; ++i) {
        float acc[kGenericNr];
        for (int64_t j = 0; j < kGenericNr; ++j) acc[j] = panel[j];
        for (int64_t tap = 0; tap < p.taps; ++tap) {
          if (p.a_taps[tap] == nullptr) continue;  // padding
          const float* a = p.a_taps[tap] + i * p.lda;
          const float* brows = panel + (1 + tap * p.tap_depth) * kGenericNr;
          for (int64_t k = 0; k < p.tap_depth; ++k) {
            const float aik = a[k];
            const float* brow = brows + k * kGenericNr;
            for (int64_t j = 0; j < kGenericNr; ++j) acc[j] += aik * brow[j];
          }
        }
        float* c = p.c + i * p.ldc + j0;
        for (int64_t j = 0; j < nr; ++j) c[j] = activate<A>(acc[j]);
      }
    }
  });
}

// A(i, k) = a_at(i, k) for the rows i of the block; C rows accumulate B rows (k outer, j inner).
template <Activation A, typename AAt>
static inline void gemm_rows_generic(const kernels::GemmBlockArgs& p, const float* bias, AAt a_at) {
  for (int64_t i = 0; i < p.m; ++i) {
    float* __restrict c = p.c + i * p.ldc;
    const float bi = bias != nullptr ? bias[i] : 0.0f;
    for (int64_t j = 0; j < p.n; ++j) c[j] = bi;
    for (int64_t k = 0; k < p.k; ++k) {
      const float aik = a_at(i, k);
      const float* __restrict b = p.b + k * p.ldb;
      for (int64_t j = 0; j < p.n; ++j) c[j] += aik * b[j];
    }
    activate_row<A>(c, p.n);
  }
}

void gemm_rows_rows_generic(const kernels::GemmBlockArgs& p) {
  with_activation(p.activation, [&](auto tag) {
    gemm_rows_generic<decltype(tag)::value>(
        p, p.bias, [&](int64_t i, int64_t k) { return p.a[i * p.lda + k]; });
  });
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
