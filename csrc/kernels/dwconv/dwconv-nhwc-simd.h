// Depthwise convolution, NHWC, multiplier 1, written once against a vector type V (vec-avx2.h,
// vec-avx512.h) and instantiated per ISA by dwconv-nhwc-<isa>.cpp.
//
// A channel tile of V::kWidth channels is computed for a block of B outputs along the width:
//  - kernel widths 3, 5, 7 with stride_w 1 or 2 (dilation_w 1): the KW weights of a kernel row sit
//    in registers and every input vector of the row is loaded once and used for all the taps it
//    meets, (B-1)*S+KW loads for KW*B FMAs: 0.54 loads/FMA for 3x3 s1 with B = 8, 0.38 for 7x7.
//    Stride-1 rows with "same" padding, or narrow ones, run in segments as wide as the registers
//    allow (segments()); the others in blocks of B.
//    The blocks over the borders skip the input columns outside the image: measured against one
//    output at a time at the borders (1 thread, batch 1, alternating in one process), 5x5 C240@28
//    1.23x, C672@14 1.28x, C960@7 1.54x, 7x7 C96@56 1.21x, 3x3 s2 C96@112 1.04x;
//  - any other width at stride 1 and dilation 1: the same accumulator block, each kernel row in
//    chunks of 8 (AVX2: 4) taps whose weights sit in registers, each input vector loaded once per
//    chunk (block_slide): (B + 7 + 8) / (8B) = 0.24 loads per FMA for B = 16;
//  - any other stride or dilation: one weight load per kernel tap shared by the B outputs (1 + 1/B
//    loads per FMA), taps clipped to the image per kernel column.
// Rows outside the image are skipped per output row, so no padded copy of the input is made.
// With prefetch_rows (images streamed from DRAM) each output row also prefetches, over its tiles,
// the input rows the next output row adds and that row's outputs (kernels/prefetch.h).
// The last channel tile uses masked loads and stores (its packed weights are zero-padded).
#pragma once

#include <type_traits>

#include "kernels/prefetch.h"
#include "kernels/simd/activation-simd.h"
#include "kernels/dwconv/dwconv-nhwc-3x3-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace dwconv_nhwc {

using dwconv_nhwc_3x3::Cols;
using dwconv_nhwc_3x3::column_outside;
using dwconv_nhwc_3x3::same_columns;

struct Row {
  const float* x;       // image base (H, W, C), offset to the first tile's channels
  const float* w;       // packed first tile: [bias][taps]
  float* y;             // output pixel (oh, 0), offset to the first tile's channels
  int64_t tiles, w_tile_stride, last_tile_channels;
  int64_t first_lane;   // lanes of the first tile before its first channel (DwconvNhwcArgs::lead)
  int64_t channels;     // C (input = output channels, multiplier 1): floats between input pixels
  int64_t y_pixel;      // floats between output pixels
  int64_t in_w;
  bool same;  // stride 1, pad_left = (kernel_w - 1) / 2, in_w == out_w ("same" padding)
  int64_t kh_lo, kh_hi; // kernel rows that land inside the image
  int64_t ih0;          // input row of kernel row 0 (may be negative)
  int64_t dilation_h, kernel_w, stride_w, dilation_w, pad_left;
  NextRows* ahead;  // rows the next output row reads first and writes, or null
  bool stream;      // whole vectors stored non-temporally (store_whole)
};

template <class V, bool Masked>
static inline typename V::Reg load_x(const float* p, typename V::Mask m) {
  if constexpr (Masked) return V::load(p, m); else return V::load(p);
}

template <class V, bool Masked, Activation A>
static inline void store_y(float* p, typename V::Reg v, typename V::Mask m, bool stream) {
  v = vactivate<V, A>(v);
  if constexpr (Masked) V::store(p, v, m); else store_whole<V>(p, v, stream);
}

