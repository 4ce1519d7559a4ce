"""The float64 reference against hand-computed cases and a naive nested-loop convolution.

Needs only NumPy: runs before the C++ extension exists.
"""

import math

import numpy as np
import pytest

from conftest import reference as R

X33 = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=np.float32)
K22 = np.array([[1, 2], [3, 4]], dtype=np.float32)
X44 = np.arange(16, dtype=np.float32).reshape(4, 4)


def img(a):
    """(H, W) -> (1, 1, H, W)."""
    return np.asarray(a, dtype=np.float32)[None, None]


# ------------------------------------------------------------------------------------------
# hand-computed cases
# ------------------------------------------------------------------------------------------
def test_depthwise_2x2_on_3x3_by_hand():
    y = R.depthwise_conv2d(img(X33), img(K22))
    # cross-correlation (PyTorch convention, no kernel flip)
    expected = [[1 * 1 + 2 * 2 + 4 * 3 + 5 * 4, 2 * 1 + 3 * 2 + 5 * 3 + 6 * 4],
                [4 * 1 + 5 * 2 + 7 * 3 + 8 * 4, 5 * 1 + 6 * 2 + 8 * 3 + 9 * 4]]
    assert expected == [[37, 47], [67, 77]]
    assert y.dtype == np.float64 and y.shape == (1, 1, 2, 2)
    np.testing.assert_array_equal(y[0, 0], expected)


def test_conv2d_and_separable_agree_on_2x2_by_hand():
    np.testing.assert_array_equal(R.conv2d(img(X33), img(K22))[0, 0], [[37, 47], [67, 77]])
    y = R.separable_conv2d(img(X33), img(K22), np.array([[2.0]], np.float32))
    np.testing.assert_array_equal(y[0, 0], [[74, 94], [134, 154]])


def test_stride_2_by_hand():
    y = R.depthwise_conv2d(img(X44), np.ones((1, 1, 2, 2), np.float32), stride=2)
    np.testing.assert_array_equal(y[0, 0], [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7],
                                            [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]])


def test_asymmetric_stride_by_hand():
    y = R.depthwise_conv2d(img(X44), np.ones((1, 1, 1, 1), np.float32), stride=(1, 3))
    np.testing.assert_array_equal(y[0, 0], X44[:, ::3])


def test_dilation_2_by_hand():
    y = R.depthwise_conv2d(img(X33), img(K22), dilation=2)
    # taps at (0,0), (0,2), (2,0), (2,2)
    np.testing.assert_array_equal(y[0, 0], [[1 * 1 + 3 * 2 + 7 * 3 + 9 * 4]])


def test_padding_int_by_hand():
    y = R.depthwise_conv2d(img(X33), np.ones((1, 1, 3, 3), np.float32), padding=1)
    np.testing.assert_array_equal(y[0, 0], [[12, 21, 16], [27, 45, 33], [24, 39, 28]])


def test_padding_same_odd_total_by_hand():
    # 4x4 input, 2x2 kernel, stride 1: total pad 1 -> top 0 bottom 1, left 0 right 1
    y = R.depthwise_conv2d(img(X44), np.ones((1, 1, 2, 2), np.float32), padding="same")
    np.testing.assert_array_equal(y[0, 0], [[10, 14, 18, 10],
                                            [26, 30, 34, 18],
                                            [42, 46, 50, 26],
                                            [25, 27, 29, 15]])


def test_padding_asymmetric_by_hand():
    # ((top, bottom), (left, right)) = ((1, 0), (0, 1)) with a 1x1 kernel just shifts in zeros
    y = R.depthwise_conv2d(img(X33), img([[1.0]]), padding=((1, 0), (0, 1)))
    expected = np.zeros((4, 4))
    expected[1:, :3] = X33
    np.testing.assert_array_equal(y[0, 0], expected)


@pytest.mark.parametrize(
    "size,k,s,d,expected",
    [
        (4, 2, 1, 1, (0, 1)),  # odd total -> extra at the end
        (5, 3, 2, 1, (1, 1)),  # out 3, total 2
        (6, 3, 2, 1, (0, 1)),  # out 3, total 1
        (5, 1, 2, 1, (0, 0)),  # total would be negative -> 0
        (5, 3, 1, 2, (2, 2)),  # dilated span 5
        (7, 4, 3, 1, (1, 2)),  # out 3, total 3
        (1, 31, 1, 1, (15, 15)),
        (8, 2, 2, 1, (0, 0)),
    ],
)
def test_resolve_padding_same(size, k, s, d, expected):
    pads = R.resolve_padding("same", (size, size), (k, k), s, d)
    assert pads == expected + expected
    t, b = expected
    assert R.output_size(size, k, s, d, t, b) == math.ceil(size / s)


