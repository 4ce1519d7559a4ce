// Depthwise operator: weights packed once (DepthwiseOp), then bands of output rows computed by the
// table's kernels. The same band function serves the plain op and the fused separable op.
#include <algorithm>

#include "core/buffer.h"
#include "core/check.h"
#include "core/dispatch.h"
#include "core/operators.h"
#include "core/parallel.h"

namespace sepconv {
namespace detail {

namespace {

// Per-thread interleave scratch of the NCHW path: input band + output band in half of a 512 KiB L2.
constexpr int64_t kBandBytes = 192 * 1024;
// The NCHW path interleaves as many channel tiles at a time as fit their whole images (input and
// output) in this many bytes.
constexpr int64_t kInterleaveGroupBytes = 64 * 1024;
constexpr int64_t kInterleaveMaxWidth = 40;
constexpr int64_t kL2Bytes = 1024 * 1024;
constexpr int64_t kPrefetchMinPixelBytes = 256;
constexpr int64_t kPrefetchMinPixelBytesFromMemory = 128;

// NHWC images whose pixel stride reaches at most kRestrideMaxSets of the L1 sets (C a multiple of
// 512) run on a copy of each band's input, kRestrideGroup channels at a time, with the pixels
// kRestridePad floats further apart, where the kernels' tiles no longer evict each other (the
// kernel reads the copy from L2 and never prefetches); the outputs are stored in place. Measured
// against a copy of the output too (1 thread unless said, alternating in one process): 3x3 s1
// C1024@7 1.14-1.16x (batch 8 1.26x, 2 threads 1.17x), C512@14 1.07-1.13x (batch 8 1.20x),
// C1024@14 0.94-1.02x; 3x3 s2 C1024@14 1.06-1.10x, C512@28 1.07x; 5x5 and 7x7 C512@14 1.07-1.11x.
// The copies against the kernel in place, measured earlier (AVX2, Zen 3, 1 thread,
// batch 1, µs, in place -> copies, two binaries taking turns, two sessions of runs): 3x3 s1
// C1024@14 253-263 -> 110-151, C1024@7 58-60 -> 29-35, C512@14 116-119 -> 62-105 and a tie,
// C512@28 509-549 -> 351-384 and a tie; 3x3 s2 C1024@14 132-138 -> 59-77, C512@28 267-287 ->
// 171-187; 5x5 C512@14 258 -> 128; 7x7 C512@14 766-816 -> 394-446.
// With only the input copied, pixels in 4 sets (C = 256, 768, 1280) gain too at stride 1 on images
// at least kRestrideMinWidth wide, where the kernels sweep several columns per tile. Measured
// (AVX2, Zen 3, in place -> input copy, 1 thread unless said, alternating in one process): 3x3
// C256@28 1.42x (2 threads 1.22x, batch 8 1.09x), C768@28 1.71x, C256@56 1.12x, C256@16 1.47x,
// C768@14 1.25x (2 threads 1.00x, batch 8 1.09x), C768@12 1.10x; 5x5 C768@14 1.33x, C768@12
// 1.34x; 7x7 C768@14 1.42x, C768@10 1.32x, C256@28 1.14x; but 3x3 C768@10 0.91x, C768@7 and
// C1280@7 0.62-0.65x (the row kernel's segments), 7x7 C768@7 1.02x, 3x3 s2 C256@28 and @56
// 0.94-0.97x. On AMD Zen 5 the AVX2 kernels still gain from the copies (3x3 C1024@7 1.44x,
// C768@14 1.33x, C256@28 1.20x, C512@14 1.16x).
// Channel tiles of a whole cache line (AVX-512) copy only for kernels other than the 3x3 one,
// and only pixels in one or two sets: the 3x3 kernel (dwconv-nhwc-3x3-simd.h) walks each tile
// down its band where its rows fit the tile's sets and the data stays in L2, and otherwise runs
// passes over all tiles, whose lines spread over the sets. Measured on AMD Zen 5 (AVX-512,
// alternating in one process, copy -> in place, batch 1 and 1 thread unless said): 3x3 s1
// C512@7 1.65x, C512@28 1.28x, C1024@14 1.35x, C512@14 1.28x, C1024@7 0.95-1.00x; 2 threads
// C512@14 1.16x, C1024@7 1.27x; batch 8 C512@14 1.28x, C1024@7 1.00x; s2 C512@14 2.19x, C512@28
// 1.53x, C1024@14 1.05x; 4 sets: 3x3 C256@12-56 1.24-1.52x (batch 8 1.14x, 2 threads 1.29x),
// C768@14 1.41x (2 threads 1.33x, batch 8 0.98x), 5x5 C256@28 1.29x, 7x7 C256@56 1.33x. 5x5 and
// 7x7 with 1 or 2 sets keep the copy: in place C512@14 0.93-0.97x, C1024@7 0.78-0.79x (batch 8
// 0.74-0.91x; 2 threads 0.94-1.17x).
constexpr int64_t kRestrideMaxSets = 2;
constexpr int64_t kRestrideWideMaxSets = 4;
constexpr int64_t kRestrideMinWidth = 12;
constexpr int64_t kRestrideGroup = 256;
constexpr int64_t kRestridePad = 8;

// NHWC channels per group whose input is copied to a padded pixel stride, or 0 (in place).
int64_t restrided_group(const ConvPlan& p, int64_t tile) {
  const int64_t c = p.in_channels;
  if (p.layout != Layout::NHWC || p.out_channels != c || c % kRestrideGroup != 0) return 0;
  const Window& w = p.window;
  const int64_t sets = kernels::l1_sets_reached(c * int64_t(sizeof(float)));
  if (tile == kCacheLineFloats) {
    return kernels::window_3x3(w) || sets > kRestrideMaxSets ? 0 : kRestrideGroup;
  }
  const bool wide_s1 = w.stride_w == 1 && p.geometry.in_w >= kRestrideMinWidth;
  return sets > (wide_s1 ? kRestrideWideMaxSets : kRestrideMaxSets) ? 0 : kRestrideGroup;
}

// NHWC, multiplier 1, on tiles of one cache line, with whole lines per pixel and enough tiles.
// A lead adds a tile, which the whole-line loads must repay: from 3 tiles for 3x3 kernels, whose
// loads per FMA are the most, from 8 for larger ones. Measured with the input 16 bytes past a line
// (AVX-512, AMD Zen 5, 1 thread, batch 1, separate runs, µs, without -> with a lead): 3x3 s1
// C144@56 72.8 -> 55.3, C384@14 14.0 -> 10.9, C960@7 7.7 -> 5.9, C128@28 18.8 -> 14.9, C96@56
// 47.6 -> 40.6, C64@56 34.0 -> 33.1, C32@112 60.4 -> 64.2; 3x3 s2 C96@112 103.5 -> 82.5, C48@56
// 8.7 -> 7.5; 5x5 C240@28 69.8 -> 67.1, C672@14 50.6 -> 47.1; 7x7 C384@14 46.4 -> 42.8, C96@56
// 195 -> 207.
bool leads(const ConvPlan& p, int64_t tile) {
  const int64_t min_tiles = p.window.kernel_h == 3 && p.window.kernel_w == 3 ? 3 : 8;
  return p.layout == Layout::NHWC && p.out_channels == p.in_channels &&
         tile == kCacheLineFloats && p.in_channels % kCacheLineFloats == 0 &&
         ceil_div(p.out_channels, tile) >= min_tiles;
}

// The lead that x runs with if its weights are packed (lead_for). The restrided path reads its
// own aligned copies.
int64_t lead_from(const ConvPlan& p, int64_t tile, const float* x) {
  const int64_t offset = floats_past_line(x);
  return !leads(p, tile) || restrided_group(p, tile) > 0 || offset % kLeadStep != 0 ? 0 : offset;
}

// Outputs larger than kStreamedBytes go to memory anyway: stored non-temporally (from a cache
// line), they skip the read-for-ownership of each line and leave the caches to the input.
// Measured (AVX-512, AMD Zen 5, 1 thread, batch 8, separate runs, µs): 3x3 s1 C32@112 1236-1278
// -> 973-985, C96@112 3704-4442 -> 3211-3314, C144@56 1110-1620 -> 910-1008; 3x3 s2 C96@112
// 2292-2295 -> 2094-2206.
bool streams_output(const ConvPlan& p) {
  return p.layout == Layout::NHWC && p.y_count * int64_t(sizeof(float)) > kStreamedBytes &&
         p.out_channels % kCacheLineFloats == 0;
}

// With `lead` zero channels first (kernels::DwconvNhwcArgs::lead).
SharedFloats pack_dwconv_nhwc(const ConvPlan& p, const float* weight, const float* bias,
                              int64_t channel_tile, int64_t lead) {
  const int64_t taps = p.window.kernel_h * p.window.kernel_w;
  const int64_t tiles = ceil_div(lead + p.out_channels, channel_tile);
  const int64_t floats = tiles * (1 + taps) * channel_tile;
  std::shared_ptr<float[]> packed = alloc_shared_floats(floats);
  std::fill_n(packed.get(), floats, 0.0f);  // a null bias, the lead and the missing channels
  // Tap-major with the channels innermost, so that the writes are contiguous: a functional call
  // packs per call (C960 3x3, construction of the op 13 -> 7-9 us).
  for (int64_t t = 0; t < tiles; ++t) {
    float* dst = packed.get() + t * (1 + taps) * channel_tile;
    const int64_t c0 = std::max<int64_t>(0, t * channel_tile - lead);
    const int64_t skip = c0 - (t * channel_tile - lead);  // lead lanes of tile 0
    const int64_t nc = std::min(channel_tile - skip, p.out_channels - c0);
    if (bias != nullptr) std::copy_n(bias + c0, nc, dst + skip);
    for (int64_t k = 0; k < taps; ++k) {
      float* tap = dst + (1 + k) * channel_tile + skip;
      const float* w = weight + c0 * taps + k;
      for (int64_t j = 0; j < nc; ++j) tap[j] = w[j * taps];
    }
  }
  return packed;
}

// Output rows [oh0, oh1) seen as an image of their own: the input rows [r0, r1) they read and the
// geometry that maps band row 0 to output row oh0 (its top padding may be negative).
struct Band {
  int64_t r0, r1;
  Geometry g;
};

Band band_of(const ConvPlan& p, int64_t oh0, int64_t oh1) {
  const Window& w = p.window;
  const Geometry& g = p.geometry;
  const int64_t eff_h = (w.kernel_h - 1) * w.dilation_h + 1;
  Band b;
  b.r0 = std::clamp<int64_t>(oh0 * w.stride_h - g.pad_top, 0, g.in_h);
  b.r1 = std::clamp<int64_t>((oh1 - 1) * w.stride_h - g.pad_top + eff_h, b.r0, g.in_h);
  b.g = g;
  b.g.in_h = b.r1 - b.r0;
  b.g.out_h = oh1 - oh0;
  b.g.pad_top = g.pad_top + b.r0 - oh0 * w.stride_h;
  return b;
}

kernels::DwconvNhwcArgs nhwc_args(const ConvPlan& p, const Band& b, int64_t channels,
                                  int64_t tile, DepthwiseOp::Source source) {
  kernels::DwconvNhwcArgs a{};
  a.channels = channels;
  a.multiplier = p.out_channels / p.in_channels;
  a.y_pixel_stride = channels * a.multiplier;
  a.channel_tile = tile;
  a.window = p.window;
  a.geometry = b.g;
  a.oh_begin = 0;
  a.oh_end = b.g.out_h;
  a.activation = p.activation;
  // The 3x3 stride-1 kernel prefetches the rows of its next pass when the call's input and output
  // stream from memory (over kStreamedBytes together) and a pixel spans several cache lines
  // (kernels/prefetch.h). Measured (AVX2, Zen 3, 1 thread, µs per image, a different input and
  // output image on each of 8 calls / the same image every call): C144@56 963 -> 507 / 373 -> 358.
  // On AMD Zen 5 (AVX-512, 1 thread, alternating calls in one process) it loses where the data
  // stays in L3: C144@56 batch 1 1.43x and batch 2 1.68x faster without, C240@56 1.49x, C576@28
  // 1.44x; batch 3 (10.8 MB) 1.8x faster with it. C32@112, whose 128-byte pixels the
  // hardware follows, 410 -> 443 / 228 -> 284, so it stays off there, except from memory (a
  // source over kStreamedBytes), where on AMD Zen 5 (AVX-512, 1 thread, batch 8, separate runs,
  // µs, non-temporal output) C32@112 804-896 -> 687-721, C40@112 1691-1717 -> 1343-1350 and
  // C48@112 1544-1592 -> 1150-1232; from L3 (batch 4 of C32@112) it lost 0.85x there too.
  // The row kernel prefetches the next output row's new input rows and its output row for
  // strided layers whose input (all images) exceeds kStreamedBytes.
  // Measured (1 thread, 3x3 stride 2, batch 8, alternating calls in one process): C96@112
  // 8312 -> 6158 µs, C144@56 3108 -> 1893. An earlier variant lost 15-25% on batch 1 of C96@112
  // (4.8 MB, from L3), so it stays off there.
  // Both also prefetch for the separable op's fused bands when the whole input exceeds
  // kStreamedBytes, across each band's last rows into the next band's: measured (1 thread,
  // batch 8, C144@56 3x3 s1 -> 24, alternating calls in one process) fused 9275 -> 7856 µs with
  // the prefetch inside bands, and 7150-7774 -> 6554-6765 with it crossing them, against
  // 7169-7835 unfused. The inverted residual's bands come from a buffer just written (in L2).
  const Window& w = p.window;
  const bool k3x3s1 = kernels::window_3x3(w) && w.stride_h == 1;
  const int64_t pixel_bytes = p.in_channels * int64_t(sizeof(float));
  const bool source_streamed = input_streamed(p);
  const bool streamed = k3x3s1 ? (p.x_count + p.y_count) * int64_t(sizeof(float)) > kStreamedBytes
                               : w.stride_h >= 2 && w.dilation_h == 1 && source_streamed;
  const bool image = source == DepthwiseOp::Source::Image;
  const int64_t min_pixel_bytes = k3x3s1 && source_streamed
                                      ? kPrefetchMinPixelBytesFromMemory
                                      : kPrefetchMinPixelBytes;
  a.prefetch_rows = p.layout == Layout::NHWC && image && streamed && pixel_bytes >= min_pixel_bytes;
  // Each thread's share of the call's input and output within its L2 (1 MiB on AMD Zen 5).
  a.walk_tiles = image && !a.prefetch_rows &&
                 (p.x_count + p.y_count) * int64_t(sizeof(float)) <= get_num_threads() * kL2Bytes;
  a.rows_below = image ? p.geometry.in_h - b.r1 : 0;
  return a;
}

// Flat NCHW planes (dwconv-nchw-flat-simd.h) load each input once per tap, plus a mask; the row
// kernel loads it once per R rows but pays per-row borders and short vectors, and wins once a row
// fills a few vectors. Measured (AVX2, Zen 3, 1 thread, batch 1, 3x3 s1, flat vs row kernel,
// medians of alternating calls): 4x4 C960 14.3 vs 6.3 GFLOP/s, 7x7 C960 11.4 vs 8.1, 10x10 C576
// 22.3 vs 15.3, 12x12 C384 22.3 vs 21.1, 14x14 C384 16.5 vs 15.9, 20x20 C240 18.5 vs 20.2; 5x5 at
// 7x7 C960 16.8 vs 15.0.
constexpr int64_t kFlatMaxWidth = 12;
// The masks of one plane stay in L1 next to its input and output.
constexpr int64_t kFlatMaxMaskBytes = 16 * 1024;

bool same_geometry(const Geometry& a, const Geometry& b) {
  return a.in_h == b.in_h && a.in_w == b.in_w && a.out_h == b.out_h && a.out_w == b.out_w &&
         a.pad_top == b.pad_top && a.pad_left == b.pad_left;
}

// Lanes of the flat kernel's vectors over one output plane: out_h * out_w rounded up to `width`.
int64_t flat_lanes(const Geometry& g, int64_t width) {
  return ceil_div(g.out_h * g.out_w, width) * width;
}

// DwconvNchwFlatArgs::masks and col_masks for plan p on vectors of `width` lanes.
FlatMasks flat_masks(const ConvPlan& p, int64_t width) {
  const Window& w = p.window;
  const Geometry& g = p.geometry;
  const int64_t lanes = flat_lanes(g, width);
  FlatMasks m;
  m.taps.assign(static_cast<size_t>(w.kernel_h * w.kernel_w * lanes), 0);
  m.columns.assign(static_cast<size_t>(w.kernel_w * lanes), 0);
  for (int64_t o = 0; o < g.out_h * g.out_w; ++o) {
    const int64_t oh = o / g.out_w, ow = o % g.out_w;
    for (int64_t kw = 0; kw < w.kernel_w; ++kw) {
      const int64_t iw = ow - g.pad_left + kw * w.dilation_w;
      if (iw < 0 || iw >= g.in_w) continue;
      m.columns[static_cast<size_t>(kw * lanes + o)] = -1;
      for (int64_t kh = 0; kh < w.kernel_h; ++kh) {
        const int64_t ih = oh - g.pad_top + kh * w.dilation_h;
        if (ih < 0 || ih >= g.in_h) continue;
        m.taps[static_cast<size_t>((kh * w.kernel_w + kw) * lanes + o)] = -1;
      }
    }
  }
  return m;
}

}  // namespace

DepthwiseOp::DepthwiseOp(const ConvPlan& p, const float* weight, const float* bias,
                         const float* only_input)
    : plan_(p), kt_(&active_kernels()), tile_(kt_->dwconv_nhwc_channel_tile), weights_(weight),
      biases_(bias) {
  if (p.layout == Layout::NHWC || interleavable()) {  // for_plan may switch to interleaving
    packed_[0] = pack_dwconv_nhwc(p, weight, bias, tile_, 0);  // also streamed outputs' weights
  }
  // The lead that only_input runs with, or -1 for every lead.
  const int64_t only = only_input == nullptr ? -1 : lead_from(p, tile_, only_input);
  if (leads(p, tile_)) {
    for (size_t i = 1; i < packed_.size(); ++i) {
      const int64_t lead = int64_t(i) * kLeadStep;
      if (only < 0 || only == lead) packed_[i] = pack_dwconv_nhwc(p, weight, bias, tile_, lead);
    }
  }
  flat_cache_ = std::make_shared<FlatMaskCache>();
  bind_flat_masks();
}

DepthwiseOp DepthwiseOp::for_plan(const ConvPlan& p) const {
  DepthwiseOp op = *this;
  op.plan_ = p;
  if (!same_geometry(plan_.geometry, p.geometry)) op.bind_flat_masks();
  return op;
}

// NCHW stride 1 with out_w == in_w on narrow planes whose masks fit in L1 (kFlat*).
void DepthwiseOp::bind_flat_masks() {
  flat_masks_.reset();
  const ConvPlan& p = plan_;
  const Window& w = p.window;
  const Geometry& g = p.geometry;
  const int64_t width = kt_->dwconv_nchw_flat_width;
  const int64_t taps = w.kernel_h * w.kernel_w;
  if (!planar() || runs() || kt_->dwconv_nchw_flat == nullptr) return;
  if (w.stride_h != 1 || w.stride_w != 1 || g.out_w != g.in_w || g.in_w > kFlatMaxWidth) return;
  if (taps > kernels::kMaxFlatTaps) return;
  const int64_t mask_bytes = (taps + w.kernel_w) * flat_lanes(g, width) * int64_t(sizeof(int32_t));
  if (mask_bytes > kFlatMaxMaskBytes) return;
  // A layer rebinds its op to each call's input size: the masks of the last size are reused.
  std::lock_guard<std::mutex> lock(flat_cache_->mutex);
  if (!flat_cache_->masks || !same_geometry(flat_cache_->geometry, g)) {
    flat_cache_->masks = std::make_shared<const FlatMasks>(flat_masks(p, width));
    flat_cache_->geometry = g;
  }
  flat_masks_ = flat_cache_->masks;
}

bool DepthwiseOp::interleavable() const {
  return plan_.layout == Layout::NCHW && plan_.out_channels == plan_.in_channels &&
         kt_->dwconv_nchw_interleaved;
}

// NCHW multiplier 1 on a SIMD table: the direct width-vectorised kernel, or the interleave through
// the NHWC kernels, of groups of tiles whose images fit kInterleaveGroupBytes. Measured (AVX2, Zen
// 3, 1 thread, batch 1, GFLOP/s direct vs interleave of one tile at a time, medians of alternating
// runs, sepconv_bench): 3x3 s1 C32@112 35 vs 19, C144@56 29 vs 18; 3x3 s2 C96@112 15 vs 10, C144@56
// 13 vs 9; 5x5 C240@28 30-33 vs 27-34 (tie); 7x7 C96@56 33-37 vs 34-45 and 31x31 C128@32 29-32 vs
// 31-40, where the NHWC kernel's register blocking over channels wins. Interleaving groups of
// tiles against the direct kernel (alternating in one process): 3x3 s1 4x4 C960 2.75x, 7x7 C160
// and C960 1.78-1.87x (batch 8 1.80x, 2 threads 1.78x), 10x10 C576 1.39x, 14x14 C384 and C576
// 1.05-1.08x, 20x20 C240 1.04x; 3x3 s2 C576@14 1.09x; 5x5 C960@7 1.40x, C672@14 1.17x; and 7x7
// C960@7 1.13x against one tile at a time. A 32 KiB budget lost on 14x14 (3x3 s2 0.93x, 5x5 0.96x).
// On the Zen 5 the interleave also wins on stride-1 images at most kInterleaveMaxWidth wide, where
// the direct kernel's rows are two or three vectors, mostly border ones (one tile at a time
// against direct, alternating in one process, AVX-512 / AVX2): 3x3 C192@28 1.09-1.14x / 1.15x,
// C64@36 1.30x / 1.07x, C64@40 1.03x / 1.02x, C64@44 1.01x / 0.99x, C64@48 0.90x / 0.95x, C144@56
// 0.87x; 5x5 C240@28 1.37-1.42x / 1.48x, C64@40 1.56x / 1.39x, C64@48 1.29x / 1.39x, C96@56 0.95x.
// At stride 2 it loses (3x3 C144@56 -> 28 0.62x / 1.03x, C64@80 0.81x / 0.89x).
// The NHWC kernel computes whole tiles, so fewer channels than half a tile run direct on images
// wider than the flat kernel's: 7x7 C1@56 took 33 µs interleaved against 3.0 direct, C4@56 34 vs
// 11.7, 3x3 C4@28 2.5-2.7 vs 1.7, C1@14 1.0 vs 0.4; at half a tile it was a tie (C8: 7x7@56 35 vs
// 23, 5x5@14 2.2-3.0 vs 3.6, 3x3@28 3.0 vs 3.2), and the flat kernel lost on 3x3 C4@7 (0.6 vs
// 0.8; AVX-512, 1 thread, batch 1).
// (On AVX-512, "same" 3x3 at stride 1 runs on the run kernel instead, DepthwiseOp::runs, and 3x3
// at stride 2 with outputs at least 12 wide on the rows kernel, DepthwiseOp::strided_rows.)
int64_t DepthwiseOp::interleave_tiles() const {
  if (!interleavable() || runs() || strided_rows()) return 0;
  if (2 * plan_.out_channels < tile_ && plan_.geometry.out_w > kFlatMaxWidth) return 0;
  const Geometry& g = plan_.geometry;
  const int64_t tile_image_bytes =
      (g.in_h * g.in_w + g.out_h * g.out_w) * tile_ * int64_t(sizeof(float));
  const int64_t group = std::clamp<int64_t>(kInterleaveGroupBytes / tile_image_bytes, 1, tiles());
  const bool narrow_s1 = plan_.window.stride_w == 1 && g.out_w <= kInterleaveMaxWidth;
  return group >= 2 || plan_.window.kernel_w > 5 || narrow_s1 ? group : 0;
}

// "Same" 3x3 at stride 1 (dwconv-nchw-3x3s1-run-simd.h), which beats the interleave, the flat
// kernel and the per-row kernel there, on whole planes and on bands of rows alike.
bool DepthwiseOp::runs() const {
  const Window& w = plan_.window;
  const Geometry& g = plan_.geometry;
  return plan_.layout == Layout::NCHW && kt_->dwconv_nchw_3x3s1_run != nullptr &&
         kernels::window_3x3(w) && w.stride_h == 1 && g.pad_top == 1 && g.pad_left == 1 &&
         g.out_h == g.in_h && g.out_w == g.in_w && g.in_w >= 2;
}

// 3x3 at stride 2 with at most one column of padding on the left (dwconv-nchw-3x3s2-rows-simd.h),
// on whole planes and on bands of rows alike, but for outputs narrower than kStridedRowsMinWidth,
// most of whose vectors' lanes would be empty, where the interleave wins. Measured (AVX-512, AMD
// Zen 5, 1 thread, batch 1, C384, µs, against the interleave or the per-row kernel, separate
// runs): 3x3 s2 at 14x14 (7 outputs per row) 17.7 against 10.9 (interleave), at 20x20 22.2 / 21.6
// (interleave), 24x24 25.0 / 42.1 (per-row), 28x28 31.8 / 49.6, 48x48 89 / 130.
constexpr int64_t kStridedRowsMinWidth = 12;

bool DepthwiseOp::strided_rows() const {
  const Window& w = plan_.window;
  return plan_.layout == Layout::NCHW && kt_->dwconv_nchw_3x3s2_rows != nullptr &&
         kernels::window_3x3(w) && w.stride_h == 2 && plan_.geometry.pad_left <= 1 &&
         plan_.geometry.out_w >= kStridedRowsMinWidth;
}

bool DepthwiseOp::planar() const {
  return plan_.layout == Layout::NCHW && interleave_tiles() == 0;
}

int64_t DepthwiseOp::tiles(int64_t lead) const {
  return ceil_div(lead + plan_.out_channels, tile_);
}

// An op built for one input has only its lead's weights.
int64_t DepthwiseOp::lead_for(const float* x) const {
  const int64_t lead = lead_from(plan_, tile_, x);
  return packed_[size_t(lead / kLeadStep)] ? lead : 0;
}

int64_t DepthwiseOp::scratch_floats(int64_t band_rows) const {
  const Window& w = plan_.window;
  const int64_t in_rows = std::min((band_rows - 1) * w.stride_h + (w.kernel_h - 1) * w.dilation_h + 1,
                                   plan_.geometry.in_h);
  const int64_t in_pixels = in_rows * plan_.geometry.in_w;
  if (interleave_tiles() > 0) {  // the input and output bands
    return (in_pixels + band_rows * plan_.geometry.out_w) * tile_ * interleave_tiles();
  }
  const int64_t restrided = restrided_group(plan_, tile_);
  if (restrided > 0) return in_pixels * (restrided + kRestridePad);  // the input
  return 0;
}

int64_t DepthwiseOp::max_band_rows() const {
  int64_t band = plan_.geometry.out_h;
  while (band > 1 && scratch_floats(band) * int64_t(sizeof(float)) > kBandBytes) band = (band + 1) / 2;
  return band;
}

std::pair<int64_t, int64_t> DepthwiseOp::input_rows(int64_t oh0, int64_t oh1) const {
  const Band b = band_of(plan_, oh0, oh1);
  return {b.r0, b.r1};
}

void DepthwiseOp::band(const float* x, int64_t x_plane_stride, int64_t oh0, int64_t oh1,
                       int64_t tile_begin, int64_t tile_end, float* y, int64_t y_plane_stride,
                       float* scratch, Access access) const {
  const ConvPlan& p = plan_;
  const Geometry& g = p.geometry;
  const Band b = band_of(p, oh0, oh1);
  const int64_t taps = p.window.kernel_h * p.window.kernel_w;
  const int64_t multiplier = p.out_channels / p.in_channels;
  // The multiplier-1 NHWC kernel on `tiles` channel tiles from t0 copied to x_band, pixels
  // `stride` floats apart (the copy is L2-resident), into y_tiles, pixels y_stride apart.
  const auto on_copy = [&](int64_t t0, int64_t tiles, int64_t stride, const float* x_band,
                           float* y_tiles, int64_t y_stride) {
    kernels::DwconvNhwcArgs a = nhwc_args(p, b, stride, tile_, Source::BandBuffer);
    a.x = x_band;
    a.packed = packed_[0].get() + t0 * (1 + taps) * tile_;
    a.y = y_tiles;
    a.y_pixel_stride = y_stride;
    a.tile_begin = 0;
    a.tile_end = tiles;
    kt_->dwconv_nhwc(a);
  };

  const int64_t restrided = restrided_group(p, tile_);
  if (p.layout == Layout::NHWC && restrided > 0) {
    // Groups of whole tiles (C is a multiple of the group), the input copied pixel by pixel.
    const int64_t c = p.in_channels, group_tiles = restrided / tile_;
    const int64_t stride = restrided + kRestridePad;
    for (int64_t t0 = tile_begin; t0 < tile_end; t0 += group_tiles) {
      const int64_t t1 = std::min(tile_end, t0 + group_tiles);
      const int64_t c0 = t0 * tile_, channels = (t1 - t0) * tile_;
      for (int64_t i = 0; i < b.g.in_h * g.in_w; ++i) {
        std::copy_n(x + c0 + i * c, channels, scratch + i * stride);
      }
      on_copy(t0, t1 - t0, stride, scratch, y + c0, c);
    }
    return;
  }
  if (p.layout == Layout::NHWC) {
    kernels::DwconvNhwcArgs a = nhwc_args(p, b, p.in_channels, tile_, access.source);
    // lead floats before x and y, on integers: a pointer before its array is undefined even if
    // never dereferenced (the kernels touch the lead lanes only through masks).
    const auto lead_bytes = uintptr_t(access.lead) * sizeof(float);
    a.lead = access.lead;
    a.x = reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(x) - lead_bytes);
    a.packed = packed_[size_t(a.lead / kLeadStep)].get();
    a.y = reinterpret_cast<float*>(reinterpret_cast<uintptr_t>(y) - lead_bytes);
    a.tile_begin = tile_begin;
    a.tile_end = tile_end;
    a.stream_y = access.stream_y;
    (multiplier == 1 ? kt_->dwconv_nhwc : kt_->dwconv_nhwc_multiplier)(a);
    return;
  }

