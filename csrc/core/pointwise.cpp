// Pointwise operator: the 1x1 convolution as a blocked GEMM (kernels.h: GemmBlockArgs).
//   NHWC: Y (P x Cout) = X (P x Cin, read in place) * W^T (packed B panels with the bias).
//   NCHW: Y (Cout x P) = W (Cout x Cin, read in place, bias per row) * X (Cin x P), X read in
//         place where its rows allow, else each k-block copied into panels in a per-thread
//         workspace.
//   NCHW by columns: Y^T (P x Cout) = X^T (X read in place by columns) * W^T (the NHWC panels)
//         into a per-thread block, transposed into the output planes.
#include <algorithm>

#include "core/buffer.h"
#include "core/check.h"
#include "core/dispatch.h"
#include "core/operators.h"
#include "core/packing.h"
#include "core/parallel.h"

namespace sepconv {
namespace detail {

namespace {
// Per GEMM block: the k-block of the operand reused across the block stays in L2 (64 K floats),
// the other operand's k-block and the C block too (32 K floats each).
constexpr int64_t kReusedFloats = int64_t(1) << 16;
constexpr int64_t kBlockFloats = int64_t(1) << 15;
// NHWC activations larger than kStreamedBytes, with rows of at least kStreamedMinDepth floats, are
// prefetched a row block ahead by the GEMM. Measured (1 thread, 6x16 AVX2, A/B in one process):
// batch 8 of 144->24 and 96->24 at 56x56 (14 and 10 MB) 1.2-1.4x faster; the same layers at
// batch 1 (1.8 MB, from L3) and 32->16 (rows of two lines, which the hardware prefetchers
// follow) 10-35% slower.
constexpr int64_t kStreamedMinDepth = 64;

// NCHW reads X's rows in place where a block of pixels is whole vectors and the rows are not a
// multiple of 4 KiB apart; there copying them into panels costs more than it saves, as the copy
// moves all of X through the core for tiles that each reuse a panel only Cout / MR times.
// Measured (1 thread, batch 1, copy -> in place, alternating in one process, AVX-512 on Zen 5):
// 112x112 32->16 80.7 -> 59.2 µs (1.36x; batch 8 1.35x, 2 threads 1.29x), 16->96 1.06x, 32->64
// 1.10x; 56x56 64->64 1.09x (2 threads, batch 8 1.14x), 24->144 1.03x, 128->128 1.06x; 28x28
// 240->40 1.19x (batch 8 1.18x), 128->128 1.06x, 32->192 1.05x; 16x16 64->64 1.16x; 40x40 96->32
// 1.07x; images of 1024, 2048, 3072 or 4096 pixels (rows a multiple of 4 KiB apart: in the same
// L1 sets, and 4 KiB-aliased with C's rows) 0.66-0.78x. By rows in place against by columns:
// 56x56 144->24 1.25x (2 threads 1.24x), 96->24 1.23x (batch 8 1.25x), 48->16 1.23x; 28x28
// 96->16 1.20x, 192->32 1.03x, 960->320 1.02x, 576->64 0.99x, 1280->64 0.98x.
constexpr int64_t kAliasedRowBytes = 4096;

// Floats per pixel of a transposed C block (NCHW by columns): its channels rounded up to the
// groups of 8 that the transpose into planes moves (kernels.h: InterleaveArgs).
int64_t transposed_block_width(int64_t channels) { return (channels + 7) / 8 * 8; }
}  // namespace

PointwiseOp::PointwiseOp(const ConvPlan& p, const float* weight, const float* bias)
    : plan_(p),
      kt_(&active_kernels()),
      kc_(gemm_kc(p.in_channels, kt_->gemm_tiles)),
      weights_(weight),
      biases_(bias) {
  // NCHW packs only channel counts that may run by columns at some image size (for_plan keeps
  // the weights across sizes): expansions and other layers never read the panels.
  if (p.layout == Layout::NCHW && !columns_fit()) return;
  const int64_t cin = p.in_channels, cout = p.out_channels;
  const int64_t floats = packed_b_floats(cin, cout, kt_->gemm_tiles);
  std::shared_ptr<float[]> packed = alloc_shared_floats(floats);
  pack_gemm_b(weight, cin, cout, 1, cin, bias, kt_->gemm_tiles, packed.get());
  packed_ = std::move(packed);
}

// NCHW runs by columns where it copies less than by rows: its transposes move the output (Cout x
// P) where the rows' panels copy the input (Cin x P), and each pixel tail (P not a multiple of the
// vector width) costs the rows dot products; so where Cin >= 3 Cout, or Cin > Cout with a pixel
// tail, and Cout fills whole vectors (a narrow masked panel broadcasts each pixel for few lanes).
// Measured (1 thread, batch 1, rows -> columns, alternating in one process), AVX-512 on AMD Zen 5:
// 7x7 960->320 1.09x, 960->160 1.10x, 1280->1000 1.04x (Cout 1000: not taken); 14x14 384->64
// 1.26x, 576->96 1.14x, 672->112 1.10x, 256->256 1.03x (not taken); 28x28 192->32 1.17x, 96->16
// 1.26x, 240->40 0.87x (Cout 40: a half-masked vector); 56x56 144->24 1.06x, 96->24 1.01x, 48->16
// 1.16x; 32->16@112 0.90x, 64->64@56 0.99x, 128->128@28 1.00x; expansions lose (24->144@56
// 0.77x, 32->192@28 0.84x, 64->384@14 0.91x, 160->960@7 0.93x). AVX2: 960->320@7 1.03x,
// 384->64@14 1.08x, 144->24@56 1.14x, 240->40@28 1.08x, 96->16@28 1.24x, 32->16@112 1.00x,
// 128->128@28 0.99x, 64->384@14 0.94x.
bool PointwiseOp::columns_fit() const {
  const ConvPlan& p = plan_;
  const kernels::GemmTiles& t = kt_->gemm_tiles;
  const int64_t cout = p.out_channels, width = t.nr_step;
  const bool whole_vectors = cout % width == 0 || cout % t.nr == width + width / 2;
  return p.layout == Layout::NCHW && whole_vectors && p.in_channels > cout;
}

bool PointwiseOp::columns() const {
  const ConvPlan& p = plan_;
  const int64_t pixels = p.out_pixels();
  const bool pixel_tail = pixels % kt_->gemm_tiles.nr_step != 0;
  return columns_fit() && !x_rows_in_place(pixels, pixels) &&
         (p.in_channels >= 3 * p.out_channels || pixel_tail);
}

bool PointwiseOp::x_rows_in_place(int64_t pixels, int64_t x_stride) const {
  const int64_t row_bytes = x_stride * int64_t(sizeof(float));
  return pixels % kt_->gemm_tiles.nr_step == 0 && row_bytes % kAliasedRowBytes != 0;
}

PointwiseOp PointwiseOp::for_plan(const ConvPlan& p) const {
  PointwiseOp op = *this;
  op.plan_ = p;
  return op;
}

// Block sizes are whole tiles, so that every block starts on a packed panel boundary.
int64_t PointwiseOp::max_m_block() const {
  const kernels::GemmTiles& t = kt_->gemm_tiles;
  const int64_t floats = !pixel_rows() ? kBlockFloats / kc_
                         : kBlockFloats / std::min(plan_.out_channels, max_n_block());
  return std::max<int64_t>(1, floats / t.mr) * t.mr;
}

int64_t PointwiseOp::max_n_block() const {
  const kernels::GemmTiles& t = kt_->gemm_tiles;
  const int64_t floats = !pixel_rows() ? kBlockFloats / kc_ : kReusedFloats / kc_;
  return std::max<int64_t>(1, floats / t.nr) * t.nr;
}

int64_t PointwiseOp::workspace_floats(int64_t pixels) const {
  if (plan_.layout == Layout::NHWC) return 0;
  if (columns()) {
    return std::min(pixels, max_m_block()) *
           transposed_block_width(std::min(plan_.out_channels, max_n_block()));
  }
  return gemm_rows_workspace(kc_, std::min(pixels, max_n_block()), kt_->gemm_tiles);
}

void PointwiseOp::gemm(int64_t m0, int64_t m, int64_t n0, int64_t n, const float* x,
                       int64_t x_stride, float* y, int64_t y_stride, float* workspace,
                       bool streamed) const {
  const int64_t cin = plan_.in_channels;
  kernels::GemmBlockArgs a;
  a.k = cin;
  a.kc = kc_;
  a.m = m;
  a.n = n;
  a.activation = plan_.activation;
  if (plan_.layout == Layout::NHWC) {  // rows m: pixels, columns n: output channels
    a.a = x + m0 * x_stride; a.lda = x_stride;
    a.b = packed_.get() + n0 * (cin + 1); a.ldb = 0;
    a.bias = nullptr;
    a.c = y + m0 * y_stride + n0; a.ldc = y_stride;
    a.workspace = nullptr;
    a.prefetch_a = streamed;
    kt_->gemm_rows_panels(a);
  } else if (columns()) {  // rows m: pixels, columns n: output channels, C^T in the workspace
    const int64_t width = transposed_block_width(n);
    a.a = x + m0; a.lda = x_stride;
    a.b = packed_.get() + n0 * (cin + 1); a.ldb = 0;
    a.bias = nullptr;
    a.c = workspace; a.ldc = width;
    a.workspace = nullptr;
    kt_->gemm_columns_panels(a);
    kernels::InterleaveArgs t;
    t.planar = y + n0 * y_stride + m0;
    t.plane_stride = y_stride;
    t.interleaved = workspace;
    t.channels = n;
    t.tile = width;
    t.rows = 1;
    t.width = m;
    kt_->deinterleave_channels(t);
  } else {  // rows m: output channels, columns n: pixels
    a.a = weights_ + m0 * cin; a.lda = cin;
    a.b = x + n0; a.ldb = x_stride;
    a.bias = biases_ != nullptr ? biases_ + m0 : nullptr;
    a.c = y + m0 * y_stride + n0; a.ldc = y_stride;
    a.workspace = x_rows_in_place(n, x_stride) ? nullptr : workspace;
    kt_->gemm_rows_rows(a);
  }
}

void PointwiseOp::block(const float* x, int64_t pixels, int64_t x_stride, float* y,
                        int64_t y_stride, float* workspace) const {
  const bool rows = pixel_rows();
  const int64_t m_total = rows ? pixels : plan_.out_channels;
  const int64_t n_total = rows ? plan_.out_channels : pixels;
  const int64_t mb = max_m_block(), nb = max_n_block();
  for (int64_t n0 = 0; n0 < n_total; n0 += nb) {
    for (int64_t m0 = 0; m0 < m_total; m0 += mb) {
      gemm(m0, std::min(mb, m_total - m0), n0, std::min(nb, n_total - n0), x, x_stride, y,
           y_stride, workspace, false);
    }
  }
}

void PointwiseOp::operator()(const float* x, float* y) const {
  const ConvPlan& p = plan_;
  const kernels::GemmTiles& t = kt_->gemm_tiles;
  const int64_t pixels = p.out_pixels();
  const int64_t cin = p.in_channels, cout = p.out_channels;
  const int64_t threads = get_num_threads();
  const bool nhwc = p.layout == Layout::NHWC;
  // NCHW blocks each copy their columns of X into panels again for their rows of W, so their
  // threads take a block or two each rather than four. Measured (2 threads, batch 1, µs, 4 -> 1
  // per thread, two binaries taking turns): 384->64@14 29.7 -> 25.3, 960->160@7 42 -> 34,
  // 960->320@7 73 -> 65, 576->96@14 60 -> 53, 240->40@28 48 -> 36, 64->384@14 24 -> 21; batch 2
  // 384->64@14 49 -> 43; 144->24@56 and 32->16@112 a tie (AVX-512, Zen 5). By columns, where each
  // block transposes its own C block, 4 -> 1 per thread: 960->320@7 1.07x, 960->160@7 1.04x,
  // 384->64@14 1.04x (batch 8 1.03x), 144->24@56 1.03x (alternating in one process).
  const bool rows = pixel_rows();
  const int64_t min_tasks = threads > 1 ? (nhwc ? 4 : 1) * threads : 1;
  // NHWC is one GEMM over all N*P pixel rows; NCHW one GEMM per image.
  const int64_t gemms = nhwc ? 1 : p.batch;
  const int64_t m_total = nhwc ? p.batch * pixels : rows ? pixels : cout;
  const int64_t n_total = rows ? cout : pixels;
  const GemmBlocks blk = gemm_blocks(m_total, n_total, t.mr, t.nr, max_m_block(), max_n_block(),
                                     gemms, min_tasks);
  const int64_t per_gemm = blk.m.parts * blk.n.parts;
  const int64_t ws_floats = workspace_floats(rows ? blk.m.max_size() : blk.n.max_size());
  const Scratch workspace = alloc_scratch(threads * ws_floats);
  const int64_t x_stride = nhwc ? cin : pixels, y_stride = nhwc ? cout : pixels;
  const bool streamed = nhwc && cin >= kStreamedMinDepth && input_streamed(p);
  parallel_for(gemms * per_gemm, p.y_count * cin, [&](int64_t task, int thread) {
    const int64_t g = task / per_gemm;
    const int64_t mi = (task % per_gemm) / blk.n.parts, ni = task % blk.n.parts;
    const int64_t m0 = blk.m.begin(mi), n0 = blk.n.begin(ni);
    gemm(m0, blk.m.end(mi) - m0, n0, blk.n.end(ni) - n0, x + g * cin * pixels, x_stride,
         y + g * cout * pixels, y_stride, workspace.get() + thread * ws_floats, streamed);
  });
}

}  // namespace detail

void pointwise_conv2d(const PointwiseConv2dDesc& desc, const float* x, const float* weight,
                      const float* bias, float* y) {
  const ConvPlan p = plan(desc);
  detail::require_output(p, y, x, weight, bias, p.out_channels);
  detail::PointwiseOp(p, weight, bias)(x, y);
}

}  // namespace sepconv
