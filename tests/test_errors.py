"""Bad inputs raise TypeError / ValueError naming the argument (never crash, never write).

The exact wording belongs to the implementation; the tests only require the exception type and
a case-insensitive fragment that any sensible message contains (usually the argument name).
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import sepconv
from conftest import poisoned, randn

OPS = ["depthwise_conv2d", "pointwise_conv2d", "separable_conv2d", "conv2d"]
SPATIAL_OPS = ["depthwise_conv2d", "separable_conv2d", "conv2d"]  # ops with stride/padding/...
ARG_NAMES = {
    "depthwise_conv2d": ["x", "weight", "bias"],
    "pointwise_conv2d": ["x", "weight", "bias"],
    "separable_conv2d": ["x", "depthwise_weight", "pointwise_weight", "depthwise_bias",
                         "pointwise_bias"],
    "conv2d": ["x", "weight", "bias"],
}
WEIGHTS = [(op, n) for op in OPS for n in ARG_NAMES[op] if n.endswith("weight")]
BIASES = [(op, n) for op in OPS for n in ARG_NAMES[op] if n.endswith("bias")]

X_FRAGMENT = r"(?i)\bx\b"
GEOMETRY_FRAGMENT = r"(?i)kernel|weight|padding|input|\bx\b"


def valid(op, layout="NCHW"):
    """Arrays and keywords of a valid call whose output has the same shape as x (2, 4, 8, 8)."""
    rng = np.random.default_rng(0)
    x = randn(rng, (2, 4, 8, 8) if layout == "NCHW" else (2, 8, 8, 4))
    if op == "depthwise_conv2d":
        arrays = dict(x=x, weight=randn(rng, (4, 1, 3, 3)), bias=randn(rng, (4,)))
        kw = dict(padding=1)
    elif op == "pointwise_conv2d":
        arrays = dict(x=x, weight=randn(rng, (4, 4)), bias=randn(rng, (4,)))
        kw = {}
    elif op == "separable_conv2d":
        arrays = dict(x=x, depthwise_weight=randn(rng, (4, 1, 3, 3)),
                      pointwise_weight=randn(rng, (4, 4)), depthwise_bias=randn(rng, (4,)),
                      pointwise_bias=randn(rng, (4,)))
        kw = dict(padding=1)
    else:
        arrays = dict(x=x, weight=randn(rng, (4, 2, 3, 3)), bias=randn(rng, (4,)))
        kw = dict(padding=1, groups=2)
    kw["layout"] = layout
    return arrays, kw


def call(op, arrays, kw):
    return getattr(sepconv, op)(*[arrays[n] for n in ARG_NAMES[op]], **kw)


def no_bias(op, arrays):
    for n in ARG_NAMES[op]:
        if n.endswith("bias"):
            arrays[n] = None


def raises(exc, fragment, op, arrays, kw):
    with pytest.raises(exc, match=fragment):
        call(op, arrays, kw)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_valid_baseline(op, layout):
    arrays, kw = valid(op, layout)
    y = call(op, arrays, kw)
    assert y.shape == arrays["x"].shape and y.dtype == np.float32


# ------------------------------------------------------------------------------------------
# dtypes -> TypeError mentioning float32
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.int64, object])
def test_x_wrong_dtype(op, dtype):
    arrays, kw = valid(op)
    arrays["x"] = arrays["x"].astype(dtype)
    raises(TypeError, r"(?i)float32", op, arrays, kw)


@pytest.mark.parametrize("op,name", WEIGHTS)
@pytest.mark.parametrize("dtype", [np.int32, np.float64])
def test_weight_wrong_dtype(op, name, dtype):
    arrays, kw = valid(op)
    arrays[name] = arrays[name].astype(dtype)
    raises(TypeError, r"(?i)float32", op, arrays, kw)


@pytest.mark.parametrize("op,name", BIASES)
def test_bias_wrong_dtype(op, name):
    arrays, kw = valid(op)
    arrays[name] = arrays[name].astype(np.float64)
    raises(TypeError, r"(?i)float32", op, arrays, kw)


# ------------------------------------------------------------------------------------------
# shapes
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape", [(4, 8), (1, 2, 4, 8, 8), (8,), ()],
                         ids=["2d", "5d", "1d", "0d"])
def test_x_wrong_ndim(op, shape):
    arrays, kw = valid(op)
    arrays["x"] = np.ones(shape, np.float32)
    raises(ValueError, X_FRAGMENT, op, arrays, kw)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize(
    "op,name,shape",
    [
        ("depthwise_conv2d", "weight", (6, 1, 3, 3)),  # 6 output channels, C = 4: 6 % 4 != 0
        ("depthwise_conv2d", "weight", (2, 1, 3, 3)),  # fewer than C
        ("pointwise_conv2d", "weight", (4, 5)),  # Cin 5 != 4
        ("pointwise_conv2d", "weight", (4, 3, 1, 1)),
        ("separable_conv2d", "depthwise_weight", (6, 1, 3, 3)),
        ("separable_conv2d", "pointwise_weight", (4, 5)),  # Cin must be C * m = 4
        ("separable_conv2d", "pointwise_weight", (4, 8, 1, 1)),
        ("conv2d", "weight", (4, 3, 3, 3)),  # groups=2: Cin / groups must be 2
        ("conv2d", "weight", (4, 4, 3, 3)),
    ],
)
def test_channel_mismatch(op, name, shape, layout):
    arrays, kw = valid(op, layout)
    no_bias(op, arrays)
    arrays[name] = np.ones(shape, np.float32)
    raises(ValueError, r"(?i)weight", op, arrays, kw)


@pytest.mark.parametrize(
    "op,name,shape",
    [
        ("depthwise_conv2d", "weight", (4, 2, 3, 3)),  # second dim must be 1
        ("depthwise_conv2d", "weight", (4, 3, 3)),  # 3-D
        ("depthwise_conv2d", "weight", (4, 1, 1, 3, 3)),  # 5-D
        ("depthwise_conv2d", "weight", (4, 1, 0, 3)),  # empty kernel
        ("separable_conv2d", "depthwise_weight", (8, 2, 3, 3)),
        ("separable_conv2d", "depthwise_weight", (4, 1, 3, 0)),
        ("pointwise_conv2d", "weight", (4, 4, 3, 3)),  # not 1x1
        ("pointwise_conv2d", "weight", (4, 4, 1)),
        ("pointwise_conv2d", "weight", (4,)),
        ("pointwise_conv2d", "weight", (0, 4)),  # zero output channels
        ("separable_conv2d", "pointwise_weight", (4, 4, 3, 3)),
        ("conv2d", "weight", (4, 2, 3)),
        ("conv2d", "weight", (4, 2, 0, 3)),
    ],
)
def test_weight_wrong_shape(op, name, shape):
    arrays, kw = valid(op)
    no_bias(op, arrays)
    arrays[name] = np.ones(shape, np.float32)
    raises(ValueError, r"(?i)weight", op, arrays, kw)


@pytest.mark.parametrize("groups", [3, 0, -1])
def test_conv2d_bad_groups(groups):
    arrays, kw = valid("conv2d")
    arrays["weight"] = np.ones((6, 1, 3, 3), np.float32)  # Cin 4 not divisible by 3
    arrays["bias"] = None
    kw["groups"] = groups
    raises(ValueError, r"(?i)groups", "conv2d", arrays, kw)


def test_conv2d_out_channels_not_divisible_by_groups():
    arrays, kw = valid("conv2d")
    arrays["weight"] = np.ones((5, 2, 3, 3), np.float32)
    arrays["bias"] = None
    raises(ValueError, r"(?i)groups|weight", "conv2d", arrays, kw)


@pytest.mark.parametrize("op,name", BIASES)
@pytest.mark.parametrize("shape", [(3,), (5,), (4, 1), (1,), (0,)])
def test_bias_wrong_shape(op, name, shape):
    arrays, kw = valid(op)
    arrays[name] = np.ones(shape, np.float32)
    raises(ValueError, r"(?i)bias", op, arrays, kw)


# ------------------------------------------------------------------------------------------
# stride / dilation / padding / strings
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", SPATIAL_OPS)
@pytest.mark.parametrize("stride", [0, -1, (1, 0), (-2, 1)], ids=str)
def test_bad_stride(op, stride):
    arrays, kw = valid(op)
    kw["stride"] = stride
    raises(ValueError, r"(?i)stride", op, arrays, kw)


@pytest.mark.parametrize("op", SPATIAL_OPS)
@pytest.mark.parametrize("dilation", [0, -2, (0, 1), (1, -1)], ids=str)
def test_bad_dilation(op, dilation):
    arrays, kw = valid(op)
    kw["dilation"] = dilation
    raises(ValueError, r"(?i)dilation", op, arrays, kw)


@pytest.mark.parametrize("op", SPATIAL_OPS)
@pytest.mark.parametrize("padding", [-1, (1, -1), ((0, 0), (-1, 0)), ((-2, 0), (0, 0))],
                         ids=str)
def test_negative_padding(op, padding):
    arrays, kw = valid(op)
    kw["padding"] = padding
    raises(ValueError, r"(?i)padding", op, arrays, kw)


@pytest.mark.parametrize("op", SPATIAL_OPS)
@pytest.mark.parametrize("padding", ["full", "causal", ""])
def test_unknown_padding_string(op, padding):
    arrays, kw = valid(op)
    kw["padding"] = padding
    raises(ValueError, r"(?i)padding", op, arrays, kw)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("layout", ["CHWN", "NCWH", ""])
def test_unknown_layout(op, layout):
    arrays, kw = valid(op)
    kw["layout"] = layout
    raises(ValueError, r"(?i)layout", op, arrays, kw)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("act", ["gelu", "tanh", ""])
def test_unknown_activation(op, act):
    arrays, kw = valid(op)
    kw["activation"] = act
    raises(ValueError, r"(?i)activation", op, arrays, kw)


def test_unknown_depthwise_activation():
    arrays, kw = valid("separable_conv2d")
    kw["depthwise_activation"] = "gelu"
    raises(ValueError, r"(?i)activation", "separable_conv2d", arrays, kw)


# ------------------------------------------------------------------------------------------
# geometry: empty output, zero sizes
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", SPATIAL_OPS)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize(
    "kernel,padding,dilation",
    [
        ((9, 9), 0, 1),  # 9x9 kernel on 8x8, no padding
        ((9, 3), 0, 1),  # only the height does not fit
        ((3, 9), ((1, 1), (0, 0)), 1),  # padding on the wrong axis
        ((3, 3), "valid", 5),  # dilated span 11 > 8
        ((10, 10), ((1, 0), (0, 1)), 1),  # padded 9 < 10
    ],
    ids=["k9", "k9x3", "k3x9_padh", "dilated", "k10_pad1"],
)
def test_kernel_larger_than_padded_input(op, layout, kernel, padding, dilation):
    arrays, kw = valid(op, layout)
    no_bias(op, arrays)
    name = "depthwise_weight" if op == "separable_conv2d" else "weight"
    cin = 2 if op == "conv2d" else 1
    arrays[name] = np.ones((4, cin) + kernel, np.float32)
    kw.update(padding=padding, dilation=dilation)
    raises(ValueError, GEOMETRY_FRAGMENT, op, arrays, kw)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("axis", ["H", "W"])
def test_zero_size_image(op, layout, axis):
    arrays, kw = valid(op, layout)
    shape = list(arrays["x"].shape)
    shape[layout.index(axis)] = 0
    arrays["x"] = np.ones(shape, np.float32)
    if op != "pointwise_conv2d":
        kw["padding"] = 2
    raises(ValueError, X_FRAGMENT, op, arrays, kw)


# ------------------------------------------------------------------------------------------
# out=
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape", [(2, 4, 8, 7), (2, 4, 8), (1, 2, 4, 8, 8), (2, 8, 8, 4)],
                         ids=["short", "3d", "5d", "nhwc"])
def test_out_wrong_shape(op, shape):
    arrays, kw = valid(op)
    raises(ValueError, r"(?i)out", op, arrays, dict(kw, out=poisoned(shape)))


@pytest.mark.parametrize("op", OPS)
def test_out_batched_for_unbatched_input(op):
    arrays, kw = valid(op)
    arrays["x"] = arrays["x"][0]
    raises(ValueError, r"(?i)out", op, arrays, dict(kw, out=poisoned((1, 4, 8, 8))))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32])
def test_out_wrong_dtype(op, dtype):
    arrays, kw = valid(op)
    raises(ValueError, r"(?i)out", op, arrays, dict(kw, out=np.zeros((2, 4, 8, 8), dtype)))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("kind", ["transposed", "strided", "fortran"])
def test_out_not_contiguous(op, kind):
    arrays, kw = valid(op)
    if kind == "transposed":
        out = poisoned((2, 8, 8, 4)).transpose(0, 3, 1, 2)
    elif kind == "strided":
        out = poisoned((2, 4, 8, 16))[..., ::2]
    else:
        out = np.asfortranarray(poisoned((2, 4, 8, 8)))
    assert out.shape == (2, 4, 8, 8) and not out.flags.c_contiguous
    raises(ValueError, r"(?i)out", op, arrays, dict(kw, out=out))
    assert np.isnan(out).all()


@pytest.mark.parametrize("op", OPS)
def test_out_read_only(op):
    arrays, kw = valid(op)
    out = poisoned((2, 4, 8, 8))
    out.setflags(write=False)
    raises(ValueError, r"(?i)out", op, arrays, dict(kw, out=out))
    assert np.isnan(out).all()


@pytest.mark.parametrize("op", OPS)
def test_out_is_x(op):
    arrays, kw = valid(op)
    x = arrays["x"]
    before = x.copy()
    raises(ValueError, r"(?i)out", op, arrays, dict(kw, out=x))
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("offset", [1, 100, -100], ids=["by1", "by100", "before"])
def test_out_overlaps_x(op, offset):
    arrays, kw = valid(op)
    n = arrays["x"].size
    buf = np.full(2 * n + 200, np.nan, np.float32)
    start_x = 200 if offset < 0 else 0
    x = buf[start_x:start_x + n].reshape(arrays["x"].shape)
    x[...] = arrays["x"]
    out = buf[start_x + offset:start_x + offset + n].reshape(x.shape)
    assert np.shares_memory(out, x) and x.flags.c_contiguous and out.flags.c_contiguous
    arrays["x"] = x
    raises(ValueError, r"(?i)out", op, arrays, dict(kw, out=out))


@pytest.mark.parametrize("op,name", [(op, n) for op in OPS for n in ARG_NAMES[op][1:]])
def test_out_overlaps_weight_or_bias(op, name):
    arrays, kw = valid(op)
    out = poisoned((2, 4, 8, 8))
    flat = out.reshape(-1)
    src = arrays[name]
    view = flat[37:37 + src.size].reshape(src.shape)
    view[...] = src
    arrays[name] = view
    raises(ValueError, r"(?i)out", op, arrays, dict(kw, out=out))


@pytest.mark.parametrize("op", OPS)
def test_error_writes_nothing(op):
    """Validation happens before any write: a bad call leaves a valid out= untouched."""
    arrays, kw = valid(op)
    bias_name = ARG_NAMES[op][-1]
    arrays[bias_name] = np.ones(3, np.float32)
    out = poisoned((2, 4, 8, 8))
    raises(ValueError, r"(?i)bias", op, arrays, dict(kw, out=out))
    assert np.isnan(out).all()


# ------------------------------------------------------------------------------------------
# sizes whose element / byte count overflows: run in a subprocess so that a crash, a huge
# allocation or a 2**60-element loop shows up as a failure instead of killing the test run.
# ------------------------------------------------------------------------------------------
HUGE_SNIPPET = textwrap.dedent(
    """
    import numpy as np, sepconv
    from numpy.lib.stride_tricks import as_strided
    def fake(shape):
        a = as_strided(np.zeros(1, np.float32), shape=shape, strides=(0,) * len(shape))
        a.flags.writeable = False
        return a
    small = lambda *s: np.ones(s, np.float32)
    op = {op!r}
    case = {case!r}
    if case == "x_nchw":
        x = fake((1, 1, 2**30, 2**30)); layout = "NCHW"
    elif case == "x_nhwc":
        x = fake((1, 2**30, 2**30, 1)); layout = "NHWC"
    else:
        x = small(1, 1, 8, 8); layout = "NCHW"
    if op == "depthwise_conv2d":
        w = fake((2**60, 1, 1, 1)) if case == "weight" else small(1, 1, 3, 3)
        args, kw = (x, w), dict(padding=1)
    elif op == "pointwise_conv2d":
        w = fake((2**60, 1)) if case == "weight" else small(1, 1)
        args, kw = (x, w), {{}}
    elif op == "separable_conv2d":
        pw = fake((2**60, 1)) if case == "weight" else small(1, 1)
        args, kw = (x, small(1, 1, 3, 3), pw), dict(padding=1)
    else:
        w = fake((2**60, 1, 1, 1)) if case == "weight" else small(1, 1, 3, 3)
        args, kw = (x, w), dict(padding=1)
    try:
        getattr(sepconv, op)(*args, layout=layout, **kw)
    except ValueError as e:
        print("VALUEERROR", e)
    except BaseException as e:
        print("OTHER", type(e).__name__, e)
    else:
        print("NO ERROR")
    """
)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("case", ["x_nchw", "x_nhwc", "weight"])
def test_huge_sizes_raise_value_error(op, case):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    try:
        proc = subprocess.run([sys.executable, "-c", HUGE_SNIPPET.format(op=op, case=case)],
                              capture_output=True, text=True, timeout=60, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("did not return within 60 s (iterating over or allocating the huge input?)")
    assert proc.returncode == 0, f"crashed (rc {proc.returncode}): {proc.stderr[-2000:]}"
    assert proc.stdout.startswith("VALUEERROR"), proc.stdout + proc.stderr[-2000:]
