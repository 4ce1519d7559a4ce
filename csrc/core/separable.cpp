// Separable operator: depthwise then pointwise. Where the depthwise result is larger than L2, each
// thread computes a band of output rows of it into an L2-resident buffer and feeds it straight to
// the pointwise GEMM, so the C x H x W intermediate never goes to memory.
#include <algorithm>
#include <atomic>
#include <vector>

#include "core/buffer.h"
#include "core/check.h"
#include "core/operators.h"
#include "core/parallel.h"

namespace sepconv {
namespace detail {

namespace {

// The fused band of the intermediate: 32 K floats (128 KiB) leaves the rest of a 512 KiB L2 to the
// depthwise input rows and the pointwise weight panels.
constexpr int64_t kBandFloats = int64_t(1) << 15;
// Below this intermediate size (per image) both passes run from L2 anyway, and fusing would only
// re-read the pointwise weights once per band (at 301 KiB, MobileNetV2's 384 x 14 x 14, fused ran
// 0.97x of unfused). Above it, NHWC fusion gains 2-12% here (1 thread, prepacked layers, unfused
// intermediates in reused per-thread buffers: separable 144 x 56 x 56 1.02x, stride-2 96 x 112 x 112
// 1.06x, inverted residual 24 -> 144 at 56 x 56 1.05x, 16 -> 96 at 112 x 112 s2 1.12x): the 32 MB
// L3 holds the intermediates. NCHW fusion mostly loses: its depthwise and pointwise kernels pay
// per-plane and per-panel setup once per band instead of once per call. Separable measured
// (1 thread, batch 1, fused vs unfused): 144 x 56 x 56 0.74x, 96 x 112 x 112 s1 0.85x and s2
// 0.61x, 32 and 64 x 112 x 112 1.02-1.04x, 384 x 14 x 14 0.86x; so it never fuses NCHW. The
// inverted residual's NCHW threshold is in inverted_residual.cpp.
constexpr int64_t kFuseAboveBytes = 512 * 1024;

// Unfused, a batch whose intermediates exceed kGroupAboveBytes runs in groups of images whose
// intermediates (and input, about as large) stay in L3 between the stages, rather than going to
// DRAM and back: kGroupBytesPerThread per thread, so that each parallel region still gives every
// thread as much work. Measured on Zen 5 (NCHW 3x3, batch 8, C++, µs, each call after 10 ms idle
// as the benchmark times them, groups of 2 / 4 / 8 MiB / the whole batch): separable 144 -> 24
// at 56 x 56 (1.8 MiB an image) 1 thread 1783 / 1812 / 1845 / 2152, 2 threads 1108 / 1084 / 1062
// / 1311; 32 -> 16 at 112 x 112 (1.6 MiB) 1346 / 1308 / 1415 / 1723, 2 threads 1325 / 1222 /
// 1093 / 1029. Below kGroupAboveBytes L3 holds the batch's intermediates anyway and groups only
// add parallel regions: one image at a time (2 threads, back to back, batch 8) 384 -> 64 at
// 14 x 14 (2.3 MiB) 227 -> 265 µs, 192 -> 32 at 28 x 28 (4.6 MiB) 294 -> 318.
constexpr int64_t kGroupAboveBytes = int64_t(8) << 20;
constexpr int64_t kGroupBytesPerThread = int64_t(4) << 20;

std::atomic<int> g_fusion{static_cast<int>(Fusion::Auto)};

}  // namespace

int64_t images_per_group(int64_t batch, int64_t intermediate_floats_per_image) {
  const int64_t bytes = intermediate_floats_per_image * int64_t(sizeof(float));
  if (batch * bytes <= kGroupAboveBytes) return batch;
  return std::clamp<int64_t>(kGroupBytesPerThread * get_num_threads() / bytes, 1, batch);
}

bool fuse_stages(Layout layout, int64_t intermediate_floats, int64_t nchw_above_bytes) {
  const int64_t bytes = intermediate_floats * int64_t(sizeof(float));
  switch (separable_fusion()) {
    case Fusion::Always: return true;
    case Fusion::Never: return false;
    default:
      if (layout == Layout::NHWC) return bytes > kFuseAboveBytes;
      return nchw_above_bytes > 0 && bytes > nchw_above_bytes;
  }
}

SeparableOp::SeparableOp(const SeparablePlan& s, const float* depthwise_weight,
                         const float* depthwise_bias, const float* pointwise_weight,
                         const float* pointwise_bias, const float* only_input)
    : SeparableOp(DepthwiseOp(s.depthwise, depthwise_weight, depthwise_bias, only_input),
                  PointwiseOp(s.pointwise, pointwise_weight, pointwise_bias), s) {}

SeparableOp::SeparableOp(DepthwiseOp dw, PointwiseOp pw, const SeparablePlan& s)
    : dw_(std::move(dw)), pw_(std::move(pw)), plan_(s) {
  const ConvPlan& d = s.depthwise;
  const int64_t row_floats = d.geometry.out_w * d.out_channels;
  band_rows_ = std::clamp<int64_t>(kBandFloats / row_floats, 1, dw_.max_band_rows());
  fused_ = fuse_stages(d.layout, d.out_pixels() * d.out_channels, 0);
  group_images_ = images_per_group(d.batch, d.y_count / d.batch);
}

SeparableOp SeparableOp::for_plan(const SeparablePlan& s) const {
  return SeparableOp(dw_.for_plan(s.depthwise), pw_.for_plan(s.pointwise), s);
}

void SeparableOp::operator()(const float* x, float* y) const {
  const ConvPlan& d = plan_.depthwise;
  if (!fused_ && group_images_ < d.batch) {
    const int64_t x_image = d.x_count / d.batch, y_image = plan_.pointwise.y_count / d.batch;
    for (int64_t n = 0; n < d.batch; n += group_images_) {
      const int64_t images = std::min(group_images_, d.batch - n);
      for_plan(plan_.with_batch(images))(x + n * x_image, y + n * y_image);
    }
    return;
  }
  if (!fused_) {
    float* intermediate = cached_scratch(CachedSlot::FirstStage, d.y_count);
    dw_(x, intermediate);
    pw_(intermediate, y);
    return;
  }
  const Geometry& g = d.geometry;
  const int64_t threads = get_num_threads();
  const Split bands = split_for(g.out_h, d.batch, 2 * threads, 1, band_rows_);
  const int64_t rows = bands.max_size();
  const int64_t band_floats = rows * g.out_w * d.out_channels;
  const int64_t dw_scratch = dw_.scratch_floats(rows);
  const int64_t pw_scratch = pw_.workspace_floats(rows * g.out_w);
  const int64_t per_thread = band_floats + dw_scratch + pw_scratch;
  const Scratch scratch = alloc_scratch(per_thread * threads);
  const int64_t cm = d.out_channels, cout = plan_.pointwise.out_channels;
  const int64_t pixels = d.out_pixels();
  const bool nhwc = d.layout == Layout::NHWC;
  const int64_t work = d.y_count * d.window.kernel_h * d.window.kernel_w +
                       plan_.pointwise.y_count * cm;

  DepthwiseOp::Access access;  // the band buffer is read next: no streaming
  access.lead = dw_.lead_for(x);
  parallel_for(d.batch * bands.parts, work, [&](int64_t task, int thread) {
    const int64_t n = task / bands.parts, part = task % bands.parts;
    const int64_t oh0 = bands.begin(part), oh1 = bands.end(part);
    const int64_t band_pixels = (oh1 - oh0) * g.out_w;
    float* band = scratch.get() + thread * per_thread;
    const int64_t r0 = dw_.input_rows(oh0, oh1).first;
    const float* x_rows = x + n * d.in_pixels() * d.in_channels + r0 * g.in_w * (nhwc ? d.in_channels : 1);
    dw_.band(x_rows, d.in_pixels(), oh0, oh1, 0, dw_.tiles(access.lead), band, band_pixels,
             band + band_floats, access);
    float* y_band = y + n * pixels * cout + oh0 * g.out_w * (nhwc ? cout : 1);
    pw_.block(band, band_pixels, nhwc ? cm : band_pixels, y_band, nhwc ? cout : pixels,
              band + band_floats + dw_scratch);
  });
}

}  // namespace detail

void set_separable_fusion(Fusion fusion) {
  const int v = static_cast<int>(fusion);
  if (v < 0 || v > static_cast<int>(Fusion::Never)) detail::fail("fusion ", v, " is unknown");
  detail::g_fusion.store(v);
}

Fusion separable_fusion() { return static_cast<Fusion>(detail::g_fusion.load()); }

void separable_conv2d(const SeparableConv2dDesc& desc, const float* x,
                      const float* depthwise_weight, const float* pointwise_weight,
                      const float* depthwise_bias, const float* pointwise_bias, float* y) {
  const SeparablePlan s = plan(desc);
  const ConvPlan& dw = s.depthwise;
  const ConvPlan& pw = s.pointwise;
  detail::require_pointer(x, "x");
  detail::require_pointer(depthwise_weight, "depthwise_weight");
  detail::require_pointer(pointwise_weight, "pointwise_weight");
  detail::require_pointer(y, "out");
  detail::require_disjoint(y, pw.y_count, x, dw.x_count, "x");
  detail::require_disjoint(y, pw.y_count, depthwise_weight, dw.weight_count, "depthwise_weight");
  detail::require_disjoint(y, pw.y_count, depthwise_bias, dw.out_channels, "depthwise_bias");
  detail::require_disjoint(y, pw.y_count, pointwise_weight, pw.weight_count, "pointwise_weight");
  detail::require_disjoint(y, pw.y_count, pointwise_bias, pw.out_channels, "pointwise_bias");
  detail::SeparableOp(s, depthwise_weight, depthwise_bias, pointwise_weight, pointwise_bias, x)(x,
                                                                                             y);
}

}  // namespace sepconv
