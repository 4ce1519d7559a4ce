"""Argument normalisation shared by the ops and the cost model: turns the PyTorch-style Python
arguments into the plain tuples the C++ core takes, raising TypeError/ValueError that name the
argument. The shape arithmetic itself lives once, in C++ (``_core.conv_geometry``)."""

from __future__ import annotations

import numbers
from typing import Any, Optional, Tuple

import numpy as np

from . import _core

# Matches the C++ core's limit, so that huge fake arrays are rejected before any copy.
MAX_ELEMENTS = 1 << 58
LAYOUTS = ("NCHW", "NHWC")


def is_int(v: Any) -> bool:
    # type(v) is int first: the ABC check of numbers.Integral costs ~0.6 us per call
    return type(v) is int or (isinstance(v, (numbers.Integral, np.integer))
                              and not isinstance(v, (bool, np.bool_)))


def pair(name: str, value: Any) -> Tuple[int, int]:
    """An int or a pair of ints as (h, w)."""
    if is_int(value):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) for v in value):
        return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")


def padding4(padding: Any):
    """'valid', 'same' or (top, bottom, left, right) from an int, a pair or a pair of pairs."""
    if isinstance(padding, str):
        if padding in ("valid", "same"):
            return padding
        raise ValueError(
            f"padding must be an int, a pair, ((top, bottom), (left, right)), 'valid' or 'same', "
            f"got {padding!r}")
    if is_int(padding):
        p = int(padding)
        return (p, p, p, p)
    if isinstance(padding, (tuple, list)) and len(padding) == 2:
        if all(is_int(v) for v in padding):
            ph, pw = int(padding[0]), int(padding[1])
            return (ph, ph, pw, pw)
        if all(isinstance(v, (tuple, list)) and len(v) == 2 and all(is_int(u) for u in v)
               for v in padding):
            (t, b), (left, right) = padding
            return (int(t), int(b), int(left), int(right))
    raise ValueError(
        f"padding must be an int, a pair, ((top, bottom), (left, right)), 'valid' or 'same', "
        f"got {padding!r}")


def layout_of(layout: Any) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
    return layout


def float32_array(a: Any, name: str, *, copy_ok: bool = True) -> np.ndarray:
    """A C-contiguous float32 ndarray (non-contiguous inputs are copied), or TypeError."""
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    if a.dtype != np.float32:
        raise TypeError(
            f"{name} must be a float32 array, got dtype {a.dtype}; "
            f"convert it with {name}.astype(numpy.float32)")
    if a.size > MAX_ELEMENTS:
        raise ValueError(f"{name} of shape {a.shape} has too many elements: sizes would overflow")
    return np.ascontiguousarray(a) if copy_ok else a


def activation_shape(shape: Tuple[int, ...], layout: str) -> Tuple[Tuple[int, ...], bool]:
    """The 4-D shape of an x of this shape (a 3-D x is unbatched: batch 1) and whether x was 3-D.

    ValueError naming x for a wrong number of dimensions or any zero size."""
    s = tuple(int(d) for d in shape)
    if len(s) not in (3, 4):
        dims = "(N, C, H, W) or (C, H, W)" if layout == "NCHW" else "(N, H, W, C) or (H, W, C)"
        raise ValueError(f"x must be 3-D or 4-D {dims} for layout {layout}, got shape {s}")
    if 0 in s:
        names = ("batch", "channels", "height", "width") if layout == "NCHW" else (
            "batch", "height", "width", "channels")
        zeros = ", ".join(f"{n} = 0" for n, d in zip(names[4 - len(s):], s) if d == 0)
        raise ValueError(f"x must have non-zero sizes, got shape {s} (layout {layout}: {zeros})")
    return ((1,) + s if len(s) == 3 else s), len(s) == 3


def activation_input(x: Any, layout: str):
    """x as a contiguous 4-D float32 array plus whether it was unbatched (3-D)."""
    x = float32_array(x, "x")
    if x.ndim == 4 and 0 not in x.shape:  # the common case, without activation_shape's copies
        return x, False
    x4_shape, unbatched = activation_shape(x.shape, layout)
    return x.reshape(x4_shape), unbatched


