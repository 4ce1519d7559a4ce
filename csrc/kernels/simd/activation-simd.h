// Vector epilogue (bias already in the accumulator): the API's activations on a V register.
#pragma once

#include "kernels/isa-common.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {

// e^v: v = n*ln2 + r with |r| <= ln2/2, e^r by its degree-6 Taylor polynomial (relative error
// below 2e-7), then scaled by 2^n. Inputs are clamped to the float range first.
template <class V>
static inline typename V::Reg vexp(typename V::Reg v) {
  using Reg = typename V::Reg;
  v = V::min(V::set1(88.0f), V::max(V::set1(-87.0f), v));
  const Reg n = V::round(V::mul(v, V::set1(1.44269504088896341f)));
  // Two-part ln2 keeps n*ln2 exact enough for |n| up to 127.
  Reg r = V::fma(n, V::set1(-0.693145751953125f), v);
  r = V::fma(n, V::set1(-1.428606765330187045e-6f), r);
  Reg p = V::set1(1.0f / 720.0f);
  p = V::fma(p, r, V::set1(1.0f / 120.0f));
  p = V::fma(p, r, V::set1(1.0f / 24.0f));
  p = V::fma(p, r, V::set1(1.0f / 6.0f));
  p = V::fma(p, r, V::set1(0.5f));
  p = V::fma(p, r, V::set1(1.0f));
  p = V::fma(p, r, V::set1(1.0f));
  return V::mul(p, V::pow2(n));
}

template <class V, Activation A>
static inline typename V::Reg vactivate(typename V::Reg v) {
  if constexpr (A == Activation::ReLU) {
    return V::max(V::zero(), v);
  } else if constexpr (A == Activation::ReLU6) {
    return V::min(V::set1(6.0f), V::max(V::zero(), v));
  } else if constexpr (A == Activation::HardSwish) {
    const auto gate = V::min(V::set1(6.0f), V::max(V::zero(), V::add(v, V::set1(3.0f))));
    return V::mul(V::mul(v, gate), V::set1(1.0f / 6.0f));
  } else if constexpr (A == Activation::SiLU) {
    const auto e = vexp<V>(V::mul(v, V::set1(-1.0f)));
    return V::div(v, V::add(V::set1(1.0f), e));
  } else {
    return v;
  }
}

// A whole output vector to memory: a plain store or, with `stream`, a non-temporal one where a
// vector is a whole cache line (p aligned to it). Streaming spares the read-for-ownership of
// output lines that go to memory anyway; partial lines (AVX2's half lines, masked channel tails)
// stay plain stores, as a half-written line leaves its write-combining buffer early.
template <class V>
static inline void store_whole(float* p, typename V::Reg v, bool stream) {
  if constexpr (V::kLineVector) {
    if (stream) return V::stream(p, v);
  }
  V::store(p, v);
}

}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
