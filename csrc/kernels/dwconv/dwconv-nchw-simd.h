// Depthwise convolution, NCHW: one output plane per call (so any depth multiplier), written once
// against a vector type V (vec-avx2.h, vec-avx512.h) and instantiated per ISA by
// dwconv-nchw-<isa>.cpp. No channel interleave: vectors run along the output width.
//
// A block is R output rows x B vectors of V::kWidth output columns, in R*B accumulators.
//  - Square 3x3, 5x5, 7x7 kernels with stride 1 or 2 and dilation 1 (everything known at compile
//    time): the (R-1)*S+K input rows of a block are loaded once per kernel column and each vector
//    feeds every output row that reads it, so 3x3 s1 with R = 4, B = 1 needs 0.5 loads per FMA.
//    The K*K weights are broadcast once per plane onto the stack, and the FMAs read them as
//    memory operands (objdump: GCC did so for 3x3 too, where 9 weights + 4 accumulators + 1
//    input would fit AVX2's 16 registers), which made 3x3 s1 load-bound at about one FMA per
//    cycle even on a plane in L1 (C1@112: 44-57 GFLOP/s). With the blocks inlined into the row
//    passes (always_inline; GCC had kept them out of line) and a copy of the 9 weights per pass,
//    78 of the 3x3 s1 plane's 261 FMAs take no memory operand: 3x3 s1 C32@112, C16@112,
//    C144@56, C64@56 1.15-1.21x, C96@32 1.12x, batch 8 on 2 threads 1.17x; s2 C96@112 and
//    C144@56 1.07-1.10x; 5x5 and 7x7 0.99-1.02x (1 thread unless said, alternating in one process
//    against the out-of-line blocks). More accumulators did not help; measured against R = 4 x
//    B = 1 (1 thread, alternating in one process, C1@112 / C32@112 / C1@56 / C144@56, two runs
//    where two ranges): R = 6 0.97-1.11 / 0.97-1.10 / 0.86 / 0.97-1.02, R = 8 1.05 / 0.99-1.02 /
//    0.89 / 0.96-1.01, R = 4 x B = 2 1.00 / 1.04-1.11 / 0.89 / 0.89-0.96, 4 x 3 0.92 / 0.91 /
//    0.83 / 0.93, 2 x 3 0.68-0.75, 2 x 4 0.75-0.91.
//    5x5 and 7x7 (R = 2, B = 4) share each weight operand between the B vectors.
//    Stride 2 loads two vectors per pair of kernel columns and splits even and odd lanes.
//  - Any other kernel, stride or dilation: R = 2, B = 4 (8 accumulators cover the FMA latency),
//    every tap's weight broadcast once for all of them; stride 1 and 2 load contiguous vectors,
//    larger strides gather.
// Borders without a padded copy: input rows outside the image are skipped; a block whose taps
// reach outside the row loads through per-tap lane masks, computed once per plane for each border
// column group, or (3x3 s1 on AVX-512, rows with a row above and below) loads whole vectors and
// masks its FMAs; the last vector of a row stores only its lanes before out_w. Copying the rows
// with their padding into a scratch of line-aligned rows instead (every block interior, every
// load whole lines) lost: the copy cost ~2.5 cycles per vector, as much as it saved (3x3 C32@112
// 0.85x, C144@56 1.0x). Bias and activation are applied in registers.
#pragma once

#include <array>
#include <cstdint>
#include <type_traits>

#include "kernels/simd/activation-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace dwconv_nchw {

struct Plane {
  const float* x;  // input plane (in_h, in_w)
  const float* w;  // (kernel_h, kernel_w)
  float bias;
  float* y;        // output plane (out_h, out_w)
  int64_t in_h, in_w, out_w;
  int64_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  int64_t pad_top, pad_left;
};

// The lane masks of one tap vector of a border block: its load (stride 2: its two loads) keeps the
// input columns inside [0, in_w). Computed once per block and kernel column, reused by every row.
template <class V, int S>
struct Lanes {
  typename V::Mask m[S == 2 ? 2 : 1];
};