def channels(x4_shape: Tuple[int, ...], layout: str) -> int:
    return int(x4_shape[1] if layout == "NCHW" else x4_shape[3])


def spatial(x4_shape: Tuple[int, ...], layout: str) -> Tuple[int, int]:
    return (int(x4_shape[2]), int(x4_shape[3])) if layout == "NCHW" else (
        int(x4_shape[1]), int(x4_shape[2]))


def bias_array(bias: Any, name: str, count: int):
    if bias is None:
        return None
    b = float32_array(bias, name)
    if b.shape != (count,):
        raise ValueError(f"{name} must have shape ({count},), got {b.shape}")
    return b


# ------------------------------------------------------------------------------------------
# weight-shape checks on plain shape tuples, shared by the ops (weight.shape) and the cost
# model (the caller's shapes). x4_shape and c come from activation_shape / channels.
# ------------------------------------------------------------------------------------------
def _nonzero(shape: Tuple[int, ...], name: str) -> None:
    """A weight with an empty dimension (no kernel taps, no output channels) is rejected here,
    naming it, rather than by the C++ core's descriptor check."""
    if 0 in shape:
        raise ValueError(f"{name} must have non-zero sizes, got shape {shape}")


def x_source(x4_shape: Tuple[int, ...], layout: str) -> str:
    """Where the channel count C comes from, for messages: x itself (the ops) or, for layers,
    their in_channels."""
    return f"x {x4_shape}, {layout}"


def depthwise_multiplier(weight_shape: Tuple[int, ...], c: int, source: str, name: str) -> int:
    """The depth multiplier m of a depthwise weight of shape (C*m, 1, KH, KW), or ValueError."""
    w = tuple(weight_shape)
    if c < 1 or len(w) != 4 or w[1] != 1 or w[0] == 0 or w[0] % c != 0:
        # the op's own weight says what m is; depthwise_weight's message never did
        m = " and multiplier m >= 1" if name == "weight" else ""
        raise ValueError(
            f"{name} must have shape (C*m, 1, KH, KW) with C = {c} (from {source}){m}, got {w}")
    _nonzero(w, name)
    return w[0] // c


def pointwise_matrix_shape(weight_shape: Tuple[int, ...], name: str) -> Tuple[int, int]:
    """(Cout, Cin) of a pointwise weight of shape (Cout, Cin, 1, 1) or (Cout, Cin)."""
    w = tuple(weight_shape)
    if not (len(w) == 2 or (len(w) == 4 and w[2:] == (1, 1))):
        raise ValueError(f"{name} must have shape (Cout, Cin, 1, 1) or (Cout, Cin), got {w}")
    _nonzero(w, name)
    return w[0], w[1]


def pointwise_on_x(weight_shape: Tuple[int, ...], c: int, source: str) -> Tuple[int, int]:
    """pointwise_conv2d: (Cout, Cin) of its weight, whose Cin must be the c input channels."""
    cout, cin = pointwise_matrix_shape(weight_shape, "weight")
    if cin != c:
        raise ValueError(
            f"weight has Cin = {cin} (shape {tuple(weight_shape)}) but the input has C = {c} "
            f"channels (from {source})")
    return cout, cin


def pointwise_on_depthwise(pointwise_shape: Tuple[int, ...],
                           depthwise_shape: Tuple[int, ...]) -> Tuple[int, int]:
    """separable_conv2d: (Cout, Cin) of pointwise_weight, whose Cin must be the C*m channels of
    the depthwise stage."""
    cout, cin = pointwise_matrix_shape(pointwise_shape, "pointwise_weight")
    if cin != depthwise_shape[0]:
        raise ValueError(
            f"pointwise_weight has Cin = {cin} (shape {tuple(pointwise_shape)}) but the "
            f"depthwise stage gives {depthwise_shape[0]} channels (depthwise_weight "
            f"{tuple(depthwise_shape)})")
    return cout, cin


