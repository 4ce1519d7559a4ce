"""sepconv: fast depthwise, pointwise and depthwise-separable convolutions on the CPU.

NumPy float32 in, NumPy float32 out; weights in PyTorch's convention; NCHW or NHWC layout.
"""

from __future__ import annotations

import importlib

from . import _core
from ._ops import (conv2d, depthwise_conv2d, inverted_residual, pointwise_conv2d,
                   separable_conv2d)
from .layers import Conv2d, DepthwiseConv2d, InvertedResidual, PointwiseConv2d, SeparableConv2d

__version__ = _core.__version__

# Submodules imported on first use, so that ``python -m sepconv.cost`` does not find
# sepconv.cost already imported by the package (runpy's RuntimeWarning).
_LAZY_SUBMODULES = ("cost", "reference")

__all__ = [
    "depthwise_conv2d", "pointwise_conv2d", "separable_conv2d", "conv2d", "inverted_residual",
    "DepthwiseConv2d", "PointwiseConv2d", "SeparableConv2d", "Conv2d", "InvertedResidual",
    "set_num_threads", "get_num_threads", "config", "show_config", "cost", "reference",
    "__version__",
]


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)  # also binds it on the package
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))


def set_num_threads(n: int) -> None:
    """Set the number of OpenMP threads every sepconv op uses (process-wide, n >= 1).

    Example:
      >>> import sepconv
      >>> sepconv.set_num_threads(1)
    """
    _core.set_num_threads(int(n))


def get_num_threads() -> int:
    """The number of threads sepconv ops use (default: SEPCONV_NUM_THREADS, else all cores).

    Example:
      >>> import sepconv
      >>> sepconv.get_num_threads() >= 1
      True
    """
    return _core.get_num_threads()


def config() -> dict:
    """The build and runtime configuration: version, active ISA, ISAs this CPU can run, threads.

    ``isa_auto`` lists the ISAs eligible for automatic selection when SEPCONV_ISA is unset (the
    widest one this CPU runs is chosen).

    Example:
      >>> import sepconv
      >>> sorted(sepconv.config())[:3]
      ['compiler', 'isa', 'isa_auto']
    """
    available = list(_core.available_isas())
    return {
        "version": __version__,
        "isa": _core.get_isa(),
        "isa_available": available,
        "isa_auto": [name for name in available if _core.isa_auto_selected(name)],
        "num_threads": _core.get_num_threads(),
        "openmp": bool(_core.openmp_enabled()),
        "compiler": _core.compiler,
    }


def show_config() -> None:
    """Print config(), one key per line.

    Example:
      >>> import sepconv
      >>> sepconv.show_config()  # doctest: +SKIP
      version        0.1.0
      isa            avx2
      ...
    """
    for key, value in config().items():
        print(f"{key:<14} {value}")
