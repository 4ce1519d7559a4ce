"""Independent float64 NumPy reference for the sepconv operators.

This module is deliberately self-contained: it shares no code with ``sepconv._args``,
``sepconv._ops`` or the C++ core, so that it can serve as an oracle in the test-suite.
Everything is computed in float64 with direct sums (one vectorised multiply-add per
kernel tap over a strided view of a zero-padded copy of the input), and the results are
returned as float64 arrays in the input's layout.

Conventions (same as the package, i.e. PyTorch's):

* ``x`` is ``(N, C, H, W)`` for ``layout="NCHW"`` or ``(N, H, W, C)`` for ``"NHWC"``;
  an unbatched 3-D input ``(C, H, W)`` / ``(H, W, C)`` gives a 3-D output.
* weights are in PyTorch order whatever the layout: depthwise ``(C*m, 1, KH, KW)``
  (output channel ``o`` reads input channel ``o // m``), pointwise ``(Cout, Cin, 1, 1)``
  or ``(Cout, Cin)``, conv2d ``(Cout, Cin // groups, KH, KW)``.
* ``padding`` is an int, a pair ``(ph, pw)``, ``((top, bottom), (left, right))``,
  ``"valid"`` or ``"same"`` (TensorFlow semantics: ``out = ceil(in / stride)``, the odd
  extra row/column goes to the bottom/right).

Example
-------
>>> import numpy as np
>>> from sepconv import reference
>>> x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
>>> w = np.ones((1, 1, 2, 2), dtype=np.float32)
>>> reference.depthwise_conv2d(x, w)[0, 0]
array([[ 8., 12.],
       [20., 24.]])
"""

import numbers

import numpy as np

__all__ = [
    "activation",
    "depthwise_conv2d",
    "pointwise_conv2d",
    "separable_conv2d",
    "conv2d",
    "resolve_padding",
    "output_size",
]

_ACTIVATIONS = (None, "relu", "relu6", "hardswish", "silu")
_LAYOUTS = ("NCHW", "NHWC")


# ----------------------------------------------------------------------------------------
# activations
# ----------------------------------------------------------------------------------------
def activation(x, name):
    """Apply an activation function in float64.

    Parameters
    ----------
    x : array_like
        Any shape; converted to float64.
    name : None | "relu" | "relu6" | "hardswish" | "silu"
        ``relu(x) = max(x, 0)``, ``relu6(x) = min(max(x, 0), 6)``,
        ``hardswish(x) = x * relu6(x + 3) / 6``, ``silu(x) = x * sigmoid(x)``.
        ``None`` is the identity.

    Returns
    -------
    numpy.ndarray (float64), same shape as ``x``.

    Example
    -------
    >>> activation([-3.0, 0.0, 3.0], "hardswish")
    array([-0.,  0.,  3.])
    """
    x = np.asarray(x, dtype=np.float64)
    if name is None:
        return x.copy()
    if not isinstance(name, str) or name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {name!r}")
    if name == "relu":
        # np.maximum propagates NaN
        return np.maximum(x, 0.0)
    if name == "relu6":
        return np.minimum(np.maximum(x, 0.0), 6.0)
    if name == "hardswish":
        return x * np.minimum(np.maximum(x + 3.0, 0.0), 6.0) / 6.0
    # silu: sigmoid evaluated without overflow and without cancellation for x << 0
    e = np.exp(-np.abs(x))
    sigmoid = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return x * sigmoid


_apply_activation = activation  # the ops' keyword argument shadows the name


# ----------------------------------------------------------------------------------------
# argument normalisation (independent of sepconv._args)
# ----------------------------------------------------------------------------------------
def _is_int(v):
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, bool)


def _pair(value, name):
    """int or pair of ints -> (a, b), each >= 1."""
    if _is_int(value):
        pair = (int(value), int(value))
    else:
        try:
            items = tuple(value)
        except TypeError:
            raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}") from None
        if len(items) != 2 or not all(_is_int(v) for v in items):
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        pair = (int(items[0]), int(items[1]))
    if pair[0] < 1 or pair[1] < 1:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return pair


