// Depthwise convolution NHWC, 3x3 kernel, stride S both ways, dilation 1, multiplier 1: written
// once against a vector type V and instantiated per ISA with dwconv-nhwc-simd.h
// (dwconv-nhwc-<isa>.cpp); S = 1 and 2 (see run() in dwconv-nhwc-simd.h).
//
// R = 2 output rows x B outputs along the width per pass of one channel tile: the 9 weights stay in
// registers for a whole strip of columns, and each input vector is loaded once and used for every
// tap of both output rows it meets. Register budget (AVX2, 16): 9 weights + 2 x 3 accumulators + 1
// input; AVX-512 (32): 2 x 8. For 3x3 s1 that is (R + 2) * (B + 2) = 20 loads for 54 FMAs (0.37,
// against 0.54 for one row of 8 with the weights reloaded per block), and each input row is read by
// two passes instead of three, which matters more: a 112-wide row of 32 channels (14 KiB) or a
// 56-wide row of 144 (32 KiB) does not stay in L1 for the next output row.
// Borders need no separate path: a block that crosses the left or right edge skips the input
// columns outside the image (Cols: known at compile time for "same" padding, else tested per
// column, branches predicted the same way every row; the compile-time columns measured 1.02-1.12x
// on 14- to 28-wide images, 1 thread, batch 1, alternating in one process), and input rows
// outside the image are skipped per pass, so the first and last rows and bands with a negative
// pad_top (fused ops) take the same blocks.
// The passes take two orders (see run()): each pass over every tile of a strip of columns, or,
// with walk_tiles (data within L2, tiles of a whole cache line), each tile down the whole band
// before the next, so that a pass finds the two input rows it shares with the last one in L1.
// With prefetch_rows (the call's data streamed from memory) each strip also prefetches the next
// pass's new input rows (after a band's last pass, the next band's first rows) and output rows
// over the same columns, a few lines per tile (kernels/prefetch.h).
// On AVX-512, "same" stride-1 layers whose pixels spread over the L1 sets run rolling passes
// instead (rolling_pass, rolls): up to six output rows of a tile at once, one input column at a
// time, across the whole row.
#pragma once

#include <type_traits>
#include <utility>

#include "kernels/prefetch.h"
#include "kernels/simd/activation-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace dwconv_nhwc_3x3 {

// Outputs along the width per block: the rest of the registers after the weights and one input.
template <class V>
constexpr int block_width() {
  return (V::kRegisters - 9 - 1) / 2 > 8 ? 8 : (V::kRegisters - 9 - 1) / 2;
}

// Everything a block reads, held by value: the intrinsic stores may alias any memory, so fields
// read through a reference would be reloaded after every store.
struct Pass {
  const float* x;            // input image (in_h, in_w, C), offset to the tile's channels
  const float* w;            // packed weights of the tile: [bias][9 taps]
  float* y;                  // output pixel (oh, 0) of the pass's first row, tile-offset
  int64_t C, in_w, in_row, pad_left;  // C: floats between input pixels
  int64_t y_pixel, out_row;           // floats between output pixels, rows
  int64_t ih0;               // input row of the pass's input row 0
  int r_lo, r_hi;            // input rows [r_lo, r_hi) of the pass lie inside the image
  int64_t tail;              // channels of a masked tile
  bool same;                 // "same" padding (stride 1, pad_left 1, in_w == out_w)
  bool stream;               // whole vectors stored non-temporally (store_whole)
};

template <class V, bool Masked>
__attribute__((always_inline)) static inline typename V::Reg load_in(const float* p,
                                                                     typename V::Mask m) {
  if constexpr (Masked) return V::load(p, m); else return V::load(p);
}

// VMASKMOVPS stores cost ~15 cycles on Zen 3: AVX2's channel tail is stored in pieces instead.
// AVX-512 stores through the tile's mask, which also leaves out the lead lanes (DwconvNhwcArgs).
template <class V, bool Masked, Activation A>
__attribute__((always_inline)) static inline void store_out(float* p, typename V::Reg v,
                                                           typename V::Mask m, int64_t tail,
                                                           bool stream) {
  v = vactivate<V, A>(v);
  if constexpr (!Masked) {
    store_whole<V>(p, v, stream);
  } else if constexpr (V::kLineVector) {
    V::store(p, v, m);
  } else {
    V::store_first(p, v, tail);
  }
}

