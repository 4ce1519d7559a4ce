"""Benchmark sepconv against its peers on layers taken from real networks.

Run ``python -m sepconv.bench --help``. The short version::

    python -m sepconv.bench --quick                       # ~1 minute, batch 1, a few cases
    python -m sepconv.bench --json bench/results/run.json # everything: batch 1 and 8, threads 1 and all
    python -m sepconv.bench --filter dw3x3 --threads 1 --layout NHWC --markdown table.md

What it does, for every case x batch x layout x threads:

* builds the inputs once (float32 standard normal, weights scaled by 1/sqrt(fan-in), no bias;
  the separable cases apply relu6 after the depthwise stage, as MobileNetV2 does, the inverted
  residual blocks after the expand and depthwise stages);
* "ours" is sepconv as inference code calls it: a prepacked layer (``sepconv.DepthwiseConv2d``,
  ...) built once before timing, called with a fresh output each time;
* runs sepconv and every available peer once and checks each peer's output against sepconv's
  (relative error ||peer - ours|| / ||peer|| < 1e-4). A peer that disagrees is reported loudly and
  is not timed, and the process exits with status 1 at the end;
* times them alternately (ours, torch, ort, numpy, ref, ours, ...) so that the machine's noise hits
  every side alike. Each sample is a block of back-to-back calls lasting about a millisecond or more
  (amortising timer overhead and the wake-up of another library's thread pool); sampling goes on
  until every implementation has spent ``--min-time`` seconds and has at least 5 samples;
* reports the median (and min) µs per call, GFLOP/s, effective GB/s (minimum bytes moved / time),
  % of machine peak and ratio = peer time / our time (> 1: sepconv is faster);
* times the peak-FMA probe (``sepconv._core.run_fma_probe``: independent FMA chains on the active
  ISA and the row's threads) in turns with sepconv and reports % of what it reached (``%probe``):
  the share of peak under the load the machine had during that row. On a shared machine another
  tenant of the same cores can take a third or more of the FMA throughput for minutes, which moves
  ``%peak`` (against ``bench/machine.json``, measured once) by as much; ``--no-probe`` skips it.

Peers, each optional and skipped with a note when it cannot be imported:

* ``torch``: ``torch.nn.functional.conv2d`` (groups = C for depthwise) under ``inference_mode``,
  NCHW tensors for NCHW rows and ``channels_last`` tensors for NHWC rows, with
  ``torch.set_num_threads`` equal to ours;
* ``ort``: ONNX Runtime on a one-node Conv model (dw Conv -> Clip -> pw Conv for separable) built
  with ``onnx.helper``, all graph optimisations on, ``intra_op_num_threads`` equal to ours. ORT's
  Conv is NCHW only: on NHWC rows it runs on the NCHW copy of the same input (marked ``ort*``);
* ``numpy``: the pointwise product as one matmul (``x.reshape(-1, Cin) @ w.T`` in NHWC,
  ``w @ x.reshape(N, Cin, H*W)`` in NCHW); its BLAS thread count is only controlled when
  ``threadpoolctl`` is installed;
* ``unfused``: sepconv's own prepacked layers run one after another (separable: depthwise then
  pointwise; inverted residual: pointwise, depthwise, pointwise, then ``x`` added), the
  intermediate tensors in buffers allocated once, as an inference engine plans them: what fusion
  saves. (Allocated per call, fresh pages of a multi-MB intermediate cost page faults that swamp
  the kernels on some machines: 1.5 ms instead of 0.2 for 144 x 56 x 56.)
* ``func``: sepconv's plain function (``sepconv.depthwise_conv2d``, ...), which checks its
  arguments and packs the weights on every call: what prepacking saves;
* ``ref``: the float64 oracle ``sepconv.reference``, on small cases only (``--ref-max-mflop``).

Floating-point work and minimum traffic come from ``sepconv.cost`` when that module exists,
otherwise from a private count (2 FLOP per multiply-add; read input and weights, write output once).
The machine peak comes from ``--peak-gflops`` or ``bench/machine.json`` (keys ``peak_gflops_1t``,
``peak_gflops_all``, ``dram_gbps``, ``l2_gbps``); without either the %peak column is left out.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import inspect
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

import sepconv
from sepconv import reference

OPS = ("depthwise", "pointwise", "separable", "conv2d", "inverted_residual")
LAYOUTS = ("NCHW", "NHWC")
PEERS = ("torch", "ort", "numpy", "unfused", "func", "ref")
# How long OpenBLAS / ONNX Runtime workers spin after a call before they sleep (with margin).
BLAS_IDLE_SECONDS = 0.3
REL_TOL = 1e-4
MIN_REPS = 5
# Rounds of the peak-FMA probe per call: 12 chains x 8192 = ~100 K FMAs per thread, ~25 us on a
# 4 GHz core with two FMA pipes; the timing blocks repeat the call for about block_time.
PROBE_ITERATIONS = 8192
MACHINE_JSON = os.path.join("bench", "machine.json")


# ----------------------------------------------------------------------------------------------
# cases
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One layer: ``op`` on a C x H x W input (kernel k, stride, padding k // 2)."""

    name: str
    op: str  # one of OPS
    c: int  # input channels
    h: int
    w: int
    k: int = 1
    stride: int = 1
    cout: Optional[int] = None  # pointwise / separable / conv2d / inverted_residual outputs
    expand: Optional[int] = None  # inverted_residual: expanded channels (None: no expansion)
    dw_act: Optional[str] = None  # separable: activation after the depthwise stage
    source: str = ""
    quick: bool = False  # part of the --quick subset

    @property
    def pad(self) -> int:
        """Symmetric padding k // 2, as the networks use."""
        return self.k // 2

    @property
    def out_hw(self) -> Tuple[int, int]:
        """Output (OH, OW)."""
        oh = (self.h + 2 * self.pad - self.k) // self.stride + 1
        ow = (self.w + 2 * self.pad - self.k) // self.stride + 1
        return oh, ow

    @property
    def taps_inside(self) -> float:
        """Fraction of the spatial stage's counted taps that lie inside the image (not padding)."""
        def per_dim(size: int, out: int) -> float:
            inside = sum(1 for o in range(out) for t in range(self.k)
                         if 0 <= o * self.stride - self.pad + t < size)
            return inside / (out * self.k)
        oh, ow = self.out_hw
        return per_dim(self.h, oh) * per_dim(self.w, ow)

    @property
    def hidden(self) -> int:
        """inverted_residual: the depthwise stage's channels."""
        return self.expand or self.c

    @property
    def residual(self) -> bool:
        """inverted_residual: x is added (stride 1, Cout == C; torchvision's rule)."""
        return self.op == "inverted_residual" and self.stride == 1 and self.cout == self.c

    @property
    def out_channels(self) -> int:
        """Output channels (C for depthwise, cout otherwise)."""
        return self.c if self.op == "depthwise" else int(self.cout)


def _dw(c, hw, k=3, s=1, source="MobileNetV2", quick=False):
    return Case(f"dw{k}x{k}s{s}_c{c}_{hw}", "depthwise", c, hw, hw, k, s, source=source,
                quick=quick)