// B outputs from ow0, KW and S known at compile time; the input columns outside the image (K) are
// skipped. Always inlined: GCC's own choice followed the size of the rest of the translation unit
// (with the channel interleave moved to its own file, the 5x5 blocks stayed out of line and 5x5
// C240@28 ran 0.85-0.89x, NHWC and NCHW alike; AVX-512, 1 thread, two binaries taking turns).
template <class V, int KW, int S, int B, Cols K, bool Masked, Activation A>
__attribute__((always_inline)) static inline void block_fixed(const Row& r, int64_t ow0,
                                                          typename V::Mask m) {
  using Reg = typename V::Reg;
  constexpr int kInputs = (B - 1) * S + KW;
  const int64_t C = r.channels;
  Reg acc[B];
  const Reg bias = V::load(r.w);
#pragma GCC unroll 16
  for (int j = 0; j < B; ++j) acc[j] = bias;
  for (int64_t kh = r.kh_lo; kh < r.kh_hi; ++kh) {
    const int64_t ih = r.ih0 + kh * r.dilation_h;
    const float* x = beside(r.x, (ih * r.in_w + ow0 * S - r.pad_left) * C);
    const float* w = r.w + (1 + kh * KW) * V::kWidth;
    Reg wk[KW];
#pragma GCC unroll 16
    for (int k = 0; k < KW; ++k) wk[k] = V::load(w + k * V::kWidth);
#pragma GCC unroll 32
    for (int i = 0; i < kInputs; ++i) {
      if (column_outside<K, kInputs, KW / 2>(i, ow0 * S - r.pad_left, r.in_w)) continue;
      const Reg xv = load_x<V, Masked>(x + i * C, m);
#pragma GCC unroll 16
      for (int k = 0; k < KW; ++k) {
        const int d = i - k;  // = j * S for the output j that input i meets at tap k
        if (d >= 0 && d % S == 0 && d / S < B) acc[d / S] = V::fma(xv, wk[k], acc[d / S]);
      }
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < B; ++j) {
    store_y<V, Masked, A>(r.y + (ow0 + j) * r.y_pixel, acc[j], m, r.stream);
  }
}

// B outputs from ow0, any kernel width, stride and dilation. Taps are clipped to the image per
// kernel column: output j reads column off + j * stride_w, so the valid j form one range [jlo, jhi).
template <class V, int B, bool Masked, Activation A>
static inline void block_any(const Row& r, int64_t ow0, typename V::Mask m) {
  using Reg = typename V::Reg;
  const int64_t C = r.channels;
  Reg acc[B];
  const Reg bias = V::load(r.w);
#pragma GCC unroll 16
  for (int j = 0; j < B; ++j) acc[j] = bias;
  const int64_t step = r.stride_w * C;
  const int64_t col0 = ow0 * r.stride_w - r.pad_left;  // input column of output 0 at tap 0
  // Kernel columns [kw_lo, kw_hi) reach all B outputs inside the image, found once per block;
  // only the others, on the borders, clip the outputs per column (for 31x31 on a 32-wide image,
  // half of them). Against clipping every column (with an integer division; AVX-512, 1 thread,
  // batch 1, old and new library in turns): 31x31 C128@32 1.13x, 11x11 C256@14 1.40x, 9x9
  // C64@28 1.23x, 8x8 1.19x, 4x4 s2 C64@28 1.36x, 4x4 and 2x2 s1 C64@56 0.97-1.02x.
  int64_t kw_lo, kw_hi;
  valid_outputs(col0, r.dilation_w, r.in_w - (B - 1) * r.stride_w, r.kernel_w, &kw_lo, &kw_hi);
  const auto inside = [&](const float* xrow, const float* w, int64_t kw) {
    const Reg wk = V::load(w + kw * V::kWidth);
    const float* x = xrow + (col0 + kw * r.dilation_w) * C;
#pragma GCC unroll 16
    for (int j = 0; j < B; ++j) acc[j] = V::fma(load_x<V, Masked>(x + j * step, m), wk, acc[j]);
  };
  const auto clipped = [&](const float* xrow, const float* w, int64_t kw) {
    const int64_t off = col0 + kw * r.dilation_w;
    int64_t jlo, jhi;
    valid_outputs(off, r.stride_w, r.in_w, B, &jlo, &jhi);
    if (jlo >= jhi) return;
    const Reg wk = V::load(w + kw * V::kWidth);
    const float* x = xrow + off * C;
#pragma GCC unroll 16
    for (int j = 0; j < B; ++j) {
      if (j >= jlo && j < jhi) acc[j] = V::fma(load_x<V, Masked>(x + j * step, m), wk, acc[j]);
    }
  };
  for (int64_t kh = r.kh_lo; kh < r.kh_hi; ++kh) {
    const float* xrow = r.x + (r.ih0 + kh * r.dilation_h) * r.in_w * C;
    const float* w = r.w + (1 + kh * r.kernel_w) * V::kWidth;
    for (int64_t kw = 0; kw < r.kernel_w; ++kw) {
      if (kw >= kw_lo && kw < kw_hi) inside(xrow, w, kw);
      else clipped(xrow, w, kw);
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < B; ++j) {
    store_y<V, Masked, A>(r.y + (ow0 + j) * r.y_pixel, acc[j], m, r.stream);
  }
}

// Taps per chunk of block_slide: KC weights + 16 (AVX2: 8) accumulators + one input in registers.
template <class V>
constexpr int slide_chunk() {
  return V::kRegisters >= 32 ? 8 : 4;
}

// Wide kernels at stride 1 and dilation 1 along the width: B outputs from ow0, each kernel row in
// chunks of KC taps whose weights sit in registers, so that each of a chunk's B + KC - 1 input
// vectors is loaded once for every tap of the chunk it meets. The taps left after the whole
// chunks are one chunk of exactly that many (zero weights in their place would turn an infinite
// input outside a window into NaN there, 0 x inf; halving chunks, 4 + 2 + 1, ran 31x31 0.72x).
// Input columns outside the image are skipped.
template <class V, int B, bool Masked, Activation A>
static inline void block_slide(const Row& r, int64_t ow0, typename V::Mask m) {
  using Reg = typename V::Reg;
  constexpr int KC = slide_chunk<V>();
  const int64_t C = r.channels, kernel_w = r.kernel_w;
  Reg acc[B];
  const Reg bias = V::load(r.w);
#pragma GCC unroll 16
  for (int j = 0; j < B; ++j) acc[j] = bias;
  // Taps [kc0, kc0 + K) of a kernel row. Inlined, every chunk width: out of line, the
  // accumulators would live in memory.
  const auto chunk = [&](auto width, const float* xrow, const float* w,
                         int64_t kc0) __attribute__((always_inline)) {
    constexpr int K = decltype(width)::value;
    Reg wk[K];
#pragma GCC unroll 8
    for (int k = 0; k < K; ++k) wk[k] = V::load(w + (kc0 + k) * V::kWidth);
    const int64_t c0 = ow0 - r.pad_left + kc0;  // input column of the chunk's first input
    const float* x = beside(xrow, c0 * C);
#pragma GCC unroll 32
    for (int i = 0; i < B + K - 1; ++i) {
      if (c0 + i < 0 || c0 + i >= r.in_w) continue;
      const Reg xv = load_x<V, Masked>(x + i * C, m);
#pragma GCC unroll 8
      for (int k = 0; k < K; ++k) {
        const int j = i - k;  // the output that input i meets at tap k
        if (j >= 0 && j < B) acc[j] = V::fma(xv, wk[k], acc[j]);
      }
    }
  };
  for (int64_t kh = r.kh_lo; kh < r.kh_hi; ++kh) {
    const float* xrow = r.x + (r.ih0 + kh * r.dilation_h) * r.in_w * C;
    const float* w = r.w + (1 + kh * kernel_w) * V::kWidth;
    int64_t kc0 = 0;
    for (; kc0 + KC <= kernel_w; kc0 += KC) chunk(std::integral_constant<int, KC>{}, xrow, w, kc0);
    with_constant<1, KC - 1>(kernel_w - kc0, [&](auto width) __attribute__((always_inline)) {
      chunk(width, xrow, w, kc0);
    });
  }
#pragma GCC unroll 16
  for (int j = 0; j < B; ++j) {
    store_y<V, Masked, A>(r.y + (ow0 + j) * r.y_pixel, acc[j], m, r.stream);
  }
}

// Calls block(masked, tile_row, mask) for each channel tile of the row: all tiles of one block of
// outputs are computed before the next block, so the loads sweep whole pixels (every channel) in
// address order and the packed weights of the row's tiles stay in L1.
template <class V, class Block>
__attribute__((always_inline)) static inline void for_each_tile(const Row& r, Block&& block) {
  Row rt = r;
  const auto next = [&] {
    rt.x += V::kWidth;
    rt.y += V::kWidth;
    rt.w += r.w_tile_stride;
  };
  int64_t t = 0;
  if (r.first_lane > 0 && r.tiles > 1) {
    if (r.ahead != nullptr) r.ahead->step();
    block(std::true_type{}, rt, V::range_mask(r.first_lane, V::kWidth));
    next();
    ++t;
  }
  for (; t + 1 < r.tiles; ++t) {
    if (r.ahead != nullptr) r.ahead->step();
    block(std::false_type{}, rt, typename V::Mask{});
    next();
  }
  const int64_t lane_lo = r.tiles == 1 ? r.first_lane : 0;
  if (lane_lo == 0 && r.last_tile_channels == V::kWidth) {
    block(std::false_type{}, rt, typename V::Mask{});
  } else {
    block(std::true_type{}, rt, V::range_mask(lane_lo, r.last_tile_channels));
  }
}

// Stride-1 rows in segments of at most narrow_width outputs, one block of N accumulators per
// segment and tile; with "same" padding the columns outside the image are known at compile time
// (the first segment's left ones, the last one's right ones). Measured against blocks of B (8 for
// 5x5, 6 for 7x7; 1 thread, batch 1, alternating in one process): 5x5 C960@7 2.25x, C576@10 1.57x,
// C672@14 1.52x, C240@28 1.15x, C96@56 1.08x; 7x7 C960@7 1.83x, C384@14 1.33x, C192@28 1.21x,
// C96@56 1.22x.
// AVX2: the accumulators beside the KW weights and one input in its 16 registers. AVX-512 runs 5x5
// and 7x7 on 16 accumulators of its 32 registers: with 8 (7x7) or 10 (5x5) each accumulator's
// chain of KW FMAs per kernel row came back every KW FMAs, under the FMA latency times its two
// pipes, and the blocks were too long for the out-of-order window to overlap. Measured (AMD Zen 5,
// 1 thread, batch 1, µs, old and new library in turns): 7x7 C96@56 181-187 -> 151-152, C192@28
// 95 -> 65, C384@14 43.5 -> 30, C960@7 19 -> 19 (one segment of 7 either way); 5x5 C240@28 64-65
// -> 53-54.5, C672@14 48-49 -> 33, C96@56 86-87 -> 84-86.
template <class V, int KW>
constexpr int any_width() {  // rows without "same" padding: the narrow ones, in one segment
  return (V::kRegisters < 16 ? V::kRegisters : 16) - KW - 1;
}

template <class V, int KW>
constexpr int narrow_width() {
  return KW >= 5 && V::kRegisters >= 32 ? 16 : any_width<V, KW>();
}

// Outputs [ow0, ow0 + n) for 1 <= n <= N, the input columns outside the image skipped as `kind`.
// Its blocks always inlined: GCC's own choice moved with the rest of the translation unit (the 3x3
// rolling passes took 5x5 C240@28 1.05x and 7x7 C96@56 1.04x longer, NCHW 1.10-1.16x, where the
// blocks of a kind went out of line).
template <class V, int KW, int N, Activation A>
static inline void segment(const Row& r, int64_t n, int64_t ow0, Cols kind) {
  if constexpr (N >= 1) {
    if (n != N) return segment<V, KW, N - 1, A>(r, n, ow0, kind);
    const auto go = [&](auto cols) __attribute__((always_inline)) {
      constexpr Cols K = decltype(cols)::value;
      // The kinds segments() gives a segment of N outputs (a row of several segments has them
      // at least half as wide as narrow_width); the others are not compiled, for build time, and
      // would run as Any, in two halves above any_width.
      if constexpr (K == Cols::Both ||
                    (K == Cols::Any ? N <= any_width<V, KW>() : 2 * N >= narrow_width<V, KW>())) {
        for_each_tile<V>(r, [&](auto masked, const Row& rt, typename V::Mask m)
                                __attribute__((always_inline)) {
          block_fixed<V, KW, 1, N, K, decltype(masked)::value, A>(rt, ow0, m);
        });
      } else if constexpr (K == Cols::Any) {
        segment<V, KW, N / 2, A>(r, N / 2, ow0, Cols::Any);
        segment<V, KW, N - N / 2, A>(r, N - N / 2, ow0 + N / 2, Cols::Any);
      } else {
        segment<V, KW, N, A>(r, N, ow0, Cols::Any);
      }
    };
    switch (kind) {
      case Cols::Inside: go(std::integral_constant<Cols, Cols::Inside>{}); break;
      case Cols::Left: go(std::integral_constant<Cols, Cols::Left>{}); break;
      case Cols::Right: go(std::integral_constant<Cols, Cols::Right>{}); break;
      case Cols::Both: go(std::integral_constant<Cols, Cols::Both>{}); break;
      default: go(std::integral_constant<Cols, Cols::Any>{}); break;
    }
  }
}

template <class V, int KW, Activation A>
static inline void segments(const Row& r, int64_t out_w) {
  constexpr int kNarrow = narrow_width<V, KW>();
  const int64_t count = (out_w + kNarrow - 1) / kNarrow;
  const int64_t base = out_w / count, wider = out_w % count;
  int64_t ow0 = 0;
  for (int64_t k = 0; k < count; ++k) {
    const int64_t n = base + (k < wider ? 1 : 0);
    const Cols kind = !r.same              ? Cols::Any
                      : count == 1         ? Cols::Both
                      : k == 0             ? Cols::Left
                      : k + 1 == count     ? Cols::Right
                                           : Cols::Inside;
    segment<V, KW, kNarrow, A>(r, n, ow0, kind);
    ow0 += n;
  }
}

// Outputs [0, out_w) of a row for kernel width KW and stride S (dilation 1) in blocks of B, then
// 4, 2, 1: the blocks inside [lo, hi), where every tap is inside the image, unclipped; the first
// block (over the left border) and those after the last unclipped one clipped.
template <class V, int KW, int S, int B, Activation A>
static inline void row_fixed(const Row& r, int64_t out_w) {
  int64_t lo, hi;
  valid_outputs(-r.pad_left, S, r.in_w - (KW - 1), out_w, &lo, &hi);
  if constexpr (S == 1) {
    if (r.same || out_w <= any_width<V, KW>()) return segments<V, KW, A>(r, out_w);
  }
  int64_t ow = 0;
  const auto at = [&](auto width, auto clip) {
    constexpr Cols K = decltype(clip)::value ? Cols::Any : Cols::Inside;
    for_each_tile<V>(r, [&](auto masked, const Row& rt, typename V::Mask m) {
      block_fixed<V, KW, S, decltype(width)::value, K, decltype(masked)::value, A>(rt, ow, m);
    });
    ow += decltype(width)::value;
  };
  using Width = std::integral_constant<int, B>;
  if (lo > 0 && B <= out_w) at(Width{}, std::true_type{});
  if (ow >= lo) {
    while (ow + B <= hi) at(Width{}, std::false_type{});
  }
  while (ow + B <= out_w) at(Width{}, std::true_type{});
  if constexpr (B > 4) {
    if (ow + 4 <= out_w) at(std::integral_constant<int, 4>{}, std::true_type{});
  }
  if (ow + 2 <= out_w) at(std::integral_constant<int, 2>{}, std::true_type{});
  if (ow < out_w) at(std::integral_constant<int, 1>{}, std::true_type{});
}

// Outputs [lo, hi) of a row for any kernel: one channel tile at a time (a large kernel's window
// over all tiles would not fit in L1; one tile's window is reused by the next block), in blocks
// of kWide, 8, 4, 1. kWide: 16 where 16 accumulators leave room for one weight and one input
// (AVX-512), else 8; AVX-512's 16 against 8 (1 thread, batch 1, alternating in one process):
// 31x31 C128@32 1.19x, 15x15 C64@32 1.23x, 9x9 C64@28 1.08x, 4x4 C64@56 1.10x.
// Unit stride and dilation along the width take the sliding chunks (block_slide) from 3 taps wide
// (2x2 lost 0.9x); measured against block_any (1 thread, batch 1, µs, two binaries taking turns),
// AVX-512: 31x31 C128@32 1301 -> 642, 15x15 C64@32 175 -> 102, 9x9 C64@28 59 -> 45, 11x11
// C256@14 103 -> 92, 6x6 C64@28 29 -> 20, 4x4 C64@56 67 -> 54; AVX2: 31x31 2300 -> 1549.
template <class V, Activation A>
static inline void blocks_any(const Row& r, int64_t lo, int64_t hi) {
  constexpr int kWide = V::kRegisters - 2 < 16 ? 8 : 16;
  const bool slide = r.stride_w == 1 && r.dilation_w == 1 && r.kernel_w >= 3;
  for_each_tile<V>(r, [&](auto masked, const Row& rt, typename V::Mask m) {
    constexpr bool M = decltype(masked)::value;
    const auto block = [&](auto width, int64_t ow) {
      constexpr int B = decltype(width)::value;
      if (slide) {
        block_slide<V, B, M, A>(rt, ow, m);
      } else {
        block_any<V, B, M, A>(rt, ow, m);
      }
    };
    int64_t ow = lo;
    for (; ow + kWide <= hi; ow += kWide) block(std::integral_constant<int, kWide>{}, ow);
    if constexpr (kWide > 8) {
      if (ow + 8 <= hi) {
        block(std::integral_constant<int, 8>{}, ow);
        ow += 8;
      }
    }
    if (ow + 4 <= hi) {
      block(std::integral_constant<int, 4>{}, ow);
      ow += 4;
    }
    for (; ow < hi; ++ow) block_any<V, 1, M, A>(rt, ow, m);
  });
}

template <class V, Activation A>
static inline void row(const Row& r, int64_t out_w) {
  const bool fixed = r.dilation_w == 1 && (r.stride_w == 1 || r.stride_w == 2);
  // Register budget (16 AVX2 registers): KW weights + B accumulators + 1 input.
  switch (fixed ? r.kernel_w * 10 + r.stride_w : 0) {
    case 31: row_fixed<V, 3, 1, 8, A>(r, out_w); break;
    case 32: row_fixed<V, 3, 2, 8, A>(r, out_w); break;
    case 51: row_fixed<V, 5, 1, 8, A>(r, out_w); break;
    case 52: row_fixed<V, 5, 2, 8, A>(r, out_w); break;
    case 71: row_fixed<V, 7, 1, 6, A>(r, out_w); break;
    case 72: row_fixed<V, 7, 2, 6, A>(r, out_w); break;
    default: blocks_any<V, A>(r, 0, out_w);
  }
}

// 3x3 stride-1 images at most this wide run in the row kernel's segments, wider ones in the
// two-row passes (see run()); dwconv-nhwc-<isa>.cpp may specialise it.
template <class V>
constexpr int segments_max_width_3x3() {
  return narrow_width<V, 3>();
}

template <class V>
void run(const kernels::DwconvNhwcArgs& p) {
  const Geometry& g = p.geometry;
  const int64_t C = p.channels;
  const int64_t taps = p.window.kernel_h * p.window.kernel_w;
  constexpr int64_t T = V::kWidth;
  // 3x3 stride 1: passes of two output rows (dwconv-nhwc-3x3-simd.h), except on images at most
  // segments_max_width_3x3 (AVX2: 12) outputs wide, which take the row kernel's segments: one
  // block per output row and tile, the weights of one kernel row in registers, "same" padding's
  // border columns known at compile time. Measured (1 thread, batch 1, alternating in one
  // process) against the two-row passes: 6x6 C960 1.30-1.96x, 7x7 C160-C960 1.29-1.45x, 8x8
  // C384-C960 1.28-1.82x, 10x10 C576 1.24x, 12x12 C384 1.07-1.10x (with a 3x3 copy of these rows,
  // which the segments then matched or beat: 4x4 C960 1.23x, 7x7 C160 0.97x and C960 1.07x,
  // 10x10 1.23x, 12x12 1.31x). Two rows per block (14 accumulators, weights from memory) measured
  // 0.84-0.93x on 7x7; rows of any width in such segments 0.74-0.94x on 14- to 56-wide images,
  // where the passes read each input row fewer times.
  // With AVX-512's passes of 2 x 8 outputs (dwconv-nhwc-avx512.cpp) the passes win from 6 wide.
  // Stride 2 takes the passes at any width: against the row kernel (1 thread, alternating in one
  // process, on AMD Zen 5) AVX-512 C96@112 1.07-1.08x (batch 8 1.23x), C144@56 1.02-1.04x,
  // C240@28 1.03-1.12x, C576@14 1.38x, C960@7 1.00x; AVX2 1.07-1.21x (batch 8 0.97x). On the
  // Zen 3, AVX2: C96@112 1.17x, C144@56 1.04x, C576@14 0.94x.
  const Window& win = p.window;
  const bool k3x3 = kernels::window_3x3(win);
  with_activation(p.activation, [&](auto tag) {
    constexpr Activation A = decltype(tag)::value;
    if (k3x3 && win.stride_w == 1 && g.out_w > segments_max_width_3x3<V>()) {
      dwconv_nhwc_3x3::run<V, 1, A>(p);
      return;
    }
    if (k3x3 && win.stride_w == 2) {
      dwconv_nhwc_3x3::run<V, 2, A>(p);
      return;
    }
    const int64_t kh_span = (p.window.kernel_h - 1) * p.window.dilation_h + 1;
    for (int64_t oh = p.oh_begin; oh < p.oh_end; ++oh) {
      Row r;
      const int64_t c0 = p.tile_begin * T;
      r.x = p.x + c0;
      r.w = p.packed + p.tile_begin * (1 + taps) * T;
      r.y = p.y + oh * g.out_w * p.y_pixel_stride + c0;
      r.tiles = p.tile_end - p.tile_begin;
      r.w_tile_stride = (1 + taps) * T;
      r.last_tile_channels = min_i64(T, p.lead + C - (p.tile_end - 1) * T);
      r.first_lane = p.tile_begin == 0 ? p.lead : 0;
      r.channels = C;
      r.y_pixel = p.y_pixel_stride;
      r.in_w = g.in_w;
      r.ih0 = oh * p.window.stride_h - g.pad_top;
      r.dilation_h = p.window.dilation_h;
      r.kernel_w = p.window.kernel_w;
      r.stride_w = p.window.stride_w;
      r.dilation_w = p.window.dilation_w;
      r.pad_left = g.pad_left;
      r.same = same_columns(r.kernel_w, r.stride_w, g);
      r.stream = p.stream_y;
      // Kernel rows kh with 0 <= ih0 + kh * dilation_h < in_h.
      valid_outputs(r.ih0, p.window.dilation_h, g.in_h, p.window.kernel_h, &r.kh_lo, &r.kh_hi);
      // With prefetch_rows: the input rows that output row oh + 1 reads and this one does not
      // (whole rows, every channel; past the band's last row, those of the next band), and that
      // row's outputs, spread over this row's tiles and blocks.
      const int64_t next_lo = max_i64(0, r.ih0 + max_i64(kh_span, p.window.stride_h));
      const int64_t next_hi = min_i64(g.in_h + p.rows_below, r.ih0 + p.window.stride_h + kh_span);
      const bool ahead = p.prefetch_rows && next_hi > next_lo;
      const bool next_out = oh + 1 < p.oh_end;
      const int64_t steps = r.tiles * max_i64(1, g.out_w / 8);
      NextRows next{{beside(p.x, next_lo * g.in_w * C), g.in_w * C, g.in_w * C,
                     ahead ? next_hi - next_lo : 0, steps},
                    {beside(p.y, (oh + 1) * g.out_w * r.y_pixel), g.out_w * r.y_pixel,
                     g.out_w * r.y_pixel,
                     ahead && next_out && !p.stream_y ? 1 : 0, steps}};
      r.ahead = ahead ? &next : nullptr;
      row<V, A>(r, g.out_w);
    }
  });
  if (p.stream_y) V::stream_fence();  // the streamed lines reach memory before the caller reads
}

}  // namespace dwconv_nhwc
}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
