// Operators run a validated plan: weight packing, work partitioning and the kernel calls.
//
// An operator's packed weights are immutable once built and shared by all its copies, so a
// prepacked layer (layers.cpp) rebinds it to each call's input size with for_plan() — no repacking,
// and any number of threads may run copies at once. Every call allocates its own scratch. Arrays a
// kernel reads unpacked (NCHW weights, biases) are borrowed: the caller's for a plain op, the
// layer's own copies for a layer.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "core/geometry.h"
#include "kernels/kernels.h"

namespace sepconv {
namespace detail {

// Activations larger than this (a quarter of the shared L3; a batch of 8 MobileNet images) are
// taken to stream from DRAM, and the kernels that the hardware prefetchers serve poorly then
// prefetch them ahead in software.
constexpr int64_t kStreamedBytes = int64_t(8) << 20;
inline bool input_streamed(const ConvPlan& p) {
  return p.x_count * int64_t(sizeof(float)) > kStreamedBytes;
}

// Floats from the 64-byte cache line p lies in to p: non-temporal stores need 0, and a lead
// (DepthwiseOp::lead_for) shifts the channel tiles by it.
constexpr int64_t kCacheLineFloats = 16;
constexpr int64_t kPageFloats = 1024;  // 4 KiB
inline int64_t floats_past_line(const float* p) {
  return int64_t(reinterpret_cast<uintptr_t>(p) % (kCacheLineFloats * sizeof(float)) /
                 sizeof(float));
}

// NHWC depthwise tiles may start a lead of a multiple of kLeadStep floats before channel 0
// (DepthwiseOp::lead_for): NumPy's arrays start 16 bytes past a line or on one.
constexpr int64_t kLeadStep = 4;

// Packed weights, shared by the copies of an op (for_plan) and never changed after packing.
using SharedFloats = std::shared_ptr<const float[]>;

// The NCHW flat-plane kernel's lane masks (kernels.h: DwconvNchwFlatArgs::masks, col_masks).
struct FlatMasks {
  std::vector<int32_t> taps;     // [tap][vector][lane]
  std::vector<int32_t> columns;  // [kw][vector][lane]
};

// A depthwise layer ready to run: its plan and its weights packed for the kernel table active
// when it was built.
class DepthwiseOp {
 public:
  // only_input: the one input the op will run on, if known (a functional call), so that only
  // the weights for its lead are packed.
  DepthwiseOp(const ConvPlan& p, const float* weight, const float* bias,
              const float* only_input = nullptr);
  // The same weights run on p (which must differ from plan() only in batch and image size).
  DepthwiseOp for_plan(const ConvPlan& p) const;

  // The whole op over the batch, one parallel region.
  void operator()(const float* x, float* y) const;

  // Input rows [first, second) that output rows [oh0, oh1) read.
  std::pair<int64_t, int64_t> input_rows(int64_t oh0, int64_t oh1) const;
  // Output rows [oh0, oh1) of one image, channel tiles [tile_begin, tile_end). x points at the
  // first of input_rows(oh0, oh1): NHWC rows of in_w*C floats; NCHW one such row per channel,
  // planes x_plane_stride floats apart. NHWC y holds the rows (oh1 - oh0, out_w, C*m); NCHW y
  // holds each channel's rows, planes y_plane_stride floats apart. scratch:
  // scratch_floats(oh1 - oh0) floats, this thread's own. Tiles count from lead lanes before
  // channel 0 (tiles(lead)).
  enum class Source { Image, BandBuffer };
  struct Access {
    // Whether x points into the op's input image (the rows below the band follow it, and may
    // stream from memory) or into a band buffer just written (L2-resident).
    Source source = Source::Image;
    bool stream_y = false;  // y goes to memory: the kernels may store it non-temporally
    int64_t lead = 0;       // lead_for(x), or 0 (kernels::DwconvNhwcArgs::lead)
  };
  void band(const float* x, int64_t x_plane_stride, int64_t oh0, int64_t oh1, int64_t tile_begin,
            int64_t tile_end, float* y, int64_t y_plane_stride, float* scratch,
            Access access) const;
  int64_t scratch_floats(int64_t band_rows) const;
  int64_t max_band_rows() const;  // bands whose scratch stays L2-resident
  // Channel tiles of the output channels after `lead` lanes.
  int64_t tiles(int64_t lead = 0) const;
  // The lead that makes the tiles' loads from x whole cache lines, or 0.
  int64_t lead_for(const float* x) const;
  const ConvPlan& plan() const { return plan_; }
  Isa isa() const { return kt_->isa; }
  int64_t channel_tile() const { return tile_; }