  const int64_t c_begin = tile_begin * tile_;
  const int64_t c_end = std::min(p.out_channels, tile_end * tile_);
  const bool whole_planes = oh0 == 0 && oh1 == g.out_h;
  const kernels::DwconvNchwPlanes planes{x, x_plane_stride, weights_, biases_, y, y_plane_stride,
                                         c_begin, c_end, multiplier};
  if (runs()) {
    kt_->dwconv_nchw_3x3s1_run({planes, b.g.in_h, b.g.out_h, g.in_w, b.g.pad_top, p.activation});
    return;
  }
  if (strided_rows()) {
    kt_->dwconv_nchw_3x3s2_rows({planes, b.g.in_h, g.in_w, b.g.out_h, g.out_w, b.g.pad_top,
                                 g.pad_left, p.activation, input_streamed(p)});
    return;
  }
  if (flat_masks_ && whole_planes) {
    kt_->dwconv_nchw_flat({planes, p.window, g, flat_masks_->taps.data(),
                           flat_masks_->columns.data(), p.activation});
    return;
  }
  if (planar()) {
    for (int64_t oc = c_begin; oc < c_end; ++oc) {
      kernels::DwconvNchwArgs a;
      a.x = x + (oc / multiplier) * x_plane_stride;
      a.weight = weights_ + oc * taps;
      a.bias = biases_ != nullptr ? biases_[oc] : 0.0f;
      a.y = y + oc * y_plane_stride;
      a.window = p.window;
      a.geometry = b.g;
      a.oh_begin = 0;
      a.oh_end = b.g.out_h;
      a.activation = p.activation;
      kt_->dwconv_nchw(a);
    }
    return;
  }