CASES: Tuple[Case, ...] = (
    _dw(32, 112, quick=True),
    _dw(96, 112, s=2, quick=True),
    _dw(144, 56),
    _dw(384, 14, quick=True),
    _dw(960, 7),
    _dw(512, 14, source="MobileNetV1"),
    _dw(1024, 7, source="MobileNetV1"),
    _dw(240, 28, k=5, source="EfficientNet", quick=True),
    _dw(96, 56, k=7, source="ConvNeXt", quick=True),
    _dw(128, 32, k=31, source="RepLKNet"),
    Case("pw_32to16_112", "pointwise", 32, 112, 112, cout=16, source="MobileNetV2"),
    Case("pw_96to24_56", "pointwise", 96, 56, 56, cout=24, source="MobileNetV2"),
    Case("pw_144to24_56", "pointwise", 144, 56, 56, cout=24, source="MobileNetV2", quick=True),
    Case("pw_384to64_14", "pointwise", 384, 14, 14, cout=64, source="MobileNetV2"),
    Case("pw_960to320_7", "pointwise", 960, 7, 7, cout=320, source="MobileNetV2", quick=True),
    Case("sep3x3_144to24_56", "separable", 144, 56, 56, 3, cout=24, dw_act="relu6",
         source="MobileNetV2", quick=True),
    Case("sep3x3_384to64_14", "separable", 384, 14, 14, 3, cout=64, dw_act="relu6",
         source="MobileNetV2"),
    Case("sep3x3_960to320_7", "separable", 960, 7, 7, 3, cout=320, dw_act="relu6",
         source="MobileNetV2", quick=True),
    Case("ir_24x6_56", "inverted_residual", 24, 56, 56, 3, cout=24, expand=144,
         source="MobileNetV2", quick=True),
    Case("ir_16x6_112s2", "inverted_residual", 16, 112, 112, 3, 2, cout=24, expand=96,
         source="MobileNetV2"),
    Case("ir_64x6_14", "inverted_residual", 64, 14, 14, 3, cout=64, expand=384,
         source="MobileNetV2"),
    Case("ir_160x6_7", "inverted_residual", 160, 7, 7, 3, cout=160, expand=960,
         source="MobileNetV2"),
    Case("ir_32x1_112", "inverted_residual", 32, 112, 112, 3, cout=16, source="MobileNetV2 (t=1)"),
    Case("tiny_dw3x3_c8_4", "depthwise", 8, 4, 4, 3, source="per-call overhead"),
    Case("conv3x3_64to64_56", "conv2d", 64, 56, 56, 3, cout=64, source="ResNet"),
    Case("conv3x3_144to24_56", "conv2d", 144, 56, 56, 3, cout=24, source="dense vs separable",
         quick=True),
    Case("conv3x3_384to64_14", "conv2d", 384, 14, 14, 3, cout=64, source="dense vs separable"),
)
CASES_BY_NAME: Dict[str, Case] = {c.name: c for c in CASES}


def select_cases(cases: Sequence[Case], ops: Sequence[str], filters: Sequence[str],
                 quick: bool) -> List[Case]:
    """The cases whose op is in ``ops`` and whose name contains one of ``filters`` (any if empty).

    With ``quick`` and no filter only the quick subset is kept; an explicit filter overrides it.
    """
    out = []
    for case in cases:
        if case.op not in ops:
            continue
        if filters:
            if not any(f.lower() in case.name.lower() for f in filters):
                continue
        elif quick and not case.quick:
            continue
        out.append(case)
    return out


# ----------------------------------------------------------------------------------------------
# work and traffic
# ----------------------------------------------------------------------------------------------
def _shape(n: int, c: int, h: int, w: int, layout: str) -> Tuple[int, int, int, int]:
    return (n, c, h, w) if layout == "NCHW" else (n, h, w, c)


def _weight_shapes(case: Case) -> Tuple[Tuple[int, ...], ...]:
    k = case.k
    if case.op == "depthwise":
        return ((case.c, 1, k, k),)
    if case.op == "pointwise":
        return ((case.cout, case.c, 1, 1),)
    if case.op == "separable":
        return ((case.c, 1, k, k), (case.cout, case.c, 1, 1))
    if case.op == "inverted_residual":
        expand = ((case.expand, case.c, 1, 1),) if case.expand else ()
        return expand + ((case.hidden, 1, k, k), (case.cout, case.hidden, 1, 1))
    return ((case.cout, case.c, k, k),)


def _own_cost(case: Case, batch: int) -> Tuple[float, float]:
    """(flops, min_bytes): 2 FLOP per multiply-add; input, weights and output touched once."""
    oh, ow = case.out_hw
    outs = batch * oh * ow
    k2 = case.k * case.k
    if case.op == "depthwise":
        macs = outs * case.c * k2
    elif case.op == "pointwise":
        macs = outs * case.c * case.cout
    elif case.op == "separable":
        macs = outs * case.c * (k2 + case.cout)
    elif case.op == "inverted_residual":
        macs = (batch * case.h * case.w * case.c * (case.expand or 0)
                + outs * case.hidden * (k2 + case.cout))
    else:
        macs = outs * case.cout * case.c * k2
    weights = sum(math.prod(s) for s in _weight_shapes(case))
    elems = batch * case.c * case.h * case.w + weights + outs * case.out_channels
    return 2.0 * macs, 4.0 * elems


def _cost_module():
    try:
        from sepconv import cost  # written separately; optional until it lands
    except ImportError:
        return None
    return cost


def _call_cost(fn: Callable, args: tuple, kwargs: dict, layout: str, x_shape_nchw, x_shape):
    """Call a sepconv.cost function with the keyword arguments it accepts (``layout`` among them
    when it takes one; the NCHW shape otherwise)."""
    try:
        params = inspect.signature(fn).parameters
        if any(p.kind == p.VAR_KEYWORD for p in params.values()):
            accepted = None
        else:
            accepted = set(params)
    except (TypeError, ValueError):
        accepted = set()
    kw = {k: v for k, v in kwargs.items() if accepted is None or k in accepted}
    if accepted is None or "layout" in accepted:
        return fn(x_shape, *args, layout=layout, **kw)
    return fn(x_shape_nchw, *args, **kw)


def case_cost(case: Case, batch: int, layout: str) -> Tuple[float, float, str]:
    """(flops, min_bytes, source) for one case; source is "sepconv.cost" or "bench"."""
    cost = _cost_module()
    if cost is not None:
        xs_nchw = (batch, case.c, case.h, case.w)
        xs = _shape(batch, case.c, case.h, case.w, layout)
        ws = _weight_shapes(case)
        geo = dict(stride=case.stride, padding=case.pad)
        try:
            if case.op == "depthwise":
                r = _call_cost(cost.depthwise_conv2d, (ws[0],), geo, layout, xs_nchw, xs)
            elif case.op == "pointwise":
                r = _call_cost(cost.pointwise_conv2d, (ws[0],), {}, layout, xs_nchw, xs)
            elif case.op == "separable":
                r = _call_cost(cost.separable_conv2d, ws,
                               dict(geo, depthwise_activation=case.dw_act), layout, xs_nchw, xs)
            elif case.op == "inverted_residual":
                expand = ws if case.expand else (None,) + ws
                r = _call_cost(cost.inverted_residual, expand, geo, layout, xs_nchw, xs)
            else:
                r = _call_cost(cost.conv2d, (ws[0],), geo, layout, xs_nchw, xs)
            return float(r.flops), float(r.min_bytes), "sepconv.cost"
        except Exception:  # an API we did not expect: fall back rather than lose the run
            pass
    flops, nbytes = _own_cost(case, batch)
    return flops, nbytes, "bench"


# ----------------------------------------------------------------------------------------------
# implementations
# ----------------------------------------------------------------------------------------------
@dataclass
class Impl:
    """A callable to time, plus a way to turn its result into a NumPy array in our layout."""

    name: str
    run: Callable[[], Any]
    to_numpy: Callable[[Any], np.ndarray] = np.asarray
    note: str = ""


@dataclass
class Problem:
    """The arrays of one case x batch x layout (inputs in NCHW and in the row's layout)."""

    case: Case
    batch: int
    layout: str
    x: np.ndarray  # in `layout`
    x_nchw: np.ndarray
    weights: Tuple[np.ndarray, ...]


def _placed(a: np.ndarray, line_offset: int) -> np.ndarray:
    """A C-contiguous copy of a starting line_offset bytes past a 64-byte cache line."""
    raw = np.empty(a.size + 32, dtype=a.dtype)
    skip = ((line_offset - raw.ctypes.data) % 64) // a.itemsize
    out = raw[skip:skip + a.size].reshape(a.shape)
    out[...] = a
    return out


