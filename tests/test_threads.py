"""Thread-count control and determinism across thread counts."""

import numpy as np
import pytest

import sepconv
from conftest import randn

CONFIG_KEYS = {"version", "isa", "isa_available", "num_threads", "openmp", "compiler"}


@pytest.fixture
def restore_threads():
    previous = sepconv.get_num_threads()
    yield previous
    sepconv.set_num_threads(previous)


def _medium_cases(layout):
    rng = np.random.default_rng(42)
    shape = (2, 48, 29, 31) if layout == "NCHW" else (2, 29, 31, 48)
    x = randn(rng, shape)
    return {
        "depthwise_conv2d": ((x, randn(rng, (96, 1, 5, 5)), randn(rng, (96,))),
                             dict(padding="same", stride=2, activation="relu6")),
        "pointwise_conv2d": ((x, randn(rng, (67, 48)), randn(rng, (67,))),
                             dict(activation="silu")),
        "separable_conv2d": ((x, randn(rng, (48, 1, 3, 3)), randn(rng, (64, 48)),
                              randn(rng, (48,)), randn(rng, (64,))),
                             dict(padding=1, depthwise_activation="relu", activation="hardswish")),
        "conv2d": ((x, randn(rng, (32, 24, 3, 3)), randn(rng, (32,))),
                   dict(padding=1, groups=2, activation="relu")),
    }


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("op", ["depthwise_conv2d", "pointwise_conv2d", "separable_conv2d",
                                "conv2d"])
def test_results_bit_identical_across_thread_counts(isa, restore_threads, op, layout):
    args, kw = _medium_cases(layout)[op]
    fn = getattr(sepconv, op)
    results = []
    for n in (1, 2, 3, 1):
        sepconv.set_num_threads(n)
        assert sepconv.get_num_threads() == n
        results.append(fn(*args, layout=layout, **kw))
    for r in results[1:]:
        assert r.tobytes() == results[0].tobytes(), "result depends on the thread count"


@pytest.mark.parametrize("n", [0, -1])
def test_set_num_threads_rejects_non_positive(restore_threads, n):
    with pytest.raises(ValueError):
        sepconv.set_num_threads(n)
    assert sepconv.get_num_threads() == restore_threads


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_num_threads_round_trip(restore_threads, n):
    sepconv.set_num_threads(n)
    assert sepconv.get_num_threads() == n
    assert sepconv.config()["num_threads"] == n


def test_config_keys_and_types():
    cfg = sepconv.config()
    assert isinstance(cfg, dict)
    assert CONFIG_KEYS <= set(cfg), CONFIG_KEYS - set(cfg)
    assert isinstance(cfg["version"], str) and cfg["version"]
    assert isinstance(cfg["compiler"], str)
    assert isinstance(cfg["openmp"], bool)
    assert isinstance(cfg["num_threads"], int) and cfg["num_threads"] >= 1
    assert isinstance(cfg["isa_available"], list) and "scalar" in cfg["isa_available"]
    assert cfg["isa"] in cfg["isa_available"]


def test_isa_hook_round_trip(isa):
    assert sepconv._core.get_isa() == isa
    assert sepconv.config()["isa"] == isa


def test_set_isa_rejects_unavailable_or_unknown():
    previous = sepconv._core.get_isa()
    try:
        with pytest.raises(ValueError):
            sepconv._core.set_isa("sse9000")
        for name in ("scalar", "avx2", "avx512"):
            if name not in sepconv.config()["isa_available"]:
                with pytest.raises(ValueError):
                    sepconv._core.set_isa(name)
    finally:
        sepconv._core.set_isa(previous)
    assert sepconv._core.get_isa() == previous
