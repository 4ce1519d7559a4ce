// Standard (grouped) convolution as GEMM over im2col tiles: each task gathers the patches of a block
// of output pixels into a per-thread buffer and multiplies them by the group's weights.
#include <algorithm>

#include "core/check.h"
#include "core/dispatch.h"
#include "core/operators.h"
#include "core/parallel.h"

namespace sepconv {
namespace detail {

namespace {

// Keeps a thread's im2col tile near L2-sized (256 K floats = 1 MiB).
constexpr int64_t kMaxTileFloats = int64_t(1) << 18;

// Input row/column of output (oh, ow) at tap (kh, kw), or -1 inside the padding.
struct TapIndex {
  const ConvPlan& p;
  int64_t ih(int64_t oh, int64_t kh) const {
    const int64_t i = oh * p.window.stride_h - p.geometry.pad_top + kh * p.window.dilation_h;
    return i >= 0 && i < p.geometry.in_h ? i : -1;
  }
  int64_t iw(int64_t ow, int64_t kw) const {
    const int64_t i = ow * p.window.stride_w - p.geometry.pad_left + kw * p.window.dilation_w;
    return i >= 0 && i < p.geometry.in_w ? i : -1;
  }
};

}  // namespace

void run_conv2d(const ConvPlan& p, const float* x, const float* weight, const float* bias,
                float* y) {
  const kernels::KernelTable& kt = active_kernels();
  const Geometry& g = p.geometry;
  const int64_t kh_n = p.window.kernel_h, kw_n = p.window.kernel_w, taps = kh_n * kw_n;
  const int64_t cin_g = p.in_channels / p.groups, cout_g = p.out_channels / p.groups;
  const int64_t depth = cin_g * taps;  // GEMM k
  const int64_t pixels = p.out_pixels();
  const int64_t threads = get_num_threads();
  int64_t block = block_size_for(pixels, p.batch * p.groups, 4 * threads, 16);
  block = std::max<int64_t>(1, std::min(block, std::max<int64_t>(16, kMaxTileFloats / depth)));
  const int64_t blocks = ceil_div(pixels, block);
  std::vector<float> tiles(static_cast<size_t>(threads * block * depth));
  const TapIndex at{p};

  if (p.layout == Layout::NCHW) {
    // Y_g (Cout_g x P) = W_g (Cout_g x Cin_g*K*K) * col (Cin_g*K*K x P); W_g is already row-major.
    parallel_for(p.batch * p.groups * blocks, [&](int64_t task, int thread) {
      const int64_t n = task / (p.groups * blocks);
      const int64_t grp = (task / blocks) % p.groups;
      const int64_t p0 = (task % blocks) * block;
      const int64_t nb = std::min(block, pixels - p0);
      float* col = tiles.data() + thread * block * depth;
      const float* xg = x + (n * p.in_channels + grp * cin_g) * p.in_pixels();
      for (int64_t ci = 0; ci < cin_g; ++ci) {
        for (int64_t kh = 0; kh < kh_n; ++kh) {
          for (int64_t kw = 0; kw < kw_n; ++kw) {
            float* dst = col + ((ci * kh_n + kh) * kw_n + kw) * nb;
            for (int64_t j = 0; j < nb; ++j) {
              const int64_t ih = at.ih((p0 + j) / g.out_w, kh);
              const int64_t iw = at.iw((p0 + j) % g.out_w, kw);
              dst[j] = ih >= 0 && iw >= 0 ? xg[(ci * g.in_h + ih) * g.in_w + iw] : 0.0f;
            }
          }
        }
      }
      kernels::GemmArgs a;
      a.m = cout_g; a.n = nb; a.k = depth;
      a.a = weight + grp * cout_g * depth; a.lda = depth;
      a.b = col; a.ldb = nb;
      a.c = y + (n * p.out_channels + grp * cout_g) * pixels + p0; a.ldc = pixels;
      a.bias = bias != nullptr ? bias + grp * cout_g : nullptr;
      a.bias_axis = bias != nullptr ? kernels::BiasAxis::Row : kernels::BiasAxis::None;
      a.activation = p.activation;
      kt.gemm(a);
    });
    return;
  }

  // NHWC: Y (P x Cout) block = col (P x K*K*Cin_g) * Wt_g (K*K*Cin_g x Cout_g), taps outermost in k.
  std::vector<float> wt(static_cast<size_t>(p.groups * depth * cout_g));
  for (int64_t grp = 0; grp < p.groups; ++grp) {
    float* dst = wt.data() + grp * depth * cout_g;
    for (int64_t co = 0; co < cout_g; ++co) {
      const float* src = weight + (grp * cout_g + co) * depth;  // (Cin_g, KH, KW)
      for (int64_t ci = 0; ci < cin_g; ++ci) {
        for (int64_t t = 0; t < taps; ++t) dst[(t * cin_g + ci) * cout_g + co] = src[ci * taps + t];
      }
    }
  }
  parallel_for(p.batch * p.groups * blocks, [&](int64_t task, int thread) {
    const int64_t n = task / (p.groups * blocks);
    const int64_t grp = (task / blocks) % p.groups;
    const int64_t p0 = (task % blocks) * block;
    const int64_t nb = std::min(block, pixels - p0);
    float* col = tiles.data() + thread * block * depth;
    const float* xn = x + n * p.in_pixels() * p.in_channels + grp * cin_g;
    for (int64_t j = 0; j < nb; ++j) {
      const int64_t oh = (p0 + j) / g.out_w, ow = (p0 + j) % g.out_w;
      for (int64_t kh = 0; kh < kh_n; ++kh) {
        for (int64_t kw = 0; kw < kw_n; ++kw) {
          float* dst = col + j * depth + (kh * kw_n + kw) * cin_g;
          const int64_t ih = at.ih(oh, kh), iw = at.iw(ow, kw);
          if (ih < 0 || iw < 0) {
            std::fill(dst, dst + cin_g, 0.0f);
            continue;
          }
          const float* src = xn + (ih * g.in_w + iw) * p.in_channels;
          std::copy(src, src + cin_g, dst);
        }
      }
    }
    kernels::GemmArgs a;
    a.m = nb; a.n = cout_g; a.k = depth;
    a.a = col; a.lda = depth;
    a.b = wt.data() + grp * depth * cout_g; a.ldb = cout_g;
    a.c = y + (n * pixels + p0) * p.out_channels + grp * cout_g; a.ldc = p.out_channels;
    a.bias = bias != nullptr ? bias + grp * cout_g : nullptr;
    a.bias_axis = bias != nullptr ? kernels::BiasAxis::Column : kernels::BiasAxis::None;
    a.activation = p.activation;
    kt.gemm(a);
  });
}

}  // namespace detail

void conv2d(const Conv2dDesc& desc, const float* x, const float* weight, const float* bias,
            float* y) {
  const ConvPlan p = plan(desc);
  detail::require_output(p, y, x, weight, bias, p.out_channels);
  detail::run_conv2d(p, x, weight, bias, y);
}

}  // namespace sepconv
