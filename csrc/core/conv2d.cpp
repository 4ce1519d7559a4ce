// Standard (grouped) convolution on the blocked GEMM kernels (kernels.h: GemmBlockArgs) over im2col
// tiles: each task gathers the patches of a block of output pixels into a per-thread L2-sized
// buffer and multiplies them by the group's weights; 1x1 stride-1 unpadded convolutions read the
// input in place.
//   NHWC: Y (pixels x Cout_g) = col (pixels x KH*KW*Cin_g, taps outermost) * packed W_g^T (B panels).
//   NCHW: Y (Cout_g x pixels) = W_g (Cout_g x Cin_g*KH*KW, read in place) * col (Cin_g*KH*KW x pixels).
// NHWC with Cin_g >= kMinImplicitDepth skips the im2col copy for the interior (implicit GEMM,
// kernels.h: GemmTapsArgs): for an output row's columns whose every tap lies inside the image, the A
// rows of tap (kh, kw) are the input pixels that tap reads, stride_w * Cin apart, accumulated over
// the taps into the same C block; taps on padded rows are skipped. Only the border columns (usually
// one each side) go through im2col, one column of a block of rows at a time (C rows out_w apart).
// NCHW with Cin_g >= kMinImplicitDepth runs the same NHWC path between two transposes (x to
// channels-last, y back): two passes over x and y cost less than NCHW im2col, whose column tile is
// then copied again into B panels and, with few output channels, reused by few rows of W.
#include <algorithm>
#include <vector>

#include "core/buffer.h"
#include "core/check.h"
#include "core/dispatch.h"
#include "core/operators.h"
#include "core/packing.h"
#include "core/parallel.h"

namespace sepconv {
namespace detail {

namespace {

// A thread's im2col tile stays within half of a 512 KiB L2.
constexpr int64_t kMaxTileFloats = int64_t(1) << 16;
// Below this depth per tap, a k-block of the implicit GEMM is too short to pay for loading and
// storing the C tile once per tap: im2col's longer k-blocks win.
constexpr int64_t kMinImplicitDepth = 16;

struct Conv {
  const ConvPlan& p;
  int64_t kh_n, kw_n, taps, cin_g, cout_g, depth, pixels;

  // Input row/column of output (oh, ow) at tap (kh, kw); may lie outside the image.
  int64_t ih(int64_t oh, int64_t kh) const {
    return oh * p.window.stride_h - p.geometry.pad_top + kh * p.window.dilation_h;
  }
  int64_t iw(int64_t ow, int64_t kw) const {
    return ow * p.window.stride_w - p.geometry.pad_left + kw * p.window.dilation_w;
  }
  bool in_place() const {
    const Geometry& g = p.geometry;
    return taps == 1 && p.window.stride_h == 1 && p.window.stride_w == 1 && g.pad_top == 0 &&
           g.pad_left == 0 && g.out_h == g.in_h && g.out_w == g.in_w;
  }

  // NCHW: rows (ci, kh, kw) of nb pixels from p0; xg = the group's first input plane.
  void im2col_nchw(const float* xg, int64_t p0, int64_t nb, float* col) const {
    const Geometry& g = p.geometry;
    const int64_t sw = p.window.stride_w;
    for (int64_t ci = 0; ci < cin_g; ++ci) {
      const float* plane = xg + ci * g.in_h * g.in_w;
      for (int64_t kh = 0; kh < kh_n; ++kh) {
        for (int64_t kw = 0; kw < kw_n; ++kw) {
          float* dst = col + ((ci * kh_n + kh) * kw_n + kw) * nb;
          for (int64_t j = 0; j < nb;) {
            const int64_t oh = (p0 + j) / g.out_w, ow0 = (p0 + j) % g.out_w;
            const int64_t len = std::min(nb - j, g.out_w - ow0);  // this output row's segment
            float* d = dst + j;
            j += len;
            const int64_t r = ih(oh, kh);
            if (r < 0 || r >= g.in_h) {
              std::fill(d, d + len, 0.0f);
              continue;
            }
            const float* src = plane + r * g.in_w;
            // ow in [lo, hi) reads a column inside the image.
            const int64_t off = iw(0, kw);
            int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
            int64_t hi = g.in_w - off <= 0 ? 0 : (g.in_w - off - 1) / sw + 1;
            lo = std::min(std::max(lo, ow0), ow0 + len);
            hi = std::min(std::max(hi, lo), ow0 + len);
            std::fill(d, d + (lo - ow0), 0.0f);
            if (sw == 1) {
              std::copy(src + lo + off, src + hi + off, d + (lo - ow0));
            } else {
              for (int64_t ow = lo; ow < hi; ++ow) d[ow - ow0] = src[ow * sw + off];
            }
            std::fill(d + (hi - ow0), d + len, 0.0f);
          }
        }
      }
    }
  }

