"""Analytic cost model of the four sepconv ops: multiplications, FLOPs and minimum memory traffic.

Each function takes the same arguments as the op of the same name in ``sepconv`` but *shapes*
instead of arrays (biases become bools), and returns a :class:`Cost`. The output size comes from
the C++ core (``_args.geometry``), so the model and the ops can never disagree about shapes, and
invalid shapes raise the ValueErrors the ops raise.

Counting conventions (see docs/cost-model.md):

* ``multiplications``: every output element times its taps, taps that fall in the zero padding
  included (the formula's convention; the kernels skip most such taps, so on small images with
  large kernels they execute fewer multiply-adds than counted).
* ``flops``: 2 per multiply-add, + 1 per output element for a bias, + ``ACTIVATION_FLOPS[name]``
  per output element for a fused activation. For separable_conv2d the depthwise bias and
  activation are counted on the (never materialised) intermediate.
* ``min_bytes``: 4 bytes x every element of x, of the weights, of the biases and of the output,
  each moved once. For separable_conv2d this is the *fused* op: the intermediate depthwise
  result is not counted (``depthwise_conv2d(...) + pointwise_conv2d(...)`` counts it twice,
  written then read back, which is the unfused cost).

Batch size multiplies everything except the weight and bias bytes; an unbatched 3-D x counts as
batch 1.

Example:
  >>> from sepconv import cost
  >>> c = cost.separable_conv2d((1, 144, 56, 56), (144, 1, 3, 3), (24, 144), padding="same")
  >>> c.multiplications, c.output_shape
  (14902272, (1, 24, 56, 56))
  >>> round(cost.separable_ratio(3, 24), 4)
  0.1528

Run ``python -m sepconv.cost --plot cost.png [--quick]`` to time conv2d against separable_conv2d
on a few shapes and plot the measured speed-up next to the theoretical one.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _args

__all__ = [
    "Cost", "ACTIVATION_FLOPS", "depthwise_conv2d", "pointwise_conv2d", "separable_conv2d",
    "conv2d", "inverted_residual", "separable_ratio", "measure_ratio", "plot_ratio",
]

Pair = Union[int, tuple]
Shape = Sequence[int]

# FLOPs per element of each fused activation: the arithmetic of the kernels' scalar expression
# (csrc/kernels/isa-common.h), a compare/select counting as one and exp() as one.
#   relu       max(v, 0)                         1
#   relu6      min(max(v, 0), 6)                 2
#   hardswish  v * min(max(v + 3, 0), 6) / 6     5  (add, max, min, mul, mul by 1/6)
#   silu       v / (1 + exp(-v))                 4  (neg, exp, add, div)
ACTIVATION_FLOPS: Dict[Optional[str], int] = {
    None: 0, "relu": 1, "relu6": 2, "hardswish": 5, "silu": 4,
}

BYTES_PER_ELEMENT = 4  # float32


@dataclasses.dataclass(frozen=True)
class Cost:
    """The cost of one op call (or, summed with ``+``, of a sequence of calls).

    Fields:
      multiplications  int: output elements x taps (padded taps included)
      flops            int: 2 x multiplications + bias adds + activation FLOPs
      min_bytes        int: 4 x (elements of x, weights, biases and output), each once
      output_shape     tuple: the shape the op returns (layout order; 3-D for a 3-D x)

    ``a + b`` adds the counts and keeps ``b.output_shape`` (a then b); ``sum(costs)`` works.

    Example:
      >>> from sepconv import cost
      >>> dw = cost.depthwise_conv2d((1, 144, 56, 56), (144, 1, 3, 3), padding=1)
      >>> pw = cost.pointwise_conv2d(dw.output_shape, (24, 144))
      >>> (dw + pw).multiplications, (dw + pw).output_shape
      (14902272, (1, 24, 56, 56))
    """

    multiplications: int
    flops: int
    min_bytes: int
    output_shape: Tuple[int, ...]

    def __add__(self, other: "Cost") -> "Cost":
        if not isinstance(other, Cost):
            return NotImplemented
        return Cost(self.multiplications + other.multiplications, self.flops + other.flops,
                    self.min_bytes + other.min_bytes, other.output_shape)

    def __radd__(self, other: Any) -> "Cost":
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self  # sum() starts from 0
        return NotImplemented


# ------------------------------------------------------------------------------------------
# shape checks: the ops' own (_args), on shapes instead of arrays, so the same messages
# ------------------------------------------------------------------------------------------
def _shape(value: Any, name: str) -> Tuple[int, ...]:
    if isinstance(value, (tuple, list)) and all(_args.is_int(v) for v in value):
        if any(v < 0 for v in value):
            raise ValueError(f"{name} must not have negative sizes, got {tuple(value)}")
        return tuple(int(v) for v in value)
    raise TypeError(f"{name} must be a shape (a tuple of ints), got {value!r}")


def _x_dims(x_shape: Any, layout: str):
    """(n, c, (h, w), x4 shape, unbatched), with the ops' ValueErrors for a bad x."""
    x4, unbatched = _args.activation_shape(_shape(x_shape, "x_shape"), layout)
    return x4[0], _args.channels(x4, layout), _args.spatial(x4, layout), x4, unbatched


