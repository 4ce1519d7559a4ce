// Depthwise convolution, NCHW, stride 1 with output rows as wide as the input rows ("same" width
// padding): written once against a vector type V and instantiated per ISA by
// dwconv-nchw-flat-<isa>.cpp.
//
// Such a plane is one flat run of out_h * in_w outputs in which every tap (kh, kw) reads the input
// plane at one constant shift, (kh * dilation_h - pad_top) * in_w + kw * dilation_w - pad_left. A
// small plane thus fills whole vectors: 7x7 is 7 vectors (49 of 56 lanes), where the row kernel
// (dwconv-nchw-simd.h) runs 7 rows of one 7-lane vector, each with its border masks, stores in
// pieces and per-row setup. Where a tap may read outside the plane (the vectors near its top
// and bottom), every load is masked with that tap's lane mask; inside, a tap outside the image can
// only be a column of padding (or the neighbouring row the flat shift wraps into), so plain loads
// are ANDed with the kernel column's mask, and the centre column needs none. Both kinds of mask are
// built by the operator once per geometry.
// Blocks of NB vectors of two planes at a time: 2 * NB accumulators cover the FMA latency, and
// the two planes share every mask.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/simd/activation-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace dwconv_nchw_flat {

struct Plane {
  const float* x;
  const float* w;  // taps weights
  float bias;
  float* y;
};

// What the planes of one call share.
struct Flat {
  const int64_t* shift;      // per tap, kh-major
  const int32_t* masks;      // [tap][vector][lane]
  const int32_t* col_masks;  // [kw][vector][lane]
  const bool* col_full;      // per kw: its column mask is on in every lane
  int64_t kernel_h, kernel_w, vectors, outputs;
};

// Every accumulator of a block at its plane's bias.
template <class V, int P, int NB>
static inline void start(const Plane (&pl)[P], typename V::Reg (&acc)[P][NB]) {
#pragma GCC unroll 4
  for (int q = 0; q < P; ++q) {
#pragma GCC unroll 8
    for (int b = 0; b < NB; ++b) acc[q][b] = V::set1(pl[q].bias);
  }
}

template <class V, int P, int NB, Activation A>
static inline void store(const Flat& f, const Plane (&pl)[P], int64_t v0,
                         typename V::Reg (&acc)[P][NB]) {
  constexpr int W = V::kWidth;
#pragma GCC unroll 8
  for (int b = 0; b < NB; ++b) {
    const int64_t o = (v0 + b) * W;
#pragma GCC unroll 4
    for (int q = 0; q < P; ++q) {
      const typename V::Reg out = vactivate<V, A>(acc[q][b]);
      if (o + W <= f.outputs) {
        V::store(pl[q].y + o, out);
      } else {
        V::store_first(pl[q].y + o, out, f.outputs - o);
      }
    }
  }
}

// Vectors [v0, v0 + NB) of P planes near the top or bottom of the plane, where a tap may read
// outside it: masked loads with each tap's mask, shared by the P planes.
template <class V, int P, int NB, Activation A>
static inline void edge_block(const Flat& f, const Plane (&pl)[P], int64_t v0) {
  using Reg = typename V::Reg;
  constexpr int W = V::kWidth;
  Reg acc[P][NB];
  start<V, P, NB>(pl, acc);
  const int64_t taps = f.kernel_h * f.kernel_w;
  const int32_t* m = f.masks + v0 * W;
  for (int64_t t = 0; t < taps; ++t, m += f.vectors * W) {
    Reg wt[P];
#pragma GCC unroll 4
    for (int q = 0; q < P; ++q) wt[q] = V::broadcast(pl[q].w + t);
    const int64_t first = v0 * W + f.shift[t];
#pragma GCC unroll 8
    for (int b = 0; b < NB; ++b) {
      const typename V::Mask mb = V::load_mask(m + b * W);
#pragma GCC unroll 4
      for (int q = 0; q < P; ++q) {
        acc[q][b] = V::fma(V::load(beside(pl[q].x, first + b * W), mb), wt[q], acc[q][b]);
      }
    }
  }
  store<V, P, NB, A>(f, pl, v0, acc);
}

