// Blocked GEMM (kernels.h: GemmBlockArgs), written once against a vector type V (vec-avx2.h,
// vec-avx512.h) and instantiated per ISA by gemm-<isa>.cpp with its tile sizes.
//
// The microkernel keeps an MR x (NRV * V::kWidth) block of C in MR * NRV accumulators. Per step of k
// it loads NRV vectors of one row of a packed B panel and broadcasts the MR elements of one column
// of A from memory (AVX2 6x16: 12 accumulators + 2 B registers + 1 broadcast; 12 FMAs per 8 loads).
// A is read directly from its rows (runtime stride), so NHWC multiplies the activations in place by
// the prepacked weights, and NCHW multiplies the weights in place by the activations, whose rows
// the kernel reads in place (b_rows_in_place, BRows) or copies k-block by k-block into panels in a
// per-thread workspace first (b_rows), or multiplies the activations, read in place as the
// columns of A (ColumnA), by the prepacked weights (rows_panels with ColumnA: C^T = X^T * W^T,
// which the core transposes into the output planes).
// Edges: M remainders use smaller-MR instantiations; the N remainder uses a one-vector (NRV = 1)
// kernel and/or a masked last vector (panels are zero-padded, so only C loads/stores are masked).
// When a block's last panel is one vector wide after a full one (N = 24, 40, ... on AVX2), those
// NR + W columns run as one three-vector kernel (NRV = 3, the third vector from the narrow panel)
// of kMR3 rows: 4 x 24 on AVX2, 12 accumulators, 7 loads per 12 FMAs, where the 6 x 16 and 6 x 8
// pair loads 15 per 18 and the 6 x 8 kernel broadcasts each A element for a single FMA.
// Measured against that pair (AVX2, Zen 3, NHWC, alternating in one process, 1 / 2 threads):
// pointwise 96->24@56 1.11-1.26x / 1.18x, 144->24@56 1.03-1.11x / 1.16x, 72->24@56 1.14x / 1.13x,
// 576->24@14 1.10-1.11x / 1.10x, 120->40@28 1.06-1.11x / 1.08x, 240->40@28 1.01-1.11x / 1.07x,
// 672->56@14 0.93-1.03x / 1.05x; conv2d 3x3 144->24@56 1.13-1.16x / 1.09x.
// A last panel of W + W/2 columns (Cout 24 on AVX-512) runs two rows at a time as three whole
// vectors (pair_tile): NHWC pointwise 96->24@56 1.12x, 144->24@56 1.11x, 144->24@28 1.13x,
// 576->24@14 1.07x (AVX-512, Zen 5, 1 thread, alternating in one process).
// Kernels with fewer than 8 accumulators split k over 2-8 accumulator sets to hide FMA latency.
// Bias is loaded into the accumulators at the first k-block, the activation applied after the last.
#pragma once

#include <numeric>
#include <type_traits>

#include "kernels/prefetch.h"
#include "kernels/simd/activation-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace gemm_simd {

struct Tile {
  const float* a; int64_t lda;  // A(i, k) at a[i * lda + k] (ColumnA: a[i + k * lda])
  const float* b;               // B panel: [k][NRV * W] (NRV = 3: [k][2W]), zero-padded
  const float* b_narrow;        // NRV = 3: the next panel, [k][W], its third vector
  int64_t ldb;                  // BRows: B(k, j) at b[k * ldb + j], read in place (unmasked)
  float* c; int64_t ldc;
  const float* bias;  // first k-block: per column (B panels) or per row (B rows); null = 0
  const float* bias_narrow;  // NRV = 3, per column: the next panel's bias
  int64_t kb;         // depth of this k-block
  int64_t n_tail;     // valid lanes of the last vector when masked
  bool first, last;
};

// Vector v of an NRV-vector row; only the last one is masked (v is a constant after unrolling).
template <class V, bool Masked, int NRV>
static inline typename V::Reg load_m(const float* p, int v, typename V::Mask m) {
  if (Masked && v == NRV - 1) return V::load(p, m);
  return V::load(p);
}

template <class V, bool Masked, int NRV>
static inline void store_m(float* p, int v, typename V::Reg x, typename V::Mask m) {
  if (Masked && v == NRV - 1) {
    V::store(p, x, m);
  } else {
    V::store(p, x);
  }
}

// Vector v of B row k: from the panel (ldb floats per row), or for the third vector of NRV = 3,
// from the narrow panel; BRows: from B's own rows, row_ldb floats apart.
template <class V, int NRV, bool BRows>
static inline typename V::Reg load_b(const float* b, const float* b_narrow, int64_t k, int v,
                                     int64_t row_ldb) {
  constexpr int W = V::kWidth, ldb = (NRV == 3 ? 2 : NRV) * W;
  if constexpr (BRows) return V::load(b + k * row_ldb + v * W);
  if (NRV == 3 && v == 2) return V::load(b_narrow + k * W);
  return V::load(b + k * ldb + v * W);
}

