// sepconv._core: thin pybind11 bindings over the C++ API. The Python layer (python/sepconv/_ops.py)
// has already normalised arguments, checked dtypes and weight shapes and made inputs contiguous;
// here arrays become raw pointers, `out` is checked or allocated, and the GIL is released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

#include "sepconv/layers.h"
#include "sepconv/sepconv.h"

namespace py = pybind11;
using sepconv::InvalidArgument;

namespace {

using Pair = std::tuple<int64_t, int64_t>;

const float* input_data(const py::array& a, const char* name) {
  if (!py::isinstance<py::array_t<float>>(a) || !(a.flags() & py::array::c_style)) {
    throw InvalidArgument(std::string(name) + " must be a C-contiguous float32 array");
  }
  return static_cast<const float*>(a.data());
}

const float* optional_data(const py::object& a, const char* name) {
  if (a.is_none()) return nullptr;
  return input_data(a.cast<py::array>(), name);
}

std::string shape_str(const sepconv::Shape4& s) {
  return "(" + std::to_string(s.dim[0]) + ", " + std::to_string(s.dim[1]) + ", " +
         std::to_string(s.dim[2]) + ", " + std::to_string(s.dim[3]) + ")";
}

// Fresh outputs are views into NumPy blocks kept in a small pool: a block that only the pool still
// references (the caller dropped the last output made from it) serves the next output of the same
// size. Without it, an output freed at the top of glibc's heap is trimmed away and the next one is
// faulted in again, and with 2 threads those faults cost the most (NCHW pointwise 144 -> 24 at
// 56 x 56, its 300 KB output kept until the next call: 140 µs a call, 63 with the pool; ONNX
// Runtime keeps an arena for the same reason). Blocks up to 32 MiB are kept (larger ones glibc
// maps afresh anyway), at most 8 of them and 64 MiB in all, the least recently used dropped first.
class OutputBlocks {
 public:
  // A block of `floats` that nothing outside the pool references, or a new one. Runs with the GIL
  // held, which guards the pool and the reference counts.
  py::array_t<float> take(int64_t floats) {
    for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) {
      if (it->size() == floats && Py_REFCNT(it->ptr()) == 1) {
        std::rotate(std::prev(it.base()), it.base(), blocks_.end());
        return blocks_.back();
      }
    }
    py::array_t<float> block(floats);
    if (bytes(block) <= kMaxBlockBytes) {
      blocks_.push_back(block);
      int64_t total = 0;
      for (const auto& b : blocks_) total += bytes(b);
      while (blocks_.size() > kMaxBlocks || total > kMaxTotalBytes) {
        total -= bytes(blocks_.front());
        blocks_.erase(blocks_.begin());
      }
    }
    return block;
  }

 private:
  static constexpr size_t kMaxBlocks = 8;
  static constexpr int64_t kMaxBlockBytes = int64_t(32) << 20, kMaxTotalBytes = int64_t(64) << 20;
  static int64_t bytes(const py::array_t<float>& b) { return b.size() * int64_t(sizeof(float)); }
  std::vector<py::array_t<float>> blocks_;  // the most recently used last
};

// A new output starts `offset` floats past a cache line, or past a 4 KiB page from 16 up
// (sepconv::output_offset; mostly on a line, as PyTorch's tensors do, where NumPy aligns large
// arrays to 16 bytes only): the kernels may then store whole lines (kernels::DwconvNhwcArgs::
// stream_y, ::lead). Its block is a NumPy array up to a line or a page longer, so that NumPy's
// allocator (its huge-page advice on large arrays) still serves it: a 38 MB output from
// std::aligned_alloc took ~9,000 page faults per call.
py::array_t<float> new_output(const sepconv::Shape4& shape, int64_t offset) {
  constexpr int64_t kLineFloats = 16, kPageFloats = 1024;
  // Never destroyed: its arrays must not be released after the interpreter has finalized.
  static OutputBlocks* const pool = new OutputBlocks;
  const int64_t placement = offset < kLineFloats ? kLineFloats : kPageFloats;
  py::array_t<float> block = pool->take(shape.numel() + placement - 1);
  const auto address = reinterpret_cast<uintptr_t>(block.data()) / sizeof(float);
  const auto skip = int64_t((uintptr_t(offset) - address) % uintptr_t(placement));
  return py::array_t<float>({shape.dim[0], shape.dim[1], shape.dim[2], shape.dim[3]},
                            block.mutable_data() + skip, block);
}