def _bias(flag: Any, name: str) -> bool:
    if isinstance(flag, (bool, np.bool_)):
        return bool(flag)
    raise TypeError(f"{name} must be a bool (does the op add a bias?), got {flag!r}")


def _out_shape(n: int, c: int, oh: int, ow: int, layout: str, unbatched: bool) -> tuple:
    s = (n, c, oh, ow) if layout == "NCHW" else (n, oh, ow, c)
    return s[1:] if unbatched else s


def _numel(shape: Iterable[int]) -> int:
    return math.prod(shape)


# ------------------------------------------------------------------------------------------
# the four ops
# ------------------------------------------------------------------------------------------
def depthwise_conv2d(x_shape: Shape, weight_shape: Shape, bias: bool = False, *,
                     stride: Pair = 1, padding: Any = 0, dilation: Pair = 1,
                     layout: str = "NCHW", activation: Optional[str] = None) -> Cost:
    """Cost of ``sepconv.depthwise_conv2d`` with arrays of these shapes.

    Shapes (NCHW; NHWC puts C last):
      x_shape       (N, C, H, W) or unbatched (C, H, W)
      weight_shape  (C*m, 1, KH, KW)    m = depth multiplier
      bias          bool: whether a (C*m,) bias is added
    multiplications = N * C*m * OH*OW * KH*KW

    Example:
      >>> from sepconv import cost
      >>> c = cost.depthwise_conv2d((1, 32, 112, 112), (32, 1, 3, 3), padding=1)
      >>> c.multiplications == 32 * 112 * 112 * 9, c.output_shape
      (True, (1, 32, 112, 112))
    """
    layout = _args.layout_of(layout)
    n, c, hw, x4, unbatched = _x_dims(x_shape, layout)
    w = _shape(weight_shape, "weight_shape")
    _args.depthwise_multiplier(w, c, _args.x_source(x4, layout), "weight")
    bias = _bias(bias, "bias")
    activation = _args.activation_name(activation, "activation")
    oh, ow, _ = _args.geometry(hw, w[2:], stride, padding, dilation)
    outputs = n * w[0] * oh * ow
    mults = outputs * w[2] * w[3]
    flops = 2 * mults + (outputs if bias else 0) + ACTIVATION_FLOPS[activation] * outputs
    elements = _numel(x4) + _numel(w) + (w[0] if bias else 0) + outputs
    return Cost(mults, flops, BYTES_PER_ELEMENT * elements,
                _out_shape(n, w[0], oh, ow, layout, unbatched))


def pointwise_conv2d(x_shape: Shape, weight_shape: Shape, bias: bool = False, *,
                     layout: str = "NCHW", activation: Optional[str] = None) -> Cost:
    """Cost of ``sepconv.pointwise_conv2d`` with arrays of these shapes.

    Shapes (NCHW; NHWC puts C last):
      x_shape       (N, Cin, H, W) or unbatched (Cin, H, W)
      weight_shape  (Cout, Cin, 1, 1) or (Cout, Cin)
      bias          bool: whether a (Cout,) bias is added
    multiplications = N * Cout * Cin * H*W

    Example:
      >>> from sepconv import cost
      >>> cost.pointwise_conv2d((1, 56, 56, 144), (24, 144), layout="NHWC").multiplications
      10838016
    """
    layout = _args.layout_of(layout)
    n, c, hw, x4, unbatched = _x_dims(x_shape, layout)
    cout, cin = _args.pointwise_on_x(_shape(weight_shape, "weight_shape"), c,
                                      _args.x_source(x4, layout))
    bias = _bias(bias, "bias")
    activation = _args.activation_name(activation, "activation")
    oh, ow, _ = _args.geometry(hw, 1)
    outputs = n * cout * oh * ow
    mults = outputs * cin
    flops = 2 * mults + (outputs if bias else 0) + ACTIVATION_FLOPS[activation] * outputs
    elements = _numel(x4) + cout * cin + (cout if bias else 0) + outputs
    return Cost(mults, flops, BYTES_PER_ELEMENT * elements,
                _out_shape(n, cout, oh, ow, layout, unbatched))


