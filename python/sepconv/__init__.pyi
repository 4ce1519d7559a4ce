from typing import Any, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import cost as cost
from . import reference as reference
from .layers import Conv2d as Conv2d
from .layers import DepthwiseConv2d as DepthwiseConv2d
from .layers import InvertedResidual as InvertedResidual
from .layers import PointwiseConv2d as PointwiseConv2d
from .layers import SeparableConv2d as SeparableConv2d

_F32 = npt.NDArray[np.float32]
_IntOrPair = Union[int, Tuple[int, int]]
_Padding = Union[int, Tuple[int, int], Tuple[Tuple[int, int], Tuple[int, int]], str]

__version__: str

def depthwise_conv2d(x: _F32, weight: _F32, bias: Optional[_F32] = ..., *,
                     stride: _IntOrPair = ..., padding: _Padding = ...,
                     dilation: _IntOrPair = ..., layout: str = ...,
                     activation: Optional[str] = ..., out: Optional[_F32] = ...) -> _F32: ...
def pointwise_conv2d(x: _F32, weight: _F32, bias: Optional[_F32] = ..., *, layout: str = ...,
                     activation: Optional[str] = ..., out: Optional[_F32] = ...) -> _F32: ...
def separable_conv2d(x: _F32, depthwise_weight: _F32, pointwise_weight: _F32,
                     depthwise_bias: Optional[_F32] = ..., pointwise_bias: Optional[_F32] = ...,
                     *, stride: _IntOrPair = ..., padding: _Padding = ...,
                     dilation: _IntOrPair = ..., layout: str = ...,
                     depthwise_activation: Optional[str] = ...,
                     activation: Optional[str] = ..., out: Optional[_F32] = ...) -> _F32: ...
def conv2d(x: _F32, weight: _F32, bias: Optional[_F32] = ..., *, stride: _IntOrPair = ...,
           padding: _Padding = ..., dilation: _IntOrPair = ..., groups: int = ...,
           layout: str = ..., activation: Optional[str] = ...,
           out: Optional[_F32] = ...) -> _F32: ...
def inverted_residual(x: _F32, expand_weight: Optional[_F32], depthwise_weight: _F32,
                      project_weight: _F32, expand_bias: Optional[_F32] = ...,
                      depthwise_bias: Optional[_F32] = ..., project_bias: Optional[_F32] = ...,
                      *, stride: _IntOrPair = ..., padding: Optional[_Padding] = ...,
                      dilation: _IntOrPair = ..., activation: Optional[str] = ...,
                      residual: Optional[bool] = ..., layout: str = ...,
                      out: Optional[_F32] = ...) -> _F32: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def config() -> dict[str, Any]: ...
def show_config() -> None: ...