// Returns `out` after checking it is exactly what the op writes, or a new array of `shape`
// starting `offset` floats past a cache line.
py::array_t<float> output_array(const py::object& out, const sepconv::Shape4& shape,
                                int64_t offset = 0) {
  if (out.is_none()) return new_output(shape, offset);
  if (!py::isinstance<py::array>(out)) throw InvalidArgument("out must be a numpy array");
  py::array a = out.cast<py::array>();
  if (!py::isinstance<py::array_t<float>>(a)) {
    throw InvalidArgument("out must have dtype float32, got " +
                          py::str(a.dtype()).cast<std::string>());
  }
  bool same = a.ndim() == 4;
  for (int i = 0; same && i < 4; ++i) same = a.shape(i) == shape.dim[i];
  if (!same) {
    throw InvalidArgument("out has shape " + py::str(out.attr("shape")).cast<std::string>() +
                          ", expected " + shape_str(shape));
  }
  if (!(a.flags() & py::array::c_style)) throw InvalidArgument("out must be C-contiguous");
  if (!a.writeable()) throw InvalidArgument("out must be writeable (it is read-only)");
  return py::reinterpret_borrow<py::array_t<float>>(a);
}

// Allocates (y_offset floats past a line) or checks `out` for desc's output, then runs op(y) with
// the GIL released.
template <class Desc, class Op>
py::array run_op(const Desc& desc, const py::object& out, Op&& op, int64_t y_offset = 0) {
  auto y = output_array(out, sepconv::output_shape(desc), y_offset);
  float* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    op(yp);
  }
  return std::move(y);
}

sepconv::Layout parse_layout(const std::string& s) {
  if (s == "NCHW") return sepconv::Layout::NCHW;
  if (s == "NHWC") return sepconv::Layout::NHWC;
  throw InvalidArgument("layout must be 'NCHW' or 'NHWC', got '" + s + "'");
}

sepconv::Activation parse_activation(const py::object& a, const char* name) {
  if (a.is_none()) return sepconv::Activation::None;
  const std::string s = py::str(a);
  if (s == "relu") return sepconv::Activation::ReLU;
  if (s == "relu6") return sepconv::Activation::ReLU6;
  if (s == "hardswish") return sepconv::Activation::HardSwish;
  if (s == "silu") return sepconv::Activation::SiLU;
  throw InvalidArgument(std::string(name) + " must be None, 'relu', 'relu6', 'hardswish' or " +
                        "'silu', got '" + s + "'");
}

// padding: "valid", "same" or (top, bottom, left, right).
sepconv::Padding parse_padding(const py::object& padding) {
  sepconv::Padding p;
  if (py::isinstance<py::str>(padding)) {
    const std::string s = py::str(padding);
    if (s == "valid") {
      p.mode = sepconv::PaddingMode::Valid;
    } else if (s == "same") {
      p.mode = sepconv::PaddingMode::Same;
    } else {
      throw InvalidArgument("padding must be an int, a pair, ((top, bottom), (left, right)), " +
                            std::string("'valid' or 'same', got '") + s + "'");
    }
    return p;
  }
  const auto t = padding.cast<std::tuple<int64_t, int64_t, int64_t, int64_t>>();
  p.top = std::get<0>(t);
  p.bottom = std::get<1>(t);
  p.left = std::get<2>(t);
  p.right = std::get<3>(t);
  return p;
}