def make_problem(case: Case, batch: int, layout: str, seed: int = 0,
                 line_offset: int = 0) -> Problem:
    """Random inputs for one case (the same values whatever the layout), starting line_offset
    bytes past a cache line: every implementation reads the same arrays, and where NumPy would
    place them (on a line or 16-48 bytes past one, by allocation history) no longer varies
    between runs."""
    rng = np.random.default_rng(seed)
    x_nchw = _placed(rng.standard_normal((batch, case.c, case.h, case.w), dtype=np.float32),
                     line_offset)
    weights = []
    for s in _weight_shapes(case):
        fan_in = s[1] * s[2] * s[3]
        weights.append((rng.standard_normal(s, dtype=np.float32) / np.float32(math.sqrt(fan_in))))
    weights = [w.reshape(w.shape[:2]) if w.shape[2:] == (1, 1) else w for w in weights]
    x = x_nchw if layout == "NCHW" else _placed(x_nchw.transpose(0, 2, 3, 1), line_offset)
    return Problem(case, batch, layout, x, x_nchw, tuple(weights))


def _functional_peer(p: Problem) -> Impl:
    """sepconv's plain function: checks its arguments and packs the weights on every call."""
    c, x, lay = p.case, p.x, p.layout
    geo = dict(stride=c.stride, padding=c.pad, layout=lay)
    if c.op == "depthwise":
        fn = lambda: sepconv.depthwise_conv2d(x, p.weights[0], **geo)  # noqa: E731
    elif c.op == "pointwise":
        fn = lambda: sepconv.pointwise_conv2d(x, p.weights[0], layout=lay)  # noqa: E731
    elif c.op == "separable":
        fn = lambda: sepconv.separable_conv2d(  # noqa: E731
            x, *p.weights, depthwise_activation=c.dw_act, **geo)
    elif c.op == "inverted_residual":
        fn = lambda: sepconv.inverted_residual(x, *_ir_weights(p), **geo)  # noqa: E731
    else:
        fn = lambda: sepconv.conv2d(x, p.weights[0], **geo)  # noqa: E731
    return Impl("func", fn, note="sepconv's function (packs the weights per call)")


def _ir_weights(p: Problem) -> Tuple[Optional[np.ndarray], np.ndarray, np.ndarray]:
    """(expand or None, depthwise, project) weights of an inverted_residual problem."""
    return ((None,) + p.weights) if p.case.expand is None else p.weights


def _unfused_peer(p: Problem) -> Optional[Impl]:
    """sepconv's own prepacked layers one after another: what fusion saves (separable:
    depthwise then pointwise; inverted residual: pointwise, depthwise, pointwise, then x added).
    The intermediates go to buffers allocated once; the output is fresh, as ours is."""
    c, x, lay = p.case, p.x, p.layout
    geo = dict(stride=c.stride, padding=c.pad, layout=lay)
    if c.op == "inverted_residual":
        ew, dw, pw = _ir_weights(p)
        expand = (sepconv.PointwiseConv2d(ew, layout=lay, activation="relu6")
                  if ew is not None else None)
        depthwise = sepconv.DepthwiseConv2d(dw, activation="relu6", **geo)
        project = sepconv.PointwiseConv2d(pw, layout=lay)
        expanded = x if expand is None else expand(x)
        filtered = depthwise(expanded)

        def three_layers():
            e = x if expand is None else expand(x, out=expanded)
            y = project(depthwise(e, out=filtered))
            return np.add(y, x, out=y) if c.residual else y
        return Impl("unfused", three_layers, note="sepconv layers: pointwise, depthwise, "
                    "pointwise [+ x]")
    if c.op != "separable":
        return None
    dw, pw = p.weights
    depthwise = sepconv.DepthwiseConv2d(dw, activation=c.dw_act, **geo)
    pointwise = sepconv.PointwiseConv2d(pw, layout=lay)
    filtered = depthwise(x)
    return Impl("unfused", lambda: pointwise(depthwise(x, out=filtered)),
                note="sepconv layers: depthwise then pointwise")


def ours(p: Problem) -> Impl:
    """sepconv as inference code calls it: a prepacked layer object built once, outside the
    timing (fresh output each call)."""
    c, lay = p.case, p.layout
    geo = dict(stride=c.stride, padding=c.pad, layout=lay)
    if c.op == "depthwise":
        layer = sepconv.DepthwiseConv2d(p.weights[0], **geo)
    elif c.op == "pointwise":
        layer = sepconv.PointwiseConv2d(p.weights[0], layout=lay)
    elif c.op == "separable":
        layer = sepconv.SeparableConv2d(*p.weights, depthwise_activation=c.dw_act, **geo)
    elif c.op == "inverted_residual":
        layer = sepconv.InvertedResidual(*_ir_weights(p), **geo)
    else:
        layer = sepconv.Conv2d(p.weights[0], **geo)
    x = p.x
    return Impl("ours", lambda: layer(x), note=f"sepconv.{type(layer).__name__} (prepacked)")


def _ref_peer(p: Problem) -> Impl:
    c, x, lay = p.case, p.x, p.layout
    if c.op == "depthwise":
        fn = lambda: reference.depthwise_conv2d(x, p.weights[0], stride=c.stride,  # noqa: E731
                                                padding=c.pad, layout=lay)
    elif c.op == "pointwise":
        fn = lambda: reference.pointwise_conv2d(x, p.weights[0], layout=lay)  # noqa: E731
    elif c.op == "separable":
        fn = lambda: reference.separable_conv2d(  # noqa: E731
            x, p.weights[0], p.weights[1], stride=c.stride, padding=c.pad, layout=lay,
            depthwise_activation=c.dw_act)
    elif c.op == "inverted_residual":
        fn = lambda: reference.inverted_residual(  # noqa: E731
            x, *_ir_weights(p), stride=c.stride, padding=c.pad, residual=c.residual, layout=lay)
    else:
        fn = lambda: reference.conv2d(x, p.weights[0], stride=c.stride,  # noqa: E731
                                      padding=c.pad, layout=lay)
    return Impl("ref", fn, note="sepconv.reference (float64)")


def _numpy_peer(p: Problem) -> Optional[Impl]:
    c = p.case
    if c.op != "pointwise":
        return None
    (w,) = p.weights
    n, h, wd = p.batch, c.h, c.w
    if p.layout == "NHWC":
        x2, wt = p.x.reshape(-1, c.c), w.T
        return Impl("numpy", lambda: x2 @ wt,
                    lambda y: np.asarray(y).reshape(n, h, wd, c.cout), "x.reshape(-1, Cin) @ w.T")
    x3 = p.x.reshape(n, c.c, h * wd)
    return Impl("numpy", lambda: np.matmul(w, x3),
                lambda y: np.asarray(y).reshape(n, c.cout, h, wd), "w @ x.reshape(N, Cin, H*W)")


class TorchPeer:
    """torch.nn.functional.conv2d; NCHW or channels_last to match the row's layout."""

    def __init__(self, torch_module):
        self.torch = torch_module
        self.F = torch_module.nn.functional

    def impl(self, p: Problem) -> Impl:
        """The torch callable for one problem (tensors share memory with the NumPy inputs)."""
        torch, F, c = self.torch, self.F, p.case
        if p.layout == "NHWC":
            x = torch.from_numpy(p.x).permute(0, 3, 1, 2)  # channels_last strides, no copy
            fmt = torch.channels_last
        else:
            x = torch.from_numpy(p.x)
            fmt = torch.contiguous_format
        ws = [torch.from_numpy(w.reshape(w.shape + (1, 1)[:4 - w.ndim])).contiguous(
            memory_format=fmt) for w in p.weights]
        s, pad = c.stride, c.pad
        if c.op == "depthwise":
            fn = lambda: F.conv2d(x, ws[0], None, s, pad, 1, c.c)  # noqa: E731
        elif c.op == "pointwise":
            fn = lambda: F.conv2d(x, ws[0])  # noqa: E731
        elif c.op == "separable":
            def fn():
                t = F.conv2d(x, ws[0], None, s, pad, 1, c.c)
                return F.conv2d(F.relu6(t, inplace=True), ws[1])
        elif c.op == "inverted_residual":
            *we, wd, wp = ws

            def fn():
                t = F.relu6(F.conv2d(x, we[0]), inplace=True) if we else x
                t = F.relu6(F.conv2d(t, wd, None, s, pad, 1, c.hidden), inplace=True)
                y = F.conv2d(t, wp)
                return y.add_(x) if c.residual else y
        else:
            fn = lambda: F.conv2d(x, ws[0], None, s, pad)  # noqa: E731

        def to_numpy(y):
            y = y.detach()
            if p.layout == "NHWC":
                y = y.permute(0, 2, 3, 1)
            return y.contiguous().numpy()

        note = "channels_last" if p.layout == "NHWC" else "NCHW"
        return Impl("torch", fn, to_numpy, note)

    def set_threads(self, n: int) -> None:
        """torch.set_num_threads(n)."""
        self.torch.set_num_threads(n)