// For the vector whose lane j reads column col + j * stride (S: the stride if known, else 0).
template <class V, int S>
static inline Lanes<V, S> lanes_inside(int64_t col, int64_t stride, int64_t in_w) {
  constexpr int W = V::kWidth;
  Lanes<V, S> l;
  if constexpr (S == 0) {
    int64_t lo, hi;
    valid_outputs(col, stride, in_w, W, &lo, &hi);
    l.m[0] = V::range_mask(lo, hi);
  } else {
    l.m[0] = V::range_mask(-col, in_w - col);
    if constexpr (S == 2) l.m[1] = V::range_mask(-col - W, in_w - col - W);
  }
  return l;
}

// Stride 2: the two vectors from column col, whose even and odd lanes are the input columns of two
// neighbouring kernel columns.
template <class V, bool Edge>
static inline void load_pair(const float* row, int64_t col, const Lanes<V, 2>& l,
                             typename V::Reg* lo, typename V::Reg* hi) {
  constexpr int W = V::kWidth;
  if constexpr (Edge) {
    *lo = V::load(beside(row, col), l.m[0]);
    *hi = V::load(beside(row, col + W), l.m[1]);
  } else {
    *lo = V::load(row + col);
    *hi = V::load(row + col + W);
  }
}

// Lanes j: row[col + j * stride]. S = 1 or 2 is the stride known at compile time (stride 2 in
// V's pair order, see from_pair_order), S = 0 any stride (a gather).
template <class V, int S, bool Edge>
static inline typename V::Reg load_tap(const float* row, int64_t col, int64_t stride,
                                       const Lanes<V, S>& l) {
  if constexpr (S == 1) {
    return Edge ? V::load(beside(row, col), l.m[0]) : V::load(row + col);
  } else if constexpr (S == 2) {
    typename V::Reg lo, hi;
    load_pair<V, Edge>(row, col, l, &lo, &hi);
    return V::even(lo, hi);
  } else {
    return Edge ? V::gather(beside(row, col), stride, l.m[0])
                : V::gather(row + col, stride, V::all_lanes());
  }
}

// R*B accumulators to outputs (oh .. oh+R-1, ow0 + b*W ..), stride-2 blocks back in natural order.
// A border block may run past out_w: only the lanes before out_w of its last vector are stored.
// y: output (oh, ow0); tail: outputs from ow0 to the end of the row.
template <class V, int S, int R, int B, bool Edge, Activation A>
static inline void store_block(typename V::Reg (&acc)[R][B], float* y, int64_t out_w,
                               int64_t tail) {
  constexpr int W = V::kWidth;
#pragma GCC unroll 8
  for (int b = 0; b < B; ++b) {
    const int64_t left = Edge ? tail - b * W : W;
    if (Edge && left <= 0) break;
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      typename V::Reg v = acc[r][b];
      if constexpr (S == 2) v = V::from_pair_order(v);
      v = vactivate<V, A>(v);
      if (Edge && left < W) {
        V::store_first(y + r * out_w + b * W, v, left);
      } else {
        V::store(y + r * out_w + b * W, v);
      }
    }
  }
}

// The K*K weights of a square kernel, broadcast once per row pass; the compiler keeps the broadcast
// vectors on the stack and the FMAs read them as memory operands at fixed offsets.
template <class V, int K>
struct SquareWeights {
  explicit SquareWeights(const float* w) {
#pragma GCC unroll 49
    for (int i = 0; i < K * K; ++i) reg[i] = V::broadcast(w + i);
  }
  typename V::Reg reg[K * K];
};

// Block of a square KxK kernel, stride S, dilation 1. Input row t of the block (t < (R-1)*S + K)
// meets output row r at kernel row t - r*S; the loops below unroll completely, so those tests
// vanish and only the row-inside-image test (row padding: skip the row) runs, unless the caller
// knows every row is inside (RowsInside).
// Stride 1: vector b of kernel column kw starts at column (ow0 + b*W) - pad_left + kw. Stride 2:
// kernel columns 2q and 2q+1 are the even and odd lanes of the pair from 2*(ow0 + b*W) - pad_left
// + 2q. A border block's lanes are lanes[b * kSquareVectors<K, S> + v] for that vector v.
template <int K, int S>
constexpr int kSquareVectors = S == 1 ? K : (K + 1) / 2;