// Vectors [v0, v0 + NB) whose loads all lie inside the plane. A tap outside the image there is
// one whose column is (a row outside would put the load outside the plane), so plain loads are
// ANDed with the kernel column's mask, held in registers for the column's taps; the columns that
// never leave the image (kw * dilation_w == pad_left) need no mask at all.
template <class V, int P, int NB, Activation A>
static inline void inside_block(const Flat& f, const Plane (&pl)[P], int64_t v0) {
  using Reg = typename V::Reg;
  using Mask = typename V::Mask;
  constexpr int W = V::kWidth;
  Reg acc[P][NB];
  start<V, P, NB>(pl, acc);
  const auto column = [&](int64_t kw, auto masked) {
    constexpr bool M = decltype(masked)::value;
    Mask m[NB];
    if constexpr (M) {
      const int32_t* cm = f.col_masks + (kw * f.vectors + v0) * W;
#pragma GCC unroll 8
      for (int b = 0; b < NB; ++b) m[b] = V::load_mask(cm + b * W);
    }
    for (int64_t kh = 0; kh < f.kernel_h; ++kh) {
      const int64_t t = kh * f.kernel_w + kw;
      const int64_t first = v0 * W + f.shift[t];
#pragma GCC unroll 4
      for (int q = 0; q < P; ++q) {
        const Reg wt = V::broadcast(pl[q].w + t);
#pragma GCC unroll 8
        for (int b = 0; b < NB; ++b) {
          Reg xv = V::load(pl[q].x + first + b * W);
          if constexpr (M) xv = V::and_mask(xv, m[b]);
          acc[q][b] = V::fma(xv, wt, acc[q][b]);
        }
      }
    }
  };
  for (int64_t kw = 0; kw < f.kernel_w; ++kw) {
    if (f.col_full[kw]) {
      column(kw, std::false_type{});
    } else {
      column(kw, std::true_type{});
    }
  }
  store<V, P, NB, A>(f, pl, v0, acc);
}

// Vectors [begin, end) of P planes in blocks of up to NB.
template <class V, int P, int NB, bool Inside, Activation A>
static inline void span(const Flat& f, const Plane (&pl)[P], int64_t begin, int64_t end) {
  static_assert(NB <= 4, "the remainder below takes up to 3 vectors");
  const auto go = [&](auto nb, int64_t v) {
    constexpr int N = decltype(nb)::value;
    if constexpr (Inside) {
      inside_block<V, P, N, A>(f, pl, v);
    } else {
      edge_block<V, P, N, A>(f, pl, v);
    }
  };
  int64_t v = begin;
  for (; v + NB <= end; v += NB) go(std::integral_constant<int, NB>{}, v);
  switch (end - v) {
    case 3: go(std::integral_constant<int, 3>{}, v); break;
    case 2: go(std::integral_constant<int, 2>{}, v); break;
    case 1: go(std::integral_constant<int, 1>{}, v); break;
    default: break;
  }
}

template <class V>
void run(const kernels::DwconvNchwFlatArgs& a) {
  constexpr int W = V::kWidth;
  constexpr int NB = 4;
  const Window& win = a.window;
  const Geometry& g = a.geometry;
  int64_t shift[kernels::kMaxFlatTaps];
  bool col_full[kernels::kMaxFlatTaps];
  int64_t shift_lo = 0, shift_hi = 0;
  for (int64_t kh = 0; kh < win.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < win.kernel_w; ++kw) {
      const int64_t s =
          (kh * win.dilation_h - g.pad_top) * g.in_w + kw * win.dilation_w - g.pad_left;
      shift[kh * win.kernel_w + kw] = s;
      shift_lo = kh + kw == 0 ? s : min_i64(shift_lo, s);
      shift_hi = kh + kw == 0 ? s : max_i64(shift_hi, s);
    }
  }
  for (int64_t kw = 0; kw < win.kernel_w; ++kw) col_full[kw] = kw * win.dilation_w == g.pad_left;
  Flat f;
  f.shift = shift;
  f.masks = a.masks;
  f.col_masks = a.col_masks;
  f.col_full = col_full;
  f.kernel_h = win.kernel_h;
  f.kernel_w = win.kernel_w;
  f.outputs = g.out_h * g.out_w;
  f.vectors = (f.outputs + W - 1) / W;
  // Vectors v whose loads all lie in the plane: v * W + shift_lo >= 0 and
  // (v + 1) * W + shift_hi <= in_h * in_w.
  const int64_t inside_lo = min_i64(f.vectors, shift_lo >= 0 ? 0 : (-shift_lo + W - 1) / W);
  const int64_t inside_hi =
      max_i64(inside_lo, min_i64(f.vectors, (g.in_h * g.in_w - shift_hi) / W));
  const auto plane = [&](int64_t c) {
    return Plane{a.x + (c / a.multiplier) * a.x_plane_stride,
                 a.weight + c * win.kernel_h * win.kernel_w,
                 a.bias != nullptr ? a.bias[c] : 0.0f, a.y + c * a.y_plane_stride};
  };
  with_activation(a.activation, [&](auto tag) {
    constexpr Activation A = decltype(tag)::value;
    const auto planes = [&](const auto& pl) {
      constexpr int P = sizeof(pl) / sizeof(Plane);
      span<V, P, NB, false, A>(f, pl, 0, inside_lo);
      span<V, P, NB, true, A>(f, pl, inside_lo, inside_hi);
      span<V, P, NB, false, A>(f, pl, inside_hi, f.vectors);
    };
    int64_t c = a.channel_begin;
    for (; c + 2 <= a.channel_end; c += 2) {
      const Plane pair[2] = {plane(c), plane(c + 1)};
      planes(pair);
    }
    if (c < a.channel_end) {
      const Plane one[1] = {plane(c)};
      planes(one);
    }
  });
}

}  // namespace dwconv_nchw_flat
}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
