// Scalar helpers shared by the kernels of one ISA (epilogue, index ranges). Included inside namespace sepconv::SEPCONV_ISA_NS
// so that each ISA's copy is a distinct symbol (see kernels.h).
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/kernels.h"

#ifndef SEPCONV_ISA_NS
#error "kernel sources are compiled once per ISA with -DSEPCONV_ISA_NS=<isa>"
#endif

namespace sepconv {
namespace SEPCONV_ISA_NS {

static inline float clamp_min(float v, float lo) { return v < lo ? lo : v; }
static inline float clamp_max(float v, float hi) { return v > hi ? hi : v; }

template <Activation A>
static inline float activate(float v) {
  if constexpr (A == Activation::ReLU) {
    return clamp_min(v, 0.0f);
  } else if constexpr (A == Activation::ReLU6) {
    return clamp_max(clamp_min(v, 0.0f), 6.0f);
  } else if constexpr (A == Activation::HardSwish) {
    return v * clamp_max(clamp_min(v + 3.0f, 0.0f), 6.0f) * (1.0f / 6.0f);
  } else if constexpr (A == Activation::SiLU) {
    return v / (1.0f + std::exp(-v));
  } else {
    return v;
  }
}

template <Activation A>
struct ActivationTag {
  static constexpr Activation value = A;
};

// Calls body(ActivationTag<A>{}) with the activation as a compile-time constant, so that the inner
// loops carry no per-element switch: `constexpr Activation A = decltype(tag)::value;`.
template <typename Body>
static inline void with_activation(Activation a, Body&& body) {
  switch (a) {
    case Activation::ReLU: body(ActivationTag<Activation::ReLU>{}); break;
    case Activation::ReLU6: body(ActivationTag<Activation::ReLU6>{}); break;
    case Activation::HardSwish: body(ActivationTag<Activation::HardSwish>{}); break;
    case Activation::SiLU: body(ActivationTag<Activation::SiLU>{}); break;
    default: body(ActivationTag<Activation::None>{}); break;
  }
}

// Calls f(std::integral_constant<int, I>{}) for i == I, I in [First, Last]; nothing for any other
// i. Always inlined, so that a dispatch inside a kernel's loop costs a compare per candidate.
template <int First, int Last, class F>
__attribute__((always_inline)) static inline void with_constant(int64_t i, F&& f) {
  if constexpr (First <= Last) {
    if (i == First) return f(std::integral_constant<int, First>{});
    with_constant<First + 1, Last>(i, f);
  }
}

static inline int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

// row + i for an i that may fall outside the row (lanes a masked load or gather leaves untouched).
// The address is formed on integers because a pointer outside its array is undefined even if never
// dereferenced.
static inline const float* beside(const float* row, int64_t i) {
  return reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(row) +
                                        static_cast<uintptr_t>(i * int64_t(sizeof(float))));
}

template <Activation A>
static inline void activate_row(float* y, int64_t n) {
  if constexpr (A != Activation::None) {
    for (int64_t i = 0; i < n; ++i) y[i] = activate<A>(y[i]);
  }
}

// Output positions o in [*lo, *hi) whose input index o * stride + offset lies in [0, in_size): the
// interior where a tap needs no padding check.
// Stride 1 divides nothing: an integer division costs 10-20 cycles, and kernels call this per tap.
static inline void valid_outputs(int64_t offset, int64_t stride, int64_t in_size, int64_t out_size,
                                 int64_t* lo, int64_t* hi) {
  const int64_t first = offset >= 0 ? 0 : stride == 1 ? -offset : (-offset + stride - 1) / stride;
  const int64_t last_in = in_size - 1 - offset;  // o * stride <= last_in
  const int64_t end = last_in < 0 ? 0 : (stride == 1 ? last_in : last_in / stride) + 1;
  *lo = min_i64(first, out_size);
  *hi = max_i64(*lo, min_i64(end, out_size));
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