def _same_pad(size, k, stride, dilation):
    out = -(-size // stride)  # ceil
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    before = total // 2
    return before, total - before


def resolve_padding(padding, in_hw, kernel_hw, stride=1, dilation=1):
    """Resolve a padding specification to explicit ``(top, bottom, left, right)``.

    Parameters
    ----------
    padding : int | (ph, pw) | ((top, bottom), (left, right)) | "valid" | "same"
    in_hw : (H, W) input spatial size.
    kernel_hw : (KH, KW) kernel size.
    stride, dilation : int or pair.

    Example
    -------
    >>> resolve_padding("same", (4, 4), (2, 2))
    (0, 1, 0, 1)
    >>> resolve_padding(((1, 2), (0, 3)), (5, 5), (3, 3))
    (1, 2, 0, 3)
    """
    sh, sw = _pair(stride, "stride")
    dh, dw = _pair(dilation, "dilation")
    H, W = in_hw
    KH, KW = kernel_hw
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return (0, 0, 0, 0)
        if mode == "same":
            top, bottom = _same_pad(H, KH, sh, dh)
            left, right = _same_pad(W, KW, sw, dw)
            return (top, bottom, left, right)
        raise ValueError(f"padding string must be 'valid' or 'same', got {padding!r}")
    if _is_int(padding):
        p = int(padding)
        pads = (p, p, p, p)
    else:
        try:
            items = tuple(padding)
        except TypeError:
            raise TypeError(f"invalid padding {padding!r}") from None
        if len(items) != 2:
            raise ValueError(f"invalid padding {padding!r}")
        if all(_is_int(v) for v in items):
            pads = (int(items[0]), int(items[0]), int(items[1]), int(items[1]))
        else:
            try:
                (t, b), (l, r) = items
            except (TypeError, ValueError):
                raise ValueError(f"invalid padding {padding!r}") from None
            if not all(_is_int(v) for v in (t, b, l, r)):
                raise ValueError(f"invalid padding {padding!r}")
            pads = (int(t), int(b), int(l), int(r))
    if min(pads) < 0:
        raise ValueError(f"padding must be non-negative, got {padding!r}")
    return pads


def output_size(in_size, k, stride, dilation, pad_before, pad_after):
    """Output length of one spatial axis; raises ValueError if it would be < 1.

    Example
    -------
    >>> output_size(28, 3, 2, 1, 0, 1)
    14
    """
    span = (k - 1) * dilation + 1
    padded = in_size + pad_before + pad_after
    if in_size < 1 or k < 1 or padded < span:
        raise ValueError(
            f"kernel (size {k}, dilation {dilation}) larger than padded input "
            f"(size {in_size} + padding {pad_before}+{pad_after})"
        )
    return (padded - span) // stride + 1


def _check_layout(layout):
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")


def _check_activation(name, argname="activation"):
    if name is not None and (not isinstance(name, str) or name not in _ACTIVATIONS):
        raise ValueError(f"{argname} must be one of {_ACTIVATIONS}, got {name!r}")


def _input_nchw(x, layout):
    """float64 NCHW 4-D copy of x, plus a function mapping an NCHW result back."""
    _check_layout(layout)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (3, 4):
        raise ValueError(f"x must be 3-D or 4-D, got shape {x.shape}")
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    if layout == "NHWC":
        x = x.transpose(0, 3, 1, 2)

    def back(y):
        if layout == "NHWC":
            y = y.transpose(0, 2, 3, 1)
        if unbatched:
            y = y[0]
        return np.ascontiguousarray(y)

    return x, back


def _bias(bias, channels, name="bias"):
    if bias is None:
        return None
    b = np.asarray(bias, dtype=np.float64)
    if b.shape != (channels,):
        raise ValueError(f"{name} must have shape ({channels},), got {b.shape}")
    return b


def _padded(x, pads):
    t, b, l, r = pads
    if not (t or b or l or r):
        return x
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + t + b, W + l + r), dtype=np.float64)
    xp[:, :, t : t + H, l : l + W] = x
    return xp


def _geometry(x, KH, KW, stride, padding, dilation):
    sh, sw = _pair(stride, "stride")
    dh, dw = _pair(dilation, "dilation")
    H, W = x.shape[2:]
    pads = resolve_padding(padding, (H, W), (KH, KW), (sh, sw), (dh, dw))
    OH = output_size(H, KH, sh, dh, pads[0], pads[1])
    OW = output_size(W, KW, sw, dw, pads[2], pads[3])
    return (sh, sw), (dh, dw), pads, OH, OW


def _tap(xp, a, b, OH, OW, s, d):
    """Strided view of xp that kernel tap (a, b) reads for every output pixel."""
    (sh, sw), (dh, dw) = s, d
    r0, c0 = a * dh, b * dw
    return xp[:, :, r0 : r0 + (OH - 1) * sh + 1 : sh, c0 : c0 + (OW - 1) * sw + 1 : sw]