def inverted_residual_channels(expand_shape: Optional[Tuple[int, ...]],
                               depthwise_shape: Tuple[int, ...], project_shape: Tuple[int, ...],
                               c: int, source: str) -> Tuple[int, int]:
    """inverted_residual: (expanded, out) channels of its weights (expand (Ce, C), depthwise
    (Ce, 1, KH, KW), project (Cout, Ce); expand None means Ce = C), or ValueError."""
    ce = c
    if expand_shape is not None:
        ce, cin = pointwise_matrix_shape(expand_shape, "expand_weight")
        if cin != c:
            raise ValueError(
                f"expand_weight has Cin = {cin} (shape {tuple(expand_shape)}) but the input has "
                f"C = {c} channels (from {source})")
    stage = source if expand_shape is None else f"expand_weight {tuple(expand_shape)}"
    if depthwise_multiplier(depthwise_shape, ce, stage, "depthwise_weight") != 1:
        raise ValueError(
            f"depthwise_weight must have shape ({ce}, 1, KH, KW) (multiplier 1 over the {ce} "
            f"channels from {stage}), got {tuple(depthwise_shape)}")
    cout, cin = pointwise_matrix_shape(project_shape, "project_weight")
    if cin != ce:
        raise ValueError(
            f"project_weight has Cin = {cin} (shape {tuple(project_shape)}) but the depthwise "
            f"stage gives {ce} channels")
    return ce, cout


def centred_padding(kernel: Tuple[int, int], dilation: Tuple[int, int]):
    """PyTorch MobileNet's padding, (k - 1) // 2 * dilation per side (odd kernels keep the
    size), as ((top, bottom), (left, right))."""
    ph, pw = ((k - 1) // 2 * d for k, d in zip(kernel, dilation))
    return ((ph, ph), (pw, pw))


def residual_flag(residual: Any, stride: Tuple[int, int], c: int, cout: int) -> bool:
    """inverted_residual's residual: a bool, or None for torchvision's rule (stride 1, Cout == C)."""
    if residual is None:
        return stride == (1, 1) and cout == c
    if not isinstance(residual, (bool, np.bool_)):
        raise ValueError(f"residual must be None, True or False, got {residual!r}")
    return bool(residual)


def groups_of(groups: Any, c: int, source: str) -> int:
    """conv2d's groups as an int dividing the c input channels, or ValueError."""
    if not is_int(groups) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    if c % groups != 0:
        raise ValueError(f"groups = {groups} must divide the C = {c} input channels (from "
                         f"{source})")
    return int(groups)


def conv_weight_check(weight_shape: Tuple[int, ...], c: int, groups: int, source: str) -> None:
    """conv2d: the weight must be (Cout, Cin/groups, KH, KW) with Cout a multiple of groups."""
    w = tuple(weight_shape)
    if len(w) != 4 or w[1] != c // groups or w[0] % groups != 0 or w[0] == 0:
        raise ValueError(
            f"weight must have shape (Cout, Cin/groups, KH, KW) = (k*{groups}, {c // groups}, KH, "
            f"KW) for C = {c} input channels (from {source}) and groups = {groups}, got {w}")
    _nonzero(w, "weight")


ACTIVATIONS = ("relu", "relu6", "hardswish", "silu")


def activation_name(a: Any, name: str) -> Optional[str]:
    """None or a fused activation's name, with the C++ core's ValueError (parse_activation)."""
    if a is None:
        return None
    s = str(a)
    if s not in ACTIVATIONS:
        raise ValueError(f"{name} must be None, 'relu', 'relu6', 'hardswish' or 'silu', "
                         f"got '{s}'")
    return s


def output_view(out: Any, unbatched: bool):
    """The 4-D view of `out` the core writes into (out itself is returned to the caller)."""
    if out is None or not unbatched:
        return out
    if not isinstance(out, np.ndarray) or out.ndim != 3:
        raise ValueError(
            f"out must be a 3-D array for a 3-D x, got {getattr(out, 'shape', type(out))}")
    return out[np.newaxis]


def geometry(in_hw, kernel, stride=1, padding=0, dilation=1):
    """(out_h, out_w, (top, bottom, left, right)) computed by the C++ core."""
    return _core.conv_geometry(pair("input size", in_hw), pair("kernel size", kernel),
                               pair("stride", stride), padding4(padding),
                               pair("dilation", dilation))