class OrtPeer:
    """ONNX Runtime on a small Conv graph, NCHW only; one session per case x batch x threads."""

    OPSET = 17
    IR_VERSION = 8

    def __init__(self, onnx_module, ort_module):
        self.onnx = onnx_module
        self.ort = ort_module
        self._sessions: Dict[tuple, Any] = {}

    def _model(self, p: Problem):
        onnx, c = self.onnx, p.case
        h, TP = onnx.helper, onnx.TensorProto
        oh, ow = c.out_hw
        pads = [c.pad] * 4
        conv_attrs = dict(kernel_shape=[c.k, c.k], strides=[c.stride, c.stride], pads=pads)
        inits = []

        def weight(name, arr):
            arr = arr.reshape(arr.shape + (1, 1)[:4 - arr.ndim]) if arr.ndim > 1 else arr
            inits.append(onnx.numpy_helper.from_array(np.ascontiguousarray(arr), name))

        if c.op == "depthwise":
            weight("w", p.weights[0])
            nodes = [h.make_node("Conv", ["x", "w"], ["y"], group=c.c, **conv_attrs)]
        elif c.op == "pointwise":
            weight("w", p.weights[0])
            nodes = [h.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1])]
        elif c.op == "separable":
            weight("wd", p.weights[0])
            weight("wp", p.weights[1])
            weight("lo", np.array(0.0, np.float32))
            weight("hi", np.array(6.0, np.float32))
            nodes = [h.make_node("Conv", ["x", "wd"], ["t"], group=c.c, **conv_attrs),
                     h.make_node("Clip", ["t", "lo", "hi"], ["t6"]),
                     h.make_node("Conv", ["t6", "wp"], ["y"], kernel_shape=[1, 1])]
        elif c.op == "inverted_residual":
            *we, wd, wp = p.weights
            weight("lo", np.array(0.0, np.float32))
            weight("hi", np.array(6.0, np.float32))
            weight("wd", wd)
            weight("wp", wp)
            nodes, t = [], "x"
            if we:
                weight("we", we[0])
                nodes += [h.make_node("Conv", ["x", "we"], ["e"], kernel_shape=[1, 1]),
                          h.make_node("Clip", ["e", "lo", "hi"], ["e6"])]
                t = "e6"
            nodes += [h.make_node("Conv", [t, "wd"], ["d"], group=c.hidden, **conv_attrs),
                      h.make_node("Clip", ["d", "lo", "hi"], ["d6"]),
                      h.make_node("Conv", ["d6", "wp"], ["p" if c.residual else "y"],
                                  kernel_shape=[1, 1])]
            if c.residual:
                nodes.append(h.make_node("Add", ["p", "x"], ["y"]))
        else:
            weight("w", p.weights[0])
            nodes = [h.make_node("Conv", ["x", "w"], ["y"], **conv_attrs)]
        graph = h.make_graph(
            nodes, c.name,
            [h.make_tensor_value_info("x", TP.FLOAT, [p.batch, c.c, c.h, c.w])],
            [h.make_tensor_value_info("y", TP.FLOAT, [p.batch, c.out_channels, oh, ow])],
            initializer=inits)
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", self.OPSET)])
        model.ir_version = self.IR_VERSION
        return model.SerializeToString()

    def session(self, p: Problem, threads: int):
        """The (cached) InferenceSession for one case x batch x threads."""
        key = (p.case.name, p.batch, threads)
        if key not in self._sessions:
            so = self.ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            so.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            so.log_severity_level = 3
            # ORT's workers otherwise spin for tens of ms after each Run(), stealing a core
            # from whichever implementation is timed next; stopping the spin when Run() returns
            # does not change ORT's own time (measured here), spinning inside Run() stays on.
            so.add_session_config_entry("session.force_spinning_stop", "1")
            if any(k[:2] != key[:2] for k in self._sessions):
                self._sessions.clear()  # keep only the current case's sessions (thread pools)
            self._sessions[key] = self.ort.InferenceSession(
                self._model(p), so, providers=["CPUExecutionProvider"])
        return self._sessions[key]

    def impl(self, p: Problem, threads: int) -> Impl:
        """The ORT callable for one problem, fed the NCHW input whatever the row's layout."""
        sess = self.session(p, threads)
        feed = {"x": p.x_nchw}
        run = sess.run

        def to_numpy(y):
            y = y[0]
            return np.ascontiguousarray(y.transpose(0, 2, 3, 1)) if p.layout == "NHWC" else y

        note = "NCHW input (ORT Conv is NCHW only)" if p.layout == "NHWC" else "NCHW"
        return Impl("ort", lambda: run(None, feed), to_numpy, note)


def load_peers(wanted: Sequence[str]) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Import the optional peers lazily: ({name: peer object}, {name: reason it is skipped})."""
    peers: Dict[str, Any] = {}
    skipped: Dict[str, str] = {}
    if "torch" in wanted:
        try:
            import torch
            peers["torch"] = TorchPeer(torch)
        except ImportError as exc:
            skipped["torch"] = f"torch not importable ({exc})"
        except Exception as exc:  # a broken install must not stop the benchmark
            skipped["torch"] = f"torch failed to import: {exc!r}"
    if "ort" in wanted:
        try:
            import onnx
            import onnx.numpy_helper
            import onnxruntime
            peers["ort"] = OrtPeer(onnx, onnxruntime)
        except ImportError as exc:
            skipped["ort"] = f"onnx/onnxruntime not importable ({exc})"
        except Exception as exc:
            skipped["ort"] = f"onnxruntime failed to import: {exc!r}"
    if "numpy" in wanted:
        peers["numpy"] = "numpy"
    if "unfused" in wanted:
        peers["unfused"] = "unfused"
    if "func" in wanted:
        peers["func"] = "func"
    if "ref" in wanted:
        peers["ref"] = "ref"
    return peers, skipped


class _BlasThreads:
    """Limit NumPy's BLAS threads to the row's thread count.

    With threadpoolctl when it is installed; otherwise by calling OpenBLAS's own
    ``*openblas_set_num_threads*`` in the OpenBLAS library this process has loaded (NumPy's
    wheels bundle one); otherwise not at all (``how`` says which).
    """

    _SUFFIXES = ("", "64_", "_64")
    _PREFIXES = ("openblas", "scipy_openblas")

    def __init__(self):
        self._ctl = None
        self._set = self._get = None
        try:
            import threadpoolctl
            self._ctl = threadpoolctl
            self.how = "threadpoolctl"
            return
        except ImportError:
            pass
        self.how = "not controlled"
        try:
            import ctypes
            with open("/proc/self/maps") as f:
                paths = sorted({ln.split()[-1] for ln in f if "openblas" in ln.lower()
                                and ln.split()[-1].startswith("/")})
            for path in paths:
                lib = ctypes.CDLL(path)
                for pre in self._PREFIXES:
                    for suf in self._SUFFIXES:
                        setter = getattr(lib, f"{pre}_set_num_threads{suf}", None)
                        getter = getattr(lib, f"{pre}_get_num_threads{suf}", None)
                        if setter is not None and getter is not None:
                            setter.argtypes, setter.restype = [ctypes.c_int], None
                            getter.argtypes, getter.restype = [], ctypes.c_int
                            self._set, self._get = setter, getter
                            self.how = f"{os.path.basename(path)}:{pre}_set_num_threads{suf}"
                            return
        except Exception:  # no /proc, no OpenBLAS, a stripped library: leave it alone
            pass

    @property
    def controlled(self) -> bool:
        """Whether the BLAS thread count can be set."""
        return self.how != "not controlled"

    @contextlib.contextmanager
    def limit(self, n: int):
        """Context manager: BLAS uses n threads inside, the previous count after."""
        if self._ctl is not None:
            with self._ctl.threadpool_limits(limits=n, user_api="blas"):
                yield
        elif self._set is not None:
            old = self._get()
            self._set(n)
            try:
                yield
            finally:
                self._set(old)
        else:
            yield


# ----------------------------------------------------------------------------------------------
# checking and timing
# ----------------------------------------------------------------------------------------------
def rel_error(got: np.ndarray, expected: np.ndarray) -> float:
    """||got - expected|| / ||expected|| in float64 (inf on a shape mismatch)."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return math.inf
    den = float(np.linalg.norm(expected))
    num = float(np.linalg.norm(got - expected))
    if not math.isfinite(num):
        return math.inf
    return num / den if den > 0 else (0.0 if num == 0 else math.inf)