sepconv::Window make_window(Pair kernel, Pair stride, const py::object& padding, Pair dilation) {
  sepconv::Window w;
  std::tie(w.kernel_h, w.kernel_w) = kernel;
  std::tie(w.stride_h, w.stride_w) = stride;
  std::tie(w.dilation_h, w.dilation_w) = dilation;
  w.padding = parse_padding(padding);
  return w;
}

// x is 4-D in `layout`; returns (N, C, H, W).
std::tuple<int64_t, int64_t, int64_t, int64_t> nchw_dims(const py::array& x, sepconv::Layout l) {
  if (x.ndim() != 4) throw InvalidArgument("x must be 4-D");
  if (l == sepconv::Layout::NHWC) return {x.shape(0), x.shape(3), x.shape(1), x.shape(2)};
  return {x.shape(0), x.shape(1), x.shape(2), x.shape(3)};
}

// Descriptors from the normalised Python arguments; (batch, channels, h, w) from x or an example.
using Dims = std::tuple<int64_t, int64_t, int64_t, int64_t>;

sepconv::DepthwiseConv2dDesc depthwise_desc(const std::string& layout, Dims x, Pair kernel,
                                            int64_t multiplier, Pair stride,
                                            const py::object& padding, Pair dilation,
                                            const py::object& activation) {
  sepconv::DepthwiseConv2dDesc d;
  d.layout = parse_layout(layout);
  std::tie(d.batch, d.channels, d.in_h, d.in_w) = x;
  d.multiplier = multiplier;
  d.window = make_window(kernel, stride, padding, dilation);
  d.activation = parse_activation(activation, "activation");
  return d;
}

sepconv::PointwiseConv2dDesc pointwise_desc(const std::string& layout, Dims x,
                                            int64_t out_channels, const py::object& activation) {
  sepconv::PointwiseConv2dDesc d;
  d.layout = parse_layout(layout);
  std::tie(d.batch, d.in_channels, d.height, d.width) = x;
  d.out_channels = out_channels;
  d.activation = parse_activation(activation, "activation");
  return d;
}

sepconv::SeparableConv2dDesc separable_desc(const std::string& layout, Dims x, Pair kernel,
                                            int64_t multiplier, int64_t out_channels, Pair stride,
                                            const py::object& padding, Pair dilation,
                                            const py::object& depthwise_activation,
                                            const py::object& activation) {
  sepconv::SeparableConv2dDesc d;
  d.layout = parse_layout(layout);
  std::tie(d.batch, d.in_channels, d.in_h, d.in_w) = x;
  d.multiplier = multiplier;
  d.out_channels = out_channels;
  d.window = make_window(kernel, stride, padding, dilation);
  d.depthwise_activation = parse_activation(depthwise_activation, "depthwise_activation");
  d.activation = parse_activation(activation, "activation");
  return d;
}

sepconv::Conv2dDesc conv_desc(const std::string& layout, Dims x, Pair kernel, int64_t out_channels,
                              int64_t groups, Pair stride, const py::object& padding,
                              Pair dilation, const py::object& activation) {
  sepconv::Conv2dDesc d;
  d.layout = parse_layout(layout);
  std::tie(d.batch, d.in_channels, d.in_h, d.in_w) = x;
  d.out_channels = out_channels;
  d.groups = groups;
  d.window = make_window(kernel, stride, padding, dilation);
  d.activation = parse_activation(activation, "activation");
  return d;
}

sepconv::InvertedResidualDesc inverted_residual_desc(const std::string& layout, Dims x,
                                                     bool expand, int64_t expanded_channels,
                                                     int64_t out_channels, Pair kernel,
                                                     Pair stride, const py::object& padding,
                                                     Pair dilation, const py::object& activation,
                                                     bool residual) {
  sepconv::InvertedResidualDesc d;
  d.layout = parse_layout(layout);
  std::tie(d.batch, d.in_channels, d.in_h, d.in_w) = x;
  d.expand = expand;
  d.expanded_channels = expanded_channels;
  d.out_channels = out_channels;
  d.window = make_window(kernel, stride, padding, dilation);
  d.activation = parse_activation(activation, "activation");
  d.residual = residual;
  return d;
}