# ----------------------------------------------------------------------------------------
# operators
# ----------------------------------------------------------------------------------------
def depthwise_conv2d(x, weight, bias=None, *, stride=1, padding=0, dilation=1,
                     layout="NCHW", activation=None):
    """Depthwise 2-D convolution (groups = C, depth multiplier m), float64.

    Parameters
    ----------
    x : (N, C, H, W) for "NCHW" or (N, H, W, C) for "NHWC"; 3-D unbatched accepted.
    weight : (C*m, 1, KH, KW); output channel o reads input channel o // m.
    bias : (C*m,) or None.
    stride, dilation : int or pair; padding : see module docstring.
    layout : "NCHW" | "NHWC"; activation : None | "relu" | "relu6" | "hardswish" | "silu".

    Returns
    -------
    float64 array (N, C*m, OH, OW) or (N, OH, OW, C*m) (3-D if x was 3-D).

    Example
    -------
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> depthwise_conv2d(x, np.ones((2, 1, 2, 2)), stride=2, padding=1).shape
    (1, 2, 2, 2)
    """
    act = activation
    _check_activation(act)
    xn, back = _input_nchw(x, layout)
    w = np.asarray(weight, dtype=np.float64)
    N, C = xn.shape[:2]
    if w.ndim != 4 or w.shape[1] != 1 or w.shape[0] < 1 or C < 1 or w.shape[0] % C:
        raise ValueError(f"depthwise weight must have shape (C*m, 1, KH, KW) with C={C}, "
                         f"got {w.shape}")
    Cout, _, KH, KW = w.shape
    m = Cout // C
    b = _bias(bias, Cout)
    s, d, pads, OH, OW = _geometry(xn, KH, KW, stride, padding, dilation)
    xp = _padded(xn, pads)
    if m > 1:
        xp = np.repeat(xp, m, axis=1)  # channel o <- input channel o // m
    y = np.zeros((N, Cout, OH, OW), dtype=np.float64)
    for a in range(KH):
        for bb in range(KW):
            y += _tap(xp, a, bb, OH, OW, s, d) * w[:, 0, a, bb][None, :, None, None]
    if b is not None:
        y += b[None, :, None, None]
    return back(_apply_activation(y, act))


def _pointwise_weight(weight, Cin):
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim == 4 and w.shape[2:] == (1, 1):
        w = w[:, :, 0, 0]
    if w.ndim != 2 or w.shape[1] != Cin or w.shape[0] < 1:
        raise ValueError(f"pointwise weight must have shape (Cout, {Cin}) or (Cout, {Cin}, 1, 1), "
                         f"got {np.shape(weight)}")
    return w


def _pointwise_nchw(xn, w, b):
    N, Cin, H, W = xn.shape
    y = np.matmul(w, xn.reshape(N, Cin, H * W)).reshape(N, w.shape[0], H, W)
    if b is not None:
        y += b[None, :, None, None]
    return y


def pointwise_conv2d(x, weight, bias=None, *, layout="NCHW", activation=None):
    """Pointwise (1x1) convolution, float64.

    Parameters
    ----------
    x : (N, Cin, H, W) for "NCHW" or (N, H, W, Cin) for "NHWC"; 3-D unbatched accepted.
    weight : (Cout, Cin, 1, 1) or (Cout, Cin).
    bias : (Cout,) or None.

    Returns
    -------
    float64 array (N, Cout, H, W) or (N, H, W, Cout).

    Example
    -------
    >>> x = np.ones((1, 3, 2, 2))
    >>> pointwise_conv2d(x, np.ones((4, 3)), np.arange(4.0))[0, :, 0, 0]
    array([3., 4., 5., 6.])
    """
    act = activation
    _check_activation(act)
    xn, back = _input_nchw(x, layout)
    w = _pointwise_weight(weight, xn.shape[1])
    b = _bias(bias, w.shape[0])
    if xn.shape[2] < 1 or xn.shape[3] < 1:
        raise ValueError(f"x has an empty spatial size: {xn.shape}")
    return back(_apply_activation(_pointwise_nchw(xn, w, b), act))


