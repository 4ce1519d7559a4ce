"""The four convolution ops: argument checks and normalisation, then one call into the C++ core."""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from . import _args, _core

Pair = Union[int, tuple]


def _finish(y: np.ndarray, out: Optional[np.ndarray], unbatched: bool) -> np.ndarray:
    if out is not None:
        return out
    return y[0] if unbatched else y


def depthwise_conv2d(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray] = None, *,
                     stride: Pair = 1, padding: Any = 0, dilation: Pair = 1,
                     layout: str = "NCHW", activation: Optional[str] = None,
                     out: Optional[np.ndarray] = None) -> np.ndarray:
    """Depthwise 2-D convolution: each input channel convolved with its own filters.

    Shapes (NCHW; NHWC puts C last):
      x       (N, C, H, W) or unbatched (C, H, W), float32
      weight  (C*m, 1, KH, KW)   m = depth multiplier; output channel o reads input channel o // m
      bias    (C*m,) or None
      returns (N, C*m, OH, OW)   OH = (H + pad_top + pad_bottom - dilation*(KH-1) - 1) // stride + 1

    ``padding`` is an int, (ph, pw), ((top, bottom), (left, right)), "valid" or "same"
    (TensorFlow: OH = ceil(H / stride), the odd extra row/column at the bottom/right).
    ``activation`` is None, "relu", "relu6", "hardswish" or "silu", fused into the kernel.

    Example:
      >>> import numpy as np, sepconv
      >>> x = np.ones((1, 32, 112, 112), np.float32)
      >>> w = np.ones((32, 1, 3, 3), np.float32)
      >>> sepconv.depthwise_conv2d(x, w, padding=1, activation="relu6").shape
      (1, 32, 112, 112)
    """
    layout = _args.layout_of(layout)
    x4, unbatched = _args.activation_input(x, layout)
    c = _args.channels(x4.shape, layout)
    weight = _args.float32_array(weight, "weight")
    m = _args.depthwise_multiplier(weight.shape, c, _args.x_source(x4.shape, layout), "weight")
    bias = _args.bias_array(bias, "bias", weight.shape[0])
    activation = _args.activation_name(activation, "activation")
    y = _core.depthwise_conv2d(
        x4, weight, bias, kernel=(weight.shape[2], weight.shape[3]),
        multiplier=m, stride=_args.pair("stride", stride),
        padding=_args.padding4(padding), dilation=_args.pair("dilation", dilation), layout=layout,
        activation=activation, out=_args.output_view(out, unbatched))
    return _finish(y, out, unbatched)


def pointwise_conv2d(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray] = None, *,
                     layout: str = "NCHW", activation: Optional[str] = None,
                     out: Optional[np.ndarray] = None) -> np.ndarray:
    """Pointwise (1x1) convolution: a per-pixel matrix product over channels.

    Shapes (NCHW; NHWC puts C last):
      x       (N, Cin, H, W) or unbatched (Cin, H, W), float32
      weight  (Cout, Cin, 1, 1) or (Cout, Cin)
      bias    (Cout,) or None
      returns (N, Cout, H, W)

    Example:
      >>> import numpy as np, sepconv
      >>> x = np.ones((1, 56, 56, 144), np.float32)
      >>> w = np.ones((24, 144), np.float32)
      >>> sepconv.pointwise_conv2d(x, w, layout="NHWC").shape
      (1, 56, 56, 24)
    """
    layout = _args.layout_of(layout)
    x4, unbatched = _args.activation_input(x, layout)
    c = _args.channels(x4.shape, layout)
    weight = _args.float32_array(weight, "weight")
    w2 = weight.reshape(_args.pointwise_on_x(weight.shape, c, _args.x_source(x4.shape, layout)))
    bias = _args.bias_array(bias, "bias", w2.shape[0])
    activation = _args.activation_name(activation, "activation")
    y = _core.pointwise_conv2d(x4, w2, bias, out_channels=w2.shape[0], layout=layout,
                               activation=activation, out=_args.output_view(out, unbatched))
    return _finish(y, out, unbatched)


