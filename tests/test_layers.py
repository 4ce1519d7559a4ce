"""Prepacked layers: equal to the functional ops and the reference on any input size, safe from
several Python threads, picklable, built from PyTorch modules; errors name the argument."""

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import sepconv
from conftest import check, poisoned, randn, reference, to_layout


def make_layers(rng, layout):
    """(layer, functional op with the same weights, reference) triples, one per layer class."""
    dw = randn(rng, (24, 1, 3, 3))
    db = randn(rng, (24,))
    pw = randn(rng, (16, 24))
    pb = randn(rng, (16,))
    cw = randn(rng, (16, 4, 3, 3)) / 6
    ew, ee = randn(rng, (36, 12)) / 3, randn(rng, (36,))
    idw, ipw = randn(rng, (36, 1, 3, 3)) / 3, randn(rng, (12, 36)) / 6
    kw = dict(stride=(1, 2), padding=1, layout=layout)
    return {
        "depthwise": (
            sepconv.DepthwiseConv2d(dw, db, in_channels=12, activation="relu6", **kw),
            lambda x: sepconv.depthwise_conv2d(x, dw, db, activation="relu6", **kw),
            lambda x: reference.depthwise_conv2d(x, dw, db, activation="relu6", **kw), 12),
        "pointwise": (
            sepconv.PointwiseConv2d(pw, pb, layout=layout, activation="silu"),
            lambda x: sepconv.pointwise_conv2d(x, pw, pb, layout=layout, activation="silu"),
            lambda x: reference.pointwise_conv2d(x, pw, pb, layout=layout, activation="silu"),
            24),
        "separable": (
            sepconv.SeparableConv2d(dw, pw, db, pb, depthwise_activation="relu", **kw),
            lambda x: sepconv.separable_conv2d(x, dw, pw, db, pb, depthwise_activation="relu",
                                               **kw),
            lambda x: reference.separable_conv2d(x, dw, pw, db, pb, depthwise_activation="relu",
                                                 **kw), 24),
        "conv2d": (
            sepconv.Conv2d(cw, pb, groups=2, **kw),
            lambda x: sepconv.conv2d(x, cw, pb, groups=2, **kw),
            lambda x: reference.conv2d(x, cw, pb, groups=2, **kw), 8),
        "inverted_residual": (
            sepconv.InvertedResidual(ew, idw, ipw, ee, layout=layout),
            lambda x: sepconv.inverted_residual(x, ew, idw, ipw, ee, layout=layout),
            lambda x: reference.inverted_residual(x, ew, idw, ipw, ee, padding=1, residual=True,
                                                  layout=layout), 12),
    }


KINDS = ["depthwise", "pointwise", "separable", "conv2d", "inverted_residual"]
SIZES = [(1, 9, 7), (3, 16, 21), (2, 1, 1), (1, 60, 58)]


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("kind", KINDS)
def test_layer_matches_op_and_reference_on_any_size(isa, layout, kind):
    rng = np.random.default_rng(1)
    layer, op, ref, c = make_layers(rng, layout)[kind]
    assert layer.isa == isa
    for n, h, w in SIZES:  # one layer object, rebound to each size
        x = to_layout(randn(rng, (n, c, h, w)), layout)
        expected = ref(x)
        out = poisoned(expected.shape)
        assert layer(x, out=out) is out
        check(out, expected)
        np.testing.assert_array_equal(out, op(x))


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_non_contiguous_and_float_lists(kind):
    rng = np.random.default_rng(2)
    layer, op, _, c = make_layers(rng, "NCHW")[kind]
    x = randn(rng, (c, 8, 2 * 9))[:, :, ::2]  # non-contiguous, unbatched
    np.testing.assert_array_equal(layer(x), op(np.ascontiguousarray(x)))
    assert layer(x).ndim == 3


@pytest.mark.parametrize("kind", KINDS)
def test_concurrent_calls_from_four_threads(kind):
    rng = np.random.default_rng(3)
    layer, _, ref, c = make_layers(rng, "NHWC")[kind]
    inputs = [to_layout(randn(rng, (1 + i % 2, c, 11 + 3 * i, 13 + i)), "NHWC")
              for i in range(16)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(layer, inputs))
    for x, y in zip(inputs, results):
        check(y, ref(x))


def test_small_nchw_planes_alternating_sizes_from_four_threads():
    """NCHW stride-1 planes up to 12 wide run the flat kernel, whose lane masks depend on the
    input size: one layer called on alternating sizes from four threads rebuilds and shares them."""
    rng = np.random.default_rng(5)
    w = randn(rng, (10, 1, 3, 3))
    b = randn(rng, (10,))
    layer = sepconv.DepthwiseConv2d(w, b, padding=1, activation="relu6")
    sizes = [(7, 7), (5, 11), (12, 12), (1, 3), (9, 4)]
    inputs = [randn(rng, (1 + i % 3, 10, *sizes[i % len(sizes)])) for i in range(40)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(layer, inputs))
    for x, y in zip(inputs, results):
        check(y, reference.depthwise_conv2d(x, w, b, padding=1, activation="relu6"))