  // NCHW, multiplier 1: interleave the band of each group of channel tiles into the scratch, run
  // the NHWC kernel on it and de-interleave its output into the planes. Only L2-sized groups are
  // ever copied.
  const int64_t group = interleave_tiles();
  float* x_band = scratch;
  float* y_band = scratch + b.g.in_h * g.in_w * group * tile_;
  for (int64_t t = tile_begin; t < tile_end; t += group) {
    const int64_t tiles = std::min(group, tile_end - t);
    const int64_t c0 = t * tile_, width = tiles * tile_;
    const int64_t nc = std::min(width, p.out_channels - c0);
    kt_->interleave_channels({x + c0 * x_plane_stride, x_plane_stride, x_band, nc, width,
                              b.g.in_h, g.in_w});
    on_copy(t, tiles, width, x_band, y_band, width);
    kt_->deinterleave_channels({y + c0 * y_plane_stride, y_plane_stride, y_band, nc, width,
                                b.g.out_h, g.out_w});
  }
}

void DepthwiseOp::operator()(const float* x, float* y) const {
  const ConvPlan& p = plan_;
  const Geometry& g = p.geometry;
  const int64_t threads = get_num_threads();
  const int64_t min_tasks = threads > 1 ? 4 * threads : 1;
  // Outputs streamed to memory (streams_output) from a cache line are stored non-temporally;
  // otherwise an input off a line runs with a lead (lead_for), the tiles' loads whole lines, and
  // so do their stores when y is as far past a line as x (depthwise_output_offset).
  Access access;
  access.stream_y = streams_output(p) && floats_past_line(y) == 0;
  access.lead = access.stream_y ? 0 : lead_for(x);
  const int64_t tiles_total = tiles(access.lead);
  // NCHW tiles are independent planes: as many per task as the threads leave, at most one
  // interleaved group (fewer when the threads need more tasks). NHWC tasks take a band of rows
  // and, when the image has too few rows for the threads (7x7x960), a range of tiles.
  const bool nhwc = p.layout == Layout::NHWC;
  const Split tile_parts =
      !nhwc
          ? split_for(tiles_total, p.batch, min_tasks, 1, interleave_tiles())
          : split_for(tiles_total, p.batch * ceil_div(g.out_h, 2), min_tasks);
  // NHWC bands come in pairs of rows: the 3x3 kernels run passes of two output rows, and a band
  // of odd length ends in a one-row pass that reads three input rows for one output row.
  const Split bands = split_for(g.out_h, p.batch * tile_parts.parts, min_tasks, nhwc ? 2 : 1,
                                max_band_rows());
  const int64_t scratch_each = scratch_floats(bands.max_size());
  const Scratch scratch = alloc_scratch(scratch_each * threads);
  const int64_t x_image = p.in_pixels() * p.in_channels;
  const int64_t y_image = p.out_pixels() * p.out_channels;
  const int64_t work = p.y_count * p.window.kernel_h * p.window.kernel_w;

  parallel_for(p.batch * bands.parts * tile_parts.parts, work, [&](int64_t task, int thread) {
    const int64_t n = task / (bands.parts * tile_parts.parts);
    const int64_t band_index = (task / tile_parts.parts) % bands.parts;
    const int64_t oh0 = bands.begin(band_index), oh1 = bands.end(band_index);
    const int64_t t0 = tile_parts.begin(task % tile_parts.parts);
    const int64_t t1 = tile_parts.end(task % tile_parts.parts);
    const int64_t r0 = band_of(p, oh0, oh1).r0;
    const int64_t x_row = nhwc ? g.in_w * p.in_channels : g.in_w;
    const int64_t y_row = nhwc ? g.out_w * p.out_channels : g.out_w;
    band(x + n * x_image + r0 * x_row, p.in_pixels(), oh0, oh1, t0, t1, y + n * y_image + oh0 * y_row,
         p.out_pixels(), scratch.get() + thread * scratch_each, access);
  });
}

// NHWC pixels a multiple of 4 KiB apart put all of a channel tile's lines in one L1 set, and an
// output at the input's offset into its page puts the tile's outputs in that same set, where the
// kernels' loads and stores evict each other: the output goes half a page away from the input
// (three quarters where that would leave it within a line of the page's start, which reads as a
// line offset alone). Measured (AVX-512, AMD Zen 5, 3x3 s1, µs, output at the input's page
// offset -> half a page away, alternating runs): C1024@7 11.3 -> 9.6 (batch 8 92 -> 74), C1024@14
// 52 -> 43 (2 threads 30 -> 25), C2048@7 20.4 -> 17.8 (2 threads 13.6 -> 10.4). Pixels 2 KiB apart
// (two sets, C512) gained nothing.
int64_t depthwise_output_offset(const ConvPlan& p, int64_t channel_tile, const float* x) {
  if (streams_output(p)) return 0;
  const int64_t line = lead_from(p, channel_tile, x);
  const auto sets = [](int64_t pixel_floats) {
    return kernels::l1_sets_reached(pixel_floats * int64_t(sizeof(float)));
  };
  const bool one_set =
      p.layout == Layout::NHWC && sets(p.in_channels) == 1 && sets(p.out_channels) == 1;
  if (!one_set) return line;
  const int64_t x_page = int64_t(reinterpret_cast<uintptr_t>(x) / sizeof(float) % kPageFloats);
  const int64_t x_line_start = x_page - floats_past_line(x);
  const int64_t half = (x_line_start + kPageFloats / 2) % kPageFloats;
  const int64_t away = half < kCacheLineFloats ? half + kPageFloats / 4 : half;
  return away + line;
}

void require_output(const ConvPlan& p, float* y, const float* x, const float* weight,
                    const float* bias, int64_t bias_count) {
  require_pointer(x, "x");
  require_pointer(weight, "weight");
  require_pointer(y, "out");
  require_disjoint(y, p.y_count, x, p.x_count, "x");
  require_disjoint(y, p.y_count, weight, p.weight_count, "weight");
  require_disjoint(y, p.y_count, bias, bias_count, "bias");
}

}  // namespace detail

int64_t output_offset(const DepthwiseConv2dDesc& desc, const float* x) {
  return detail::depthwise_output_offset(plan(desc),
                                         detail::active_kernels().dwconv_nhwc_channel_tile, x);
}

void depthwise_conv2d(const DepthwiseConv2dDesc& desc, const float* x, const float* weight,
                      const float* bias, float* y) {
  const ConvPlan p = plan(desc);
  detail::require_output(p, y, x, weight, bias, p.out_channels);
  detail::DepthwiseOp(p, weight, bias, x)(x, y);
}

}  // namespace sepconv