@dataclass
class Timing:
    """Per-call times (seconds) of one implementation: one sample per block of calls."""

    samples: List[float] = field(default_factory=list)
    calls_per_sample: int = 1
    total: float = 0.0

    @property
    def median(self) -> float:
        """Median seconds per call."""
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        """Fastest sample, seconds per call."""
        return min(self.samples)


def time_alternating(fns: Dict[str, Callable[[], Any]], min_time: float,
                     min_reps: int = MIN_REPS, block_time: float = 1e-3,
                     max_time: float = 120.0, gap: float = 0.0) -> Dict[str, Timing]:
    """Time every callable in rounds (each takes its turn, in order) until all have spent
    ``min_time`` seconds and have ``min_reps`` samples.

    Each sample times a block of back-to-back calls lasting about ``block_time`` (one call if a
    call is longer) and records the time per call. An implementation that has its samples stops
    taking turns, so a slow peer does not hold the fast ones back. ``max_time`` bounds the whole
    measurement of one row (a safeguard; it is checked between rounds).

    ``gap`` seconds of sleep precede each block when several implementations take turns: an
    OpenMP runtime's idle workers spin for several ms after a parallel region (libgomp: ~5-8 ms
    here), and on a machine with few cores that spinning would be charged to the next
    implementation's first calls. One untimed call then wakes the implementation's own workers
    before its block, as the peers timed on their own (back to back) have theirs awake: without
    it, sepconv's 2-thread separable 144->24@56 (NCHW, batch 1) took 122-136 µs a call against
    101-103 back to back, and whole rows of 2-thread calls read 2x slower while the host was
    busy. The calibration likewise times a call after an untimed one.
    """
    timings: Dict[str, Timing] = {}
    for name, fn in fns.items():  # warm-up and calibration: a call, one timed, a few if cheap
        if gap:
            time.sleep(gap)
        fn()
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        if dt < block_time:
            reps = max(1, int(block_time / max(dt, 1e-7)))
            t0 = time.perf_counter()
            for _ in range(reps):
                fn()
            dt = (time.perf_counter() - t0) / reps
        timings[name] = Timing(calls_per_sample=max(1, int(round(block_time / max(dt, 1e-7)))))
    start = time.perf_counter()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        while True:
            active = [n for n, t in timings.items()
                      if len(t.samples) < min_reps or t.total < min_time]
            if not active or (time.perf_counter() - start > max_time
                              and all(len(timings[n].samples) >= 1 for n in active)):
                break
            for name in active:
                fn, t = fns[name], timings[name]
                calls = t.calls_per_sample
                if gap and len(active) > 1:
                    time.sleep(gap)
                    fn()
                t0 = time.perf_counter()
                for _ in range(calls):
                    fn()
                dt = time.perf_counter() - t0
                t.samples.append(dt / calls)
                t.total += dt
    finally:
        if gc_was_enabled:
            gc.enable()
    return timings


# ----------------------------------------------------------------------------------------------
# machine
# ----------------------------------------------------------------------------------------------
def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (platform.processor() elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def load_machine(path: Optional[str]) -> Dict[str, float]:
    """Machine limits from a JSON file (peak_gflops_1t, peak_gflops_all, dram_gbps, l2_gbps)."""
    if not path or not os.path.exists(path):
        return {}
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"warning: cannot read {path}: {exc}", file=sys.stderr)
        return {}
    return {k: float(v) for k, v in data.items()
            if k in ROOFLINE_KEYS and isinstance(v, (int, float))}


ROOFLINE_KEYS = {
    "peak_gflops_1t": "peak fp32 FMA, 1 thread (GFLOP/s)",
    "peak_gflops_all": "peak fp32 FMA, all threads (GFLOP/s)",
    "l1_gbps": "L1 triad bandwidth, 1 thread (GB/s)",
    "l2_gbps": "L2 triad bandwidth, 1 thread (GB/s)",
    "l3_gbps": "L3 triad bandwidth, 1 thread (GB/s)",
    "dram_gbps": "DRAM triad bandwidth, 1 thread (GB/s)",
}


def format_roofline(machine: Dict[str, float], path: str) -> List[str]:
    """Markdown lines: the machine limits every figure should be read against."""
    if not machine:
        return []
    lines = [f"Machine limits (`{path}`, measured by `sepconv_machine --json {path}`):", "",
             "| limit | value |", "|---|---|"]
    lines += [f"| {label} | {machine[k]:.1f} |" for k, label in ROOFLINE_KEYS.items()
              if k in machine]
    return lines + [""]


def peak_for(machine: Dict[str, float], threads: int, ncpu: int) -> Optional[float]:
    """Peak GFLOP/s for a thread count: the 1-thread peak times threads, capped by the all-core
    peak when the file gives one."""
    one = machine.get("peak_gflops_1t")
    allc = machine.get("peak_gflops_all")
    if one is None and allc is None:
        return None
    if one is None:
        one = allc / max(1, ncpu)
    p = one * threads
    return min(p, allc) if allc is not None else p


def _loadavg() -> Optional[List[float]]:
    try:
        with open("/proc/loadavg") as f:
            return [float(v) for v in f.read().split()[:3]]
    except (OSError, ValueError):
        return None


def versions() -> Dict[str, Optional[str]]:
    """Versions of Python, NumPy, sepconv and of the peers (None when not importable)."""
    out: Dict[str, Optional[str]] = {
        "python": platform.python_version(), "numpy": np.__version__,
        "sepconv": sepconv.__version__}
    for mod in ("torch", "onnxruntime", "onnx", "matplotlib", "threadpoolctl"):
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "?")
        except Exception:
            out[mod] = None
    return out