// Lanes n .. n + W - 1 of the 2W floats lo:hi, 0 <= n < W. n is a constant once the caller's
// loops have unrolled, and the tests fold to one V::alignr.
template <class V, int N = 1>
__attribute__((always_inline)) static inline typename V::Reg lanes_from(typename V::Reg lo,
                                                                      typename V::Reg hi, int n) {
  if constexpr (N < V::kWidth) {
    if (n == 0) return lo;
    if (n == N) return V::template alignr<N>(hi, lo);
    return lanes_from<V, N + 1>(lo, hi, n);
  } else {
    return lo;
  }
}

template <class V, int K, int S, int R, int B, bool Edge, bool RowsInside, int Pad, Activation A,
          bool Cols = false>
__attribute__((always_inline)) static inline void block_square(
    const Plane& p, const SquareWeights<V, K>& w, const Lanes<V, S>* lanes, int64_t oh,
    int64_t ow0, const typename V::Mask* cols = nullptr) {
  using Reg = typename V::Reg;
  constexpr int W = V::kWidth;
  constexpr int kInputRows = (R - 1) * S + K;
  Reg acc[R][B];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) acc[r][b] = V::set1(p.bias);
  }
  // Fields in locals: the output stores cannot alias them, so they stay in registers.
  const int64_t in_h = p.in_h, in_w = p.in_w, out_w = p.out_w;
  const int64_t ih0 = oh * S - p.pad_top;
  const int64_t col0 = ow0 * S - p.pad_left;
  float* const y = p.y + oh * out_w + ow0;
  // An interior block addresses its loads from the row's first column (constant offsets).
  const float* const x = Edge ? p.x : beside(p.x, col0);
  typename V::Mask col_mask[Cols ? B * K : 1];
  if constexpr (Cols) {
#pragma GCC unroll 32
    for (int i = 0; i < B * K; ++i) col_mask[i] = cols[i];
  }
  const int64_t col = Edge ? col0 : 0;
  constexpr int kVectors = kSquareVectors<K, S>;
  const Lanes<V, S> none{};
#pragma GCC unroll 32
  for (int t = 0; t < kInputRows; ++t) {
    const int64_t ih = ih0 + t;
    if (!RowsInside && (ih < 0 || ih >= in_h)) continue;  // row padding
    const float* row = x + ih * in_w;
    // Pad >= 0: v[j] is the vector at output column ow0 + (j - 1) * W (the one before only if a
    // tap reaches left of ow0, the one after only if a tap reaches right); on a border block
    // loaded through lanes[j], which zero its columns outside the row (the padding).
    Reg v[B + 2];
    if constexpr (Pad >= 0) {
#pragma GCC unroll 8
      for (int j = 0; j < B + 2; ++j) {
        if ((j == 0 && Pad == 0) || (j == B + 1 && Pad == K - 1)) continue;
        if constexpr (Edge) {
          v[j] = V::load(beside(row, col + Pad + (j - 1) * W), lanes[j].m[0]);
        } else {
          v[j] = V::load(row + Pad + (j - 1) * W);
        }
      }
    }
#pragma GCC unroll 8
    for (int kw = 0; kw < K; ++kw) {
      Reg xv[B];
#pragma GCC unroll 8
      for (int b = 0; b < B; ++b) {
        if constexpr (Pad >= 0) {
          const int d = kw - Pad;  // tap kw of output lane l reads column ow0 + b * W + l + d
          xv[b] = d < 0 ? lanes_from<V>(v[b], v[b + 1], W + d)
                        : lanes_from<V>(v[b + 1], v[b + 2], d);
        } else if constexpr (S == 1) {
          xv[b] = load_tap<V, 1, Edge>(row, col + b * W + kw, 1,
                                       Edge ? lanes[b * kVectors + kw] : none);
        } else {
          Reg lo, hi;
          load_pair<V, Edge>(row, col + 2 * b * W + kw - kw % 2,
                             Edge ? lanes[b * kVectors + kw / 2] : none, &lo, &hi);
          xv[b] = kw % 2 == 0 ? V::even(lo, hi) : V::odd(lo, hi);
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const int kh = t - r * S;
        if (kh < 0 || kh >= K) continue;
        const Reg wk = w.reg[kh * K + kw];
#pragma GCC unroll 8
        for (int b = 0; b < B; ++b) {
          acc[r][b] = Cols ? V::fma(xv[b], wk, acc[r][b], col_mask[b * K + kw])
                           : V::fma(xv[b], wk, acc[r][b]);
        }
      }
    }
  }
  store_block<V, S, R, B, Edge || Cols, A>(acc, y, out_w, out_w - ow0);
}

