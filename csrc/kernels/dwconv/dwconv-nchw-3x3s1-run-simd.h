// Depthwise convolution, NCHW, 3x3, stride 1, dilation 1, one row and column of padding on every
// side, rows of at least two columns: whole planes or bands of their rows. Written against a vector
// type V with alignr (vec-avx512.h) and instantiated by dwconv-nchw-3x3s1-run-<isa>.cpp.
//
// The output rows of a plane are one flat run of floats in which tap (dy, dx) of output p reads
// input p + dy * width + dx. The kernel walks the run's vectors once and cuts each tap's inputs out
// of two neighbouring vectors (one VALIGND) of a window that slides along with it: every input is
// loaded once per kernel row at most and every output stored once, with the 9 taps of a vector in
// three chains. Rows narrower than a vector (narrow_plane) need one window of three vectors for all
// kernel rows; wider rows (wide_plane) a window per kernel row, `width` floats apart, whose lane
// offsets depend on width % kWidth only (a template parameter). Input outside the rows given (the
// padding above and below) loads as zeros through lane masks; a tap that wraps into the
// neighbouring row is a column of padding, dropped by a masked FMA whose masks follow the column of
// the vector's first output. Bands run the same code as whole planes, so that a result does not
// depend on how the threads split the rows. Narrow whole planes stored back to back may instead
// run as one flat run over all the call's planes (flat_planes), whose vectors span plane ends.
// The per-row kernel (dwconv-nchw-simd.h) runs a row as border and interior vectors of its own,
// and the interleave through the NHWC kernels copies the planes in and out. Measured (AVX-512, AMD
// Zen 5, batch 1, µs, 1 thread / 2 threads): against the interleave C960@7 12.1 -> 8.1 / 7.6 ->
// 4.8, C384@14 17.2 -> 9.6 / 10.6 -> 5.5, C512@14 23.0 -> 12.9, C576@10 13.5 -> 7.9, C960@4 4.3 ->
// 2.6; against the per-row kernel C144@56 90 -> 60, C32@112 54 -> 48 (NHWC: C960@7 5.7, C384@14
// 9.1, C512@14 15.5, C144@56 49, C32@112 46). The wide walk on narrow planes lost (C960@7 18
// against 7.6: three windows, and most of a 4-vector plane's loads are the checked ones at its
// ends). Cutting taps by loads at their shifted addresses instead of VALIGND lost (C960@7 6.7 ->
// 8.7 with the two centre-column taps of the rows above and below loaded); so did 5x5 on narrow
// planes in the same way, against the interleave (C960@7 16.7 -> 23).
#pragma once

#include <cstdint>
#include <numeric>
#include <type_traits>
#include <vector>

#include "kernels/dwconv/dwconv-nchw-planes-simd.h"
#include "kernels/simd/activation-simd.h"

