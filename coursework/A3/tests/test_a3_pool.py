"""A3.3: max and average pooling backward (the routing in minigrad/ops/pool.py)."""
import numpy as np
import pytest

import minigrad as mg
from coursework.checks import assert_arrays_match, assert_gradients_match
from minigrad import ops

rng = np.random.default_rng(4)


def distinct(shape):
    """Values that are all different (a random permutation), so max pooling has no ties."""
    return rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64) / 7.0


@pytest.mark.task("A3.3")
@pytest.mark.parametrize("shape, k, s, p", [((2, 2, 4, 4), 2, None, 0), ((1, 2, 7, 6), 3, 2, 1),
                                            ((1, 1, 5, 5), 2, 1, 0)])
def test_max_pool_backward(shape, k, s, p):
    assert_gradients_match(f"max_pool2d(kernel {k}, stride {s}, padding {p}) on {shape}",
                           lambda x: ops.max_pool2d(x, k, s, p), distinct(shape))


@pytest.mark.task("A3.3")
@pytest.mark.parametrize("shape, k, s, p", [((2, 2, 4, 4), 2, None, 0), ((1, 2, 7, 6), 3, 2, 1),
                                            ((1, 1, 5, 5), 2, 1, 0)])
def test_avg_pool_backward(shape, k, s, p):
    assert_gradients_match(f"avg_pool2d(kernel {k}, stride {s}, padding {p}) on {shape}",
                           lambda x: ops.avg_pool2d(x, k, s, p), rng.standard_normal(shape))


@pytest.mark.task("A3.3")
def test_max_pool_gives_a_tied_window_gradient_to_one_element():
    # window values [[1, 5], [5, 5]]: three tied maxima. The forward records, pass by pass,
    # the first maximum along H, then the first along W: the leftmost column holding the
    # maximum, topmost in it -> element (1, 0) gets all of the gradient.
    x = mg.Tensor(np.array([[[[1.0, 5.0], [5.0, 5.0]]]]), requires_grad=True)
    ops.max_pool2d(x, 2).backward(np.array([[[[3.0]]]]))
    assert_arrays_match("max_pool2d backward with a tied window", x.grad,
                        [[[[0.0, 0.0], [3.0, 0.0]]]], atol=0, rtol=0)