def separable_conv2d(x_shape: Shape, depthwise_weight_shape: Shape, pointwise_weight_shape: Shape,
                     depthwise_bias: bool = False, pointwise_bias: bool = False, *,
                     stride: Pair = 1, padding: Any = 0, dilation: Pair = 1,
                     layout: str = "NCHW", depthwise_activation: Optional[str] = None,
                     activation: Optional[str] = None) -> Cost:
    """Cost of the fused ``sepconv.separable_conv2d`` with arrays of these shapes.

    Shapes (NCHW; NHWC puts C last):
      x_shape                 (N, C, H, W) or unbatched (C, H, W)
      depthwise_weight_shape  (C*m, 1, KH, KW)
      pointwise_weight_shape  (Cout, C*m, 1, 1) or (Cout, C*m)
      depthwise_bias, pointwise_bias: bools
    multiplications = N * C*m * OH*OW * (KH*KW + Cout)

    ``min_bytes`` is for the fused op: the (N, C*m, OH, OW) intermediate never goes to memory
    and is not counted. The depthwise bias and activation FLOPs are counted per intermediate
    element.

    Example:
      >>> from sepconv import cost
      >>> c = cost.separable_conv2d((1, 144, 56, 56), (144, 1, 3, 3), (24, 144), padding="same")
      >>> c.multiplications, c.min_bytes
      (14902272, 2126400)
    """
    layout = _args.layout_of(layout)
    n, c, hw, x4, unbatched = _x_dims(x_shape, layout)
    dw = _shape(depthwise_weight_shape, "depthwise_weight_shape")
    _args.depthwise_multiplier(dw, c, _args.x_source(x4, layout), "depthwise_weight")
    cout, cmid = _args.pointwise_on_depthwise(
        _shape(pointwise_weight_shape, "pointwise_weight_shape"), dw)
    dbias = _bias(depthwise_bias, "depthwise_bias")
    pbias = _bias(pointwise_bias, "pointwise_bias")
    dact = _args.activation_name(depthwise_activation, "depthwise_activation")
    act = _args.activation_name(activation, "activation")
    oh, ow, _ = _args.geometry(hw, dw[2:], stride, padding, dilation)
    mid = n * cmid * oh * ow
    outputs = n * cout * oh * ow
    mults = mid * dw[2] * dw[3] + outputs * cmid
    flops = (2 * mults + (mid if dbias else 0) + ACTIVATION_FLOPS[dact] * mid
             + (outputs if pbias else 0) + ACTIVATION_FLOPS[act] * outputs)
    elements = (_numel(x4) + _numel(dw) + cout * cmid + (cmid if dbias else 0)
                + (cout if pbias else 0) + outputs)
    return Cost(mults, flops, BYTES_PER_ELEMENT * elements,
                _out_shape(n, cout, oh, ow, layout, unbatched))


