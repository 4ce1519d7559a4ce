// Depthwise convolution, NCHW, 3x3, stride 1, dilation 1, one row and column of padding on every
// side, on planes of narrow rows: width + 1 <= V::kWidth (AVX-512: 2 to 15 columns). Written against
// a vector type V with alignr (vec-avx512.h) and instantiated by dwconv-nchw-3x3s1-narrow-<isa>.cpp.
//
// Such a plane is one flat run of height * width floats in which tap (dy, dx) of output p reads
// input p + dy * width + dx, at most one vector away. The kernel walks the plane's vectors once,
// keeping the vectors before and after the current one in registers, and cuts each tap's inputs
// out of two of them (one VALIGND): every input is loaded once and every output stored once, with
// the 9 taps of a vector in three chains. The rows above and below the plane are the zeros before
// its first vector and after its last (loaded through a lane mask); a tap that wraps into the
// neighbouring row is a column of padding, dropped by a masked FMA. Those masks repeat with the
// phase of the vector's first column, so they are built once per width.
// The per-row kernel (dwconv-nchw-simd.h) runs such a plane as many short border vectors, and the
// interleave through the NHWC kernels copies it in and out. Against the interleave (AVX-512, AMD
// Zen 5, batch 1, µs, 1 thread / 2 threads): C960@7 12.1 -> 8.1 / 7.6 -> 4.8, C384@14 17.2 -> 9.6
// / 10.6 -> 5.5, C512@14 23.0 -> 12.9, C576@10 13.5 -> 7.9, C960@4 4.3 -> 2.6 (NHWC: C960@7 5.7,
// C384@14 9.1, C512@14 15.5). Cutting taps by loads at their shifted addresses instead of VALIGND
// lost (C960@7 6.7 -> 8.7 µs with the two centre-column taps of the rows above and below loaded).
// 5x5 in the same way (up to 7 columns) lost to the interleave: C960@7 16.7 -> 23 µs.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/simd/activation-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace dwconv_nchw_3x3s1_narrow {

template <class V>
constexpr int64_t kMaxWidth = V::kWidth - 1;
constexpr int64_t kMinWidth = 2;

// The lanes of a vector of outputs whose left (right) neighbour column lies inside the row.
template <class V>
struct ColumnMasks {
  typename V::Mask left, right;
};

// The masks of the vectors that start at column (phase * kWidth) % Wd, for every phase a plane's
// vectors go through: Wd / gcd(Wd, kWidth) of them.
template <class V, int Wd>
struct Phases {
  static constexpr int kCount = [] {
    int a = Wd, b = V::kWidth;
    while (b != 0) {
      const int t = a % b;
      a = b;
      b = t;
    }
    return Wd / a;
  }();
  Phases() {
    for (int q = 0; q < kCount; ++q) {
      unsigned left = 0, right = 0;
      for (int l = 0; l < V::kWidth; ++l) {
        const int col = (q * V::kWidth + l) % Wd;
        if (col > 0) left |= 1u << l;
        if (col < Wd - 1) right |= 1u << l;
      }
      phase[q] = {static_cast<typename V::Mask>(left), static_cast<typename V::Mask>(right)};
    }
  }
  ColumnMasks<V> phase[kCount];
};

// The inputs S floats on from each output of the vector `at` (|S| <= kWidth).
template <class V, int S>
__attribute__((always_inline)) static inline typename V::Reg shifted(typename V::Reg before,
                                                                     typename V::Reg at,
                                                                     typename V::Reg after) {
  constexpr int L = V::kWidth;
  if constexpr (S == 0) {
    return at;
  } else if constexpr (S == L) {
    return after;
  } else if constexpr (S == -L) {
    return before;
  } else if constexpr (S > 0) {
    return V::template alignr<S>(after, at);
  } else {
    return V::template alignr<L + S>(at, before);
  }
}

