"""A1.3 (add, sub, mul, div) and A1.4 (neg, pow, exp, log, sqrt): the backward of the
arithmetic ops in minigrad/ops/arithmetic.py.

Each op is run by hand, without the tape: ``forward`` on plain arrays, then ``backward``
with an output gradient ``g``, and the result is compared with central differences of
``<forward(inputs), g>`` in float64. So these tests need neither A1.1 nor A1.2 (the
inputs of a binary op here have the same shape).
"""
import numpy as np
import pytest

from coursework.checks import (assert_arrays_match, assert_function_backward_matches,
                               function_backward)
from minigrad.ops import arithmetic as ar

rng = np.random.default_rng(42)
A = rng.standard_normal((3, 4))
B = rng.standard_normal((3, 4))
POSITIVE = rng.uniform(0.5, 2.0, size=(3, 4))


# -- A1.3 ------------------------------------------------------------------------------------
@pytest.mark.task("A1.3")
@pytest.mark.parametrize("name, cls", [("add", ar.Add), ("sub", ar.Sub), ("mul", ar.Mul)])
def test_add_sub_mul_backward(name, cls):
    assert_function_backward_matches(name, cls, [A, B])


@pytest.mark.task("A1.3")
def test_div_backward():
    assert_function_backward_matches("div", ar.Div, [A, POSITIVE])
    assert_function_backward_matches("div", ar.Div, [A, -POSITIVE], seed=1)


# -- A1.4 ------------------------------------------------------------------------------------
@pytest.mark.task("A1.4")
@pytest.mark.parametrize("name, cls, inputs", [
    ("neg", ar.Neg, [A]),
    ("exp", ar.Exp, [A]),
    ("log", ar.Log, [POSITIVE]),
    ("sqrt", ar.Sqrt, [POSITIVE]),
])
def test_unary_backward(name, cls, inputs):
    assert_function_backward_matches(name, cls, inputs)


@pytest.mark.task("A1.4")
@pytest.mark.parametrize("exponent", [2.0, 3.0, -1.0, 0.5])
def test_pow_backward(exponent):
    assert_function_backward_matches(f"pow(a, {exponent})", ar.Pow, [POSITIVE],
                                     exponent=exponent)


@pytest.mark.task("A1.4")
@pytest.mark.parametrize("name, cls, kwargs", [
    ("exp", ar.Exp, {}), ("log", ar.Log, {}), ("sqrt", ar.Sqrt, {}), ("pow", ar.Pow, {"exponent": 3.0}),
])
def test_unary_backward_keeps_float32(name, cls, kwargs):
    x = POSITIVE.astype(np.float32)
    (g,) = function_backward(cls, [x], np.ones_like(x), **kwargs)
    assert_arrays_match(f"{name} backward on float32 input: the gradient's dtype", g,
                        np.asarray(g, dtype=np.float32), dtype=np.float32)