# ----------------------------------------------------------------------------------------------
# output
# ----------------------------------------------------------------------------------------------
class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int, enabled: Optional[bool] = None, width: int = 28):
        self.total = max(1, total)
        self.done = 0
        self.width = width
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.t0 = time.perf_counter()

    def update(self, label: str) -> None:
        """Redraw the bar with ``label`` (the row being measured)."""
        if not self.enabled:
            return
        filled = int(self.width * self.done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        el = time.perf_counter() - self.t0
        line = f"\r[{bar}] {self.done}/{self.total} {el:5.0f}s {label}"
        sys.stderr.write(line[:120].ljust(120))
        sys.stderr.flush()

    def step(self) -> None:
        """Count one row as done."""
        self.done += 1

    def close(self) -> None:
        """Erase the bar."""
        if self.enabled:
            sys.stderr.write("\r" + " " * 120 + "\r")
            sys.stderr.flush()


def _fmt_us(s: Optional[float]) -> str:
    if s is None:
        return "-"
    us = s * 1e6
    return f"{us:.0f}" if us >= 100 else f"{us:.1f}"


def _fmt_ratio(r: Optional[float]) -> str:
    return "-" if r is None else f"{r:.2f}"


def table_rows(results: List[dict], peers: Sequence[str]) -> Tuple[List[str], List[List[str]]]:
    """Header and string cells of the result table (shared by the text and Markdown output)."""
    has_peak = any(r["ours"].get("pct_peak") is not None for r in results)
    has_probe = any(r["ours"].get("pct_probe") is not None for r in results)
    head = ["case", "layout", "N", "thr", "ours µs", "min µs", "GFLOP/s", "GB/s"]
    if has_peak:
        head.append("%peak")
    if has_probe:
        head.append("%probe")
    for p in peers:
        head += [f"{p} µs", f"{p} x"]
    rows = []
    for r in results:
        o = r["ours"]
        cells = [r["case"], r["layout"], str(r["batch"]), str(r["threads"])]
        if o.get("status") != "ok":
            cells += ["ERROR", "-", "-", "-"] + ["-"] * (has_peak + has_probe)
        else:
            cells += [_fmt_us(o["median_s"]), _fmt_us(o["min_s"]), f"{o['gflops']:.1f}",
                      f"{o['gbps']:.1f}"]
            if has_peak:
                pp = o.get("pct_peak")
                cells.append("-" if pp is None else f"{pp:.0f}%")
            if has_probe:
                pq = o.get("pct_probe")
                cells.append("-" if pq is None else f"{pq:.0f}%")
        for name in peers:
            pr = r["peers"].get(name)
            if pr is None:
                cells += ["", ""]
            elif pr["status"] == "ok":
                star = "*" if pr.get("note", "").startswith("NCHW input") else ""
                cells += [_fmt_us(pr["median_s"]) + star, _fmt_ratio(pr.get("ratio"))]
            elif pr["status"] == "mismatch":
                cells += ["MISMATCH", f"err {pr['rel_err']:.1e}"]
            elif pr["status"] == "error":
                cells += ["ERROR", ""]
            else:
                cells += ["-", ""]
        rows.append(cells)
    return head, rows


def format_table(head: List[str], rows: List[List[str]]) -> str:
    """Fixed-width text table: first column left-aligned, the rest right-aligned."""
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) if rows else len(head[i])
              for i in range(len(head))]

    def line(cells):
        return "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                         for i, c in enumerate(cells))

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), sep] + [line(r) for r in rows])


def format_markdown(head: List[str], rows: List[List[str]]) -> str:
    """GitHub-flavoured Markdown table of the same cells."""
    align = ["---"] + ["--:"] * (len(head) - 1)
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def _geomean(xs: List[float]) -> Optional[float]:
    xs = [x for x in xs if x and x > 0 and math.isfinite(x)]
    if not xs:
        return None
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def row_label(r: dict) -> str:
    """``case layout N=.. t=..``: how a row is named in the summary and the plot."""
    return f"{r['case']} {r['layout']} N={r['batch']} t={r['threads']}"


def summarize(results: List[dict], peers: Sequence[str]) -> Dict[str, Any]:
    """Geometric mean of ratios per op family and per peer, the overall one and the worst row."""
    out: Dict[str, Any] = {"geomean": {}, "worst": {}, "best": {}, "mismatches": [],
                           "errors": []}
    for r in results:
        if r["ours"].get("status") != "ok":
            out["errors"].append(f"{row_label(r)}: ours: {r['ours'].get('error')}")
        for name, pr in r["peers"].items():
            if pr["status"] == "mismatch":
                out["mismatches"].append(f"{row_label(r)}: {name} rel err {pr['rel_err']:.2e}")
            elif pr["status"] == "error":
                out["errors"].append(f"{row_label(r)}: {name}: {pr.get('error')}")
    for name in peers:
        fam: Dict[str, Optional[float]] = {}
        pairs = [(r, r["peers"][name]["ratio"]) for r in results
                 if r["peers"].get(name, {}).get("ratio") is not None]
        if not pairs:
            continue
        for op in OPS:
            g = _geomean([x for r, x in pairs if r["op"] == op])
            if g is not None:
                fam[op] = g
        fam["all"] = _geomean([x for _, x in pairs])
        out["geomean"][name] = fam
        worst = min(pairs, key=lambda rx: rx[1])
        best = max(pairs, key=lambda rx: rx[1])
        out["worst"][name] = {"row": row_label(worst[0]), "ratio": worst[1]}
        out["best"][name] = {"row": row_label(best[0]), "ratio": best[1]}
    return out


def format_summary(summary: Dict[str, Any], peers: Sequence[str]) -> str:
    """The summary as text: a family x peer table of geometric means, then worst/best rows."""
    names = [p for p in peers if p in summary["geomean"]]
    lines = ["Summary: geometric mean of ratio = peer time / sepconv time (> 1: sepconv faster)"]
    if names:
        head = ["family"] + names
        rows = []
        for op in OPS + ("all",):
            cells = [op] + [_fmt_ratio(summary["geomean"][n].get(op)) for n in names]
            if any(c != "-" for c in cells[1:]):
                rows.append(cells)
        lines.append(format_table(head, rows))
        for n in names:
            w, b = summary["worst"][n], summary["best"][n]
            lines.append(f"worst vs {n}: {w['ratio']:.2f} ({w['row']});  "
                         f"best: {b['ratio']:.2f} ({b['row']})")
    else:
        lines.append("(no peer timed)")
    for m in summary["mismatches"]:
        lines.append(f"MISMATCH {m}")
    for e in summary["errors"]:
        lines.append(f"ERROR {e}")
    return "\n".join(lines)


def write_plot(path: str, results: List[dict], peers: Sequence[str]) -> Optional[str]:
    """Grouped bars per case: for each peer, the geometric mean of its ratio over the case's rows
    (layouts, batch sizes, thread counts), log scale; returns a reason if not written."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed"
    names = [p for p in peers if any(r["peers"].get(p, {}).get("ratio") for r in results)]
    cases: Dict[str, Dict[str, List[float]]] = {}
    for r in results:
        for name in names:
            ratio = r["peers"].get(name, {}).get("ratio")
            if ratio:
                cases.setdefault(r["case"], {}).setdefault(name, []).append(ratio)
    if not cases:
        return "no ratios to plot"
    labels = list(cases)
    n, k = len(labels), len(names)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.25 * n * max(k, 1) + 2), 5.5))
    width = 0.8 / k
    for j, name in enumerate(names):
        xs = [i + (j - (k - 1) / 2) * width for i in range(n)]
        ys = [math.exp(statistics.fmean(math.log(v) for v in cases[c][name]))
              if cases[c].get(name) else 0.0 for c in labels]
        ax.bar(xs, ys, width, label=name)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("peer time / sepconv time  (> 1: sepconv faster)")
    ax.set_xticks(range(n))
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=8)
    ax.legend()
    ax.set_title(f"sepconv vs peers, geometric mean over each case's rows ({cpu_model()})")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


# ----------------------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------------------
def _input_offset(text: str) -> int:
    value = int(text)
    if value < 0 or value >= 64 or value % 4:
        raise argparse.ArgumentTypeError(f"expected a multiple of 4 in [0, 64), got {text!r}")
    return value


def _int_list(text: str) -> List[int]:
    out = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        out.append(cpu_count() if part in ("all", "max") else int(part))
    if not out or any(v < 1 for v in out):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return out


def _choice_list(choices: Sequence[str], upper: bool = False):
    def parse(text: str) -> List[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        items = [t.upper() if upper else t.lower() for t in items]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated subset of {','.join(choices)}, got {text!r}")
        return items
    return parse


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of ``python -m sepconv.bench``."""
    ncpu = cpu_count()
    p = argparse.ArgumentParser(
        prog="python -m sepconv.bench",
        description="Time sepconv against PyTorch, ONNX Runtime and NumPy on real network layers.")
    p.add_argument("--quick", action="store_true",
                   help="~1 minute: batch 1, the quick subset of cases, shorter timing")
    p.add_argument("--threads", type=_int_list, default=None,
                   help=f"comma-separated thread counts ('all' = {ncpu}); default 1,{ncpu}")
    p.add_argument("--batch", type=_int_list, default=None, help="batch sizes; default 1,8 "
                   "(1 with --quick)")
    p.add_argument("--layout", type=_choice_list(LAYOUTS, upper=True), default=list(LAYOUTS),
                   help="NCHW,NHWC (default both)")
    p.add_argument("--ops", type=_choice_list(OPS), default=list(OPS),
                   help="subset of " + ",".join(OPS))
    p.add_argument("--filter", default="",
                   help="keep cases whose name contains this (comma-separated: any of them)")
    p.add_argument("--peers", type=_choice_list(PEERS), default=list(PEERS),
                   help="subset of " + ",".join(PEERS) + " (default all available)")
    p.add_argument("--min-time", type=float, default=None,
                   help="seconds of timing per implementation per row (default 0.2, quick 0.03)")
    p.add_argument("--gap-ms", type=float, default=10.0,
                   help="sleep before each timed block in multi-threaded rows so that another "
                   "library's spinning workers go idle (default 10)")
    p.add_argument("--ref-max-mflop", type=float, default=20.0,
                   help="time the float64 reference only on rows up to this many MFLOP")
    p.add_argument("--peak-gflops", type=float, default=None,
                   help="1-thread peak GFLOP/s (scaled by threads); default from --machine")
    p.add_argument("--machine", default=MACHINE_JSON,
                   help="JSON with peak_gflops_1t, peak_gflops_all, dram_gbps, l2_gbps "
                   "(default bench/machine.json if present)")
    p.add_argument("--no-probe", action="store_true",
                   help="do not time the peak-FMA probe beside sepconv (no %%probe column)")
    p.add_argument("--json", metavar="PATH", help="write all results and metadata as JSON")
    p.add_argument("--markdown", metavar="PATH", help="write the table as Markdown")
    p.add_argument("--plot", metavar="PATH", help="write a bar chart of the ratios (matplotlib)")
    p.add_argument("--baseline", metavar="JSON",
                   help="an earlier run's --json: add a before/after table of our GFLOP/s")
    p.add_argument("--list", action="store_true", help="list the selected cases and exit")
    p.add_argument("--input-offset", type=_input_offset, default=0, metavar="BYTES",
                   help="place the inputs this many bytes past a 64-byte cache line (a multiple "
                   "of 4 below 64; default 0, as PyTorch allocates; NumPy places large arrays "
                   "16 bytes past one)")
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    return p