def test_resolve_padding_forms():
    assert R.resolve_padding(2, (5, 5), (3, 3)) == (2, 2, 2, 2)
    assert R.resolve_padding((1, 2), (5, 5), (3, 3)) == (1, 1, 2, 2)
    assert R.resolve_padding(((1, 2), (0, 3)), (5, 5), (3, 3)) == (1, 2, 0, 3)
    assert R.resolve_padding("valid", (5, 5), (3, 3), 2, 3) == (0, 0, 0, 0)
    with pytest.raises(ValueError):
        R.resolve_padding(-1, (5, 5), (3, 3))
    with pytest.raises(ValueError):
        R.resolve_padding("full", (5, 5), (3, 3))


def test_multiplier_2_by_hand():
    x = np.array([[[[1.0, 2.0]]], [[[3.0, 4.0]]]], np.float32).reshape(1, 2, 1, 2)
    w = np.array([1.0, 2.0, 3.0, 4.0], np.float32).reshape(4, 1, 1, 1)
    b = np.array([0.5, 0.0, 0.0, -1.0], np.float32)
    y = R.depthwise_conv2d(x, w, b)
    # output channel o reads input channel o // 2
    np.testing.assert_array_equal(y[0, :, 0, :], [[1.5, 2.5], [2, 4], [9, 12], [11, 15]])


def test_multiplier_2_nhwc_by_hand():
    x = np.array([1.0, 3.0], np.float32).reshape(1, 1, 1, 2)  # NHWC, C=2
    w = np.array([1.0, 2.0, 3.0, 4.0], np.float32).reshape(4, 1, 1, 1)
    y = R.depthwise_conv2d(x, w, layout="NHWC")
    np.testing.assert_array_equal(y.reshape(-1), [1, 2, 9, 12])


def test_groups_2_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0], np.float32).reshape(1, 4, 1, 1)
    w = np.array([[10.0, 20.0], [1.0, -1.0]], np.float32).reshape(2, 2, 1, 1)
    y = R.conv2d(x, w, np.array([0.0, 100.0], np.float32), groups=2)
    # out0 = 10*x0 + 20*x1 ; out1 = x2 - x3 + 100
    np.testing.assert_array_equal(y.reshape(-1), [50, 99])


def test_groups_equal_channels_is_depthwise():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    w = rng.standard_normal((6, 1, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(R.conv2d(x, w, groups=3, padding=1),
                               R.depthwise_conv2d(x, w, padding=1), rtol=1e-12, atol=1e-12)


def test_pointwise_by_hand():
    x = np.array([1.0, 2.0, 3.0], np.float32).reshape(1, 3, 1, 1)
    w = np.array([[1, 0, 0], [1, 1, 1], [0, -1, 2]], np.float32)
    b = np.array([0.0, 1.0, 2.0], np.float32)
    y = R.pointwise_conv2d(x, w, b)
    np.testing.assert_array_equal(y.reshape(-1), [1, 7, 6])
    np.testing.assert_array_equal(R.pointwise_conv2d(x, w[:, :, None, None], b), y)
    y = R.pointwise_conv2d(x.reshape(1, 1, 1, 3), w, b, layout="NHWC", activation="relu6")
    np.testing.assert_array_equal(y.reshape(-1), [1, 6, 6])


def test_separable_by_hand_with_both_activations():
    x = np.array([-2.0, 3.0], np.float32).reshape(1, 2, 1, 1)
    dw = np.array([1.0, 1.0], np.float32).reshape(2, 1, 1, 1)
    db = np.array([0.0, 5.0], np.float32)
    pw = np.array([[1.0, 1.0], [1.0, -1.0]], np.float32)
    pb = np.array([0.0, 0.0], np.float32)
    # depthwise: [-2, 8] -> relu6 -> [0, 6] ; pointwise: [6, -6] -> relu -> [6, 0]
    y = R.separable_conv2d(x, dw, pw, db, pb, depthwise_activation="relu6", activation="relu")
    np.testing.assert_array_equal(y.reshape(-1), [6, 0])
    y = R.separable_conv2d(x, dw, pw, db, pb)
    np.testing.assert_array_equal(y.reshape(-1), [6, -10])


# ------------------------------------------------------------------------------------------
# activations
# ------------------------------------------------------------------------------------------
def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


@pytest.mark.parametrize(
    "name,points",
    [
        (None, [(-2.5, -2.5), (0.0, 0.0), (7.0, 7.0)]),
        ("relu", [(-1.0, 0.0), (0.0, 0.0), (2.0, 2.0), (-1e30, 0.0)]),
        ("relu6", [(-1.0, 0.0), (3.0, 3.0), (6.0, 6.0), (7.0, 6.0), (1e30, 6.0)]),
        ("hardswish", [(-4.0, 0.0), (-3.0, 0.0), (-1.0, -1.0 / 3.0), (0.0, 0.0), (1.0, 2.0 / 3.0),
                       (3.0, 3.0), (5.0, 5.0)]),
        ("silu", [(0.0, 0.0), (1.0, sig(1.0)), (-1.0, -sig(-1.0)), (2.0, 2.0 * sig(2.0)),
                  (-50.0, -50.0 * sig(-50.0)), (1000.0, 1000.0), (-1000.0, 0.0)]),
    ],
)
def test_activation_points(name, points):
    xs = np.array([p[0] for p in points])
    expected = np.array([p[1] for p in points])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow warnings
        got = R.activation(xs, name)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-300)


def test_silu_known_values():
    np.testing.assert_allclose(R.activation([1.0, -1.0], "silu"),
                               [0.7310585786300049, -0.2689414213699951], rtol=1e-14)


@pytest.mark.parametrize("name", [None, "relu", "relu6", "hardswish", "silu"])
def test_activation_propagates_nan(name):
    assert np.isnan(R.activation([np.nan], name)).all()


def test_activation_unknown():
    with pytest.raises(ValueError):
        R.activation([1.0], "gelu")


@pytest.mark.parametrize("name", ["relu", "relu6", "hardswish", "silu"])
def test_activation_applied_by_ops(name):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32) * 4
    w = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    np.testing.assert_array_equal(
        R.depthwise_conv2d(x, w, b, activation=name),
        R.activation(R.depthwise_conv2d(x, w, b), name))