def test_new_outputs_never_share_memory_while_referenced():
    """New outputs reuse the blocks of outputs the caller dropped: never one still referenced,
    even only through a view."""
    rng = np.random.default_rng(6)
    w = randn(rng, (16, 1, 3, 3))
    layer = sepconv.DepthwiseConv2d(w, padding=1)
    x = randn(rng, (2, 16, 40, 40))
    expected = reference.depthwise_conv2d(x, w, padding=1)
    view = layer(x)[1]  # the output itself is dropped, its view kept
    kept = [layer(x) for _ in range(12)]  # more than the pool holds
    kept += [sepconv.depthwise_conv2d(x, w, padding=1) for _ in range(3)]
    for i, y in enumerate(kept):
        assert not np.shares_memory(y, view)
        assert not any(np.shares_memory(y, z) for z in kept[i + 1:])
        check(y, expected)
    check(view, expected[1])
    del kept, view
    first = layer(x)
    address, size = first.ctypes.data, first.size
    del first
    decoy = np.empty(size + 15, np.float32)  # freed to the allocator, the block would go here
    again = layer(x)  # the pool kept the dropped output's block, and reuses it
    assert again.ctypes.data == address and not np.shares_memory(again, decoy)
    check(again, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_pickle_round_trip(kind):
    rng = np.random.default_rng(4)
    layer, _, _, c = make_layers(rng, "NCHW")[kind]
    copy = pickle.loads(pickle.dumps(layer))
    assert type(copy) is type(layer) and repr(copy) == repr(layer)
    x = randn(rng, (2, c, 10, 9))
    np.testing.assert_array_equal(copy(x), layer(x))


def test_weights_are_copied_and_read_only():
    rng = np.random.default_rng(5)
    w = randn(rng, (8, 1, 3, 3))
    layer = sepconv.DepthwiseConv2d(w, padding=1)
    x = randn(rng, (1, 8, 6, 6))
    before = layer(x)
    w[:] = 0  # the caller's array changes; the layer's copy does not
    np.testing.assert_array_equal(layer(x), before)
    assert not layer.weight.flags.writeable and layer.bias is None
    with pytest.raises(AttributeError):
        layer.no_such_attribute


def test_layer_keeps_the_isa_it_was_packed_for():
    rng = np.random.default_rng(6)
    available = sepconv.config()["isa_available"]
    previous = sepconv._core.get_isa()
    try:
        layers = {}
        for name in available:
            sepconv._core.set_isa(name)
            layers[name] = sepconv.PointwiseConv2d(randn(np.random.default_rng(0), (20, 30)),
                                                   layout="NHWC")
        sepconv._core.set_isa(available[0])  # the active ISA changes; the layers do not
        x = randn(rng, (1, 5, 7, 30))
        expected = reference.pointwise_conv2d(x, layers[available[0]].weight, layout="NHWC")
        for name, layer in layers.items():
            assert layer.isa == name and f"isa='{name}'" in repr(layer)
            check(layer(x), expected)
    finally:
        sepconv._core.set_isa(previous)


def test_repr_shows_configuration():
    layer = sepconv.SeparableConv2d(np.ones((8, 1, 5, 5), np.float32),
                                    np.ones((4, 8), np.float32), stride=2, padding="same",
                                    depthwise_activation="relu6", layout="NHWC")
    text = repr(layer)
    for part in ("SeparableConv2d(", "depthwise_weight=(8, 1, 5, 5)", "stride=(2, 2)",
                 "padding='same'", "depthwise_activation='relu6'", "layout='NHWC'", "isa="):
        assert part in text, text


def test_bad_arguments():
    rng = np.random.default_rng(7)
    layer = sepconv.DepthwiseConv2d(randn(rng, (8, 1, 3, 3)), padding=1)
    with pytest.raises(ValueError, match=r"7 channels, the layer expects 8"):
        layer(randn(rng, (1, 7, 5, 5)))
    with pytest.raises(TypeError, match="x must be a float32 array"):
        layer(np.ones((1, 8, 5, 5)))
    with pytest.raises(ValueError, match="x must be 3-D or 4-D"):
        layer(np.ones((8, 5), np.float32))
    with pytest.raises(ValueError, match="x must have non-zero sizes"):
        layer(np.ones((0, 8, 5, 5), np.float32))
    x = randn(rng, (1, 8, 5, 5))
    with pytest.raises(ValueError, match="out has shape"):
        layer(x, out=np.empty((1, 8, 4, 4), np.float32))
    with pytest.raises(ValueError, match="overlap|alias|share"):
        layer(x, out=x)
    read_only = np.empty((1, 8, 5, 5), np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        layer(x, out=read_only)
    with pytest.raises(ValueError, match="larger than the padded input"):
        sepconv.DepthwiseConv2d(randn(rng, (8, 1, 3, 3)))(randn(rng, (1, 8, 2, 2)))
    with pytest.raises(ValueError, match=r"weight must have shape \(C\*m, 1, KH, KW\)"):
        sepconv.DepthwiseConv2d(randn(rng, (8, 1, 3, 3)), in_channels=3)
    with pytest.raises(ValueError, match="in_channels must be a positive int"):
        sepconv.DepthwiseConv2d(randn(rng, (8, 1, 3, 3)), in_channels=0)
    with pytest.raises(ValueError, match=r"weight must have shape \(Cout, Cin, 1, 1\)"):
        sepconv.PointwiseConv2d(randn(rng, (8, 4, 3, 3)))
    with pytest.raises(ValueError, match="groups must be a positive int"):
        sepconv.Conv2d(randn(rng, (8, 4, 3, 3)), groups=0)
    with pytest.raises(ValueError, match="weight must have shape"):
        sepconv.Conv2d(randn(rng, (9, 4, 3, 3)), groups=2)
    with pytest.raises(ValueError, match="residual connection needs"):
        sepconv.InvertedResidual(randn(rng, (24, 8)), randn(rng, (24, 1, 3, 3)),
                                 randn(rng, (8, 24)), stride=2, residual=True)
    with pytest.raises(ValueError, match="activation must be None"):
        sepconv.PointwiseConv2d(randn(rng, (8, 4)), activation="gelu")


# ------------------------------------------------------------------------------------------
# from_torch (skipped without PyTorch)
# ------------------------------------------------------------------------------------------
def _torch_eval(module):
    torch = pytest.importorskip("torch")
    module.eval()
    for m in module.modules():  # non-trivial BatchNorm statistics, so folding is exercised
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return module


def _torch_output(module, x):
    import torch

    with torch.no_grad():
        return module(torch.from_numpy(x)).double().numpy()


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_from_torch_matches_pytorch(layout):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    cases = [
        (sepconv.DepthwiseConv2d, (nn.Sequential(nn.Conv2d(16, 32, 3, 2, 1, groups=16),
                                                 nn.BatchNorm2d(32), nn.ReLU6()),), 16),
        (sepconv.PointwiseConv2d, (nn.Sequential(nn.Conv2d(16, 24, 1, bias=False),
                                                 nn.BatchNorm2d(24), nn.Hardswish()),), 16),
        (sepconv.Conv2d, (nn.Sequential(nn.Conv2d(16, 8, 3, 1, (1, 2), dilation=(1, 2),
                                                  groups=4), nn.SiLU()),), 16),
        (sepconv.SeparableConv2d, (nn.Conv2d(16, 16, 5, 1, "same", groups=16),
                                   nn.Sequential(nn.Conv2d(16, 12, 1), nn.ReLU())), 16),
    ]
    rng = np.random.default_rng(8)
    for cls, modules, c in cases:
        layer = cls.from_torch(*[_torch_eval(m) for m in modules], layout=layout)
        x = randn(rng, (2, c, 13, 11))
        expected = _torch_output(nn.Sequential(*modules), x)
        got = layer(to_layout(x, layout))
        check(got, to_layout(expected, layout))


@pytest.mark.parametrize("expand_ratio,stride", [(6, 1), (6, 2), (1, 1)])
def test_inverted_residual_from_torch(expand_ratio, stride):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(1)
    c, hidden = 16, 16 * expand_ratio
    layers = []
    if expand_ratio != 1:
        layers.append(nn.Sequential(nn.Conv2d(c, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
                                    nn.ReLU6()))
    layers += [nn.Sequential(nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                             nn.BatchNorm2d(hidden), nn.ReLU6()),
               nn.Conv2d(hidden, c, 1, bias=False), nn.BatchNorm2d(c)]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Sequential(*layers)
            self.use_res_connect = stride == 1

        def forward(self, x):
            return x + self.conv(x) if self.use_res_connect else self.conv(x)

    block = _torch_eval(Block())
    layer = sepconv.InvertedResidual.from_torch(block)
    x = randn(np.random.default_rng(9), (1, c, 14, 15))
    check(layer(x), _torch_output(block, x))


def test_from_torch_rejects_what_it_cannot_run():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    with pytest.raises(ValueError, match="groups == in_channels"):
        sepconv.DepthwiseConv2d.from_torch(nn.Conv2d(4, 8, 3))
    with pytest.raises(ValueError, match="1x1, stride-1, unpadded"):
        sepconv.PointwiseConv2d.from_torch(nn.Conv2d(4, 8, 3))
    with pytest.raises(ValueError, match="padding_mode"):
        sepconv.Conv2d.from_torch(nn.Conv2d(4, 8, 3, padding=1, padding_mode="reflect"))
    with pytest.raises(ValueError, match="expects 2 Conv2d"):
        sepconv.SeparableConv2d.from_torch(nn.Conv2d(4, 4, 3, groups=4))
    with pytest.raises(ValueError, match="unsupported module"):
        sepconv.Conv2d.from_torch(nn.Sequential(nn.Conv2d(4, 8, 3), nn.GELU()))
