"""``python -m sepconv``: the configuration, then each op on a real MobileNetV2 layer (and the
inverted residual block around it), checked against the float64 reference and timed (median),
with GFLOP/s from the cost model."""

from __future__ import annotations

import argparse
import time
from typing import Callable, Optional, Sequence

import numpy as np

import sepconv
from sepconv import cost, reference


def _median_us(fn: Callable[[], object], min_seconds: float) -> float:
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e6


def _rel_err(out: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(out - ref) / max(np.linalg.norm(ref), 1e-30))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sepconv", description=__doc__)
    parser.add_argument("--layout", choices=["NHWC", "NCHW"], default="NHWC")
    parser.add_argument("--threads", type=int, default=None, help="default: all cores")
    parser.add_argument("--seconds", type=float, default=0.3, help="timing budget per op")
    args = parser.parse_args(argv)
    if args.threads is not None:
        sepconv.set_num_threads(args.threads)
    sepconv.show_config()

    # MobileNetV2 block 3 (56x56): 144-channel 3x3 depthwise + ReLU6, then 1x1 projection to 24.
    rng = np.random.default_rng(0)
    c, hw, k, n_out = 144, 56, 3, 24
    layout = args.layout
    x_nchw = rng.standard_normal((1, c, hw, hw)).astype(np.float32)
    x = x_nchw if layout == "NCHW" else np.ascontiguousarray(x_nchw.transpose(0, 2, 3, 1))
    def weights(shape, fan_in):
        return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)

    dw = weights((c, 1, k, k), k * k)
    dwb = weights(c, 1)
    pw = weights((n_out, c), c)
    pwb = weights(n_out, 1)
    dense = weights((n_out, c, k, k), c * k * k)
    xs = x.shape
    kw = dict(layout=layout)
    # The whole inverted residual block around that layer: 24 -> 144 (expand) -> 144 -> 24, + x.
    x_block = np.ascontiguousarray(x[..., :n_out] if layout == "NHWC" else x[:, :n_out])
    expand, expand_b = weights((c, n_out), n_out), weights(c, 1)
    block_w = dict(expand_weight=expand, depthwise_weight=dw, project_weight=pw,
                   expand_bias=expand_b, depthwise_bias=dwb, project_bias=pwb)
    block = sepconv.InvertedResidual(**block_w, layout=layout)
    separable = sepconv.SeparableConv2d(dw, pw, dwb, pwb, padding=1, depthwise_activation="relu6",
                                        layout=layout)
    block_cost = (cost.pointwise_conv2d(x_block.shape, expand.shape, True, activation="relu6", **kw)
                  .flops + cost.depthwise_conv2d(xs, dw.shape, True, padding=1,
                                                 activation="relu6", **kw).flops
                  + cost.pointwise_conv2d(xs, pw.shape, True, **kw).flops)

    ops = [
        ("depthwise_conv2d 3x3 144ch",
         lambda: sepconv.depthwise_conv2d(x, dw, dwb, padding=1, activation="relu6", **kw),
         lambda: reference.depthwise_conv2d(x, dw, dwb, padding=1, activation="relu6", **kw),
         cost.depthwise_conv2d(xs, dw.shape, True, padding=1, activation="relu6", **kw).flops),
        ("pointwise_conv2d 144->24",
         lambda: sepconv.pointwise_conv2d(x, pw, pwb, **kw),
         lambda: reference.pointwise_conv2d(x, pw, pwb, **kw),
         cost.pointwise_conv2d(xs, pw.shape, True, **kw).flops),
        ("separable_conv2d 144->24",
         lambda: sepconv.separable_conv2d(x, dw, pw, dwb, pwb, padding=1,
                                          depthwise_activation="relu6", **kw),
         lambda: reference.separable_conv2d(x, dw, pw, dwb, pwb, padding=1,
                                            depthwise_activation="relu6", **kw),
         cost.separable_conv2d(xs, dw.shape, pw.shape, True, True, padding=1,
                               depthwise_activation="relu6", **kw).flops),
        ("SeparableConv2d layer (prepacked)", lambda: separable(x),
         lambda: reference.separable_conv2d(x, dw, pw, dwb, pwb, padding=1,
                                            depthwise_activation="relu6", **kw),
         cost.separable_conv2d(xs, dw.shape, pw.shape, True, True, padding=1,
                               depthwise_activation="relu6", **kw).flops),
        ("inverted_residual 24->144->24", lambda: block(x_block),
         lambda: reference.inverted_residual(x_block, **block_w, padding=1, residual=True, **kw),
         block_cost),
        ("conv2d 3x3 144->24 (standard)",
         lambda: sepconv.conv2d(x, dense, pwb, padding=1, **kw),
         lambda: reference.conv2d(x, dense, pwb, padding=1, **kw),
         cost.conv2d(xs, dense.shape, True, padding=1, **kw).flops),
    ]
    print(f"\nMobileNetV2 layer, x {xs} {layout}, float32, {sepconv.get_num_threads()} thread(s)")
    print(f"{'op':<34} {'rel. error':>10} {'median us':>10} {'GFLOP/s':>8}")
    times = {}
    ok = True
    for name, run, ref, flops in ops:
        err = _rel_err(run(), ref())
        ok &= err < 1e-5
        us = _median_us(run, args.seconds)
        times[name.split()[0]] = us
        print(f"{name:<34} {err:>10.1e} {us:>10.1f} {flops / us / 1e3:>8.1f}")
    theory = cost.separable_ratio(k, n_out)
    measured = times["separable_conv2d"] / times["conv2d"]
    print(f"\nseparable / standard: multiplications {theory:.3f} (1/N + 1/K^2), "
          f"time {measured:.3f}")
    print("all results match the float64 reference" if ok else "MISMATCH against the reference")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