// A layer's example input: one image just large enough for its window.
Dims example_input(int64_t channels, Pair kernel, Pair dilation) {
  return {1, channels, (std::get<0>(kernel) - 1) * std::get<0>(dilation) + 1,
          (std::get<1>(kernel) - 1) * std::get<1>(dilation) + 1};
}

py::array depthwise(const py::array& x, const py::array& weight, const py::object& bias,
                    Pair kernel, int64_t multiplier, Pair stride, const py::object& padding,
                    Pair dilation, const std::string& layout, const py::object& activation,
                    const py::object& out) {
  const auto d = depthwise_desc(layout, nchw_dims(x, parse_layout(layout)), kernel, multiplier,
                                stride, padding, dilation, activation);
  const float *xp = input_data(x, "x"), *wp = input_data(weight, "weight"),
              *bp = optional_data(bias, "bias");
  return run_op(
      d, out, [&](float* yp) { sepconv::depthwise_conv2d(d, xp, wp, bp, yp); },
      out.is_none() ? sepconv::output_offset(d, xp) : 0);
}

py::array pointwise(const py::array& x, const py::array& weight, const py::object& bias,
                    int64_t out_channels, const std::string& layout, const py::object& activation,
                    const py::object& out) {
  const auto d = pointwise_desc(layout, nchw_dims(x, parse_layout(layout)), out_channels,
                                activation);
  const float *xp = input_data(x, "x"), *wp = input_data(weight, "weight"),
              *bp = optional_data(bias, "bias");
  return run_op(d, out, [&](float* yp) { sepconv::pointwise_conv2d(d, xp, wp, bp, yp); });
}

py::array separable(const py::array& x, const py::array& dw_weight, const py::array& pw_weight,
                    const py::object& dw_bias, const py::object& pw_bias, Pair kernel,
                    int64_t multiplier, int64_t out_channels, Pair stride,
                    const py::object& padding, Pair dilation, const std::string& layout,
                    const py::object& depthwise_activation, const py::object& activation,
                    const py::object& out) {
  const auto d = separable_desc(layout, nchw_dims(x, parse_layout(layout)), kernel, multiplier,
                                out_channels, stride, padding, dilation, depthwise_activation,
                                activation);
  const float *xp = input_data(x, "x"), *dwp = input_data(dw_weight, "depthwise_weight"),
              *pwp = input_data(pw_weight, "pointwise_weight"),
              *dbp = optional_data(dw_bias, "depthwise_bias"),
              *pbp = optional_data(pw_bias, "pointwise_bias");
  return run_op(d, out, [&](float* yp) { sepconv::separable_conv2d(d, xp, dwp, pwp, dbp, pbp, yp); });
}

py::array conv(const py::array& x, const py::array& weight, const py::object& bias, Pair kernel,
               int64_t out_channels, int64_t groups, Pair stride, const py::object& padding,
               Pair dilation, const std::string& layout, const py::object& activation,
               const py::object& out) {
  const auto d = conv_desc(layout, nchw_dims(x, parse_layout(layout)), kernel, out_channels,
                           groups, stride, padding, dilation, activation);
  const float *xp = input_data(x, "x"), *wp = input_data(weight, "weight"),
              *bp = optional_data(bias, "bias");
  return run_op(d, out, [&](float* yp) { sepconv::conv2d(d, xp, wp, bp, yp); });
}

