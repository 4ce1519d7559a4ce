"""Every operator against the float64 reference, on every ISA this CPU can run."""

import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sepconv
from conftest import check, num_threads, placed, poisoned, randn, reference as R, x_shape

LAYOUTS = ["NCHW", "NHWC"]
ACTIVATIONS = [None, "relu", "relu6", "hardswish", "silu"]
KERNELS = list(range(1, 10)) + [11, 15, 31]
HYP = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])


def compare(op, *args, use_out=False, **kwargs):
    """Run sepconv.<op> and reference.<op> on the same arguments and check the result.

    With use_out, the output buffer is poisoned with NaN first and must be returned as is.
    The inputs must not be modified.
    """
    fn = getattr(sepconv, op)
    ref = getattr(R, op)(*args, **kwargs)
    before = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    if use_out:
        out = poisoned(ref.shape)
        got = fn(*args, out=out, **kwargs)
        assert got is out
    else:
        got = fn(*args, **kwargs)
        assert isinstance(got, np.ndarray)
        assert got.flags.c_contiguous
    check(got, ref)
    for a, b in zip(args, before):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg="an input was modified")
    return got


def span_ok(size, k, s, d, pads):
    return size + pads[0] + pads[1] >= (k - 1) * d + 1


# ==========================================================================================
# depthwise
# ==========================================================================================
# id, N, C, H, W, multiplier, KH, KW, stride, padding, dilation, activation
DW_CASES = [
    ("mbv2_s1_c32_28", 1, 32, 28, 28, 1, 3, 3, 1, 1, 1, "relu6"),
    ("mbv2_s2_c96_28", 1, 96, 28, 28, 1, 3, 3, 2, 1, 1, "relu6"),
    ("mbv2_s2_same_c96_28", 2, 96, 28, 28, 1, 3, 3, 2, "same", 1, None),
    ("mbv1_c1024_7", 1, 1024, 7, 7, 1, 3, 3, 1, 1, 1, "relu"),
    ("effnet_5x5_c40_28", 1, 40, 28, 28, 1, 5, 5, 1, 2, 1, "silu"),
    ("effnet_5x5_s2_c144_28", 1, 144, 28, 28, 1, 5, 5, 2, "same", 1, "silu"),
    ("convnext_7x7_c96_14", 1, 96, 14, 14, 1, 7, 7, 1, 3, 1, None),
    ("stride2_odd", 2, 16, 15, 17, 1, 3, 3, 2, 1, 1, "hardswish"),
    ("stride_pair", 1, 19, 13, 16, 1, 3, 3, (2, 1), 1, 1, None),
    ("dilation2", 1, 24, 16, 16, 1, 3, 3, 1, 2, 2, "relu"),
    ("dilation_pair", 1, 9, 16, 16, 1, 3, 5, 1, "same", (2, 3), None),
    ("multiplier2", 2, 8, 12, 12, 2, 3, 3, 1, 1, 1, None),
    ("multiplier3_s2", 1, 13, 11, 12, 3, 3, 3, 2, "same", 1, "relu6"),
    ("asym_pad", 1, 12, 9, 10, 1, 3, 3, 1, ((1, 2), (0, 3)), 1, None),
    ("pad_pair", 1, 12, 9, 10, 1, 3, 3, 1, (0, 2), 1, None),
    ("same_s2_even", 1, 20, 16, 16, 1, 3, 3, 2, "same", 1, None),
    ("same_s2_k4_odd", 1, 20, 13, 13, 1, 4, 4, 2, "same", 1, None),
    ("valid_dilated_strided", 1, 10, 20, 20, 1, 3, 3, 3, "valid", 2, "relu"),
    ("k31_small_image", 1, 5, 8, 8, 1, 31, 31, 1, 15, 1, None),
    ("k31_same", 1, 3, 6, 9, 1, 31, 31, 1, "same", 1, None),
    # Stride-1 rows wide enough for blocks of 16 in kernel-row chunks (8 taps on AVX-512, 4 on
    # AVX2): 31 = 8 + 8 + 8 + 7, 13 = 8 + 5, 12 = 8 + a half chunk, 6 and 4 a chunk or a half
    # one, with channel tails and padding on both sides.
    ("k31_wide", 1, 20, 9, 40, 1, 31, 31, 1, "same", 1, "relu"),
    ("k9x13_asym_pad", 1, 18, 12, 37, 1, 9, 13, 1, ((2, 5), (1, 0)), 1, None),
    ("k2x12_same", 2, 33, 7, 45, 1, 2, 12, 1, "same", 1, "silu"),
    ("k6_pad2", 1, 9, 5, 41, 1, 6, 6, 1, 2, 1, "hardswish"),
    ("k4_same", 2, 24, 6, 50, 1, 4, 4, 1, "same", 1, None),
    ("rect_kernel", 1, 16, 10, 12, 1, 1, 7, (1, 2), (0, 3), 1, None),
    ("wide_image", 1, 3, 5, 67, 1, 3, 3, 1, 1, 1, None),
    ("one_by_one_image", 3, 17, 1, 1, 1, 3, 3, 1, 1, 1, None),
    ("c1", 2, 1, 9, 11, 1, 3, 3, 1, 1, 1, None),
]


@pytest.mark.parametrize("case", DW_CASES, ids=[c[0] for c in DW_CASES])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "nobias"])
def test_depthwise_cases(isa, case, layout, with_bias):
    _, N, C, H, W, m, KH, KW, stride, padding, dilation, act = case
    rng = np.random.default_rng(zlib.crc32(case[0].encode()))
    x = randn(rng, x_shape(N, C, H, W, layout))
    w = randn(rng, (C * m, 1, KH, KW))
    b = randn(rng, (C * m,)) if with_bias else None
    compare("depthwise_conv2d", x, w, b, stride=stride, padding=padding, dilation=dilation,
            layout=layout, activation=act, use_out=with_bias)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("C", range(1, 71))
def test_depthwise_every_channel_tail(isa, C, layout):
    rng = np.random.default_rng(C)
    stride = 1 + C % 2
    x = randn(rng, x_shape(2, C, 5, 7, layout))
    w = randn(rng, (C, 1, 3, 3))
    b = randn(rng, (C,))
    compare("depthwise_conv2d", x, w, b, stride=stride, padding="same", layout=layout,
            activation=ACTIVATIONS[C % 5])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("W", range(1, 71))
def test_depthwise_every_width_tail(isa, W, layout):
    rng = np.random.default_rng(1000 + W)
    x = randn(rng, x_shape(1, 3, 4, W, layout))
    w = randn(rng, (3, 1, 3, 3))
    compare("depthwise_conv2d", x, w, stride=1 + W % 2, padding=1, layout=layout)


# The NCHW kernel vectorises along the width (8 or 16 lanes) in passes of up to 4 output rows: widths
# around one and two vectors, and wide enough for interior blocks whose next vector ends inside the
# row or not (AVX-512 cuts their "same"-padded taps from whole vectors), heights that leave 1, 2 or
# 3 rows after the passes and, from 11 rows, passes with a row above and below (where AVX-512's
# 3x3 loads whole vectors past the row ends and masks the FMAs instead), both strides of its square 3x3/5x5/7x7 paths and the general path (4x4,
# dilation), multiplier 1 and 2. (Whole planes up to 12 wide at stride 1 take the flat kernel
# instead, tested below.)
@pytest.mark.parametrize("W", [7, 8, 9, 15, 16, 17, 24, 25, 33, 49, 64, 100])
@pytest.mark.parametrize("H", [1, 2, 5, 6, 7, 11])
@pytest.mark.parametrize("window", [(3, 1, 1), (3, 2, 1), (5, 1, 1), (5, 2, 1), (7, 1, 1),
                                    (7, 2, 1), (4, 1, 1), (3, 1, 2)],
                         ids=lambda w: "k%ds%dd%d" % w)
def test_depthwise_nchw_rows_and_vectors(isa, window, H, W):
    K, stride, dilation = window
    rng = np.random.default_rng(100 * K + 10 * stride + dilation + 1000 * H + W)
    m = 1 + (H + W) % 2
    x = randn(rng, (1, 3, H, W))
    w = randn(rng, (3 * m, 1, K, K))
    b = randn(rng, (3 * m,))
    compare("depthwise_conv2d", x, w, b, stride=stride, padding="same" if stride == 1 else K // 2,
            dilation=dilation, activation=ACTIVATIONS[(H + W) % 5])