def _run_row(problem: Problem, threads: int, peers: Dict[str, Any], skipped: Dict[str, str],
             args, machine: Dict[str, float], blas: _BlasThreads) -> dict:
    case, batch, layout = problem.case, problem.batch, problem.layout
    flops, min_bytes, cost_src = case_cost(case, batch, layout)
    row: Dict[str, Any] = {
        "case": case.name, "op": case.op, "source": case.source, "layout": layout,
        "batch": batch, "threads": threads, "kernel": case.k, "stride": case.stride,
        "padding": case.pad, "in_channels": case.c, "out_channels": case.out_channels,
        "input_hw": [case.h, case.w], "output_hw": list(case.out_hw),
        "depthwise_activation": case.dw_act, "flops": flops, "min_bytes": min_bytes,
        "cost_source": cost_src, "ours": {}, "peers": {}}
    sepconv.set_num_threads(threads)
    if "torch" in peers:
        peers["torch"].set_threads(threads)
    me = ours(problem)
    try:
        y_ours = me.run()
    except Exception as exc:
        row["ours"] = {"status": "error", "error": repr(exc)}
        print(f"ERROR: sepconv failed on {row_label(row)}: {exc!r}", file=sys.stderr)
        return row
    impls: List[Impl] = []
    for name in PEERS:
        if name not in peers:
            if name in skipped:
                row["peers"][name] = {"status": "skipped", "note": skipped[name]}
            continue
        try:
            if name == "torch":
                impl = peers["torch"].impl(problem)
            elif name == "ort":
                impl = peers["ort"].impl(problem, threads)
            elif name == "numpy":
                impl = _numpy_peer(problem)
            elif name == "unfused":
                impl = _unfused_peer(problem)
            elif name == "func":
                impl = _functional_peer(problem)
            else:
                impl = _ref_peer(problem) if flops <= args.ref_max_mflop * 1e6 else None
            if impl is None:
                continue  # not applicable to this case
            with blas.limit(threads):
                got = impl.to_numpy(impl.run())
            err = rel_error(got, y_ours)
        except Exception as exc:
            row["peers"][name] = {"status": "error", "error": repr(exc)}
            print(f"ERROR: peer {name} failed on {row_label(row)}: {exc!r}", file=sys.stderr)
            continue
        if not err < REL_TOL:
            row["peers"][name] = {"status": "mismatch", "rel_err": err, "note": impl.note}
            print(f"\n*** MISMATCH *** {row_label(row)}: {name} differs from sepconv, relative "
                  f"error {err:.3e} >= {REL_TOL:g}; not timed", file=sys.stderr)
            continue
        row["peers"][name] = {"status": "ok", "rel_err": err, "note": impl.note}
        impls.append(impl)
    # OpenBLAS's workers busy-wait for ~0.1 s after each multi-threaded call (NumPy, and the
    # float64 reference through it) and ONNX Runtime's for ~40 ms after each run; on a 2-core
    # machine that spinning would be charged to whatever runs next. With several threads these
    # peers are timed on their own after the others, each then left to go idle; so are they after
    # the check above ran each once (the 2-thread rows of the small cases, which the float64
    # reference checks, had medians of 70-140 µs against 4-7 µs measured without it).
    isolated = {"numpy", "ort", "ref"} if threads > 1 else set()
    if any(i.name in isolated for i in impls):
        time.sleep(BLAS_IDLE_SECONDS)
    fns = {"ours": me.run}
    probe = None if args.no_probe else getattr(sepconv._core, "run_fma_probe", None)
    if probe is not None:
        fns["probe"] = lambda: probe(PROBE_ITERATIONS)
    fns.update({i.name: i.run for i in impls if i.name not in isolated})
    with blas.limit(threads):
        timings = time_alternating(fns, args.min_time, MIN_REPS, args.block_time,
                                   gap=args.gap if threads > 1 else 0.0)
        for impl in impls:
            if impl.name in isolated:
                timings.update(time_alternating({impl.name: impl.run}, args.min_time, MIN_REPS,
                                                args.block_time))
                time.sleep(BLAS_IDLE_SECONDS)
    t = timings["ours"]
    peak = args.peak_gflops * threads if args.peak_gflops else peak_for(machine, threads,
                                                                         cpu_count())
    gflops = flops / t.median / 1e9
    row["ours"] = {
        "status": "ok", "median_s": t.median, "min_s": t.min, "reps": len(t.samples),
        "calls_per_rep": t.calls_per_sample, "gflops": gflops, "gbps": min_bytes / t.median / 1e9,
        "peak_gflops": peak, "pct_peak": 100.0 * gflops / peak if peak else None}
    if probe is not None:
        probe_gflops = probe(PROBE_ITERATIONS) / timings["probe"].median / 1e9
        row["ours"].update({"probe_gflops": probe_gflops,
                            "pct_probe": 100.0 * gflops / probe_gflops})
    for impl in impls:
        pt = timings[impl.name]
        row["peers"][impl.name].update({
            "median_s": pt.median, "min_s": pt.min, "reps": len(pt.samples),
            "calls_per_rep": pt.calls_per_sample, "gflops": flops / pt.median / 1e9,
            "ratio": pt.median / t.median})
    return row


