// Depthwise convolution, NCHW, 3x3, stride 2, dilation 1, at most one column of padding on the
// left: whole planes or bands of their rows. Written against a vector type V with even / odd lane
// splits and alignr (vec-avx512.h) and instantiated by dwconv-nchw-3x3s2-rows-<isa>.cpp.
//
// A pass computes kRows output rows from their 2 * kRows + 1 input rows, walking the rows' vectors
// left to right once. The 2 * kWidth input columns from column 2 * ow + 1 - pad_left of an output
// vector at ow load as two whole vectors (aligned when the row is and pad_left is 1); their even
// lanes are the inputs of kernel column 1, their odd lanes those of column 2, and column 0 is the
// odd lanes shifted by one, the first from the previous vector's last (one VALIGND): each input is
// loaded once, with two lane permutes and one VALIGND per input row and output vector, and the
// middle input row of two output rows is loaded for both. The columns past the row's end load as
// zeros through lane masks (the right padding), as do the rows outside the band (the padding above
// and below); a pass whose rows all lie inside loads without masks. Rows off a cache line cost
// more: C96@112 16 bytes past a line took 112 µs against 85 on one (every load splits two lines;
// shifting the output vectors so that the loads fall on whole vectors, and the stores split
// instead, did not help: 111-112).
// The per-row kernel (dwconv-nchw-simd.h) loads every tap's pair of vectors at its own column,
// mostly across two cache lines (a load that splits lines costs twice an aligned one on AMD Zen 5),
// and runs the border columns down the plane before its interior. Measured against it (AVX-512,
// AMD Zen 5, 1 thread, batch 1 unless said, µs, old and new library in separate runs): C96@112
// 159-161 -> 88-90 (NHWC 75), C144@56 56 -> 39-41, C192@28 23.2 -> 14.1, C384@28 50 -> 32,
// C384@48 130 -> 89; batch 8 C96@112 3353 -> 1655.
// Input streamed from memory (the caller's prefetch flag): each pass prefetches the rows of the
// next, which the hardware prefetchers do not follow in this order (a vector from each of the
// pass's 9 rows in turn, the rows width floats apart). Measured on a prototype (batch 8 C96@112):
// 2764 -> 1250-1355 µs; from L3 it lost (batch 1 C96@112 90-104 -> 108-110, 2 threads 55-57 ->
// 70-86).
// On AMD Zen 5 the lane permutes (VPERMT2PS) issue on the FMA pipes; in-lane shuffles do not, but
// the even/odd split in pair order through VSHUFPS needed the same permutes to shift column 0 and
// to put the outputs back in order, and was no faster (prototype, C1@112 0.88 against 0.82 µs);
// taking column 0 from loads one column to the left instead, split in pair order, made the kernel
// load-bound (1.30 against 1.05). 4 output rows per pass against 2: C96@112 94-101 against 120-142.
#pragma once

#include <cstdint>

#include "kernels/dwconv/dwconv-nchw-planes-simd.h"
#include "kernels/prefetch.h"
#include "kernels/simd/activation-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace dwconv_nchw_3x3s2_rows {

constexpr int kRows = 4;  // output rows per pass: 4 accumulators, 9 weights, 9 carried vectors

// One plane's pass of R output rows from output row `oh` (input rows ih0 .. ih0 + 2R).
struct Pass {
  const float* x;  // the plane's input rows [0, in_rows)
  float* y;        // the plane's output row oh
  int64_t ih0;
};

// The geometry of every plane of a call, and the prefetch of each pass's next rows.
struct Rows {
  int64_t in_rows, in_w, out_w, pad_left;
  int64_t main_vectors;  // output vectors whose input vectors and outputs lie inside their rows
  int64_t vectors;       // output vectors per row
  bool prefetch;
};

template <class V, int R>
using Carried = typename V::Reg[2 * R + 1];

// Kernel rows of the input row t of a pass into its R accumulators: the inputs of kernel columns
// 0, 1, 2 of an output vector are `left`, `even` and `odd`.
template <class V, int R>
__attribute__((always_inline)) static inline void accumulate(
    typename V::Reg (&acc)[R], int t, typename V::Reg left, typename V::Reg even,
    typename V::Reg odd, const typename V::Reg (&w)[9]) {
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const int kh = t - 2 * r;
    if (kh < 0 || kh > 2) continue;
    acc[r] = V::fma(left, w[3 * kh], acc[r]);
    acc[r] = V::fma(even, w[3 * kh + 1], acc[r]);
    acc[r] = V::fma(odd, w[3 * kh + 2], acc[r]);
  }
}

