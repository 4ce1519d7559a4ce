// Google Benchmark microbenchmarks of the sepconv ops on MobileNetV2-like layer shapes.
//
// Own flags (removed from argv before benchmark::Initialize sees it):
//   --isa=LIST     auto (default: the library's choice at first use, which honours SEPCONV_ISA),
//                  all (every ISA this CPU runs), or a comma list of scalar,avx2,avx512,neon.
//                  The ISA is part of each benchmark's name, so --benchmark_filter=avx2 works.
//   --threads=N    sepconv::set_num_threads(N) for every benchmark (default 1).
// Everything else goes to Google Benchmark (--benchmark_filter, --benchmark_min_time=0.05 on
// Debian's 1.7.1 -- no "s" suffix there --, --benchmark_repetitions, --benchmark_format=json, ...).
//
// Counters: items_per_second = output elements per second; FLOPS = 2 x multiply-adds per second
// (printed like "12.3G/s"). Times are wall-clock (UseRealTime) because the ops run OpenMP threads.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sepconv/sepconv.h"

namespace {

using sepconv::Isa;
using sepconv::Layout;

int g_threads = 1;

std::vector<float> random_vec(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(gen);
  return v;
}

const char* layout_name(Layout l) { return l == Layout::NHWC ? "NHWC" : "NCHW"; }

sepconv::Window square_window(int64_t k, int64_t stride) {
  sepconv::Window w;
  w.kernel_h = w.kernel_w = k;
  w.stride_h = w.stride_w = stride;
  w.padding.top = w.padding.bottom = w.padding.left = w.padding.right = (k - 1) / 2;
  return w;
}

// One benchmarked layer. Buffers are allocated and filled with random data on first use and kept
// for the life of the process, so repeated runs (and every ISA) reuse the same memory.
class Op {
 public:
  virtual ~Op() = default;
  void prepare() {
    if (!ready_) {
      allocate();
      ready_ = true;
    }
  }
  virtual void run() = 0;
  virtual int64_t out_elems() const = 0;
  virtual double flops() const = 0;  // 2 x multiply-adds per call

 protected:
  virtual void allocate() = 0;
  bool ready_ = false;
};

class DepthwiseOp : public Op {
 public:
  explicit DepthwiseOp(const sepconv::DepthwiseConv2dDesc& d) : d_(d) {}
  void run() override { sepconv::depthwise_conv2d(d_, x_.data(), w_.data(), b_.data(), y_.data()); }
  int64_t out_elems() const override { return sepconv::output_shape(d_).numel(); }
  double flops() const override {
    return 2.0 * out_elems() * d_.window.kernel_h * d_.window.kernel_w;
  }

 protected:
  void allocate() override {
    const int64_t cout = d_.channels * d_.multiplier;
    x_ = random_vec(d_.batch * d_.channels * d_.in_h * d_.in_w, 1);
    w_ = random_vec(cout * d_.window.kernel_h * d_.window.kernel_w, 2);
    b_ = random_vec(cout, 3);
    y_.assign(static_cast<size_t>(out_elems()), 0.0f);
  }

 private:
  sepconv::DepthwiseConv2dDesc d_;
  std::vector<float> x_, w_, b_, y_;
};

class PointwiseOp : public Op {
 public:
  explicit PointwiseOp(const sepconv::PointwiseConv2dDesc& d) : d_(d) {}
  void run() override { sepconv::pointwise_conv2d(d_, x_.data(), w_.data(), b_.data(), y_.data()); }
  int64_t out_elems() const override { return sepconv::output_shape(d_).numel(); }
  double flops() const override { return 2.0 * out_elems() * d_.in_channels; }

 protected:
  void allocate() override {
    x_ = random_vec(d_.batch * d_.in_channels * d_.height * d_.width, 4);
    w_ = random_vec(d_.out_channels * d_.in_channels, 5);
    b_ = random_vec(d_.out_channels, 6);
    y_.assign(static_cast<size_t>(out_elems()), 0.0f);
  }