// Which of a block's kInputs input columns lie outside the image. With "same" padding (stride 1,
// pad_left = Pad = (KW - 1) / 2, in_w == out_w) that is known at compile time: the first Pad
// columns of a block at the left end of the row, the last Pad of one at the right end (Left,
// Right, Both); otherwise, for a block that crosses an edge, it is tested at run time (Any).
enum class Cols { Inside, Left, Right, Both, Any };

// "Same" padding in the sense of Cols: stride 1, pad_left = (kernel_w - 1) / 2, in_w == out_w.
static inline bool same_columns(int64_t kernel_w, int64_t stride_w, const Geometry& g) {
  return stride_w == 1 && g.pad_left == (kernel_w - 1) / 2 && g.in_w == g.out_w;
}

template <Cols K, int kInputs, int Pad = 1>
__attribute__((always_inline)) static inline bool column_outside(int i, int64_t iw0,
                                                                 int64_t in_w) {
  if constexpr (K == Cols::Any) return iw0 + i < 0 || iw0 + i >= in_w;
  return ((K == Cols::Left || K == Cols::Both) && i < Pad) ||
         ((K == Cols::Right || K == Cols::Both) && i >= kInputs - Pad);
}

// The block of outputs starting at column ow0, whose input column 0 is iw0 = ow0 * S - pad_left:
// x points at (input row 0 of the pass, iw0) and y at (output row 0, ow0), both tile-offset.
template <class V, int S, int R, int B, Cols K, bool ClipRows, bool Masked, Activation A>
__attribute__((always_inline)) static inline void block(const Pass& p,
                                                        const typename V::Reg (&wk)[9],
                                                        const float* x_block, float* y,
                                                        int64_t iw0, typename V::Mask m) {
  using Reg = typename V::Reg;
  constexpr int kRows = (R - 1) * S + 3;
  constexpr int kInputs = (B - 1) * S + 3;
  const int64_t C = p.C;
  Reg acc[R][B];
#pragma GCC unroll 8
  for (int q = 0; q < R; ++q) {
#pragma GCC unroll 16
    for (int j = 0; j < B; ++j) acc[q][j] = V::load(p.w);
  }
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) {
    if constexpr (ClipRows) {
      if (r < p.r_lo || r >= p.r_hi) continue;
    }
    const float* x = x_block + r * p.in_row;
    // Opaque base per row and block: otherwise GCC keeps one induction pointer per input address
    // (x + i * C, C at run time) and spills them; this way x + i * C is base + index * scale.
    asm("" : "+r"(x));
#pragma GCC unroll 32
    for (int i = 0; i < kInputs; ++i) {
      if (column_outside<K, kInputs>(i, iw0, p.in_w)) continue;
      const Reg xv = load_in<V, Masked>(x + i * C, m);
#pragma GCC unroll 8
      for (int q = 0; q < R; ++q) {
        const int kh = r - q * S;
        if (kh < 0 || kh >= 3) continue;
#pragma GCC unroll 4
        for (int k = 0; k < 3; ++k) {
          const int d = i - k;  // = j * S for the output j that input i meets at tap k
          if (d >= 0 && d % S == 0 && d / S < B) {
            acc[q][d / S] = V::fma(xv, wk[kh * 3 + k], acc[q][d / S]);
          }
        }
      }
    }
  }
  asm("" : "+r"(y));
#pragma GCC unroll 8
  for (int q = 0; q < R; ++q) {
#pragma GCC unroll 16
    for (int j = 0; j < B; ++j) {
      store_out<V, Masked, A>(y + q * p.out_row + j * p.y_pixel, acc[q][j], m,
                              p.tail, p.stream);
    }
  }
}

// One clipped block of exactly n (1 <= n <= N) outputs.
template <class V, int S, int R, int N, Cols K, bool ClipRows, bool Masked, Activation A>
__attribute__((always_inline)) static inline void tail_block(const Pass& p,
                                                             const typename V::Reg (&wk)[9],
                                                             int64_t ow, int64_t n,
                                                             typename V::Mask m) {
  if constexpr (N >= 1) {
    const int64_t iw = ow * S - p.pad_left;
    if (n == N) {
      block<V, S, R, N, K, ClipRows, Masked, A>(p, wk, p.x + p.ih0 * p.in_row + iw * p.C,
                                                p.y + ow * p.y_pixel, iw, m);
    } else {
      tail_block<V, S, R, N - 1, K, ClipRows, Masked, A>(p, wk, ow, n, m);
    }
  }
}