def inverted_residual(x_shape: Shape, expand_weight_shape: Optional[Shape],
                      depthwise_weight_shape: Shape, project_weight_shape: Shape,
                      expand_bias: bool = False, depthwise_bias: bool = False,
                      project_bias: bool = False, *, stride: Pair = 1, padding: Any = None,
                      dilation: Pair = 1, activation: Optional[str] = "relu6",
                      residual: Optional[bool] = None, layout: str = "NCHW") -> Cost:
    """Cost of the fused ``sepconv.inverted_residual`` with arrays of these shapes.

    Shapes (NCHW; NHWC puts C last):
      x_shape                (N, C, H, W) or unbatched (C, H, W)
      expand_weight_shape    (Ce, C[, 1, 1]) or None (no expansion, Ce = C)
      depthwise_weight_shape (Ce, 1, KH, KW);  project_weight_shape (Cout, Ce[, 1, 1])
    multiplications = N * (H*W * C*Ce + OH*OW * Ce * (KH*KW + Cout))

    The sum of the three stages' costs, minus the intermediates' traffic (fused, they never go
    to memory), plus one add per output element with the residual. ``padding`` and ``residual``
    default as in the op.

    Example:
      >>> from sepconv import cost
      >>> c = cost.inverted_residual((1, 24, 56, 56), (144, 24), (144, 1, 3, 3), (24, 144))
      >>> c.multiplications, c.output_shape
      (25740288, (1, 24, 56, 56))
    """
    layout = _args.layout_of(layout)
    n, c, hw, x4, unbatched = _x_dims(x_shape, layout)
    ew = None if expand_weight_shape is None else _shape(expand_weight_shape, "expand_weight_shape")
    dw = _shape(depthwise_weight_shape, "depthwise_weight_shape")
    pw = _shape(project_weight_shape, "project_weight_shape")
    ce, cout = _args.inverted_residual_channels(ew, dw, pw, c, _args.x_source(x4, layout))
    stride, dilation = _args.pair("stride", stride), _args.pair("dilation", dilation)
    if padding is None:
        padding = _args.centred_padding(tuple(dw[2:]), dilation)
    stages = []
    if ew is not None:
        stages.append(pointwise_conv2d(x4, (ce, c), expand_bias, layout=layout,
                                       activation=activation))
    stages.append(depthwise_conv2d(stages[-1].output_shape if stages else x4, dw, depthwise_bias,
                                   stride=stride, padding=padding, dilation=dilation,
                                   layout=layout, activation=activation))
    stages.append(pointwise_conv2d(stages[-1].output_shape, (cout, ce), project_bias,
                                   layout=layout))
    total = sum(stages)
    intermediates = sum(_numel(s.output_shape) for s in stages[:-1])
    outputs = _numel(total.output_shape)
    add = outputs if _args.residual_flag(residual, stride, c, cout) else 0
    oh, ow = (total.output_shape[2:] if layout == "NCHW" else total.output_shape[1:3])
    return Cost(total.multiplications, total.flops + add,
                total.min_bytes - 2 * BYTES_PER_ELEMENT * intermediates,
                _out_shape(n, cout, oh, ow, layout, unbatched))


def conv2d(x_shape: Shape, weight_shape: Shape, bias: bool = False, *, stride: Pair = 1,
           padding: Any = 0, dilation: Pair = 1, groups: int = 1, layout: str = "NCHW",
           activation: Optional[str] = None) -> Cost:
    """Cost of ``sepconv.conv2d`` (dense or grouped) with arrays of these shapes.

    Shapes (NCHW; NHWC puts C last):
      x_shape       (N, Cin, H, W) or unbatched (Cin, H, W)
      weight_shape  (Cout, Cin/groups, KH, KW)
      bias          bool: whether a (Cout,) bias is added
    multiplications = N * Cout * OH*OW * KH*KW * Cin/groups

    Example:
      >>> from sepconv import cost
      >>> c = cost.conv2d((1, 144, 56, 56), (24, 144, 3, 3), padding="same")
      >>> c.multiplications, c.output_shape
      (97542144, (1, 24, 56, 56))
    """
    layout = _args.layout_of(layout)
    n, c, hw, x4, unbatched = _x_dims(x_shape, layout)
    groups = _args.groups_of(groups, c, _args.x_source(x4, layout))
    w = _shape(weight_shape, "weight_shape")
    _args.conv_weight_check(w, c, groups, _args.x_source(x4, layout))
    bias = _bias(bias, "bias")
    activation = _args.activation_name(activation, "activation")
    oh, ow, _ = _args.geometry(hw, w[2:], stride, padding, dilation)
    outputs = n * w[0] * oh * ow
    mults = outputs * w[2] * w[3] * w[1]
    flops = 2 * mults + (outputs if bias else 0) + ACTIVATION_FLOPS[activation] * outputs
    elements = _numel(x4) + _numel(w) + (w[0] if bias else 0) + outputs
    return Cost(mults, flops, BYTES_PER_ELEMENT * elements,
                _out_shape(n, w[0], oh, ow, layout, unbatched))


def separable_ratio(kernel_size: Pair, out_channels: int) -> float:
    """Multiplications of a separable conv over those of the standard conv it replaces.

    ``1/N + 1/(KH*KW)`` for N = out_channels and a KH x KW kernel (an int K means K x K), for
    depth multiplier 1 and the same stride/padding/dilation in both; the input channel count
    cancels. The speed-up bound is the inverse.

    Example:
      >>> from sepconv import cost
      >>> round(cost.separable_ratio(3, 24), 6), round(1 / cost.separable_ratio((3, 3), 24), 3)
      (0.152778, 6.545)
    """
    kh, kw = _args.pair("kernel_size", kernel_size)
    if kh < 1 or kw < 1:
        raise ValueError(f"kernel_size must be positive, got {kernel_size!r}")
    if not _args.is_int(out_channels) or out_channels < 1:
        raise ValueError(f"out_channels must be a positive int, got {out_channels!r}")
    return 1.0 / int(out_channels) + 1.0 / (kh * kw)