def run(args) -> Tuple[List[dict], Dict[str, Any]]:
    """Run the benchmark described by parsed ``args``: (rows, metadata)."""
    cases = select_cases(CASES, args.ops, [f for f in args.filter.split(",") if f.strip()],
                         args.quick)
    peers, skipped = load_peers(args.peers)
    machine = load_machine(args.machine)
    blas = _BlasThreads()
    ncpu = cpu_count()
    meta: Dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(), "cpu_count": ncpu, "platform": platform.platform(),
        "argv": list(args.argv), "quick": args.quick, "threads": args.threads,
        "batch": args.batch, "layouts": args.layout, "ops": args.ops, "filter": args.filter,
        "min_time_s": args.min_time, "min_reps": MIN_REPS, "block_time_s": args.block_time,
        "gap_s": args.gap, "rel_tol": REL_TOL, "versions": versions(), "sepconv_config": sepconv.config(),
        "machine": machine, "peak_gflops_arg": args.peak_gflops,
        "peers": [p for p in PEERS if p in peers], "peers_skipped": skipped,
        "numpy_blas_threads": blas.how, "loadavg_start": _loadavg(),
        "cost_source": "sepconv.cost" if _cost_module() is not None else "bench",
        "cases": [asdict(c) for c in cases], "input_offset_bytes": args.input_offset,
    }
    results: List[dict] = []
    total = len(cases) * len(args.batch) * len(args.layout) * len(args.threads)
    progress = Progress(total)
    old_threads = sepconv.get_num_threads()
    old_torch = peers["torch"].torch.get_num_threads() if "torch" in peers else None
    ctx = (peers["torch"].torch.inference_mode() if "torch" in peers
           else contextlib.nullcontext())
    try:
        with ctx:
            for case in cases:
                for batch in args.batch:
                    for layout in args.layout:
                        problem = make_problem(case, batch, layout, args.seed,
                                               args.input_offset)
                        for threads in args.threads:
                            progress.update(f"{case.name} {layout} N={batch} t={threads}")
                            results.append(_run_row(problem, threads, peers, skipped, args,
                                                    machine, blas))
                            progress.step()
    finally:
        progress.close()
        meta["loadavg_end"] = _loadavg()
        sepconv.set_num_threads(old_threads)
        if old_torch is not None:
            peers["torch"].set_threads(old_torch)
    return results, meta


def _write(path: str, text: str) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def _row_key(r: dict) -> tuple:
    return (r["case"], r["layout"], r["batch"], r["threads"])


def before_after(results: List[dict], baseline: List[dict]) -> Tuple[List[str], List[List[str]]]:
    """(head, rows) comparing our GFLOP/s with an earlier run's on the rows both have, plus the
    ratio of each run's best-peer ratio (who was faster than the fastest of torch and ORT)."""
    before = {_row_key(r): r for r in baseline if r.get("ours", {}).get("status") == "ok"}
    head = ["case", "layout", "N", "thr", "before GFLOP/s", "after GFLOP/s", "after/before",
            "before vs best peer", "after vs best peer"]
    rows = []
    for r in results:
        b = before.get(_row_key(r))
        if b is None or r["ours"].get("status") != "ok":
            continue

        def best_peer(row):
            ratios = [row["peers"][p]["ratio"] for p in ("torch", "ort")
                      if row["peers"].get(p, {}).get("status") == "ok"]
            return _fmt_ratio(min(ratios)) if ratios else ""
        rows.append([r["case"], r["layout"], str(r["batch"]), str(r["threads"]),
                     f"{b['ours']['gflops']:.1f}", f"{r['ours']['gflops']:.1f}",
                     _fmt_ratio(b["ours"]["median_s"] / r["ours"]["median_s"]),
                     best_peer(b), best_peer(r)])
    return head, rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns 0, or 1 if a peer disagreed with sepconv or one failed.

    Example:
      >>> from sepconv.bench import main
      >>> main(["--quick", "--filter", "dw3x3s1_c384_14", "--threads", "1"])  # doctest: +SKIP
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    ncpu = cpu_count()
    if args.threads is None:
        args.threads = sorted({1, ncpu})
    if args.batch is None:
        args.batch = [1] if args.quick else [1, 8]
    if args.min_time is None:
        args.min_time = 0.03 if args.quick else 0.2
    # ~20 samples per implementation, each a block of >= 1 ms of back-to-back calls
    args.block_time = max(1e-3, args.min_time / 20)
    args.gap = max(0.0, args.gap_ms) / 1e3
    if args.list:
        for c in select_cases(CASES, args.ops, [f for f in args.filter.split(",") if f.strip()],
                              args.quick):
            print(f"{c.name:<22} {c.op:<10} {c.source}")
        return 0
    results, meta = run(args)
    if not results:
        print("no case matches the selection (see --list)", file=sys.stderr)
        return 2
    peers_shown = [p for p in PEERS if any(p in r["peers"] and r["peers"][p]["status"] != "skipped"
                                           for r in results)]
    summary = summarize(results, peers_shown)
    head, rows = table_rows(results, peers_shown)

    notes = [f"{k}: skipped, {v}" for k, v in meta["peers_skipped"].items()]
    if "ort" in peers_shown and "NHWC" in args.layout:
        notes.append("ort*: ONNX Runtime's Conv is NCHW only; NHWC rows time it on the NCHW copy "
                     "of the input")
    if "torch" in peers_shown:
        notes.append("torch: NCHW rows use contiguous tensors, NHWC rows channels_last")
    notes.append(f"inputs start {meta['input_offset_bytes']} bytes past a 64-byte cache line")
    if any(r["threads"] > 1 for r in results):
        notes.append(f"rows of several threads: ONNX Runtime, NumPy and the reference are timed "
                     f"on their own, back to back; the others take turns, each block of calls "
                     f"after {args.gap * 1e3:g} ms of sleep (so that the last one's spinning "
                     f"workers go idle) and one untimed call")
    if "numpy" in peers_shown and not _BlasThreads().controlled:
        notes.append("numpy: BLAS thread count not controlled (install threadpoolctl)")
    if meta["cost_source"] == "bench":
        notes.append("FLOPs/bytes: counted by the benchmark (sepconv.cost not available)")
    load = meta.get("loadavg_start")
    if load and load[0] > 0.5 * ncpu:
        notes.append(f"the machine was busy: load average {load[0]:.1f} on {ncpu} CPUs at the "
                     "start; compare only within this run")
    padded = sorted({CASES_BY_NAME[r["case"]] for r in results if r["op"] in ("depthwise", "conv2d")
                     and CASES_BY_NAME[r["case"]].taps_inside < 0.95}, key=lambda c: c.name)
    if padded:
        notes.append("FLOPs count the taps in the zero padding (sepconv.cost), which the kernels "
                     "skip; executed share: " +
                     ", ".join(f"{c.name} {c.taps_inside:.0%}" for c in padded))
    if any(r["ours"].get("pct_probe") for r in results):
        notes.append("%probe: of the peak-FMA probe timed in turns with sepconv in the same row "
                     "(the machine's peak under the load it had then)")
    if not any(r["ours"].get("pct_peak") for r in results):
        notes.append("%peak: no machine peak (pass --peak-gflops or write bench/machine.json)")
    header = (f"sepconv {sepconv.__version__} ({meta['sepconv_config'].get('isa')}) on "
              f"{meta['cpu_model']}, {ncpu} CPUs; median µs per call; "
              "x = peer time / sepconv time (> 1: sepconv faster)")
    print(header)
    print(format_table(head, rows))
    for n in notes:
        print("note: " + n)
    print()
    print(format_summary(summary, peers_shown))

    if args.json:
        _write(args.json, json.dumps({"metadata": meta, "results": results, "summary": summary},
                                     indent=1, default=str) + "\n")
    if args.markdown:
        cmd = "python -m sepconv.bench " + " ".join(argv)
        md = ["# Benchmarks", "",
              f"Generated by `{cmd.strip()}` on {meta.get('date', '?')}.", "", header, ""]
        md += format_roofline(load_machine(args.machine), args.machine or MACHINE_JSON)
        if args.plot:
            rel = os.path.relpath(args.plot, os.path.dirname(os.path.abspath(args.markdown)))
            md += [f"![ratios per case]({rel})", ""]
        md += [format_markdown(head, rows), ""]
        md += [f"- {n}" for n in notes]
        md += ["", "```", format_summary(summary, peers_shown), "```", ""]
        if args.baseline:
            with open(args.baseline) as f:
                base = json.load(f)
            b_head, b_rows = before_after(results, base["results"])
            md += ["## Before and after", "",
                   f"Our GFLOP/s against the run of {base['metadata'].get('date', '?')} "
                   f"(`--baseline {args.baseline}`), on the rows both runs have; \"vs best peer\" "
                   "is the smaller of the torch and ORT ratios in that run (> 1: sepconv faster "
                   "than both). Two runs on a shared machine: differences under ~1.3x are noise.",
                   "", format_markdown(b_head, b_rows), ""]
        _write(args.markdown, "\n".join(md))
    if args.plot:
        why = write_plot(args.plot, results, peers_shown)
        if why:
            print(f"note: --plot skipped: {why}", file=sys.stderr)
    return 1 if summary["mismatches"] or summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
