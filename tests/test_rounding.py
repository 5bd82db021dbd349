"""The suite's rounding tolerance (tests/rounding.py) accepts reordered sums and nothing more."""
import numpy as np
import pytest

from rounding import assert_close_up_to_rounding, rounding_atol


def test_reordered_float32_sums_pass_and_a_real_error_fails():
    rng = np.random.default_rng(0)
    terms = rng.standard_normal((50, 4096)).astype(np.float32)
    pairwise = terms.sum(axis=1)                                  # NumPy's pairwise order
    sequential = np.zeros(50, np.float32)
    for column in terms[:, ::-1].T:                               # left to right, reversed
        sequential += column
    assert not np.array_equal(pairwise, sequential)               # the orders do differ
    magnitude = np.abs(terms.astype(np.float64)).sum(axis=1)
    assert_close_up_to_rounding(sequential, pairwise, n_terms=4096, magnitude=magnitude)
    wrong = pairwise + 4096 * np.finfo(np.float32).eps * magnitude.astype(np.float32)
    with pytest.raises(AssertionError, match=r"differ by more than rounding allows \(float32, 4096"):
        assert_close_up_to_rounding(wrong, pairwise, n_terms=4096, magnitude=magnitude)


def test_tolerance_follows_dtype_and_length():
    assert rounding_atol(np.float32, 1001, 2.0) == pytest.approx(1000 * 2.0 * 2.0 ** -23)
    assert rounding_atol(np.float64, 11, 1.0) == pytest.approx(10 * 2.0 ** -52)
    with pytest.raises(ValueError, match="n_terms"):
        rounding_atol(np.float32, 0, 1.0)