// Block of any kernel, stride and dilation: every tap's weight is broadcast once for all R*B
// accumulators. Kernel columns outermost so that a border block's lane masks are computed once
// per column; a column with no lane inside the row is skipped.
template <class V, int S, int R, int B, bool Edge, Activation A>
static inline void block_any(const Plane& p, int64_t oh, int64_t ow0) {
  using Reg = typename V::Reg;
  constexpr int W = V::kWidth;
  Reg acc[R][B];
  // Kernel rows inside the image per output row (row padding), and their union.
  int64_t kh_lo[R], kh_hi[R], ih0[R];
  int64_t kh_begin = p.kernel_h, kh_end = 0;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int b = 0; b < B; ++b) acc[r][b] = V::set1(p.bias);
    ih0[r] = (oh + r) * p.stride_h - p.pad_top;
    valid_outputs(ih0[r], p.dilation_h, p.in_h, p.kernel_h, &kh_lo[r], &kh_hi[r]);
    kh_begin = min_i64(kh_begin, kh_lo[r]);
    kh_end = max_i64(kh_end, kh_hi[r]);
  }
  const int64_t sw = S == 0 ? p.stride_w : S;
  for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
    const int64_t col = ow0 * sw + kw * p.dilation_w - p.pad_left;
    Lanes<V, S> lanes[B];
    if constexpr (Edge) {
      int64_t lo, hi;
      valid_outputs(col, sw, p.in_w, B * W, &lo, &hi);
      if (lo >= hi) continue;
#pragma GCC unroll 8
      for (int b = 0; b < B; ++b) lanes[b] = lanes_inside<V, S>(col + b * W * sw, sw, p.in_w);
    }
    for (int64_t kh = kh_begin; kh < kh_end; ++kh) {
      const Reg wk = V::broadcast(p.w + kh * p.kernel_w + kw);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        if (kh < kh_lo[r] || kh >= kh_hi[r]) continue;
        const float* row = p.x + (ih0[r] + kh * p.dilation_h) * p.in_w;
#pragma GCC unroll 8
        for (int b = 0; b < B; ++b) {
          const Reg xv = load_tap<V, S, Edge>(row, col + b * W * sw, sw, lanes[b]);
          acc[r][b] = V::fma(xv, wk, acc[r][b]);
        }
      }
    }
  }
  store_block<V, S == 2 ? 2 : 1, R, B, Edge, A>(acc, p.y + oh * p.out_w + ow0, p.out_w,
                                               p.out_w - ow0);
}

// Rows [begin, end) in passes of R rows, then R/2, ..., 1 for the remainder.
template <int R, class Pass>
static inline void row_passes(int64_t begin, int64_t end, Pass&& pass) {
  int64_t oh = begin;
  for (; oh + R <= end; oh += R) pass(std::integral_constant<int, R>{}, oh);
  if constexpr (R > 1) row_passes<R / 2>(oh, end, pass);
}

// As row_passes, with the rows whose kernel rows all lie inside the image, [inside_lo, inside_hi),
// passed as pass(std::true_type, rows, oh) and the rows above and below as std::false_type.
template <int R, class Pass>
static inline void row_passes_split(int64_t begin, int64_t end, int64_t inside_lo,
                                    int64_t inside_hi, Pass&& pass) {
  const int64_t lo = max_i64(begin, min_i64(inside_lo, end));
  const int64_t hi = max_i64(lo, min_i64(inside_hi, end));
  const auto checked = [&](auto rows, int64_t oh) { pass(std::false_type{}, rows, oh); };
  row_passes<R>(begin, lo, checked);
  row_passes<R>(lo, hi, [&](auto rows, int64_t oh) { pass(std::true_type{}, rows, oh); });
  row_passes<R>(hi, end, checked);
}