def separable_conv2d(x: np.ndarray, depthwise_weight: np.ndarray, pointwise_weight: np.ndarray,
                     depthwise_bias: Optional[np.ndarray] = None,
                     pointwise_bias: Optional[np.ndarray] = None, *, stride: Pair = 1,
                     padding: Any = 0, dilation: Pair = 1, layout: str = "NCHW",
                     depthwise_activation: Optional[str] = None,
                     activation: Optional[str] = None,
                     out: Optional[np.ndarray] = None) -> np.ndarray:
    """Depthwise-separable convolution: depthwise KxK, then pointwise 1x1.

    y = act(pw(dw_act(dw(x) + depthwise_bias)) + pointwise_bias)

    Shapes (NCHW; NHWC puts C last):
      x                 (N, C, H, W) or unbatched (C, H, W), float32
      depthwise_weight  (C*m, 1, KH, KW)
      pointwise_weight  (Cout, C*m, 1, 1) or (Cout, C*m)
      depthwise_bias    (C*m,) or None;  pointwise_bias (Cout,) or None
      returns           (N, Cout, OH, OW), OH/OW as in depthwise_conv2d

    Example:
      >>> import numpy as np, sepconv
      >>> x = np.ones((1, 144, 56, 56), np.float32)
      >>> dw = np.ones((144, 1, 3, 3), np.float32); pw = np.ones((24, 144), np.float32)
      >>> sepconv.separable_conv2d(x, dw, pw, padding="same", depthwise_activation="relu6").shape
      (1, 24, 56, 56)
    """
    layout = _args.layout_of(layout)
    x4, unbatched = _args.activation_input(x, layout)
    c = _args.channels(x4.shape, layout)
    dw = _args.float32_array(depthwise_weight, "depthwise_weight")
    m = _args.depthwise_multiplier(dw.shape, c, _args.x_source(x4.shape, layout),
                                   "depthwise_weight")
    pw = _args.float32_array(pointwise_weight, "pointwise_weight")
    pw = pw.reshape(_args.pointwise_on_depthwise(pw.shape, dw.shape))
    dbias = _args.bias_array(depthwise_bias, "depthwise_bias", dw.shape[0])
    pbias = _args.bias_array(pointwise_bias, "pointwise_bias", pw.shape[0])
    depthwise_activation = _args.activation_name(depthwise_activation, "depthwise_activation")
    activation = _args.activation_name(activation, "activation")
    y = _core.separable_conv2d(
        x4, dw, pw, dbias, pbias, kernel=(dw.shape[2], dw.shape[3]),
        multiplier=m, out_channels=pw.shape[0],
        stride=_args.pair("stride", stride), padding=_args.padding4(padding),
        dilation=_args.pair("dilation", dilation), layout=layout,
        depthwise_activation=depthwise_activation, activation=activation,
        out=_args.output_view(out, unbatched))
    return _finish(y, out, unbatched)


def conv2d(x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray] = None, *,
           stride: Pair = 1, padding: Any = 0, dilation: Pair = 1, groups: int = 1,
           layout: str = "NCHW", activation: Optional[str] = None,
           out: Optional[np.ndarray] = None) -> np.ndarray:
    """Standard (dense or grouped) 2-D convolution, the baseline separable convolution replaces.

    Shapes (NCHW; NHWC puts C last):
      x       (N, Cin, H, W) or unbatched (Cin, H, W), float32
      weight  (Cout, Cin/groups, KH, KW)
      bias    (Cout,) or None
      returns (N, Cout, OH, OW), OH/OW as in depthwise_conv2d

    Example:
      >>> import numpy as np, sepconv
      >>> x = np.ones((1, 64, 56, 56), np.float32)
      >>> w = np.ones((64, 64, 3, 3), np.float32)
      >>> sepconv.conv2d(x, w, padding=1).shape
      (1, 64, 56, 56)
    """
    layout = _args.layout_of(layout)
    x4, unbatched = _args.activation_input(x, layout)
    c = _args.channels(x4.shape, layout)
    groups = _args.groups_of(groups, c, _args.x_source(x4.shape, layout))
    weight = _args.float32_array(weight, "weight")
    _args.conv_weight_check(weight.shape, c, groups, _args.x_source(x4.shape, layout))
    bias = _args.bias_array(bias, "bias", weight.shape[0])
    activation = _args.activation_name(activation, "activation")
    y = _core.conv2d(
        x4, weight, bias, kernel=(weight.shape[2], weight.shape[3]), out_channels=weight.shape[0],
        groups=groups, stride=_args.pair("stride", stride), padding=_args.padding4(padding),
        dilation=_args.pair("dilation", dilation), layout=layout, activation=activation,
        out=_args.output_view(out, unbatched))
    return _finish(y, out, unbatched)