// The addresses of Rows rows of A, step floats apart, one per Group rows: row i at
// base[i / Group] + (i % Group) * step, so that a group's other rows address as base + step x 1
// or 2. With an address per row, the 12 rows of the one-vector kernel and the 16 of the pair tile
// left too few general registers for their loops (the loop counter, B's address, or the rows'
// addresses themselves went to the stack: 16 stack references in the one-vector kernel -> 1).
// Measured (AVX-512, Zen 5, NHWC, 1 thread, alternating in one process), Group 1 -> 3: pointwise
// 32->16@112 1.035x, 24->16@56 1.04x, 144->24@56 1.034x, 96->24@56 1.029x; on the 8-row
// two-vector kernel it lost (NCHW 32->16@112 0.94x), which keeps Group 1.
template <int Rows, int Group>
struct RowAddresses {
  const float* base[(Rows + Group - 1) / Group];
  int64_t step;
  __attribute__((always_inline)) RowAddresses(const float* a, int64_t row_step) : step(row_step) {
#pragma GCC unroll 16
    for (int j = 0; j < (Rows + Group - 1) / Group; ++j) base[j] = a + Group * j * row_step;
  }
  __attribute__((always_inline)) const float* operator[](int i) const {
    return base[i / Group] + (i % Group) * step;
  }
};

// C tile (MR x NRV*W) of one k-block: A rows, a packed B panel. ColBias: the bias is per column (a
// vector), else per row (a broadcast). ColumnA: A(i, k) = t.a[i + k * t.lda] (NCHW activations
// read in place as the transposed matrix), else t.a[i * t.lda + k]. BRows: B's rows in place
// (t.ldb apart; whole vectors, so not with Masked) instead of a panel.
template <class V, int MR, int NRV, bool ColBias, bool Masked, Activation A, bool ColumnA = false,
          bool BRows = false>
static void tile(const Tile& t) {
  static_assert(!(BRows && (Masked || NRV == 3)), "B rows in place are read as whole vectors");
  using Reg = typename V::Reg;
  constexpr int W = V::kWidth;
  constexpr int kAcc = MR * NRV;
  constexpr int S = kAcc >= 8 ? 1 : (8 + kAcc - 1) / kAcc;  // accumulator sets over k
  const typename V::Mask mask = Masked ? V::tail_mask(t.n_tail) : typename V::Mask{};

  Reg acc[S][MR][NRV];
  if (t.first) {
    if (t.bias == nullptr) {
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
        for (int v = 0; v < NRV; ++v) acc[0][i][v] = V::zero();
      }
    } else if constexpr (ColBias) {
#pragma GCC unroll 4
      for (int v = 0; v < NRV; ++v) {
        const Reg bv = NRV == 3 && v == 2 ? V::load(t.bias_narrow) : V::load(t.bias + v * W);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) acc[0][i][v] = bv;
      }
    } else {
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const Reg bi = V::broadcast(t.bias + i);
#pragma GCC unroll 4
        for (int v = 0; v < NRV; ++v) acc[0][i][v] = bi;
      }
    }
  } else {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
      for (int v = 0; v < NRV; ++v) {
        acc[0][i][v] = load_m<V, Masked, NRV>(t.c + i * t.ldc + v * W, v, mask);
      }
    }
  }
#pragma GCC unroll 8
  for (int s = 1; s < S; ++s) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
      for (int v = 0; v < NRV; ++v) acc[s][i][v] = V::zero();
    }
  }

  const int64_t kb = t.kb;
  const int64_t ldb = BRows ? t.ldb : (NRV == 3 ? 2 : NRV) * W;
  const float* b = t.b;
  const float* b_narrow = t.b_narrow;
  // A(i, k) = ar[i][k]; three rows per address for the one-vector kernel's 12 (RowAddresses).
  const RowAddresses<MR, (NRV == 1 && MR > 8 ? 3 : 1)> ar(t.a, t.lda);
  const float* a_column = t.a;  // ColumnA: A(i, k) = a_column[i] at step k
  const int64_t lda = t.lda;

  // Unrolled 4 times: the loop's own instructions (pointer increments, row addresses, the
  // branch) took a fifth of the 6x16 kernel's. Measured (1 thread, alternating in one process):
  // conv2d 3x3 384->64@14 1.12-1.18x, 144->24@56 1.00-1.05x, 64->64@56 1.02-1.03x; pointwise
  // 144->24@56 and 96->24@56 1.04-1.06x, the others 1.00-1.04x; callgrind, conv2d 144->24@56
  // NHWC: 34.4M -> 31.7M instructions.
  int64_t k = 0;
#pragma GCC unroll 4
  for (; k + S <= kb; k += S) {
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s) {
      Reg bv[NRV];
#pragma GCC unroll 4
      for (int v = 0; v < NRV; ++v) bv[v] = load_b<V, NRV, BRows>(b, b_narrow, s, v, ldb);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const Reg ai = ColumnA ? V::broadcast(a_column + s * lda + i)
                               : V::broadcast(ar[i] + (k + s));
#pragma GCC unroll 4
        for (int v = 0; v < NRV; ++v) acc[s][i][v] = V::fma(ai, bv[v], acc[s][i][v]);
      }
    }
    if constexpr (ColumnA) a_column += S * lda;
    b += S * ldb;
    if constexpr (NRV == 3) b_narrow += S * W;
  }
  for (; k < kb; ++k) {
    Reg bv[NRV];
#pragma GCC unroll 4
    for (int v = 0; v < NRV; ++v) bv[v] = load_b<V, NRV, BRows>(b, b_narrow, 0, v, ldb);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const Reg ai =
          ColumnA ? V::broadcast(a_column + i) : V::broadcast(ar[i] + k);
#pragma GCC unroll 4
      for (int v = 0; v < NRV; ++v) acc[0][i][v] = V::fma(ai, bv[v], acc[0][i][v]);
    }
    if constexpr (ColumnA) a_column += lda;
    b += ldb;
    if constexpr (NRV == 3) b_narrow += W;
  }