py::array inverted_residual(const py::array& x, const py::object& expand_weight,
                            const py::array& depthwise_weight, const py::array& project_weight,
                            const py::object& expand_bias, const py::object& depthwise_bias,
                            const py::object& project_bias, Pair kernel,
                            int64_t expanded_channels, int64_t out_channels, Pair stride,
                            const py::object& padding, Pair dilation, const std::string& layout,
                            const py::object& activation, bool residual, const py::object& out) {
  const auto d = inverted_residual_desc(layout, nchw_dims(x, parse_layout(layout)),
                                        !expand_weight.is_none(), expanded_channels, out_channels,
                                        kernel, stride, padding, dilation, activation, residual);
  const float *xp = input_data(x, "x"), *ewp = optional_data(expand_weight, "expand_weight"),
              *ebp = optional_data(expand_bias, "expand_bias"),
              *dwp = input_data(depthwise_weight, "depthwise_weight"),
              *dbp = optional_data(depthwise_bias, "depthwise_bias"),
              *pwp = input_data(project_weight, "project_weight"),
              *pbp = optional_data(project_bias, "project_bias");
  return run_op(d, out, [&](float* yp) {
    sepconv::inverted_residual(d, xp, ewp, ebp, dwp, dbp, pwp, pbp, yp);
  });
}

// layer(x, out): x a 4-D C-contiguous float32 array in the layer's layout.
template <class L>
py::array call_layer(const L& layer, const py::array& x, const py::object& out) {
  const float* xp = input_data(x, "x");
  if (x.ndim() != 4) throw InvalidArgument("x must be 4-D");
  const sepconv::Shape4 shape{{x.shape(0), x.shape(1), x.shape(2), x.shape(3)}};
  auto y = output_array(out, layer.output_shape(shape),
                        out.is_none() ? layer.output_offset(shape, xp) : 0);
  float* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    layer(shape, xp, yp);
  }
  return std::move(y);
}

template <class L>
void bind_layer_call(py::class_<L>& cls) {
  cls.def("__call__", &call_layer<L>, py::arg("x"), py::arg("out"))
      .def_property_readonly("isa", [](const L& l) { return std::string(sepconv::isa_name(l.isa())); });
}

py::tuple geometry(Pair in_hw, Pair kernel, Pair stride, const py::object& padding,
                   Pair dilation) {
  const sepconv::Geometry g = sepconv::conv_geometry(
      std::get<0>(in_hw), std::get<1>(in_hw), make_window(kernel, stride, padding, dilation));
  return py::make_tuple(g.out_h, g.out_w,
                        py::make_tuple(g.pad_top, g.pad_bottom, g.pad_left, g.pad_right));
}

const char* fusion_name(sepconv::Fusion f) {
  switch (f) {
    case sepconv::Fusion::Always: return "always";
    case sepconv::Fusion::Never: return "never";
    default: return "auto";
  }
}

py::list available_isas() {
  py::list names;
  for (auto isa : {sepconv::Isa::Scalar, sepconv::Isa::AVX2, sepconv::Isa::AVX512,
                   sepconv::Isa::NEON}) {
    if (sepconv::isa_supported(isa)) names.append(sepconv::isa_name(isa));
  }
  return names;
}

