"""Shared fixtures and helpers for the sepconv test-suite.

* ``reference``: the float64 NumPy oracle (python/sepconv/reference.py). It is loaded straight
  from the source tree when available, so test_reference.py runs even before the C++ extension
  is built.
* ``isa`` fixture: parametrised over ``sepconv.config()["isa_available"]``; forces that ISA for
  the duration of the test and restores the previous one afterwards.
* ``check(out, ref)``: float32 result vs float64 reference.
* ``randn(rng, shape)``, ``poisoned(shape)``: test data helpers.
"""

import contextlib
import importlib.util
import os
import pathlib

import numpy as np
import pytest

try:
    from hypothesis import HealthCheck, settings

    # "ci": reproducible runs without a local example database.
    settings.register_profile(
        "ci",
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    # CI runs the same examples every time (a red CI must be reproducible); local runs explore.
    default_profile = "ci" if os.environ.get("CI") else "default"
    settings.load_profile(os.environ.get("SEPCONV_HYPOTHESIS_PROFILE", default_profile))
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    pass

ROOT = pathlib.Path(__file__).resolve().parent.parent
_REFERENCE_PATH = ROOT / "python" / "sepconv" / "reference.py"


def _load_reference():
    if _REFERENCE_PATH.exists():
        spec = importlib.util.spec_from_file_location("sepconv_reference", _REFERENCE_PATH)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    from sepconv import reference as module  # installed package without the source tree

    return module


reference = _load_reference()

try:
    import sepconv
    import sepconv._core

    ISAS = list(sepconv.config()["isa_available"])
except Exception as exc:  # extension not built yet: only test_reference.py can run
    sepconv = None
    ISAS = []
    _IMPORT_ERROR = exc
else:
    _IMPORT_ERROR = None


@pytest.fixture(params=ISAS or [None], ids=lambda name: str(name))
def isa(request):
    """Force one ISA path of the C++ core for the test; restore the previous one after."""
    name = request.param
    if name is None:
        pytest.fail(f"sepconv could not be imported: {_IMPORT_ERROR!r}")
    previous = sepconv._core.get_isa()
    sepconv._core.set_isa(name)
    try:
        yield name
    finally:
        sepconv._core.set_isa(previous)


@pytest.fixture(params=["always", "never", "auto"])
def fusion(request):
    """Force the composite ops' fusion rule for the test; restore the previous one after."""
    previous = sepconv._core.get_fusion()
    sepconv._core.set_fusion(request.param)
    yield request.param
    sepconv._core.set_fusion(previous)


TINY = np.finfo(np.float64).tiny


def check(out, ref):
    """Assert a float32 result matches the float64 reference (shape, dtype, values)."""
    out = np.asarray(out)
    ref = np.asarray(ref)
    assert out.dtype == np.float32, out.dtype
    assert out.shape == ref.shape, (out.shape, ref.shape)
    assert np.isfinite(out).all(), "non-finite values in output"
    o = out.astype(np.float64)
    rel = np.linalg.norm(o - ref) / max(np.linalg.norm(ref), TINY)
    assert rel < 1e-5, f"relative error {rel:.3g}"
    atol = 1e-4 * max(1.0, float(np.abs(ref).max(initial=0.0)))
    if not np.allclose(o, ref, rtol=1e-4, atol=atol):
        bad = np.argwhere(~np.isclose(o, ref, rtol=1e-4, atol=atol))
        idx = tuple(bad[0])
        raise AssertionError(
            f"{len(bad)} elements differ; first at {idx}: got {o[idx]!r}, expected {ref[idx]!r}"
        )


def randn(rng, shape):
    """Standard-normal float32 array (never all zeros)."""
    return rng.standard_normal(shape).astype(np.float32)


def poisoned(shape, line_offset=None):
    """float32 C-contiguous array filled with NaN, to catch unwritten output elements; with
    line_offset, its data starts that many bytes past a 64-byte cache line."""
    nans = np.full(shape, np.nan, dtype=np.float32)
    return nans if line_offset is None else placed(nans, line_offset)


def placed(a, line_offset, boundary=64):
    """C-contiguous float32 copy of a whose data starts line_offset bytes (a multiple of 4) past
    a 64-byte cache line (NumPy places large arrays 16 bytes past one, or on one), or past
    another boundary (4096: a page)."""
    raw = np.empty(a.size + 2 * boundary // 4, dtype=np.float32)
    skip = ((-raw.ctypes.data) % boundary + line_offset) // 4
    out = raw[skip:skip + a.size].reshape(a.shape)
    out[...] = a
    return out


def to_layout(x_nchw, layout):
    """Contiguous copy of an NCHW (or CHW) array in the given layout."""
    if layout == "NCHW":
        return np.ascontiguousarray(x_nchw)
    if x_nchw.ndim == 3:
        return np.ascontiguousarray(x_nchw.transpose(1, 2, 0))
    return np.ascontiguousarray(x_nchw.transpose(0, 2, 3, 1))


@contextlib.contextmanager
def num_threads(n):
    """sepconv runs on n threads inside the block, and on as many as before after it."""
    import sepconv

    previous = sepconv.get_num_threads()
    try:
        sepconv.set_num_threads(n)
        yield
    finally:
        sepconv.set_num_threads(previous)


def x_shape(n, c, h, w, layout, batched=True):
    shape = (n, c, h, w) if layout == "NCHW" else (n, h, w, c)
    return shape if batched else shape[1:]
