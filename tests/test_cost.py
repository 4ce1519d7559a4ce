"""The cost model (sepconv.cost) against brute-force counts, the ops' own shapes and errors.

The brute-force counts come from a deliberately naive grouped convolution written here (plain
Python loops over a zero-padded float64 copy of x, one counter increment per multiply-add, taps
in the padding included). Its padding and output size are worked out here, independently of
sepconv, and its results are checked against the real op, so the counts are those of a
correct implementation of the same convolution.
"""

import dataclasses
import math
import pathlib
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

import sepconv
from sepconv import cost

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "cost-model.md"


# ------------------------------------------------------------------------------------------
# naive instrumented implementation (NCHW, float64)
# ------------------------------------------------------------------------------------------
class Counter:
    def __init__(self):
        self.madds = 0  # multiply-adds executed
        self.bias_adds = 0
        self.activations = {}  # name -> elements activated

    def act(self, name, count):
        if name is not None:
            self.activations[name] = self.activations.get(name, 0) + count

    def flops(self):
        return (2 * self.madds + self.bias_adds
                + sum(cost.ACTIVATION_FLOPS[a] * n for a, n in self.activations.items()))


def _pads(size, k, s, d, padding, axis):
    """(before, after) padding along one axis, worked out from the op's documented rules."""
    span = (k - 1) * d + 1
    if padding == "valid":
        return 0, 0
    if padding == "same":  # TensorFlow: out = ceil(in / s), odd extra at the end
        out = -(-size // s)
        total = max((out - 1) * s + span - size, 0)
        return total // 2, total - total // 2
    if isinstance(padding, int):
        return padding, padding
    if isinstance(padding[0], int):
        return padding[axis], padding[axis]
    return tuple(padding[axis])


def _activate(v, name):
    if name is None:
        return v
    if name == "relu":
        return max(v, 0.0)
    if name == "relu6":
        return min(max(v, 0.0), 6.0)
    if name == "hardswish":
        return v * min(max(v + 3.0, 0.0), 6.0) / 6.0
    return v / (1.0 + math.exp(-v))


def naive_conv(x, w, b, groups, stride=1, padding=0, dilation=1, activation=None, counter=None):
    """Grouped conv of NCHW x (N, C, H, W) with w (Cout, C/groups, KH, KW), counting madds."""
    n, c, h, wd = x.shape
    cout, cin_g, kh, kw = w.shape
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    pt, pb = _pads(h, kh, sh, dh, padding, 0)
    pl, pr = _pads(wd, kw, sw, dw, padding, 1)
    xp = np.zeros((n, c, h + pt + pb, wd + pl + pr))
    xp[:, :, pt:pt + h, pl:pl + wd] = x
    oh = 0
    while oh * sh + (kh - 1) * dh < xp.shape[2]:
        oh += 1
    ow = 0
    while ow * sw + (kw - 1) * dw < xp.shape[3]:
        ow += 1
    y = np.zeros((n, cout, oh, ow))
    cout_g = cout // groups
    for bi in range(n):
        for o in range(cout):
            g = o // cout_g
            for i in range(oh):
                for j in range(ow):
                    acc = 0.0
                    for ci in range(cin_g):
                        for ky in range(kh):
                            for kx in range(kw):
                                acc += (xp[bi, g * cin_g + ci, i * sh + ky * dh, j * sw + kx * dw]
                                        * w[o, ci, ky, kx])
                                counter.madds += 1
                    if b is not None:
                        acc += b[o]
                        counter.bias_adds += 1
                    y[bi, o, i, j] = _activate(acc, activation)
            counter.act(activation, oh * ow)
    return y


def to_layout(a, layout, unbatched):
    """An NCHW array in `layout`, without its batch axis if `unbatched`."""
    if layout == "NHWC":
        a = a.transpose(0, 2, 3, 1)
    a = np.ascontiguousarray(a)
    return a[0] if unbatched else a


def rand(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def check_close(got, want):
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(want).max()))