# ------------------------------------------------------------------------------------------
# a naive 7-nested-loop convolution as an independent check
# ------------------------------------------------------------------------------------------
def naive_conv2d_nchw(x, w, b, stride, pads, dilation, groups):
    """Direct definition, NCHW, explicit pads (top, bottom, left, right), no padded copy."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    N, Cin, H, W = x.shape
    Cout, cg, KH, KW = w.shape
    sh, sw = stride
    dh, dw = dilation
    t, bt, l, r = pads
    OH = (H + t + bt - (dh * (KH - 1) + 1)) // sh + 1
    OW = (W + l + r - (dw * (KW - 1) + 1)) // sw + 1
    og = Cout // groups
    y = np.zeros((N, Cout, OH, OW))
    for n in range(N):
        for o in range(Cout):
            gi = o // og
            for i in range(OH):
                for j in range(OW):
                    s = 0.0 if b is None else float(b[o])
                    for c in range(cg):
                        for a in range(KH):
                            for e in range(KW):
                                row = i * sh + a * dh - t
                                col = j * sw + e * dw - l
                                if 0 <= row < H and 0 <= col < W:
                                    s += x[n, gi * cg + c, row, col] * w[o, c, a, e]
                    y[n, o, i, j] = s
    return y


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _random_case(seed):
    rng = np.random.default_rng(seed)
    N = int(rng.integers(1, 3))
    H = int(rng.integers(1, 8))
    W = int(rng.integers(1, 8))
    KH = int(rng.integers(1, 5))
    KW = int(rng.integers(1, 5))
    s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    d = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    kind = seed % 4
    if kind == 0:
        padding = "same"
    elif kind == 1:
        padding = ((int(rng.integers(0, 3)), int(rng.integers(0, 3))),
                   (int(rng.integers(0, 3)), int(rng.integers(0, 3))))
    elif kind == 2:
        padding = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
    else:
        padding = int(rng.integers(0, 3))
    pads = R.resolve_padding(padding, (H, W), (KH, KW), s, d)
    if H + pads[0] + pads[1] < d[0] * (KH - 1) + 1 or W + pads[2] + pads[3] < d[1] * (KW - 1) + 1:
        padding = "same"
        pads = R.resolve_padding(padding, (H, W), (KH, KW), s, d)
    return rng, N, H, W, KH, KW, s, d, padding, pads


def _nhwc(a):
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("seed", range(24))
def test_depthwise_vs_naive(seed, layout):
    rng, N, H, W, KH, KW, s, d, padding, pads = _random_case(seed)
    C, m = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((C * m, 1, KH, KW)).astype(np.float32)
    b = rng.standard_normal(C * m).astype(np.float32) if seed % 3 else None
    expected = naive_conv2d_nchw(x, w, b, s, pads, d, groups=C)
    xin = x if layout == "NCHW" else _nhwc(x)
    got = R.depthwise_conv2d(xin, w, b, stride=s, padding=padding, dilation=d, layout=layout)
    if layout == "NHWC":
        got = got.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("seed", range(24))
def test_conv2d_vs_naive(seed, layout):
    rng, N, H, W, KH, KW, s, d, padding, pads = _random_case(seed)
    g = int(rng.integers(1, 4))
    cg, og = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    x = rng.standard_normal((N, g * cg, H, W)).astype(np.float32)
    w = rng.standard_normal((g * og, cg, KH, KW)).astype(np.float32)
    b = rng.standard_normal(g * og).astype(np.float32) if seed % 2 else None
    expected = naive_conv2d_nchw(x, w, b, s, pads, d, groups=g)
    xin = x if layout == "NCHW" else _nhwc(x)
    got = R.conv2d(xin, w, b, stride=s, padding=padding, dilation=d, groups=g, layout=layout)
    if layout == "NHWC":
        got = got.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("seed", range(8))
def test_pointwise_vs_naive(seed, layout):
    rng = np.random.default_rng(100 + seed)
    N, Cin, Cout = int(rng.integers(1, 3)), int(rng.integers(1, 9)), int(rng.integers(1, 9))
    H, W = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    x = rng.standard_normal((N, Cin, H, W)).astype(np.float32)
    w = rng.standard_normal((Cout, Cin)).astype(np.float32)
    b = rng.standard_normal(Cout).astype(np.float32) if seed % 2 else None
    expected = naive_conv2d_nchw(x, w[:, :, None, None], b, (1, 1), (0, 0, 0, 0), (1, 1), 1)
    xin = x if layout == "NCHW" else _nhwc(x)
    got = R.pointwise_conv2d(xin, w if seed % 3 else w[:, :, None, None], b, layout=layout)
    if layout == "NHWC":
        got = got.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("seed", range(8))
def test_separable_vs_naive(seed, layout):
    rng, N, H, W, KH, KW, s, d, padding, pads = _random_case(200 + seed)
    C, m, Cout = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(1, 5))
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    dw = rng.standard_normal((C * m, 1, KH, KW)).astype(np.float32)
    pw = rng.standard_normal((Cout, C * m)).astype(np.float32)
    db = rng.standard_normal(C * m).astype(np.float32)
    pb = rng.standard_normal(Cout).astype(np.float32)
    mid = R.activation(naive_conv2d_nchw(x, dw, db, s, pads, d, groups=C), "hardswish")
    expected = R.activation(
        naive_conv2d_nchw(mid, pw[:, :, None, None], pb, (1, 1), (0, 0, 0, 0), (1, 1), 1), "silu")
    xin = x if layout == "NCHW" else _nhwc(x)
    got = R.separable_conv2d(xin, dw, pw, db, pb, stride=s, padding=padding, dilation=d,
                             layout=layout, depthwise_activation="hardswish", activation="silu")
    if layout == "NHWC":
        got = got.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------------
# layouts, unbatched input, argument checking of the reference itself
# ------------------------------------------------------------------------------------------
def test_unbatched_and_layouts_consistent():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 6, 5)).astype(np.float32)
    w = rng.standard_normal((6, 1, 3, 3)).astype(np.float32)
    y3 = R.depthwise_conv2d(x, w, padding="same", stride=2)
    y4 = R.depthwise_conv2d(x[None], w, padding="same", stride=2)
    assert y3.shape == (6, 3, 3)
    np.testing.assert_array_equal(y3, y4[0])
    yh = R.depthwise_conv2d(np.ascontiguousarray(x.transpose(1, 2, 0)), w, padding="same",
                            stride=2, layout="NHWC")
    assert yh.shape == (3, 3, 6)
    np.testing.assert_allclose(yh.transpose(2, 0, 1), y3, rtol=1e-13, atol=1e-13)


def test_reference_returns_float64_contiguous():
    x = np.ones((1, 2, 4, 4), np.float32)
    for y in (R.depthwise_conv2d(x, np.ones((2, 1, 3, 3), np.float32)),
              R.depthwise_conv2d(x.transpose(0, 2, 3, 1), np.ones((2, 1, 3, 3), np.float32),
                                 layout="NHWC"),
              R.pointwise_conv2d(x, np.ones((3, 2), np.float32), layout="NCHW"),
              R.conv2d(x, np.ones((3, 2, 1, 1), np.float32), layout="NCHW")):
        assert y.dtype == np.float64 and y.flags.c_contiguous


def test_reference_rejects_bad_geometry():
    x = np.ones((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError):
        R.depthwise_conv2d(x, np.ones((1, 1, 5, 5), np.float32))
    with pytest.raises(ValueError):
        R.depthwise_conv2d(x, np.ones((1, 1, 3, 3), np.float32), stride=0)
    with pytest.raises(ValueError):
        R.conv2d(np.ones((1, 3, 4, 4), np.float32), np.ones((2, 1, 1, 1), np.float32), groups=2)
    with pytest.raises(ValueError):
        R.depthwise_conv2d(x, np.ones((1, 1, 3, 3), np.float32), layout="CHWN")