// Columns [c0, c1) of one tile for R output rows: blocks of B, the interior ones unclipped, and one
// clipped block of the remaining n < B columns.
template <class V, int S, int R, bool ClipRows, bool Masked, Activation A>
static inline void strip(const Pass p, int64_t c0, int64_t c1, int64_t lo, int64_t hi,
                         typename V::Mask m) {
  using Reg = typename V::Reg;
  constexpr int B = block_width<V>();
  Reg wk[9];
#pragma GCC unroll 9
  for (int k = 0; k < 9; ++k) wk[k] = V::load(p.w + (1 + k) * V::kWidth);
  // Blocks [c0, c1) walk the input and output with two pointers; only the blocks that cross an
  // edge of the image ([lo, hi) are the unclipped columns) test each input column. Walking the
  // pointers instead of indexing from the pass's origin per block: 1.01-1.15x on MobileNetV2's
  // 3x3 s1 layers (1 thread, batch 1, alternating in one process).
  int64_t ow = c0;
  const float* x = p.x + p.ih0 * p.in_row + (c0 * S - p.pad_left) * p.C;
  float* y = p.y + c0 * p.y_pixel;
  const int64_t x_step = B * S * p.C, y_step = B * p.y_pixel;
  // With "same" padding only the block at column 0 crosses the left edge, only the block ending at
  // out_w the right one (on a row B wide, the same block).
  for (; ow + B <= c1 && ow < lo; ow += B, x += x_step, y += y_step) {
    const int64_t iw = ow * S - p.pad_left;
    if (!p.same) block<V, S, R, B, Cols::Any, ClipRows, Masked, A>(p, wk, x, y, iw, m);
    else if (ow + B > hi) block<V, S, R, B, Cols::Both, ClipRows, Masked, A>(p, wk, x, y, iw, m);
    else block<V, S, R, B, Cols::Left, ClipRows, Masked, A>(p, wk, x, y, iw, m);
  }
  for (; ow + B <= min_i64(c1, hi); ow += B, x += x_step, y += y_step) {
    block<V, S, R, B, Cols::Inside, ClipRows, Masked, A>(p, wk, x, y, 0, m);
  }
  for (; ow + B <= c1; ow += B, x += x_step, y += y_step) {
    const int64_t iw = ow * S - p.pad_left;
    if (p.same) block<V, S, R, B, Cols::Right, ClipRows, Masked, A>(p, wk, x, y, iw, m);
    else block<V, S, R, B, Cols::Any, ClipRows, Masked, A>(p, wk, x, y, iw, m);
  }
  if (ow < c1) {
    const int64_t n = c1 - ow;
    if (!p.same || c1 != p.in_w) {
      tail_block<V, S, R, B - 1, Cols::Any, ClipRows, Masked, A>(p, wk, ow, n, m);
    } else if (ow < lo) {  // a row narrower than one block
      tail_block<V, S, R, B - 1, Cols::Both, ClipRows, Masked, A>(p, wk, ow, n, m);
    } else {
      tail_block<V, S, R, B - 1, Cols::Right, ClipRows, Masked, A>(p, wk, ow, n, m);
    }
  }
}

