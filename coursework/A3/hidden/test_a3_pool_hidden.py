"""A3.3 hidden tests: overlapping windows, padding, leftovers, float32 and ties."""
import numpy as np
import pytest

import minigrad as mg
from coursework.checks import CheckFailure, assert_arrays_match, assert_gradients_match
from minigrad import ops

rng = np.random.default_rng(12)


def distinct(shape):
    return rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) / 7.0


CASES = [  # (shape, kernel, stride, padding)
    ((1, 2, 7, 7), 2, None, 0),                 # a leftover row and column (no gradient)
    ((2, 1, 6, 8), (2, 3), (1, 2), (1, 1)),     # non-square everything, overlapping along H
    ((1, 1, 6, 6), 3, 1, 1),                    # heavy overlap, padding
    ((1, 3, 4, 4), 1, 1, 0),                    # 1x1: the identity
    ((1, 1, 9, 4), (4, 1), (2, 1), (2, 0)),     # 4 members along H
]


@pytest.mark.task("A3.3")
@pytest.mark.parametrize("shape, k, s, p", CASES)
def test_max_pool_backward_variants(shape, k, s, p):
    assert_gradients_match(f"max_pool2d(kernel {k}, stride {s}, padding {p}) on {shape}",
                           lambda x: ops.max_pool2d(x, k, s, p), distinct(shape))


@pytest.mark.task("A3.3")
@pytest.mark.parametrize("shape, k, s, p", CASES)
def test_avg_pool_backward_variants(shape, k, s, p):
    assert_gradients_match(f"avg_pool2d(kernel {k}, stride {s}, padding {p}) on {shape}",
                           lambda x: ops.avg_pool2d(x, k, s, p), rng.standard_normal(shape))


@pytest.mark.task("A3.3")
def test_pool_backward_in_float32_and_on_channels_last_input():
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32).transpose(0, 3, 1, 2)
    for name, op in (("max_pool2d", ops.max_pool2d), ("avg_pool2d", ops.avg_pool2d)):
        t = mg.Tensor(x.copy(), requires_grad=True)
        r = mg.Tensor(x.astype(np.float64), requires_grad=True)
        g = rng.standard_normal((2, 3, 3, 3)).astype(np.float32)
        op(t, 2).backward(g)
        op(r, 2).backward(g.astype(np.float64))
        assert_arrays_match(f"{name} backward, float32, channels-last input", t.grad, r.grad,
                            atol=1e-6, dtype=np.float32)


@pytest.mark.task("A3.3")
def test_max_pool_ties_in_a_3x3_window_and_across_overlapping_windows():
    # ties in one 3x3 window: the first maximum along H in each column, then the first column
    x = np.array([[0.0, 2.0, 2.0], [2.0, 0.0, 0.0], [0.0, 0.0, 2.0]]).reshape(1, 1, 3, 3)
    t = mg.Tensor(x, requires_grad=True)
    ops.max_pool2d(t, 3).backward(np.ones((1, 1, 1, 1)))
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 0] = 1.0                   # column 0 holds a maximum (row 1): it wins
    assert_arrays_match("max_pool2d backward, 3x3 window with four tied maxima", t.grad, expected,
                        atol=0, rtol=0)
    # a maximum shared by two overlapping windows (stride 1) gets both windows' gradient
    x2 = np.array([[1.0, 9.0, 2.0], [0.0, 3.0, 4.0]]).reshape(1, 1, 2, 3)
    t2 = mg.Tensor(x2, requires_grad=True)
    ops.max_pool2d(t2, 2, 1).backward(np.array([[[[10.0, 100.0]]]]))
    assert_arrays_match("max_pool2d backward, one maximum in two overlapping windows", t2.grad,
                        [[[[0.0, 110.0, 0.0], [0.0, 0.0, 0.0]]]], atol=0, rtol=0)


@pytest.mark.task("A3.3")
def test_pool_gradient_is_fresh_on_every_call():
    # the gradient buffer may be uninitialised when windows tile the input exactly: every
    # element must then be written, not added to
    x = distinct((1, 1, 4, 4))
    grads = []
    for _ in range(2):
        t = mg.Tensor(x, requires_grad=True)
        ops.max_pool2d(t, 2).backward(np.ones((1, 1, 2, 2)))
        grads.append(t.grad)
    if not np.array_equal(grads[0], grads[1]) or grads[0].sum() != 4:
        raise CheckFailure(f"max_pool2d backward differs between two identical calls or does not "
                           f"sum to 4 (one per window): {grads[0].ravel()} vs {grads[1].ravel()}")
