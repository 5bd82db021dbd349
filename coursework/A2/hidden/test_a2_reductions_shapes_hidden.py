"""A2.1-A2.3 hidden tests: negative axes, float32, ties in every layout, advanced indexing."""
import numpy as np
import pytest

import minigrad as mg
from coursework.checks import assert_arrays_match, assert_gradients_match
from minigrad import ops

rng = np.random.default_rng(5)
X = rng.standard_normal((2, 3, 4))


def backward_of(fn, x, grad):
    t = mg.Tensor(x, requires_grad=True)
    fn(t).backward(grad)
    return t.grad


# -- A2.1 ------------------------------------------------------------------------------------
@pytest.mark.task("A2.1")
@pytest.mark.parametrize("op", ["sum", "mean"])
@pytest.mark.parametrize("axis, keepdims", [(-1, False), ((-3, -1), True), ((0, 1, 2), False)])
def test_sum_mean_negative_and_tuple_axes(op, axis, keepdims):
    f = getattr(ops, op)
    assert_gradients_match(f"{op}(axis={axis}, keepdims={keepdims})",
                           lambda x: f(x, axis=axis, keepdims=keepdims), X)


@pytest.mark.task("A2.1")
@pytest.mark.parametrize("op, scale", [("sum", 1.0), ("mean", 1 / 12)])
def test_sum_mean_backward_float32_and_writable(op, scale):
    x = X[0].astype(np.float32)                           # (3, 4)
    g = backward_of(lambda t: getattr(ops, op)(t, axis=1), x, np.full(3, 2.0, np.float32))
    assert_arrays_match(f"{op}(axis=1) backward on float32", g, np.full((3, 4), 2.0 * (1 if op == "sum" else 1 / 4)),
                        dtype=np.float32)
    g2 = backward_of(lambda t: getattr(ops, op)(t), x, np.float32(1.0))
    assert_arrays_match(f"{op}() backward on float32", g2, np.full((3, 4), scale), dtype=np.float32)
    g2 += 1                                               # an optimizer may update it in place
    assert_arrays_match(f"{op}() backward: the gradient must be a writable array of its own", g2,
                        np.full((3, 4), scale + 1), dtype=np.float32)


# -- A2.2 ------------------------------------------------------------------------------------
@pytest.mark.task("A2.2")
def test_max_all_equal_over_all_axes():
    g = backward_of(lambda t: ops.max(t), np.full((2, 3), 7.0), np.array(6.0))
    assert_arrays_match("max() backward when all 6 elements tie", g, np.ones((2, 3)), atol=1e-12)


@pytest.mark.task("A2.2")
def test_max_ties_over_a_tuple_of_axes_with_keepdims():
    x = np.zeros((2, 2, 3))
    x[0] = [[4, 1, 4], [0, 4, 2]]                         # three tied maxima in block 0
    x[1] = [[1, 2, 3], [9, 0, 0]]                         # one maximum in block 1
    g = backward_of(lambda t: ops.max(t, axis=(1, 2), keepdims=True), x,
                    np.array([3.0, 5.0]).reshape(2, 1, 1))
    expected = np.zeros_like(x)
    expected[0] = [[1, 0, 1], [0, 1, 0]]
    expected[1, 1, 0] = 5.0
    assert_arrays_match("max(axis=(1, 2), keepdims=True) backward with ties", g, expected,
                        atol=1e-12)


@pytest.mark.task("A2.2")
def test_max_ties_along_axis_0_and_float32():
    x = np.array([[2.0, -1.0], [2.0, -1.0], [1.0, -1.0]], dtype=np.float32)
    g = backward_of(lambda t: ops.max(t, axis=0), x, np.array([1.0, 1.0], np.float32))
    assert_arrays_match("max(axis=0) backward with ties, float32", g,
                        [[0.5, 1 / 3], [0.5, 1 / 3], [0.0, 1 / 3]], atol=1e-7, dtype=np.float32)


@pytest.mark.task("A2.2")
def test_max_with_infinities():
    x = np.array([[-np.inf, 1.0, np.inf], [-np.inf, -np.inf, -2.0]])
    g = backward_of(lambda t: ops.max(t, axis=1), x, np.array([1.0, 1.0]))
    assert_arrays_match("max(axis=1) backward with +-inf entries", g,
                        [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]], atol=0, rtol=0)


# -- A2.3 ------------------------------------------------------------------------------------
@pytest.mark.task("A2.3")
@pytest.mark.parametrize("name, index", [
    ("x[[1, 1], [2, 2]] (the same element twice)", (np.array([1, 1]), np.array([2, 2]))),
    ("x[:, [0, 2, 0]]", (slice(None), np.array([0, 2, 0]))),
    ("x[x > 0] (boolean mask)", X > 0),
    ("x[..., ::-2]", (Ellipsis, slice(None, None, -2))),
    ("x[None, 1, :, 3]", (None, 1, slice(None), 3)),
    ("x[[[0, 1], [1, 1]], 2]", (np.array([[0, 1], [1, 1]]), 2)),
])
def test_getitem_advanced_indices(name, index):
    assert_gradients_match(f"getitem {name}", lambda x: x[index], X)


@pytest.mark.task("A2.3")
def test_getitem_repeated_pairs_accumulate_exactly():
    g = backward_of(lambda t: t[np.array([0, 1, 0, 0]), np.array([2, 0, 2, 2])], np.zeros((2, 3)),
                    np.array([1.0, 2.0, 4.0, 8.0]))
    assert_arrays_match("getitem x[[0, 1, 0, 0], [2, 0, 2, 2]] backward", g,
                        [[0, 0, 13.0], [2.0, 0, 0]], atol=0, rtol=0)


@pytest.mark.task("A2.3")
def test_transpose_negative_axes_and_reshape_chains():
    assert_gradients_match("transpose(axes=(-1, 0, -2))", lambda x: ops.transpose(x, (-1, 0, -2)), X)
    assert_gradients_match("reshape then transpose then reshape",
                           lambda x: x.reshape(6, 4).T.reshape(2, 2, 6), X)
    assert_gradients_match("flatten", lambda x: ops.flatten(x), X)
