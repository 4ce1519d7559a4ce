// Depthwise convolution, NCHW, stride 1 with output rows as wide as the input rows ("same" width
// padding): written once against a vector type V and instantiated per ISA by
// dwconv-nchw-flat-<isa>.cpp.
//
// Such a plane is one flat run of out_h * in_w outputs in which every tap (kh, kw) reads the input
// plane at one constant shift, (kh * dilation_h - pad_top) * in_w + kw * dilation_w - pad_left. A
// small plane thus fills whole vectors: 7x7 is 7 vectors (49 of 56 lanes), where the row kernel
// (dwconv-nchw-simd.h) runs 7 rows of one 7-lane vector, each with its border masks, stores in
// pieces and per-row setup. Lanes whose tap lies outside the image (padding, or the neighbouring
// row a flat shift wraps into) are loaded through the per-tap, per-vector masks the operator
// builds once per geometry, so no load touches memory outside the plane. That is two loads per
// FMA, which is why the operator uses this kernel only for narrow planes.
// NB vectors of one plane per block: NB accumulators cover the FMA latency, and each tap's weight
// is broadcast once per block.
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
  const int64_t* shift;  // per tap
  const int32_t* masks;  // [tap][vector][lane]
  int64_t taps, vectors, outputs;
};

// Vectors [v0, v0 + NB) of P planes, which share each mask load. Safe: every lane of every load
// lies inside the plane, so a plain load ANDed with the mask replaces the masked load (VMASKMOVPS
// has a fraction of a plain load's throughput).
template <class V, int P, int NB, bool Safe, Activation A>
static inline void block(const Flat& f, const Plane (&pl)[P], int64_t v0) {
  using Reg = typename V::Reg;
  constexpr int W = V::kWidth;
  Reg acc[P][NB];
#pragma GCC unroll 4
  for (int q = 0; q < P; ++q) {
    const Reg bias = V::set1(pl[q].bias);
#pragma GCC unroll 8
    for (int b = 0; b < NB; ++b) acc[q][b] = bias;
  }
  const int64_t mask_tap_stride = f.vectors * W;
  const int32_t* m = f.masks + v0 * W;
  for (int64_t t = 0; t < f.taps; ++t) {
    Reg wt[P];
#pragma GCC unroll 4
    for (int q = 0; q < P; ++q) wt[q] = V::broadcast(pl[q].w + t);
    const int64_t first = v0 * W + f.shift[t];
#pragma GCC unroll 8
    for (int b = 0; b < NB; ++b) {
      const typename V::Mask mb = V::load_mask(m + b * W);
#pragma GCC unroll 4
      for (int q = 0; q < P; ++q) {
        const Reg xv = Safe ? V::and_mask(V::load(pl[q].x + first + b * W), mb)
                            : V::load(beside(pl[q].x, first + b * W), mb);
        acc[q][b] = V::fma(xv, wt[q], acc[q][b]);
      }
    }
    m += mask_tap_stride;
  }
#pragma GCC unroll 8
  for (int b = 0; b < NB; ++b) {
    const int64_t o = (v0 + b) * W;
#pragma GCC unroll 4
    for (int q = 0; q < P; ++q) {
      const Reg out = vactivate<V, A>(acc[q][b]);
      if (o + W <= f.outputs) {
        V::store(pl[q].y + o, out);
      } else {
        V::store_first(pl[q].y + o, out, f.outputs - o);
      }
    }
  }
}

// The vectors of P planes: blocks of NB, then one block of the remaining vectors; plain loads
// where the block's loads stay inside [0, inputs).
template <class V, int P, int NB, Activation A>
static inline void planes(const Flat& f, const Plane (&pl)[P], int64_t safe_lo, int64_t safe_hi) {
  int64_t v = 0;
  const auto go = [&](auto nb) {
    constexpr int N = decltype(nb)::value;
    if (v >= safe_lo && v + N <= safe_hi) {
      block<V, P, N, true, A>(f, pl, v);
    } else {
      block<V, P, N, false, A>(f, pl, v);
    }
    v += N;
  };
  for (; v + NB <= f.vectors; ) go(std::integral_constant<int, NB>{});
  switch (f.vectors - v) {
    case 3: go(std::integral_constant<int, 3>{}); break;
    case 2: go(std::integral_constant<int, 2>{}); break;
    case 1: go(std::integral_constant<int, 1>{}); break;
    default: break;
  }
}

template <class V>
void run(const kernels::DwconvNchwFlatArgs& a) {
  constexpr int W = V::kWidth;
  constexpr int NB = 4;
  static_assert(NB == 4, "planes() handles remainders of up to 3 vectors");
  const Window& win = a.window;
  const Geometry& g = a.geometry;
  const int64_t taps = win.kernel_h * win.kernel_w;
  int64_t shift[kernels::kMaxFlatTaps];
  int64_t shift_lo = 0, shift_hi = 0;
  for (int64_t kh = 0; kh < win.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < win.kernel_w; ++kw) {
      const int64_t s = (kh * win.dilation_h - g.pad_top) * g.in_w + kw * win.dilation_w - g.pad_left;
      shift[kh * win.kernel_w + kw] = s;
      shift_lo = kh + kw == 0 ? s : min_i64(shift_lo, s);
      shift_hi = kh + kw == 0 ? s : max_i64(shift_hi, s);
    }
  }
  Flat f;
  f.shift = shift;
  f.masks = a.masks;
  f.taps = taps;
  f.outputs = g.out_h * g.out_w;
  f.vectors = (f.outputs + W - 1) / W;
  // Vectors v whose loads all lie in the plane: v * W + shift_lo >= 0 and
  // (v + 1) * W + shift_hi <= in_h * in_w.
  const int64_t safe_lo = shift_lo >= 0 ? 0 : (-shift_lo + W - 1) / W;
  const int64_t safe_hi = max_i64(0, (g.in_h * g.in_w - shift_hi) / W);
  const auto plane = [&](int64_t c) {
    return Plane{a.x + (c / a.multiplier) * a.x_plane_stride, a.weight + c * taps,
                 a.bias != nullptr ? a.bias[c] : 0.0f, a.y + c * a.y_plane_stride};
  };
  with_activation(a.activation, [&](auto tag) {
    constexpr Activation A = decltype(tag)::value;
    int64_t c = a.channel_begin;
    for (; c + 2 <= a.channel_end; c += 2) {
      const Plane pair[2] = {plane(c), plane(c + 1)};
      planes<V, 2, NB, A>(f, pair, safe_lo, safe_hi);
    }
    if (c < a.channel_end) {
      const Plane one[1] = {plane(c)};
      planes<V, 1, NB, A>(f, one, safe_lo, safe_hi);
    }
  });
}

}  // namespace dwconv_nchw_flat
}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