namespace sepconv {
namespace SEPCONV_ISA_NS {
namespace dwconv_nchw_3x3s1_run {

constexpr int64_t kMinWidth = 2;

template <class V>
using Window = typename V::Reg[3];

// Lanes R .. R + kWidth - 1 of the 3 * kWidth floats of w (0 <= R <= 2 * kWidth).
template <class V, int R>
__attribute__((always_inline)) static inline typename V::Reg cut(const Window<V>& w) {
  constexpr int L = V::kWidth;
  static_assert(R >= 0 && R <= 2 * L, "a tap's inputs lie in its window");
  if constexpr (R % L == 0) {
    return w[R / L];
  } else {
    return V::template alignr<R % L>(w[R / L + 1], w[R / L]);
  }
}

// The lanes of a vector of outputs whose left (right) neighbour column lies inside the row.
template <class V>
struct ColumnMasks {
  typename V::Mask left, right;
};

// The column masks of the vectors of a run with rows `width` wide, from the column of each
// vector's first output, col0.
template <class V>
struct Columns {
  explicit Columns(int64_t width) : width(width), step(V::kWidth % width) {
    for (int64_t k = 0; k * width < V::kWidth; ++k) comb |= 1u << (k * width);
  }
  __attribute__((always_inline)) ColumnMasks<V> masks() const {
    return {lanes_except(col0 == 0 ? 0 : width - col0), lanes_except(width - 1 - col0)};
  }
  __attribute__((always_inline)) void advance() {
    col0 += step;
    if (col0 >= width) col0 -= width;
  }
  // Every lane but first, first + width, ...
  __attribute__((always_inline)) typename V::Mask lanes_except(int64_t first) const {
    return static_cast<typename V::Mask>(first < V::kWidth ? ~(comb << first) : ~0u);
  }
  int64_t width, step, col0 = 0;
  unsigned comb = 0;  // a lane every `width` from lane 0
};

// The masks of rows Wd wide for each phase of a run's vectors, col0 = (phase * kWidth) % Wd:
// there are Wd / gcd(Wd, kWidth) of them. Looked up, not computed per vector: narrow planes have
// few vectors, and the computation cost 1.2x there (C960@7).
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
    Columns<V> cols(Wd);
    for (int q = 0; q < kCount; ++q, cols.advance()) phase[q] = cols.masks();
  }
  ColumnMasks<V> phase[kCount];
};

// Kernel row R of the outputs of a vector, whose inputs for column dx lie at lane RL + 1 + dx of
// the window.
template <class V, int R, int RL>
__attribute__((always_inline)) static inline typename V::Reg kernel_row(
    typename V::Reg acc, const Window<V>& in, const typename V::Reg (&w)[9],
    typename V::Mask left, typename V::Mask right) {
  acc = V::fma(cut<V, RL>(in), w[3 * R], acc, left);
  acc = V::fma(cut<V, RL + 1>(in), w[3 * R + 1], acc);
  return V::fma(cut<V, RL + 2>(in), w[3 * R + 2], acc, right);
}

// The outputs of a vector from the windows of the rows above, at and below it (RA, RB: the lane
// of the input left of the first output's neighbour above and below).
template <class V, int RA, int RB, Activation A>
__attribute__((always_inline)) static inline typename V::Reg outputs(
    const Window<V>& above, const Window<V>& at, const Window<V>& below,
    const typename V::Reg (&w)[9], typename V::Reg bias, const ColumnMasks<V>& cols) {
  const typename V::Mask left = cols.left, right = cols.right;
  const typename V::Reg top = kernel_row<V, 0, RA>(bias, above, w, left, right);
  const typename V::Reg middle = kernel_row<V, 1, V::kWidth - 1>(V::zero(), at, w, left, right);
  const typename V::Reg bottom = kernel_row<V, 2, RB>(V::zero(), below, w, left, right);
  return vactivate<V, A>(V::add(V::add(top, middle), bottom));
}

// The output rows of one plane as a run of n floats from y, and its input: x at the input of the
// first output (the centre tap), readable from x + lo to x + hi (lo <= 0: the rows above; the
// rest is padding).
template <class V>
struct Run {
  const float* x;
  int64_t lo, hi;
  int64_t n, vectors;
  // Vector i of the input run: the inputs of vector i of outputs, zeros outside [lo, hi).
  __attribute__((always_inline)) typename V::Reg at(int64_t i) const {
    const int64_t first = i * V::kWidth;
    if (first >= lo && first + V::kWidth <= hi) return V::load(x + first);
    return at(i, lanes(i));
  }
  // Vector i through its lanes inside [lo, hi).
  __attribute__((always_inline)) typename V::Mask lanes(int64_t i) const {
    return V::range_mask(lo - i * V::kWidth, hi - i * V::kWidth);
  }
  // (The tests cost less than the masked loads on whole planes, where these vectors are zeros or
  // whole.)
  __attribute__((always_inline)) typename V::Reg at(int64_t i, typename V::Mask lanes) const {
    if (lanes == 0) return V::zero();
    if (lanes == V::all_lanes()) return V::load(x + i * V::kWidth);
    return V::load(beside(x, i * V::kWidth), lanes);
  }
  __attribute__((always_inline)) void store(float* y, int64_t i, typename V::Reg v) const {
    if (i == vectors - 1) {
      V::store_first(y + i * V::kWidth, v, n - i * V::kWidth);
    } else {
      V::store(y + i * V::kWidth, v);
    }
  }
};

template <class V>
__attribute__((always_inline)) static inline void slide(Window<V>& w, typename V::Reg next) {
  w[0] = w[1];
  w[1] = w[2];
  w[2] = next;
}

// The lanes of the loads at a run's ends, the same for every plane of a call: before = lanes(-1),
// first = lanes(0), last = lanes(vectors - 1), after = lanes(vectors).
template <class V>
struct Ends {
  typename V::Mask before, first, last, after;
};

// Rows of Wd < kWidth columns: one window (the vectors before, at and after the vector) for all
// kernel rows.
template <class V, int Wd, Activation A>
static inline void narrow_plane(const Run<V>& run, const Ends<V>& ends, float* y,
                                const typename V::Reg (&w)[9], typename V::Reg bias) {
  constexpr int L = V::kWidth;
  static const Phases<V, Wd> phases;
  int phase = 0;
  Window<V> in = {V::zero(), run.at(-1, ends.before), run.at(0, ends.first)};
  // The outputs of the vector after sliding `next` into the window.
  const auto outputs_with = [&](typename V::Reg next) __attribute__((always_inline)) {
    slide<V>(in, next);
    const typename V::Reg out =
        outputs<V, L - Wd - 1, L + Wd - 1, A>(in, in, in, w, bias, phases.phase[phase]);
    if (++phase == phases.kCount) phase = 0;
    return out;
  };
  // Planes of a few vectors: their ends written out, with the ends' lanes computed once per call
  // (checking the loads per vector cost 1.4x on C960@7).
  int64_t j = 0;
  for (; j + 2 < run.vectors; ++j) V::store(y + j * L, outputs_with(V::load(run.x + (j + 1) * L)));
  if (j + 1 < run.vectors) {  // the plane's last vector is the one after
    V::store(y + j * L, outputs_with(run.at(j + 1, ends.last)));
    ++j;
  }
  V::store_first(y + j * L, outputs_with(run.at(j + 1, ends.after)), run.n - j * L);
}

// Rows of at least kWidth columns, width % kWidth == B: the windows of the rows above and below
// start qa and qb vectors from the vector's own (before it, at it, after it: q = -1).
template <class V, int B, Activation A>
static inline void wide_plane(const Run<V>& run, int64_t width, float* y,
                              const typename V::Reg (&w)[9], typename V::Reg bias) {
  constexpr int L = V::kWidth;
  constexpr int RA = ((-B - 1) % L + L) % L, RB = (B + L - 1) % L;
  const int64_t qa = (-width - 1 - RA) / L, qb = (width - 1 - RB) / L;
  Columns<V> cols(width);
  Window<V> above = {V::zero(), run.at(qa), run.at(qa + 1)};
  Window<V> at = {V::zero(), run.at(-1), run.at(0)};
  Window<V> below = {V::zero(), run.at(qb), run.at(qb + 1)};
  // Vector j's outputs, after sliding the windows on by load(i), which returns vector i.
  const auto outputs_at = [&](int64_t j, auto load) __attribute__((always_inline)) {
    slide<V>(above, load(j + qa + 2));
    slide<V>(at, load(j + 1));
    slide<V>(below, load(j + qb + 2));
    const typename V::Reg out = outputs<V, RA, RB, A>(above, at, below, w, bias, cols.masks());
    cols.advance();
    return out;
  };
  const auto checked = [&](int64_t i) __attribute__((always_inline)) { return run.at(i); };
  const auto whole = [&](int64_t i) __attribute__((always_inline)) {
    return V::load(run.x + i * L);
  };
  // The vectors whose loads all lie inside the plane, on whole vectors, in [lo, hi).
  const int64_t lo = min_i64(run.vectors, max_i64(0, -(qa + 2)));
  const int64_t hi = max_i64(lo, run.vectors - 1 - (qb + 2));
  int64_t j = 0;
  for (; j < lo; ++j) run.store(y, j, outputs_at(j, checked));
  for (; j < hi; ++j) V::store(y + j * L, outputs_at(j, whole));
  for (; j < run.vectors; ++j) run.store(y, j, outputs_at(j, checked));
}

// The lanes of a vector of a flat run over planes stored back to back whose left and right
// neighbours (cols) and whose rows above and below (rows) lie inside their own plane.
template <class V>
struct PlaneLanes {
  ColumnMasks<V> cols;
  typename V::Mask above, below;
};

// PlaneLanes for each phase of a run of whole H x Wd planes: vector j at phase j mod count, there
// being H x Wd / gcd(H x Wd, kWidth) phases.
template <class V, int Wd>
struct PlanePhases {
  int64_t height = -1;
  std::vector<PlaneLanes<V>> phase;
  void build(int64_t h) {
    constexpr int L = V::kWidth;
    const int64_t plane = h * Wd;
    const int64_t count = plane / std::gcd(plane, int64_t(L));
    phase.assign(count, PlaneLanes<V>{});
    for (int64_t q = 0; q < count; ++q) {
      for (int l = 0; l < L; ++l) {
        const int64_t at = (q * L + l) % plane, row = at / Wd, col = at % Wd;
        const auto lane = static_cast<typename V::Mask>(1u << l);
        if (col > 0) phase[q].cols.left |= lane;
        if (col < Wd - 1) phase[q].cols.right |= lane;
        if (row > 0) phase[q].above |= lane;
        if (row < h - 1) phase[q].below |= lane;
      }
    }
    height = h;
  }
};

// The outputs of a flat run's vector: the kernel rows above and below count only on the lanes
// whose row has a neighbour there in its own plane.
template <class V, int Wd, Activation A>
__attribute__((always_inline)) static inline typename V::Reg plane_outputs(
    const Window<V>& in, const typename V::Reg (&w)[9], typename V::Reg bias,
    const PlaneLanes<V>& m) {
  constexpr int L = V::kWidth;
  const typename V::Reg top =
      kernel_row<V, 0, L - Wd - 1>(V::zero(), in, w, m.cols.left, m.cols.right);
  const typename V::Reg middle = kernel_row<V, 1, L - 1>(bias, in, w, m.cols.left, m.cols.right);
  const typename V::Reg bottom =
      kernel_row<V, 2, L + Wd - 1>(V::zero(), in, w, m.cols.left, m.cols.right);
  return vactivate<V, A>(V::add_on(V::add_on(middle, m.above, top), m.below, bottom));
}

// The weights and bias (biases may be null) of output channel c broadcast to vectors. Pointers,
// not the call's arguments: the stores may alias those, whose fields would be reloaded.
template <class V>
__attribute__((always_inline)) static inline void plane_weights(
    const float* weight, const float* biases, int64_t c, typename V::Reg (&w)[9],
    typename V::Reg& bias) {
#pragma GCC unroll 9
  for (int t = 0; t < 9; ++t) w[t] = V::broadcast(weight + c * 9 + t);
  bias = V::set1(biases != nullptr ? biases[c] : 0.0f);
}

// Narrow planes (Wd < kWidth) of at least a vector each, whole and stored back to back, multiplier
// 1: the call's planes as one flat run of vectors (flat_run says when). A vector may hold the end
// of one plane and the start of the next, whose lanes take the next plane's weights (a masked
// broadcast per tap); the kernel rows above and below count only on the lanes whose row has a
// neighbour there in its own plane, the columns are masked as in a plane's run. A 7x7 plane takes
// 3.06 vectors instead of 4. The masks of each phase come from a per-thread table, rebuilt when
// the height changes.
template <class V, int Wd, Activation A>
static void flat_planes(const kernels::DwconvNchwRunArgs& a) {
  using Reg = typename V::Reg;
  using Mask = typename V::Mask;
  constexpr int L = V::kWidth;
  static thread_local PlanePhases<V, Wd> phases;
  if (phases.height != a.out_rows) phases.build(a.out_rows);
  const PlaneLanes<V>* const table = phases.phase.data();
  const int64_t count = static_cast<int64_t>(phases.phase.size());
  const int64_t plane = a.out_rows * Wd;
  const int64_t c_end = a.channel_end;
  const int64_t n = (c_end - a.channel_begin) * plane;
  const float* const x = a.x + a.channel_begin * plane;
  float* const y = a.y + a.channel_begin * plane;
  const float* const weight = a.weight;
  const float* const biases = a.bias;
  const int64_t vectors = (n + L - 1) / L;
  int64_t c = a.channel_begin;
  Reg w[9], bias;
  plane_weights<V>(weight, biases, c, w, bias);
  int64_t plane_end = plane;  // the run's float where plane c ends
  Window<V> in = {V::zero(), V::zero(), n >= L ? V::load(x) : V::load(x, V::tail_mask(n))};
  int64_t phase = 0;
  for (int64_t j = 0; j < vectors; ++j) {
    const int64_t first = j * L;
    const int64_t ahead = first + L;  // the next vector's first float
    Reg next;
    if (ahead + L <= n) {
      next = V::load(x + ahead);
    } else {
      next = ahead < n ? V::load(x + ahead, V::tail_mask(n - ahead)) : V::zero();
    }
    slide<V>(in, next);
    const PlaneLanes<V> m = table[phase];
    Reg out;
    if (ahead <= plane_end || c + 1 >= c_end) {
      out = plane_outputs<V, Wd, A>(in, w, bias, m);
    } else {  // lanes from plane_end - first on take plane c + 1's weights
      const Mask later = static_cast<Mask>(~V::tail_mask(plane_end - first));
      Reg wn[9];
#pragma GCC unroll 9
      for (int t = 0; t < 9; ++t) wn[t] = V::select(later, w[t], weight + (c + 1) * 9 + t);
      const Reg bn = biases != nullptr ? V::select(later, bias, biases + c + 1) : bias;
      out = plane_outputs<V, Wd, A>(in, wn, bn, m);
    }
    if (ahead <= n) {
      V::store(y + first, out);
    } else {
      V::store_first(y + first, out, n - first);
    }
    if (ahead >= plane_end && c + 1 < c_end) {
      plane_weights<V>(weight, biases, ++c, w, bias);
      plane_end += plane;
    }
    if (++phase == count) phase = 0;
  }
}

// The run of a plane whose input rows start at x.
template <class V>
static inline Run<V> plane_run(const kernels::DwconvNchwRunArgs& a, const float* x) {
  const int64_t n = a.out_rows * a.width;
  const int64_t above = (1 - a.pad_top) * a.width;  // input floats before the first output's
  return {x + above, -above, a.in_rows * a.width - above, n, (n + V::kWidth - 1) / V::kWidth};
}

// Calls plane(run, y, weights, bias) for each output channel's plane.
template <class V, class Plane>
static inline void planes(const kernels::DwconvNchwRunArgs& a, Plane&& plane) {
  Run<V> run = plane_run<V>(a, a.x);
  const int64_t above = run.x - a.x;
  for_each_plane<V, 9>(a, [&](const float* x, float* y, const auto& w, auto bias) {
    run.x = x + above;
    plane(run, y, w, bias);
  });
}

// Whether the call's planes run as one flat run (flat_planes): whole planes back to back,
// multiplier 1, at least a vector each, and either at most two vectors each or their last vector
// at least an eighth of the plane idle. Measured against a run per plane (AVX-512, AMD Zen 5,
// 1 thread, batch 1, alternating in one process): 4x4 C960 1.27x, 5x5 C960 1.04x, 6x6 C960 1.19x,
// 7x7 C960 1.11x (batch 8 1.11x, 2 threads 1.11x), C576 1.09x; but 8x8 C960 0.95x, 12x12 C384
// 0.93x, 14x14 C384 0.98x (10x10 C576 1.03x, not taken), whose planes fill their vectors. The
// next plane's weights as masked broadcasts from memory, instead of tested for null with the bias,
// then took 6x6 and 7x7 a further 1.12x and 1.08x (7x7 C960: 9.1 -> 7.6 µs in all).
template <class V>
static inline bool flat_run(const kernels::DwconvNchwRunArgs& a) {
  constexpr int64_t L = V::kWidth;
  const int64_t plane = a.out_rows * a.width, vectors = (plane + L - 1) / L;
  const bool back_to_back = a.multiplier == 1 && a.in_rows == a.out_rows && a.pad_top == 1 &&
                            a.x_plane_stride == plane && a.y_plane_stride == plane;
  return back_to_back && plane >= L && (vectors <= 2 || 8 * (vectors * L - plane) >= plane);
}

template <class V>
void run(const kernels::DwconvNchwRunArgs& a) {
  constexpr int L = V::kWidth;
  // The flat run dispatched on its own: inside the per-plane dispatch below it changed how GCC
  // compiled the planes' runs, which took C144@56 1.11x and C192@28 1.10x longer.
  if (a.width < L && flat_run<V>(a)) {
    with_activation(a.activation, [&](auto tag) {
      with_constant<kMinWidth, L - 1>(a.width, [&](auto width) {
        flat_planes<V, decltype(width)::value, decltype(tag)::value>(a);
      });
    });
    return;
  }
  with_activation(a.activation, [&](auto tag) {
    constexpr Activation A = decltype(tag)::value;
    if (a.width < L) {
      const Run<V> r = plane_run<V>(a, a.x);
      const Ends<V> ends{r.lanes(-1), r.lanes(0), r.lanes(r.vectors - 1), r.lanes(r.vectors)};
      with_constant<kMinWidth, L - 1>(a.width, [&](auto width) {
        planes<V>(a, [&](const Run<V>& run, float* y, const auto& w, auto bias) {
          narrow_plane<V, decltype(width)::value, A>(run, ends, y, w, bias);
        });
      });
    } else {
      with_constant<0, L - 1>(a.width % L, [&](auto rest) {
        planes<V>(a, [&](const Run<V>& run, float* y, const auto& w, auto bias) {
          wide_plane<V, decltype(rest)::value, A>(run, a.width, y, w, bias);
        });
      });
    }
  });
}

}  // namespace dwconv_nchw_3x3s1_run
}  // namespace SEPCONV_ISA_NS
}  // namespace sepconv
