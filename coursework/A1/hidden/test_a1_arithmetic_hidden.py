"""A1.3 / A1.4 hidden tests: broadcasting, float32 and the edge cases of the derivatives."""
import numpy as np
import pytest

from coursework.checks import (CheckFailure, assert_arrays_match,
                               assert_function_backward_matches, function_backward)
from minigrad.ops import arithmetic as ar

rng = np.random.default_rng(7)
SHAPES = [((2, 3, 4), (4,)), ((3, 1), (1, 4)), ((), (2, 3)), ((2, 1, 3), (2, 4, 1))]


# -- A1.3 ------------------------------------------------------------------------------------
@pytest.mark.task("A1.3")
@pytest.mark.parametrize("name, cls", [("add", ar.Add), ("sub", ar.Sub), ("mul", ar.Mul),
                                       ("div", ar.Div)])
@pytest.mark.parametrize("sa, sb", SHAPES)
def test_binary_backward_with_broadcasting(name, cls, sa, sb):
    a = rng.standard_normal(sa)
    b = rng.uniform(0.5, 2.0, size=sb) * rng.choice([-1.0, 1.0], size=sb)
    assert_function_backward_matches(f"{name} of shapes {sa} and {sb}", cls, [a, b])


@pytest.mark.task("A1.3")
def test_div_backward_does_not_overflow_where_b_squared_would():
    a = np.array([1e10, -3e9, 2.0], dtype=np.float32)
    b = np.array([1e20, 2e21, 1e-3], dtype=np.float32)   # b*b is inf for the first two
    g = np.ones(3, dtype=np.float32)
    ga, gb = function_backward(ar.Div, [a, b], g)
    expected = -(a.astype(np.float64) / b.astype(np.float64)) / b.astype(np.float64)
    assert_arrays_match("div backward: gradient of b = -g a / b^2 in float32", gb, expected,
                        atol=0, rtol=1e-5, dtype=np.float32)
    assert_arrays_match("div backward: gradient of a in float32", ga, 1 / b.astype(np.float64),
                        atol=0, rtol=1e-5, dtype=np.float32)


@pytest.mark.task("A1.3")
@pytest.mark.parametrize("name, cls", [("add", ar.Add), ("sub", ar.Sub), ("mul", ar.Mul),
                                       ("div", ar.Div)])
def test_binary_backward_keeps_float32(name, cls):
    a = rng.standard_normal((2, 3)).astype(np.float32)
    b = rng.uniform(1, 2, size=(3,)).astype(np.float32)
    for k, g in enumerate(function_backward(cls, [a, b], np.ones((2, 3), np.float32))):
        shape = (a, b)[k].shape
        if g is None or g.shape != shape or g.dtype != np.float32:
            got = None if g is None else (g.shape, g.dtype)
            raise CheckFailure(f"{name} backward: gradient of input {k} must be float32 of shape "
                               f"{shape}, got {got}")


# -- A1.4 ------------------------------------------------------------------------------------
@pytest.mark.task("A1.4")
def test_pow_with_exponent_zero_has_zero_gradient_even_at_zero():
    a = np.array([0.0, 1.5, -2.0])
    (g,) = function_backward(ar.Pow, [a], np.ones(3), exponent=0.0)
    assert_arrays_match("pow(a, 0) backward (a**0 = 1 everywhere, also at a = 0)", g, np.zeros(3),
                        atol=0, rtol=0)


@pytest.mark.task("A1.4")
def test_pow_with_exponent_one_at_zero_and_integer_powers_of_negatives():
    a = np.array([0.0, -2.0, 3.0])
    (g,) = function_backward(ar.Pow, [a], np.ones(3), exponent=1.0)
    assert_arrays_match("pow(a, 1) backward", g, np.ones(3), atol=0, rtol=0)
    for exponent, a in ((3.0, [-1.5, -0.3, 2.0]), (-2.0, [-1.5, 0.7, 2.0])):
        assert_function_backward_matches(f"pow(a, {exponent:g}) for negative a", ar.Pow,
                                         [np.array(a)], exponent=exponent)


@pytest.mark.task("A1.4")
def test_unary_backward_on_larger_and_smaller_values():
    small = np.array([1e-3, 0.05, 40.0])
    for name, cls, x in (("exp of values from -10 to 10", ar.Exp, np.linspace(-10, 10, 7)),
                         ("log of small values", ar.Log, small),
                         ("sqrt of small values", ar.Sqrt, small)):
        assert_function_backward_matches(name, cls, [x])


@pytest.mark.task("A1.4")
def test_neg_backward_keeps_shape_and_dtype():
    x = rng.standard_normal((2, 1, 3)).astype(np.float32)
    (g,) = function_backward(ar.Neg, [x], np.full((2, 1, 3), 2.0, np.float32))
    assert_arrays_match("neg backward on float32", g, np.full((2, 1, 3), -2.0), dtype=np.float32)