def separable_conv2d(x, depthwise_weight, pointwise_weight, depthwise_bias=None,
                     pointwise_bias=None, *, stride=1, padding=0, dilation=1, layout="NCHW",
                     depthwise_activation=None, activation=None):
    """Depthwise then pointwise convolution, float64 (no rounding between the stages).

    ``y = act(pointwise(dw_act(depthwise(x) + depthwise_bias)) + pointwise_bias)``

    Parameters
    ----------
    x : (N, C, H, W) / (N, H, W, C); 3-D unbatched accepted.
    depthwise_weight : (C*m, 1, KH, KW); pointwise_weight : (Cout, C*m[, 1, 1]).
    depthwise_bias : (C*m,) or None; pointwise_bias : (Cout,) or None.

    Returns
    -------
    float64 array (N, Cout, OH, OW) or (N, OH, OW, Cout).

    Example
    -------
    >>> x = np.ones((1, 2, 5, 5))
    >>> separable_conv2d(x, np.ones((2, 1, 3, 3)), np.ones((3, 2)), padding="same").shape
    (1, 3, 5, 5)
    """
    _check_activation(depthwise_activation, "depthwise_activation")
    _check_activation(activation)
    _check_layout(layout)
    mid = depthwise_conv2d(x, depthwise_weight, depthwise_bias, stride=stride, padding=padding,
                           dilation=dilation, layout=layout, activation=depthwise_activation)
    return pointwise_conv2d(mid, pointwise_weight, pointwise_bias, layout=layout,
                            activation=activation)


def inverted_residual(x, expand_weight, depthwise_weight, project_weight, expand_bias=None,
                      depthwise_bias=None, project_bias=None, *, stride=1, padding, dilation=1,
                      activation="relu6", residual, layout="NCHW"):
    """MobileNetV2's inverted residual block, float64 (no rounding between the stages).

    ``y = project(act(depthwise(act(expand(x))))) [+ x]``; expand_weight None skips the
    expansion. padding and residual are explicit here (the package derives defaults).

    Example
    -------
    >>> x = np.ones((1, 2, 5, 5))
    >>> inverted_residual(x, np.ones((6, 2)), np.ones((6, 1, 3, 3)), np.ones((2, 6)),
    ...                   padding=1, residual=True).shape
    (1, 2, 5, 5)
    """
    h = x
    if expand_weight is not None:
        h = pointwise_conv2d(x, expand_weight, expand_bias, layout=layout, activation=activation)
    h = depthwise_conv2d(h, depthwise_weight, depthwise_bias, stride=stride, padding=padding,
                         dilation=dilation, layout=layout, activation=activation)
    y = pointwise_conv2d(h, project_weight, project_bias, layout=layout)
    return y + np.asarray(x, dtype=np.float64) if residual else y


def conv2d(x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=1, layout="NCHW",
           activation=None):
    """Standard (grouped) 2-D convolution, float64.

    Parameters
    ----------
    x : (N, Cin, H, W) / (N, H, W, Cin); 3-D unbatched accepted.
    weight : (Cout, Cin // groups, KH, KW); Cout must be divisible by groups.
    bias : (Cout,) or None.
    groups : int >= 1 dividing Cin and Cout.

    Returns
    -------
    float64 array (N, Cout, OH, OW) or (N, OH, OW, Cout).

    Example
    -------
    >>> x = np.ones((1, 4, 3, 3))
    >>> conv2d(x, np.ones((2, 2, 3, 3)), groups=2)[0, :, 0, 0]
    array([18., 18.])
    """
    act = activation
    _check_activation(act)
    xn, back = _input_nchw(x, layout)
    w = np.asarray(weight, dtype=np.float64)
    N, Cin = xn.shape[:2]
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    g = int(groups)
    if Cin % g:
        raise ValueError(f"in channels {Cin} not divisible by groups={g}")
    if w.ndim != 4 or w.shape[0] < 1 or w.shape[0] % g or w.shape[1] != Cin // g:
        raise ValueError(f"conv2d weight must have shape (Cout, {Cin // g}, KH, KW) with Cout "
                         f"divisible by groups={g}, got {w.shape}")
    Cout, cg, KH, KW = w.shape
    og = Cout // g
    b = _bias(bias, Cout)
    s, d, pads, OH, OW = _geometry(xn, KH, KW, stride, padding, dilation)
    xp = _padded(xn, pads)
    wg = w.reshape(g, og, cg, KH, KW)
    P = N * OH * OW
    acc = np.zeros((g, og, P), dtype=np.float64)
    for a in range(KH):
        for bb in range(KW):
            t = _tap(xp, a, bb, OH, OW, s, d)  # (N, Cin, OH, OW)
            t = t.reshape(N, g, cg, OH, OW).transpose(1, 2, 0, 3, 4).reshape(g, cg, P)
            acc += np.matmul(wg[:, :, :, a, bb], t)  # (g, og, P)
    y = acc.reshape(Cout, N, OH, OW).transpose(1, 0, 2, 3)
    if b is not None:
        y = y + b[None, :, None, None]
    return back(_apply_activation(y, act))
