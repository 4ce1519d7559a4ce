"""The fused inverted residual block (expand -> depthwise -> project [+ x]) against the float64
reference, fused and unfused (the fusion knob), both layouts, on every ISA path."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sepconv
from conftest import check, num_threads, poisoned, randn, reference, to_layout


def weights(rng, c, ce, cout, k, expand=True, bias=True):
    # scaled so that the three stages keep values of order one
    return dict(
        expand_weight=randn(rng, (ce, c)) / float(np.sqrt(c)) if expand else None,
        depthwise_weight=randn(rng, (ce, 1, k, k)) / k,
        project_weight=randn(rng, (cout, ce)) / float(np.sqrt(ce)),
        expand_bias=randn(rng, (ce,)) if expand and bias else None,
        depthwise_bias=randn(rng, (ce,)) if bias else None,
        project_bias=randn(rng, (cout,)) if bias else None,
    )


def run_case(rng, layout, n, c, h, w, ce, cout, k=3, stride=1, padding=None, dilation=1,
             activation="relu6", residual=None, expand=True, bias=True):
    x = randn(rng, (n, c, h, w))
    wts = weights(rng, c, ce, cout, k, expand, bias)
    pad = padding if padding is not None else (k - 1) // 2 * dilation
    res = residual if residual is not None else (stride == 1 and cout == c)
    ref = reference.inverted_residual(x, **wts, stride=stride, padding=pad, dilation=dilation,
                                      activation=activation, residual=res)
    out = poisoned(to_layout(ref, layout).shape)
    got = sepconv.inverted_residual(to_layout(x, layout), **wts, stride=stride, padding=padding,
                                    dilation=dilation, activation=activation, residual=residual,
                                    layout=layout, out=out)
    assert got is out
    check(got, to_layout(ref, layout))


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize(
    "n,c,h,w,ce,cout,k,stride,dilation,expand",
    [
        (1, 24, 56, 56, 144, 24, 3, 1, 1, True),  # MobileNetV2 block 3: residual, fused under auto
        (1, 16, 57, 55, 96, 24, 3, 2, 1, True),   # stride 2 on odd sizes, no residual
        (1, 64, 9, 40, 512, 64, 3, 1, 1, True),   # one-row bands: every band reuses two rows
        (2, 40, 15, 14, 240, 40, 5, 1, 2, True),  # 5x5, dilation 2, batch 2
        (1, 32, 30, 31, 32, 16, 3, 1, 1, False),  # t = 1: no expansion
        (3, 7, 6, 5, 13, 7, 4, 1, 1, True),       # even kernel (centred padding shrinks output)
        (1, 160, 7, 7, 960, 160, 3, 1, 1, True),  # small image, wide expansion
    ],
)
def test_matches_reference(isa, fusion, layout, n, c, h, w, ce, cout, k, stride, dilation,
                           expand):
    residual = False if k % 2 == 0 else None
    run_case(np.random.default_rng(11), layout, n, c, h, w, ce, cout, k=k, stride=stride,
             dilation=dilation, expand=expand, residual=residual, activation="hardswish")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("c, ce, h", [(8, 48, 72), (64, 64, 96)])
def test_unfused_batch_in_groups_of_images(isa, fusion, threads, c, ce, h):
    """NCHW batches whose intermediates exceed 8 MiB run unfused in groups of images (4 MiB of
    intermediates a thread): with an expansion (2 MB an image: groups of 2, 2 and 1 on 1 thread,
    4 and 1 on 2) and without (2.4 MB: 1 image at a time, or 3 and 2); the residual is added
    per group."""
    with num_threads(threads):
        run_case(np.random.default_rng(threads + ce), "NCHW", 5, c, h, h, ce, c,
                 expand=ce != c)


@pytest.mark.parametrize("activation", [None, "relu", "relu6", "silu"])
def test_activations_and_no_bias(isa, activation):
    run_case(np.random.default_rng(3), "NHWC", 1, 8, 12, 10, 48, 8, activation=activation,
             bias=False)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    layout=st.sampled_from(["NCHW", "NHWC"]), n=st.integers(1, 2), c=st.integers(1, 24),
    h=st.integers(3, 20), w=st.integers(3, 20), t=st.integers(1, 6), cout=st.integers(1, 24),
    k=st.sampled_from([1, 3, 5]), stride=st.integers(1, 2), expand=st.booleans(),
    residual=st.booleans(), seed=st.integers(0, 2**16),
)
def test_fused_hypothesis(isa, layout, n, c, h, w, t, cout, k, stride, expand, residual, seed):
    ce = c * t if expand else c
    residual = residual and stride == 1 and cout == c
    sepconv._core.set_fusion("always")
    try:
        run_case(np.random.default_rng(seed), layout, n, c, h, w, ce, cout, k=k, stride=stride,
                 expand=expand, residual=residual)
    finally:
        sepconv._core.set_fusion("auto")


def test_unbatched_and_default_residual(isa):
    rng = np.random.default_rng(5)
    x = randn(rng, (8, 9, 9))
    wts = weights(rng, 8, 24, 8, 3)
    ref = reference.inverted_residual(x[None], **wts, padding=1, residual=True)[0]
    check(sepconv.inverted_residual(x, **wts), ref)


def test_bad_arguments():
    rng = np.random.default_rng(0)
    x = randn(rng, (1, 8, 6, 6))
    wts = weights(rng, 8, 24, 8, 3)
    with pytest.raises(ValueError, match="expand_weight has Cin = 8"):
        sepconv.inverted_residual(randn(rng, (1, 9, 6, 6)), **wts)
    with pytest.raises(ValueError, match="depthwise_weight must have shape"):
        sepconv.inverted_residual(x, wts["expand_weight"], randn(rng, (48, 1, 3, 3)),
                                  wts["project_weight"])
    with pytest.raises(ValueError, match="project_weight has Cin = 20"):
        sepconv.inverted_residual(x, wts["expand_weight"], wts["depthwise_weight"],
                                  randn(rng, (8, 24))[:, :20].copy())
    with pytest.raises(ValueError, match="residual connection needs"):
        sepconv.inverted_residual(x, **wts, stride=2, residual=True)
    with pytest.raises(ValueError, match="expand_bias must be None"):
        sepconv.inverted_residual(x, None, randn(rng, (8, 1, 3, 3)), randn(rng, (8, 8)),
                                  expand_bias=np.ones(8, np.float32))
    with pytest.raises(ValueError, match="residual must be"):
        sepconv.inverted_residual(x, **wts, residual="yes")
    with pytest.raises(ValueError, match="out"):
        sepconv.inverted_residual(x, **wts, out=x)  # the output would overwrite x
    with pytest.raises(TypeError, match="float32"):
        sepconv.inverted_residual(x.astype(np.float64), **wts)
