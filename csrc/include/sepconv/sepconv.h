// sepconv public C++ API: depthwise, pointwise, separable and standard 2-D convolution on float32.
//
// Every function validates its descriptor and pointers and throws sepconv::InvalidArgument (a
// std::invalid_argument) naming the argument and the shapes; nothing is read or written before the
// checks pass. Tensors are dense, C-contiguous float32 in the descriptor's layout:
//   NCHW: x (N, C, H, W)      NHWC: x (N, H, W, C)
// Weights always follow PyTorch's convention, whatever the layout:
//   depthwise (C*m, 1, KH, KW)  pointwise (Cout, Cin)  conv2d (Cout, Cin/groups, KH, KW)
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace sepconv {

class InvalidArgument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

enum class Layout : int { NCHW = 0, NHWC = 1 };
enum class Activation : int { None = 0, ReLU, ReLU6, HardSwish, SiLU };
enum class Isa : int { Scalar = 0, AVX2, AVX512, NEON };

// "valid" = no padding; "same" = TensorFlow semantics: out = ceil(in / stride), the odd extra row or
// column of padding goes to the bottom / right.
enum class PaddingMode : int { Explicit = 0, Valid, Same };

struct Padding {
  PaddingMode mode = PaddingMode::Explicit;
  int64_t top = 0, bottom = 0, left = 0, right = 0;
};

// Spatial parameters of one convolution.
struct Window {
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  Padding padding;
};

// The resolved output size and explicit padding of a window over an in_h x in_w image.
struct Geometry {
  int64_t in_h = 0, in_w = 0;
  int64_t out_h = 0, out_w = 0;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
};

// The single place where output sizes are computed (ops, cost model and Python all use it).
// Throws InvalidArgument for non-positive sizes/strides/dilations, negative padding, or a kernel
// larger than the padded input.
Geometry conv_geometry(int64_t in_h, int64_t in_w, const Window& window);

struct DepthwiseConv2dDesc {
  Layout layout = Layout::NCHW;
  int64_t batch = 1, channels = 1, in_h = 1, in_w = 1;
  int64_t multiplier = 1;  // output channel o reads input channel o / multiplier
  Window window;
  Activation activation = Activation::None;
};

struct PointwiseConv2dDesc {
  Layout layout = Layout::NCHW;
  int64_t batch = 1, in_channels = 1, out_channels = 1, height = 1, width = 1;
  Activation activation = Activation::None;
};

struct SeparableConv2dDesc {
  Layout layout = Layout::NCHW;
  int64_t batch = 1, in_channels = 1, in_h = 1, in_w = 1;
  int64_t multiplier = 1;
  int64_t out_channels = 1;
  Window window;  // of the depthwise stage
  Activation depthwise_activation = Activation::None;
  Activation activation = Activation::None;
};

struct Conv2dDesc {
  Layout layout = Layout::NCHW;
  int64_t batch = 1, in_channels = 1, in_h = 1, in_w = 1;
  int64_t out_channels = 1, groups = 1;
  Window window;
  Activation activation = Activation::None;
};

// MobileNetV2's inverted residual block:
//   y = project(act(depthwise(act(expand(x))))) [+ x]
// expand and project are pointwise convolutions (expand: Cin -> expanded_channels, project:
// expanded_channels -> out_channels, no activation), depthwise has multiplier 1. Without expand
// (MobileNetV2's t = 1 blocks) expanded_channels must equal in_channels and the block starts at
// the depthwise stage. residual adds x to the output, so the output must have x's shape.
struct InvertedResidualDesc {
  Layout layout = Layout::NCHW;
  int64_t batch = 1, in_channels = 1, in_h = 1, in_w = 1;
  bool expand = true;
  int64_t expanded_channels = 1;
  int64_t out_channels = 1;
  Window window;  // of the depthwise stage
  Activation activation = Activation::ReLU6;  // after expand and after depthwise
  bool residual = false;
};

// Output shape in the descriptor's layout order ((N, C, H, W) or (N, H, W, C)); validates.
struct Shape4 {
  int64_t dim[4];
  int64_t numel() const { return dim[0] * dim[1] * dim[2] * dim[3]; }
};
Shape4 output_shape(const DepthwiseConv2dDesc& desc);
Shape4 output_shape(const PointwiseConv2dDesc& desc);
Shape4 output_shape(const SeparableConv2dDesc& desc);
Shape4 output_shape(const Conv2dDesc& desc);
Shape4 output_shape(const InvertedResidualDesc& desc);

// Floats past a 4 KiB page (0-1023) at which an output for input x runs fastest; values below 16
// ask only for that offset past a 64-byte cache line (any page offset with it does as well). Off a
// line only for NHWC depthwise inputs off a line whose channel tiles the kernels then shift onto
// whole lines: an output at the same offset is stored in whole lines too. 16 or more only for NHWC
// depthwise with pixels a multiple of 4 KiB apart (C a multiple of 1024), whose outputs then fall
// in other L1 sets than the inputs they are computed from.
int64_t output_offset(const DepthwiseConv2dDesc& desc, const float* x);

// y = act(conv(x, weight) + bias). bias may be null. y must not overlap x, weight or bias.
void depthwise_conv2d(const DepthwiseConv2dDesc& desc, const float* x, const float* weight,
                      const float* bias, float* y);
void pointwise_conv2d(const PointwiseConv2dDesc& desc, const float* x, const float* weight,
                      const float* bias, float* y);
void separable_conv2d(const SeparableConv2dDesc& desc, const float* x,
                      const float* depthwise_weight, const float* pointwise_weight,
                      const float* depthwise_bias, const float* pointwise_bias, float* y);
void conv2d(const Conv2dDesc& desc, const float* x, const float* weight, const float* bias,
            float* y);
// expand_weight (expanded_channels, in_channels) must be null without expand; biases may be null.
void inverted_residual(const InvertedResidualDesc& desc, const float* x, const float* expand_weight,
                       const float* expand_bias, const float* depthwise_weight,
                       const float* depthwise_bias, const float* project_weight,
                       const float* project_bias, float* y);

// Whether separable_conv2d and inverted_residual fuse their stages (a band of the intermediate at a
// time, kept in cache): by their rule (Auto: NHWC intermediates per image larger than L2; NCHW
// fusion measured slower), Always or Never. A tuning and testing knob; the results agree either way up to float
// rounding.
enum class Fusion : int { Auto = 0, Always, Never };
void set_separable_fusion(Fusion fusion);
Fusion separable_fusion();

// Threads: one process-wide value passed to every parallel region. Default: SEPCONV_NUM_THREADS,
// else the OpenMP default. n must be >= 1.
void set_num_threads(int n);
int get_num_threads();
bool openmp_enabled();

// ISA dispatch. The active ISA is chosen at first use: SEPCONV_ISA (scalar|avx2|avx512|neon) if set,
// else the best ISA that is both supported by this CPU and enabled by default.
Isa active_isa();
void set_isa(Isa isa);               // throws InvalidArgument if this CPU cannot run it
bool isa_supported(Isa isa);         // compiled in and runnable on this CPU
bool isa_auto_selected(Isa isa);     // eligible for automatic selection
const char* isa_name(Isa isa);
Isa parse_isa(const std::string& name);  // throws InvalidArgument for unknown names

// Peak-FMA probe: `iterations` rounds of independent FMA chains on the active ISA's widest vectors,
// on each of get_num_threads() threads in one parallel region; returns the floating-point
// operations done. Timed beside a kernel, it gives the machine's peak under the same load (other
// tenants of a shared core slow both): python -m sepconv.bench reports % of peak against it.
// Throws InvalidArgument if iterations < 1.
double run_fma_probe(int64_t iterations);

const char* version();
const char* compiler();

}  // namespace sepconv
