// GoogleTest suite for the sepconv C++ API: every op against the double-precision reference in
// reference.h, in both layouts, on every ISA this CPU runs, with 1 and 3 threads; then the argument
// checks. Outputs are poisoned with NaN before each call and followed by guard elements, so a
// missed or out-of-bounds write fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "core/parallel.h"
#include "reference.h"
#include "sepconv/layers.h"
#include "sepconv/sepconv.h"

// Readable parameter values in gtest messages (found by ADL).
namespace sepconv {
inline void PrintTo(Isa isa, std::ostream* os) { *os << isa_name(isa); }
inline void PrintTo(Layout layout, std::ostream* os) {
  *os << (layout == Layout::NHWC ? "NHWC" : "NCHW");
}
}  // namespace sepconv

namespace {

using sepconv::Activation;
using sepconv::Isa;
using sepconv::Layout;
using sepconv::Padding;
using sepconv::PaddingMode;
using sepconv::Window;

constexpr double kRelTol = 1e-5;
constexpr int64_t kGuard = 16;
constexpr float kGuardValue = 12345.0f;

std::vector<float> random_vec(int64_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(gen);
  return v;
}

// numel NaNs followed by kGuard guard values.
std::vector<float> poisoned_output(int64_t numel) {
  std::vector<float> y(static_cast<size_t>(numel + kGuard),
                       std::numeric_limits<float>::quiet_NaN());
  for (int64_t i = 0; i < kGuard; ++i) y[static_cast<size_t>(numel + i)] = kGuardValue;
  return y;
}

Padding explicit_pad(int64_t t, int64_t b, int64_t l, int64_t r) {
  Padding p;
  p.mode = PaddingMode::Explicit;
  p.top = t;
  p.bottom = b;
  p.left = l;
  p.right = r;
  return p;
}
Padding pad_all(int64_t v) { return explicit_pad(v, v, v, v); }
Padding pad_mode(PaddingMode m) {
  Padding p;
  p.mode = m;
  return p;
}

Window window(int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t dh, int64_t dw, Padding pad) {
  Window w;
  w.kernel_h = kh;
  w.kernel_w = kw;
  w.stride_h = sh;
  w.stride_w = sw;
  w.dilation_h = dh;
  w.dilation_w = dw;
  w.padding = pad;
  return w;
}

// Checks |y - ref| <= kRelTol * scale element-wise (scale = sum of |terms| of that output), that
// no NaN is left and that the guard is intact.
void expect_matches(const ref::Result& r, const sepconv::Shape4& shape, const std::vector<float>& y,
                    const std::string& what) {
  ASSERT_EQ(static_cast<size_t>(shape.numel()), r.y.size()) << what << ": output size";
  ASSERT_EQ(y.size(), r.y.size() + kGuard) << what;
  int64_t bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < r.y.size(); ++i) {
    const double tol = kRelTol * std::max(r.scale[i], 1e-30);
    const double err = std::fabs(static_cast<double>(y[i]) - r.y[i]);
    if (!(err <= tol)) {  // also catches NaN
      if (bad < 5) {
        first << "\n  [" << i << "] got " << y[i] << " want " << r.y[i] << " (err " << err
              << ", tol " << tol << ")";
      }
      ++bad;
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << r.y.size() << " elements wrong"
                    << first.str();
  for (int64_t i = 0; i < kGuard; ++i) {
    ASSERT_EQ(y[r.y.size() + static_cast<size_t>(i)], kGuardValue)
        << what << ": write past the end of the output";
  }
}

const char* layout_name(Layout l) { return l == Layout::NHWC ? "NHWC" : "NCHW"; }

// ---- parameterised over (ISA, layout, threads) -------------------------------------------------

class OpsTest : public ::testing::TestWithParam<std::tuple<Isa, Layout, int>> {
 protected:
  void SetUp() override {
    isa_ = std::get<0>(GetParam());
    layout_ = std::get<1>(GetParam());
    threads_ = std::get<2>(GetParam());
    if (!sepconv::isa_supported(isa_)) {
      GTEST_SKIP() << sepconv::isa_name(isa_) << " is not supported on this CPU/build";
    }
    saved_isa_ = sepconv::active_isa();
    saved_threads_ = sepconv::get_num_threads();
    restore_ = true;
    sepconv::set_isa(isa_);
    sepconv::set_num_threads(threads_);
  }
  void TearDown() override {
    if (restore_) {
      sepconv::set_isa(saved_isa_);
      sepconv::set_num_threads(saved_threads_);
    }
  }

  Isa isa_ = Isa::Scalar;
  Layout layout_ = Layout::NCHW;
  int threads_ = 1;
  Isa saved_isa_ = Isa::Scalar;
  int saved_threads_ = 1;
  bool restore_ = false;
};

struct DwCase {
  const char* name;
  int64_t batch, channels, in_h, in_w, multiplier;
  Window window;
  Activation activation;
  bool bias;
};

TEST_P(OpsTest, Depthwise) {
  const std::vector<DwCase> cases = {
      {"3x3 s1 pad1", 1, 5, 9, 11, 1, window(3, 3, 1, 1, 1, 1, pad_all(1)), Activation::None, true},
      {"3x3 s1 pad1 C=37 (tails)", 1, 37, 6, 7, 1, window(3, 3, 1, 1, 1, 1, pad_all(1)),
       Activation::None, true},
      {"3x3 no bias", 2, 8, 7, 5, 1, window(3, 3, 1, 1, 1, 1, pad_all(1)), Activation::None, false},
      {"multiplier 2", 1, 3, 8, 9, 2, window(3, 3, 1, 1, 1, 1, pad_all(1)), Activation::None, true},
      {"multiplier 3 C=11", 1, 11, 5, 6, 3, window(3, 3, 1, 1, 1, 1, pad_all(1)), Activation::ReLU,
       true},
      {"multiplier 2 batch 2 stride 2", 2, 5, 9, 8, 2, window(3, 3, 2, 2, 1, 1, pad_all(1)),
       Activation::None, true},
      {"stride 3 > kernel 2", 1, 6, 11, 10, 1, window(2, 2, 3, 3, 1, 1, pad_all(0)),
       Activation::None, true},
      {"stride 2 even", 1, 9, 10, 12, 1, window(3, 3, 2, 2, 1, 1, pad_all(1)), Activation::None,
       true},
      {"stride 2 odd", 2, 6, 11, 9, 1, window(3, 3, 2, 2, 1, 1, pad_all(1)), Activation::None,
       true},
      {"stride (1,3)", 1, 4, 9, 13, 1, window(3, 3, 1, 3, 1, 1, pad_all(1)), Activation::None,
       true},
      {"dilation 2", 1, 10, 12, 11, 1, window(3, 3, 1, 1, 2, 2, pad_all(2)), Activation::None,
       true},
      {"dilation 2 stride 2", 1, 7, 13, 12, 1, window(3, 3, 2, 2, 2, 2, pad_all(2)),
       Activation::None, true},
      {"asymmetric padding 3x5", 1, 9, 8, 10, 1, window(3, 5, 1, 1, 1, 1, explicit_pad(0, 2, 3, 1)),
       Activation::None, true},
      {"same padding s1 4x4 (odd extra)", 1, 6, 7, 8, 1,
       window(4, 4, 1, 1, 1, 1, pad_mode(PaddingMode::Same)), Activation::None, true},
      {"same padding s2 3x3", 1, 6, 9, 10, 1, window(3, 3, 2, 2, 1, 1, pad_mode(PaddingMode::Same)),
       Activation::None, true},
      {"valid padding 5x5", 1, 12, 9, 8, 1, window(5, 5, 1, 1, 1, 1, pad_mode(PaddingMode::Valid)),
       Activation::None, true},
      {"5x5 pad2 ReLU6", 1, 16, 10, 10, 1, window(5, 5, 1, 1, 1, 1, pad_all(2)), Activation::ReLU6,
       true},
      {"7x7 pad3 HardSwish", 1, 24, 12, 13, 1, window(7, 7, 1, 1, 1, 1, pad_all(3)),
       Activation::HardSwish, true},
      {"31x31 pad15 SiLU", 1, 9, 32, 32, 1, window(31, 31, 1, 1, 1, 1, pad_all(15)),
       Activation::SiLU, true},
      {"1x1 kernel", 1, 5, 4, 3, 1, window(1, 1, 1, 1, 1, 1, pad_all(0)), Activation::None, true},
      {"kernel == input, no padding", 1, 5, 3, 4, 1, window(3, 4, 1, 1, 1, 1, pad_all(0)),
       Activation::None, true},
      {"1xW image", 1, 8, 1, 17, 1, window(1, 3, 1, 1, 1, 1, explicit_pad(0, 0, 1, 1)),
       Activation::None, true},
  };
  uint32_t seed = 1;
  for (const DwCase& c : cases) {
    sepconv::DepthwiseConv2dDesc d;
    d.layout = layout_;
    d.batch = c.batch;
    d.channels = c.channels;
    d.in_h = c.in_h;
    d.in_w = c.in_w;
    d.multiplier = c.multiplier;
    d.window = c.window;
    d.activation = c.activation;
    const int64_t cout = c.channels * c.multiplier;
    const auto x = random_vec(c.batch * c.channels * c.in_h * c.in_w, seed++, -2.0f, 2.0f);
    const auto w = random_vec(cout * c.window.kernel_h * c.window.kernel_w, seed++);
    const auto b = random_vec(cout, seed++);
    const float* bias = c.bias ? b.data() : nullptr;
    const sepconv::Shape4 shape = sepconv::output_shape(d);
    auto y = poisoned_output(shape.numel());
    sepconv::depthwise_conv2d(d, x.data(), w.data(), bias, y.data());
    expect_matches(ref::depthwise(d, x, w.data(), bias), shape, y,
                   std::string("depthwise ") + c.name);
  }
}

TEST_P(OpsTest, Pointwise) {
  struct Case {
    int64_t batch, cin, cout, h, w;
    Activation act;
    bool bias;
  };
  const std::vector<Case> cases = {
      {1, 7, 5, 6, 9, Activation::None, true},   {2, 16, 24, 5, 5, Activation::ReLU, true},
      {1, 33, 17, 7, 3, Activation::None, false}, {1, 1, 1, 1, 1, Activation::None, true},
      {1, 64, 40, 9, 11, Activation::SiLU, true}, {3, 5, 70, 2, 3, Activation::ReLU6, true},
      {1, 144, 24, 8, 8, Activation::HardSwish, true},
  };
  uint32_t seed = 100;
  for (const Case& c : cases) {
    sepconv::PointwiseConv2dDesc d;
    d.layout = layout_;
    d.batch = c.batch;
    d.in_channels = c.cin;
    d.out_channels = c.cout;
    d.height = c.h;
    d.width = c.w;
    d.activation = c.act;
    const auto x = random_vec(c.batch * c.cin * c.h * c.w, seed++, -2.0f, 2.0f);
    const auto w = random_vec(c.cout * c.cin, seed++);
    const auto b = random_vec(c.cout, seed++);
    const float* bias = c.bias ? b.data() : nullptr;
    const sepconv::Shape4 shape = sepconv::output_shape(d);
    auto y = poisoned_output(shape.numel());
    sepconv::pointwise_conv2d(d, x.data(), w.data(), bias, y.data());
    std::ostringstream name;
    name << "pointwise " << c.cin << "->" << c.cout << " " << c.h << "x" << c.w << " batch "
         << c.batch;
    expect_matches(ref::pointwise(d, x, w.data(), bias), shape, y, name.str());
  }
}

TEST_P(OpsTest, Separable) {
  struct Case {
    const char* name;
    int64_t batch, cin, h, w, multiplier, cout;
    Window window;
    Activation dw_act, act;
    bool dw_bias, pw_bias;
  };
  const std::vector<Case> cases = {
      {"3x3 s1 pad1", 1, 6, 9, 10, 1, 5, window(3, 3, 1, 1, 1, 1, pad_all(1)), Activation::None,
       Activation::None, true, true},
      {"multiplier 2, same s2, ReLU -> HardSwish", 2, 6, 11, 8, 2, 7,
       window(3, 3, 2, 2, 1, 1, pad_mode(PaddingMode::Same)), Activation::ReLU,
       Activation::HardSwish, true, true},
      {"5x5 dilation 2, no biases", 1, 12, 13, 12, 1, 9, window(5, 5, 1, 1, 2, 2, pad_all(4)),
       Activation::ReLU6, Activation::None, false, false},
      {"MobileNet-like 144 -> 24", 1, 144, 10, 10, 1, 24, window(3, 3, 1, 1, 1, 1, pad_all(1)),
       Activation::ReLU6, Activation::None, true, true},
  };
  uint32_t seed = 200;
  for (const Case& c : cases) {
    sepconv::SeparableConv2dDesc d;
    d.layout = layout_;
    d.batch = c.batch;
    d.in_channels = c.cin;
    d.in_h = c.h;
    d.in_w = c.w;
    d.multiplier = c.multiplier;
    d.out_channels = c.cout;
    d.window = c.window;
    d.depthwise_activation = c.dw_act;
    d.activation = c.act;
    const int64_t cm = c.cin * c.multiplier;
    const auto x = random_vec(c.batch * c.cin * c.h * c.w, seed++, -2.0f, 2.0f);
    const auto dw = random_vec(cm * c.window.kernel_h * c.window.kernel_w, seed++);
    const auto pw = random_vec(c.cout * cm, seed++);
    const auto db = random_vec(cm, seed++);
    const auto pb = random_vec(c.cout, seed++);
    const float* dbias = c.dw_bias ? db.data() : nullptr;
    const float* pbias = c.pw_bias ? pb.data() : nullptr;
    const sepconv::Shape4 shape = sepconv::output_shape(d);
    auto y = poisoned_output(shape.numel());
    sepconv::separable_conv2d(d, x.data(), dw.data(), pw.data(), dbias, pbias, y.data());
    expect_matches(ref::separable(d, x, dw.data(), pw.data(), dbias, pbias), shape, y,
                   std::string("separable ") + c.name);
  }
}

struct IrCase {
  const char* name;
  int64_t batch, cin, h, w;
  bool expand;
  int64_t expanded, cout;
  Window window;
  Activation act;
  bool residual, biases;
};

sepconv::InvertedResidualDesc ir_desc(Layout layout, const IrCase& c) {
  sepconv::InvertedResidualDesc d;
  d.layout = layout;
  d.batch = c.batch;
  d.in_channels = c.cin;
  d.in_h = c.h;
  d.in_w = c.w;
  d.expand = c.expand;
  d.expanded_channels = c.expanded;
  d.out_channels = c.cout;
  d.window = c.window;
  d.activation = c.act;
  d.residual = c.residual;
  return d;
}

// The inverted residual block, fused (bands that keep the window's overlap rows) and unfused.
TEST_P(OpsTest, InvertedResidual) {
  const std::vector<IrCase> cases = {
      {"MobileNetV2 24 -> 144 -> 24, residual", 1, 24, 12, 11, true, 144, 24,
       window(3, 3, 1, 1, 1, 1, pad_all(1)), Activation::ReLU6, true, true},
      {"one-row bands (Ce = 512, W = 40)", 1, 16, 7, 40, true, 512, 16,
       window(3, 3, 1, 1, 1, 1, pad_all(1)), Activation::ReLU6, true, true},
      {"stride 2, 5x5 dilation 2, batch 2", 2, 8, 13, 9, true, 40, 12,
       window(5, 5, 2, 2, 2, 2, pad_all(4)), Activation::HardSwish, false, true},
      {"no expansion, no biases", 1, 12, 9, 10, false, 12, 7,
       window(3, 3, 1, 1, 1, 1, pad_all(1)), Activation::ReLU, false, false},
  };
  uint32_t seed = 500;
  for (const auto fusion : {sepconv::Fusion::Always, sepconv::Fusion::Never}) {
    sepconv::set_separable_fusion(fusion);
    for (const IrCase& c : cases) {
      const auto d = ir_desc(layout_, c);
      const auto x = random_vec(c.batch * c.cin * c.h * c.w, seed++, -2.0f, 2.0f);
      const auto ew = random_vec(c.expanded * c.cin, seed++);
      const auto eb = random_vec(c.expanded, seed++);
      const auto dw = random_vec(c.expanded * c.window.kernel_h * c.window.kernel_w, seed++);
      const auto db = random_vec(c.expanded, seed++);
      const auto pw = random_vec(c.cout * c.expanded, seed++);
      const auto pb = random_vec(c.cout, seed++);
      const float* ewp = c.expand ? ew.data() : nullptr;
      const float* ebp = c.expand && c.biases ? eb.data() : nullptr;
      const float* dbp = c.biases ? db.data() : nullptr;
      const float* pbp = c.biases ? pb.data() : nullptr;
      const sepconv::Shape4 shape = sepconv::output_shape(d);
      auto y = poisoned_output(shape.numel());
      sepconv::inverted_residual(d, x.data(), ewp, ebp, dw.data(), dbp, pw.data(), pbp, y.data());
      expect_matches(ref::inverted_residual(d, x, ewp, ebp, dw.data(), dbp, pw.data(), pbp), shape,
                     y, std::string("inverted residual ") + c.name);
    }
  }
  sepconv::set_separable_fusion(sepconv::Fusion::Auto);
}

// A prepacked layer is built once and called on inputs of several sizes.
TEST_P(OpsTest, Layers) {
  const IrCase c{"block", 1, 8, 6, 6, true, 24, 8, window(3, 3, 1, 1, 1, 1, pad_all(1)),
                 Activation::ReLU6, true, true};
  const auto ew = random_vec(24 * 8, 1), eb = random_vec(24, 2), dw = random_vec(24 * 9, 3),
             db = random_vec(24, 4), pw = random_vec(8 * 24, 5), pb = random_vec(8, 6);
  const sepconv::InvertedResidual block(ir_desc(layout_, c), ew.data(), eb.data(), dw.data(),
                                        db.data(), pw.data(), pb.data());
  sepconv::DepthwiseConv2dDesc dd;
  dd.layout = layout_;
  dd.channels = 8;
  dd.multiplier = 3;
  dd.window = window(3, 3, 2, 1, 1, 1, pad_all(1));
  dd.activation = Activation::SiLU;
  const sepconv::DepthwiseConv2d depthwise(dd, dw.data(), db.data());
  sepconv::PointwiseConv2dDesc pd;
  pd.layout = layout_;
  pd.in_channels = 8;
  pd.out_channels = 24;
  const sepconv::PointwiseConv2d pointwise(pd, ew.data(), eb.data());
  sepconv::SeparableConv2dDesc sd;
  sd.layout = layout_;
  sd.in_channels = 8;
  sd.multiplier = 3;
  sd.out_channels = 8;
  sd.window = window(3, 3, 1, 1, 1, 1, pad_all(1));
  sd.depthwise_activation = Activation::ReLU;
  const sepconv::SeparableConv2d separable(sd, dw.data(), pw.data(), db.data(), pb.data());
  sepconv::Conv2dDesc cd;
  cd.layout = layout_;
  cd.in_channels = 8;
  cd.out_channels = 24;
  cd.groups = 8;
  cd.window = window(3, 3, 1, 1, 1, 1, pad_all(1));
  const sepconv::Conv2d conv(cd, dw.data(), db.data());
  EXPECT_EQ(block.isa(), isa_);

  uint32_t seed = 700;
  for (const auto& [n, h, w] : {std::tuple<int64_t, int64_t, int64_t>{1, 6, 6}, {3, 17, 9},
                                {2, 1, 2}, {1, 40, 33}}) {
    const auto x = random_vec(n * 8 * h * w, seed++, -2.0f, 2.0f);
    const sepconv::Shape4 xs = layout_ == Layout::NHWC ? sepconv::Shape4{{n, h, w, 8}}
                                                       : sepconv::Shape4{{n, 8, h, w}};
    auto run = [&](const auto& layer, const ref::Result& expected, const char* what) {
      const sepconv::Shape4 ys = layer.output_shape(xs);
      auto y = poisoned_output(ys.numel());
      layer(xs, x.data(), y.data());
      expect_matches(expected, ys, y, std::string(what) + " layer, " + std::to_string(h) + "x" +
                                          std::to_string(w));
    };
    auto d = dd;
    d.batch = n, d.in_h = h, d.in_w = w;
    run(depthwise, ref::depthwise(d, x, dw.data(), db.data()), "depthwise");
    auto p = pd;
    p.batch = n, p.height = h, p.width = w;
    run(pointwise, ref::pointwise(p, x, ew.data(), eb.data()), "pointwise");
    auto s = sd;
    s.batch = n, s.in_h = h, s.in_w = w;
    run(separable, ref::separable(s, x, dw.data(), pw.data(), db.data(), pb.data()), "separable");
    auto k = cd;
    k.batch = n, k.in_h = h, k.in_w = w;
    run(conv, ref::conv2d(k, x, dw.data(), db.data()), "conv2d");
    auto b = ir_desc(layout_, c);
    b.batch = n, b.in_h = h, b.in_w = w;
    run(block, ref::inverted_residual(b, x, ew.data(), eb.data(), dw.data(), db.data(), pw.data(),
                                      pb.data()), "inverted residual");
  }
}

// The float `offset` floats past a `boundary`-float boundary in buffer (boundary floats longer
// than what is placed there).
float* placed_in(std::vector<float>& buffer, int64_t offset, int64_t boundary) {
  const auto past = int64_t(uintptr_t(buffer.data()) / sizeof(float) % boundary);
  return buffer.data() + (offset - past + boundary) % boundary;
}

// layer(x) written `offset` floats past a `boundary`-float boundary, over NaN and before a guard,
// checked against the reference on source (the values at x).
void expect_depthwise_placed(const sepconv::DepthwiseConv2d& layer, const sepconv::Shape4& xs,
                             const float* x, const std::vector<float>& source,
                             const std::vector<float>& w, const std::vector<float>& b,
                             int64_t offset, int64_t boundary, const std::string& what) {
  const int64_t numel = xs.numel();
  std::vector<float> out(numel + boundary + kGuard, kGuardValue);
  float* y = placed_in(out, offset, boundary);
  std::fill_n(y, numel, std::numeric_limits<float>::quiet_NaN());
  layer(xs, x, y);
  const ref::Result expected = ref::depthwise(layer.desc(), source, w.data(), b.data());
  std::vector<float> got(y, y + numel + kGuard);
  expect_matches(expected, layer.output_shape(xs), got, what);
}

// An NHWC depthwise input 4 floats past a cache line runs on AVX-512 with a lead (48 channels
// fill 3 tiles), and its output is fastest 4 floats past a line too; nothing else asks for that.
TEST_P(OpsTest, OutputOffset) {
  sepconv::DepthwiseConv2dDesc d;
  d.layout = layout_;
  d.batch = 2, d.channels = 48, d.in_h = 9, d.in_w = 7;
  d.window = window(3, 3, 1, 1, 1, 1, pad_all(1));
  const auto w = random_vec(48 * 9, 1), b = random_vec(48, 2);
  const sepconv::DepthwiseConv2d layer(d, w.data(), b.data());
  sepconv::PointwiseConv2dDesc pd;
  pd.layout = layout_;
  pd.in_channels = 48;
  pd.out_channels = 16;
  const auto pw = random_vec(16 * 48, 4);
  const sepconv::PointwiseConv2d pointwise(pd, pw.data(), nullptr);
  const int64_t numel = 2 * 48 * 9 * 7;
  const auto source = random_vec(numel, 3, -2.0f, 2.0f);
  constexpr int64_t kLine = 16, kOffset = 4;
  std::vector<float> buffer(numel + kLine);
  float* x = placed_in(buffer, kOffset, kLine);
  std::copy(source.begin(), source.end(), x);
  const bool leads = isa_ == Isa::AVX512 && layout_ == Layout::NHWC;
  const sepconv::Shape4 xs = layout_ == Layout::NHWC ? sepconv::Shape4{{2, 9, 7, 48}}
                                                     : sepconv::Shape4{{2, 48, 9, 7}};
  EXPECT_EQ(sepconv::output_offset(d, x), leads ? kOffset : 0);
  EXPECT_EQ(layer.output_offset(xs, x), leads ? kOffset : 0);
  EXPECT_EQ(pointwise.output_offset(xs, x), 0);
  expect_depthwise_placed(layer, xs, x, source, w, b, kOffset, kLine,
                          "depthwise at the input's offset");
}

// NHWC depthwise with pixels 4 KiB apart: outputs half a page (or three quarters) away from the
// input's page offset, with the lead's line offset, and computed the same there.
TEST_P(OpsTest, OutputOffsetPage) {
  if (layout_ != Layout::NHWC) GTEST_SKIP() << "NHWC only";
  sepconv::DepthwiseConv2dDesc d;
  d.layout = Layout::NHWC;
  d.batch = 1, d.channels = 1024, d.in_h = 3, d.in_w = 2;
  d.window = window(3, 3, 1, 1, 1, 1, pad_all(1));
  const auto w = random_vec(1024 * 9, 1), b = random_vec(1024, 2);
  const sepconv::DepthwiseConv2d layer(d, w.data(), b.data());
  const sepconv::Shape4 xs{{1, 3, 2, 1024}};
  const auto source = random_vec(xs.numel(), 3, -2.0f, 2.0f);
  constexpr int64_t kPage = 1024, kLine = 16;
  std::vector<float> buffer(xs.numel() + kPage);
  for (const int64_t x_offset : {0, 4, 16, 512, 516, 1000}) {
    float* x = placed_in(buffer, x_offset, kPage);
    std::copy(source.begin(), source.end(), x);
    const int64_t offset = sepconv::output_offset(d, x);
    EXPECT_EQ(layer.output_offset(xs, x), offset);
    const int64_t away = (offset - x_offset / kLine * kLine + kPage) % kPage / kLine * kLine;
    EXPECT_TRUE(offset >= kLine && offset < kPage) << offset;
    EXPECT_TRUE(away == kPage / 2 || away == 3 * kPage / 4) << x_offset << " -> " << offset;
    const bool leads = isa_ == Isa::AVX512 && x_offset % 4 == 0;
    EXPECT_EQ(offset % kLine, leads ? x_offset % kLine : 0) << x_offset;
    expect_depthwise_placed(layer, xs, x, source, w, b, offset, kPage,
                            "depthwise half a page away");
  }
}

TEST_P(OpsTest, Conv2d) {
  struct Case {
    const char* name;
    int64_t batch, cin, h, w, cout, groups;
    Window window;
    Activation act;
    bool bias;
  };
  const std::vector<Case> cases = {
      {"3x3 pad1 groups 1", 1, 4, 9, 10, 6, 1, window(3, 3, 1, 1, 1, 1, pad_all(1)),
       Activation::None, true},
      {"3x3 pad1 groups 2", 2, 4, 8, 7, 6, 2, window(3, 3, 1, 1, 1, 1, pad_all(1)),
       Activation::ReLU, true},
      {"3x3 s2 dilation 2 groups 2", 1, 6, 13, 12, 4, 2, window(3, 3, 2, 2, 2, 2, pad_all(2)),
       Activation::None, false},
      {"3x2 asymmetric padding groups 1", 1, 3, 7, 9, 5, 1,
       window(3, 2, 1, 2, 1, 1, explicit_pad(2, 0, 0, 1)), Activation::SiLU, true},
      {"same padding 4x4 s2 groups 2", 1, 8, 10, 11, 8, 2,
       window(4, 4, 2, 2, 1, 1, pad_mode(PaddingMode::Same)), Activation::None, true},
      {"1x1 groups 1", 1, 16, 5, 5, 9, 1, window(1, 1, 1, 1, 1, 1, pad_all(0)), Activation::None,
       true},
      {"3x3 64->32 groups 1", 1, 64, 12, 12, 32, 1, window(3, 3, 1, 1, 1, 1, pad_all(1)),
       Activation::ReLU6, true},
      // Cin/groups >= 16: NHWC runs the implicit GEMM (interior) + im2col border columns.
      {"implicit 3x3 Cin tail Cout tail", 2, 20, 9, 13, 21, 1, window(3, 3, 1, 1, 1, 1, pad_all(1)),
       Activation::None, true},
      {"implicit 3x3 s2 groups 2", 1, 48, 11, 10, 40, 2, window(3, 3, 2, 2, 1, 1, pad_all(1)),
       Activation::ReLU, true},
      {"implicit 3x3 dilation 2 s(1,2)", 1, 17, 12, 15, 9, 1, window(3, 3, 1, 2, 2, 2, pad_all(2)),
       Activation::None, false},
      {"implicit tiny image 2x3, no interior", 1, 32, 2, 3, 24, 1,
       window(3, 3, 1, 1, 1, 1, pad_all(1)), Activation::SiLU, true},
      {"implicit padding wider than the kernel", 1, 16, 4, 6, 17, 1,
       window(3, 3, 1, 1, 1, 1, explicit_pad(3, 3, 1, 1)), Activation::ReLU6, true},
      {"implicit depth 300 per tap (k-blocks within a tap)", 1, 300, 5, 8, 35, 1,
       window(3, 3, 1, 1, 1, 1, pad_all(1)), Activation::None, true},
      {"implicit 5x2 valid", 1, 24, 9, 9, 16, 1, window(5, 2, 1, 1, 1, 1, pad_all(0)),
       Activation::None, true},
  };
  uint32_t seed = 300;
  for (const Case& c : cases) {
    sepconv::Conv2dDesc d;
    d.layout = layout_;
    d.batch = c.batch;
    d.in_channels = c.cin;
    d.in_h = c.h;
    d.in_w = c.w;
    d.out_channels = c.cout;
    d.groups = c.groups;
    d.window = c.window;
    d.activation = c.act;
    const auto x = random_vec(c.batch * c.cin * c.h * c.w, seed++, -2.0f, 2.0f);
    const auto w =
        random_vec(c.cout * (c.cin / c.groups) * c.window.kernel_h * c.window.kernel_w, seed++);
    const auto b = random_vec(c.cout, seed++);
    const float* bias = c.bias ? b.data() : nullptr;
    const sepconv::Shape4 shape = sepconv::output_shape(d);
    auto y = poisoned_output(shape.numel());
    sepconv::conv2d(d, x.data(), w.data(), bias, y.data());
    expect_matches(ref::conv2d(d, x, w.data(), bias), shape, y, std::string("conv2d ") + c.name);
  }
}

// Random small windows (kernel, stride, dilation, explicit/same/valid padding, multiplier, groups):
// the library must accept exactly the windows that fit and match the reference on each.
TEST_P(OpsTest, RandomWindows) {
  std::mt19937 gen(0x5e9c0 + static_cast<uint32_t>(threads_));
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
  int checked = 0;
  for (int iter = 0; iter < 120; ++iter) {
    Padding pad;
    const int mode = pick(0, 5);
    if (mode == 4) {
      pad = pad_mode(PaddingMode::Same);
    } else if (mode == 5) {
      pad = pad_mode(PaddingMode::Valid);
    } else {
      pad = explicit_pad(pick(0, 3), pick(0, 3), pick(0, 3), pick(0, 3));
    }
    // Kernel widths 3/5/7 with stride 1/2 and dilation 1 hit the register-blocked SIMD paths;
    // widths up to 40 exercise their 8/6/4/2/1 output blocks; 1..19 channels the masked tail.
    const bool simd_shape = pick(0, 1) == 1;
    Window win;
    if (simd_shape) {
      win = window(pick(1, 7), 3 + 2 * pick(0, 2), pick(1, 2), pick(1, 2), pick(1, 2), 1, pad);
    } else {
      win = window(pick(1, 5), pick(1, 5), pick(1, 3), pick(1, 3), pick(1, 3), pick(1, 3), pad);
    }
    const int64_t batch = pick(1, 2), c = pick(1, 19), h = pick(1, 12), w = pick(1, 40);
    const Activation act = static_cast<Activation>(pick(0, 4));
    const int64_t eff_h = (win.kernel_h - 1) * win.dilation_h + 1;
    const int64_t eff_w = (win.kernel_w - 1) * win.dilation_w + 1;
    const int64_t ph = pad.mode == PaddingMode::Same ? std::max<int64_t>(h, eff_h)
                                                      : h + pad.top + pad.bottom;
    const int64_t pw = pad.mode == PaddingMode::Same ? std::max<int64_t>(w, eff_w)
                                                      : w + pad.left + pad.right;
    const bool fits = ph >= eff_h && pw >= eff_w;
    std::ostringstream name;
    name << "iter " << iter << ": N" << batch << " C" << c << " " << h << "x" << w << " k"
         << win.kernel_h << "x" << win.kernel_w << " s" << win.stride_h << "," << win.stride_w
         << " d" << win.dilation_h << "," << win.dilation_w << " pad mode " << mode << " ("
         << pad.top << "," << pad.bottom << "," << pad.left << "," << pad.right << ")";

    if (iter % 2 == 0) {
      sepconv::DepthwiseConv2dDesc d;
      d.layout = layout_;
      d.batch = batch;
      d.channels = c;
      d.in_h = h;
      d.in_w = w;
      d.multiplier = pick(0, 2) == 0 ? pick(2, 3) : 1;  // mostly 1: the SIMD kernels' case
      d.window = win;
      d.activation = act;
      if (!fits) {
        EXPECT_THROW(sepconv::output_shape(d), sepconv::InvalidArgument) << name.str();
        continue;
      }
      const int64_t cout = c * d.multiplier;
      const auto x = random_vec(batch * c * h * w, 1000 + iter, -2.0f, 2.0f);
      const auto wt = random_vec(cout * win.kernel_h * win.kernel_w, 2000 + iter);
      const auto b = random_vec(cout, 3000 + iter);
      const sepconv::Shape4 shape = sepconv::output_shape(d);
      auto y = poisoned_output(shape.numel());
      sepconv::depthwise_conv2d(d, x.data(), wt.data(), b.data(), y.data());
      expect_matches(ref::depthwise(d, x, wt.data(), b.data()), shape, y,
                     "depthwise m" + std::to_string(d.multiplier) + " " + name.str());
    } else {
      sepconv::Conv2dDesc d;
      d.layout = layout_;
      d.batch = batch;
      d.groups = pick(1, 3);
      d.in_channels = d.groups * pick(1, 4);
      d.out_channels = d.groups * pick(1, 4);
      d.in_h = h;
      d.in_w = w;
      d.window = win;
      d.activation = act;
      if (!fits) {
        EXPECT_THROW(sepconv::output_shape(d), sepconv::InvalidArgument) << name.str();
        continue;
      }
      const auto x = random_vec(batch * d.in_channels * h * w, 4000 + iter, -2.0f, 2.0f);
      const auto wt = random_vec(
          d.out_channels * (d.in_channels / d.groups) * win.kernel_h * win.kernel_w, 5000 + iter);
      const auto b = random_vec(d.out_channels, 6000 + iter);
      const sepconv::Shape4 shape = sepconv::output_shape(d);
      auto y = poisoned_output(shape.numel());
      sepconv::conv2d(d, x.data(), wt.data(), b.data(), y.data());
      expect_matches(ref::conv2d(d, x, wt.data(), b.data()), shape, y,
                     "conv2d g" + std::to_string(d.groups) + " " + name.str());
    }
    ++checked;
  }
  EXPECT_GT(checked, 60);
}

std::string param_name(const ::testing::TestParamInfo<std::tuple<Isa, Layout, int>>& info) {
  return std::string(sepconv::isa_name(std::get<0>(info.param))) + "_" +
         layout_name(std::get<1>(info.param)) + "_t" + std::to_string(std::get<2>(info.param));
}

#if defined(__aarch64__)
constexpr Isa kAllIsas[] = {Isa::Scalar, Isa::NEON};
#else
constexpr Isa kAllIsas[] = {Isa::Scalar, Isa::AVX2, Isa::AVX512};
#endif

INSTANTIATE_TEST_SUITE_P(AllIsas, OpsTest,
                         ::testing::Combine(::testing::ValuesIn(kAllIsas),
                                            ::testing::Values(Layout::NCHW, Layout::NHWC),
                                            ::testing::Values(1, 3)),
                         param_name);

// ---- argument checks ---------------------------------------------------------------------------

// Runs `call`, expects InvalidArgument, and checks the (NaN-poisoned) output was left untouched.
template <typename Call>
void expect_invalid(Call&& call, std::vector<float>& y, const char* what) {
  std::fill(y.begin(), y.end(), std::numeric_limits<float>::quiet_NaN());
  EXPECT_THROW(call(), sepconv::InvalidArgument) << what;
  for (float v : y) {
    if (!std::isnan(v)) {
      ADD_FAILURE() << what << ": output was written before the argument check failed";
      break;
    }
  }
}

sepconv::DepthwiseConv2dDesc small_dw(Layout layout) {
  sepconv::DepthwiseConv2dDesc d;
  d.layout = layout;
  d.channels = 4;
  d.in_h = 6;
  d.in_w = 6;
  d.window = window(3, 3, 1, 1, 1, 1, pad_all(1));
  return d;
}

TEST(Arguments, InvalidArgumentIsInvalidArgumentError) {
  // The documented exception type derives from std::invalid_argument.
  EXPECT_THROW(sepconv::set_num_threads(0), std::invalid_argument);
}

TEST(Arguments, Depthwise) {
  for (Layout layout : {Layout::NCHW, Layout::NHWC}) {
    const auto x = random_vec(4 * 6 * 6, 1);
    const auto w = random_vec(4 * 9, 2);
    const auto b = random_vec(4, 3);
    std::vector<float> y(4 * 6 * 6 + 64);
    auto run = [&](sepconv::DepthwiseConv2dDesc d, const float* xp, const float* wp,
                   const float* bp, float* yp) {
      return [=] { sepconv::depthwise_conv2d(d, xp, wp, bp, yp); };
    };
    auto d = small_dw(layout);
    // Sanity: the base case is valid.
    EXPECT_NO_THROW(sepconv::depthwise_conv2d(d, x.data(), w.data(), b.data(), y.data()));

    auto bad = d;
    bad.window.stride_h = 0;
    expect_invalid(run(bad, x.data(), w.data(), b.data(), y.data()), y, "zero stride (h)");
    bad = d;
    bad.window.stride_w = 0;
    expect_invalid(run(bad, x.data(), w.data(), b.data(), y.data()), y, "zero stride (w)");
    bad = d;
    bad.window.padding.left = -1;
    expect_invalid(run(bad, x.data(), w.data(), b.data(), y.data()), y, "negative padding");
    bad = d;
    bad.window.dilation_h = 0;
    expect_invalid(run(bad, x.data(), w.data(), b.data(), y.data()), y, "zero dilation");
    bad = d;
    bad.window.kernel_h = bad.window.kernel_w = 9;  // padded input is 8x8
    expect_invalid(run(bad, x.data(), w.data(), b.data(), y.data()), y, "kernel > padded input");
    bad = d;
    bad.window.padding = pad_mode(PaddingMode::Valid);
    bad.window.kernel_h = 7;
    expect_invalid(run(bad, x.data(), w.data(), b.data(), y.data()), y, "kernel > input (valid)");
    bad = d;
    bad.channels = 0;
    expect_invalid(run(bad, x.data(), w.data(), b.data(), y.data()), y, "zero channels");
    bad = d;
    bad.multiplier = 0;
    expect_invalid(run(bad, x.data(), w.data(), b.data(), y.data()), y, "zero multiplier");
    bad = d;
    bad.batch = 0;
    expect_invalid(run(bad, x.data(), w.data(), b.data(), y.data()), y, "zero batch");
    bad = d;
    bad.in_h = -3;
    expect_invalid(run(bad, x.data(), w.data(), b.data(), y.data()), y, "negative height");
    bad = d;
    bad.activation = static_cast<Activation>(99);
    expect_invalid(run(bad, x.data(), w.data(), b.data(), y.data()), y, "unknown activation");
    bad = d;
    bad.layout = static_cast<Layout>(7);
    expect_invalid(run(bad, x.data(), w.data(), b.data(), y.data()), y, "unknown layout");

    expect_invalid(run(d, nullptr, w.data(), b.data(), y.data()), y, "null x");
    expect_invalid(run(d, x.data(), nullptr, b.data(), y.data()), y, "null weight");
    EXPECT_THROW(sepconv::depthwise_conv2d(d, x.data(), w.data(), b.data(), nullptr),
                 sepconv::InvalidArgument)
        << "null out";

    // out overlapping x: in place, and shifted by a few elements.
    std::vector<float> buf(4 * 6 * 6 * 2, 1.0f);
    EXPECT_THROW(sepconv::depthwise_conv2d(d, buf.data(), w.data(), b.data(), buf.data()),
                 sepconv::InvalidArgument)
        << "out == x";
    EXPECT_THROW(sepconv::depthwise_conv2d(d, buf.data(), w.data(), b.data(), buf.data() + 5),
                 sepconv::InvalidArgument)
        << "out overlaps the tail of x";
    EXPECT_THROW(sepconv::depthwise_conv2d(d, buf.data() + 5, w.data(), b.data(), buf.data()),
                 sepconv::InvalidArgument)
        << "out overlaps the head of x";
    for (float v : buf) ASSERT_EQ(v, 1.0f) << "overlap check wrote to the buffer";
    // Adjacent, non-overlapping buffers are fine.
    EXPECT_NO_THROW(sepconv::depthwise_conv2d(d, buf.data(), w.data(), b.data(), buf.data() + 144));
    // out overlapping the weights or bias.
    std::vector<float> wy(4 * 9 + 4 * 6 * 6);
    EXPECT_THROW(sepconv::depthwise_conv2d(d, x.data(), wy.data(), b.data(), wy.data() + 10),
                 sepconv::InvalidArgument)
        << "out overlaps weight";
  }
}

TEST(Arguments, Pointwise) {
  sepconv::PointwiseConv2dDesc d;
  d.in_channels = 3;
  d.out_channels = 2;
  d.height = 4;
  d.width = 4;
  const auto x = random_vec(3 * 16, 1);
  const auto w = random_vec(6, 2);
  std::vector<float> y(2 * 16);
  EXPECT_NO_THROW(sepconv::pointwise_conv2d(d, x.data(), w.data(), nullptr, y.data()));
  auto bad = d;
  bad.in_channels = 0;
  expect_invalid([&] { sepconv::pointwise_conv2d(bad, x.data(), w.data(), nullptr, y.data()); }, y,
                 "zero in_channels");
  bad = d;
  bad.out_channels = 0;
  expect_invalid([&] { sepconv::pointwise_conv2d(bad, x.data(), w.data(), nullptr, y.data()); }, y,
                 "zero out_channels");
  bad = d;
  bad.width = 0;
  expect_invalid([&] { sepconv::pointwise_conv2d(bad, x.data(), w.data(), nullptr, y.data()); }, y,
                 "zero width");
  expect_invalid([&] { sepconv::pointwise_conv2d(d, nullptr, w.data(), nullptr, y.data()); }, y,
                 "null x");
  expect_invalid([&] { sepconv::pointwise_conv2d(d, x.data(), nullptr, nullptr, y.data()); }, y,
                 "null weight");
  EXPECT_THROW(sepconv::pointwise_conv2d(d, x.data(), w.data(), nullptr, nullptr),
               sepconv::InvalidArgument);
  std::vector<float> buf(3 * 16, 0.5f);
  EXPECT_THROW(sepconv::pointwise_conv2d(d, buf.data(), w.data(), nullptr, buf.data()),
               sepconv::InvalidArgument)
      << "out == x";
}

TEST(Arguments, Separable) {
  sepconv::SeparableConv2dDesc d;
  d.in_channels = 4;
  d.in_h = 6;
  d.in_w = 6;
  d.out_channels = 3;
  d.window = window(3, 3, 1, 1, 1, 1, pad_all(1));
  const auto x = random_vec(4 * 36, 1);
  const auto dw = random_vec(4 * 9, 2);
  const auto pw = random_vec(3 * 4, 3);
  std::vector<float> y(3 * 36);
  auto call = [&](const sepconv::SeparableConv2dDesc& desc, const float* xp, const float* dwp,
                  const float* pwp, float* yp) {
    return [=] { sepconv::separable_conv2d(desc, xp, dwp, pwp, nullptr, nullptr, yp); };
  };
  EXPECT_NO_THROW(call(d, x.data(), dw.data(), pw.data(), y.data())());
  auto bad = d;
  bad.in_channels = 0;
  expect_invalid(call(bad, x.data(), dw.data(), pw.data(), y.data()), y, "zero in_channels");
  bad = d;
  bad.out_channels = 0;
  expect_invalid(call(bad, x.data(), dw.data(), pw.data(), y.data()), y, "zero out_channels");
  bad = d;
  bad.window.stride_w = 0;
  expect_invalid(call(bad, x.data(), dw.data(), pw.data(), y.data()), y, "zero stride");
  bad = d;
  bad.window.padding.top = -2;
  expect_invalid(call(bad, x.data(), dw.data(), pw.data(), y.data()), y, "negative padding");
  bad = d;
  bad.window.kernel_w = 9;
  expect_invalid(call(bad, x.data(), dw.data(), pw.data(), y.data()), y, "kernel > padded input");
  bad = d;
  bad.depthwise_activation = static_cast<Activation>(-1);
  expect_invalid(call(bad, x.data(), dw.data(), pw.data(), y.data()), y,
                 "unknown depthwise activation");
  expect_invalid(call(d, nullptr, dw.data(), pw.data(), y.data()), y, "null x");
  expect_invalid(call(d, x.data(), nullptr, pw.data(), y.data()), y, "null depthwise weight");
  expect_invalid(call(d, x.data(), dw.data(), nullptr, y.data()), y, "null pointwise weight");
  EXPECT_THROW(call(d, x.data(), dw.data(), pw.data(), nullptr)(), sepconv::InvalidArgument);
  std::vector<float> buf(4 * 36, 0.25f);
  EXPECT_THROW(call(d, buf.data(), dw.data(), pw.data(), buf.data() + 1)(),
               sepconv::InvalidArgument)
      << "out overlaps x";
}

TEST(Arguments, InvertedResidual) {
  const IrCase c{"block", 1, 4, 6, 6, true, 12, 4, window(3, 3, 1, 1, 1, 1, pad_all(1)),
                 Activation::ReLU6, true, true};
  const auto d = ir_desc(Layout::NCHW, c);
  const auto x = random_vec(4 * 36, 1);
  const auto ew = random_vec(12 * 4, 2), dw = random_vec(12 * 9, 3), pw = random_vec(4 * 12, 4);
  std::vector<float> y(4 * 36, std::numeric_limits<float>::quiet_NaN());
  auto call = [&](const sepconv::InvertedResidualDesc& desc, const float* xp, const float* ewp,
                  float* yp) {
    return [=] {
      sepconv::inverted_residual(desc, xp, ewp, nullptr, dw.data(), nullptr, pw.data(), nullptr,
                                 yp);
    };
  };
  EXPECT_NO_THROW(call(d, x.data(), ew.data(), y.data())());
  std::fill(y.begin(), y.end(), std::numeric_limits<float>::quiet_NaN());
  expect_invalid(call(d, x.data(), nullptr, y.data()), y, "expand stage without expand_weight");
  auto bad = d;
  bad.expand = false;
  expect_invalid(call(bad, x.data(), ew.data(), y.data()), y, "expand_weight without expand stage");
  expect_invalid(call(bad, x.data(), nullptr, y.data()), y, "no expand: Ce must equal Cin");
  bad = d;
  bad.window.stride_h = 2;
  expect_invalid(call(bad, x.data(), ew.data(), y.data()), y, "residual with stride 2");
  bad = d;
  bad.out_channels = 5;
  expect_invalid(call(bad, x.data(), ew.data(), y.data()), y, "residual with Cout != Cin");
  bad = d;
  bad.activation = static_cast<Activation>(9);
  expect_invalid(call(bad, x.data(), ew.data(), y.data()), y, "unknown activation");
  std::vector<float> buf(4 * 36, 0.5f);
  EXPECT_THROW(call(d, buf.data(), ew.data(), buf.data())(), sepconv::InvalidArgument) << "out == x";
}

TEST(Arguments, Layers) {
  sepconv::DepthwiseConv2dDesc d = small_dw(Layout::NHWC);
  const auto w = random_vec(4 * 9, 1);
  EXPECT_THROW(sepconv::DepthwiseConv2d(d, nullptr, nullptr), sepconv::InvalidArgument);
  auto bad = d;
  bad.window.kernel_h = 0;
  EXPECT_THROW(sepconv::DepthwiseConv2d(bad, w.data(), nullptr), sepconv::InvalidArgument);
  const sepconv::DepthwiseConv2d layer(d, w.data(), nullptr);
  const auto x = random_vec(2 * 5 * 5 * 4, 2);
  std::vector<float> y(2 * 5 * 5 * 4, std::numeric_limits<float>::quiet_NaN());
  auto call = [&](sepconv::Shape4 xs, const float* xp, float* yp) {
    return [=, &layer] { layer(xs, xp, yp); };
  };
  EXPECT_NO_THROW(call({{2, 5, 5, 4}}, x.data(), y.data())());
  std::fill(y.begin(), y.end(), std::numeric_limits<float>::quiet_NaN());
  expect_invalid(call({{2, 5, 5, 3}}, x.data(), y.data()), y, "channel mismatch");
  expect_invalid(call({{0, 5, 5, 4}}, x.data(), y.data()), y, "zero batch");
  expect_invalid(call({{1, 0, 5, 4}}, x.data(), y.data()), y, "zero height");
  expect_invalid(call({{2, 5, 5, 4}}, nullptr, y.data()), y, "null x");
  EXPECT_THROW(call({{2, 5, 5, 4}}, x.data(), nullptr)(), sepconv::InvalidArgument);
  std::vector<float> buf(2 * 5 * 5 * 4, 0.5f);
  EXPECT_THROW(call({{2, 5, 5, 4}}, buf.data(), buf.data())(), sepconv::InvalidArgument)
      << "out == x";
}

TEST(Arguments, Conv2d) {
  sepconv::Conv2dDesc d;
  d.in_channels = 4;
  d.out_channels = 6;
  d.groups = 2;
  d.in_h = 5;
  d.in_w = 5;
  d.window = window(3, 3, 1, 1, 1, 1, pad_all(1));
  const auto x = random_vec(4 * 25, 1);
  const auto w = random_vec(6 * 2 * 9, 2);
  std::vector<float> y(6 * 25);
  auto call = [&](const sepconv::Conv2dDesc& desc, const float* xp, const float* wp, float* yp) {
    return [=] { sepconv::conv2d(desc, xp, wp, nullptr, yp); };
  };
  EXPECT_NO_THROW(call(d, x.data(), w.data(), y.data())());
  auto bad = d;
  bad.groups = 3;  // divides out_channels (6) but not in_channels (4)
  expect_invalid(call(bad, x.data(), w.data(), y.data()), y, "groups do not divide in_channels");
  bad = d;
  bad.groups = 4;  // divides in_channels (4) but not out_channels (6)
  expect_invalid(call(bad, x.data(), w.data(), y.data()), y, "groups do not divide out_channels");
  bad = d;
  bad.groups = 0;
  expect_invalid(call(bad, x.data(), w.data(), y.data()), y, "zero groups");
  bad = d;
  bad.in_channels = 0;
  expect_invalid(call(bad, x.data(), w.data(), y.data()), y, "zero in_channels");
  bad = d;
  bad.window.stride_h = 0;
  expect_invalid(call(bad, x.data(), w.data(), y.data()), y, "zero stride");
  bad = d;
  bad.window.padding.bottom = -1;
  expect_invalid(call(bad, x.data(), w.data(), y.data()), y, "negative padding");
  bad = d;
  bad.window.kernel_h = 8;
  expect_invalid(call(bad, x.data(), w.data(), y.data()), y, "kernel > padded input");
  expect_invalid(call(d, nullptr, w.data(), y.data()), y, "null x");
  expect_invalid(call(d, x.data(), nullptr, y.data()), y, "null weight");
  EXPECT_THROW(call(d, x.data(), w.data(), nullptr)(), sepconv::InvalidArgument);
  std::vector<float> buf(6 * 25, 0.5f);
  EXPECT_THROW(call(d, buf.data(), w.data(), buf.data())(), sepconv::InvalidArgument)
      << "out == x";
}

TEST(Arguments, Geometry) {
  EXPECT_THROW(sepconv::conv_geometry(0, 5, Window{}), sepconv::InvalidArgument);
  Window w = window(3, 3, 0, 1, 1, 1, pad_all(0));
  EXPECT_THROW(sepconv::conv_geometry(5, 5, w), sepconv::InvalidArgument);
  w = window(3, 3, 1, 1, 1, 1, explicit_pad(0, -1, 0, 0));
  EXPECT_THROW(sepconv::conv_geometry(5, 5, w), sepconv::InvalidArgument);
  w = window(3, 3, 1, 1, 3, 3, pad_all(0));  // spans 7 > 5
  EXPECT_THROW(sepconv::conv_geometry(5, 5, w), sepconv::InvalidArgument);
  // "same": out = ceil(in / stride), extra padding at the bottom/right.
  w = window(4, 4, 2, 2, 1, 1, pad_mode(PaddingMode::Same));
  const sepconv::Geometry g = sepconv::conv_geometry(7, 8, w);
  EXPECT_EQ(g.out_h, 4);
  EXPECT_EQ(g.out_w, 4);
  EXPECT_EQ(g.pad_top, 1);  // total 3: 1 top, 2 bottom
  EXPECT_EQ(g.pad_bottom, 2);
  EXPECT_EQ(g.pad_left, 1);  // total 2: 1 left, 1 right
  EXPECT_EQ(g.pad_right, 1);
}

TEST(Arguments, Runtime) {
  EXPECT_THROW(sepconv::set_num_threads(0), sepconv::InvalidArgument);
  EXPECT_THROW(sepconv::set_num_threads(-2), sepconv::InvalidArgument);
  EXPECT_THROW(sepconv::parse_isa("sse9"), sepconv::InvalidArgument);
  EXPECT_EQ(sepconv::parse_isa("scalar"), Isa::Scalar);
  EXPECT_TRUE(sepconv::isa_supported(Isa::Scalar));
  const Isa before = sepconv::active_isa();
  for (Isa isa : {Isa::Scalar, Isa::AVX2, Isa::AVX512, Isa::NEON}) {
    if (sepconv::isa_supported(isa)) {
      EXPECT_NO_THROW(sepconv::set_isa(isa));
      EXPECT_EQ(sepconv::active_isa(), isa);
    } else {
      EXPECT_THROW(sepconv::set_isa(isa), sepconv::InvalidArgument) << sepconv::isa_name(isa);
      EXPECT_NE(sepconv::active_isa(), isa);
    }
  }
  sepconv::set_isa(before);
  EXPECT_TRUE(sepconv::isa_supported(sepconv::active_isa()));
}

// The operators' task ranges: contiguous, covering every item once, whole units (but the last), and
// sizes within one unit of each other, so that a static schedule balances.
TEST(Partition, EvenSplits) {
  const int threads = sepconv::get_num_threads();
  sepconv::set_num_threads(1);
  for (int64_t total : {1, 7, 14, 49, 196, 3136}) {
    for (int64_t unit : {1, 6, 16}) {
      for (int64_t min_tasks : {1, 4, 8, 12}) {
        const sepconv::detail::Split s = sepconv::detail::split_for(total, 1, min_tasks, unit);
        const int64_t units = (total + unit - 1) / unit;
        EXPECT_EQ(s.parts, std::min(min_tasks, units)) << total << " " << unit << " " << min_tasks;
        EXPECT_EQ(s.begin(0), 0);
        EXPECT_EQ(s.end(s.parts - 1), total);
        int64_t smallest = total, largest = 0;
        for (int64_t i = 0; i < s.parts; ++i) {
          EXPECT_EQ(s.begin(i) % unit, 0);
          EXPECT_LT(s.begin(i), s.end(i));
          if (i + 1 < s.parts) {
            smallest = std::min(smallest, s.end(i) - s.begin(i));
            largest = std::max(largest, s.end(i) - s.begin(i));
          }
          EXPECT_LE(s.end(i) - s.begin(i), s.max_size());
        }
        if (s.parts > 2) {
          EXPECT_LE(largest - smallest, unit) << total << " " << unit;
        }
      }
    }
  }
  // 14 rows for 8 tasks: 8 bands of 1-2 rows, 7 rows for each of 2 threads' halves.
  const sepconv::detail::Split rows = sepconv::detail::split_for(14, 1, 8);
  EXPECT_EQ(rows.parts, 8);
  EXPECT_EQ(rows.begin(4), 7);
  // A cap on the size raises the part count.
  EXPECT_EQ(sepconv::detail::split_for(100, 1, 1, 1, 30).parts, 4);
  EXPECT_LE(sepconv::detail::split_for(100, 1, 1, 1, 30).max_size(), 30);
  // With 2 threads the task count (parts x other tasks) is even where the units allow.
  sepconv::set_num_threads(2);
  EXPECT_EQ(sepconv::detail::split_for(100, 1, 1, 1, 30).parts, 4);
  EXPECT_EQ(sepconv::detail::split_for(100, 3, 8, 1, 0).parts, 4);  // 3 x 3 = 9 -> 3 x 4
  EXPECT_EQ(sepconv::detail::split_for(100, 1, 1, 1, 40).parts, 4);  // 3 -> 4
  EXPECT_EQ(sepconv::detail::split_for(3, 1, 1, 1, 1).parts, 3);     // no more units
  sepconv::set_num_threads(threads);
}

TEST(Arguments, UnsupportedAvx512) {
  if (sepconv::isa_supported(Isa::AVX512)) GTEST_SKIP() << "AVX-512 is supported here";
  EXPECT_THROW(sepconv::set_isa(Isa::AVX512), sepconv::InvalidArgument);
}

}  // namespace