# ------------------------------------------------------------------------------------------
# formulas vs brute-force counts
# ------------------------------------------------------------------------------------------
WINDOW_CASES = [
    # C, H, W, (KH, KW), stride, padding, dilation, activation (depthwise test)
    dict(c=3, h=7, w=6, k=(3, 3), stride=2, padding=0, dilation=1, act=None),
    dict(c=2, h=9, w=8, k=(3, 3), stride=1, padding=2, dilation=2, act="relu"),
    dict(c=2, h=7, w=8, k=(3, 3), stride=2, padding="same", dilation=1, act="relu6"),
    dict(c=2, h=6, w=5, k=(2, 3), stride=(1, 2), padding=((1, 0), (2, 1)), dilation=1,
         act="hardswish"),
    dict(c=2, h=6, w=7, k=(1, 3), stride=1, padding="same", dilation=(1, 2), act="silu"),
    dict(c=2, h=5, w=5, k=(3, 3), stride=1, padding="valid", dilation=1, act="relu"),
]
IDS = [f"case{i}" for i in range(len(WINDOW_CASES))]


@pytest.mark.parametrize("case", WINDOW_CASES, ids=IDS)
@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_counts(case, multiplier):
    rng = np.random.default_rng(1)
    c, kh, kw = case["c"], *case["k"]
    layout, unbatched = ("NHWC", False) if multiplier == 2 else ("NCHW", True)
    act = case["act"]
    win = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"])
    x = rand(rng, (1, c, case["h"], case["w"]))
    w = rand(rng, (c * multiplier, 1, kh, kw))
    b = rand(rng, (c * multiplier,))
    cnt = Counter()
    ref = naive_conv(x.astype(np.float64), w, b, groups=c, activation=act, counter=cnt, **win)
    xs = to_layout(x, layout, unbatched)
    y = sepconv.depthwise_conv2d(xs, w, b, layout=layout, activation=act, **win)
    check_close(y, to_layout(ref, layout, unbatched))

    got = cost.depthwise_conv2d(xs.shape, w.shape, True, layout=layout, activation=act, **win)
    assert got.output_shape == y.shape
    assert got.multiplications == cnt.madds
    assert got.flops == cnt.flops()
    assert got.min_bytes == 4 * (x.size + w.size + b.size + y.size)
    _, oh, ow = ref.shape[1:]
    assert got.multiplications == c * multiplier * oh * ow * kh * kw  # the formula


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("shape4", [False, True])
def test_pointwise_counts(layout, shape4):
    rng = np.random.default_rng(2)
    x = rand(rng, (2, 5, 4, 3))
    w = rand(rng, (6, 5, 1, 1))
    cnt = Counter()
    ref = naive_conv(x.astype(np.float64), w, None, groups=1, activation="relu", counter=cnt)
    xs = to_layout(x, layout, False)
    wa = w if shape4 else w.reshape(6, 5)
    y = sepconv.pointwise_conv2d(xs, wa, layout=layout, activation="relu")
    check_close(y, to_layout(ref, layout, False))
    got = cost.pointwise_conv2d(xs.shape, wa.shape, layout=layout, activation="relu")
    assert got.output_shape == y.shape
    assert got.multiplications == cnt.madds == 2 * 6 * 5 * 4 * 3  # N * Cout * Cin * H*W
    assert got.flops == cnt.flops()
    assert got.min_bytes == 4 * (x.size + w.size + y.size)