 private:
  sepconv::PointwiseConv2dDesc d_;
  std::vector<float> x_, w_, b_, y_;
};

class SeparableOp : public Op {
 public:
  explicit SeparableOp(const sepconv::SeparableConv2dDesc& d) : d_(d) {}
  void run() override {
    sepconv::separable_conv2d(d_, x_.data(), dw_.data(), pw_.data(), db_.data(), pb_.data(),
                              y_.data());
  }
  int64_t out_elems() const override { return sepconv::output_shape(d_).numel(); }
  double flops() const override {
    const double pixels = static_cast<double>(out_elems()) / d_.out_channels;
    const double cm = static_cast<double>(d_.in_channels * d_.multiplier);
    return 2.0 * pixels * cm * (d_.window.kernel_h * d_.window.kernel_w + d_.out_channels);
  }

 protected:
  void allocate() override {
    const int64_t cm = d_.in_channels * d_.multiplier;
    x_ = random_vec(d_.batch * d_.in_channels * d_.in_h * d_.in_w, 7);
    dw_ = random_vec(cm * d_.window.kernel_h * d_.window.kernel_w, 8);
    pw_ = random_vec(d_.out_channels * cm, 9);
    db_ = random_vec(cm, 10);
    pb_ = random_vec(d_.out_channels, 11);
    y_.assign(static_cast<size_t>(out_elems()), 0.0f);
  }

 private:
  sepconv::SeparableConv2dDesc d_;
  std::vector<float> x_, dw_, pw_, db_, pb_, y_;
};

class Conv2dOp : public Op {
 public:
  explicit Conv2dOp(const sepconv::Conv2dDesc& d) : d_(d) {}
  void run() override { sepconv::conv2d(d_, x_.data(), w_.data(), b_.data(), y_.data()); }
  int64_t out_elems() const override { return sepconv::output_shape(d_).numel(); }
  double flops() const override {
    return 2.0 * out_elems() * (d_.in_channels / d_.groups) * d_.window.kernel_h *
           d_.window.kernel_w;
  }

 protected:
  void allocate() override {
    x_ = random_vec(d_.batch * d_.in_channels * d_.in_h * d_.in_w, 12);
    w_ = random_vec(d_.out_channels * (d_.in_channels / d_.groups) * d_.window.kernel_h *
                        d_.window.kernel_w,
                    13);
    b_ = random_vec(d_.out_channels, 14);
    y_.assign(static_cast<size_t>(out_elems()), 0.0f);
  }

 private:
  sepconv::Conv2dDesc d_;
  std::vector<float> x_, w_, b_, y_;
};

// The inverted residual block, fused or as its three stages (sepconv's fusion knob).
class InvertedResidualOp : public Op {
 public:
  InvertedResidualOp(const sepconv::InvertedResidualDesc& d, sepconv::Fusion fusion)
      : d_(d), fusion_(fusion) {}
  void run() override {
    sepconv::set_separable_fusion(fusion_);
    sepconv::inverted_residual(d_, x_.data(), ew_.data(), eb_.data(), dw_.data(), db_.data(),
                               pw_.data(), pb_.data(), y_.data());
  }
  int64_t out_elems() const override { return sepconv::output_shape(d_).numel(); }
  double flops() const override {
    const double out_pixels = static_cast<double>(out_elems()) / d_.out_channels;
    const double ce = static_cast<double>(d_.expanded_channels);
    return 2.0 * (static_cast<double>(d_.in_h * d_.in_w) * d_.in_channels * ce +
                  out_pixels * ce * (d_.window.kernel_h * d_.window.kernel_w + d_.out_channels));
  }

 protected:
  void allocate() override {
    const int64_t ce = d_.expanded_channels;
    x_ = random_vec(d_.batch * d_.in_channels * d_.in_h * d_.in_w, 15);
    ew_ = random_vec(ce * d_.in_channels, 16);
    eb_ = random_vec(ce, 17);
    dw_ = random_vec(ce * d_.window.kernel_h * d_.window.kernel_w, 18);
    db_ = random_vec(ce, 19);
    pw_ = random_vec(d_.out_channels * ce, 20);
    pb_ = random_vec(d_.out_channels, 21);
    y_.assign(static_cast<size_t>(out_elems()), 0.0f);
  }