// R output rows of one tile across the whole row ("same" padding, stride 1), walked one input
// column at a time: column i's R + 2 input vectors are loaded once and finish output i - 1, add
// to output i and start output i + 1, three columns of R accumulators taking turns. That is
// (R + 2) / (9 R) loads per FMA (0.15 for R = 6, against 0.28 for a 2 x 8 block, which also
// loads each block's two overlapping columns again) and each input row is read by (R + 2) / R
// passes instead of two. An output's nine FMAs form one chain over three columns, so a column
// takes at least three FMA latencies: R >= 3 keeps the FMA units busy (R = 2 ran at half speed).
// Needs in_w >= 2.
template <class V, int R, bool ClipRows, bool Masked, Activation A>
static inline void rolling_pass(const Pass p, typename V::Mask m) {
  using Reg = typename V::Reg;
  constexpr int kRows = R + 2;
  Reg wk[9];
#pragma GCC unroll 9
  for (int k = 0; k < 9; ++k) wk[k] = V::load(p.w + (1 + k) * V::kWidth);
  Reg acc[3][R];
  const int64_t C = p.C, W = p.in_w;
  const float* const x0 = p.x + p.ih0 * p.in_row;
  float* const y0 = p.y;
  // Input column i: acc[i % 3] holds output i, acc[(i + 2) % 3] output i - 1 and
  // acc[(i + 1) % 3] output i + 1. The first column has no output before it, the last none after.
  const auto column = [&](auto phase, auto first, auto last, int64_t i)
                          __attribute__((always_inline)) {
    constexpr int Q = decltype(phase)::value, P = (Q + 2) % 3, N = (Q + 1) % 3;
    constexpr bool First = decltype(first)::value, Last = decltype(last)::value;
    if constexpr (!Last) {
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[N][r] = V::load(p.w);
    }
    const float* x = x0 + i * C;
    asm("" : "+r"(x));  // one base per column, rows as base + j * in_row (see block)
#pragma GCC unroll 8
    for (int j = 0; j < kRows; ++j) {
      if constexpr (ClipRows) {
        if (j < p.r_lo || j >= p.r_hi) continue;
      }
      const Reg xv = load_in<V, Masked>(x + j * p.in_row, m);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const int kh = j - r;
        if (kh < 0 || kh >= 3) continue;
        if constexpr (!First) acc[P][r] = V::fma(xv, wk[kh * 3 + 2], acc[P][r]);
        acc[Q][r] = V::fma(xv, wk[kh * 3 + 1], acc[Q][r]);
        if constexpr (!Last) acc[N][r] = V::fma(xv, wk[kh * 3], acc[N][r]);
      }
    }
    const auto store_column = [&](const Reg (&out)[R], int64_t ow) __attribute__((always_inline)) {
      float* y = y0 + ow * p.y_pixel;
      asm("" : "+r"(y));
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        store_out<V, Masked, A>(y + r * p.out_row, out[r], m, p.tail, p.stream);
      }
    };
    if constexpr (!First) store_column(acc[P], i - 1);
    if constexpr (Last) store_column(acc[Q], i);
  };
  using I0 = std::integral_constant<int, 0>;
  using I1 = std::integral_constant<int, 1>;
  using I2 = std::integral_constant<int, 2>;
  using Yes = std::true_type;
  using No = std::false_type;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[0][r] = V::load(p.w);
  column(I0{}, Yes{}, No{}, 0);
  int64_t i = 1;
  for (; i + 3 < W; i += 3) {
    column(I1{}, No{}, No{}, i);
    column(I2{}, No{}, No{}, i + 1);
    column(I0{}, No{}, No{}, i + 2);
  }
  // i % 3 == 1: W - 1 - i < 3 columns before the last.
  if (i + 1 == W) {
    column(I1{}, No{}, Yes{}, i);
  } else if (i + 2 == W) {
    column(I1{}, No{}, No{}, i);
    column(I2{}, No{}, Yes{}, i + 1);
  } else {
    column(I1{}, No{}, No{}, i);
    column(I2{}, No{}, No{}, i + 1);
    column(I0{}, No{}, Yes{}, i + 2);
  }
}

