"""A1.1: the tape (``Tensor.backward`` and ``_topological_order`` in minigrad/tensor.py).

These tests build graphs from tiny ops written out in coursework/A1/support.py, so they
need nothing but the tape: not your arithmetic backward (A1.3/A1.4) nor ``sum_to_shape`` (A1.2).
"""
import numpy as np
import pytest

from coursework.A1.support import Plus, Scale, Times, leaf
from coursework.checks import CheckFailure, assert_arrays_match
from minigrad.tensor import _topological_order


@pytest.mark.task("A1.1")
def test_topological_order_lists_every_node_once_after_its_inputs():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    a = Times.apply(x, y)
    b = Plus.apply(a, x)          # x is reached by two paths
    c = Times.apply(b, a)         # and so is a
    order = _topological_order(c)
    ids = [id(t) for t in order]
    if len(ids) != len(set(ids)):
        raise CheckFailure(f"_topological_order: some tensor appears twice ({len(ids)} entries "
                           f"for {len(set(ids))} distinct tensors)")
    expected = {id(t) for t in (x, y, a, b, c)}
    if set(ids) != expected:
        raise CheckFailure(f"_topological_order: expected the 5 tensors x, y, a, b, c, got "
                           f"{len(set(ids))} distinct ones ({len(expected & set(ids))} of them right)")
    if order[-1] is not c:
        raise CheckFailure("_topological_order: the root (the tensor backward starts from) must come last")
    position = {i: k for k, i in enumerate(ids)}
    names = {id(x): "x", id(y): "y", id(a): "a", id(b): "b", id(c): "c"}
    for t in order:
        for inp in (t._ctx.inputs if t._ctx is not None else ()):
            if position[id(inp)] > position[id(t)]:
                raise CheckFailure(f"_topological_order: {names[id(inp)]} is an input of "
                                   f"{names[id(t)]} but comes after it")


@pytest.mark.task("A1.1")
def test_backward_applies_the_chain_rule_and_sums_over_paths():
    x = leaf([0.5, -2.0, 3.0])
    # f = x * x + 3 x: x reaches f by three paths, df/dx = 2x + 3
    f = Plus.apply(Times.apply(x, x), Scale.apply(x, k=3.0))
    f.backward(np.ones(3))
    assert_arrays_match("Tensor.backward: d(x*x + 3x)/dx", x.grad, 2 * x.data + 3)


@pytest.mark.task("A1.1")
def test_backward_defaults_to_one_for_a_scalar_and_sends_grad_to_all_leaves():
    x, y = leaf(2.0), leaf(-3.0)
    z = Times.apply(Plus.apply(x, y), y)      # (x + y) y
    z.backward()
    assert_arrays_match("Tensor.backward: d((x+y)y)/dx", x.grad, y.data)
    assert_arrays_match("Tensor.backward: d((x+y)y)/dy", y.grad, x.data + 2 * y.data)


@pytest.mark.task("A1.1")
def test_leaf_gradients_accumulate_over_backward_calls():
    x = leaf([1.0, 2.0])
    Scale.apply(x, k=2.0).backward(np.ones(2))
    Scale.apply(x, k=5.0).backward(np.ones(2))
    assert_arrays_match("Tensor.backward: x.grad after two backward calls (2 + 5)", x.grad,
                        np.full(2, 7.0))


@pytest.mark.task("A1.1")
def test_backward_frees_the_graph_unless_retained():
    x = leaf([1.0, -1.0])
    y = Times.apply(x, x)
    y.backward(np.ones(2), retain_graph=True)
    y.backward(np.ones(2))                     # allowed: the graph was retained
    assert_arrays_match("Tensor.backward: x.grad after retain_graph=True then a second backward",
                        x.grad, 4 * x.data)
    if y._ctx.inputs is not None:
        raise CheckFailure("Tensor.backward: without retain_graph the node must be freed "
                           "(ctx.free()), but y._ctx.inputs is still set")
    with pytest.raises(RuntimeError) as caught:
        y.backward(np.ones(2))                 # freed: a clear error, not a wrong answer
    if isinstance(caught.value, NotImplementedError):
        raise caught.value


@pytest.mark.task("A1.1")
def test_backward_of_a_deep_chain_needs_no_recursion():
    x = leaf([1.0])
    y = x
    for _ in range(3000):                      # deeper than Python's recursion limit
        y = Scale.apply(y, k=1.0)
    y = Scale.apply(y, k=2.0)
    y.backward(np.ones(1))
    assert_arrays_match("Tensor.backward through a chain of 3001 ops", x.grad, [2.0])