 private:
  sepconv::InvertedResidualDesc d_;
  sepconv::Fusion fusion_;
  std::vector<float> x_, ew_, eb_, dw_, db_, pw_, pb_, y_;
};

struct Case {
  std::string name;  // family/shape/layout
  std::shared_ptr<Op> op;
};

std::vector<Case> make_cases() {
  std::vector<Case> cases;
  for (Layout layout : {Layout::NCHW, Layout::NHWC}) {
    const std::string lay = layout_name(layout);
    struct Dw {
      const char* family;
      int64_t c, hw, k, stride, batch;
    };
    // Batch 8 streams the layer from DRAM (14-38 MB per call), batch 1 runs from L2/L3.
    // MobileNetV1's 512 and 1024 channels: NHWC pixels of 2 and 4 KiB, whose channel tiles fall in
    // two L1 sets and one (kernels.h: l1_sets_reached; core/depthwise.cpp runs them on copies).
    const Dw dws[] = {
        {"dw3x3_s1", 32, 112, 3, 1, 1},  {"dw3x3_s1", 144, 56, 3, 1, 1}, {"dw3x3_s1", 384, 14, 3, 1, 1},
        {"dw3x3_s1", 960, 7, 3, 1, 1},   {"dw3x3_s2", 96, 112, 3, 2, 1}, {"dw3x3_s2", 144, 56, 3, 2, 1},
        {"dw3x3_s2", 576, 14, 3, 2, 1},  {"dw5x5", 240, 28, 5, 1, 1},    {"dw7x7", 96, 56, 7, 1, 1},
        {"dw31x31", 128, 32, 31, 1, 1},  {"dw3x3_s1", 144, 56, 3, 1, 8}, {"dw3x3_s2", 96, 112, 3, 2, 8},
        {"dw3x3_s1", 512, 14, 3, 1, 1},  {"dw3x3_s1", 1024, 7, 3, 1, 1},
    };
    for (const Dw& s : dws) {
      sepconv::DepthwiseConv2dDesc d;
      d.layout = layout;
      d.batch = s.batch;
      d.channels = s.c;
      d.in_h = d.in_w = s.hw;
      d.window = square_window(s.k, s.stride);
      const std::string batch = s.batch > 1 ? "_N" + std::to_string(s.batch) : "";
      cases.push_back({std::string(s.family) + "/C" + std::to_string(s.c) + "_" +
                           std::to_string(s.hw) + "x" + std::to_string(s.hw) + batch + "/" + lay,
                       std::make_shared<DepthwiseOp>(d)});
    }
    struct Pw {
      int64_t cin, cout, hw, batch;
    };
    for (const Pw& s : {Pw{144, 24, 56, 1}, Pw{960, 320, 7, 1}, Pw{384, 64, 14, 1},
                        Pw{144, 24, 56, 8}}) {
      sepconv::PointwiseConv2dDesc d;
      d.layout = layout;
      d.batch = s.batch;
      d.in_channels = s.cin;
      d.out_channels = s.cout;
      d.height = d.width = s.hw;
      const std::string batch = s.batch > 1 ? "_N" + std::to_string(s.batch) : "";
      cases.push_back({"pw/" + std::to_string(s.cin) + "to" + std::to_string(s.cout) + "_" +
                           std::to_string(s.hw) + "x" + std::to_string(s.hw) + batch + "/" + lay,
                       std::make_shared<PointwiseOp>(d)});
    }
    {
      sepconv::SeparableConv2dDesc d;
      d.layout = layout;
      d.in_channels = 144;
      d.in_h = d.in_w = 56;
      d.out_channels = 24;
      d.window = square_window(3, 1);
      cases.push_back({"sep3x3/C144_56x56_to24/" + lay, std::make_shared<SeparableOp>(d)});
    }
    {
      sepconv::Conv2dDesc d;
      d.layout = layout;
      d.in_channels = d.out_channels = 64;
      d.in_h = d.in_w = 56;
      d.window = square_window(3, 1);
      cases.push_back({"conv3x3/64to64_56x56/" + lay, std::make_shared<Conv2dOp>(d)});
    }
    struct Ir {
      int64_t cin, expanded, hw, stride;
    };
    for (const Ir& s : {Ir{24, 144, 56, 1}, Ir{16, 96, 112, 2}, Ir{64, 384, 14, 1}}) {
      sepconv::InvertedResidualDesc d;
      d.layout = layout;
      d.in_channels = s.cin;
      d.expanded_channels = s.expanded;
      d.out_channels = s.stride == 1 ? s.cin : s.cin + 8;
      d.in_h = d.in_w = s.hw;
      d.window = square_window(3, s.stride);
      d.residual = s.stride == 1;
      const std::string name = "ir/" + std::to_string(s.cin) + "x" +
                               std::to_string(s.expanded / s.cin) + "_" + std::to_string(s.hw) +
                               "s" + std::to_string(s.stride) + "/" + lay;
      cases.push_back({name + "/fused",
                       std::make_shared<InvertedResidualOp>(d, sepconv::Fusion::Always)});
      cases.push_back({name + "/unfused",
                       std::make_shared<InvertedResidualOp>(d, sepconv::Fusion::Never)});
    }
  }
  return cases;
}

void run_case(benchmark::State& state, Op* op, Isa isa) {
  try {
    sepconv::set_isa(isa);
    sepconv::set_num_threads(g_threads);
    op->prepare();
    op->run();  // warm-up: first-touch pages, thread pool start
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  for (auto _ : state) {
    op->run();
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * op->out_elems());
  state.counters["FLOPS"] = benchmark::Counter(
      op->flops(), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr,
               "sepconv_bench: %s\n"
               "usage: sepconv_bench [--isa=auto|all|scalar,avx2,avx512,neon] [--threads=N] "
               "[benchmark flags]\n",
               msg.c_str());
  std::exit(2);
}

// Parses and removes --isa= / --threads= from argv.
std::vector<Isa> parse_own_flags(int* argc, char** argv) {
  std::string isa_arg = "auto";
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    const char* a = argv[i];
    if (std::strncmp(a, "--isa=", 6) == 0) {
      isa_arg = a + 6;
    } else if (std::strncmp(a, "--threads=", 10) == 0) {
      char* end = nullptr;
      const long n = std::strtol(a + 10, &end, 10);
      if (end == a + 10 || *end != '\0' || n < 1 || n > 4096) usage_error("bad --threads value");
      g_threads = static_cast<int>(n);
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;

  std::vector<Isa> isas;
  if (isa_arg == "auto") {
    try {
      isas.push_back(sepconv::active_isa());  // SEPCONV_ISA or the library's automatic choice
    } catch (const std::exception& e) {
      usage_error(e.what());
    }
  } else if (isa_arg == "all") {
    for (Isa isa : {Isa::Scalar, Isa::AVX2, Isa::AVX512, Isa::NEON}) {
      if (sepconv::isa_supported(isa)) isas.push_back(isa);
    }
  } else {
    size_t pos = 0;
    while (pos <= isa_arg.size()) {
      const size_t comma = isa_arg.find(',', pos);
      const std::string name =
          isa_arg.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      try {
        const Isa isa = sepconv::parse_isa(name);
        if (!sepconv::isa_supported(isa)) usage_error("ISA " + name + " cannot run on this CPU");
        isas.push_back(isa);
      } catch (const sepconv::InvalidArgument& e) {
        usage_error(e.what());
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  return isas;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<Isa> isas = parse_own_flags(&argc, argv);
  try {
    sepconv::set_num_threads(g_threads);
  } catch (const std::exception& e) {
    usage_error(e.what());
  }

  std::string isa_list;
  for (Isa isa : isas) {
    isa_list += std::string(isa_list.empty() ? "" : ",") + sepconv::isa_name(isa);
  }
  benchmark::AddCustomContext("sepconv_version", sepconv::version());
  benchmark::AddCustomContext("sepconv_compiler", sepconv::compiler());
  benchmark::AddCustomContext("sepconv_isa", isa_list);
  benchmark::AddCustomContext("sepconv_threads", std::to_string(g_threads));
  benchmark::AddCustomContext("sepconv_openmp", sepconv::openmp_enabled() ? "yes" : "no");

  static const std::vector<Case> cases = make_cases();
  for (Isa isa : isas) {
    for (const Case& c : cases) {
      Op* op = c.op.get();
      benchmark::RegisterBenchmark((c.name + "/" + sepconv::isa_name(isa)).c_str(),
                                   [op, isa](benchmark::State& st) { run_case(st, op, isa); })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