# ------------------------------------------------------------------------------------------
# measurement and plot
# ------------------------------------------------------------------------------------------
def _case(case: Dict[str, Any]) -> Dict[str, int]:
    k = int(case["K"])
    m = int(case.get("M", case.get("N")))
    n_out = int(case["N"])
    h = int(case.get("H", 56))
    w = int(case.get("W", h))
    return {"K": k, "M": m, "N": n_out, "H": h, "W": w, "batch": int(case.get("batch", 1))}


def measure_ratio(cases: Iterable[Dict[str, Any]], repeats: int = 5, layout: str = "NCHW",
                  num_threads: Optional[int] = None) -> List[Dict[str, Any]]:
    """Time sepconv's conv2d against separable_conv2d on the same shapes.

    Each case is a dict with K (kernel size), N (out channels) and optionally M (in channels,
    default N), H (default 56), W (default H), batch (default 1). Both ops run with stride 1,
    padding "same", depth multiplier 1, no bias, on random float32 data into preallocated
    outputs; after one warm-up call each, the two ops alternate ``repeats`` times and the
    medians of time.perf_counter differences are reported. ``num_threads`` (default: the
    current setting) is set with sepconv.set_num_threads for the measurement and restored after.

    Returns one dict per case: the case's keys plus standard_us and separable_us (medians in
    microseconds), ratio (theoretical separable/standard multiplications) and num_threads.

    Example:
      >>> from sepconv import cost
      >>> r = cost.measure_ratio([{"K": 3, "N": 16, "H": 8}], repeats=3)
      >>> sorted(r[0])
      ['H', 'K', 'M', 'N', 'W', 'batch', 'num_threads', 'ratio', 'separable_us', 'standard_us']
    """
    from . import _core

    if not _args.is_int(repeats) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    if num_threads is not None and (not _args.is_int(num_threads) or num_threads < 1):
        raise ValueError(f"num_threads must be None or a positive int, got {num_threads!r}")
    layout = _args.layout_of(layout)
    cases = [_case(c) for c in cases]
    previous = _core.get_num_threads()
    if num_threads is not None:
        _core.set_num_threads(int(num_threads))
    try:
        return _measure(cases, int(repeats), layout)
    finally:
        _core.set_num_threads(previous)


def _measure(cases: List[Dict[str, int]], repeats: int, layout: str) -> List[Dict[str, Any]]:
    from . import _core, _ops

    threads = _core.get_num_threads()
    rng = np.random.default_rng(0)
    results = []
    for c in cases:
        k, m, n_out = c["K"], c["M"], c["N"]
        xs = ((c["batch"], m, c["H"], c["W"]) if layout == "NCHW"
              else (c["batch"], c["H"], c["W"], m))
        x = rng.standard_normal(xs, dtype=np.float32)
        w = rng.standard_normal((n_out, m, k, k), dtype=np.float32)
        dw = rng.standard_normal((m, 1, k, k), dtype=np.float32)
        pw = rng.standard_normal((n_out, m), dtype=np.float32)
        shape = conv2d(xs, w.shape, padding="same", layout=layout).output_shape
        y1 = np.empty(shape, np.float32)
        y2 = np.empty(shape, np.float32)

        def standard():
            _ops.conv2d(x, w, padding="same", layout=layout, out=y1)

        def separable():
            _ops.separable_conv2d(x, dw, pw, padding="same", layout=layout, out=y2)

        standard()
        separable()
        t_std, t_sep = [], []
        for _ in range(repeats):
            for fn, times in ((standard, t_std), (separable, t_sep)):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        results.append(dict(c, standard_us=1e6 * statistics.median(t_std),
                            separable_us=1e6 * statistics.median(t_sep),
                            ratio=separable_ratio(k, n_out), num_threads=threads))
    return results