// Splits the output row into vectors of W: the interior vectors (every tap of every lane inside
// [lo, hi)) go to clean(ow_begin, ow_end), the border ones, in groups of up to B, to
// border(vectors, ow) (vectors a std::integral_constant). A row with fewer than B interior vectors
// is one border span, so that a narrow image still fills B vectors (5x5 at width 28, 31x31 at 32:
// one group of 4).
template <class V, int B, class Border, class Clean>
static inline void split_columns(int64_t out_w, int64_t lo, int64_t hi, Border&& border,
                                 Clean&& clean) {
  constexpr int W = V::kWidth;
  const int64_t vectors = (out_w + W - 1) / W;
  int64_t clean_begin = (lo + W - 1) / W, clean_end = min_i64(hi / W, vectors);
  if (clean_end - clean_begin < B) clean_begin = clean_end = vectors;
  const auto border_span = [&](int64_t v, int64_t end) {
    for (; v + B <= end; v += B) border(std::integral_constant<int, B>{}, v * W);
    if constexpr (B > 1) {
      for (; v < end; ++v) border(std::integral_constant<int, 1>{}, v * W);
    }
  };
  border_span(0, clean_begin);
  if (clean_begin < clean_end) clean(clean_begin * W, clean_end * W);
  border_span(clean_end, vectors);
}

// Interior columns [ow_begin, ow_end) of one pass: blocks of B vectors, then single vectors.
template <class V, int B, class Block>
static inline void clean_blocks(int64_t ow_begin, int64_t ow_end, Block&& block) {
  constexpr int W = V::kWidth;
  int64_t ow = ow_begin;
  for (; ow + B * W <= ow_end; ow += B * W) block(std::integral_constant<int, B>{}, ow);
  if constexpr (B > 1) {
    for (; ow < ow_end; ow += W) block(std::integral_constant<int, 1>{}, ow);
  }
}

// A border column group runs down every row of the band before the next group, so its lane masks
// are computed once per plane; interior columns run row pass by row pass, so the input rows of a
// pass stay in L1 for the next one.
// Stride 1 with "same" padding on AVX-512: interior blocks load each input row at whole vectors
// from the block's first output column (its B vectors, the one before, and the one after if that
// ends inside the row; else the block loads as before) and cut every tap's vector from two of
// them (lanes_from, one VALIGND) instead of loading it at its shifted column: a 16-float load at
// a column not a multiple of 16 splits across two cache lines. 1 thread, batch 1, alternating in
// one process: 3x3 s1 C32@112 1.22x, C16@100 1.21x, C16@64 1.14x, C144@56 and C64@56 1.07x,
// C192@28 1.00x; 5x5 C16@112 1.23x, C16@56 1.00x. Not on AVX2, where an 8-float load splits half
// as often and the cut takes two shuffles (VPERM2F128 + VPALIGNR): 0.94-0.96x.
template <class V>
constexpr bool kAlignedTaps = V::kWidth == 16;
// Blocks whose input vectors reach past the row take the same path with those vectors loaded
// through lane masks (the columns outside the row are the padding's zeros), for the kernel sizes
// measured. Against per-tap masked loads there (AVX-512, 1 thread, batch 1, old and new library
// in separate runs, µs): 3x3 C32@112 71.4-74.4 -> 66.1-67.0, C64@56 51.3-53.8 -> 45.7-46.1,
// C144@56 115-116 -> 108, C16@64 13.0 -> 11.3-11.8, C64@48 31.3-31.5 -> 26.6-27.0; 5x5 C96@56
// 140-141 -> 89-92, C16@112 80-81 -> 72. 7x7 reaches this kernel only with a depth multiplier
// (multiplier 1 runs on interleaved tiles) and keeps the per-tap loads.
constexpr int kMaxMaskedAlignedTaps = 5;

