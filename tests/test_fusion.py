"""The fused separable op (a band of the depthwise result at a time, fed to the pointwise GEMM)
against the float64 reference, forced on and off with the fusion knob, on every ISA path."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sepconv
from conftest import check, num_threads, placed, poisoned, randn, reference, to_layout


def run_case(rng, layout, n, c, h, w, k, m, cout, stride=1, padding="same", dilation=1,
             dw_act="relu6", act=None, bias=True):
    x = randn(rng, (n, c, h, w))
    dw = randn(rng, (c * m, 1, k, k))
    pw = randn(rng, (cout, c * m))
    db = randn(rng, (c * m,)) if bias else None
    pb = randn(rng, (cout,)) if bias else None
    kw = dict(stride=stride, padding=padding, dilation=dilation, depthwise_activation=dw_act,
              activation=act)
    ref = reference.separable_conv2d(x, dw, pw, db, pb, **kw)
    xl = to_layout(x, layout)
    out = poisoned(to_layout(ref, layout).shape)
    got = sepconv.separable_conv2d(xl, dw, pw, db, pb, layout=layout, out=out, **kw)
    assert got is out
    check(got, to_layout(ref, layout))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize(
    "n,c,h,w,k,m,cout,stride,dilation",
    [
        (1, 144, 56, 56, 3, 1, 24, 1, 1),   # MobileNetV2: intermediate 1.8 MB, fused under auto
        (2, 32, 45, 37, 3, 1, 16, 2, 1),    # bands that do not divide the rows, stride 2
        (1, 96, 30, 33, 5, 1, 40, 1, 2),    # dilation, odd widths
        (1, 12, 20, 21, 3, 2, 9, 1, 1),     # multiplier 2 (NCHW per-plane kernel)
        (1, 960, 7, 7, 3, 1, 320, 1, 1),    # small image, wide layer
        (1, 512, 14, 13, 3, 1, 64, 1, 1),   # MobileNetV1: depthwise bands on padded copies
        (3, 70, 9, 11, 7, 1, 70, 1, 1),     # channel tails, 7x7
    ],
)
def test_fused_matches_reference(isa, fusion, layout, n, c, h, w, k, m, cout, stride, dilation):
    run_case(np.random.default_rng(7), layout, n, c, h, w, k, m, cout, stride=stride,
             dilation=dilation, act="silu")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("stride, padding", [(1, 1), (1, 0), (2, 1)])
def test_fused_streamed_input(isa, fusion, threads, stride, padding):
    """An NHWC input over 8 MiB: the fused bands prefetch the next pass's (or output row's) input
    rows, past each band's last row into the next band's, up to the image's last row; 67
    channels leave a tail tile."""
    with num_threads(threads):
        run_case(np.random.default_rng(3 * threads + stride), "NHWC", 3, 67, 109, 97, 3, 1, 21,
                 stride=stride, padding=padding, act="relu")


@pytest.mark.parametrize("threads", [1, 2])
def test_unfused_batch_in_groups_of_images(isa, fusion, threads):
    """An NCHW batch whose intermediate exceeds 8 MiB runs unfused in groups of images (2 MB an
    image, 4 MiB a thread: groups of 2, 2 and 1 on 1 thread, 4 and 1 on 2)."""
    with num_threads(threads):
        run_case(np.random.default_rng(5 + threads), "NCHW", 5, 20, 160, 160, 3, 1, 11)


@pytest.mark.parametrize("offset", [0, 4, 16, 32, 48])
@pytest.mark.parametrize("c, h", [(960, 7), (48, 9)])
def test_separable_input_off_a_cache_line(isa, fusion, offset, c, h):
    """A functional call packs the depthwise weights only for its input's lead (16, 32 or 48
    bytes past a cache line, on AVX-512, when the channels fill enough tiles)."""
    rng = np.random.default_rng(offset + c)
    x = randn(rng, (2, c, h, h))
    dw = randn(rng, (c, 1, 3, 3))
    pw = randn(rng, (24, c))
    ref = reference.separable_conv2d(x, dw, pw, depthwise_activation="relu6", padding="same")
    xl = placed(to_layout(x, "NHWC"), offset)
    assert xl.ctypes.data % 64 == offset
    got = sepconv.separable_conv2d(xl, dw, pw, depthwise_activation="relu6", padding="same",
                                   layout="NHWC")
    check(got, to_layout(ref, "NHWC"))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    layout=st.sampled_from(["NCHW", "NHWC"]),
    n=st.integers(1, 2), c=st.integers(1, 40), h=st.integers(1, 24), w=st.integers(1, 24),
    k=st.integers(1, 6), m=st.integers(1, 2), cout=st.integers(1, 40),
    stride=st.integers(1, 3), padding=st.sampled_from(["same", 0, 1, ((2, 0), (1, 3))]),
    bias=st.booleans(), seed=st.integers(0, 2**16),
)
def test_fused_hypothesis(isa, layout, n, c, h, w, k, m, cout, stride, padding, bias, seed):
    pad = k // 2 if padding == 0 else padding  # keep the window inside the padded image
    if isinstance(pad, int) and h + 2 * pad < k:
        pad = "same"
    sepconv._core.set_fusion("always")
    try:
        run_case(np.random.default_rng(seed), layout, n, c, h, w, k, m, cout, stride=stride,
                 padding=pad, bias=bias, dw_act=None, act="relu")
    except ValueError as e:  # a window larger than the padded image is rejected, not computed
        assert "larger than" in str(e) and "padded input" in str(e)
    finally:
        sepconv._core.set_fusion("auto")


def test_fusion_knob_rejects_unknown():
    with pytest.raises(ValueError, match="fusion"):
        sepconv._core.set_fusion("sometimes")