// Rolling passes (rolling_pass) take "same" 3x3 stride-1 layers at least kRollingMinWidth wide
// whose pixels spread over the L1 sets; at most kRollingRows rows per pass, the band's rows split
// evenly (a 14-row image as 5 + 5 + 4, not 6 + 6 + 2, whose last pass would wait on latency).
// Measured against the 2 x 8 blocks (AVX-512, AMD Zen 5, µs, medians, separate runs taking
// turns; 1 thread batch 1 unless said): C32@112 47.8-48.3 -> 39.3-42.9, C16@112 21.9 -> 18.7,
// C64@56 29.4 -> 22.3, C96@56 39.3 -> 30.6, C144@56 52.0-53.6 -> 44.0, C128@28 15.6 -> 12.5,
// C192@28 20.1-20.2 -> 15.4-15.8, C240@28 24.5 -> 19.5, C384@14 9.3-9.5 -> 9.0, C576@14 14.9 ->
// 12.1, C496@14 11.7 -> 9.7, C576@10 6.2-6.4 -> 5.9-6.0, C960@10 13.2 -> 9.9; batch 8 C144@56
// 521-533 -> 363-377, C32@112 469-490 -> 323-324, C192@28 231 -> 137; 2 threads C32@112 27.2 ->
// 23.1, C144@56 29.7 -> 25.8, C384@14 6.8 -> 5.9, batch 8 C192@28 117 -> 69 (C144@56 and C32@112
// ties, memory-bound). They lose on 7-wide images (C960@7 5.1 -> 6.7, C160@7 1.03 -> 1.26, C576@7
// 3.2 -> 4.2) and where a column's lines share few sets: pixels in 8 sets on wide images (C128@56
// 60 -> 62-69, C128@55 55 -> 58), in 4 or fewer (C256@28 35 -> 47, C768@14 22.8 -> 26.1, C512@14
// 17 -> 27, C1024@7 9 -> 12).
// AVX2's 16 registers hold 9 weights, 3 x 2 accumulators and an input: too few rows, so only
// AVX-512 rolls. Bands of fewer than kRollingMinRows rows keep the blocks.
template <class V>
constexpr int kRollingRows = (V::kRegisters - 10) / 3 < 6 ? (V::kRegisters - 10) / 3 : 6;
constexpr int kRollingMinRows = 3;
constexpr int64_t kRollingMinWidth = 10;
constexpr int64_t kRollingMaxWidthEightSets = 28;
constexpr int64_t kRollingWalkMaxWidth = 16;

template <class V>
static inline bool rolls(const Geometry& g, int64_t pixel_bytes, int64_t band_rows) {
  const int64_t sets = kernels::l1_sets_reached(pixel_bytes);
  return kRollingRows<V> >= kRollingMinRows && band_rows >= kRollingMinRows &&
         same_columns(3, 1, g) && g.in_w >= kRollingMinWidth &&
         (sets >= 16 || (sets == 8 && g.in_w <= kRollingMaxWidthEightSets));
}