@pytest.mark.parametrize("case", WINDOW_CASES, ids=IDS)
@pytest.mark.parametrize("groups", [1, 2])
def test_conv2d_counts(case, groups):
    rng = np.random.default_rng(3)
    c, kh, kw = 2 * case["c"], *case["k"]
    cout = 4
    layout = "NHWC" if groups == 2 else "NCHW"
    win = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"])
    x = rand(rng, (1, c, case["h"], case["w"]))
    w = rand(rng, (cout, c // groups, kh, kw))
    cnt = Counter()
    ref = naive_conv(x.astype(np.float64), w, None, groups=groups, activation="silu",
                     counter=cnt, **win)
    xs = to_layout(x, layout, False)
    y = sepconv.conv2d(xs, w, groups=groups, layout=layout, activation="silu", **win)
    check_close(y, to_layout(ref, layout, False))
    got = cost.conv2d(xs.shape, w.shape, groups=groups, layout=layout, activation="silu", **win)
    assert got.output_shape == y.shape
    assert got.multiplications == cnt.madds
    assert got.flops == cnt.flops()
    assert got.min_bytes == 4 * (x.size + w.size + y.size)
    oh, ow = ref.shape[2:]
    assert got.multiplications == cout * oh * ow * kh * kw * c // groups  # the formula


@pytest.mark.parametrize("case", WINDOW_CASES[:4], ids=IDS[:4])
@pytest.mark.parametrize("multiplier", [1, 2])
def test_separable_counts(case, multiplier):
    rng = np.random.default_rng(4)
    c, kh, kw = case["c"], *case["k"]
    cmid, cout = c * multiplier, 3
    win = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"])
    x = rand(rng, (2, c, case["h"], case["w"]))
    dw = rand(rng, (cmid, 1, kh, kw))
    pw = rand(rng, (cout, cmid))
    db, pb = rand(rng, (cmid,)), rand(rng, (cout,))
    cnt = Counter()
    mid = naive_conv(x.astype(np.float64), dw, db, groups=c, activation="relu6", counter=cnt,
                     **win)
    ref = naive_conv(mid, pw[:, :, None, None], pb, groups=1, activation="hardswish",
                     counter=cnt)
    y = sepconv.separable_conv2d(x, dw, pw, db, pb, depthwise_activation="relu6",
                                 activation="hardswish", **win)
    check_close(y, ref)
    got = cost.separable_conv2d(x.shape, dw.shape, pw.shape, True, True,
                                depthwise_activation="relu6", activation="hardswish", **win)
    assert got.output_shape == y.shape
    assert got.multiplications == cnt.madds
    assert got.flops == cnt.flops()
    # fused: the intermediate `mid` is not counted
    assert got.min_bytes == 4 * (x.size + dw.size + pw.size + db.size + pb.size + y.size)
    oh, ow = ref.shape[2:]
    assert got.multiplications == 2 * cmid * oh * ow * (kh * kw + cout)  # the formula

    # depthwise + pointwise = the unfused op: same arithmetic, intermediate written and read
    parts = (cost.depthwise_conv2d(x.shape, dw.shape, True, activation="relu6", **win)
             + cost.pointwise_conv2d(mid.shape, pw.shape, True, activation="hardswish"))
    assert parts.multiplications == got.multiplications and parts.flops == got.flops
    assert parts.min_bytes == got.min_bytes + 2 * 4 * mid.size
    assert parts.output_shape == got.output_shape


@pytest.mark.parametrize("expand", [True, False])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_inverted_residual_counts(expand, layout):
    rng = np.random.default_rng(5)
    c, ce, cout, k = 4, 12 if expand else 4, 4, 3
    x = rand(rng, (2, c, 7, 6))
    ew = rand(rng, (ce, c)) if expand else None
    dw, pw = rand(rng, (ce, 1, k, k)), rand(rng, (cout, ce))
    cnt = Counter()
    mid = x.astype(np.float64)
    if expand:
        mid = naive_conv(mid, ew[:, :, None, None], None, groups=1, activation="relu6",
                         counter=cnt)
    mid2 = naive_conv(mid, dw, None, groups=ce, activation="relu6", counter=cnt, padding=1)
    ref = naive_conv(mid2, pw[:, :, None, None], None, groups=1, activation=None, counter=cnt)
    ref = ref + x  # the residual: stride 1 and Cout == C
    y = sepconv.inverted_residual(to_layout(x, layout, False), ew, dw, pw, layout=layout)
    check_close(y, to_layout(ref, layout, False))
    got = cost.inverted_residual(to_layout(x, layout, False).shape,
                                 None if ew is None else ew.shape, dw.shape, pw.shape,
                                 layout=layout)
    assert got.output_shape == y.shape
    assert got.multiplications == cnt.madds
    assert got.flops == cnt.flops() + y.size  # + the residual adds
    weights = dw.size + pw.size + (ew.size if expand else 0)
    assert got.min_bytes == 4 * (x.size + weights + y.size)  # fused: no intermediate traffic


def test_cost_add_and_sum():
    a = cost.Cost(1, 2, 3, (1, 2))
    b = cost.Cost(10, 20, 30, (4, 5))
    assert a + b == cost.Cost(11, 22, 33, (4, 5))
    assert sum([a, b]) == a + b
    with pytest.raises(TypeError):
        a + 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.flops = 0


# ------------------------------------------------------------------------------------------
# separable_ratio
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 3, 5, 7, (3, 5), (1, 7)])
@pytest.mark.parametrize("m,n", [(8, 8), (3, 16), (32, 5), (144, 24)])
def test_separable_ratio_matches_costs(k, m, n):
    kh, kw = (k, k) if isinstance(k, int) else k
    x = (1, m, 9, 11)
    sep = cost.separable_conv2d(x, (m, 1, kh, kw), (n, m), padding="same")
    std = cost.conv2d(x, (n, m, kh, kw), padding="same")
    assert sep.output_shape == std.output_shape == (1, n, 9, 11)
    exact = Fraction(sep.multiplications, std.multiplications)
    assert exact == Fraction(1, n) + Fraction(1, kh * kw)  # M cancels
    assert cost.separable_ratio(k, n) == pytest.approx(float(exact), rel=1e-12)


