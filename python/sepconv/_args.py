"""Argument normalisation shared by the ops and the cost model: turns the PyTorch-style Python
arguments into the plain tuples the C++ core takes, raising TypeError/ValueError that name the
argument. The shape arithmetic itself lives once, in C++ (``_core.conv_geometry``)."""

from __future__ import annotations

import numbers
from typing import Any, Tuple

import numpy as np

from . import _core

# Matches the C++ core's limit, so that huge fake arrays are rejected before any copy.
MAX_ELEMENTS = 1 << 58
LAYOUTS = ("NCHW", "NHWC")


def is_int(v: Any) -> bool:
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


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
    count = 1
    for d in a.shape:
        count *= int(d)
    if count > MAX_ELEMENTS:
        raise ValueError(f"{name} of shape {a.shape} has too many elements: sizes would overflow")
    return np.ascontiguousarray(a) if copy_ok else a


def activation_input(x: Any, layout: str):
    """x as a contiguous 4-D float32 array plus whether it was unbatched (3-D)."""
    x = float32_array(x, "x")
    if x.ndim == 3:
        return x[np.newaxis], True
    if x.ndim != 4:
        dims = "(N, C, H, W) or (C, H, W)" if layout == "NCHW" else "(N, H, W, C) or (H, W, C)"
        raise ValueError(f"x must be 3-D or 4-D {dims} for layout {layout}, got shape {x.shape}")
    return x, False


def channels(x4: np.ndarray, layout: str) -> int:
    return int(x4.shape[1] if layout == "NCHW" else x4.shape[3])


def spatial(x4: np.ndarray, layout: str) -> Tuple[int, int]:
    return (int(x4.shape[2]), int(x4.shape[3])) if layout == "NCHW" else (
        int(x4.shape[1]), int(x4.shape[2]))


def bias_array(bias: Any, name: str, count: int):
    if bias is None:
        return None
    b = float32_array(bias, name)
    if b.shape != (count,):
        raise ValueError(f"{name} must have shape ({count},), got {b.shape}")
    return b


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
