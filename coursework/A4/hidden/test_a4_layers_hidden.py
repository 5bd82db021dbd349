"""A4.1 and A4.2: hidden tests (fan-in from the argument, the rng, glorot in a layer, no bias,
stride/padding/rectangular kernels)."""
import math

import numpy as np
import pytest

import minigrad as mg
from coursework.A3.support import reference_conv2d
from coursework.checks import CheckFailure, assert_arrays_match
from minigrad import nn


@pytest.mark.task("A4.1")
def test_init_uses_the_fan_arguments_not_the_shape():
    w = nn.he_normal((200, 300), fan_in=1000, rng=3)
    assert_arrays_match("he_normal((200, 300), fan_in=1000) std", w.std(), math.sqrt(2 / 1000),
                        atol=0, rtol=0.02)
    a = math.sqrt(6 / (10 + 2000))
    g = nn.glorot_uniform((300, 200), 10, 2000, rng=3)
    assert_arrays_match("glorot_uniform((300, 200), fan_in=10, fan_out=2000): largest |w|",
                        np.abs(g).max(), a, atol=0, rtol=0.01)


@pytest.mark.task("A4.1")
def test_init_draws_from_the_given_generator():
    rng = np.random.default_rng(5)
    first, second = nn.he_normal((4, 4), 4, rng), nn.he_normal((4, 4), 4, rng)
    if np.array_equal(first, second):
        raise CheckFailure("he_normal: two calls with the same Generator gave the same weights; "
                           "draw from the generator you are given (as_rng(rng))")
    again = np.random.default_rng(5)
    assert_arrays_match("he_normal: same generator state, same weights",
                        nn.he_normal((4, 4), 4, again), first, atol=0, rtol=0)
    g1, g2 = nn.glorot_uniform((3, 3), 3, 3, 7), nn.glorot_uniform((3, 3), 3, 3, 7)
    assert_arrays_match("glorot_uniform: same int seed, same weights", g1, g2, atol=0, rtol=0,
                        dtype=np.float32)


@pytest.mark.task("A4.2")
def test_linear_without_bias_and_glorot_init():
    layer = nn.Linear(300, 200, bias=False, rng=0, init="glorot")
    if layer.bias is not None or [n for n, _ in layer.named_parameters()] != ["weight"]:
        raise CheckFailure("Linear(bias=False): bias must be None and the only parameter 'weight'")
    a = math.sqrt(6 / 500)
    assert_arrays_match("Linear(300, 200, init='glorot'): largest |w|", np.abs(layer.weight.data).max(),
                        a, atol=0, rtol=0.01)
    x = np.random.default_rng(1).standard_normal((3, 300)).astype(np.float32)
    assert_arrays_match("Linear(bias=False) forward (x W^T)", layer(mg.Tensor(x)),
                        x.astype(np.float64) @ layer.weight.data.T.astype(np.float64), atol=1e-5)


@pytest.mark.task("A4.2")
def test_linear_seed_and_state_dict_names():
    net = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    assert_arrays_match("Sequential state_dict names", np.array(list(net.state_dict())),
                        np.array(["0.weight", "0.bias", "2.weight", "2.bias"]))
    again = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    for name, value in net.state_dict().items():
        assert_arrays_match(f"Linear(rng=seed) reproducible: {name}", again.state_dict()[name], value,
                            atol=0, rtol=0)


@pytest.mark.task("A4.2")
@pytest.mark.parametrize("stride,padding,kernel", [(2, 0, 3), (2, 2, 3), (1, 1, (3, 2)), (3, 1, 2)])
def test_conv2d_stride_padding_kernel_variants(stride, padding, kernel):
    rng = np.random.default_rng(0)
    conv = nn.Conv2d(3, 2, kernel, stride=stride, padding=padding, rng=1)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    assert_arrays_match(f"Conv2d(3, 2, {kernel}).weight shape", conv.weight.shape, (2, 3, kh, kw))
    conv.bias.data[...] = rng.standard_normal(2).astype(np.float32)
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    assert_arrays_match(f"Conv2d(3, 2, {kernel}, stride={stride}, padding={padding}) forward",
                        conv(mg.Tensor(x)),
                        reference_conv2d(x, conv.weight.data, conv.bias.data, stride, padding),
                        dtype=np.float32)


@pytest.mark.task("A4.2")
def test_conv2d_without_bias_and_glorot_fans():
    conv = nn.Conv2d(4, 6, 5, bias=False, rng=0, init="glorot")
    if conv.bias is not None or [n for n, _ in conv.named_parameters()] != ["weight"]:
        raise CheckFailure("Conv2d(bias=False): bias must be None and the only parameter 'weight'")
    a = math.sqrt(6 / (4 * 25 + 6 * 25))   # fan_in = in k k, fan_out = out k k
    assert_arrays_match("Conv2d(4, 6, 5, init='glorot'): largest |w| (fan_out = out_channels k k)",
                        np.abs(conv.weight.data).max(), a, atol=0, rtol=0.03)
    x = np.random.default_rng(2).standard_normal((1, 4, 6, 6)).astype(np.float32)
    assert_arrays_match("Conv2d(bias=False) forward", conv(mg.Tensor(x)),
                        reference_conv2d(x, conv.weight.data, None), dtype=np.float32)