// Kernel row R (dy = R - 1) of the outputs of `at` into acc.
template <class V, int Wd, int R>
__attribute__((always_inline)) static inline typename V::Reg kernel_row(
    typename V::Reg acc, typename V::Reg before, typename V::Reg at, typename V::Reg after,
    const typename V::Reg (&w)[9], const ColumnMasks<V>& cols) {
  constexpr int S = (R - 1) * Wd;
  acc = V::fma(shifted<V, S - 1>(before, at, after), w[3 * R], acc, cols.left);
  acc = V::fma(shifted<V, S>(before, at, after), w[3 * R + 1], acc);
  return V::fma(shifted<V, S + 1>(before, at, after), w[3 * R + 2], acc, cols.right);
}

template <class V, int Wd, Activation A>
__attribute__((always_inline)) static inline typename V::Reg outputs(
    typename V::Reg before, typename V::Reg at, typename V::Reg after,
    const typename V::Reg (&w)[9], typename V::Reg bias, const ColumnMasks<V>& cols) {
  const typename V::Reg above = kernel_row<V, Wd, 0>(bias, before, at, after, w, cols);
  const typename V::Reg middle = kernel_row<V, Wd, 1>(V::zero(), before, at, after, w, cols);
  const typename V::Reg below = kernel_row<V, Wd, 2>(V::zero(), before, at, after, w, cols);
  return vactivate<V, A>(V::add(V::add(above, middle), below));
}

template <class V, int Wd, Activation A>
static void planes(const kernels::DwconvNchwNarrowArgs& a) {
  using Reg = typename V::Reg;
  constexpr int L = V::kWidth;
  static const Phases<V, Wd> phases;
  const int64_t n = a.height * Wd;
  const int64_t vectors = (n + L - 1) / L;
  // Output channel c reads input plane c / multiplier: plane x, its output m of them.
  const float* x = a.x + (a.channel_begin / a.multiplier) * a.x_plane_stride;
  int64_t m = a.channel_begin % a.multiplier;
  for (int64_t c = a.channel_begin; c < a.channel_end; ++c) {
    Reg w[9];
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t) w[t] = V::broadcast(a.weight + c * 9 + t);
    const Reg bias = V::set1(a.bias != nullptr ? a.bias[c] : 0.0f);
    float* y = a.y + c * a.y_plane_stride;
    Reg before = V::zero();
    Reg at = vectors == 1 ? V::load(x, V::tail_mask(n)) : V::load(x);
    int phase = 0;
    // The outputs of vector `at`, then one vector on.
    const auto next = [&](Reg after) __attribute__((always_inline)) {
      const Reg out = outputs<V, Wd, A>(before, at, after, w, bias, phases.phase[phase]);
      before = at;
      at = after;
      if (++phase == phases.kCount) phase = 0;
      return out;
    };
    int64_t j = 0;
    for (; j + 2 < vectors; ++j) V::store(y + j * L, next(V::load(x + (j + 1) * L)));
    if (j + 1 < vectors) {  // the plane's last vector is the one after
      V::store(y + j * L, next(V::load(x + (j + 1) * L, V::tail_mask(n - (j + 1) * L))));
      ++j;
    }
    V::store_first(y + j * L, next(V::zero()), n - j * L);
    if (++m == a.multiplier) {
      m = 0;
      x += a.x_plane_stride;
    }
  }
}

// Calls f(std::integral_constant<int, Wd>{}) for width == Wd, Wd from W to kMaxWidth.
template <class V, int W = kMinWidth, class F>
static inline void with_width(int64_t width, F&& f) {
  if (width == W) return f(std::integral_constant<int, W>{});
  if constexpr (W < kMaxWidth<V>) with_width<V, W + 1>(width, f);
}

template <class V>
void run(const kernels::DwconvNchwNarrowArgs& a) {
  with_activation(a.activation, [&](auto tag) {
    constexpr Activation A = decltype(tag)::value;
    with_width<V>(a.width, [&](auto width) { planes<V, decltype(width)::value, A>(a); });
  });
}

}  // namespace dwconv_nchw_3x3s1_narrow
}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