template <class V, int K, int S, int R, int B, Activation A>
static inline void plane_square(const Plane& p, int64_t oh_begin, int64_t oh_end) {
  constexpr int W = V::kWidth;
  constexpr int kVectors = kSquareVectors<K, S>;
  int64_t lo, hi;
  valid_outputs(-p.pad_left, S, p.in_w - (K - 1), p.out_w, &lo, &hi);
  const SquareWeights<V, K> w(p.w);
  constexpr int kPad = (K - 1) / 2;
  const bool same = p.pad_left == kPad;
  // The aligned taps' BB + 2 input vectors of a block from output column ow, their columns
  // outside the row masked off.
  const auto pad_lanes = [&](auto vectors, int64_t ow) {
    std::array<Lanes<V, S>, decltype(vectors)::value + 2> lanes;
#pragma GCC unroll 8
    for (int j = 0; j < int(lanes.size()); ++j) {
      lanes[j] = lanes_inside<V, S>(ow + (j - 1) * W, 1, p.in_w);
    }
    return lanes;
  };
  // Whether the rows of a pass of `rows` rows from output row oh have a row above and below
  // them, so that vectors loaded past either end of a row are inside the plane. A border vector
  // in such a pass loads whole vectors as in the interior and drops the taps outside the row by
  // masked FMAs (one mask per kernel column), instead of loading through lane masks. Measured
  // (AVX-512, AMD Zen 5, 1 thread, batch 1, 3x3 s1, old and new library in separate runs, µs):
  // C144@56 114-162 -> 92-131, C64@56 49-62 -> 42-54, C64@64 47-48 -> 42, C24@120 68-71 -> 61-68,
  // C32@112 71-88 -> 81-83 (noisy), C1@112 1.9-2.0 -> 1.8.
  const auto loadable = [&](int64_t oh, int64_t rows) {
    const int64_t ih0 = oh * S - p.pad_top;
    return ih0 >= 1 && ih0 + (rows - 1) * S + K < p.in_h;
  };
  const auto border = [&](auto vectors, int64_t ow) {
    constexpr int BB = decltype(vectors)::value;
    // Tap kw of vector b: its lanes whose input column is inside the row; usable if the columns
    // its whole-vector loads reach lie in its row and the rows above and below. With one mask
    // register left for the stores. At stride 2 it was a tie (3x3 C96@112 114-136 -> 117-161 µs,
    // C144@56 59-73 -> 55-58, C192@28 23-31 -> 23-34).
    constexpr bool kColumnMasks = S == 1 && BB * K <= V::kMaskRegisters - 1;
    typename V::Mask cols[BB * K];
    bool near_row = false;
    if constexpr (kColumnMasks) {
#pragma GCC unroll 32
      for (int i = 0; i < BB * K; ++i) {
        cols[i] = lanes_inside<V, 0>(S * (ow + (i / K) * W) + i % K - p.pad_left, S, p.in_w).m[0];
      }
      near_row = S * ow - p.pad_left - W >= -p.in_w && S * (ow + BB * W) + K + W <= 2 * p.in_w;
    }
    const auto passes = [&](auto pad, const Lanes<V, S>* lanes) {
      constexpr int P = decltype(pad)::value;
      row_passes<R>(oh_begin, oh_end, [&](auto rows, int64_t oh) {
        constexpr int RR = decltype(rows)::value;
        if constexpr (kColumnMasks) {
          if (near_row && loadable(oh, RR)) {
            block_square<V, K, S, RR, BB, false, true, P, A, true>(p, w, nullptr, oh, ow, cols);
            return;
          }
        }
        block_square<V, K, S, RR, BB, true, false, P, A>(p, w, lanes, oh, ow);
      });
    };
    if constexpr (S == 1 && kAlignedTaps<V> && K <= kMaxMaskedAlignedTaps) {
      if (same) return passes(std::integral_constant<int, kPad>{}, pad_lanes(vectors, ow).data());
    }
    Lanes<V, S> lanes[BB * kVectors];
#pragma GCC unroll 8
    for (int b = 0; b < BB; ++b) {
#pragma GCC unroll 8
      for (int v = 0; v < kVectors; ++v) {
        lanes[b * kVectors + v] = lanes_inside<V, S>((ow + b * W) * S - p.pad_left + v * S, S, p.in_w);
      }
    }
    passes(std::integral_constant<int, -1>{}, lanes);
  };
  int64_t rows_lo, rows_hi;
  valid_outputs(-p.pad_top, S, p.in_h - (K - 1), oh_end, &rows_lo, &rows_hi);
  const auto clean = [&](int64_t ow_begin, int64_t ow_end) {
    row_passes_split<R>(oh_begin, oh_end, rows_lo, rows_hi, [&](auto inside, auto rows, int64_t oh) {
      const auto blocks = [&](const SquareWeights<V, K>& pass_w) {
        clean_blocks<V, B>(ow_begin, ow_end, [&](auto vectors, int64_t ow) {
          constexpr int RR = decltype(rows)::value, BB = decltype(vectors)::value;
          constexpr bool kInside = decltype(inside)::value;
          if constexpr (S == 1 && kAlignedTaps<V>) {
            // The vector after the block inside the row, or in the next one.
            if (same && (ow + (BB + 1) * W <= p.in_w || loadable(oh, RR))) {
              block_square<V, K, S, RR, BB, false, kInside, kPad, A>(p, pass_w, nullptr, oh, ow);
              return;
            }
            if constexpr (K <= kMaxMaskedAlignedTaps) {
              if (same) {  // the vector after the block ends past the row
                const auto lanes = pad_lanes(vectors, ow);
                block_square<V, K, S, RR, BB, true, kInside, kPad, A>(p, pass_w, lanes.data(),
                                                                      oh, ow);
                return;
              }
            }
          }
          block_square<V, K, S, RR, BB, false, kInside, -1, A>(p, pass_w, nullptr, oh, ow);
        });
      };
      // 3x3: each pass broadcasts its own 9 weights, local to the inlined block loop, so that
      // GCC keeps more of them in registers (see the file comment).
      if constexpr (K == 3) {
        blocks(SquareWeights<V, K>(p.w));
      } else {
        blocks(w);
      }
    });
  };
  split_columns<V, B>(p.out_w, lo, hi, border, clean);
}

