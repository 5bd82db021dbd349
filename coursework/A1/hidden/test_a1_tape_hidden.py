"""A1.1 hidden tests: the corners of the tape the public tests leave out."""
import time

import numpy as np
import pytest

from coursework.A1.support import Plus, Scale, leaf
from coursework.checks import CheckFailure, assert_arrays_match
from minigrad import Function


class Counted(Scale):
    """y = k * x, counting how often its backward runs."""
    calls = 0

    def backward(self, grad):
        type(self).calls += 1
        return super().backward(grad)


class Identity(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad                              # hands the very array it was given


class FirstOnly(Function):
    """a + b, but claims no gradient for b (returns None for it)."""

    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, None


class TooMany(Identity):
    def backward(self, grad):
        return grad, grad                        # two gradients for one input


class WrongShape(Function):
    def forward(self, x):
        return x.sum(keepdims=True)

    def backward(self, grad):
        return grad                              # shape (1,) for an input of shape (3,)


@pytest.mark.task("A1.1")
def test_each_node_backward_runs_once_even_when_shared():
    Counted.calls = 0
    x = leaf([1.0, 2.0])
    h = Counted.apply(x, k=3.0)
    for _ in range(25):                          # h_{i+1} = h_i + h_i: 2**25 paths from top to x
        h = Plus.apply(h, h)
    start = time.perf_counter()
    h.backward(np.ones(2))
    took = time.perf_counter() - start
    if Counted.calls != 1:
        raise CheckFailure(f"Tensor.backward: a node's backward must run once, after all its "
                           f"gradient has been summed; it ran {Counted.calls} times")
    assert_arrays_match("Tensor.backward through 25 doublings", x.grad, np.full(2, 3.0 * 2 ** 25))
    if took > 1.0:
        raise CheckFailure(f"Tensor.backward over 26 nodes took {took:.2f} s: is it following "
                           "every path instead of visiting each node once?")


@pytest.mark.task("A1.1")
def test_constants_get_no_gradient_and_none_gradients_are_skipped():
    x, c = leaf([1.0, 2.0]), leaf([5.0, 5.0], requires_grad=False)
    y = leaf([0.0, 0.0])
    z = FirstOnly.apply(Plus.apply(x, c), y)
    z.backward(np.array([1.0, -1.0]))
    assert_arrays_match("Tensor.backward: x.grad", x.grad, [1.0, -1.0])
    if c.grad is not None:
        raise CheckFailure("Tensor.backward: a tensor with requires_grad=False must not get a .grad")
    if y.grad is not None:
        raise CheckFailure("Tensor.backward: an op returned None for input y, so y.grad must stay None")


@pytest.mark.task("A1.1")
def test_leaf_grad_does_not_alias_the_callers_array():
    x = leaf([1.0, 2.0, 3.0])
    g = np.array([1.0, 1.0, 1.0])
    Identity.apply(x).backward(g)
    g[...] = 100.0                               # the caller reuses its buffer
    assert_arrays_match("Tensor.backward: x.grad after the caller changed its grad= array "
                        "(store a copy of the first gradient)", x.grad, np.ones(3))
    x2 = leaf([1.0, 2.0])
    Plus.apply(x2, leaf([0.0, 0.0])).backward(np.ones(2))
    x2.grad += 1.0                               # an optimizer updating in place
    assert_arrays_match("Tensor.backward: x.grad in-place update must not leak into other grads",
                        x2.grad, np.full(2, 2.0))


@pytest.mark.task("A1.1")
def test_every_node_of_the_graph_is_freed():
    x = leaf([1.0])
    nodes = []
    y = x
    for _ in range(5):
        y = Plus.apply(y, y)
        nodes.append(y)
    y.backward(np.ones(1))
    alive = [k for k, t in enumerate(nodes) if t._ctx.inputs is not None]
    if alive:
        raise CheckFailure(f"Tensor.backward: nodes {alive} of 5 still hold their inputs after "
                           "backward without retain_graph (call ctx.free() once a node is done)")


@pytest.mark.task("A1.1")
def test_bad_backward_results_are_clear_errors():
    x = leaf([1.0, 2.0, 3.0])
    for op, run in (("TooMany (2 gradients for 1 input)", lambda: TooMany.apply(x).backward(np.ones(3))),
                    ("WrongShape (gradient of shape (1,) for an input of shape (3,))",
                     lambda: WrongShape.apply(x).backward(np.ones(1)))):
        with pytest.raises(RuntimeError) as caught:
            run()
        if isinstance(caught.value, NotImplementedError):
            raise caught.value
        if op.split()[0] not in str(caught.value):
            raise CheckFailure(f"Tensor.backward: the RuntimeError for {op} should name the op "
                               f"({op.split()[0]}); got: {caught.value}")


@pytest.mark.task("A1.1")
def test_a_very_deep_chain_is_fast():
    x = leaf([1.0])
    y = x
    for _ in range(10000):
        y = Counted.apply(y, k=1.0)
    start = time.perf_counter()
    y.backward(np.ones(1))
    took = time.perf_counter() - start
    assert_arrays_match("Tensor.backward through 10,000 ops", x.grad, [1.0])
    if took > 2.0:
        raise CheckFailure(f"Tensor.backward through 10,000 ops took {took:.2f} s (expected well "
                           "under a second: is some step quadratic in the number of nodes?)")