def inverted_residual(x: np.ndarray, expand_weight: Optional[np.ndarray],
                      depthwise_weight: np.ndarray, project_weight: np.ndarray,
                      expand_bias: Optional[np.ndarray] = None,
                      depthwise_bias: Optional[np.ndarray] = None,
                      project_bias: Optional[np.ndarray] = None, *, stride: Pair = 1,
                      padding: Any = None, dilation: Pair = 1, activation: Optional[str] = "relu6",
                      residual: Optional[bool] = None, layout: str = "NCHW",
                      out: Optional[np.ndarray] = None) -> np.ndarray:
    """MobileNetV2's inverted residual block, fused: expand 1x1 -> depthwise KxK -> project 1x1.

    y = project(act(depthwise(act(expand(x) + expand_bias)) + depthwise_bias)) + project_bias [+ x]

    Shapes (NCHW; NHWC puts C last):
      x                 (N, C, H, W) or unbatched (C, H, W), float32
      expand_weight     (Ce, C, 1, 1) or (Ce, C); None for blocks without expansion (Ce = C)
      depthwise_weight  (Ce, 1, KH, KW)
      project_weight    (Cout, Ce, 1, 1) or (Cout, Ce)
      biases            (Ce,), (Ce,), (Cout,) or None (fold BatchNorm into weights and biases)
      returns           (N, Cout, OH, OW), OH/OW as in depthwise_conv2d

    ``padding`` defaults to (K - 1) // 2 * dilation on each side, as in torchvision's MobileNetV2.
    ``activation`` follows the expand and the depthwise stage (the projection is linear).
    ``residual`` adds x to the output; None means "when stride is 1 and Cout == C", torchvision's
    rule. Large blocks run fused (the expanded tensor never goes to memory); see
    ``sepconv._core.set_fusion``.

    Example:
      >>> import numpy as np, sepconv
      >>> x = np.ones((1, 24, 56, 56), np.float32)
      >>> e = np.ones((144, 24), np.float32); d = np.ones((144, 1, 3, 3), np.float32)
      >>> p = np.ones((24, 144), np.float32)
      >>> sepconv.inverted_residual(x, e, d, p).shape
      (1, 24, 56, 56)
    """
    layout = _args.layout_of(layout)
    x4, unbatched = _args.activation_input(x, layout)
    c = _args.channels(x4.shape, layout)
    ew = None if expand_weight is None else _args.float32_array(expand_weight, "expand_weight")
    dw = _args.float32_array(depthwise_weight, "depthwise_weight")
    pw = _args.float32_array(project_weight, "project_weight")
    ce, cout = _args.inverted_residual_channels(None if ew is None else ew.shape, dw.shape,
                                                pw.shape, c, _args.x_source(x4.shape, layout))
    if ew is None and expand_bias is not None:
        raise ValueError("expand_bias must be None when expand_weight is None")
    kernel = (dw.shape[2], dw.shape[3])
    stride, dilation = _args.pair("stride", stride), _args.pair("dilation", dilation)
    padding = _args.padding4(_args.centred_padding(kernel, dilation) if padding is None
                             else padding)
    y = _core.inverted_residual(
        x4, None if ew is None else ew.reshape(ce, c), dw, pw.reshape(cout, ce),
        _args.bias_array(expand_bias, "expand_bias", ce),
        _args.bias_array(depthwise_bias, "depthwise_bias", ce),
        _args.bias_array(project_bias, "project_bias", cout), kernel=kernel,
        expanded_channels=ce, out_channels=cout, stride=stride, padding=padding,
        dilation=dilation, layout=layout,
        activation=_args.activation_name(activation, "activation"),
        residual=_args.residual_flag(residual, stride, c, cout), out=_args.output_view(out, unbatched))
    return _finish(y, out, unbatched)