 private:
  bool planar() const;  // NCHW with the per-plane kernels (not interleaved)
  bool runs() const;  // NCHW planes and bands run on kt_->dwconv_nchw_3x3s1_run
  bool strided_rows() const;  // ... on kt_->dwconv_nchw_3x3s2_rows
  bool interleavable() const;  // NCHW, multiplier 1, on a table that interleaves
  // NCHW channel tiles interleaved at a time into an NHWC scratch, or 0 (planar).
  int64_t interleave_tiles() const;
  void bind_flat_masks();  // flat_masks_ for plan_, or none when the flat kernel does not apply

  ConvPlan plan_;
  const kernels::KernelTable* kt_;
  int64_t tile_;
  // NHWC tiles [bias][taps] (also the interleaved NCHW path) after lead = i * kLeadStep zero
  // channels (only lead 0 unless the plan's inputs may run with a lead).
  std::array<SharedFloats, kCacheLineFloats / kLeadStep> packed_;
  const float* weights_;  // the per-plane kernel's weights, in PyTorch order (borrowed)
  const float* biases_;   // may be null (borrowed)
  // The masks of the last geometry bound by this op or any of its copies.
  struct FlatMaskCache {
    std::mutex mutex;
    Geometry geometry;
    std::shared_ptr<const FlatMasks> masks;
  };

  // NCHW flat-plane kernel's lane masks for plan_, or null; flat_cache_ is shared by the op and
  // all its copies.
  std::shared_ptr<const FlatMasks> flat_masks_;
  std::shared_ptr<FlatMaskCache> flat_cache_;
};

// Floats past a 4 KiB page at which y runs fastest with x (sepconv::output_offset) for a
// DepthwiseOp on p with channel tiles of channel_tile floats.
int64_t depthwise_output_offset(const ConvPlan& p, int64_t channel_tile, const float* x);

// A pointwise layer ready to run: its plan and its weights packed for the kernel table active
// when it was built.
class PointwiseOp {
 public:
  PointwiseOp(const ConvPlan& p, const float* weight, const float* bias);
  PointwiseOp for_plan(const ConvPlan& p) const;

  // The whole op over the batch, one parallel region.
  void operator()(const float* x, float* y) const;

  // `pixels` pixels of one image, single-threaded. NHWC: x and y are pixel rows x_stride and
  // y_stride floats apart; NCHW: channel rows of `pixels` floats, x_stride / y_stride apart.
  // workspace: workspace_floats(pixels) floats, this thread's own.
  void block(const float* x, int64_t pixels, int64_t x_stride, float* y, int64_t y_stride,
             float* workspace) const;
  int64_t workspace_floats(int64_t pixels) const;
  const ConvPlan& plan() const { return plan_; }

 private:
  // NCHW as C (pixels x Cout) = X^T * W^T, the activations read in place as columns of A and
  // C transposed into the output (see pointwise.cpp), instead of W * X.
  bool columns() const;
  // The channel counts allow columns (NCHW, Cin > Cout, Cout in whole vectors) at some image size.
  bool columns_fit() const;
  // NCHW by rows: the kernel reads a block of `pixels` of X's rows, x_stride floats apart, in
  // place rather than copied into panels.
  bool x_rows_in_place(int64_t pixels, int64_t x_stride) const;
  // The GEMM's rows are pixels (NHWC, or NCHW by columns), else output channels.
  bool pixel_rows() const { return plan_.layout == Layout::NHWC || columns(); }
  int64_t max_m_block() const;
  int64_t max_n_block() const;
  // C[m0 : m0+m, n0 : n0+n] of the GEMM over x (see pointwise.cpp for the two layouts);
  // streamed: x comes from beyond the caches (NHWC prefetches its rows).
  void gemm(int64_t m0, int64_t m, int64_t n0, int64_t n, const float* x, int64_t x_stride,
            float* y, int64_t y_stride, float* workspace, bool streamed) const;