#pragma GCC unroll 8
  for (int s = 1; s < S; ++s) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
      for (int v = 0; v < NRV; ++v) acc[0][i][v] = V::add(acc[0][i][v], acc[s][i][v]);
    }
  }
  // The accumulators stay scalar-replaced only if the array is never passed by reference. C's
  // address in locals: the intrinsic stores may alias t, whose fields would be reloaded after each.
  float* const c = t.c;
  const int64_t ldc = t.ldc;
  if (t.last) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
      for (int v = 0; v < NRV; ++v) {
        store_m<V, Masked, NRV>(c + i * ldc + v * W, v, vactivate<V, A>(acc[0][i][v]), mask);
      }
    }
  } else {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
      for (int v = 0; v < NRV; ++v) {
        store_m<V, Masked, NRV>(c + i * ldc + v * W, v, acc[0][i][v], mask);
      }
    }
  }
}

// Runtime rows (1 <= mr <= kMR) to the compile-time microkernel.
template <class V, int kMR, int NRV, bool ColBias, bool Masked, Activation A, bool ColumnA = false,
          bool BRows = false>
static inline void tile_mr(int64_t mr, const Tile& t) {
  static_assert(kMR >= 1 && kMR <= 16, "MR out of range");
  switch (mr) {
#define SEPCONV_GEMM_MR_CASE(r) \
    case r:                                                                                 \
      if constexpr (kMR >= r) {                                                             \
        tile<V, (kMR >= r ? r : 1), NRV, ColBias, Masked, A, ColumnA, BRows>(t);            \
      }                                                                                     \
      break;
    SEPCONV_GEMM_MR_CASE(1) SEPCONV_GEMM_MR_CASE(2) SEPCONV_GEMM_MR_CASE(3)
    SEPCONV_GEMM_MR_CASE(4) SEPCONV_GEMM_MR_CASE(5) SEPCONV_GEMM_MR_CASE(6)
    SEPCONV_GEMM_MR_CASE(7) SEPCONV_GEMM_MR_CASE(8) SEPCONV_GEMM_MR_CASE(9)
    SEPCONV_GEMM_MR_CASE(10) SEPCONV_GEMM_MR_CASE(11) SEPCONV_GEMM_MR_CASE(12)
    SEPCONV_GEMM_MR_CASE(13) SEPCONV_GEMM_MR_CASE(14) SEPCONV_GEMM_MR_CASE(15)
    SEPCONV_GEMM_MR_CASE(16)
#undef SEPCONV_GEMM_MR_CASE
    default: break;
  }
}

// Runtime columns (1 <= nr <= 2W) to NRV and the mask: 2W full, (W, 2W) two vectors with the second
// masked, W one vector, (0, W) one masked vector.
template <class V, int kMR, bool ColBias, Activation A, bool ColumnA = false>
static inline void tile_mn(int64_t mr, int64_t nr, Tile& t) {
  constexpr int W = V::kWidth;
  if (nr == 2 * W) {
    tile_mr<V, kMR, 2, ColBias, false, A, ColumnA>(mr, t);
  } else if (nr > W) {
    t.n_tail = nr - W;
    tile_mr<V, kMR, 2, ColBias, true, A, ColumnA>(mr, t);
  } else if (nr == W) {
    tile_mr<V, kMR, 1, ColBias, false, A, ColumnA>(mr, t);
  } else {
    t.n_tail = nr;
    tile_mr<V, kMR, 1, ColBias, true, A, ColumnA>(mr, t);
  }
}

// Pairs of rows of C over a last panel of W + W/2 columns (n = 24 on AVX-512, 12 on AVX2), where
// one row takes a whole and a half-masked vector: 3 of 4 lanes work. The two rows' 3W outputs side
// by side are three whole vectors, [p 0..W) [p W..3W/2 | q 0..W/2) [q W/2..3W/2); B's vectors for
// them are halves of the panel's two (two shuffles per k for every pair), and the middle one's A
// operand blends the two rows' broadcasts. PR pairs: 3 * PR accumulators, 3 B vectors, 3 of A.
// The blend takes an FMA pipe part of the time: a loop of 24 FMAs and 8 blends ran at 88% of the
// FMA peak (Zen 5), against the 75% the half-masked vector allows.
template <class V>
constexpr int pair_rows() {
  return (V::kRegisters - 6) / 3 < 8 ? (V::kRegisters - 6) / 3 : 8;
}

