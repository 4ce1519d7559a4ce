"""Type stubs for the C++ core (internal; use the functions of the sepconv package)."""

from typing import List, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

_F32 = npt.NDArray[np.float32]
_Pair = Tuple[int, int]
_Padding = Union[str, Tuple[int, int, int, int]]

__version__: str
compiler: str

class InvalidArgument(ValueError): ...

def depthwise_conv2d(x: _F32, weight: _F32, bias: Optional[_F32], kernel: _Pair, multiplier: int,
                     stride: _Pair, padding: _Padding, dilation: _Pair, layout: str,
                     activation: Optional[str], out: Optional[_F32]) -> _F32: ...
def pointwise_conv2d(x: _F32, weight: _F32, bias: Optional[_F32], out_channels: int, layout: str,
                     activation: Optional[str], out: Optional[_F32]) -> _F32: ...
def separable_conv2d(x: _F32, depthwise_weight: _F32, pointwise_weight: _F32,
                     depthwise_bias: Optional[_F32], pointwise_bias: Optional[_F32],
                     kernel: _Pair, multiplier: int, out_channels: int, stride: _Pair,
                     padding: _Padding, dilation: _Pair, layout: str,
                     depthwise_activation: Optional[str], activation: Optional[str],
                     out: Optional[_F32]) -> _F32: ...
def conv2d(x: _F32, weight: _F32, bias: Optional[_F32], kernel: _Pair, out_channels: int,
           groups: int, stride: _Pair, padding: _Padding, dilation: _Pair, layout: str,
           activation: Optional[str], out: Optional[_F32]) -> _F32: ...
def inverted_residual(x: _F32, expand_weight: Optional[_F32], depthwise_weight: _F32,
                      project_weight: _F32, expand_bias: Optional[_F32],
                      depthwise_bias: Optional[_F32], project_bias: Optional[_F32],
                      kernel: _Pair, expanded_channels: int, out_channels: int, stride: _Pair,
                      padding: _Padding, dilation: _Pair, layout: str,
                      activation: Optional[str], residual: bool, out: Optional[_F32]) -> _F32: ...

class _Layer:
    isa: str
    def __call__(self, x: _F32, out: Optional[_F32]) -> _F32: ...

class DepthwiseConv2d(_Layer):
    def __init__(self, weight: _F32, bias: Optional[_F32], channels: int, kernel: _Pair,
                 multiplier: int, stride: _Pair, padding: _Padding, dilation: _Pair, layout: str,
                 activation: Optional[str]) -> None: ...
class PointwiseConv2d(_Layer):
    def __init__(self, weight: _F32, bias: Optional[_F32], in_channels: int, out_channels: int,
                 layout: str, activation: Optional[str]) -> None: ...
class SeparableConv2d(_Layer):
    def __init__(self, depthwise_weight: _F32, pointwise_weight: _F32,
                 depthwise_bias: Optional[_F32], pointwise_bias: Optional[_F32],
                 in_channels: int, kernel: _Pair, multiplier: int, out_channels: int,
                 stride: _Pair, padding: _Padding, dilation: _Pair, layout: str,
                 depthwise_activation: Optional[str], activation: Optional[str]) -> None: ...
class Conv2d(_Layer):
    def __init__(self, weight: _F32, bias: Optional[_F32], in_channels: int, kernel: _Pair,
                 out_channels: int, groups: int, stride: _Pair, padding: _Padding,
                 dilation: _Pair, layout: str, activation: Optional[str]) -> None: ...
class InvertedResidual(_Layer):
    def __init__(self, expand_weight: Optional[_F32], depthwise_weight: _F32,
                 project_weight: _F32, expand_bias: Optional[_F32],
                 depthwise_bias: Optional[_F32], project_bias: Optional[_F32], in_channels: int,
                 kernel: _Pair, expanded_channels: int, out_channels: int, stride: _Pair,
                 padding: _Padding, dilation: _Pair, layout: str, activation: Optional[str],
                 residual: bool) -> None: ...

def conv_geometry(in_hw: _Pair, kernel: _Pair, stride: _Pair, padding: _Padding,
                  dilation: _Pair) -> Tuple[int, int, Tuple[int, int, int, int]]: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def openmp_enabled() -> bool: ...
def set_isa(name: str) -> None: ...
def get_isa() -> str: ...
def available_isas() -> List[str]: ...
def isa_auto_selected(name: str) -> bool: ...
def run_fma_probe(iterations: int) -> float: ...
