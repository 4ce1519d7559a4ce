"""Prepacked layers: parameters checked and weights packed once, then called many times.

Each layer copies its weights (PyTorch convention), packs them for the ISA active when it is built
and is called as ``layer(x, out=None)`` on inputs of any batch and image size. Calls release the
GIL and may run from several Python threads at once; layers pickle (the packed form is rebuilt on
load, for the loading machine's ISA); ``from_torch`` builds one from PyTorch modules.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _args, _core
from ._ops import _finish

__all__ = ["DepthwiseConv2d", "PointwiseConv2d", "SeparableConv2d", "Conv2d", "InvertedResidual"]


def _frozen(a: Any, name: str) -> Optional[np.ndarray]:
    """A private read-only float32 copy (later changes to the caller's array do not leak in)."""
    if a is None:
        return None
    a = np.array(_args.float32_array(a, name), copy=True)
    a.flags.writeable = False
    return a


def _in_channels(in_channels: Any, default: int) -> int:
    if in_channels is None:
        return default
    if not _args.is_int(in_channels) or in_channels < 1:
        raise ValueError(f"in_channels must be a positive int, got {in_channels!r}")
    return int(in_channels)


def _padding_arg(padding4: Any) -> Any:
    """padding4()'s result in a form padding4() accepts again (for pickling)."""
    if isinstance(padding4, str):
        return padding4
    top, bottom, left, right = padding4
    return ((top, bottom), (left, right))


def _rebuild(cls, arrays: Dict[str, Any], options: Dict[str, Any]):
    return cls(**arrays, **options)


class _Layer:
    """Call, repr and pickling shared by the layers; subclasses set the fields below."""

    _layer: Any            # the _core layer object holding the packed weights
    _arrays: Dict[str, Optional[np.ndarray]]  # constructor arrays, by argument name
    _options: Dict[str, Any]                  # normalised keyword arguments
    layout: str

    def __call__(self, x: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
        """y = layer(x): x (N, C, H, W) or unbatched (C, H, W) in the layer's layout."""
        try:  # the common case, a 4-D C-contiguous float32 array, costs one call into C++
            return self._layer(x, out)
        except (TypeError, ValueError):
            pass  # normalise (3-D, non-contiguous) or raise the error that names the argument
        x4, unbatched = _args.activation_input(x, self.layout)
        y = self._layer(x4, _args.output_view(out, unbatched))
        return _finish(y, out, unbatched)

    @property
    def isa(self) -> str:
        """The ISA the weights were packed for and the kernels run on."""
        return self._layer.isa

    def _describe(self) -> Dict[str, Any]:
        return {k: v for k, v in self._options.items() if v is not None}

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={tuple(v.shape)}" for k, v in self._arrays.items()
                           if v is not None)
        options = ", ".join(f"{k}={v!r}" for k, v in self._describe().items())
        return f"{type(self).__name__}({shapes}, {options}, isa={self.isa!r})"

    def __reduce__(self):
        return (_rebuild, (type(self), self._arrays, self._options))

    def __getattr__(self, name: str):
        arrays = self.__dict__.get("_arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class DepthwiseConv2d(_Layer):
    """A depthwise convolution with prepacked weights (see sepconv.depthwise_conv2d).

    weight (C*m, 1, KH, KW), bias (C*m,) or None; in_channels C defaults to weight.shape[0]
    (multiplier 1). Calls map x (N, C, H, W) -> (N, C*m, OH, OW) (NHWC: channels last).

    Example:
      >>> import numpy as np, sepconv
      >>> layer = sepconv.DepthwiseConv2d(np.ones((32, 1, 3, 3), np.float32), padding=1)
      >>> layer(np.ones((1, 32, 112, 112), np.float32)).shape
      (1, 32, 112, 112)
    """

    def __init__(self, weight: np.ndarray, bias: Optional[np.ndarray] = None, *,
                 in_channels: Optional[int] = None, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, layout: str = "NCHW", activation: Optional[str] = None):
        self.layout = _args.layout_of(layout)
        weight = _frozen(weight, "weight")
        c = _in_channels(in_channels, weight.shape[0] if weight.ndim else 1)
        m = _args.depthwise_multiplier(weight.shape, c, "in_channels", "weight")
        bias = _frozen(_args.bias_array(bias, "bias", weight.shape[0]), "bias")
        stride, dilation = _args.pair("stride", stride), _args.pair("dilation", dilation)
        padding = _args.padding4(padding)
        activation = _args.activation_name(activation, "activation")
        self._layer = _core.DepthwiseConv2d(
            weight, bias, channels=c, kernel=weight.shape[2:], multiplier=m, stride=stride,
            padding=padding, dilation=dilation, layout=self.layout, activation=activation)
        self._arrays = {"weight": weight, "bias": bias}
        self._options = {"in_channels": c, "stride": stride, "padding": _padding_arg(padding),
                         "dilation": dilation, "layout": self.layout, "activation": activation}

    @classmethod
    def from_torch(cls, *modules, layout: str = "NCHW") -> "DepthwiseConv2d":
        """From a torch.nn.Conv2d with groups == in_channels, optionally followed (in an
        nn.Sequential) by BatchNorm2d, folded in, and an activation."""
        (unit,) = _torch_units(modules, 1, "DepthwiseConv2d")
        if unit.groups != unit.in_channels:
            raise ValueError(f"DepthwiseConv2d.from_torch needs groups == in_channels, got a "
                             f"Conv2d with groups={unit.groups}, in_channels={unit.in_channels}")
        return cls(unit.weight, unit.bias, in_channels=unit.in_channels, stride=unit.stride,
                   padding=unit.padding, dilation=unit.dilation, layout=layout,
                   activation=unit.activation)


class PointwiseConv2d(_Layer):
    """A pointwise (1x1) convolution with prepacked weights (see sepconv.pointwise_conv2d).

    weight (Cout, Cin, 1, 1) or (Cout, Cin), bias (Cout,) or None; x (N, Cin, H, W) ->
    (N, Cout, H, W).

    Example:
      >>> import numpy as np, sepconv
      >>> layer = sepconv.PointwiseConv2d(np.ones((24, 144), np.float32), layout="NHWC")
      >>> layer(np.ones((1, 56, 56, 144), np.float32)).shape
      (1, 56, 56, 24)
    """

    def __init__(self, weight: np.ndarray, bias: Optional[np.ndarray] = None, *,
                 layout: str = "NCHW", activation: Optional[str] = None):
        self.layout = _args.layout_of(layout)
        weight = _frozen(weight, "weight")
        cout, cin = _args.pointwise_matrix_shape(weight.shape, "weight")
        bias = _frozen(_args.bias_array(bias, "bias", cout), "bias")
        activation = _args.activation_name(activation, "activation")
        self._layer = _core.PointwiseConv2d(
            weight.reshape(cout, cin), bias, in_channels=cin, out_channels=cout,
            layout=self.layout, activation=activation)
        self._arrays = {"weight": weight, "bias": bias}
        self._options = {"layout": self.layout, "activation": activation}

    @classmethod
    def from_torch(cls, *modules, layout: str = "NCHW") -> "PointwiseConv2d":
        """From a 1x1, stride-1, unpadded torch.nn.Conv2d (groups 1), optionally followed by
        BatchNorm2d and an activation."""
        (unit,) = _torch_units(modules, 1, "PointwiseConv2d")
        unit.require_pointwise("PointwiseConv2d")
        return cls(unit.weight, unit.bias, layout=layout, activation=unit.activation)


class SeparableConv2d(_Layer):
    """A depthwise-separable convolution with prepacked weights (see sepconv.separable_conv2d).

    depthwise_weight (C*m, 1, KH, KW), pointwise_weight (Cout, C*m[, 1, 1]), biases or None;
    x (N, C, H, W) -> (N, Cout, OH, OW).

    Example:
      >>> import numpy as np, sepconv
      >>> layer = sepconv.SeparableConv2d(np.ones((144, 1, 3, 3), np.float32),
      ...                                 np.ones((24, 144), np.float32), padding=1)
      >>> layer(np.ones((1, 144, 56, 56), np.float32)).shape
      (1, 24, 56, 56)
    """

    def __init__(self, depthwise_weight: np.ndarray, pointwise_weight: np.ndarray,
                 depthwise_bias: Optional[np.ndarray] = None,
                 pointwise_bias: Optional[np.ndarray] = None, *,
                 in_channels: Optional[int] = None, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, layout: str = "NCHW",
                 depthwise_activation: Optional[str] = None, activation: Optional[str] = None):
        self.layout = _args.layout_of(layout)
        dw = _frozen(depthwise_weight, "depthwise_weight")
        pw = _frozen(pointwise_weight, "pointwise_weight")
        c = _in_channels(in_channels, dw.shape[0] if dw.ndim else 1)
        m = _args.depthwise_multiplier(dw.shape, c, "in_channels", "depthwise_weight")
        cout, cm = _args.pointwise_on_depthwise(pw.shape, dw.shape)
        dbias = _frozen(_args.bias_array(depthwise_bias, "depthwise_bias", cm), "depthwise_bias")
        pbias = _frozen(_args.bias_array(pointwise_bias, "pointwise_bias", cout),
                        "pointwise_bias")
        stride, dilation = _args.pair("stride", stride), _args.pair("dilation", dilation)
        padding = _args.padding4(padding)
        dact = _args.activation_name(depthwise_activation, "depthwise_activation")
        activation = _args.activation_name(activation, "activation")
        self._layer = _core.SeparableConv2d(
            dw, pw.reshape(cout, cm), dbias, pbias, in_channels=c, kernel=dw.shape[2:],
            multiplier=m, out_channels=cout, stride=stride, padding=padding, dilation=dilation,
            layout=self.layout, depthwise_activation=dact, activation=activation)
        self._arrays = {"depthwise_weight": dw, "pointwise_weight": pw,
                        "depthwise_bias": dbias, "pointwise_bias": pbias}
        self._options = {"in_channels": c, "stride": stride, "padding": _padding_arg(padding),
                         "dilation": dilation, "layout": self.layout,
                         "depthwise_activation": dact, "activation": activation}

    @classmethod
    def from_torch(cls, *modules, layout: str = "NCHW") -> "SeparableConv2d":
        """From a depthwise then a pointwise torch.nn.Conv2d (as two arguments or one
        nn.Sequential), each optionally followed by BatchNorm2d and an activation."""
        dw, pw = _torch_units(modules, 2, "SeparableConv2d")
        pw.require_pointwise("SeparableConv2d")
        return cls(dw.weight, pw.weight, dw.bias, pw.bias, in_channels=dw.in_channels,
                   stride=dw.stride, padding=dw.padding, dilation=dw.dilation, layout=layout,
                   depthwise_activation=dw.activation, activation=pw.activation)


class Conv2d(_Layer):
    """A standard (dense or grouped) convolution with prepacked weights (see sepconv.conv2d).

    weight (Cout, Cin/groups, KH, KW), bias (Cout,) or None; x (N, Cin, H, W) ->
    (N, Cout, OH, OW).

    Example:
      >>> import numpy as np, sepconv
      >>> layer = sepconv.Conv2d(np.ones((64, 64, 3, 3), np.float32), padding=1)
      >>> layer(np.ones((1, 64, 56, 56), np.float32)).shape
      (1, 64, 56, 56)
    """

    def __init__(self, weight: np.ndarray, bias: Optional[np.ndarray] = None, *,
                 stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1,
                 layout: str = "NCHW", activation: Optional[str] = None):
        self.layout = _args.layout_of(layout)
        weight = _frozen(weight, "weight")
        if not _args.is_int(groups) or groups < 1:
            raise ValueError(f"groups must be a positive int, got {groups!r}")
        groups = int(groups)
        c = groups * weight.shape[1] if weight.ndim == 4 else 0
        _args.conv_weight_check(weight.shape, c, groups, "groups * weight.shape[1]")
        bias = _frozen(_args.bias_array(bias, "bias", weight.shape[0]), "bias")
        stride, dilation = _args.pair("stride", stride), _args.pair("dilation", dilation)
        padding = _args.padding4(padding)
        activation = _args.activation_name(activation, "activation")
        self._layer = _core.Conv2d(
            weight, bias, in_channels=c, kernel=weight.shape[2:], out_channels=weight.shape[0],
            groups=groups, stride=stride, padding=padding, dilation=dilation, layout=self.layout,
            activation=activation)
        self._arrays = {"weight": weight, "bias": bias}
        self._options = {"stride": stride, "padding": _padding_arg(padding),
                         "dilation": dilation, "groups": groups, "layout": self.layout,
                         "activation": activation}

    @classmethod
    def from_torch(cls, *modules, layout: str = "NCHW") -> "Conv2d":
        """From a torch.nn.Conv2d, optionally followed by BatchNorm2d and an activation."""
        (unit,) = _torch_units(modules, 1, "Conv2d")
        return cls(unit.weight, unit.bias, stride=unit.stride, padding=unit.padding,
                   dilation=unit.dilation, groups=unit.groups, layout=layout,
                   activation=unit.activation)


class InvertedResidual(_Layer):
    """MobileNetV2's inverted residual block, fused, with prepacked weights (see
    sepconv.inverted_residual for the shapes, the padding default and the residual rule).

    Example:
      >>> import numpy as np, sepconv
      >>> block = sepconv.InvertedResidual(np.ones((144, 24), np.float32),
      ...                                  np.ones((144, 1, 3, 3), np.float32),
      ...                                  np.ones((24, 144), np.float32))
      >>> block(np.ones((1, 24, 56, 56), np.float32)).shape
      (1, 24, 56, 56)
    """

    def __init__(self, expand_weight: Optional[np.ndarray], depthwise_weight: np.ndarray,
                 project_weight: np.ndarray, expand_bias: Optional[np.ndarray] = None,
                 depthwise_bias: Optional[np.ndarray] = None,
                 project_bias: Optional[np.ndarray] = None, *, stride: Any = 1,
                 padding: Any = None, dilation: Any = 1, activation: Optional[str] = "relu6",
                 residual: Optional[bool] = None, layout: str = "NCHW"):
        self.layout = _args.layout_of(layout)
        ew = _frozen(expand_weight, "expand_weight")
        dw = _frozen(depthwise_weight, "depthwise_weight")
        pw = _frozen(project_weight, "project_weight")
        c = (ew.shape[1] if ew.ndim >= 2 else 0) if ew is not None else (
            dw.shape[0] if dw.ndim else 1)
        ce, cout = _args.inverted_residual_channels(
            None if ew is None else ew.shape, dw.shape, pw.shape, c,
            "expand_weight" if ew is not None else "depthwise_weight")
        if ew is None and expand_bias is not None:
            raise ValueError("expand_bias must be None when expand_weight is None")
        ebias = _frozen(_args.bias_array(expand_bias, "expand_bias", ce), "expand_bias")
        dbias = _frozen(_args.bias_array(depthwise_bias, "depthwise_bias", ce), "depthwise_bias")
        pbias = _frozen(_args.bias_array(project_bias, "project_bias", cout), "project_bias")
        kernel = tuple(dw.shape[2:])
        stride, dilation = _args.pair("stride", stride), _args.pair("dilation", dilation)
        padding = _args.padding4(_args.centred_padding(kernel, dilation) if padding is None
                                 else padding)
        activation = _args.activation_name(activation, "activation")
        residual = _args.residual_flag(residual, stride, c, cout)
        self._layer = _core.InvertedResidual(
            None if ew is None else ew.reshape(ce, c), dw, pw.reshape(cout, ce), ebias, dbias,
            pbias, in_channels=c, kernel=kernel, expanded_channels=ce, out_channels=cout,
            stride=stride, padding=padding, dilation=dilation, layout=self.layout,
            activation=activation, residual=residual)
        self._arrays = {"expand_weight": ew, "depthwise_weight": dw, "project_weight": pw,
                        "expand_bias": ebias, "depthwise_bias": dbias, "project_bias": pbias}
        self._options = {"stride": stride, "padding": _padding_arg(padding),
                         "dilation": dilation, "activation": activation, "residual": residual,
                         "layout": self.layout}

    @classmethod
    def from_torch(cls, *modules, layout: str = "NCHW") -> "InvertedResidual":
        """From torchvision's InvertedResidual (its ``conv`` Sequential and ``use_res_connect``),
        or from the expand (optional), depthwise and project convolutions as modules, each
        optionally followed by BatchNorm2d (folded in) and its activation."""
        residual = None
        if len(modules) == 1 and hasattr(modules[0], "use_res_connect"):
            residual = bool(modules[0].use_res_connect)
            modules = (modules[0].conv,)
        units = _torch_units(modules, (2, 3), "InvertedResidual")
        expand = units[0] if len(units) == 3 else None
        dw, pw = units[-2], units[-1]
        if expand is not None:
            expand.require_pointwise("InvertedResidual (expand)")
        pw.require_pointwise("InvertedResidual (project)")
        if pw.activation is not None:
            raise ValueError("InvertedResidual.from_torch: the projection must be linear, got "
                             f"activation {pw.activation!r}")
        activations = {u.activation for u in (expand, dw) if u is not None}
        if len(activations) != 1:
            raise ValueError("InvertedResidual.from_torch: expand and depthwise must share one "
                             f"activation, got {sorted(map(str, activations))}")
        return cls(None if expand is None else expand.weight, dw.weight, pw.weight,
                   None if expand is None else expand.bias, dw.bias, pw.bias, stride=dw.stride,
                   padding=dw.padding, dilation=dw.dilation, activation=activations.pop(),
                   residual=residual, layout=layout)


# ------------------------------------------------------------------------------------------
# PyTorch modules -> weights (torch is imported only by from_torch)
# ------------------------------------------------------------------------------------------
_TORCH_ACTIVATIONS = {"ReLU": "relu", "ReLU6": "relu6", "Hardswish": "hardswish", "SiLU": "silu"}


class _TorchUnit:
    """One Conv2d with its BatchNorm2d folded in (float64, eval-mode running statistics) and
    the activation after it."""

    def __init__(self, conv):
        if conv.padding_mode != "zeros":
            raise ValueError(f"from_torch supports padding_mode='zeros', got "
                             f"{conv.padding_mode!r}")
        self.weight = conv.weight.detach().double().cpu().numpy()
        self.bias = None if conv.bias is None else conv.bias.detach().double().cpu().numpy()
        self.in_channels, self.groups = conv.in_channels, conv.groups
        self.stride, self.dilation = tuple(conv.stride), tuple(conv.dilation)
        self.padding = conv.padding if isinstance(conv.padding, str) else tuple(conv.padding)
        self.activation: Optional[str] = None

    def fold(self, bn) -> None:
        scale = (bn.weight.detach().double().cpu().numpy()
                 / np.sqrt(bn.running_var.detach().double().cpu().numpy() + bn.eps))
        bias = self.bias if self.bias is not None else 0.0
        self.weight = self.weight * scale[:, None, None, None]
        self.bias = ((bias - bn.running_mean.detach().double().cpu().numpy()) * scale
                     + bn.bias.detach().double().cpu().numpy())

    def finish(self) -> "_TorchUnit":
        self.weight = self.weight.astype(np.float32)
        self.bias = None if self.bias is None else self.bias.astype(np.float32)
        return self

    def require_pointwise(self, what: str) -> None:
        if (self.weight.shape[2:] != (1, 1) or self.stride != (1, 1) or self.groups != 1
                or self.padding not in ((0, 0), "valid")):
            raise ValueError(f"{what}: expected a 1x1, stride-1, unpadded Conv2d with groups=1, "
                             f"got weight {self.weight.shape}, stride {self.stride}, padding "
                             f"{self.padding}, groups {self.groups}")


def _torch_units(modules: Tuple[Any, ...], count: Any, what: str) -> List[_TorchUnit]:
    """The Conv2d units of modules (Conv2d, BatchNorm2d and activations, nested in Sequentials),
    in order; ValueError unless there are `count` of them (an int or a tuple of ints)."""
    import torch.nn as nn

    def leaves(m):
        children = list(m.children())
        if not children:
            yield m
        for child in children:
            yield from leaves(child)

    units: List[_TorchUnit] = []
    for module in modules:
        for leaf in leaves(module):
            if isinstance(leaf, nn.Conv2d):
                units.append(_TorchUnit(leaf))
            elif isinstance(leaf, nn.BatchNorm2d) and units and units[-1].activation is None:
                units[-1].fold(leaf)
            elif type(leaf).__name__ in _TORCH_ACTIVATIONS and units:
                units[-1].activation = _TORCH_ACTIVATIONS[type(leaf).__name__]
            elif not isinstance(leaf, (nn.Identity, nn.Dropout)):
                raise ValueError(f"{what}.from_torch: unsupported module {leaf!r}")
    counts = count if isinstance(count, tuple) else (count,)
    if len(units) not in counts:
        raise ValueError(f"{what}.from_torch expects {' or '.join(map(str, counts))} Conv2d "
                         f"module(s), got {len(units)}")
    return [u.finish() for u in units]