// Output vector j of the pass's R rows. Masked: its loads through lanes of the row (and rows
// inside), its stores through the lanes before out_w.
template <class V, int R, bool Masked, Activation A>
__attribute__((always_inline)) static inline void vector(
    const Rows& g, const float* const (&row)[2 * R + 1],
    const typename V::Mask (&inside)[2 * R + 1], int64_t j, Carried<V, R>& odd_before,
    const typename V::Reg (&w)[9], typename V::Reg bias, float* y) {
  using Reg = typename V::Reg;
  constexpr int L = V::kWidth;
  const int64_t col = 2 * L * j + 1 - g.pad_left;
  typename V::Mask lo{}, hi{};
  if constexpr (Masked) {
    lo = V::range_mask(-col, g.in_w - col);
    hi = V::range_mask(-col - L, g.in_w - col - L);
  }
  Reg acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = bias;
#pragma GCC unroll 17
  for (int t = 0; t < 2 * R + 1; ++t) {
    Reg a, b;
    if constexpr (Masked) {
      a = V::load(row[t] + col, lo & inside[t]);
      b = V::load(row[t] + col + L, hi & inside[t]);
    } else {
      a = V::load(row[t] + col);
      b = V::load(row[t] + col + L);
    }
    const Reg odd = V::odd(a, b);
    accumulate<V, R>(acc, t, V::template alignr<L - 1>(odd, odd_before[t]), V::even(a, b), odd,
                     w);
    odd_before[t] = odd;
  }
  const int64_t ow = L * j;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const Reg v = vactivate<V, A>(acc[r]);
    if constexpr (Masked) {
      V::store_first(y + r * g.out_w + ow, v, min_i64(L, g.out_w - ow));
    } else {
      V::store(y + r * g.out_w + ow, v);
    }
  }
}

// R output rows. RowsInside: every input row of the pass lies in [0, in_rows).
template <class V, int R, bool RowsInside, Activation A>
static inline void pass(const Rows& g, const Pass& p, const typename V::Reg (&w)[9],
                        typename V::Reg bias) {
  constexpr int L = V::kWidth;
  const float* row[2 * R + 1];
  typename V::Mask inside[2 * R + 1];
  Carried<V, R> odd_before;
#pragma GCC unroll 17
  for (int t = 0; t < 2 * R + 1; ++t) {
    const int64_t ih = p.ih0 + t;
    const bool in = RowsInside || (ih >= 0 && ih < g.in_rows);
    row[t] = p.x + (in ? ih : 0) * g.in_w;  // a row outside loads nothing through its mask
    inside[t] = in ? V::all_lanes() : typename V::Mask(0);
    // The odd lanes before the first vector: its last lane is column -pad_left.
    const typename V::Mask last_lane = inside[t] & (1u << (L - 1));
    odd_before[t] = g.pad_left == 0 ? V::load(beside(row[t], -(L - 1)), last_lane) : V::zero();
  }
  // The rows the next pass reads beyond this one's, in address order (the next plane's first
  // rows after a plane's last pass, when planes follow each other).
  RowsAhead<false> next(beside(p.x, (p.ih0 + 2 * R + 1) * g.in_w), 2 * R * g.in_w, 2 * R * g.in_w,
                        g.prefetch ? 1 : 0, g.vectors);
  int64_t j = 0;
  for (; j < g.main_vectors; ++j) {
    next.step();
    if constexpr (RowsInside) {
      vector<V, R, false, A>(g, row, inside, j, odd_before, w, bias, p.y);
    } else {
      vector<V, R, true, A>(g, row, inside, j, odd_before, w, bias, p.y);
    }
  }
  for (; j < g.vectors; ++j) {
    next.step();
    vector<V, R, true, A>(g, row, inside, j, odd_before, w, bias, p.y);
  }
}

// Output rows [0, out_rows) of one plane: passes of kRows rows, then 2 and 1 for the rest; the
// passes whose input rows reach outside [0, in_rows) load through row masks.
template <class V, int R, Activation A>
static inline void rows(const Rows& g, const float* x, float* y, int64_t oh, int64_t out_rows,
                        int64_t pad_top, const typename V::Reg (&w)[9], typename V::Reg bias) {
  for (; oh + R <= out_rows; oh += R) {
    const Pass p{x, y + oh * g.out_w, 2 * oh - pad_top};
    if (p.ih0 >= 0 && p.ih0 + 2 * R < g.in_rows) {
      pass<V, R, true, A>(g, p, w, bias);
    } else {
      pass<V, R, false, A>(g, p, w, bias);
    }
  }
  if constexpr (R > 1) rows<V, R / 2, A>(g, x, y, oh, out_rows, pad_top, w, bias);
}

template <class V>
void run(const kernels::DwconvNchw3x3s2Args& a) {
  constexpr int L = V::kWidth;
  Rows g{a.in_rows, a.in_w, a.out_w, a.pad_left, 0, (a.out_w + L - 1) / L, a.prefetch};
  // Vector j's loads end at column 2 * L * (j + 1) + 1 - pad_left.
  const int64_t loadable = (a.in_w - 1 + a.pad_left) / (2 * L);
  g.main_vectors = min_i64(loadable, a.out_w / L);
  with_activation(a.activation, [&](auto tag) {
    constexpr Activation A = decltype(tag)::value;
    for_each_plane<V, 9>(a, [&](const float* x, float* y, const auto& w, auto bias) {
      rows<V, kRows, A>(g, x, y, 0, a.out_rows, a.pad_top, w, bias);
    });
  });
}

}  // namespace dwconv_nchw_3x3s2_rows
}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
