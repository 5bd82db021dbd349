"""A4.1 (weight initialisation) and A4.2 (Linear and Conv2d layers): public tests."""
import math

import numpy as np
import pytest

import minigrad as mg
from coursework.A3.support import reference_conv2d
from coursework.checks import CheckFailure, assert_arrays_match
from minigrad import nn


@pytest.mark.task("A4.1")
def test_he_normal_statistics_dtype_and_seed():
    w = nn.he_normal((300, 200), fan_in=50, rng=0)
    assert_arrays_match("he_normal((300, 200), fan_in=50): shape/dtype", w.shape, (300, 200))
    assert_arrays_match("he_normal: dtype", w, w.astype(np.float32), dtype=np.float32)
    assert_arrays_match("he_normal: mean of 60,000 draws", w.mean(), 0.0, atol=0.002, rtol=0)
    assert_arrays_match("he_normal: std of 60,000 draws, expected sqrt(2 / fan_in)", w.std(),
                        math.sqrt(2 / 50), atol=0, rtol=0.02)
    assert_arrays_match("he_normal: same int seed, same weights", nn.he_normal((300, 200), 50, 0), w,
                        atol=0, rtol=0)


@pytest.mark.task("A4.1")
def test_glorot_uniform_bounds_and_variance():
    fan_in, fan_out = 120, 80
    a = math.sqrt(6 / (fan_in + fan_out))
    w = nn.glorot_uniform((250, 240), fan_in, fan_out, np.random.default_rng(1))
    assert_arrays_match("glorot_uniform: dtype", w, w.astype(np.float32), dtype=np.float32)
    assert_arrays_match("glorot_uniform: largest |w|, expected just below a = sqrt(6 / (fan_in + fan_out))",
                        np.abs(w).max(), a, atol=0, rtol=0.01)
    if np.abs(w).max() > a * (1 + 1e-6):
        raise CheckFailure(f"glorot_uniform: |w| must be <= a = {a:.6g}, got {np.abs(w).max():.6g}")
    assert_arrays_match("glorot_uniform: variance, expected a^2 / 3", w.var(), a * a / 3, atol=0,
                        rtol=0.03)


# -- A4.2 ------------------------------------------------------------------------------------------
@pytest.mark.task("A4.2")
def test_linear_parameters():
    layer = nn.Linear(5, 3, rng=0)
    params = dict(layer.named_parameters())
    if list(params) != ["weight", "bias"]:
        raise CheckFailure(f"Linear(5, 3): parameters should be ['weight', 'bias'] in that order, "
                           f"got {list(params)}")
    for name, shape in (("weight", (3, 5)), ("bias", (3,))):
        p = params[name]
        if not isinstance(p, nn.Parameter):
            raise CheckFailure(f"Linear(5, 3).{name} must be an nn.Parameter, got {type(p).__name__}")
        assert_arrays_match(f"Linear(5, 3).{name} shape", p.shape, shape)
        assert_arrays_match(f"Linear(5, 3).{name} dtype", p.data, p.data, dtype=np.float32)
    assert_arrays_match("Linear(5, 3).bias (starts at zero)", layer.bias, np.zeros(3, np.float32))
    big = nn.Linear(400, 300, rng=0)
    assert_arrays_match("Linear(400, 300) weight std (He: sqrt(2 / in_features))",
                        big.weight.data.std(), math.sqrt(2 / 400), atol=0, rtol=0.03)


@pytest.mark.task("A4.2")
def test_linear_forward_and_gradients():
    rng = np.random.default_rng(0)
    layer = nn.Linear(4, 3, rng=1)
    layer.bias.data[...] = rng.standard_normal(3).astype(np.float32)
    x = mg.Tensor(rng.standard_normal((6, 4)).astype(np.float32), requires_grad=True)
    y = layer(x)
    w, b = layer.weight.data.astype(np.float64), layer.bias.data.astype(np.float64)
    assert_arrays_match("Linear forward (x W^T + b)", y, x.data @ w.T + b, dtype=np.float32)
    g = rng.standard_normal((6, 3)).astype(np.float32)
    y.backward(mg.Tensor(g))
    assert_arrays_match("Linear backward: grad of weight (g^T x)", layer.weight.grad, g.T @ x.data)
    assert_arrays_match("Linear backward: grad of bias (sum of g over rows)", layer.bias.grad,
                        g.sum(0))
    assert_arrays_match("Linear backward: grad of x (g W)", x.grad, g @ w)


@pytest.mark.task("A4.2")
def test_conv2d_parameters_and_init():
    conv = nn.Conv2d(8, 64, 3, rng=0)
    assert_arrays_match("Conv2d(8, 64, 3).weight shape", conv.weight.shape, (64, 8, 3, 3))
    assert_arrays_match("Conv2d(8, 64, 3).bias", conv.bias, np.zeros(64, np.float32),
                        dtype=np.float32)
    assert_arrays_match("Conv2d(8, 64, 3) weight std (He: sqrt(2 / (in_channels k k)))",
                        conv.weight.data.std(), math.sqrt(2 / (8 * 9)), atol=0, rtol=0.04)
    if [n for n, _ in conv.named_parameters()] != ["weight", "bias"]:
        raise CheckFailure("Conv2d: parameters should be ['weight', 'bias'], got "
                           f"{[n for n, _ in conv.named_parameters()]}")


@pytest.mark.task("A4.2")
def test_conv2d_forward_and_gradients():
    rng = np.random.default_rng(0)
    conv = nn.Conv2d(2, 3, 3, padding=1, rng=2)
    conv.bias.data[...] = rng.standard_normal(3).astype(np.float32)
    x = mg.Tensor(rng.standard_normal((2, 2, 5, 5)).astype(np.float32))
    y = conv(x)
    expected = reference_conv2d(x.data, conv.weight.data, conv.bias.data, padding=1)
    assert_arrays_match("Conv2d(2, 3, 3, padding=1) forward", y, expected, dtype=np.float32)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(mg.Tensor(g))
    if conv.weight.grad is None or conv.bias.grad is None:
        raise CheckFailure("Conv2d backward: no gradient reached conv.weight / conv.bias "
                           "(does forward use the layer's own Parameters?)")
    assert_arrays_match("Conv2d backward: grad of bias (sum of g over N, H, W)", conv.bias.grad,
                        g.sum((0, 2, 3)))