def test_separable_ratio_errors():
    for bad in [(0, 3), 0, (3,), "3", 2.5]:
        with pytest.raises(ValueError):
            cost.separable_ratio(bad, 8)
    for bad in [0, -1, 2.0]:
        with pytest.raises(ValueError):
            cost.separable_ratio(3, bad)


# ------------------------------------------------------------------------------------------
# the worked example of docs/cost-model.md (MobileNetV2: M=144, K=3, N=24 at 56x56)
# ------------------------------------------------------------------------------------------
def test_doc_worked_example():
    x = (1, 144, 56, 56)
    dw = cost.depthwise_conv2d(x, (144, 1, 3, 3), padding="same")
    pw = cost.pointwise_conv2d(dw.output_shape, (24, 144))
    sep = cost.separable_conv2d(x, (144, 1, 3, 3), (24, 144, 1, 1), padding="same")
    std = cost.conv2d(x, (24, 144, 3, 3), padding="same")
    block = cost.separable_conv2d(x, (144, 1, 3, 3), (24, 144), True, True, padding="same",
                                  depthwise_activation="relu6")
    numbers = {
        "depthwise": (dw.multiplications, 4_064_256),
        "pointwise": (pw.multiplications, 10_838_016),
        "separable": (sep.multiplications, 14_902_272),
        "standard": (std.multiplications, 97_542_144),
        "separable flops": (sep.flops, 29_804_544),
        "block flops": (block.flops, 31_234_560),
        "fused bytes": (sep.min_bytes, 2_126_400),
        "unfused bytes": ((dw + pw).min_bytes, 5_739_072),
        "standard bytes": (std.min_bytes, 2_231_808),
    }
    for name, (got, want) in numbers.items():
        assert got == want, name
    assert sep.multiplications == dw.multiplications + pw.multiplications
    assert sep.output_shape == std.output_shape == (1, 24, 56, 56)
    ratio = sep.multiplications / std.multiplications
    assert ratio == pytest.approx(cost.separable_ratio(3, 24)) and round(ratio, 4) == 0.1528
    assert round(1 / ratio, 2) == 6.55
    assert round(9 * 144 / (9 + 24), 1) == 39.3  # the popular, wrong formula

    if not DOC.exists():
        pytest.skip("docs/cost-model.md not in this tree")
    text = DOC.read_text(encoding="utf-8")
    for _, want in numbers.values():
        assert f"{want:,}" in text, f"{want:,} missing from {DOC.name}"
    for s in ["0.1528", "6.55", "39.3"]:
        assert s in text, s