# The NCHW flat-plane kernel (stride 1, output rows as wide as the input rows, planes up to 12
# wide) runs a plane as one sequence of vectors whose taps are constant shifts, masked per lane:
# planes of one to several vectors, kernels wider than the plane, "same" and one-sided padding,
# dilation, multipliers 1-3, and odd channel counts (the kernel runs planes in pairs).
@pytest.mark.parametrize("HW", [(1, 1), (1, 5), (2, 3), (4, 4), (3, 11), (7, 7), (9, 4), (12, 12),
                                (13, 10)], ids=lambda hw: "%dx%d" % hw)
@pytest.mark.parametrize("K", [1, 2, 3, 4, 5, 7, 8])
def test_depthwise_nchw_flat_planes(isa, HW, K):
    H, W = HW
    rng = np.random.default_rng(1000 * H + 10 * W + K)
    C, m = 1 + (H + W + K) % 5, 1 + (H * W + K) % 3
    dilation = 1 + (H + K) % 2
    span = (K - 1) * dilation
    left = span // 2 if (W + K) % 2 else span
    rows = (span - span // 2, span // 2) if H <= span or H % 2 else (0, 0)
    x = randn(rng, (2, C, H, W))
    w = randn(rng, (C * m, 1, K, K))
    b = randn(rng, (C * m,)) if K % 2 else None
    compare("depthwise_conv2d", x, w, b, padding=(rows, (left, span - left)), dilation=dilation,
            activation=ACTIVATIONS[(H + K) % 5])


# NCHW "same" 3x3 at stride 1 on whole planes (AVX-512: dwconv-nchw-3x3s1-run) walks a plane as one
# run of vectors, cutting the taps out of sliding windows: rows narrower than a vector (one window;
# widths whose columns fall in a few or many phases of the vector: 2, 4, 8 against 7, 13, 15) and
# wider (a window per kernel row, every width % 16 of 0, 1, 4, 7, 8, 9, 13, 14, 15), planes of one
# vector and of several, ending inside a vector or on its last lane (4x4, 8x8, 16x2), one row
# (nothing above or below); several planes per task and per input plane (multipliers 1-3), two
# threads, every activation.
@pytest.mark.parametrize("W", [1, 2, 3, 4, 7, 8, 13, 15, 16, 17, 20, 23, 31, 32, 45, 56, 57, 62,
                               100])
@pytest.mark.parametrize("H", [1, 2, 4, 5, 8, 16])
@pytest.mark.parametrize("threads", [1, 2])
def test_depthwise_nchw_3x3_runs(isa, W, H, threads):
    rng = np.random.default_rng(1000 * H + 10 * W + threads)
    C, m = 7 + (H + W) % 13, 1 + (H * W) % 3
    x = randn(rng, (2, C, H, W))
    w = randn(rng, (C * m, 1, 3, 3))
    b = randn(rng, (C * m,)) if (H + W) % 2 else None
    with num_threads(threads):
        compare("depthwise_conv2d", x, w, b, padding="same",
                activation=ACTIVATIONS[(H + W + threads) % 5], use_out=True)


# NCHW 3x3 "same" at stride 1 on whole narrow planes back to back (AVX-512: one flat run over the
# call's planes, dwconv-nchw-3x3s1-run flat_planes): planes of 1 and 2 vectors and planes whose last
# vector is mostly idle (4x4, 2x8, 16x1, 5x5, 6x6, 3x7, 7x7, 9x9, 11x9, 7x10), vectors holding the
# end of one plane and the start of the next (weights, bias and row masks from both), tasks
# starting inside a vector's worth of planes (2 threads, batches), every activation, with and
# without bias; 8x8 and 14x14 run a plane at a time.
@pytest.mark.parametrize("HW", [(4, 4), (2, 8), (16, 1), (5, 5), (6, 6), (3, 7), (7, 7), (9, 9),
                                (11, 9), (7, 10), (8, 8), (14, 14)])
@pytest.mark.parametrize("C", [1, 3, 17, 40])
@pytest.mark.parametrize("threads", [1, 2])
def test_depthwise_nchw_3x3_flat_run(isa, HW, C, threads):
    H, W = HW
    rng = np.random.default_rng(100 * H + W + 7 * C + threads)
    x = randn(rng, (1 + C % 3, C, H, W))
    w = randn(rng, (C, 1, 3, 3))
    b = randn(rng, (C,)) if C % 2 else None
    with num_threads(threads):
        compare("depthwise_conv2d", x, w, b, padding="same",
                activation=ACTIVATIONS[(H + W + C) % 5], use_out=True)


# NCHW 3x3 at stride 2 (AVX-512: dwconv-nchw-3x3s2-rows, outputs at least 12 wide) walks passes of
# 4, 2 and 1 output rows along their vectors: widths whose last vector is whole or masked and whose
# loads end before or on the row's end (in_w - 1 + left around multiples of 32), one column of
# padding on the left or none, 0-2 rows of padding above (passes with rows outside the image),
# heights leaving every pass remainder, multipliers 1-3, every activation, two threads (bands).
@pytest.mark.parametrize("W", [23, 24, 31, 32, 33, 34, 47, 63, 64, 65, 66, 96, 97, 112, 113, 141])
@pytest.mark.parametrize("H", [1, 2, 3, 8, 9, 10, 19])
@pytest.mark.parametrize("left", [0, 1])
@pytest.mark.parametrize("threads", [1, 2])
def test_depthwise_nchw_3x3s2_rows(isa, W, H, left, threads):
    rng = np.random.default_rng(10000 * W + 100 * H + 10 * left + threads)
    C, m = 5 + (H + W) % 11, 1 + (H + W + left) % 3
    top, right = H % 3, (W + H) % 2
    bottom = max(0, 3 - H - top)
    x = randn(rng, (2, C, H, W))
    w = randn(rng, (C * m, 1, 3, 3))
    b = randn(rng, (C * m,)) if (H + W) % 2 else None
    with num_threads(threads):
        compare("depthwise_conv2d", x, w, b, stride=2, padding=((top, bottom), (left, right)),
                activation=ACTIVATIONS[(H + W + threads) % 5], use_out=True)


@pytest.mark.parametrize("K", [3, 5, 7, 9])
@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_nchw_bands(isa, K, multiplier):
    """One channel, tall image, two threads: the rows are split into bands whose geometry starts
    inside the image (negative top padding) and ends before its bottom."""
    rng = np.random.default_rng(K)
    x = randn(rng, (1, 1, 61, 19))
    w = randn(rng, (multiplier, 1, K, K))
    with num_threads(2):
        compare("depthwise_conv2d", x, w, None, padding=K // 2)
        compare("depthwise_conv2d", x, w, None, padding=(K // 2 + 1, 0), stride=2)


# The NHWC 3x3 kernel (stride 1 or 2) computes passes of two output rows x a block of 3 (AVX2) or
# 8 (AVX-512) outputs, in strips of columns that depend on C: odd heights leave a one-row pass,
# widths around the blocks leave clipped remainders, paddings of 0..2 put blocks across the borders
# (and rows of the pass outside the image), C with and without a channel tail.
@pytest.mark.parametrize("C", [3, 8, 13, 32, 41])
@pytest.mark.parametrize("H", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("W", [1, 2, 3, 4, 5, 7, 10, 17, 26])
@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_nhwc_3x3_passes(isa, C, H, W, stride):
    rng = np.random.default_rng(10000 * C + 100 * H + 10 * W + stride)
    ph = (H + W + C) % 3
    pw = (ph + 1) % 3
    ph = ph if H + 2 * ph >= 3 else 1
    pw = pw if W + 2 * pw >= 3 else 1
    x = randn(rng, x_shape(1, C, H, W, "NHWC"))
    w = randn(rng, (C, 1, 3, 3))
    b = randn(rng, (C,))
    compare("depthwise_conv2d", x, w, b, stride=stride, padding=(ph, pw), layout="NHWC",
            activation=ACTIVATIONS[(H + W) % 5])


# NCHW images small enough run through the NHWC kernels on groups of channel tiles interleaved at
# a time (as many tiles as fit 64 KiB): 203 channels at 7x7 make two groups, the second short and
# ending in a channel tail; 14x14 groups of a few tiles; stride-1 images up to 40 wide one tile at
# a time (33x33); 2 threads split the groups further.
@pytest.mark.parametrize("K, stride", [(3, 1), (3, 2), (5, 1), (7, 1)])
@pytest.mark.parametrize("HW", [4, 7, 14, 33])
@pytest.mark.parametrize("threads", [1, 2])
def test_depthwise_nchw_interleaved_groups(isa, fusion, K, stride, HW, threads):
    rng = np.random.default_rng(100 * K + 10 * HW + threads)
    C = 203
    x = randn(rng, x_shape(1, C, HW, HW, "NCHW"))
    w = randn(rng, (C, 1, K, K))
    b = randn(rng, (C,))
    pw = randn(rng, (9, C))
    with num_threads(threads):
        compare("depthwise_conv2d", x, w, b, stride=stride, padding="same", activation="relu",
                use_out=True)
        compare("separable_conv2d", x, w, pw, b, None, stride=stride, padding="same",
                depthwise_activation="relu6", use_out=True)


# The NHWC row kernel (kernel widths 3, 5, 7 at stride 1 or 2) runs blocks of 6-8 outputs along
# the width, the first one and those after the last unclipped block skipping the columns outside
# the image, and stride-1 "same" rows in segments of up to 16 outputs (AVX-512 5x5 and 7x7; 8-10
# on AVX2): widths below, at and around the block, two and three segments (31: 16 + 15, 48: three
# of 16), left and right paddings from 0 to beyond the block, C with and without a channel tail.
@pytest.mark.parametrize("K, stride", [(3, 2), (5, 1), (5, 2), (7, 1), (7, 2)])
@pytest.mark.parametrize("W", [1, 3, 5, 6, 8, 9, 13, 16, 21, 31, 48])
@pytest.mark.parametrize("pad_w", [(0, 0), (1, 0), "same", (0, 4), (9, 2)],
                         ids=["0", "left1", "same", "right4", "left9"])
@pytest.mark.parametrize("C", [8, 11])
def test_depthwise_nhwc_row_borders(isa, K, stride, W, pad_w, C):
    rng = np.random.default_rng(1000 * K + 100 * stride + 10 * W + C)
    left, right = (K // 2, K // 2) if pad_w == "same" else pad_w
    if W + left + right < K:
        right = K - W - left
    H = 3
    x = randn(rng, x_shape(1, C, H, W, "NHWC"))
    w = randn(rng, (C, 1, K, K))
    b = randn(rng, (C,))
    compare("depthwise_conv2d", x, w, b, stride=stride, padding=((K // 2, K // 2), (left, right)),
            layout="NHWC", activation=ACTIVATIONS[(K + W) % 5])


# Stride-1 images at most 12 (AVX-512: 5) outputs wide run one block per output row and tile (the
# row kernel's segments), wider ones the two-row passes: asymmetric paddings clip either end of the row or none ("same" padding
# at compile time), rows above and below the image are skipped, 19 channels leave a tail tile;
# the fused separable op runs them on row bands.
@pytest.mark.parametrize("W", [1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13])
@pytest.mark.parametrize("padding", [1, "valid", ((2, 0), (0, 2)), ((0, 1), (2, 1))],
                         ids=["1", "valid", "top-right", "left"])
@pytest.mark.parametrize("C", [5, 19])
@pytest.mark.parametrize("threads", [1, 2])
def test_depthwise_nhwc_3x3_narrow(isa, fusion, W, padding, C, threads):
    rng = np.random.default_rng(100 * W + 7 * C + threads)
    H = 2 + W % 3
    if padding == "valid":
        H, W = max(H, 3), max(W, 3)
    x = randn(rng, x_shape(2, C, H, W, "NHWC"))
    w = randn(rng, (C, 1, 3, 3))
    b = randn(rng, (C,))
    pw = randn(rng, (6, C))
    with num_threads(threads):
        compare("depthwise_conv2d", x, w, b, padding=padding, layout="NHWC",
                activation="relu6", use_out=True)
        compare("separable_conv2d", x, w, pw, b, None, padding=padding, layout="NHWC",
                depthwise_activation="relu6", use_out=True)


# The 3x3 kernel's strips of columns are sized by the L1 sets the pixel stride reaches: 347
# channels (every set: whole rows, a tail tile), 128 and 384 (8 sets: strips of 9 columns, the last
# one narrower), 1024 (one set: run on copies of 256 channels with a padded pixel stride).
@pytest.mark.parametrize("C", [128, 347, 384, 1024])
@pytest.mark.parametrize("H, W", [(3, 7), (5, 17), (4, 26)])
def test_depthwise_nhwc_3x3_strips(isa, C, H, W):
    rng = np.random.default_rng(C + 100 * W + H)
    x = randn(rng, x_shape(1, C, H, W, "NHWC"))
    w = randn(rng, (C, 1, 3, 3))
    b = randn(rng, (C,))
    compare("depthwise_conv2d", x, w, b, padding=1, layout="NHWC", activation="relu6")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("C", [512, 1536])
@pytest.mark.parametrize("K, stride, dilation, padding",
                         [(3, 1, 1, 1), (3, 2, 1, "same"), (5, 1, 2, 4), (1, 1, 1, 0)])
def test_depthwise_nhwc_restrided(isa, threads, C, K, stride, dilation, padding):
    """C a multiple of 512 (pixels in at most two L1 sets): each band's input is copied 256
    channels at a time to a padded pixel stride (on AVX-512 not for the 3x3 kernel), and the
    kernels store into the output's pixels in place; with 2 threads a 4-row image's tasks split
    the channel tiles, whose ranges do not start at a group."""
    rng = np.random.default_rng(C + 7 * K + stride + threads)
    x = randn(rng, x_shape(2, C, 4, 9, "NHWC"))
    w = randn(rng, (C, 1, K, K))
    b = randn(rng, (C,))
    with num_threads(threads):
        compare("depthwise_conv2d", x, w, b, stride=stride, dilation=dilation, padding=padding,
                layout="NHWC", activation="hardswish", use_out=True)


# Kernels without a specialised row (4x4, 9x9, dilation, stride 3) run rows in blocks of 16
# (AVX-512) or 8 outputs, then 8, 4 and single ones: widths around and between those blocks.
@pytest.mark.parametrize("W", [3, 15, 16, 17, 29, 47])
@pytest.mark.parametrize("K, stride, dilation", [(4, 1, 1), (9, 1, 1), (3, 1, 2), (5, 3, 1)])
def test_depthwise_nhwc_any_kernel_blocks(isa, W, K, stride, dilation):
    rng = np.random.default_rng(100 * W + 10 * K + stride + dilation)
    C = 19
    x = randn(rng, x_shape(1, C, 6, W, "NHWC"))
    w = randn(rng, (C, 1, K, K))
    b = randn(rng, (C,))
    compare("depthwise_conv2d", x, w, b, stride=stride, dilation=dilation,
            padding=(K - 1) * dilation // 2 + W % 2, layout="NHWC", activation=ACTIVATIONS[W % 5])


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("C", [256, 768])
@pytest.mark.parametrize("width", [11, 12, 17])
@pytest.mark.parametrize("K, padding", [(3, "same"), (5, 0), (7, 3)])
def test_depthwise_nhwc_restrided_wide(isa, threads, C, width, K, padding):
    """C = 256 or 768 (pixels in four L1 sets) at stride 1: from 12 wide the input goes through
    the padded copy on AVX2; 11 wide, and any width on AVX-512, stays in place."""
    rng = np.random.default_rng(C + width + K + threads)
    x = randn(rng, x_shape(1, C, 5, width, "NHWC"))
    w = randn(rng, (C, 1, K, K))
    b = randn(rng, (C,))
    with num_threads(threads):
        compare("depthwise_conv2d", x, w, b, padding=padding, layout="NHWC", activation="relu6",
                use_out=True)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_depthwise_nhwc_3x3_pass_order(isa, threads, padding):
    """Input and output over 1 MiB per thread: the 3x3 kernel's passes visit every channel tile
    in turn (smaller calls walk each tile down its band, as most other tests do), the whole image
    on one thread or half of it on each of two; 67 channels leave a tail tile."""
    rng = np.random.default_rng(threads + 3 * padding)
    x = randn(rng, x_shape(1, 67, 96, 47, "NHWC"))
    assert x.nbytes * 2 * 0.95 > 2 << 20  # each thread's share of input and output
    w = randn(rng, (67, 1, 3, 3))
    b = randn(rng, (67,))
    with num_threads(threads):
        compare("depthwise_conv2d", x, w, b, padding=padding, layout="NHWC", activation="relu6")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_depthwise_nhwc_3x3_streamed(isa, threads, padding):
    """Input and output over 8 MiB together, with pixels of several cache lines: the 3x3 kernel
    prefetches the next pass's rows (up to the last pass, whose next rows lie past the band)."""
    rng = np.random.default_rng(threads + 3 * padding + 1)
    x = randn(rng, x_shape(1, 67, 130, 128, "NHWC"))
    assert x.nbytes + 128 * 126 * 67 * 4 > 8 << 20  # with the smallest output (padding 0)
    w = randn(rng, (67, 1, 3, 3))
    b = randn(rng, (67,))
    with num_threads(threads):
        compare("depthwise_conv2d", x, w, b, padding=padding, layout="NHWC", activation="relu6")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("K, padding", [(3, 1), (3, 0), (5, 2), (4, "same")])
def test_depthwise_nhwc_strided_streamed(isa, threads, K, padding):
    """Strided layers over 8 MiB take the row kernel's prefetch of the next output row's rows
    (past each band's last row, the next band's, up to the image's last); 67 channels leave a
    tail tile."""
    rng = np.random.default_rng(10 * K + threads)
    x = randn(rng, x_shape(3, 67, 109, 97, "NHWC"))
    assert x.nbytes > 8 << 20
    w = randn(rng, (67, 1, K, K))
    b = randn(rng, (67,))
    with num_threads(threads):
        compare("depthwise_conv2d", x, w, b, stride=2, padding=padding, layout="NHWC",
                activation="relu6")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("K, stride, HW", [(3, 1, 156), (5, 1, 156), (4, 1, 156), (3, 2, 311)])
def test_depthwise_nhwc_streamed_output(isa, threads, K, stride, HW):
    """NHWC outputs over 8 MiB whose pixels are whole cache lines (48 channels) go to memory
    through non-temporal stores (AVX-512) when they start on a cache line, as the arrays that
    sepconv allocates do: the 3x3 passes, the row kernel's segments and its any-kernel blocks."""
    rng = np.random.default_rng(K + 10 * stride + 100 * threads)
    C = 48
    x = randn(rng, x_shape(2, C, HW, HW, "NHWC"))
    w = randn(rng, (C, 1, K, K))
    b = randn(rng, (C,))
    args = dict(stride=stride, padding="same", layout="NHWC", activation="relu6")
    ref = R.depthwise_conv2d(x, w, b, **args)
    assert ref.nbytes > 8 << 20
    out = poisoned(ref.shape, line_offset=0)
    with num_threads(threads):
        assert sepconv.depthwise_conv2d(x, w, b, out=out, **args) is out
        new = sepconv.depthwise_conv2d(x, w, b, **args)
    assert new.ctypes.data % 64 == 0
    check(out, ref)
    check(new, ref)


# NHWC "same" 3x3 at stride 1 on AVX-512 runs rolling passes on images at least 10 wide whose
# pixels spread over the L1 sets: 3 to 6 output rows per pass, a band's rows split evenly (heights
# 3-14 give every split, 1 and 2 rows keep the blocks), column counts that leave 0, 1 or 2 columns
# after the unrolled triples, tiles with and without a channel tail, bias or none, and bands split
# by two threads and by the separable op, fused or not.
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("W", [10, 11, 12, 13, 29])
@pytest.mark.parametrize("H", [1, 2, 3, 4, 5, 6, 7, 8, 11, 13, 14])
def test_depthwise_nhwc_rolling_passes(isa, fusion, threads, H, W):
    rng = np.random.default_rng(100 * H + W)
    C = [1, 16, 21, 40, 48][(H + W) % 5]
    x = randn(rng, x_shape(2, C, H, W, "NHWC"))
    w = randn(rng, (C, 1, 3, 3))
    b = randn(rng, (C,)) if (H + W) % 3 else None
    args = dict(padding="same", layout="NHWC", activation=ACTIVATIONS[(H * W) % 5])
    pw = randn(rng, (5, C, 1, 1))
    with num_threads(threads):
        compare("depthwise_conv2d", x, w, b, use_out=True, **args)
        compare("separable_conv2d", x, w, pw, depthwise_bias=b, **args)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("offset", [0, 4, 16, 32, 48])
@pytest.mark.parametrize("C, HW, K, stride", [(48, 9, 3, 1), (64, 12, 3, 2), (960, 7, 3, 1),
                                              (128, 10, 5, 1), (144, 6, 7, 2), (32, 5, 3, 1),
                                              (48, 12, 3, 1)])
def test_depthwise_nhwc_input_off_a_cache_line(isa, threads, offset, C, HW, K, stride):
    """NHWC inputs 16, 32 or 48 bytes past a cache line, as NumPy places them, run on AVX-512
    with lead lanes before channel 0 when the channels fill enough tiles: the first tile's lead
    lanes and the last tile's missing ones masked, both in one tile on two threads' tile ranges
    (960 channels on a 7x7 image); other offsets and few channels run without. A new output
    starts as far past a line as such an input (its stores whole lines too), else on a line; an
    output given at the input's offset is written as well."""
    rng = np.random.default_rng(C + K + offset)
    x = placed(randn(rng, x_shape(2, C, HW, HW, "NHWC")), offset)
    assert x.ctypes.data % 64 == offset
    w = randn(rng, (C, 1, K, K))
    b = randn(rng, (C,))
    args = dict(stride=stride, padding="same", layout="NHWC", activation="relu6")
    leads = (isa == "avx512" and offset % 16 == 0 and C % 16 == 0
             and -(-C // 16) >= (3 if K == 3 else 8))
    ref = R.depthwise_conv2d(x, w, b, **args)
    out = poisoned(ref.shape, line_offset=offset)
    layer = sepconv.DepthwiseConv2d(w, b, **args)
    with num_threads(threads):
        compare("depthwise_conv2d", x, w, b, use_out=True, **args)
        new = compare("depthwise_conv2d", x, w, b, **args)
        check(sepconv.depthwise_conv2d(x, w, b, out=out, **args), ref)
        from_layer = layer(x)
    check(from_layer, ref)
    assert new.ctypes.data % 64 == (offset if leads else 0)
    assert from_layer.ctypes.data % 64 == (offset if leads else 0)


@pytest.mark.parametrize("offset", [0, 8, 16, 2048 + 48, 4000])
def test_depthwise_nhwc_pixels_a_page_apart(isa, offset):
    """NHWC pixels 4 KiB apart (1024 channels) put a channel tile's lines in one L1 set: a new
    output starts half a page away from the input's offset into its page (three quarters where
    that is the page's first line), past a line as far as the input when the kernels run it with
    a lead."""
    rng = np.random.default_rng(offset)
    C = 1024
    x = placed(randn(rng, x_shape(2, C, 5, 3, "NHWC")), offset, boundary=4096)
    assert x.ctypes.data % 4096 == offset
    w = randn(rng, (C, 1, 3, 3))
    args = dict(padding="same", layout="NHWC")
    ref = R.depthwise_conv2d(x, w, None, **args)
    new = compare("depthwise_conv2d", x, w, None, **args)
    from_layer = sepconv.DepthwiseConv2d(w, **args)(x)
    check(from_layer, ref)
    leads = isa == "avx512" and offset % 16 == 0
    for y in (new, from_layer):
        assert (y.ctypes.data // 64 - x.ctypes.data // 64) * 64 % 4096 in (2048, 3072)
        assert y.ctypes.data % 64 == (offset % 64 if leads else 0)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("C", [8, 19])
def test_depthwise_nhwc_3x3_bands(isa, stride, C):
    """Two threads on a tall image: bands of odd and even row counts start inside the image
    (negative top padding)."""
    rng = np.random.default_rng(C + stride)
    x = randn(rng, x_shape(1, C, 45, 11, "NHWC"))
    w = randn(rng, (C, 1, 3, 3))
    with num_threads(2):
        compare("depthwise_conv2d", x, w, None, stride=stride, padding=1, layout="NHWC")
        compare("depthwise_conv2d", x, w, None, stride=stride, padding=(2, 0), layout="NHWC")


def padding_strategy():
    small = st.integers(0, 4)
    return st.one_of(
        st.just("same"),
        st.just("valid"),
        small,
        st.tuples(small, small),
        st.tuples(st.tuples(small, small), st.tuples(small, small)),
    )


def int_or_pair(lo, hi):
    return st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi)))


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def fit_padding(draw, H, W, KH, KW, stride, dilation, padding):
    """If the kernel does not fit the padded input, pad just enough (plus a little, asymmetric)."""
    pads = R.resolve_padding(padding, (H, W), (KH, KW), stride, dilation)
    dh, dw = _pair(dilation)
    if span_ok(H, KH, 1, dh, pads[:2]) and span_ok(W, KW, 1, dw, pads[2:]):
        return padding
    need_h = max((KH - 1) * dh + 1 - H, 0)
    need_w = max((KW - 1) * dw + 1 - W, 0)
    t, l = need_h // 2, need_w // 2
    return ((t, need_h - t + draw(st.integers(0, 2))), (l, need_w - l + draw(st.integers(0, 2))))


@st.composite
def depthwise_case(draw):
    layout = draw(st.sampled_from(LAYOUTS))
    batched = draw(st.booleans())
    N = draw(st.integers(1, 3)) if batched else 1
    KH = draw(st.sampled_from(KERNELS))
    KW = draw(st.sampled_from(KERNELS))
    big = KH * KW > 49
    C = draw(st.integers(1, 12 if big else 70))
    m = draw(st.integers(1, 2 if big else 4))
    H = draw(st.integers(1, 10))
    W = draw(st.integers(1, 10 if big else 24))
    stride = draw(int_or_pair(1, 3))
    dilation = draw(int_or_pair(1, 3))
    padding = fit_padding(draw, H, W, KH, KW, stride, dilation, draw(padding_strategy()))
    seed = draw(st.integers(0, 2**32 - 1))
    return dict(layout=layout, batched=batched, N=N, C=C, m=m, H=H, W=W, KH=KH, KW=KW,
                stride=stride, dilation=dilation, padding=padding, seed=seed,
                bias=draw(st.booleans()), act=draw(st.sampled_from(ACTIVATIONS)),
                use_out=draw(st.booleans()))


@settings(max_examples=400, **HYP)
@given(c=depthwise_case())
def test_depthwise_hypothesis(isa, c):
    rng = np.random.default_rng(c["seed"])
    x = randn(rng, x_shape(c["N"], c["C"], c["H"], c["W"], c["layout"], c["batched"]))
    Cout = c["C"] * c["m"]
    w = randn(rng, (Cout, 1, c["KH"], c["KW"]))
    b = randn(rng, (Cout,)) if c["bias"] else None
    y = compare("depthwise_conv2d", x, w, b, stride=c["stride"], padding=c["padding"],
                dilation=c["dilation"], layout=c["layout"], activation=c["act"],
                use_out=c["use_out"])
    assert y.ndim == (4 if c["batched"] else 3)


# ==========================================================================================
# pointwise
# ==========================================================================================
# id, N, Cin, Cout, H, W, activation
PW_CASES = [
    ("mbv2_expand_24_144_28", 1, 24, 144, 28, 28, "relu6"),
    ("mbv2_project_144_24_14", 2, 144, 24, 14, 14, None),
    ("cin2048_narrow", 1, 2048, 5, 3, 3, None),
    ("cin2048_1x1", 2, 2048, 64, 1, 1, "relu"),
    ("odd_pixels", 3, 7, 9, 7, 5, "hardswish"),
    ("one_pixel", 1, 33, 17, 1, 1, "silu"),
    ("cin1", 2, 1, 19, 5, 6, None),
    ("cout1", 2, 37, 1, 5, 6, None),
    ("long_row", 1, 8, 8, 1, 131, None),
]


@pytest.mark.parametrize("case", PW_CASES, ids=[c[0] for c in PW_CASES])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("weight_4d", [False, True], ids=["w2d", "w4d"])
def test_pointwise_cases(isa, case, layout, weight_4d):
    _, N, Cin, Cout, H, W, act = case
    rng = np.random.default_rng(zlib.crc32(case[0].encode()))
    x = randn(rng, x_shape(N, Cin, H, W, layout))
    w = randn(rng, (Cout, Cin, 1, 1) if weight_4d else (Cout, Cin))
    b = randn(rng, (Cout,)) if weight_4d else None
    compare("pointwise_conv2d", x, w, b, layout=layout, activation=act, use_out=weight_4d)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("C", range(1, 71))
def test_pointwise_every_channel_tail(isa, C, layout):
    rng = np.random.default_rng(C)
    Cout = 71 - C
    x = randn(rng, x_shape(1, C, 3, 5, layout))  # 15 pixels: odd
    w = randn(rng, (Cout, C))
    b = randn(rng, (Cout,))
    compare("pointwise_conv2d", x, w, b, layout=layout, activation=ACTIVATIONS[C % 5])


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("Cout", [8, 24, 40, 56, 88])
@pytest.mark.parametrize("P", [1, 5, 11, 13, 49, 250])
def test_pointwise_nhwc_three_vector_tail(isa, threads, Cout, P):
    """NHWC Cout = 16k + 8 (AVX2): the last 24 columns run as one three-vector kernel, 4 rows at a
    time in groups of 12 rows beside the 6-row kernels; P covers partial groups and tiles."""
    rng = np.random.default_rng(Cout * 1000 + P + threads)
    x = randn(rng, x_shape(1, 37, 1, P, "NHWC"))
    w = randn(rng, (Cout, 37))
    b = randn(rng, (Cout,))
    with num_threads(threads):
        compare("pointwise_conv2d", x, w, b, layout="NHWC", activation="relu6", use_out=True)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("Cout", [24, 40])
def test_conv2d_nhwc_three_vector_tail(isa, threads, Cout):
    """The implicit GEMM's taps with the three-vector kernel on the last 24 columns (13 interior
    columns per row: a partial group of rows)."""
    rng = np.random.default_rng(Cout + threads)
    x = randn(rng, x_shape(2, 20, 9, 15, "NHWC"))
    w = randn(rng, (Cout, 20, 3, 3))
    b = randn(rng, (Cout,))
    with num_threads(threads):
        compare("conv2d", x, w, b, padding=1, layout="NHWC", activation="relu", use_out=True)


@pytest.mark.parametrize("Cin", [37, 300])
@pytest.mark.parametrize("Cout", [12, 24, 28, 56, 88])
@pytest.mark.parametrize("P", [1, 2, 3, 15, 16, 17, 33, 250])
def test_pointwise_nhwc_row_pairs(isa, Cout, P, Cin):
    """NHWC Cout = 32k + 24 (AVX-512) or 16k + 12 (AVX2): the last panel's columns run for two
    pixels at a time (three whole vectors per pair); P covers odd rows, partial groups of pairs
    and tiles, Cin 300 several k-blocks (the accumulators reloaded from C between them)."""
    rng = np.random.default_rng(Cout * 1000 + P + Cin)
    x = randn(rng, x_shape(1, Cin, 1, P, "NHWC"))
    w = randn(rng, (Cout, Cin))
    b = randn(rng, (Cout,))
    compare("pointwise_conv2d", x, w, b, layout="NHWC", activation="hardswish", use_out=True)


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("Cout", [24, 48, 56])
def test_conv2d_nhwc_row_pairs(isa, Cout, groups):
    """The implicit GEMM's taps with pairs of rows on a last panel of 24 columns; with 2 groups
    of 24 the C rows are 48 floats apart, so a pair's rows are not side by side."""
    rng = np.random.default_rng(Cout + groups)
    x = randn(rng, x_shape(2, 20, 9, 15, "NHWC"))
    w = randn(rng, (Cout, 20 // groups, 3, 3))
    b = randn(rng, (Cout,))
    compare("conv2d", x, w, b, padding=1, groups=groups, layout="NHWC", activation="relu6",
            use_out=True)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("P", range(1, 71))
def test_pointwise_every_pixel_tail(isa, P, layout):
    rng = np.random.default_rng(2000 + P)
    x = randn(rng, x_shape(1, 6, 1, P, layout))
    w = randn(rng, (5, 6))
    compare("pointwise_conv2d", x, w, layout=layout)


@pytest.mark.parametrize("P", [3, 24, 41, 49, 50, 51, 52, 53])
@pytest.mark.parametrize("Cout", [1, 7, 13, 17])
def test_pointwise_nchw_dot_columns(isa, P, Cout):
    """NCHW: the last 1-4 pixels past whole vectors are dot products along the input channels
    (all of them for 3 pixels, a masked vector for 5), and the last three vectors of pixels run
    as one three-vector kernel where they end in a single-vector panel (48 on AVX-512, 24 and 40
    on AVX2); 610 input channels make k-blocks of 204 and 202 (a masked step), the output channels
    every row remainder."""
    rng = np.random.default_rng(P * 31 + Cout)
    x = randn(rng, x_shape(2, 610, 1, P, "NCHW"))
    w = randn(rng, (Cout, 610))
    b = randn(rng, (Cout,))
    compare("pointwise_conv2d", x, w, b, layout="NCHW", activation="relu6", use_out=True)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("Cout", [16, 24, 32, 48, 56, 64])
@pytest.mark.parametrize("P", [1, 7, 15, 16, 49, 50, 196, 250])
def test_pointwise_nchw_by_columns(isa, threads, Cout, P):
    """NCHW with Cin >= 3 Cout and Cout in whole vectors (or 32k + 24 on AVX-512) runs as
    X^T * W^T: the pixels are the GEMM's rows, read in place from the planes as columns of A, and
    each C block is transposed into the output planes. 300 input channels make several k-blocks;
    P covers tiles of near-equal height (49 = 7 x 7, 50, 250), fewer pixels than one transpose
    block (1, 7), and blocks split over threads."""
    rng = np.random.default_rng(Cout * 1000 + P * 10 + threads)
    x = randn(rng, x_shape(2, 300, 1, P, "NCHW"))
    w = randn(rng, (Cout, 300))
    b = randn(rng, (Cout,))
    with num_threads(threads):
        compare("pointwise_conv2d", x, w, b, layout="NCHW", activation="hardswish", use_out=True)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("Cout", [1, 5, 8, 13, 24, 40])
@pytest.mark.parametrize("Cin", [3, 300])
@pytest.mark.parametrize("hw", [(1, 16), (4, 8), (6, 8), (8, 20), (16, 16), (32, 32), (26, 40)])
def test_pointwise_nchw_rows_in_place(isa, threads, Cout, Cin, hw):
    """NCHW with whole vectors of pixels reads X's rows in place instead of copying them into
    panels: 300 input channels make several k-blocks, 48 and 160 pixels end in a one-vector panel
    on AVX-512, 26 x 40 pixels make several pixel blocks, Cout leaves every row remainder of the
    tiles (and 24 or 40 would run by columns otherwise); 32 x 32 (rows 4 KiB apart) is copied."""
    rng = np.random.default_rng(Cout * 1000 + Cin * 10 + threads + hw[0] * hw[1])
    x = randn(rng, x_shape(2, Cin, hw[0], hw[1], "NCHW"))
    w = randn(rng, (Cout, Cin))
    b = randn(rng, (Cout,))
    with num_threads(threads):
        compare("pointwise_conv2d", x, w, b, layout="NCHW", activation="relu6", use_out=True)


@pytest.mark.parametrize("threads", [1, 2])
def test_pointwise_nhwc_streamed(isa, threads):
    """Activations over 8 MiB with rows of 67 channels take the GEMM's prefetch of the next
    row block (up to each block's last rows, whose next rows lie past it); 21 output channels
    leave a masked panel."""
    rng = np.random.default_rng(threads)
    x = randn(rng, x_shape(3, 67, 109, 97, "NHWC"))
    assert x.nbytes > 8 << 20
    w = randn(rng, (21, 67))
    b = randn(rng, (21,))
    with num_threads(threads):
        compare("pointwise_conv2d", x, w, b, layout="NHWC", activation="relu")


@st.composite
def pointwise_case(draw):
    batched = draw(st.booleans())
    return dict(layout=draw(st.sampled_from(LAYOUTS)), batched=batched,
                N=draw(st.integers(1, 3)) if batched else 1,
                Cin=draw(st.integers(1, 70)), Cout=draw(st.integers(1, 70)),
                H=draw(st.integers(1, 9)), W=draw(st.integers(1, 9)),
                weight_4d=draw(st.booleans()), bias=draw(st.booleans()),
                act=draw(st.sampled_from(ACTIVATIONS)), use_out=draw(st.booleans()),
                seed=draw(st.integers(0, 2**32 - 1)))


@settings(max_examples=200, **HYP)
@given(c=pointwise_case())
def test_pointwise_hypothesis(isa, c):
    rng = np.random.default_rng(c["seed"])
    x = randn(rng, x_shape(c["N"], c["Cin"], c["H"], c["W"], c["layout"], c["batched"]))
    w = randn(rng, (c["Cout"], c["Cin"]) + ((1, 1) if c["weight_4d"] else ()))
    b = randn(rng, (c["Cout"],)) if c["bias"] else None
    y = compare("pointwise_conv2d", x, w, b, layout=c["layout"], activation=c["act"],
                use_out=c["use_out"])
    assert y.ndim == (4 if c["batched"] else 3)


# ==========================================================================================
# conv2d
# ==========================================================================================
# id, N, Cin, Cout, H, W, groups, KH, KW, stride, padding, dilation, activation
CONV_CASES = [
    ("stem_3_32_s2", 1, 3, 32, 32, 32, 1, 3, 3, 2, 1, 1, "relu6"),
    ("stem_7x7_s2", 1, 3, 16, 30, 30, 1, 7, 7, 2, 3, 1, "relu"),
    ("resnet_3x3_64", 1, 64, 64, 14, 14, 1, 3, 3, 1, 1, 1, "relu"),
    ("groups2", 2, 8, 12, 11, 9, 2, 3, 3, 1, "same", 1, None),
    ("groups_c_half", 1, 16, 16, 10, 10, 8, 3, 3, 1, 1, 1, "hardswish"),
    ("groups_c", 1, 16, 32, 10, 10, 16, 3, 3, 2, "same", 1, "silu"),
    ("resnext_g32", 1, 64, 64, 8, 8, 32, 3, 3, 1, 1, 1, None),
    ("pad_valid", 1, 6, 5, 12, 13, 1, 3, 3, 1, "valid", 1, None),
    ("pad_same_s2", 2, 6, 5, 12, 13, 1, 4, 3, 2, "same", 1, None),
    ("pad_asym", 1, 6, 9, 12, 13, 3, 3, 3, 1, ((1, 2), (0, 3)), 1, None),
    ("pad_pair_dilated", 1, 6, 6, 12, 13, 2, 3, 3, 1, (2, 1), 2, None),
    ("one_by_one_s2", 1, 10, 7, 9, 9, 1, 1, 1, 2, 0, 1, None),
    ("k5_dilation3", 1, 4, 4, 16, 16, 2, 5, 5, 1, "same", 3, None),
    ("k9_pad_beyond_image", 1, 2, 3, 4, 4, 1, 9, 9, 1, 4, 1, None),
    # Cin/groups >= 16: implicit GEMM for the interior, im2col for border columns (NCHW through
    # channels-last).
    ("implicit_tails", 2, 20, 21, 9, 13, 1, 3, 3, 1, 1, 1, "relu6"),
    ("implicit_s2_groups2", 1, 48, 40, 11, 10, 2, 3, 3, 2, 1, 1, None),
    ("implicit_dilated_s2", 1, 17, 9, 12, 15, 1, 3, 3, (1, 2), 2, 2, "silu"),
    ("implicit_tiny_1x2", 1, 32, 24, 1, 2, 1, 3, 3, 1, 1, 1, None),
    ("implicit_pad_asym", 1, 16, 17, 6, 7, 1, 3, 3, 1, ((3, 0), (0, 2)), 1, "relu"),
    ("implicit_depth_300", 1, 300, 35, 5, 8, 1, 3, 3, 1, "same", 1, None),
    ("implicit_3x1_valid", 1, 24, 16, 7, 7, 1, 3, 1, 1, "valid", 1, None),
    # Channels in groups of 8 change layout through the channel interleave: 9 pixels (one block
    # and an overlapping one), 24 (a step of 16 and one of 8), batch 2.
    ("implicit_9_pixels", 1, 16, 8, 3, 3, 1, 3, 3, 1, 1, 1, None),
    ("implicit_24_pixels_n2", 2, 24, 16, 4, 6, 1, 3, 3, 1, "same", 1, "relu"),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "nobias"])
def test_conv2d_cases(isa, case, layout, with_bias):
    _, N, Cin, Cout, H, W, g, KH, KW, stride, padding, dilation, act = case
    rng = np.random.default_rng(zlib.crc32(case[0].encode()))
    x = randn(rng, x_shape(N, Cin, H, W, layout))
    w = randn(rng, (Cout, Cin // g, KH, KW))
    b = randn(rng, (Cout,)) if with_bias else None
    compare("conv2d", x, w, b, stride=stride, padding=padding, dilation=dilation, groups=g,
            layout=layout, activation=act, use_out=with_bias)


@st.composite
def conv2d_case(draw):
    batched = draw(st.booleans())
    g = draw(st.integers(1, 6))
    cg = draw(st.integers(1, 6))
    og = draw(st.integers(1, 4))
    KH = draw(st.sampled_from([1, 2, 3, 4, 5, 7]))
    KW = draw(st.sampled_from([1, 2, 3, 4, 5, 7]))
    H, W = draw(st.integers(1, 10)), draw(st.integers(1, 10))
    stride, dilation = draw(int_or_pair(1, 3)), draw(int_or_pair(1, 3))
    padding = fit_padding(draw, H, W, KH, KW, stride, dilation, draw(padding_strategy()))
    return dict(layout=draw(st.sampled_from(LAYOUTS)), batched=batched,
                N=draw(st.integers(1, 3)) if batched else 1, g=g, Cin=g * cg, Cout=g * og,
                H=H, W=W, KH=KH, KW=KW, stride=stride, dilation=dilation, padding=padding,
                bias=draw(st.booleans()), act=draw(st.sampled_from(ACTIVATIONS)),
                use_out=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)))


@settings(max_examples=250, **HYP)
@given(c=conv2d_case())
def test_conv2d_hypothesis(isa, c):
    rng = np.random.default_rng(c["seed"])
    x = randn(rng, x_shape(c["N"], c["Cin"], c["H"], c["W"], c["layout"], c["batched"]))
    w = randn(rng, (c["Cout"], c["Cin"] // c["g"], c["KH"], c["KW"]))
    b = randn(rng, (c["Cout"],)) if c["bias"] else None
    y = compare("conv2d", x, w, b, stride=c["stride"], padding=c["padding"],
                dilation=c["dilation"], groups=c["g"], layout=c["layout"], activation=c["act"],
                use_out=c["use_out"])
    assert y.ndim == (4 if c["batched"] else 3)


# ==========================================================================================
# separable
# ==========================================================================================
# id, N, C, m, Cout, H, W, K, stride, padding, dilation, dw_act, act
SEP_CASES = [
    ("mbv2_block_c32", 1, 32, 1, 16, 28, 28, 3, 1, 1, 1, "relu6", None),
    ("mbv2_block_s2_c96", 1, 96, 1, 24, 28, 28, 3, 2, "same", 1, "relu6", None),
    ("xception_c64", 2, 64, 1, 128, 16, 16, 3, 1, "same", 1, None, "relu"),
    ("multiplier2_hswish_silu", 1, 8, 2, 20, 12, 12, 3, 1, 1, 1, "hardswish", "silu"),
    ("dilated_k5", 1, 16, 1, 8, 16, 16, 5, 1, "same", 2, "relu", "relu6"),
    ("asym_pad_s2", 1, 11, 1, 13, 9, 10, 3, 2, ((1, 2), (0, 3)), 1, "silu", "hardswish"),
    ("k7_c96_14", 1, 96, 1, 48, 14, 14, 7, 1, 3, 1, None, None),
]


@pytest.mark.parametrize("case", SEP_CASES, ids=[c[0] for c in SEP_CASES])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "nobias"])
def test_separable_cases(isa, case, layout, with_bias):
    _, N, C, m, Cout, H, W, K, stride, padding, dilation, dw_act, act = case
    rng = np.random.default_rng(zlib.crc32(case[0].encode()))
    x = randn(rng, x_shape(N, C, H, W, layout))
    dw = randn(rng, (C * m, 1, K, K))
    pw = randn(rng, (Cout, C * m, 1, 1) if with_bias else (Cout, C * m))
    db = randn(rng, (C * m,)) if with_bias else None
    pb = randn(rng, (Cout,)) if with_bias else None
    compare("separable_conv2d", x, dw, pw, db, pb, stride=stride, padding=padding,
            dilation=dilation, layout=layout, depthwise_activation=dw_act, activation=act,
            use_out=with_bias)


@st.composite
def separable_case(draw):
    batched = draw(st.booleans())
    K = draw(st.sampled_from([1, 2, 3, 4, 5, 7, 9]))
    H, W = draw(st.integers(1, 10)), draw(st.integers(1, 12))
    stride, dilation = draw(int_or_pair(1, 3)), draw(int_or_pair(1, 3))
    padding = fit_padding(draw, H, W, K, K, stride, dilation, draw(padding_strategy()))
    return dict(layout=draw(st.sampled_from(LAYOUTS)), batched=batched,
                N=draw(st.integers(1, 3)) if batched else 1, C=draw(st.integers(1, 40)),
                m=draw(st.integers(1, 3)), Cout=draw(st.integers(1, 40)), H=H, W=W, K=K,
                stride=stride, dilation=dilation, padding=padding,
                dbias=draw(st.booleans()), pbias=draw(st.booleans()),
                weight_4d=draw(st.booleans()),
                dw_act=draw(st.sampled_from(ACTIVATIONS)), act=draw(st.sampled_from(ACTIVATIONS)),
                use_out=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)))


@settings(max_examples=250, **HYP)
@given(c=separable_case())
def test_separable_hypothesis(isa, c):
    rng = np.random.default_rng(c["seed"])
    Cm = c["C"] * c["m"]
    x = randn(rng, x_shape(c["N"], c["C"], c["H"], c["W"], c["layout"], c["batched"]))
    dw = randn(rng, (Cm, 1, c["K"], c["K"]))
    pw = randn(rng, (c["Cout"], Cm) + ((1, 1) if c["weight_4d"] else ()))
    db = randn(rng, (Cm,)) if c["dbias"] else None
    pb = randn(rng, (c["Cout"],)) if c["pbias"] else None
    y = compare("separable_conv2d", x, dw, pw, db, pb, stride=c["stride"], padding=c["padding"],
                dilation=c["dilation"], layout=c["layout"], depthwise_activation=c["dw_act"],
                activation=c["act"], use_out=c["use_out"])
    assert y.ndim == (4 if c["batched"] else 3)


# ==========================================================================================
# out=, unbatched input, non-contiguous input, keyword use
# ==========================================================================================
def _op_inputs(op, layout, rng, batched=True):
    """Small valid positional inputs and keyword arguments for each op."""
    x = randn(rng, x_shape(2, 6, 9, 8, layout, batched))
    if op == "depthwise_conv2d":
        return (x, randn(rng, (12, 1, 3, 3)), randn(rng, (12,))), dict(padding=1, stride=2)
    if op == "pointwise_conv2d":
        return (x, randn(rng, (5, 6)), randn(rng, (5,))), {}
    if op == "separable_conv2d":
        return ((x, randn(rng, (6, 1, 3, 3)), randn(rng, (7, 6)), randn(rng, (6,)),
                 randn(rng, (7,))), dict(padding="same", depthwise_activation="relu"))
    return (x, randn(rng, (4, 3, 3, 3)), randn(rng, (4,))), dict(padding=(1, 0), groups=2)


OPS = ["depthwise_conv2d", "pointwise_conv2d", "separable_conv2d", "conv2d"]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("batched", [True, False], ids=["4d", "3d"])
def test_out_is_returned_and_fully_written(isa, op, layout, batched):
    rng = np.random.default_rng(5)
    args, kw = _op_inputs(op, layout, rng, batched)
    ref = getattr(R, op)(*args, layout=layout, **kw)
    out = poisoned(ref.shape)
    got = getattr(sepconv, op)(*args, layout=layout, out=out, **kw)
    assert got is out
    assert not np.isnan(out).any(), "out= not fully written"
    check(out, ref)
    # a second call overwrites (does not accumulate into) out
    got2 = getattr(sepconv, op)(*args, layout=layout, out=out, **kw)
    assert got2 is out
    check(out, ref)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_unbatched_matches_batched(isa, op, layout):
    rng = np.random.default_rng(6)
    args, kw = _op_inputs(op, layout, rng, batched=False)
    y3 = getattr(sepconv, op)(*args, layout=layout, **kw)
    y4 = getattr(sepconv, op)(args[0][None], *args[1:], layout=layout, **kw)
    assert y3.ndim == 3 and y4.shape == (1,) + y3.shape
    np.testing.assert_array_equal(y3, y4[0])
    check(y3, getattr(R, op)(*args, layout=layout, **kw))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_non_contiguous_inputs(isa, op, layout):
    rng = np.random.default_rng(7)
    args, kw = _op_inputs(op, layout, rng)
    # x: a transposed view of the other layout's memory
    x = args[0]
    if layout == "NCHW":
        x_view = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    else:
        x_view = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)
    assert not x_view.flags.c_contiguous
    np.testing.assert_array_equal(x_view, x)
    # weights and biases: strided / reversed views with the same values
    views = [x_view]
    for a in args[1:]:
        big = np.empty(a.shape[:-1] + (2 * a.shape[-1],), np.float32)
        big[..., ::2] = a
        big[..., 1::2] = np.nan
        v = big[..., ::2]
        assert not v.flags.c_contiguous
        views.append(v)
    ref = getattr(R, op)(*args, layout=layout, **kw)
    check(getattr(sepconv, op)(*views, layout=layout, **kw), ref)
    # a sliced view of a bigger batch/image
    big = randn(rng, (4,) + x.shape[1:])
    big[1:3] = x
    check(getattr(sepconv, op)(big[1:3], *args[1:], layout=layout, **kw), ref)
    sliced = big[::2]
    check(getattr(sepconv, op)(sliced, *args[1:], layout=layout, **kw),
          getattr(R, op)(np.ascontiguousarray(sliced), *args[1:], layout=layout, **kw))
    # Fortran order
    check(getattr(sepconv, op)(np.asfortranarray(x), *args[1:], layout=layout, **kw), ref)


@pytest.mark.parametrize("op", OPS)
def test_default_layout_is_nchw(op):
    rng = np.random.default_rng(8)
    args, kw = _op_inputs(op, "NCHW", rng)
    np.testing.assert_array_equal(getattr(sepconv, op)(*args, **kw),
                                  getattr(sepconv, op)(*args, layout="NCHW", **kw))


def test_keyword_arguments():
    rng = np.random.default_rng(9)
    x = randn(rng, (1, 4, 6, 6))
    w = randn(rng, (4, 1, 3, 3))
    b = randn(rng, (4,))
    check(sepconv.depthwise_conv2d(x=x, weight=w, bias=b, padding=1),
          R.depthwise_conv2d(x, w, b, padding=1))
    pw = randn(rng, (3, 4))
    check(sepconv.separable_conv2d(x, depthwise_weight=w, pointwise_weight=pw,
                                   pointwise_bias=b[:3].copy(), padding=1),
          R.separable_conv2d(x, w, pw, None, b[:3], padding=1))
    check(sepconv.pointwise_conv2d(x, weight=pw, bias=None), R.pointwise_conv2d(x, pw))
    check(sepconv.conv2d(x, weight=randn(np.random.default_rng(1), (2, 2, 1, 1)), groups=2),
          R.conv2d(x, randn(np.random.default_rng(1), (2, 2, 1, 1)), groups=2))


# ==========================================================================================
# NaN / Inf propagation
# ==========================================================================================
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan], ids=["inf", "-inf", "nan"])
def test_depthwise_nonfinite_propagates_locally(isa, layout, bad):
    rng = np.random.default_rng(10)
    C, H, W = 5, 9, 11
    x = randn(rng, (1, C, H, W))
    x[0, 2, 4, 6] = bad
    w = randn(rng, (2 * C, 1, 3, 3))
    y = sepconv.depthwise_conv2d(x if layout == "NCHW" else
                                 np.ascontiguousarray(x.transpose(0, 2, 3, 1)),
                                 w, padding=1, layout=layout)
    if layout == "NHWC":
        y = y.transpose(0, 3, 1, 2)
    expected_bad = np.zeros(y.shape, bool)
    expected_bad[0, 4:6, 3:6, 5:8] = True  # output channels 4, 5 read input channel 2
    assert np.array_equal(~np.isfinite(y), expected_bad)
    if np.isnan(bad):
        assert np.isnan(y[expected_bad]).all()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("K", [2, 4, 6, 9, 13, 31])
@pytest.mark.parametrize("bad", [np.inf, np.nan], ids=["inf", "nan"])
def test_depthwise_wide_kernel_nonfinite_stays_in_its_windows(isa, layout, K, bad):
    """Only the outputs whose window covers a non-finite input are non-finite, on rows of
    several blocks and kernel widths that are not a whole number of register chunks."""
    rng = np.random.default_rng(K)
    C, H, W = 18, 5, 45
    x = randn(rng, x_shape(1, C, H, W, layout))
    for row, col in ((2, 3), (0, 20), (4, 44)):
        x[(0, 5, row, col) if layout == "NCHW" else (0, row, col, 5)] = bad
    w = randn(rng, (C, 1, 3, K))
    y = sepconv.depthwise_conv2d(x, w, padding="same", layout=layout)
    with np.errstate(invalid="ignore"):  # inf - inf in the float64 sums: NaN, as intended
        ref = R.depthwise_conv2d(x, w, padding="same", layout=layout)
    assert not np.isfinite(ref).all()
    np.testing.assert_array_equal(np.isfinite(y), np.isfinite(ref))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_pointwise_nan_propagates_locally(isa, layout):
    rng = np.random.default_rng(11)
    x = randn(rng, (2, 7, 3, 5))
    x[1, 3, 2, 1] = np.nan
    w = randn(rng, (9, 7))
    xin = x if layout == "NCHW" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    y = sepconv.pointwise_conv2d(xin, w, layout=layout)
    if layout == "NHWC":
        y = y.transpose(0, 3, 1, 2)
    expected = np.zeros(y.shape, bool)
    expected[1, :, 2, 1] = True
    assert np.array_equal(np.isnan(y), expected)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_pointwise_inf_in_weight_propagates(isa, layout):
    rng = np.random.default_rng(12)
    x = randn(rng, x_shape(1, 4, 3, 3, layout))
    w = randn(rng, (6, 4))
    w[2, 1] = np.inf
    y = sepconv.pointwise_conv2d(x, w, layout=layout)
    yc = y if layout == "NCHW" else y.transpose(0, 3, 1, 2)
    bad = ~np.isfinite(yc)
    assert bad[0, 2].all() and not np.delete(bad, 2, axis=1).any()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_conv2d_nan_stays_in_its_group(isa, layout):
    rng = np.random.default_rng(13)
    x = randn(rng, (1, 4, 6, 6))
    x[0, 0, 0, 0] = np.nan
    w = randn(rng, (6, 2, 3, 3))
    xin = x if layout == "NCHW" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    y = sepconv.conv2d(xin, w, padding=1, groups=2, layout=layout)
    if layout == "NHWC":
        y = y.transpose(0, 3, 1, 2)
    expected = np.zeros(y.shape, bool)
    expected[0, :3, 0:2, 0:2] = True
    assert np.array_equal(np.isnan(y), expected)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_separable_nan_propagates(isa, layout):
    rng = np.random.default_rng(14)
    x = randn(rng, (1, 3, 7, 7))
    x[0, 1, 6, 6] = np.nan
    xin = x if layout == "NCHW" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    y = sepconv.separable_conv2d(xin, randn(rng, (3, 1, 3, 3)), randn(rng, (4, 3)), padding=1,
                                 layout=layout)
    if layout == "NHWC":
        y = y.transpose(0, 3, 1, 2)
    expected = np.zeros(y.shape, bool)
    expected[0, :, 5:, 5:] = True
    assert np.array_equal(np.isnan(y), expected)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_nan_survives_activation(isa, op, act):
    """NaN input stays NaN through every activation (as in PyTorch; max(NaN, 0) must not be 0)."""
    rng = np.random.default_rng(15)
    args, kw = _op_inputs(op, "NCHW", rng)
    x = args[0].copy()
    x[:, :, 4, 4] = np.nan
    kw = dict(kw)
    if op == "separable_conv2d":
        kw["depthwise_activation"] = act
    y = getattr(sepconv, op)(x, *args[1:], activation=act, **kw)
    ref = getattr(R, op)(x, *args[1:], activation=act, **kw)
    assert np.isnan(ref).any()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