template <class V, int PR, Activation A, bool ColumnA = false>
static void pair_tile(const Tile& t) {
  using Reg = typename V::Reg;
  constexpr int W = V::kWidth, H = W / 2, ldb = 2 * W;
  // A(i, k) at rows[i] + k * k_step (three rows per address: RowAddresses)
  const int64_t k_step = ColumnA ? t.lda : 1;
  const RowAddresses<2 * PR, 3> rows(t.a, ColumnA ? 1 : t.lda);
  float* const c = t.c;
  const int64_t ldc = t.ldc;
  Reg acc[PR][3];
  if (t.first) {
    Reg bias[3] = {V::zero(), V::zero(), V::zero()};
    if (t.bias != nullptr) {
      const Reg lo = V::load(t.bias), hi = V::load(t.bias + W);
      bias[0] = lo;
      bias[1] = V::template halves<0, 0>(hi, lo);
      bias[2] = V::template halves<1, 0>(lo, hi);
    }
#pragma GCC unroll 8
    for (int r = 0; r < PR; ++r) {
#pragma GCC unroll 3
      for (int v = 0; v < 3; ++v) acc[r][v] = bias[v];
    }
  } else {
#pragma GCC unroll 8
    for (int r = 0; r < PR; ++r) {
      const float* cp = c + (2 * r) * ldc;
      acc[r][0] = V::load(cp);
      acc[r][1] = V::load_halves(cp + W, cp + ldc);
      acc[r][2] = V::load(cp + ldc + H);
    }
  }
  const float* b = t.b;
  const auto step = [&](int64_t k) {
    const Reg lo = V::load(b + k * ldb), hi = V::load(b + k * ldb + W);
    const Reg b1 = V::template halves<0, 0>(hi, lo), b2 = V::template halves<1, 0>(lo, hi);
#pragma GCC unroll 8
    for (int r = 0; r < PR; ++r) {
      const Reg p = V::broadcast(rows[2 * r] + k * k_step);
      const Reg q = V::broadcast(rows[2 * r + 1] + k * k_step);
      acc[r][0] = V::fma(p, lo, acc[r][0]);
      acc[r][1] = V::fma(V::blend_halves(p, q), b1, acc[r][1]);
      acc[r][2] = V::fma(q, b2, acc[r][2]);
    }
  };
  int64_t k = 0;
  for (; k + 4 <= t.kb; k += 4) {
#pragma GCC unroll 4
    for (int s = 0; s < 4; ++s) step(k + s);
  }
  for (; k < t.kb; ++k) step(k);
#pragma GCC unroll 8
  for (int r = 0; r < PR; ++r) {
    float* cp = c + (2 * r) * ldc;
    Reg out[3];
#pragma GCC unroll 3
    for (int v = 0; v < 3; ++v) out[v] = t.last ? vactivate<V, A>(acc[r][v]) : acc[r][v];
    V::store(cp, out[0]);
    V::store_halves(cp + W, cp + ldc, out[1]);
    V::store(cp + ldc + H, out[2]);
  }
}

// Runtime pairs (1 <= pairs <= PR) to the compile-time kernel.
template <class V, int PR, Activation A, bool ColumnA>
static inline void pair_tile_pr(int64_t pairs, const Tile& t) {
  if constexpr (PR >= 1) {
    if (pairs == PR) {
      pair_tile<V, PR, A, ColumnA>(t);
    } else {
      pair_tile_pr<V, PR - 1, A, ColumnA>(pairs, t);
    }
  }
}

// The tile state shared by every tile of the k-block starting at k0.
template <class V>
static inline Tile k_block(const kernels::GemmBlockArgs& p, int64_t k0) {
  Tile t;
  t.kb = min_i64(p.kc, p.k - k0);
  t.first = k0 == 0;
  t.last = k0 + t.kb == p.k;
  t.lda = p.lda;
  t.ldc = p.ldc;
  t.n_tail = V::kWidth;
  return t;
}

// Rows of the three-vector kernel: its 3 * kMR3 accumulators, 3 B vectors and a broadcast fit the
// registers (4 on AVX2, 8 on AVX-512), at most kMR.
template <class V, int kMR>
constexpr int three_vector_rows() {
  return (V::kRegisters - 4) / 3 < kMR ? (V::kRegisters - 4) / 3 : kMR;
}

// Rows of the one-vector kernel when the whole block is one panel of at most W columns (Cout 16 on
// AVX-512): 12 where the registers allow, so that each tile's fixed costs (the call, its bias loads
// and stores, its row addresses) are spread over 1.5x the FMAs of kMR rows where k is short; at 16
// rows the row addresses no longer fit the general registers and spilled. Measured (AVX-512, Zen
// 5, NHWC, 1 thread, batch 1, GFLOP/s, kMR = 8 -> 16 -> 12 rows): pointwise 32->16@28 179 -> 193 ->
// 209, 32->16@112 175 -> 194 -> 206, 24->16@56 171 -> 194 -> 204, 16->8@56 75 -> 90 -> 98, 960->16@7
// 205 -> 201 -> 218 (10 rows: within 2% of 12).
template <class V, int kMR>
constexpr int one_vector_rows() {
  return V::kRegisters >= 32 ? 12 : kMR;
}

// Rows [0, m) as ceil(m / step) runs whose sizes differ by at most one, so that a block whose rows
// are not a multiple of the step ends in no sliver of a tile: 49 rows (a 7x7 image) run as 7 x 7
// instead of 6 x 8 + 1, whose single row loads two B vectors per two FMAs from L2.
struct EvenRuns {
  int64_t runs, base, extra;  // the first `extra` runs have base + 1 rows
  EvenRuns(int64_t m, int64_t step)
      : runs((m + step - 1) / step), base(m / max_i64(1, runs)), extra(m % max_i64(1, runs)) {}
  int64_t begin(int64_t j) const { return j * base + min_i64(j, extra); }
};

