// Inverted residual operator (MobileNetV2): expand -> depthwise -> project [+ x].
//
// Fused, each task walks down a range of output rows of one image in bands. For a band it needs the
// expanded rows under the depthwise window; those it already computed for the previous band (the
// window's overlap) are moved to the front of its buffer and only the new ones are expanded, so no
// pixel is expanded twice within a task. The depthwise band goes straight into the projection GEMM
// and the residual is added while the output rows are still in cache.
#include <algorithm>
#include <cstring>

#include "core/buffer.h"
#include "core/check.h"
#include "core/operators.h"
#include "core/parallel.h"

namespace sepconv {
namespace detail {

namespace {

// A task's expanded rows plus its depthwise band: 256 KiB, half of a 512 KiB L2 (the other half
// holds the expand and project weight panels and the input rows).
constexpr int64_t kBufferFloats = int64_t(1) << 16;

// NCHW blocks fuse only when the batch's expanded tensors exceed kNchwFuseAboveBatchBytes (half
// the 32 MiB L3, which other cores share) and one image's exceeds kNchwFuseAboveImageBytes:
// unfused, the tensor then goes to DRAM and back, which costs more than the per-band setup of the
// NCHW kernels. Measured on AMD Zen 5 (AVX-512, 1 thread, prepacked, fused vs unfused with the
// intermediates in buffers allocated once, alternating), by the batch's expanded MiB: stride 2
// 16 -> 96 at 112 x 112 36.8 1.56x, 18.4 1.39x, 9.2 0.88x, 4.6 0.83x; 24 -> 144 at 56 13.8
// 1.22x, 6.9 0.78x; stride 1 16 -> 96 at 112 36.8 1.30x, 4.6 0.64x; 24 -> 144 at 56 13.8 1.01x,
// at 112 6.9 0.58x; 32 -> 192 at 56 18.4 0.95x, 2.3 0.60x; 40 -> 240 at 28 5.7 0.88x. (On the
// Zen 3 with its 512 KiB L2 a single 4.6 MiB image fused 1.17-1.79x; smaller ones lost there too.)
// A block without expansion is a separable convolution, which never fuses NCHW (separable.cpp;
// 32 x 112 x 112, t = 1, batch 8: 0.93x). Since unfused batches run in groups of images that stay
// in L3 (images_per_group), the stride-2 16 -> 96 at 112 x 112 batch 8 is a tie between the two
// (fused 3036 / 2 threads 1533 µs, groups 2885 / 1597), and 24 -> 144 at 56 x 56 batch 8 runs
// unfused in groups faster than fused (2252 against 2802 µs).
constexpr int64_t kNchwFuseAboveBatchBytes = int64_t(16) << 20;
constexpr int64_t kNchwFuseAboveImageBytes = int64_t(1) << 20;

std::optional<PointwiseOp> expansion_op(const InvertedResidualPlan& r, const float* weight,
                                        const float* bias) {
  if (!r.expand) return std::nullopt;
  return PointwiseOp(r.expansion, weight, bias);
}

}  // namespace

InvertedResidualOp::InvertedResidualOp(const InvertedResidualPlan& r, const float* expand_weight,
                                       const float* expand_bias, const float* depthwise_weight,
                                       const float* depthwise_bias, const float* project_weight,
                                       const float* project_bias)
    : InvertedResidualOp(expansion_op(r, expand_weight, expand_bias),
                         DepthwiseOp(r.depthwise, depthwise_weight, depthwise_bias),
                         PointwiseOp(r.projection, project_weight, project_bias), r) {}

InvertedResidualOp::InvertedResidualOp(std::optional<PointwiseOp> expand, DepthwiseOp dw,
                                       PointwiseOp project, const InvertedResidualPlan& r)
    : expand_(std::move(expand)), dw_(std::move(dw)), project_(std::move(project)), plan_(r) {
  const ConvPlan& d = r.depthwise;
  const Geometry& g = d.geometry;
  const Window& w = d.window;
  // Band of R output rows: (R - 1) * stride + eff_h expanded rows of in_w * Ce floats, and R
  // depthwise rows of out_w * Ce floats.
  const int64_t eff_h = (w.kernel_h - 1) * w.dilation_h + 1;
  const int64_t budget = kBufferFloats / d.in_channels - std::max<int64_t>(0, eff_h - w.stride_h) * g.in_w;
  band_rows_ = std::clamp<int64_t>(budget / (w.stride_h * g.in_w + g.out_w), 1, dw_.max_band_rows());
  const int64_t expanded_floats = d.in_pixels() * d.in_channels;
  const bool beyond_l3 =
      d.batch * expanded_floats * int64_t(sizeof(float)) > kNchwFuseAboveBatchBytes;
  const int64_t nchw_above = r.expand && beyond_l3 ? kNchwFuseAboveImageBytes : 0;
  fused_ = fuse_stages(d.layout, expanded_floats, nchw_above);
  const int64_t intermediates = (r.expand ? r.expansion.y_count : 0) + d.y_count;
  group_images_ = images_per_group(d.batch, intermediates / d.batch);
}

InvertedResidualOp InvertedResidualOp::for_plan(const InvertedResidualPlan& r) const {
  std::optional<PointwiseOp> expand;
  if (expand_) expand = expand_->for_plan(r.expansion);
  return InvertedResidualOp(std::move(expand), dw_.for_plan(r.depthwise),
                            project_.for_plan(r.projection), r);
}

void InvertedResidualOp::unfused(const float* x, float* y) const {
  const int64_t batch = plan_.depthwise.batch;
  if (group_images_ < batch) {
    const int64_t x_image = (plan_.expand ? plan_.expansion : plan_.depthwise).x_count / batch;
    const int64_t y_image = plan_.projection.y_count / batch;
    for (int64_t n = 0; n < batch; n += group_images_) {
      const int64_t images = std::min(group_images_, batch - n);
      for_plan(plan_.with_batch(images)).unfused(x + n * x_image, y + n * y_image);
    }
    return;
  }
  float* expanded = expand_ ? cached_scratch(CachedSlot::FirstStage, plan_.expansion.y_count)
                            : nullptr;
  float* depthwise = cached_scratch(CachedSlot::SecondStage, plan_.depthwise.y_count);
  if (expand_) (*expand_)(x, expanded);
  dw_(expand_ ? expanded : x, depthwise);
  project_(depthwise, y);
  if (plan_.residual) {
    const int64_t n = plan_.projection.y_count;
    parallel_for(ceil_div(n, kBufferFloats), n, [&](int64_t task, int) {
      const int64_t begin = task * kBufferFloats, end = std::min(n, begin + kBufferFloats);
      for (int64_t i = begin; i < end; ++i) y[i] += x[i];
    });
  }
}

void InvertedResidualOp::operator()(const float* x, float* y) const {
  const ConvPlan& d = plan_.depthwise;
  const Geometry& g = d.geometry;
  if (!fused_) return unfused(x, y);

  const bool nhwc = d.layout == Layout::NHWC;
  const int64_t ce = d.in_channels, cout = plan_.projection.out_channels;
  const int64_t cin = expand_ ? plan_.expansion.in_channels : ce;
  const int64_t rows = band_rows_;
  const int64_t threads = get_num_threads();
  // One range of output rows per task, at least one band each.
  const int64_t max_chunks = std::max<int64_t>(1, g.out_h / rows);
  const Split chunks{g.out_h, 1, std::clamp<int64_t>(ceil_div(threads, d.batch), 1, max_chunks)};
  // The expanded rows of a band: at most `capacity` rows, one plane of them per channel in NCHW.
  const Window& w = d.window;
  const int64_t capacity = std::min(g.in_h, (rows - 1) * w.stride_h + (w.kernel_h - 1) * w.dilation_h + 1);
  const int64_t expanded_floats = expand_ ? capacity * g.in_w * ce : 0;
  const int64_t band_floats = rows * g.out_w * ce;
  const int64_t dw_scratch = dw_.scratch_floats(rows);
  const int64_t gemm_ws = std::max(expand_ ? expand_->workspace_floats(capacity * g.in_w) : 0,
                                   project_.workspace_floats(rows * g.out_w));
  const int64_t per_thread = expanded_floats + band_floats + dw_scratch + gemm_ws;
  const Scratch scratch = alloc_scratch(per_thread * threads);
  const int64_t in_pixels = d.in_pixels(), out_pixels = d.out_pixels();
  const int64_t x_row = nhwc ? g.in_w * cin : g.in_w;     // floats from one input row to the next
  const int64_t e_row = nhwc ? g.in_w * ce : g.in_w;      // same in the expanded buffer
  const int64_t e_plane = capacity * g.in_w;              // NCHW: expanded buffer's plane stride
  const int64_t y_row = nhwc ? g.out_w * cout : g.out_w;
  const int64_t work = (expand_ ? plan_.expansion.y_count * cin : 0) +
                       d.y_count * w.kernel_h * w.kernel_w + plan_.projection.y_count * ce;

  parallel_for(d.batch * chunks.parts, work, [&](int64_t task, int thread) {
    const int64_t n = task / chunks.parts, part = task % chunks.parts;
    const int64_t oh_begin = chunks.begin(part), oh_end = chunks.end(part);
    const float* x_image = x + n * in_pixels * cin;
    float* y_image = y + n * out_pixels * cout;
    float* expanded = scratch.get() + thread * per_thread;
    float* band = expanded + expanded_floats;
    float* dw_ws = band + band_floats;
    float* ws = dw_ws + dw_scratch;
    int64_t have_begin = 0, have_end = 0;  // expanded input rows in the buffer
    for (int64_t oh0 = oh_begin; oh0 < oh_end; oh0 += rows) {
      const int64_t oh1 = std::min(oh_end, oh0 + rows);
      const auto [r0, r1] = dw_.input_rows(oh0, oh1);
      const float* dw_in = x_image + r0 * x_row;
      int64_t dw_plane = in_pixels;
      if (expand_) {
        // Keep the rows [r0, have_end) of the previous band, expand the rest.
        const int64_t kept = std::max<int64_t>(0, have_end - std::max(r0, have_begin));
        if (kept > 0 && r0 > have_begin) {
          const int64_t shift = (r0 - have_begin) * e_row, count = kept * e_row;
          for (int64_t c = 0; c < (nhwc ? 1 : ce); ++c) {
            float* plane = expanded + c * e_plane;
            std::memmove(plane, plane + shift, static_cast<size_t>(count) * sizeof(float));
          }
        }
        const int64_t from = r0 + kept;
        if (from < r1) {
          expand_->block(x_image + from * x_row, (r1 - from) * g.in_w, nhwc ? cin : in_pixels,
                         expanded + kept * e_row, nhwc ? ce : e_plane, ws);
        }
        have_begin = r0;
        have_end = r1;
        dw_in = expanded;
        dw_plane = e_plane;
      }
      const int64_t band_pixels = (oh1 - oh0) * g.out_w;
      dw_.band(dw_in, dw_plane, oh0, oh1, 0, dw_.tiles(), band, band_pixels, dw_ws,
               {DepthwiseOp::Source::BandBuffer});
      float* y_rows = y_image + oh0 * y_row;
      project_.block(band, band_pixels, nhwc ? ce : band_pixels, y_rows, nhwc ? cout : out_pixels,
                     ws);
      if (plan_.residual) {  // output rows = input rows here (stride 1, same size)
        const float* x_rows = x_image + oh0 * x_row;
        for (int64_t c = 0; c < (nhwc ? 1 : cout); ++c) {
          const int64_t offset = c * out_pixels, count = nhwc ? band_pixels * cout : band_pixels;
          for (int64_t i = 0; i < count; ++i) y_rows[offset + i] += x_rows[offset + i];
        }
      }
    }
  });
}

void require_expansion(const InvertedResidualPlan& r, const float* weight, const float* bias) {
  if (r.expand) {
    require_pointer(weight, "expand_weight");
  } else if (weight != nullptr || bias != nullptr) {
    fail("expand_weight and expand_bias must be null without an expand stage");
  }
}

}  // namespace detail

void inverted_residual(const InvertedResidualDesc& desc, const float* x, const float* expand_weight,
                       const float* expand_bias, const float* depthwise_weight,
                       const float* depthwise_bias, const float* project_weight,
                       const float* project_bias, float* y) {
  const InvertedResidualPlan r = plan(desc);
  const ConvPlan& dw = r.depthwise;
  const ConvPlan& pr = r.projection;
  detail::require_pointer(x, "x");
  detail::require_expansion(r, expand_weight, expand_bias);
  detail::require_pointer(depthwise_weight, "depthwise_weight");
  detail::require_pointer(project_weight, "project_weight");
  detail::require_pointer(y, "out");
  const int64_t x_count = r.expand ? r.expansion.x_count : dw.x_count;
  detail::require_disjoint(y, pr.y_count, x, x_count, "x");
  if (r.expand) {
    detail::require_disjoint(y, pr.y_count, expand_weight, r.expansion.weight_count, "expand_weight");
    detail::require_disjoint(y, pr.y_count, expand_bias, r.expansion.out_channels, "expand_bias");
  }
  detail::require_disjoint(y, pr.y_count, depthwise_weight, dw.weight_count, "depthwise_weight");
  detail::require_disjoint(y, pr.y_count, depthwise_bias, dw.out_channels, "depthwise_bias");
  detail::require_disjoint(y, pr.y_count, project_weight, pr.weight_count, "project_weight");
  detail::require_disjoint(y, pr.y_count, project_bias, pr.out_channels, "project_bias");
  detail::InvertedResidualOp(r, expand_weight, expand_bias, depthwise_weight, depthwise_bias,
                             project_weight, project_bias)(x, y);
}

}  // namespace sepconv