// Layer constructors copy the weights (packing them) with the GIL held: the arrays are read once.
void bind_layers(py::module_& m) {
  py::class_<sepconv::DepthwiseConv2d> dw(m, "DepthwiseConv2d");
  dw.def(py::init([](const py::array& weight, const py::object& bias, int64_t channels,
                     Pair kernel, int64_t multiplier, Pair stride, const py::object& padding,
                     Pair dilation, const std::string& layout, const py::object& activation) {
           return sepconv::DepthwiseConv2d(
               depthwise_desc(layout, example_input(channels, kernel, dilation), kernel,
                              multiplier, stride, padding, dilation, activation),
               input_data(weight, "weight"), optional_data(bias, "bias"));
         }),
         py::arg("weight"), py::arg("bias"), py::arg("channels"), py::arg("kernel"),
         py::arg("multiplier"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
         py::arg("layout"), py::arg("activation"));
  bind_layer_call(dw);

  py::class_<sepconv::PointwiseConv2d> pw(m, "PointwiseConv2d");
  pw.def(py::init([](const py::array& weight, const py::object& bias, int64_t in_channels,
                     int64_t out_channels, const std::string& layout,
                     const py::object& activation) {
           return sepconv::PointwiseConv2d(
               pointwise_desc(layout, {1, in_channels, 1, 1}, out_channels, activation),
               input_data(weight, "weight"), optional_data(bias, "bias"));
         }),
         py::arg("weight"), py::arg("bias"), py::arg("in_channels"), py::arg("out_channels"),
         py::arg("layout"), py::arg("activation"));
  bind_layer_call(pw);

  py::class_<sepconv::SeparableConv2d> sep(m, "SeparableConv2d");
  sep.def(py::init([](const py::array& dw_weight, const py::array& pw_weight,
                      const py::object& dw_bias, const py::object& pw_bias, int64_t in_channels,
                      Pair kernel, int64_t multiplier, int64_t out_channels, Pair stride,
                      const py::object& padding, Pair dilation, const std::string& layout,
                      const py::object& depthwise_activation, const py::object& activation) {
            return sepconv::SeparableConv2d(
                separable_desc(layout, example_input(in_channels, kernel, dilation), kernel,
                               multiplier, out_channels, stride, padding, dilation,
                               depthwise_activation, activation),
                input_data(dw_weight, "depthwise_weight"),
                input_data(pw_weight, "pointwise_weight"), optional_data(dw_bias, "depthwise_bias"),
                optional_data(pw_bias, "pointwise_bias"));
          }),
          py::arg("depthwise_weight"), py::arg("pointwise_weight"), py::arg("depthwise_bias"),
          py::arg("pointwise_bias"), py::arg("in_channels"), py::arg("kernel"),
          py::arg("multiplier"), py::arg("out_channels"), py::arg("stride"), py::arg("padding"),
          py::arg("dilation"), py::arg("layout"), py::arg("depthwise_activation"),
          py::arg("activation"));
  bind_layer_call(sep);

  py::class_<sepconv::Conv2d> conv2d(m, "Conv2d");
  conv2d.def(py::init([](const py::array& weight, const py::object& bias, int64_t in_channels,
                         Pair kernel, int64_t out_channels, int64_t groups, Pair stride,
                         const py::object& padding, Pair dilation, const std::string& layout,
                         const py::object& activation) {
               return sepconv::Conv2d(
                   conv_desc(layout, example_input(in_channels, kernel, dilation), kernel,
                             out_channels, groups, stride, padding, dilation, activation),
                   input_data(weight, "weight"), optional_data(bias, "bias"));
             }),
             py::arg("weight"), py::arg("bias"), py::arg("in_channels"), py::arg("kernel"),
             py::arg("out_channels"), py::arg("groups"), py::arg("stride"), py::arg("padding"),
             py::arg("dilation"), py::arg("layout"), py::arg("activation"));
  bind_layer_call(conv2d);

  py::class_<sepconv::InvertedResidual> ir(m, "InvertedResidual");
  ir.def(py::init([](const py::object& expand_weight, const py::array& depthwise_weight,
                     const py::array& project_weight, const py::object& expand_bias,
                     const py::object& depthwise_bias, const py::object& project_bias,
                     int64_t in_channels, Pair kernel, int64_t expanded_channels,
                     int64_t out_channels, Pair stride, const py::object& padding, Pair dilation,
                     const std::string& layout, const py::object& activation, bool residual) {
           return sepconv::InvertedResidual(
               inverted_residual_desc(layout, example_input(in_channels, kernel, dilation),
                                      !expand_weight.is_none(), expanded_channels, out_channels,
                                      kernel, stride, padding, dilation, activation, residual),
               optional_data(expand_weight, "expand_weight"),
               optional_data(expand_bias, "expand_bias"),
               input_data(depthwise_weight, "depthwise_weight"),
               optional_data(depthwise_bias, "depthwise_bias"),
               input_data(project_weight, "project_weight"),
               optional_data(project_bias, "project_bias"));
         }),
         py::arg("expand_weight"), py::arg("depthwise_weight"), py::arg("project_weight"),
         py::arg("expand_bias"), py::arg("depthwise_bias"), py::arg("project_bias"),
         py::arg("in_channels"), py::arg("kernel"), py::arg("expanded_channels"),
         py::arg("out_channels"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
         py::arg("layout"), py::arg("activation"), py::arg("residual"));
  bind_layer_call(ir);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "sepconv C++ core (internal: use the functions of the sepconv package)";
  py::register_exception<InvalidArgument>(m, "InvalidArgument", PyExc_ValueError);

  m.def("depthwise_conv2d", &depthwise, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("kernel"), py::arg("multiplier"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("layout"), py::arg("activation"), py::arg("out"));
  m.def("pointwise_conv2d", &pointwise, py::arg("x"), py::arg("weight"), py::arg("bias"),
        py::arg("out_channels"), py::arg("layout"), py::arg("activation"), py::arg("out"));
  m.def("separable_conv2d", &separable, py::arg("x"), py::arg("depthwise_weight"),
        py::arg("pointwise_weight"), py::arg("depthwise_bias"), py::arg("pointwise_bias"),
        py::arg("kernel"), py::arg("multiplier"), py::arg("out_channels"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("layout"),
        py::arg("depthwise_activation"), py::arg("activation"), py::arg("out"));
  m.def("conv2d", &conv, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("kernel"),
        py::arg("out_channels"), py::arg("groups"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("layout"), py::arg("activation"), py::arg("out"));
  m.def("inverted_residual", &inverted_residual, py::arg("x"), py::arg("expand_weight"),
        py::arg("depthwise_weight"), py::arg("project_weight"), py::arg("expand_bias"),
        py::arg("depthwise_bias"), py::arg("project_bias"), py::arg("kernel"),
        py::arg("expanded_channels"), py::arg("out_channels"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("layout"), py::arg("activation"),
        py::arg("residual"), py::arg("out"));
  bind_layers(m);
  m.def("conv_geometry", &geometry, py::arg("in_hw"), py::arg("kernel"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"),
        "(out_h, out_w, (top, bottom, left, right)) of a window over an in_h x in_w image.");

  m.def("set_num_threads", &sepconv::set_num_threads, py::arg("n"));
  m.def("get_num_threads", &sepconv::get_num_threads);
  m.def("openmp_enabled", &sepconv::openmp_enabled);
  m.def("set_isa", [](const std::string& name) { sepconv::set_isa(sepconv::parse_isa(name)); },
        py::arg("name"), "Force an ISA path (test hook); ValueError if this CPU cannot run it.");
  m.def("get_isa", [] { return std::string(sepconv::isa_name(sepconv::active_isa())); });
  m.def("available_isas", &available_isas);
  m.def("run_fma_probe", &sepconv::run_fma_probe, py::arg("iterations"),
        py::call_guard<py::gil_scoped_release>(),
        "Peak-FMA probe on the active ISA and get_num_threads() threads; returns the FLOPs done.");
  m.def("isa_auto_selected",
        [](const std::string& name) { return sepconv::isa_auto_selected(sepconv::parse_isa(name)); },
        py::arg("name"));
  m.def(
      "set_fusion",
      [](const std::string& name) {
        for (auto f : {sepconv::Fusion::Auto, sepconv::Fusion::Always, sepconv::Fusion::Never}) {
          if (name == fusion_name(f)) return sepconv::set_separable_fusion(f);
        }
        throw InvalidArgument("fusion must be 'auto', 'always' or 'never', got '" + name + "'");
      },
      py::arg("name"), "When separable_conv2d fuses its two stages (a tuning and test knob).");
  m.def("get_fusion", [] { return fusion_name(sepconv::separable_fusion()); });
  m.attr("__version__") = sepconv::version();
  m.attr("compiler") = sepconv::compiler();
  // Resolve SEPCONV_ISA now, so a bad value fails the import with its message.
  sepconv::active_isa();
}
