"""A1.2 hidden tests: broadcasting corner cases of ``sum_to_shape``."""
import numpy as np
import pytest

from coursework.A1.support import check_sum_to_shape, reference_sum_to_shape
from coursework.checks import CheckFailure, assert_arrays_match
from minigrad.function import sum_to_shape

CASES = [
    ((3, 4), ()),               # everything summed
    ((3, 4), (1, 1)),           # all ones, nothing dropped
    ((2, 1, 4), (1, 4)),        # an axis of size 1 in grad too: summing it is not needed
    ((2, 3, 4, 5), (3, 1, 5)),  # leading, stretched and kept axes mixed
    ((1, 3), (3,)),             # a leading axis of size 1 dropped
    ((0, 3), (3,)),             # an empty batch: the gradient is zero
    ((0, 3), (1, 3)),
]


@pytest.mark.task("A1.2")
@pytest.mark.parametrize("grad_shape, shape", CASES)
def test_sum_to_shape_corner_cases(grad_shape, shape):
    check_sum_to_shape(grad_shape, shape, seed=2)


@pytest.mark.task("A1.2")
def test_sum_to_shape_on_a_transposed_view_and_leaves_grad_alone():
    base = np.random.default_rng(3).standard_normal((4, 6))
    grad = base.T                                   # (6, 4), not contiguous
    before = grad.copy()
    got = sum_to_shape(grad, (6, 1))
    assert_arrays_match("sum_to_shape((6, 4) transposed view -> (6, 1))", got,
                        reference_sum_to_shape(grad, (6, 1)), atol=1e-12, rtol=1e-12)
    if not np.array_equal(grad, before):
        raise CheckFailure("sum_to_shape: must not modify the gradient it is given")