// Every tile of the m x n C block of one k-block: A rows from a (t.lda apart; ColumnA: adjacent,
// columns t.lda apart), C from c (t.ldc
// apart), B panels from b, panel_stride apart, with this k-block's rows from 1 + k0. Rows go kMR at
// a time over the panels; when the block's last panel is W wide after a full one, those NR + W
// columns take the three-vector kernel, kMR3 rows at a time, and rows go in groups of
// lcm(kMR, kMR3) (12 on AVX2) so that a group's A rows serve both kernels while in L1; a last
// panel of W + W/2 columns takes pair_tile, kPairs pairs of rows at a time, in groups of
// lcm(kMR, 2 * kPairs) (16 on AVX-512).
// on_group(first_row, rows, kernel_calls) starts each group; before_call() precedes each call.
template <class V, int kMR, Activation A, bool ColumnA, class OnGroup, class BeforeCall>
static inline void panel_tiles(Tile& t, const float* a, float* c, int64_t m, int64_t n,
                               const float* b, int64_t panel_stride, int64_t k0,
                               OnGroup&& on_group, BeforeCall&& before_call) {
  constexpr int W = V::kWidth, NR = 2 * W;
  constexpr int kMR3 = three_vector_rows<V, kMR>();
  constexpr int kPairs = pair_rows<V>();
  const bool three = n % NR == W && n > NR;
  const bool pairs = n % NR == W + W / 2;
  // columns of the one- and two-vector kernels
  const int64_t n_two = three ? n - NR - W : pairs ? n - W - W / 2 : n;
  const int64_t panels = (n_two + NR - 1) / NR;
  constexpr int kMR1 = one_vector_rows<V, kMR>();
  const int64_t row_step = ColumnA ? 1 : t.lda;  // between A's rows
  if (n <= W) {  // one panel of one vector
    t.b = b + (1 + k0) * W;
    t.bias = b;
    t.n_tail = n;
    // Whole tiles of kMR1 rows here: even runs (11 and 12 rows) were 1.02-1.03x slower on
    // 32->16@112 and @28 (AVX-512, Zen 5, NHWC, 1 thread).
    for (int64_t g0 = 0; g0 < m; g0 += kMR1) {
      const int64_t rows = min_i64(kMR1, m - g0);
      on_group(g0, rows, 1);
      before_call();
      t.a = a + g0 * row_step;
      t.c = c + g0 * t.ldc;
      if (n == W) {
        tile_mr<V, kMR1, 1, true, false, A, ColumnA>(rows, t);
      } else {
        tile_mr<V, kMR1, 1, true, true, A, ColumnA>(rows, t);
      }
    }
    return;
  }
  const int64_t group = three ? std::lcm(kMR, kMR3) : pairs ? std::lcm(kMR, 2 * kPairs) : kMR;
  // Groups of one tile's rows are even runs; larger groups (pairs, or tiles of two heights) keep
  // their multiple of both.
  const bool even = group == kMR;
  const EvenRuns runs(m, kMR);
  const int64_t groups = even ? runs.runs : (m + group - 1) / group;
  for (int64_t j = 0; j < groups; ++j) {
    const int64_t g0 = even ? runs.begin(j) : j * group;
    const int64_t g1 = even ? runs.begin(j + 1) : min_i64(m, g0 + group), rows = g1 - g0;
    on_group(g0, rows,
             panels * ((rows + kMR - 1) / kMR) + (three ? (rows + kMR3 - 1) / kMR3 : 0) +
                 (pairs ? (rows / 2 + kPairs - 1) / kPairs + rows % 2 : 0));
    for (int64_t i0 = g0; i0 < g1; i0 += kMR) {
      const int64_t mr = min_i64(kMR, g1 - i0);
      for (int64_t j0 = 0; j0 < n_two; j0 += NR) {
        before_call();
        const int64_t nr = min_i64(NR, n_two - j0);
        const int64_t pw = nr > W ? NR : W;  // only the matrix's last panel is narrower
        const float* panel = b + (j0 / NR) * panel_stride;
        t.a = a + i0 * row_step;
        t.b = panel + (1 + k0) * pw;
        t.c = c + i0 * t.ldc + j0;
        t.bias = panel;
        tile_mn<V, kMR, true, A, ColumnA>(mr, nr, t);
      }
    }
    if (pairs) {
      const float* panel = b + (n_two / NR) * panel_stride;
      t.b = panel + (1 + k0) * NR;
      t.bias = panel;
      for (int64_t i0 = g0; i0 + 1 < g1; i0 += 2 * kPairs) {
        before_call();
        t.a = a + i0 * row_step;
        t.c = c + i0 * t.ldc + n_two;
        pair_tile_pr<V, kPairs, A, ColumnA>(min_i64(kPairs, (g1 - i0) / 2), t);
      }
      if (rows % 2 == 1) {  // the group's last row on its own
        before_call();
        t.a = a + (g1 - 1) * row_step;
        t.c = c + (g1 - 1) * t.ldc + n_two;
        tile_mn<V, kMR, true, A, ColumnA>(1, W + W / 2, t);
      }
      continue;
    }
    if (!three) continue;
    const float* panel = b + (n_two / NR) * panel_stride;
    const float* narrow = panel + panel_stride;
    for (int64_t i0 = g0; i0 < g1; i0 += kMR3) {
      before_call();
      t.a = a + i0 * row_step;
      t.b = panel + (1 + k0) * NR;
      t.b_narrow = narrow + (1 + k0) * W;
      t.c = c + i0 * t.ldc + n_two;
      t.bias = panel;
      t.bias_narrow = narrow;
      tile_mr<V, kMR3, 3, true, false, A, ColumnA>(min_i64(kMR3, g1 - i0), t);
    }
  }
}

