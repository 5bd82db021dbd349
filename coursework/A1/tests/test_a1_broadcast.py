"""A1.2: ``sum_to_shape`` (minigrad/function.py), the adjoint of broadcasting."""
import numpy as np
import pytest

from coursework.A1.support import check_sum_to_shape, reference_sum_to_shape
from coursework.checks import assert_arrays_match
from minigrad.function import sum_to_shape

CASES = [
    ((3, 4), (4,)),             # a row vector added to every row
    ((3, 4), (1, 4)),           # the same with keepdims
    ((3, 4), (3, 1)),           # a column stretched along axis 1
    ((2, 3, 4), (3, 1)),        # a leading axis added and a trailing one stretched
    ((5,), ()),                 # a scalar
]


@pytest.mark.task("A1.2")
@pytest.mark.parametrize("grad_shape, shape", CASES)
def test_sum_to_shape_matches_the_scatter_add_reference(grad_shape, shape):
    check_sum_to_shape(grad_shape, shape, seed=0)


@pytest.mark.task("A1.2")
def test_sum_to_shape_keeps_float32():
    grad = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    got = sum_to_shape(grad, (1, 3))
    assert_arrays_match("sum_to_shape((4, 3) -> (1, 3)) on float32", got,
                        reference_sum_to_shape(grad, (1, 3)), atol=1e-5, dtype=np.float32)
