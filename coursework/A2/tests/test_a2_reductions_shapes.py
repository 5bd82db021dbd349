"""A2.1 (sum, mean), A2.2 (max with ties) and A2.3 (reshape, transpose, getitem): public tests.

Gradients are checked against float64 central differences with
``coursework.checks.assert_gradients_match`` (your A1 tape runs the backward).
"""
import numpy as np
import pytest

import minigrad as mg
from coursework.checks import assert_arrays_match, assert_gradients_match
from minigrad import ops

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4, 5))


# -- A2.1 ------------------------------------------------------------------------------------
@pytest.mark.task("A2.1")
@pytest.mark.parametrize("axis, keepdims", [(None, False), (1, False), ((0, 2), False), (2, True)])
def test_sum_backward(axis, keepdims):
    assert_gradients_match(f"sum(axis={axis}, keepdims={keepdims})",
                           lambda x: ops.sum(x, axis=axis, keepdims=keepdims), X)


@pytest.mark.task("A2.1")
@pytest.mark.parametrize("axis, keepdims", [(None, False), (0, False), ((1, 2), True)])
def test_mean_backward(axis, keepdims):
    assert_gradients_match(f"mean(axis={axis}, keepdims={keepdims})",
                           lambda x: ops.mean(x, axis=axis, keepdims=keepdims), X)


# -- A2.2 ------------------------------------------------------------------------------------
@pytest.mark.task("A2.2")
@pytest.mark.parametrize("axis", [None, 1, (0, 2)])
def test_max_backward_without_ties(axis):
    assert_gradients_match(f"max(axis={axis})", lambda x: ops.max(x, axis=axis), X)


@pytest.mark.task("A2.2")
def test_max_ties_share_the_gradient_equally():
    x = mg.Tensor(np.array([[1.0, 3.0, 3.0],
                            [2.0, 2.0, 2.0],
                            [0.0, 5.0, -1.0]]), requires_grad=True)
    y = ops.max(x, axis=1)
    assert_arrays_match("max(axis=1) forward", y, [3.0, 2.0, 5.0])
    y.backward(np.array([1.0, 1.0, 2.0]))
    expected = np.array([[0.0, 0.5, 0.5],          # two tied maxima: half each
                         [1 / 3, 1 / 3, 1 / 3],    # three: a third each
                         [0.0, 2.0, 0.0]])
    assert_arrays_match("max(axis=1) backward with tied maxima", x.grad, expected, atol=1e-12)


# -- A2.3 ------------------------------------------------------------------------------------
@pytest.mark.task("A2.3")
def test_reshape_backward():
    assert_gradients_match("reshape (3, 4, 5) -> (6, 10)", lambda x: ops.reshape(x, (6, 10)), X)
    assert_gradients_match("reshape (3, 4, 5) -> (-1, 5)", lambda x: x.reshape(-1, 5), X)


@pytest.mark.task("A2.3")
@pytest.mark.parametrize("axes", [None, (1, 0, 2), (2, 0, 1)])
def test_transpose_backward(axes):
    fn = (lambda x: ops.transpose(x)) if axes is None else (lambda x: ops.transpose(x, axes))
    assert_gradients_match(f"transpose(axes={axes})", fn, X)


@pytest.mark.task("A2.3")
@pytest.mark.parametrize("name, index", [
    ("x[1]", 1),
    ("x[:, 1:3]", (slice(None), slice(1, 3))),
    ("x[0, ::2, -1]", (0, slice(None, None, 2), -1)),
])
def test_getitem_backward_basic_indices(name, index):
    assert_gradients_match(f"getitem {name}", lambda x: x[index], X)


@pytest.mark.task("A2.3")
def test_getitem_repeated_indices_accumulate():
    x = mg.Tensor(np.arange(4.0), requires_grad=True)
    y = x[np.array([0, 2, 0, 0, 3])]
    y.backward(np.array([1.0, 10.0, 100.0, 1000.0, 5.0]))
    assert_arrays_match("getitem x[[0, 2, 0, 0, 3]] backward (index 0 is used three times)",
                        x.grad, [1101.0, 0.0, 10.0, 5.0], atol=0, rtol=0)
    assert_gradients_match("getitem x[[2, 2, 0]]", lambda t: t[np.array([2, 2, 0])], X)