# ------------------------------------------------------------------------------------------
# output_shape == the op's output shape, on random cases
# ------------------------------------------------------------------------------------------
def _random_call(rng, op):
    layout = ["NCHW", "NHWC"][rng.integers(2)]
    unbatched = bool(rng.integers(2))
    n, c, h, w = int(rng.integers(1, 3)), int(rng.integers(1, 5)), int(rng.integers(1, 10)), \
        int(rng.integers(1, 10))
    kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    pads = [0, 1, (1, 2), ((0, 2), (1, 0)), "same", "valid"]
    kw_args = dict(layout=layout)
    if op != "pointwise_conv2d":
        kw_args.update(stride=(int(rng.integers(1, 4)), int(rng.integers(1, 4))),
                       dilation=int(rng.integers(1, 3)), padding=pads[rng.integers(len(pads))])
    x = rand(rng, (n, c, h, w) if layout == "NCHW" else (n, h, w, c))
    if unbatched:
        x = x[0]
    m, cout = int(rng.integers(1, 3)), int(rng.integers(1, 5))
    if op == "depthwise_conv2d":
        arrays = [x, rand(rng, (c * m, 1, kh, kw))]
    elif op == "pointwise_conv2d":
        arrays = [x, rand(rng, (cout, c) if rng.integers(2) else (cout, c, 1, 1))]
    elif op == "separable_conv2d":
        arrays = [x, rand(rng, (c * m, 1, kh, kw)), rand(rng, (cout, c * m))]
    else:
        groups = [g for g in (1, 2, 4) if c % g == 0][rng.integers(1 + (c % 2 == 0))]
        arrays = [x, rand(rng, (cout * groups, c // groups, kh, kw))]
        kw_args["groups"] = groups
    return arrays, kw_args


@pytest.mark.parametrize("seed,op", enumerate(["depthwise_conv2d", "pointwise_conv2d",
                                              "separable_conv2d", "conv2d"]))
def test_output_shape_matches_op(seed, op):
    rng = np.random.default_rng(seed)
    ran = 0
    for _ in range(60):
        arrays, kw = _random_call(rng, op)
        try:
            y = getattr(sepconv, op)(*arrays, **kw)
        except ValueError as exc:  # kernel larger than the padded input: cost must agree
            with pytest.raises(ValueError) as info:
                getattr(cost, op)(*[a.shape for a in arrays], **kw)
            assert str(info.value) == str(exc)
            continue
        assert getattr(cost, op)(*[a.shape for a in arrays], **kw).output_shape == y.shape
        ran += 1
    assert ran > 30


# ------------------------------------------------------------------------------------------
# invalid shapes raise the ops' ValueErrors (same message)
# ------------------------------------------------------------------------------------------
def _bad(op, x=(2, 4, 8, 8), weights=None, **kw):
    default = {"depthwise_conv2d": [(4, 1, 3, 3)], "pointwise_conv2d": [(4, 4)],
               "separable_conv2d": [(4, 1, 3, 3), (4, 4)], "conv2d": [(4, 2, 3, 3)]}[op]
    if op == "conv2d":
        kw.setdefault("groups", 2)
    return pytest.param(op, x, weights or default, kw, id=f"{op}-{x}-{weights}-{kw}")


BAD = [
    _bad("depthwise_conv2d", x=(4, 8, 8, 2, 1)),
    _bad("depthwise_conv2d", x=(8, 8), layout="NHWC"),
    _bad("depthwise_conv2d", weights=[(6, 1, 3, 3)]),
    _bad("depthwise_conv2d", weights=[(4, 2, 3, 3)]),
    _bad("depthwise_conv2d", weights=[(4, 3, 3)]),
    _bad("depthwise_conv2d", weights=[(0, 1, 3, 3)]),
    _bad("depthwise_conv2d", layout="NHWC"),
    _bad("depthwise_conv2d", weights=[(4, 1, 9, 3)]),
    _bad("depthwise_conv2d", weights=[(4, 1, 5, 5)], dilation=3, padding=1),
    _bad("depthwise_conv2d", stride=0),
    _bad("depthwise_conv2d", stride=(1, 2, 3)),
    _bad("depthwise_conv2d", dilation=(1, -1)),
    _bad("depthwise_conv2d", padding=-1),
    _bad("depthwise_conv2d", padding="full"),
    _bad("depthwise_conv2d", padding=(1, 2, 3)),
    _bad("depthwise_conv2d", layout="CHW"),
    _bad("depthwise_conv2d", activation="gelu"),
    _bad("depthwise_conv2d", x=(2, 4, 0, 8)),
    _bad("pointwise_conv2d", weights=[(4, 3)]),
    _bad("pointwise_conv2d", weights=[(4, 4, 3, 3)]),
    _bad("pointwise_conv2d", weights=[(4, 4, 1)]),
    _bad("pointwise_conv2d", weights=[(0, 4)]),
    _bad("pointwise_conv2d", x=(0, 4, 8, 8)),
    _bad("pointwise_conv2d", x=(2, 4, 8, 0)),
    _bad("pointwise_conv2d", activation="tanh"),
    _bad("separable_conv2d", weights=[(6, 1, 3, 3), (4, 6)]),
    _bad("separable_conv2d", weights=[(8, 1, 3, 3), (4, 4)]),
    _bad("separable_conv2d", weights=[(4, 1, 3, 3), (4, 4, 3, 3)]),
    _bad("separable_conv2d", weights=[(4, 1, 3, 3), (0, 4)]),
    _bad("separable_conv2d", depthwise_activation="gelu"),
    _bad("separable_conv2d", activation="gelu"),
    _bad("separable_conv2d", padding=((1, 1), (1, -1))),
    _bad("conv2d", groups=3),
    _bad("conv2d", groups=0),
    _bad("conv2d", groups=True),
    _bad("conv2d", groups=2.0),
    _bad("conv2d", weights=[(4, 4, 3, 3)]),
    _bad("conv2d", weights=[(3, 2, 3, 3)]),
    _bad("conv2d", weights=[(0, 2, 3, 3)]),
    _bad("conv2d", weights=[(4, 2, 3)]),
    _bad("conv2d", groups=1, weights=[(4, 4, 3, 3)], x=(0, 4, 8, 8)),
    _bad("conv2d", groups=1, weights=[(4, 4, 3, 3)], x=(1, 0, 8, 8)),
    _bad("conv2d", weights=[(4, 2, 3, 3)], padding="valid", x=(1, 4, 2, 8)),
]


@pytest.mark.parametrize("op,x,weights,kw", BAD)
def test_invalid_shapes_raise_the_ops_errors(op, x, weights, kw):
    arrays = [np.zeros(x, np.float32)] + [np.zeros(w, np.float32) for w in weights]
    with pytest.raises(ValueError) as op_error:
        getattr(sepconv, op)(*arrays, **kw)
    with pytest.raises(ValueError) as cost_error:
        getattr(cost, op)(x, *weights, **kw)
    assert str(cost_error.value) == str(op_error.value)


@pytest.mark.parametrize("op", ["depthwise_conv2d", "separable_conv2d"])
def test_zero_channels_is_a_value_error(op):
    weights = [(2, 1, 3, 3)] + ([(2, 2)] if op == "separable_conv2d" else [])
    with pytest.raises(ValueError, match="channels"):
        getattr(cost, op)((1, 0, 4, 4), *weights)


def test_bias_must_be_bool_and_shapes_tuples():
    with pytest.raises(TypeError, match="bias"):
        cost.depthwise_conv2d((1, 4, 8, 8), (4, 1, 3, 3), np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="pointwise_bias"):
        cost.separable_conv2d((1, 4, 8, 8), (4, 1, 3, 3), (4, 4), False, None)
    with pytest.raises(TypeError, match="x_shape"):
        cost.conv2d(np.zeros((1, 4, 8, 8), np.float32), (4, 4, 3, 3))
    with pytest.raises(TypeError, match="weight_shape"):
        cost.pointwise_conv2d((1, 4, 8, 8), (4.0, 4))
    with pytest.raises(ValueError, match="weight_shape"):
        cost.depthwise_conv2d((1, 4, 8, 8), (-4, 1, 3, 3))
    with pytest.raises(ValueError, match="x_shape"):
        cost.depthwise_conv2d((1, 4, -8, 8), (4, 1, 3, 3))
    assert cost.pointwise_conv2d(
        [1, 4, 8, 8], [np.int64(2), 4], np.bool_(True)).min_bytes == 4 * (256 + 8 + 2 + 128)


# ------------------------------------------------------------------------------------------
# measure_ratio, plot_ratio, CLI
# ------------------------------------------------------------------------------------------
def test_measure_ratio():
    rows = cost.measure_ratio([{"K": 3, "N": 8, "H": 6}, {"K": 5, "M": 4, "N": 6, "H": 7,
                                                          "W": 9}], repeats=2)
    assert [(r["K"], r["M"], r["N"], r["H"], r["W"]) for r in rows] == [(3, 8, 8, 6, 6),
                                                                        (5, 4, 6, 7, 9)]
    for r in rows:
        assert r["standard_us"] > 0 and r["separable_us"] > 0
        assert r["ratio"] == cost.separable_ratio(r["K"], r["N"])
    with pytest.raises(ValueError, match="repeats"):
        cost.measure_ratio([{"K": 3, "N": 8}], repeats=0)


def _is_png(path):
    return path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_ratio(tmp_path):
    pytest.importorskip("matplotlib")
    p = tmp_path / "theory.png"
    assert cost.plot_ratio(str(p)) == str(p) and _is_png(p)
    measured = [dict(K=k, N=n, standard_us=100.0 * k * k, separable_us=10.0 + k)
                for n in (32, 64) for k in (3, 5, 7)]
    p2 = tmp_path / "measured.png"
    cost.plot_ratio(str(p2), kernel_sizes=[1, 3, 5], out_channels=[8], measured=measured)
    assert _is_png(p2)


def test_cli_quick(tmp_path):
    pytest.importorskip("matplotlib")
    p = tmp_path / "cost.png"
    r = subprocess.run([sys.executable, "-m", "sepconv.cost", "--plot", str(p), "--quick",
                        "--repeats", "1"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "speed-up" in r.stdout and _is_png(p)
