// Operators run a validated plan: weight packing, work partitioning and the kernel calls.
#pragma once

#include <vector>

#include "core/geometry.h"
#include "kernels/kernels.h"

namespace sepconv {
namespace detail {

// A depthwise layer ready to run: its plan and its weights packed for the active kernel table
// (kept by prepacked layer objects; built per call by the plain op).
class DepthwiseOp {
 public:
  DepthwiseOp(const ConvPlan& p, const float* weight, const float* bias);

  // The whole op over the batch, one parallel region.
  void operator()(const float* x, float* y) const;

  // Output rows [oh0, oh1) of one image (x_image: its base), channel tiles [tile_begin, tile_end):
  // NHWC: y holds the rows (oh1 - oh0, out_w, C*m); NCHW: y holds each channel's rows, planes
  // plane_stride floats apart. scratch: scratch_floats(oh1 - oh0) floats, this thread's own.
  void band(const float* x_image, int64_t oh0, int64_t oh1, int64_t tile_begin, int64_t tile_end,
            float* y, int64_t plane_stride, float* scratch) const;
  int64_t scratch_floats(int64_t band_rows) const;
  int64_t max_band_rows() const;  // bands whose scratch stays L2-resident
  int64_t tiles() const;          // channel tiles of the output channels
  int64_t tile_channels() const { return tile_; }
  const ConvPlan& plan() const { return plan_; }

 private:
  bool planar() const;  // NCHW with the per-plane kernel (multiplier > 1, no SIMD table, KW <= 5)

  ConvPlan plan_;
  const kernels::KernelTable* kt_;
  int64_t tile_;
  std::vector<float> packed_;           // NHWC tiles [bias][taps] (also the interleaved NCHW path)
  std::vector<float> weights_, biases_;  // the per-plane kernel's weights, in PyTorch order
};

// A pointwise layer ready to run: its plan and its weights packed for the active kernel table.
class PointwiseOp {
 public:
  PointwiseOp(const ConvPlan& p, const float* weight, const float* bias);

  // The whole op over the batch, one parallel region.
  void operator()(const float* x, float* y) const;

  // `pixels` pixels of one image, single-threaded. NHWC: x and y are pixel rows x_stride and
  // y_stride floats apart; NCHW: channel rows of `pixels` floats, x_stride / y_stride apart.
  // workspace: workspace_floats(pixels) floats, this thread's own.
  void block(const float* x, int64_t pixels, int64_t x_stride, float* y, int64_t y_stride,
             float* workspace) const;
  int64_t workspace_floats(int64_t pixels) const;

 private:
  int64_t max_m_block() const;
  int64_t max_n_block() const;
  // C[m0 : m0+m, n0 : n0+n] of the GEMM over x (see pointwise.cpp for the two layouts).
  void gemm(int64_t m0, int64_t m, int64_t n0, int64_t n, const float* x, int64_t x_stride,
            float* y, int64_t y_stride, float* workspace) const;

  ConvPlan plan_;
  const kernels::KernelTable* kt_;
  int64_t kc_;
  std::vector<float> packed_;            // NHWC: W^T in B panels with the bias
  std::vector<float> weights_, biases_;  // NCHW: W (Cout x Cin) and bias, read in place
};

// Depthwise then pointwise, fused band by band where the intermediate outgrows L2.
class SeparableOp {
 public:
  SeparableOp(const SeparablePlan& s, const float* depthwise_weight, const float* depthwise_bias,
              const float* pointwise_weight, const float* pointwise_bias);
  void operator()(const float* x, float* y) const;
  bool fused() const { return fused_; }

 private:
  DepthwiseOp dw_;
  PointwiseOp pw_;
  SeparablePlan plan_;
  int64_t band_rows_;
  bool fused_;
};

void run_depthwise(const ConvPlan& p, const float* x, const float* weight, const float* bias,
                   float* y);
void run_pointwise(const ConvPlan& p, const float* x, const float* weight, const float* bias,
                   float* y);
void run_conv2d(const ConvPlan& p, const float* x, const float* weight, const float* bias, float* y);

// Checks that y is non-null and shares no memory with the inputs.
void require_output(const ConvPlan& p, float* y, const float* x, const float* weight,
                    const float* bias, int64_t bias_count);

}  // namespace detail
}  // namespace sepconv