template <class V, int S, Activation A>
static inline void run(const kernels::DwconvNhwcArgs& a) {
  constexpr int64_t T = V::kWidth;
  constexpr int B = block_width<V>();
  constexpr int kRows2 = S + 3;  // input rows of a 2-row pass
  const Geometry& g = a.geometry;
  const int64_t C = a.channels;
  const int64_t tiles = a.tile_end - a.tile_begin;
  const int64_t last_tile = min_i64(T, a.lead + C - (a.tile_end - 1) * T);
  const int64_t first_lane = a.tile_begin == 0 ? a.lead : 0;
  int64_t lo, hi;
  valid_outputs(-g.pad_left, S, g.in_w - 2, g.out_w, &lo, &hi);
  // Columns per strip, the wider of two rules. (1) The strip's input rows of every tile
  // (kRows2 x columns x C floats) stay in L1 (~16 KiB) while the tiles take turns, so the next pass
  // finds its shared rows there. (2) One tile's input and output lines of the strip stay in L1 (in
  // the sets its pixel stride reaches), so the next tile finds the other half of each line, and the
  // weights and the strip's setup are paid once per strip. Measured against (1) alone, at least one
  // block (1 thread, batch 1, alternating calls in one process, µs): C144@56 191 -> 141, C240@28
  // 142 -> 96, C192@28 78 -> 63, C112@56 205 -> 175, C960@7 1.4x, C576@14 1.6x; C32@112, C64@56,
  // C128@56 and C384@14 a tie. Whole rows were 1.7x slower on C512@56 and C1024@14, whose pixels
  // fall in one or two sets.
  // Lines of one channel tile (input or output) that L1 holds at this pixel stride.
  const int64_t lines = kernels::kL1Ways * kernels::l1_sets_reached(C * int64_t(sizeof(float)));
  const int64_t shared_rows_w = (16384 / int64_t(sizeof(float))) / (kRows2 * S * C);
  const int64_t tile_lines_w = (lines - 2 * kRows2) / (kRows2 * S + 2);
  const int64_t strip_w = max_i64(B, max_i64(shared_rows_w, tile_lines_w) / B * B);

  // The pass from output row oh whose input rows are [oh * S - pad_top, + in_rows).
  const auto pass_at = [&](int64_t oh, int64_t in_rows) {
    Pass p;
    p.C = C;
    p.in_w = g.in_w;
    p.in_row = g.in_w * C;
    p.y_pixel = a.y_pixel_stride;
    p.out_row = g.out_w * p.y_pixel;
    p.pad_left = g.pad_left;
    p.same = same_columns(3, S, g);
    p.stream = a.stream_y;
    p.ih0 = oh * S - g.pad_top;
    p.r_lo = static_cast<int>(min_i64(in_rows, max_i64(0, -p.ih0)));
    p.r_hi = static_cast<int>(max_i64(p.r_lo, min_i64(in_rows, g.in_h - p.ih0)));
    return p;
  };
  // Points pass pt (from output row oh) at tile t; returns whether the tile's channels are only
  // some of its lanes, those of m.
  const auto on_tile = [&](Pass& pt, int64_t oh, int64_t t, typename V::Mask& m) {
    pt.x = a.x + (a.tile_begin + t) * T;
    pt.w = a.packed + (a.tile_begin + t) * 10 * T;
    pt.y = a.y + oh * pt.out_row + (a.tile_begin + t) * T;
    const int64_t lane_lo = t == 0 ? first_lane : 0;
    const int64_t lane_hi = t + 1 == tiles ? last_tile : T;
    const bool masked = lane_lo > 0 || lane_hi != T;
    pt.tail = lane_hi;
    m = masked ? V::range_mask(lane_lo, lane_hi) : typename V::Mask{};
    return masked;
  };
  // Output rows oh and oh + 1 (if in the band) of tile t, columns [c0, c1).
  const auto tile_pass = [&](const Pass& p, int64_t oh, int64_t t, int64_t c0, int64_t c1) {
    const bool two = oh + 1 < a.oh_end;
    Pass pt = p;
    typename V::Mask m;
    const bool masked = on_tile(pt, oh, t, m);
    // Passes with every input row inside the image (all but the first and last) skip the
    // row checks at compile time.
    const auto go = [&](auto rows, auto clip_rows, auto masked_tile) {
      strip<V, S, decltype(rows)::value, decltype(clip_rows)::value,
            decltype(masked_tile)::value, A>(pt, c0, c1, lo, hi, m);
    };
    using I1 = std::integral_constant<int, 1>;
    using I2 = std::integral_constant<int, 2>;
    const int kr = two ? S + 3 : 3;
    const bool clip_rows = p.r_lo > 0 || p.r_hi < kr;
    if (two) {
      if (masked) {
        if (clip_rows) go(I2{}, std::true_type{}, std::true_type{});
        else go(I2{}, std::false_type{}, std::true_type{});
      } else {
        if (clip_rows) go(I2{}, std::true_type{}, std::false_type{});
        else go(I2{}, std::false_type{}, std::false_type{});
      }
    } else {
      // One row left (odd row count): always row-clipped, rare.
      if (masked) go(I1{}, std::true_type{}, std::true_type{});
      else go(I1{}, std::true_type{}, std::false_type{});
    }
  };

  // Rolling passes (see rolls): each tile down the band where the data stays in L2 (walk_tiles)
  // and rows are at most kRollingWalkMaxWidth wide, else rows outer and tiles inner. Measured (1
  // thread, batch 1, µs, rows outer -> walk, separate runs taking turns): C384@14 8.9 -> 8.0-8.6,
  // C576@14 11.9 -> 11.2, C576@10 6.1-6.2 -> 5.5-5.6, C160@14 3.2 -> 2.8; on 28-wide rows it lost
  // (C32@28 2.1 -> 2.3, C128@28 12.1 -> 12.4-12.9).
  const int64_t band = a.oh_end - a.oh_begin;
  if (S == 1 && rolls<V>(g, C * int64_t(sizeof(float)), band)) {
    constexpr int kRows = kRollingRows<V>;
    const int64_t passes = (band + kRows - 1) / kRows;
    const int64_t base = band / passes, longer = band % passes;
    // Pass k of the band: its first row and row count, the first `longer` passes one row longer.
    const auto pass_rows = [&](int64_t k) {
      return std::make_pair(a.oh_begin + k * base + min_i64(k, longer),
                            base + (k < longer ? 1 : 0));
    };
    const auto tile_rolling = [&](const Pass& p, int64_t oh, int64_t rows, int64_t t) {
      const bool clip_rows = p.r_lo > 0 || p.r_hi < rows + 2;
      Pass pt = p;
      typename V::Mask m;
      const bool masked = on_tile(pt, oh, t, m);
      with_constant<kRollingMinRows, kRows>(rows, [&](auto r) {
        constexpr int R = decltype(r)::value;
        if (masked) {
          if (clip_rows) rolling_pass<V, R, true, true, A>(pt, m);
          else rolling_pass<V, R, false, true, A>(pt, m);
        } else {
          if (clip_rows) rolling_pass<V, R, true, false, A>(pt, m);
          else rolling_pass<V, R, false, false, A>(pt, m);
        }
      });
    };
    if (a.walk_tiles && g.in_w <= kRollingWalkMaxWidth) {
      for (int64_t t = 0; t < tiles; ++t) {
        for (int64_t k = 0; k < passes; ++k) {
          const auto [oh, rows] = pass_rows(k);
          tile_rolling(pass_at(oh, rows + 2), oh, rows, t);
        }
      }
    } else {
      for (int64_t k = 0; k < passes; ++k) {
        const auto [oh, rows] = pass_rows(k);
        const Pass p = pass_at(oh, rows + 2);
        for (int64_t t = 0; t < tiles; ++t) tile_rolling(p, oh, rows, t);
      }
    }
    return;
  }

  // Walking the tiles (see walk_tiles): strips as wide as one tile's lines of a pass allow (rule
  // (2) above), at least a block, else the walk would not keep its rows in L1. Where the tiles
  // are half lines (AVX2) the next tile's halves would come back from L2.
  // Measured (AVX-512, AMD Zen 5, batch 1, alternating in one process) against the passes: 1 thread
  // C960@7 1.14x, C384@14 1.09x, C576@10 1.09x, C576@14 1.06x, C96@28 1.05x, 14x14 s2 C576 1.02x;
  // 2 threads 0.99-1.04x. Streamed from L3 it loses (the passes' row order suits the hardware
  // prefetcher): C384@14 batch 8 0.90x, C576@28 0.95x. So it does on pixels in two L1 sets, whose
  // lines a block's rows overflow: C512@14 0.69x, C1024@7 0.83x (C512@7 1.08x).
  if (V::kLineVector && a.walk_tiles && tile_lines_w >= B) {
    const int64_t walk_w = max_i64(B, tile_lines_w / B * B);
    for (int64_t c0 = 0; c0 < g.out_w; c0 += walk_w) {
      const int64_t c1 = min_i64(g.out_w, c0 + walk_w);
      for (int64_t t = 0; t < tiles; ++t) {
        for (int64_t oh = a.oh_begin; oh < a.oh_end; oh += 2) {
          tile_pass(pass_at(oh, kRows2), oh, t, c0, c1);
        }
      }
    }
    return;
  }
  for (int64_t oh = a.oh_begin; oh < a.oh_end; oh += 2) {
    const Pass p = pass_at(oh, kRows2);
    for (int64_t c0 = 0; c0 < g.out_w; c0 += strip_w) {
      const int64_t c1 = min_i64(g.out_w, c0 + strip_w);
      // With prefetch_rows: the next pass's new input rows and its output rows, for this strip's
      // columns, spread over the tiles.
      const int64_t iw_lo = max_i64(0, c0 * S - g.pad_left);
      const int64_t iw_hi =
          c1 == g.out_w ? g.in_w : max_i64(iw_lo, min_i64(g.in_w, c1 * S - g.pad_left));
      const int64_t ih_next = p.ih0 + kRows2;
      const int64_t in_end = min_i64(g.in_h + a.rows_below, ih_next + 2 * S);
      const int64_t in_rows = a.prefetch_rows ? max_i64(0, in_end - ih_next) : 0;
      const int64_t out_rows = a.prefetch_rows && !a.stream_y
                                   ? max_i64(0, min_i64(a.oh_end, oh + 4) - (oh + 2))
                                   : 0;
      NextRows next{{beside(a.x, ih_next * p.in_row + iw_lo * C), (iw_hi - iw_lo) * C, p.in_row,
                     in_rows, tiles},
                    {beside(a.y, (oh + 2) * p.out_row + c0 * p.y_pixel), (c1 - c0) * p.y_pixel,
                     p.out_row,
                     out_rows, tiles}};
      for (int64_t t = 0; t < tiles; ++t) {
        next.step();
        tile_pass(p, oh, t, c0, c1);
      }
    }
  }
}

}  // namespace dwconv_nhwc_3x3
}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