// A rows, B panels (NHWC). Loop order per k-block: groups of rows of A (their k-block sliver stays
// in L1) x every B panel of the block (the k-block of B stays in L2). With prefetch_a, the next
// group's k-block is prefetched over the kernel calls of the current one. ColumnA (NCHW
// activations as the transposed matrix, C (pixels x Cout) = X^T * W^T): A(i, k) = a[i + k * lda],
// read in place, no copy of the activations and no per-pixel tail (the pixels are the rows).
template <class V, int kMR, Activation A, bool ColumnA>
static void rows_panels(const kernels::GemmBlockArgs& p) {
  constexpr int NR = 2 * V::kWidth;
  const int64_t panel_stride = NR * (p.k + 1);
  for (int64_t k0 = 0; k0 < p.k; k0 += p.kc) {
    Tile t = k_block<V>(p, k0);
    RowsAhead<false> next(nullptr, 0, 0, 0, 0);
    const auto on_group = [&](int64_t i0, int64_t rows, int64_t calls) {
      if (ColumnA || !p.prefetch_a) return;
      const int64_t next_rows = max_i64(0, min_i64(rows, p.m - i0 - rows));
      next = RowsAhead<false>(beside(p.a, (i0 + rows) * p.lda + k0), t.kb, p.lda, next_rows, calls);
    };
    panel_tiles<V, kMR, A, ColumnA>(t, p.a + (ColumnA ? k0 * p.lda : k0), p.c, p.m, p.n, p.b,
                                    panel_stride, k0, on_group, [&] { next.step(); });
  }
}

// Copies the kb x n block of B rows (ldb apart) into zero-padded [kb][pw] panels of NR columns
// (the last pw = W or NR), panel q at dst + q * NR * kb: kRows rows at a time, panel by panel, so
// that kRows rows are read front to back side by side (few enough streams for the hardware
// prefetchers) and each panel gets kRows consecutive rows. Measured (AVX2, Zen 3, µs per image,
// row by row / panel by panel / 8 rows at a time): 144 x 3136 in blocks of 224 columns, from L3 57
// / 68 / 53, batch 8 from DRAM 198 / 239 / 150; 32 x 12544 in blocks of 1024, 136 / 62 / 57 and
// 152 / 147 / 92.
template <class V>
static inline void pack_b_rows(const float* b, int64_t ldb, int64_t kb, int64_t n, float* dst) {
  constexpr int W = V::kWidth, NR = 2 * W;
  constexpr int64_t kRows = 8;
  const int64_t full = n / NR, rest = n - full * NR;
  const int64_t last_width = rest > W ? NR : W;
  const typename V::Mask mask = V::tail_mask(rest % W > 0 ? rest % W : W);
  for (int64_t k0 = 0; k0 < kb; k0 += kRows) {
    const int64_t rows = min_i64(kRows, kb - k0);
    for (int64_t q = 0; q < full; ++q) {
      const float* s = b + k0 * ldb + q * NR;
      float* d = dst + q * NR * kb + k0 * NR;
      for (int64_t kk = 0; kk < rows; ++kk, s += ldb, d += NR) {
        V::store(d, V::load(s));
        V::store(d + W, V::load(s + W));
      }
    }
    if (rest == 0) continue;
    const float* s = b + k0 * ldb + full * NR;
    float* d = dst + full * NR * kb + k0 * last_width;
    for (int64_t kk = 0; kk < rows; ++kk, s += ldb, d += last_width) {
      for (int64_t v = 0; v < last_width; v += W) {
        if (v + W <= rest) {
          V::store(d + v, V::load(s + v));
        } else if (v < rest) {
          V::store(d + v, V::load(s + v, mask));
        } else {
          V::store(d + v, V::zero());
        }
      }
    }
  }
}

// C(i, col0 + q) for rows [i0, i0 + R) and NP columns over one k-block, as dot products along k
// of A rows with B columns copied k-contiguous to bt ([NP][kb]): R * NP accumulators of W lanes
// of k, summed at the end (bias before the first k-block, activation after the last).
template <class V, int R, int NP, Activation A>
static inline void dot_rows(const kernels::GemmBlockArgs& p, const Tile& t, int64_t k0,
                            const float* bt, int64_t col0, int64_t i0) {
  using Reg = typename V::Reg;
  constexpr int W = V::kWidth;
  Reg acc[R][NP];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int q = 0; q < NP; ++q) acc[r][q] = V::zero();
  }
  const float* a = p.a + i0 * p.lda + k0;
  const auto step = [&](int64_t kk, auto masked, typename V::Mask m) {
    constexpr bool kMasked = decltype(masked)::value;
    Reg b[NP];
#pragma GCC unroll 4
    for (int q = 0; q < NP; ++q) b[q] = load_m<V, kMasked, 1>(bt + q * t.kb + kk, 0, m);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const Reg ar = load_m<V, kMasked, 1>(a + r * p.lda + kk, 0, m);
#pragma GCC unroll 4
      for (int q = 0; q < NP; ++q) acc[r][q] = V::fma(ar, b[q], acc[r][q]);
    }
  };
  int64_t kk = 0;
  for (; kk + W <= t.kb; kk += W) step(kk, std::false_type{}, typename V::Mask{});
  if (kk < t.kb) step(kk, std::true_type{}, V::tail_mask(t.kb - kk));
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int q = 0; q < NP; ++q) {
      float* c = p.c + (i0 + r) * p.ldc + col0 + q;
      const float base = t.first ? (p.bias != nullptr ? p.bias[i0 + r] : 0.0f) : *c;
      const float v = base + V::sum(acc[r][q]);
      *c = t.last ? activate<A>(v) : v;
    }
  }
}