template <class V, int S, Activation A>
static inline void plane_any(const Plane& p, int64_t oh_begin, int64_t oh_end) {
  // 8 accumulators hide the FMA latency; 2 rows keep them busy on narrow images (31x31 at 32).
  constexpr int R = 2, B = 4;
  const int64_t sw = S == 0 ? p.stride_w : S;
  int64_t lo, hi;
  valid_outputs(-p.pad_left, sw, p.in_w - (p.kernel_w - 1) * p.dilation_w, p.out_w, &lo, &hi);
  const auto border = [&](auto vectors, int64_t ow) {
    row_passes<R>(oh_begin, oh_end, [&](auto rows, int64_t oh) {
      block_any<V, S, decltype(rows)::value, decltype(vectors)::value, true, A>(p, oh, ow);
    });
  };
  const auto clean = [&](int64_t ow_begin, int64_t ow_end) {
    row_passes<R>(oh_begin, oh_end, [&](auto rows, int64_t oh) {
      clean_blocks<V, B>(ow_begin, ow_end, [&](auto vectors, int64_t ow) {
        block_any<V, S, decltype(rows)::value, decltype(vectors)::value, false, A>(p, oh, ow);
      });
    });
  };
  split_columns<V, B>(p.out_w, lo, hi, border, clean);
}

template <class V>
void run(const kernels::DwconvNchwArgs& a) {
  const Window& win = a.window;
  const Geometry& g = a.geometry;
  const Plane p{a.x, a.weight, a.bias, a.y, g.in_h, g.in_w, g.out_w,
                win.kernel_h, win.kernel_w, win.stride_h, win.stride_w,
                win.dilation_h, win.dilation_w, g.pad_top, g.pad_left};
  const bool square = win.kernel_h == win.kernel_w && win.stride_h == win.stride_w &&
                      win.stride_w <= 2 && win.dilation_h == 1 && win.dilation_w == 1;
  with_activation(a.activation, [&](auto tag) {
    constexpr Activation A = decltype(tag)::value;
    // Rows x vectors per block: see the register budget in the file comment.
    switch (square ? win.kernel_w * 10 + win.stride_w : 0) {
      case 31: plane_square<V, 3, 1, 4, 1, A>(p, a.oh_begin, a.oh_end); return;
      case 32: plane_square<V, 3, 2, 2, 2, A>(p, a.oh_begin, a.oh_end); return;
      case 51: plane_square<V, 5, 1, 2, 4, A>(p, a.oh_begin, a.oh_end); return;
      case 52: plane_square<V, 5, 2, 2, 2, A>(p, a.oh_begin, a.oh_end); return;
      case 71: plane_square<V, 7, 1, 2, 4, A>(p, a.oh_begin, a.oh_end); return;
      case 72: plane_square<V, 7, 2, 2, 2, A>(p, a.oh_begin, a.oh_end); return;
      default: break;
    }
    switch (win.stride_w) {
      case 1: plane_any<V, 1, A>(p, a.oh_begin, a.oh_end); break;
      case 2: plane_any<V, 2, A>(p, a.oh_begin, a.oh_end); break;
      default: plane_any<V, 0, A>(p, a.oh_begin, a.oh_end); break;
    }
  });
}

}  // namespace dwconv_nchw
}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