def plot_ratio(path: str, kernel_sizes: Iterable[int] = range(1, 12),
               out_channels: Sequence[int] = (16, 64, 256, 1024),
               measured: Optional[List[Dict[str, Any]]] = None) -> str:
    """Plot the theoretical separable/standard ratio (and measured speed-ups) to ``path``.

    Left panel: ``separable_ratio(K, N)`` against K for each N (log y). Right panel, only if
    ``measured`` is given (dicts with K, N, standard_us, separable_us, as measure_ratio
    returns): the measured speed-up standard_us / separable_us against K, with the theoretical
    speed-up 1 / ratio as lines of the same colour. Needs matplotlib. Returns ``path``.

    Example:
      >>> from sepconv import cost
      >>> cost.plot_ratio("ratio.png")  # doctest: +SKIP
      'ratio.png'
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    ks = [int(k) for k in kernel_sizes]
    ns = [int(n) for n in out_channels]
    ncols = 2 if measured else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.0 * ncols, 4.5), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    ax = axes[0][0]
    for i, n in enumerate(ns):
        ax.plot(ks, [separable_ratio(k, n) for k in ks], marker="o", ms=3,
                color=colors[i % len(colors)], label=f"N = {n}")
    ax.plot(ks, [1.0 / (k * k) for k in ks], "k--", lw=0.8, label="1/K² (N → ∞)")
    ax.set_yscale("log")
    ax.set_xlabel("kernel size K (K x K)")
    ax.set_ylabel("separable / standard multiplications")
    ax.set_title("Theoretical cost ratio 1/N + 1/K²")
    ax.set_xticks(ks)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)

    if measured:
        ax = axes[0][1]
        mks = sorted({int(r["K"]) for r in measured})
        k_line = [k / 10 for k in range(10 * min(mks), 10 * max(mks) + 1)] if mks else []
        by_n: Dict[int, List[Dict[str, Any]]] = {}
        for r in measured:
            by_n.setdefault(int(r["N"]), []).append(r)
        for i, (n, rows) in enumerate(sorted(by_n.items())):
            color = colors[i % len(colors)]
            rows = sorted(rows, key=lambda r: int(r["K"]))
            ax.plot([int(r["K"]) for r in rows],
                    [r["standard_us"] / r["separable_us"] for r in rows], marker="o",
                    ls="-", color=color, label=f"measured, N = {n}")
            ax.plot(k_line, [1.0 / (1.0 / n + 1.0 / (k * k)) for k in k_line], ls="--",
                    color=color, lw=1, label=f"theory 1/ratio, N = {n}")
        ax.set_yscale("log")
        plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
        ax.tick_params(axis="y", which="minor", labelsize=7)
        ax.set_xlabel("kernel size K (K x K)")
        ax.set_ylabel("speed-up: standard time / separable time")
        ax.set_title("Measured speed-up of separable_conv2d over conv2d")
        ax.set_xticks(mks)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)

    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


DEFAULT_CASES = [{"K": k, "M": c, "N": c, "H": 56} for c in (64, 128, 256) for k in (3, 5, 7)]
QUICK_CASES = [{"K": k, "M": c, "N": c, "H": 28} for c in (32, 64) for k in (3, 5, 7)]


def _build_info() -> str:
    from . import _core

    return f"sepconv {_core.__version__}, isa {_core.get_isa()}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI: ``python -m sepconv.cost --plot cost.png [--quick] [--repeats R] [--threads T]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m sepconv.cost",
        description="Time conv2d vs separable_conv2d and plot measured vs theoretical ratio.")
    parser.add_argument("--plot", required=True, metavar="PATH", help="PNG file to write")
    parser.add_argument("--quick", action="store_true", help="smaller shapes (28x28, 32-64 ch)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed calls per op and shape (default 3, quick 5)")
    parser.add_argument("--threads", type=int, default=1,
                        help="sepconv threads while timing (default 1: the arithmetic, "
                             "without threading effects)")
    args = parser.parse_args(argv)
    cases = QUICK_CASES if args.quick else DEFAULT_CASES
    repeats = args.repeats or (5 if args.quick else 3)
    rows = measure_ratio(cases, repeats=repeats, num_threads=args.threads)
    print(f"{_build_info()}, {args.threads} thread(s), median of {repeats}")
    print(f"{'H':>4} {'M':>5} {'N':>5} {'K':>3} {'standard us':>12} {'separable us':>13} "
          f"{'speed-up':>9} {'theory':>7}")
    for r in rows:
        print(f"{r['H']:>4} {r['M']:>5} {r['N']:>5} {r['K']:>3} {r['standard_us']:>12.1f} "
              f"{r['separable_us']:>13.1f} {r['standard_us'] / r['separable_us']:>9.2f} "
              f"{1 / r['ratio']:>7.2f}")
    plot_ratio(args.plot, measured=rows)
    print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
