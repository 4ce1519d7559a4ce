// Internal microkernel interface. Kernels take raw pointers and pre-validated geometry; they never
// allocate, validate or throw. The operators in csrc/core/ own shape checks, packing and threading.
//
// Each ISA's kernels live in namespace sepconv::<isa> (the build compiles the same sources once per
// ISA with -DSEPCONV_ISA_NS=<isa>), so no inline function compiled with wide-vector flags can be
// picked by the linker for a baseline caller.
#pragma once

#include <cstdint>
#include <numeric>

#include "sepconv/sepconv.h"

namespace sepconv {
namespace kernels {

// The L1 data cache the kernels and operators plan for (Zen 3 and most x86 cores: 32 KiB, 8 ways
// of 64 sets of 64-byte lines). Pixels `stride_bytes` apart fall in 4096 / gcd(stride, 4096) of
// its sets: all 64 for most NHWC channel counts, 2 for 512 floats and 1 for 1024, where one channel
// tile of a few pixels already fills its sets. Internal linkage: the per-ISA kernels include this
// header too, and no copy of theirs may be linked for a baseline caller.
constexpr int64_t kL1Ways = 8;
constexpr int64_t kL1Sets = 64;
static inline int64_t l1_sets_reached(int64_t stride_bytes) {
  const int64_t page = kL1Sets * 64;
  const int64_t sets = page / std::gcd(stride_bytes % page, page);
  return sets < kL1Sets ? sets : kL1Sets;
}

// Depthwise NHWC weights are packed per channel tile of `channel_tile` output channels (the tail tile
// zero-padded): [bias x tile][tap 0 x tile]...[tap KH*KW-1 x tile], taps in row-major (kh, kw) order.
constexpr int64_t kMaxChannelTile = 16;

// The window of the NHWC 3x3 kernels (dwconv-nhwc-3x3-simd.h, at stride 1 or 2): 3x3, dilation
// 1, the same stride both ways. The operators plan around them with the same test.
static inline bool window_3x3(const Window& w) {
  return w.kernel_h == 3 && w.kernel_w == 3 && w.dilation_h == 1 && w.dilation_w == 1 &&
         w.stride_h == w.stride_w;
}

struct DwconvNhwcArgs {
  const float* x;       // image (in_h, in_w, channels)
  const float* packed;  // packed weights for the whole image's output channels
  float* y;             // image (out_h, out_w), pixels y_pixel_stride floats apart
  int64_t channels, multiplier;
  int64_t y_pixel_stride;  // channels * multiplier, or more when y is a slice of wider pixels
  int64_t channel_tile;  // the table's dwconv_nhwc_channel_tile
  Window window;      // kernel, stride, dilation (its padding is resolved in geometry)
  Geometry geometry;
  int64_t oh_begin, oh_end;  // output rows to compute
  int64_t tile_begin, tile_end;  // channel tiles (of the output channels) to compute
  Activation activation;
  bool prefetch_rows;  // prefetch the rows of the next pass / output row (kernels/prefetch.h)
  // The 3x3 kernel's order on data that stays in L2: each channel tile walks down the band before
  // the next, finding the rows it shares with its previous pass in L1, instead of each pass
  // visiting every tile (dwconv-nhwc-3x3-simd.h). Only taken with tiles of a whole cache line
  // whose pixels reach enough L1 sets to hold a block's rows.
  bool walk_tiles;
  // Whole output vectors may be stored non-temporally where a vector is a cache line (y 64-byte
  // aligned, y_pixel_stride a multiple of 16 floats): for outputs that go to memory anyway.
  bool stream_y;
  // Multiplier 1 on tiles of a cache line: lanes [0, lead) of channel tile 0 lie before channel 0
  // (x, y and packed point lead floats before it; packed holds lead zero channels first), so that
  // on an input lead floats past a line every tile loads whole lines. The tiles cover lead +
  // channels lanes; lead < channel_tile.
  int64_t lead;
  // Input rows of the image below the band (geometry.in_h rows from x) that the prefetch may reach:
  // the operators' bands run in order on each thread, so the next band's first rows come next.
  int64_t rows_below;
};

// NCHW: one output channel plane, weights (KH*KW) of that channel in PyTorch order.
struct DwconvNchwArgs {
  const float* x;       // input plane (in_h, in_w) read by this output channel
  const float* weight;  // (window.kernel_h, window.kernel_w)
  float bias;
  float* y;             // output plane (out_h, out_w)
  Window window;      // kernel, stride, dilation (its padding is resolved in geometry)
  Geometry geometry;
  int64_t oh_begin, oh_end;
  Activation activation;
};

// The NCHW planes of a depthwise kernel call: output channels [channel_begin, channel_end); output
// channel c reads input plane c / multiplier (planes x_plane_stride floats apart), weights weight +
// c * taps (PyTorch order) and bias[c] (bias may be null), and writes y + c * y_plane_stride.
struct DwconvNchwPlanes {
  const float* x; int64_t x_plane_stride;
  const float* weight;
  const float* bias;
  float* y; int64_t y_plane_stride;
  int64_t channel_begin, channel_end, multiplier;
};

// NCHW, stride 1, out_w == in_w: each plane a flat run of out_h * out_w outputs
// (dwconv-nchw-flat-simd.h). masks: [tap][vector][lane] of the ISA's vector width over the flat
// outputs, -1 where the lane is an output (< out_h * out_w) whose tap lies inside the image, else
// 0; col_masks: [kw][vector][lane], the same for the tap's column alone (core/depthwise.cpp builds
// both once per geometry).
constexpr int64_t kMaxFlatTaps = 64;
struct DwconvNchwFlatArgs : DwconvNchwPlanes {
  Window window;
  Geometry geometry;
  const int32_t* masks;
  const int32_t* col_masks;
  Activation activation;
};

// NCHW 3x3, stride 1, dilation 1, one column of padding either side, rows of width >= 2: output
// rows of out_rows x width from the first of the in_rows input rows at x (pad_top, 0 or 1: whether
// a row of padding precedes them; the rows past them are padding), dwconv-nchw-3x3s1-run-simd.h.
struct DwconvNchwRunArgs : DwconvNchwPlanes {
  int64_t in_rows, out_rows, width, pad_top;
  Activation activation;
};

// NCHW 3x3, stride 2, dilation 1, pad_left 0 or 1: output rows of out_rows x out_w from the
// in_rows x in_w input rows at x, output row o reading input rows 2 * o - pad_top .. + 2 (the rows
// outside [0, in_rows) are padding, as are the columns outside [0, in_w)),
// dwconv-nchw-3x3s2-rows-simd.h. prefetch: fetch each pass's next input rows into the caches (an
// input streamed from memory).
struct DwconvNchw3x3s2Args : DwconvNchwPlanes {
  int64_t in_rows, in_w, out_rows, out_w, pad_top, pad_left;
  Activation activation;
  bool prefetch;
};

// `channels` (<= tile) planes, `rows` x `width` each, `plane_stride` apart, and the same pixels as
// [row][w][tile] with lanes >= channels zero (tile a multiple of 8). interleave reads planar;
// deinterleave writes it.
struct InterleaveArgs {
  const float* planar;
  int64_t plane_stride;
  float* interleaved;
  int64_t channels, tile, rows, width;
};

// Blocked GEMM, the fast path of pointwise and conv2d: C[m x n] = act(A[m x k] * B[k x n] + bias).
// A is read from its rows (a[i * lda + k]); B either from its rows (b[k * ldb + j]) or from panels
// packed by core/packing.h in the order the microkernel reads them:
//   B panels (column panels of `nr`; the last one rounded up to `nr_step` and zero-padded):
//     [bias(j0 .. j0+w)][B(0, j0 .. j0+w)] ... [B(k-1, j0 .. j0+w)], panel q at q * nr * (k + 1).
// With B panels the bias comes from them (per column); with B rows it is per row from `bias` (may be
// null). A block of packed B starts on a panel boundary (n0 % nr == 0). The kernel walks k in blocks of kc
// (bias at the first, activation after the last); blocks, packing and threads belong to the core.
struct GemmTiles {
  int64_t mr, nr;    // rows of the microkernel, columns of a B panel
  int64_t nr_step;   // the last B panel's width is rounded up to this (the vector width)
  int64_t kc;        // preferred k-block
};
struct GemmBlockArgs {
  int64_t m, n;      // this block of C
  int64_t k;         // full depth (also the packed panels' depth)
  int64_t kc;        // k-block, 1 <= kc <= k
  const float* a; int64_t lda;
  const float* b; int64_t ldb;  // ldb unused for B panels
  const float* bias;            // rows-rows variant only: per row, may be null
  float* c; int64_t ldc;
  Activation activation;
  // B-rows variants: per-thread scratch of kc * round_up(n, nr) floats (core/packing.h:
  // gemm_rows_workspace), where each k-block of B is copied into panels; null: B's rows are read
  // in place (n a multiple of nr_step; the core chooses where that pays).
  float* workspace;
  // Rows-panels variant: prefetch A's next rows (activations streamed from beyond the caches,
  // rows of several cache lines, which the hardware prefetchers follow poorly six at a time).
  bool prefetch_a = false;
};

// Implicit-GEMM convolution (NHWC, shifted 1x1): C[m x n] = act(sum over taps t of
// A_t[m x tap_depth] * B[t * tap_depth .. (t + 1) * tap_depth) + bias), where A_t(i, kk) =
// a_taps[t][i * lda + kk] is read in place from the input pixels (lda = stride * channels) and B is
// B panels (as above) of depth k = taps * tap_depth, bias per column. A null a_taps[t] reads only
// padding and contributes nothing (with every tap null, C = act(bias)). The kernel walks each tap's
// depth in blocks of at most kc (bias at the first block, activation after the last).
struct GemmTapsArgs {
  int64_t m, n;
  int64_t taps, tap_depth;
  int64_t kc;
  const float* const* a_taps; int64_t lda;
  const float* b;
  float* c; int64_t ldc;
  Activation activation;
};

struct KernelTable {
  Isa isa;
  // The peak-FMA probe (kernels/probe/fma-peak-simd.h): `iterations` rounds of independent FMA
  // chains, fma_peak_flops floating-point operations each; returns their sum (so they are kept).
  float (*fma_peak)(int64_t iterations, float seed);
  int64_t fma_peak_flops;
  int64_t dwconv_nhwc_channel_tile;  // <= kMaxChannelTile
  void (*dwconv_nhwc)(const DwconvNhwcArgs&);             // multiplier 1
  void (*dwconv_nhwc_multiplier)(const DwconvNhwcArgs&);  // any multiplier
  void (*dwconv_nchw)(const DwconvNchwArgs&);
  void (*dwconv_nchw_flat)(const DwconvNchwFlatArgs&);  // null: not available (scalar)
  int64_t dwconv_nchw_flat_width;  // lanes per vector of dwconv_nchw_flat's masks
  // Null where the ISA has none: they cut taps out of vector pairs by VALIGND, which only AVX-512
  // has across a whole vector.
  void (*dwconv_nchw_3x3s1_run)(const DwconvNchwRunArgs&);
  void (*dwconv_nchw_3x3s2_rows)(const DwconvNchw3x3s2Args&);
  // NCHW multiplier-1 depthwise runs dwconv_nhwc on interleaved channel tiles instead.
  bool dwconv_nchw_interleaved;
  void (*interleave_channels)(const InterleaveArgs&);
  void (*deinterleave_channels)(const InterleaveArgs&);
  GemmTiles gemm_tiles;
  void (*gemm_rows_panels)(const GemmBlockArgs&);  // A rows, B panels: NHWC (X * packed W^T)
  void (*gemm_rows_rows)(const GemmBlockArgs&);    // A rows, B rows: NCHW (W * X), no packing
  // A columns (A(i, k) = a[i + k * lda]), B panels: NCHW as (X^T * packed W^T), C pixels x Cout
  void (*gemm_columns_panels)(const GemmBlockArgs&);
  void (*gemm_taps_panels)(const GemmTapsArgs&);   // A rows per tap, B panels: NHWC conv2d
};

}  // namespace kernels

// One table per compiled ISA; defined in csrc/kernels/table.cpp compiled per ISA.
#define SEPCONV_DECLARE_ISA_TABLE(ns) \
  namespace ns { const kernels::KernelTable& kernel_table(); }
SEPCONV_DECLARE_ISA_TABLE(scalar)
#if defined(SEPCONV_HAVE_AVX2)
SEPCONV_DECLARE_ISA_TABLE(avx2)
#endif
#if defined(SEPCONV_HAVE_AVX512)
SEPCONV_DECLARE_ISA_TABLE(avx512)
#endif
#if defined(SEPCONV_HAVE_NEON)
SEPCONV_DECLARE_ISA_TABLE(neon)
#endif
#undef SEPCONV_DECLARE_ISA_TABLE

}  // namespace sepconv