// The NP columns of B from col0 (NP <= kMaxDotColumns) for rows [i_begin, i_end) of A, R rows at
// a time (R * NP accumulators, at least 8 in flight for the FMA latency) and one at a time at the
// end.
template <class V, int NP, Activation A>
static void dot_columns(const kernels::GemmBlockArgs& p, const Tile& t, int64_t k0,
                        const float* bt, int64_t col0, int64_t i_begin, int64_t i_end) {
  constexpr int R = NP == 1 ? 8 : NP == 2 ? 4 : NP == 3 ? 3 : 2;
  int64_t i0 = i_begin;
  for (; i0 + R <= i_end; i0 += R) dot_rows<V, R, NP, A>(p, t, k0, bt, col0, i0);
  for (; i0 < i_end; ++i0) dot_rows<V, 1, NP, A>(p, t, k0, bt, col0, i0);
}

// B rows read in place (NCHW: the activations, rows ldb floats apart; n a multiple of W), A rows,
// bias per row: per k-block, each panel's columns of B (kb rows of NR floats) are read from their
// rows once and stay in L1 while every MR rows of A multiply them, so the activations are read
// once, with no copy. Measured against copying each k-block into panels (b_rows), see
// core/pointwise.cpp.
template <class V, int kMR, Activation A>
static void b_rows_in_place(const kernels::GemmBlockArgs& p) {
  constexpr int W = V::kWidth, NR = 2 * W;
  for (int64_t k0 = 0; k0 < p.k; k0 += p.kc) {
    Tile t = k_block<V>(p, k0);
    t.ldb = p.ldb;
    for (int64_t j0 = 0; j0 < p.n; j0 += NR) {
      t.b = p.b + k0 * p.ldb + j0;
      for (int64_t i0 = 0; i0 < p.m; i0 += kMR) {
        const int64_t mr = min_i64(kMR, p.m - i0);
        t.a = p.a + i0 * p.lda + k0;
        t.bias = p.bias != nullptr ? p.bias + i0 : nullptr;
        t.c = p.c + i0 * p.ldc + j0;
        if (p.n - j0 >= NR) {
          tile_mr<V, kMR, 2, false, false, A, false, true>(mr, t);
        } else {
          tile_mr<V, kMR, 1, false, false, A, false, true>(mr, t);
        }
      }
    }
  }
}

// B rows (NCHW: the activations), A rows, bias per row. Per k-block, the kb x n block
// of B is copied into panels in the workspace (L2; each row read front to back once), then each MR
// rows of A (their k-block sliver stays in L1) are multiplied by every panel, which stream
// contiguously from L2. Measured against panels outer and A rows inner (1 / 2 threads, NCHW,
// alternating in one process): 16->96@112 1.20-1.22x / 1.16x, 24->144@56 1.09-1.11x / 1.04x,
// 32->192@28 1.03-1.08x, 64->384@14 0.98-1.06x / 1.00x, 144->24@56 1.02-1.07x, others 0.99-1.05x.
// The last n % W columns, when there are at most kMaxDotColumns of them (the 49 pixels of a 7x7
// image leave one), are dot products instead (dot_columns): a masked vector tile would broadcast
// each element of A for those few lanes, and cost as much as a whole vector of columns.
// Measured (AVX2, Zen 3, 1 thread, m 126, k 1024, µs per block, two binaries taking turns): n 48
// 216-244; n 49 260-310 with the masked tile, 209-214 with dot products; n 52 262-309 -> 229.
// Whole vectors ending in a one-vector panel after a full one (the 48 of 49 pixels on AVX-512)
// run their last NR + W columns as the three-vector kernel, as panel_tiles does: NCHW pointwise
// 7x7 960->320 1.03x, 160->960 1.03x, 576->160 1.03x, 2 threads 960->320 1.06x (AVX-512, Zen 5,
// alternating in one process); 28x28 (784 = 24 x 32 + 16) a tie.
template <class V, int kMR, Activation A>
static void b_rows(const kernels::GemmBlockArgs& p) {
  constexpr int W = V::kWidth, NR = 2 * W;
  constexpr int64_t kMaxDotColumns = 4;
  const int64_t dot_cols = p.n % W <= kMaxDotColumns ? p.n % W : 0;
  const int64_t n_vec = p.n - dot_cols;  // columns in whole or masked vectors
  constexpr int kMR3 = three_vector_rows<V, kMR>();
  const bool three = n_vec % NR == W && n_vec > NR;
  const int64_t n_two = three ? n_vec - NR - W : n_vec;
  const int64_t group = three ? std::lcm(kMR, kMR3) : kMR;
  for (int64_t k0 = 0; k0 < p.k; k0 += p.kc) {
    Tile t = k_block<V>(p, k0);
    pack_b_rows<V>(p.b + k0 * p.ldb, p.ldb, t.kb, n_vec, p.workspace);
    // The dot columns, k-contiguous after the panels of the n_vec columns (n_vec * kb floats,
    // n_vec a multiple of W).
    float* const bt = p.workspace + n_vec * t.kb;
    if (dot_cols > 0) {
      const float* columns = p.b + k0 * p.ldb + n_vec;
      for (int64_t q = 0; q < dot_cols; ++q) {
        for (int64_t kk = 0; kk < t.kb; ++kk) bt[q * t.kb + kk] = columns[kk * p.ldb + q];
      }
    }
    for (int64_t g0 = 0; g0 < p.m; g0 += group) {
      const int64_t g1 = min_i64(p.m, g0 + group);
      for (int64_t i0 = g0; i0 < g1; i0 += kMR) {
        t.a = p.a + i0 * p.lda + k0;
        t.bias = p.bias != nullptr ? p.bias + i0 : nullptr;
        for (int64_t j0 = 0; j0 < n_two; j0 += NR) {
          t.b = p.workspace + j0 * t.kb;
          t.c = p.c + i0 * p.ldc + j0;
          tile_mn<V, kMR, false, A>(min_i64(kMR, g1 - i0), min_i64(NR, n_two - j0), t);
        }
      }
      for (int64_t i0 = g0; three && i0 < g1; i0 += kMR3) {
        t.a = p.a + i0 * p.lda + k0;
        t.bias = p.bias != nullptr ? p.bias + i0 : nullptr;
        t.b = p.workspace + n_two * t.kb;
        t.b_narrow = p.workspace + (n_two + NR) * t.kb;
        t.c = p.c + i0 * p.ldc + n_two;
        tile_mr<V, kMR3, 3, false, false, A>(min_i64(kMR3, g1 - i0), t);
      }
      // The dot columns of the group's rows, while the tiles left their k-block sliver of A in
      // L1: in a pass of their own over all rows, each load of A waited on L3 where the weights
      // exceed L2 (AVX-512, Zen 5, 1 thread, NCHW 7x7 960->320: 15 of 138 µs in that pass).
      switch (dot_cols) {
        case 0: break;
        case 1: dot_columns<V, 1, A>(p, t, k0, bt, n_vec, g0, g1); break;
        case 2: dot_columns<V, 2, A>(p, t, k0, bt, n_vec, g0, g1); break;
        case 3: dot_columns<V, 3, A>(p, t, k0, bt, n_vec, g0, g1); break;
        default: dot_columns<V, 4, A>(p, t, k0, bt, n_vec, g0, g1); break;
      }
    }
  }
}