  ConvPlan plan_;
  const kernels::KernelTable* kt_;
  int64_t kc_;
  SharedFloats packed_;  // W^T in B panels with the bias (NHWC; NCHW where columns_fit)
  const float* weights_;  // NCHW: W (Cout x Cin), read in place (borrowed)
  const float* biases_;   // NCHW: may be null (borrowed)
};

// Depthwise then pointwise, fused band by band where the intermediate outgrows L2.
class SeparableOp {
 public:
  // only_input: as in DepthwiseOp.
  SeparableOp(const SeparablePlan& s, const float* depthwise_weight, const float* depthwise_bias,
              const float* pointwise_weight, const float* pointwise_bias,
              const float* only_input = nullptr);
  SeparableOp for_plan(const SeparablePlan& s) const;
  void operator()(const float* x, float* y) const;
  bool fused() const { return fused_; }

 private:
  SeparableOp(DepthwiseOp dw, PointwiseOp pw, const SeparablePlan& s);

  DepthwiseOp dw_;
  PointwiseOp pw_;
  SeparablePlan plan_;
  int64_t band_rows_;
  bool fused_;
  int64_t group_images_;  // unfused: images per group (the batch or fewer; images_per_group)
};

// Standard (grouped) convolution over im2col tiles and the GEMM kernels.
class Conv2dOp {
 public:
  Conv2dOp(const ConvPlan& p, const float* weight, const float* bias);
  Conv2dOp for_plan(const ConvPlan& p) const;
  void operator()(const float* x, float* y) const;

 private:
  ConvPlan plan_;
  const kernels::KernelTable* kt_;
  SharedFloats packed_;            // NHWC: per group, W_g^T with k = (tap, ci) in B panels
  const float* weights_;  // NCHW: W (Cout x Cin/groups*KH*KW), read in place (borrowed)
  const float* biases_;   // NCHW: may be null (borrowed)
};

// Expand (pointwise) -> depthwise -> project (pointwise) [+ x]: MobileNetV2's inverted residual.
// Fused: each thread walks down its rows keeping the expanded rows the depthwise window still
// needs in an L2-sized buffer, so neither expanded nor depthwise tensor goes to memory.
class InvertedResidualOp {
 public:
  InvertedResidualOp(const InvertedResidualPlan& r, const float* expand_weight,
                     const float* expand_bias, const float* depthwise_weight,
                     const float* depthwise_bias, const float* project_weight,
                     const float* project_bias);
  InvertedResidualOp for_plan(const InvertedResidualPlan& r) const;
  void operator()(const float* x, float* y) const;

 private:
  InvertedResidualOp(std::optional<PointwiseOp> expand, DepthwiseOp dw, PointwiseOp project,
                     const InvertedResidualPlan& r);
  void unfused(const float* x, float* y) const;

  std::optional<PointwiseOp> expand_;  // none without an expansion (t = 1)
  DepthwiseOp dw_;
  PointwiseOp project_;
  InvertedResidualPlan plan_;
  int64_t band_rows_;
  bool fused_;
  int64_t group_images_;  // unfused: as in SeparableOp
};

// Whether a composite op fuses its stages, given its layout and its largest intermediate per image
// (floats): the Fusion setting; in Auto mode NHWC intermediates that outgrow the cache, and NCHW
// ones over nchw_above_bytes (0: never).
bool fuse_stages(Layout layout, int64_t intermediate_floats, int64_t nchw_above_bytes);

// How many images of a batch an unfused composite op runs its stages on at a time, given its
// intermediates' floats per image: the whole batch, or groups whose intermediates stay in L3.
int64_t images_per_group(int64_t batch, int64_t intermediate_floats_per_image);

// Checks that an inverted residual has expand weights exactly when it has an expand stage.
void require_expansion(const InvertedResidualPlan& r, const float* weight, const float* bias);

// Checks that y is non-null and shares no memory with the inputs.
void require_output(const ConvPlan& p, float* y, const float* x, const float* weight,
                    const float* bias, int64_t bias_count);

}  // namespace detail
}  // namespace sepconv