  // NHWC: the row of depth (taps outermost, Cin_g inner) of output pixel (oh, ow); xg = the image +
  // group offset.
  void im2col_nhwc_pixel(const float* xg, int64_t oh, int64_t ow, float* dst) const {
    const Geometry& g = p.geometry;
    for (int64_t kh = 0; kh < kh_n; ++kh) {
      const int64_t r = ih(oh, kh);
      for (int64_t kw = 0; kw < kw_n; ++kw, dst += cin_g) {
        const int64_t c = iw(ow, kw);
        if (r < 0 || r >= g.in_h || c < 0 || c >= g.in_w) {
          std::fill(dst, dst + cin_g, 0.0f);
        } else {
          const float* src = xg + (r * g.in_w + c) * p.in_channels;
          std::copy(src, src + cin_g, dst);
        }
      }
    }
  }
  void im2col_nhwc(const float* xg, int64_t p0, int64_t nb, float* col) const {
    const Geometry& g = p.geometry;
    for (int64_t j = 0; j < nb; ++j) {
      im2col_nhwc_pixel(xg, (p0 + j) / g.out_w, (p0 + j) % g.out_w, col + j * depth);
    }
  }

  // Output columns [lo, hi) whose every tap reads a column inside the image (lo <= hi).
  void interior_columns(int64_t& lo, int64_t& hi) const {
    const Geometry& g = p.geometry;
    const int64_t sw = p.window.stride_w;
    const int64_t first = iw(0, 0), last = iw(0, kw_n - 1);  // input columns of output column 0
    lo = first >= 0 ? 0 : (-first + sw - 1) / sw;
    hi = g.in_w - 1 - last < 0 ? 0 : (g.in_w - 1 - last) / sw + 1;
    lo = std::min(lo, g.out_w);
    hi = std::min(std::max(hi, lo), g.out_w);
  }
};

// Rows [r0, r1) of src (rows x cols) into dst (cols x rows) = src^T: 4 x 4 transposes in SSE
// registers (the baseline ISA), each reading 4 rows front to back.
void transpose_block(const float* src, int64_t rows, int64_t cols, int64_t r0, int64_t r1,
                     float* dst) {
  int64_t i0 = r0;
#if defined(__SSE2__)
  const int64_t r4 = r0 + (r1 - r0) / 4 * 4, c4 = cols / 4 * 4;
  for (; i0 < r4; i0 += 4) {
    const float* s = src + i0 * cols;
    int64_t j = 0;
    for (; j < c4; j += 4) {
      transpose_4x4(s + j, cols, dst + j * rows + i0, rows);
    }
    for (; j < cols; ++j) {
      for (int64_t i = i0; i < i0 + 4; ++i) dst[j * rows + i] = src[i * cols + j];
    }
  }
#endif
  for (; i0 < r1; ++i0) {
    for (int64_t j = 0; j < cols; ++j) dst[j * rows + i0] = src[i0 * cols + j];
  }
}

// Each of `count` matrices (rows x cols, `rows * cols` apart) transposed, in parallel over row blocks.
void transpose_all(const float* src, int64_t count, int64_t rows, int64_t cols, float* dst) {
  const int64_t threads = get_num_threads();
  const Split blocks = split_for(rows, count, threads > 1 ? 4 * threads : 1, 16);
  parallel_for(count * blocks.parts, count * rows * cols, [&](int64_t task, int) {
    const int64_t n = task / blocks.parts, part = task % blocks.parts;
    transpose_block(src + n * rows * cols, rows, cols, blocks.begin(part), blocks.end(part),
                    dst + n * rows * cols);
  });
}

// `count` images of `channels` planes of `pixels` to channels-last (planes = the source) or back,
// in parallel over pixel blocks. Channel counts in whole groups of 8 go through the kernel table's
// channel interleave (one tile as wide as the pixel, 8x8 AVX transposes on x86), the others
// through 4x4 SSE transposes (4 floats per store to rows 4 x channels apart). Measured against
// the SSE transposes for all (AVX-512, Zen 5, µs, two binaries taking turns), NCHW conv2d 3x3:
// 384->64@14 396 -> 361 (2 threads 234 -> 210; the same layer NHWC: 349), 144->24@56 992 -> 952,
// 64->64@56 948 -> 925.
void change_layout(const kernels::KernelTable& kt, bool to_channels_last, const float* src,
                   int64_t count, int64_t channels, int64_t pixels, float* dst) {
  if (channels % 8 != 0) {
    if (to_channels_last) {
      transpose_all(src, count, channels, pixels, dst);
    } else {
      transpose_all(src, count, pixels, channels, dst);
    }
    return;
  }
  const int64_t threads = get_num_threads();
  const Split blocks = split_for(pixels, count, threads > 1 ? 4 * threads : 1, 16);
  parallel_for(count * blocks.parts, count * channels * pixels, [&](int64_t task, int) {
    const int64_t image = (task / blocks.parts) * channels * pixels;
    const int64_t p0 = blocks.begin(task % blocks.parts), p1 = blocks.end(task % blocks.parts);
    const float* planes = (to_channels_last ? src : dst) + image + p0;
    float* pixels_first =
        (to_channels_last ? dst : const_cast<float*>(src)) + image + p0 * channels;
    const kernels::InterleaveArgs a{planes, pixels, pixels_first, channels, channels, 1, p1 - p0};
    if (to_channels_last) {
      kt.interleave_channels(a);
    } else {
      kt.deinterleave_channels(a);
    }
  });
}

// NHWC implicit GEMM (see the top of the file); packed = the groups' B panels, nb = columns of C
// per kernel call.
void implicit_nhwc(const Conv& cv, const kernels::KernelTable& kt, const float* packed_groups,
                   const float* x, float* y, int64_t nb) {
  const ConvPlan& p = cv.p;
  const Geometry& g = p.geometry;
  const kernels::GemmTiles& tiles = kt.gemm_tiles;
  const int64_t depth = cv.depth, cin_g = cv.cin_g, cout_g = cv.cout_g, taps = cv.taps;
  const int64_t threads = get_num_threads();
  const int64_t min_tasks = threads > 1 ? 4 * threads : 1;
  int64_t lo = 0, hi = 0;
  cv.interior_columns(lo, hi);
  const int64_t edge_cols = lo + (g.out_w - hi);
  // Interior tasks: blocks of output rows. Border tasks: one border column, a fixed number of rows
  // (one im2col tile, whole MR tiles) so that the tiles, and so the bits, do not depend on the
  // thread count; each interior task also runs every interior_tasks-th border task.
  const Split row_blocks = split_for(g.out_h, p.batch * p.groups, min_tasks);
  const int64_t interior_tasks = hi > lo ? p.batch * p.groups * row_blocks.parts : 0;
  const int64_t edge_rows =
      std::min(g.out_h, std::max(tiles.mr, kMaxTileFloats / depth / tiles.mr * tiles.mr));
  const int64_t edge_chunks = ceil_div(g.out_h, edge_rows);
  const int64_t edge_tasks = p.batch * p.groups * edge_cols * edge_chunks;
  const int64_t tasks = interior_tasks > 0 ? interior_tasks : edge_tasks;
  const int64_t edge_step = tasks;
  const Scratch tiles_buf = alloc_scratch(edge_tasks > 0 ? threads * edge_rows * depth : 0);
  const int64_t group_floats = packed_b_floats(depth, cout_g, tiles);
  const int64_t kc_tap = gemm_kc(cin_g, tiles);
  const int64_t kc = gemm_kc(depth, tiles);
  const int64_t row_floats = g.out_w * p.out_channels;  // one output row of y
  std::vector<const float*> taps_buf(static_cast<size_t>(threads * taps));
  auto image = [&](int64_t image_group, const float*& xg, const float*& packed, float*& yg) {
    const int64_t n = image_group / p.groups, grp = image_group % p.groups;
    xg = x + n * p.in_pixels() * p.in_channels + grp * cin_g;
    packed = packed_groups + grp * group_floats;
    yg = y + n * g.out_h * row_floats + grp * cout_g;
  };
  parallel_for(tasks, p.y_count * depth, [&](int64_t task, int thread) {
    const float* xg;
    const float* packed;
    float* yg;
    if (interior_tasks > 0) {
      image(task / row_blocks.parts, xg, packed, yg);
      const int64_t oh0 = row_blocks.begin(task % row_blocks.parts);
      const int64_t oh1 = row_blocks.end(task % row_blocks.parts);
      const float** a_taps = taps_buf.data() + thread * taps;
      kernels::GemmTapsArgs a;
      a.m = hi - lo;
      a.taps = taps;
      a.tap_depth = cin_g;
      a.kc = kc_tap;
      a.a_taps = a_taps;
      a.lda = p.window.stride_w * p.in_channels;
      a.ldc = p.out_channels;
      a.activation = p.activation;
      for (int64_t oh = oh0; oh < oh1; ++oh) {
        for (int64_t kh = 0; kh < cv.kh_n; ++kh) {
          const int64_t r = cv.ih(oh, kh);
          for (int64_t kw = 0; kw < cv.kw_n; ++kw) {
            a_taps[kh * cv.kw_n + kw] =
                r < 0 || r >= g.in_h ? nullptr : xg + (r * g.in_w + cv.iw(lo, kw)) * p.in_channels;
          }
        }
        for (int64_t c0 = 0; c0 < cout_g; c0 += nb) {
          a.n = std::min(nb, cout_g - c0);
          a.b = packed + c0 * (depth + 1);
          a.c = yg + oh * row_floats + lo * p.out_channels + c0;
          kt.gemm_taps_panels(a);
        }
      }
    }
    float* col = tiles_buf.get() + thread * edge_rows * depth;
    for (int64_t e = task; e < edge_tasks; e += edge_step) {
      image(e / (edge_cols * edge_chunks), xg, packed, yg);
      const int64_t col_index = (e / edge_chunks) % edge_cols;
      const int64_t ow = col_index < lo ? col_index : hi + (col_index - lo);
      const int64_t oh0 = (e % edge_chunks) * edge_rows;
      const int64_t oh1 = std::min(g.out_h, oh0 + edge_rows);
      for (int64_t oh = oh0; oh < oh1; ++oh) cv.im2col_nhwc_pixel(xg, oh, ow, col + (oh - oh0) * depth);
      kernels::GemmBlockArgs a;
      a.m = oh1 - oh0; a.k = depth; a.kc = kc;
      a.a = col; a.lda = depth;
      a.bias = nullptr; a.ldb = 0; a.ldc = row_floats;
      a.activation = p.activation;
      a.workspace = nullptr;
      for (int64_t c0 = 0; c0 < cout_g; c0 += nb) {
        a.n = std::min(nb, cout_g - c0);
        a.b = packed + c0 * (depth + 1);
        a.c = yg + oh0 * row_floats + ow * p.out_channels + c0;
        kt.gemm_rows_panels(a);
      }
    }
  });
}

}  // namespace

Conv2dOp::Conv2dOp(const ConvPlan& p, const float* weight, const float* bias)
    : plan_(p), kt_(&active_kernels()), weights_(weight), biases_(bias) {
  const int64_t taps = p.window.kernel_h * p.window.kernel_w;
  const int64_t cin_g = p.in_channels / p.groups, cout_g = p.out_channels / p.groups;
  const int64_t depth = cin_g * taps;
  if (p.layout == Layout::NCHW && cin_g < kMinImplicitDepth) return;
  // NHWC: each group's weights as B panels with k = (tap, ci), the im2col order.
  const int64_t group_floats = packed_b_floats(depth, cout_g, kt_->gemm_tiles);
  std::shared_ptr<float[]> packed = alloc_shared_floats(p.groups * group_floats);
  std::vector<float> reordered(static_cast<size_t>(taps > 1 ? cout_g * depth : 0));
  for (int64_t grp = 0; grp < p.groups; ++grp) {
    const float* wg = weight + grp * cout_g * depth;  // (Cout_g, Cin_g, KH, KW)
    if (taps > 1) {
      for (int64_t co = 0; co < cout_g; ++co) {
        for (int64_t ci = 0; ci < cin_g; ++ci) {
          for (int64_t t = 0; t < taps; ++t) {
            reordered[co * depth + t * cin_g + ci] = wg[(co * cin_g + ci) * taps + t];
          }
        }
      }
      wg = reordered.data();
    }
    pack_gemm_b(wg, depth, cout_g, 1, depth, bias != nullptr ? bias + grp * cout_g : nullptr,
                kt_->gemm_tiles, packed.get() + grp * group_floats);
  }
  packed_ = std::move(packed);
}

Conv2dOp Conv2dOp::for_plan(const ConvPlan& p) const {
  Conv2dOp op = *this;
  op.plan_ = p;
  return op;
}

void Conv2dOp::operator()(const float* x, float* y) const {
  const ConvPlan& p = plan_;
  const kernels::KernelTable& kt = *kt_;
  const kernels::GemmTiles& tiles = kt.gemm_tiles;
  Conv cv{p, p.window.kernel_h, p.window.kernel_w, 0, 0, 0, 0, 0};
  cv.taps = cv.kh_n * cv.kw_n;
  cv.cin_g = p.in_channels / p.groups;
  cv.cout_g = p.out_channels / p.groups;
  cv.depth = cv.cin_g * cv.taps;
  cv.pixels = p.out_pixels();
  const int64_t depth = cv.depth, pixels = cv.pixels, cin_g = cv.cin_g, cout_g = cv.cout_g;
  const bool in_place = cv.in_place();
  const int64_t threads = get_num_threads();
  const int64_t min_tasks = threads > 1 ? 4 * threads : 1;
  const int64_t kc = gemm_kc(depth, tiles);
  const int64_t max_reused = std::max(std::max(tiles.mr, tiles.nr), (int64_t(1) << 16) / kc);
  const int64_t unit = p.layout == Layout::NCHW ? tiles.nr : tiles.mr;
  // Pixel blocks: whole GEMM tiles, the im2col tile within kMaxTileFloats, enough tasks.
  const Split blocks = split_for(pixels, p.batch * p.groups, min_tasks, unit,
                                 std::max(unit, kMaxTileFloats / depth / unit * unit));
  const int64_t block = blocks.max_size(), tasks = p.batch * p.groups * blocks.parts;
  const Scratch tiles_buf = alloc_scratch(in_place ? 0 : threads * block * depth);

  if (p.layout == Layout::NCHW && packed_ != nullptr && !in_place) {
    // Through channels-last: x (C x HW) -> (HW x C) per image, y back.
    const Geometry& g = p.geometry;
    float* xt = cached_scratch(CachedSlot::ConvInput, p.batch * p.in_pixels() * p.in_channels);
    float* yt = cached_scratch(CachedSlot::ConvOutput, p.y_count);
    change_layout(kt, true, x, p.batch, p.in_channels, p.in_pixels(), xt);
    const int64_t nb = std::min(cout_g, max_reused / tiles.nr * tiles.nr);
    implicit_nhwc(cv, kt, packed_.get(), xt, yt, nb);
    change_layout(kt, false, yt, p.batch, p.out_channels, g.out_h * g.out_w, y);
    return;
  }
  if (p.layout == Layout::NCHW) {
    const int64_t mb = std::min(cout_g, std::max(tiles.mr, (int64_t(1) << 15) / kc / tiles.mr * tiles.mr));
    const int64_t ws_floats = gemm_rows_workspace(kc, block, tiles);
    const Scratch workspace = alloc_scratch(threads * ws_floats);
    parallel_for(tasks, p.y_count * depth, [&](int64_t task, int thread) {
      const int64_t n = task / (p.groups * blocks.parts);
      const int64_t grp = (task / blocks.parts) % p.groups;
      const int64_t p0 = blocks.begin(task % blocks.parts);
      const int64_t nb = blocks.end(task % blocks.parts) - p0;
      const float* xg = x + (n * p.in_channels + grp * cin_g) * p.in_pixels();
      kernels::GemmBlockArgs a;
      if (in_place) {
        a.b = xg + p0; a.ldb = pixels;
      } else {
        float* col = tiles_buf.get() + thread * block * depth;
        cv.im2col_nchw(xg, p0, nb, col);
        a.b = col; a.ldb = nb;
      }
      a.n = nb; a.k = depth; a.kc = kc;
      a.lda = depth; a.ldc = pixels;
      a.activation = p.activation;
      a.workspace = workspace.get() + thread * ws_floats;
      for (int64_t m0 = 0; m0 < cout_g; m0 += mb) {
        const int64_t co = grp * cout_g + m0;
        a.m = std::min(mb, cout_g - m0);
        a.a = weights_ + co * depth;
        a.bias = biases_ != nullptr ? biases_ + co : nullptr;
        a.c = y + (n * p.out_channels + co) * pixels + p0;
        kt.gemm_rows_rows(a);
      }
    });
    return;
  }

  const int64_t group_floats = packed_b_floats(depth, cout_g, tiles);
  const int64_t nb = std::min(cout_g, max_reused / tiles.nr * tiles.nr);
  if (!in_place && cin_g >= kMinImplicitDepth) {
    implicit_nhwc(cv, kt, packed_.get(), x, y, nb);
    return;
  }
  parallel_for(tasks, p.y_count * depth, [&](int64_t task, int thread) {
    const int64_t n = task / (p.groups * blocks.parts);
    const int64_t grp = (task / blocks.parts) % p.groups;
    const int64_t p0 = blocks.begin(task % blocks.parts);
    const int64_t mb = blocks.end(task % blocks.parts) - p0;
    const float* xg = x + n * p.in_pixels() * p.in_channels + grp * cin_g;
    kernels::GemmBlockArgs a;
    if (in_place) {
      a.a = xg + p0 * p.in_channels; a.lda = p.in_channels;
    } else {
      float* col = tiles_buf.get() + thread * block * depth;
      cv.im2col_nhwc(xg, p0, mb, col);
      a.a = col; a.lda = depth;
    }
    a.m = mb; a.k = depth; a.kc = kc;
    a.bias = nullptr; a.ldb = 0; a.ldc = p.out_channels;
    a.activation = p.activation;
    a.workspace = nullptr;
    for (int64_t c0 = 0; c0 < cout_g; c0 += nb) {
      a.n = std::min(nb, cout_g - c0);
      a.b = packed_.get() + grp * group_floats + c0 * (depth + 1);
      a.c = y + (n * pixels + p0) * p.out_channels + grp * cout_g + c0;
      kt.gemm_rows_panels(a);
    }
  });
}

}  // namespace detail

void conv2d(const Conv2dDesc& desc, const float* x, const float* weight, const float* bias,
            float* y) {
  const ConvPlan p = plan(desc);
  detail::require_output(p, y, x, weight, bias, p.out_channels);
  detail::Conv2dOp(p, weight, bias)(x, y);
}

}  // namespace sepconv