// Implicit GEMM (kernels.h: GemmTapsArgs): the rows_panels loop per k-block, where a k-block is
// (part of) one tap and its A rows are the input pixels that tap reads, in place. Taps reading only
// padding are skipped; bias enters at the first k-block run and the activation after the last.
template <class V, int kMR, Activation A>
static void taps_panels(const kernels::GemmTapsArgs& p) {
  constexpr int W = V::kWidth, NR = 2 * W;
  const int64_t panel_stride = NR * (p.taps * p.tap_depth + 1);
  int64_t first_tap = -1, last_tap = -1;
  for (int64_t tap = 0; tap < p.taps; ++tap) {
    if (p.a_taps[tap] == nullptr) continue;
    if (first_tap < 0) first_tap = tap;
    last_tap = tap;
  }
  Tile t;
  t.ldc = p.ldc;
  t.n_tail = W;
  // One k-block (depth kb at k0 of B) of A rows a, lda apart, over the whole C block.
  auto block = [&](const float* a, int64_t lda, int64_t k0, int64_t kb, bool first, bool last) {
    t.lda = lda;
    t.kb = kb;
    t.first = first;
    t.last = last;
    panel_tiles<V, kMR, A, false>(t, a, p.c, p.m, p.n, p.b, panel_stride, k0,
                           [](int64_t, int64_t, int64_t) {}, [] {});
  };
  if (first_tap < 0) {  // all padding: C = act(bias); A is never read
    block(p.b, 0, 0, 0, true, true);
    return;
  }
  for (int64_t tap = first_tap; tap <= last_tap; ++tap) {
    const float* a = p.a_taps[tap];
    if (a == nullptr) continue;
    for (int64_t d0 = 0; d0 < p.tap_depth; d0 += p.kc) {
      const int64_t kb = min_i64(p.kc, p.tap_depth - d0);
      block(a + d0, p.lda, tap * p.tap_depth + d0, kb, tap == first_tap && d0 == 0,
            tap == last_tap && d0 + kb == p.tap_depth);
    }
  }
}

template <class V, int kMR>
static inline void run_taps_panels(const kernels::GemmTapsArgs& p) {
  with_activation(p.activation, [&](auto tag) { taps_panels<V, kMR, decltype(tag)::value>(p); });
}
template <class V, int kMR>
static inline void run_rows_panels(const kernels::GemmBlockArgs& p) {
  with_activation(p.activation,
                  [&](auto tag) { rows_panels<V, kMR, decltype(tag)::value, false>(p); });
}
template <class V, int kMR>
static inline void run_columns_panels(const kernels::GemmBlockArgs& p) {
  with_activation(p.activation,
                  [&](auto tag) { rows_panels<V, kMR, decltype(tag)::value, true>(p); });
}
template <class V, int kMR>
static inline void run_rows_rows(const kernels::GemmBlockArgs& p) {
  with_activation(p.activation, [&](auto tag) {
    if (p.workspace == nullptr) {
      b_rows_in_place<V, kMR, decltype(tag)::value>(p);
    } else {
      b_rows<V, kMR, decltype(tag)::value>(p);
    }
  });
}

}  // namespace gemm_simd
}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
