"""The fused conv2d + 2x2 max-pool [+ ReLU] node, the nn.Conv2dMaxPool2d layer, and the
nn.fuse_conv_pool pass that puts it in a stack.

Checked against the library's slow references conv2d_simple and max_pool2d_simple
(forward), float64 central differences (backward), the unfused ops (values and gradients),
and, under ``gpu``, CuPy against NumPy.
"""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import Tensor, nn, ops
from minigrad.ops.conv_maxpool import Conv2dMaxPool2d, fusable

from conftest import check_op
from rounding import assert_close_up_to_rounding
from test_conv_pool import SETTINGS


@st.composite
def fused_cases(draw):
    """(x, w, b or None, stride, padding, relu) whose conv output has even height and width,
    drawn so that no pooling window holds a near-tie and no pooled value is near 0 (the
    kinks where a numerical gradient means nothing)."""
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 1)), draw(st.integers(0, 1))
    oh, ow = 2 * draw(st.integers(1, 3)), 2 * draw(st.integers(1, 3))
    h, w = (oh - 1) * sh + kh - 2 * ph, (ow - 1) * sw + kw - 2 * pw
    assume(h >= 1 and w >= 1)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (n, c, h, w))
    wt = rng.uniform(-1, 1, (f, c, kh, kw))
    b = rng.uniform(-0.5, 0.5, f) if draw(st.booleans()) else None
    relu = draw(st.booleans())
    conv = ops.conv2d_simple(x, wt, b, (sh, sw), (ph, pw)).data
    members = np.sort(conv.reshape(n, f, oh // 2, 2, ow // 2, 2).transpose(0, 1, 2, 4, 3, 5)
                      .reshape(n, f, oh // 2, ow // 2, 4), axis=-1)
    assume(np.min(members[..., -1] - members[..., -2]) > 1e-3)   # a clear winner everywhere
    if relu:
        assume(np.min(np.abs(members[..., -1])) > 1e-3)          # away from relu's kink
    return x, wt, b, (sh, sw), (ph, pw), relu


def conv_sum_lengths(x_shape, w_shape, conv_hw) -> dict:
    """The length of the sums behind one element of a conv's output and of each gradient:
    the output and dx sum over a kernel (in channels x taps, plus the bias; out channels x
    taps), dw and db over every image and output position."""
    n, c = x_shape[:2]
    f, _, kh, kw = w_shape
    positions = n * conv_hw[0] * conv_hw[1]
    return {"y": c * kh * kw + 1, "x": f * kh * kw, "w": positions, "b": positions}


def assert_same_op_up_to_rounding(y1, grads1, y2, grads2, lengths):
    """The fused node and the plain ops compute the same sums in other orders: compare the
    output and each gradient with the rounding tolerance of tests/rounding.py (was a fixed
    rtol/atol of 1e-5 on values, 1e-4 on gradients)."""
    assert y1.dtype == np.float32
    assert_close_up_to_rounding(y1, y2, n_terms=lengths["y"], err_msg="output")
    for name, a, e in zip("xwb", grads1, grads2):
        if a is None and e is None:   # an input that needs no gradient
            continue
        assert a.dtype == np.float32
        assert_close_up_to_rounding(a, e, n_terms=lengths[name], err_msg=f"d{name}")


def reference(x, w, b, stride, padding, relu):
    out = ops.max_pool2d_simple(ops.conv2d_simple(x, w, b, stride, padding), 2).data
    return np.maximum(out, 0) if relu else out


@given(fused_cases())
@settings(**SETTINGS)
def test_fused_op_against_loops_and_numerical_gradients(case):
    x, w, b, stride, padding, relu = case
    arrays = (x, w) if b is None else (x, w, b)

    def fn(*t):
        return ops.conv2d_maxpool2d(*t[:2], t[2] if len(t) == 3 else None, stride=stride,
                                    padding=padding, relu=relu)

    check_op(fn, *arrays, reference=lambda *a: reference(a[0], a[1], a[2] if len(a) == 3 else None,
                                                         stride, padding, relu))


@given(fused_cases())
@settings(**SETTINGS)
def test_fused_op_equals_the_separate_ops(case):
    """Same values and the same gradients (float32) as conv2d -> max_pool2d(2) [-> relu]."""
    x, w, b, stride, padding, relu = case

    def run(fused):
        ts = [Tensor(a.astype(np.float32), requires_grad=True) for a in (x, w, b) if a is not None]
        bias = ts[2] if len(ts) == 3 else None
        if fused:
            y = ops.conv2d_maxpool2d(ts[0], ts[1], bias, stride=stride, padding=padding, relu=relu)
        else:
            y = ops.max_pool2d(ops.conv2d(ts[0], ts[1], bias, stride=stride, padding=padding), 2)
            y = ops.relu(y) if relu else y
        g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
        (y * Tensor(g)).sum().backward()
        return y.numpy(), [t.grad for t in ts]

    (y1, g1), (y2, g2) = run(True), run(False)
    conv_hw = (2 * y1.shape[2], 2 * y1.shape[3])           # the 2x2 pool halves the conv output
    assert_same_op_up_to_rounding(y1, g1, y2, g2, conv_sum_lengths(x.shape, w.shape, conv_hw))


def test_ties_go_to_the_first_member_and_relu_clips_get_no_gradient():
    # a 1x1 kernel of weight 1: the conv output is the input itself
    x = Tensor(np.array([[[[3.0, 3.0, -1.0, -2.0],
                           [1.0, 3.0, -3.0, -1.5]]]], dtype=np.float32), requires_grad=True)
    w = Tensor(np.ones((1, 1, 1, 1), dtype=np.float32), requires_grad=True)
    y = ops.conv2d_maxpool2d(x, w, relu=True)
    np.testing.assert_array_equal(y.numpy(), [[[[3.0, 0.0]]]])
    y.sum().backward()
    # window 1: three 3s, the first in (0,0),(0,1),(1,0),(1,1) order wins; window 2: all
    # negative, clipped by the ReLU, so no member gets a gradient
    np.testing.assert_array_equal(x.grad, [[[[1, 0, 0, 0], [0, 0, 0, 0]]]])


def test_odd_size_message_names_op_and_shapes():
    x = Tensor(np.zeros((1, 1, 6, 6), dtype=np.float32))
    w = Tensor(np.zeros((2, 1, 2, 2), dtype=np.float32))  # 5x5 output
    with pytest.raises(ValueError) as err:
        ops.conv2d_maxpool2d(x, w)
    msg = str(err.value)
    assert "conv2d_maxpool2d" in msg and "5x5" in msg and "(1, 1, 6, 6)" in msg and "(2, 1, 2, 2)" in msg


@pytest.mark.parametrize("shape,kernel,stride,padding,pool,expected", [
    ((2, 3, 28, 28), 5, 1, 0, (2, 2, 0), True),     # the MNIST net's first block: 24x24
    ((2, 32, 12, 12), 5, 1, 0, (2, 2, 0), True),    # its second: 8x8
    ((2, 3, 27, 27), 5, 1, 0, (2, 2, 0), False),    # 23x23: odd
    ((2, 3, 32, 32), 5, 1, 2, (3, 2, 0), False),    # the SVHN net's 3x3/2 pooling
    ((2, 3, 28, 28), 5, 1, 0, (2, 1, 0), False),    # stride 1 pooling
    ((2, 3, 28, 28), 5, 1, 0, (2, 2, 1), False),    # padded pooling
])
def test_fusable(shape, kernel, stride, padding, pool, expected):
    assert fusable(shape, kernel, stride, padding, *pool) is expected


def _block(fuse, rng_seed=0, relu=True, size=12):
    rng = np.random.default_rng(rng_seed)
    layers = [nn.Conv2d(3, 4, 3, padding=1, rng=rng), nn.MaxPool2d(2)] + ([nn.ReLU()] if relu else [])
    seq = nn.Sequential(*layers, nn.Flatten())
    if fuse:
        seq = nn.fuse_conv_pool(seq)
    x = Tensor(np.random.default_rng(5).standard_normal((2, 3, size, size)).astype(np.float32))
    return seq, x


@pytest.mark.parametrize("relu", [True, False])
def test_fuse_conv_pool_keeps_names_values_and_gradients(relu):
    (fused, x), (plain, _) = _block(True, relu=relu), _block(False, relu=relu)
    assert list(fused.state_dict()) == list(plain.state_dict())  # same names
    assert [type(m) for m in fused] == ([nn.Conv2dMaxPool2d, nn.Identity]
                                        + [nn.Identity] * relu + [nn.Flatten])
    assert fused[0].relu is relu
    y1, y2 = fused(x), plain(x)
    # the fused graph has one node where the plain one (Sequential fuses nothing itself) has
    # two or three
    assert any(isinstance(n, Conv2dMaxPool2d) for n in _nodes(y1))
    assert not any(isinstance(n, Conv2dMaxPool2d) for n in _nodes(y2))
    y1.sum().backward()
    y2.sum().backward()
    conv = fused[0]
    grads = [[p.grad for p in m.parameters()] for m in (fused, plain)]
    lengths = conv_sum_lengths(x.shape, conv.weight.shape, x.shape[2:])   # padding 1: same size
    assert_same_op_up_to_rounding(y1.numpy(), [None] + grads[0], y2.numpy(), [None] + grads[1],
                                  lengths)


def test_fuse_conv_pool_shares_the_parameters_and_loads_the_plain_checkpoint():
    plain, _ = _block(False)
    fused = nn.fuse_conv_pool(plain)
    assert [id(p) for p in fused.parameters()] == [id(p) for p in plain.parameters()]
    other, _ = _block(False, rng_seed=1)
    fused.load_state_dict(other.state_dict())   # strict: every name must match
    np.testing.assert_array_equal(fused[0].weight.numpy(), other[0].weight.numpy())


def test_fuse_conv_pool_leaves_other_runs_alone():
    rng = np.random.default_rng(0)

    class MyConv(nn.Conv2d):   # a subclass may change what forward does: not fused
        pass

    seq = nn.Sequential(nn.Conv2d(3, 4, 3, rng=rng), nn.ReLU(), nn.MaxPool2d(2),  # relu first
                        nn.Conv2d(4, 4, 3, rng=rng), nn.MaxPool2d(3, 2), nn.ReLU(),  # 3x3/2 pool
                        MyConv(4, 4, 1, rng=rng), nn.MaxPool2d(2), nn.Flatten())
    fused = nn.fuse_conv_pool(seq)
    assert [type(m) for m in fused] == [type(m) for m in seq]
    assert all(a is b for a, b in zip(fused, seq))


def test_fused_layer_runs_the_separate_ops_on_an_odd_conv_output():
    (fused, x), (plain, _) = _block(True, size=11), _block(False, size=11)   # 11x11 conv output
    y = fused(x)
    assert not any(isinstance(n, Conv2dMaxPool2d) for n in _nodes(y))
    np.testing.assert_array_equal(y.numpy(), plain(x).numpy())


def _nodes(y):
    """Every Function node of the graph that produced ``y``."""
    seen, stack, out = set(), [y], []
    while stack:
        t = stack.pop()
        node = t._ctx
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        out.append(node)
        stack.extend(node.inputs or ())
    return out


@pytest.mark.gpu
def test_fused_op_on_cupy_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 28, 28)).astype(np.float32)
    w = rng.standard_normal((8, 3, 5, 5)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    results = []
    for device in ("cpu", "cuda"):
        ts = [Tensor(a, requires_grad=True).to(device) for a in (x, w, b)]
        y = ops.conv2d_maxpool2d(*ts, relu=True)
        y.sum().backward()
        results.append([y.numpy()] + [mg.backend.to_numpy(t.grad) for t in ts])
    lengths = conv_sum_lengths(x.shape, w.shape, (24, 24))
    assert_same_op_up_to_rounding(results[0][0], results[0][1:], results[1][0], results[1][1:],
                                  lengths)
