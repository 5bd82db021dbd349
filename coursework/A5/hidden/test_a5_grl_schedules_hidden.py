"""A5.1 and A5.2: hidden tests (lambda = 0 and -1, lambda per node, dtype, parameters of the
schedules, large gamma)."""
import math

import numpy as np
import pytest

import minigrad as mg
from coursework.checks import CheckFailure, assert_arrays_match, assert_gradients_match
from dann_from_scratch.grl import GradientReversal, grad_reverse
from dann_from_scratch.schedules import AnnealedLR, LambdaSchedule


@pytest.mark.task("A5.1")
def test_lambda_zero_blocks_the_gradient():
    x = mg.Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    (grad_reverse(x, 0.0) * 3.0).sum().backward()
    if x.grad is None:
        raise CheckFailure("GRL(lambda=0) backward: expected a zero gradient, got None")
    assert_arrays_match("GRL(lambda=0) backward (zero)", x.grad, np.zeros((2, 3), np.float32),
                        atol=0, rtol=0)


@pytest.mark.task("A5.1")
def test_lambda_minus_one_is_an_honest_identity():
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert_gradients_match("GRL(lambda=-1) (the identity, so gradcheck passes)",
                           lambda t: grad_reverse(t, -1.0) * 2.0, x)


@pytest.mark.task("A5.1")
def test_each_node_keeps_its_own_lambda():
    x = mg.Tensor(np.ones(3, np.float32), requires_grad=True)
    y = grad_reverse(x, 0.5) + grad_reverse(x, 3.0)   # gradient -0.5 - 3.0 = -3.5
    y.sum().backward()
    assert_arrays_match("two GRLs (lambda 0.5 and 3) on one input: gradient", x.grad,
                        np.full(3, -3.5, np.float32))


@pytest.mark.task("A5.1")
def test_float32_gradient_stays_float32_and_shapes_are_kept():
    x = mg.Tensor(np.random.default_rng(1).standard_normal((2, 3, 4, 5)).astype(np.float32),
                  requires_grad=True)
    y = GradientReversal.apply(x, lambda_=np.float64(0.75))
    if y.shape != x.shape:
        raise CheckFailure(f"GRL forward: shape {y.shape}, expected {x.shape}")
    g = np.random.default_rng(2).standard_normal(x.shape).astype(np.float32)
    y.backward(mg.Tensor(g))
    assert_arrays_match("GRL(lambda=np.float64(0.75)) backward, 4-D float32", x.grad, -0.75 * g,
                        dtype=np.float32)


@pytest.mark.task("A5.2")
@pytest.mark.parametrize("gamma,scale", [(5.0, 1.0), (10.0, 6.0), (0.0, 1.0), (800.0, 1.0)])
def test_lambda_schedule_gamma_and_scale(gamma, scale):
    lam = LambdaSchedule(gamma=gamma, scale=scale)
    for p in (0.0, 0.3, 1.0):
        got = lam(p)
        expected = scale * (2 / (1 + math.exp(-gamma * p)) - 1)
        if not isinstance(got, float):
            raise CheckFailure(f"LambdaSchedule: must return a Python float, got {type(got).__name__}")
        assert_arrays_match(f"LambdaSchedule(gamma={gamma}, scale={scale}) at p={p}", got, expected,
                            atol=1e-12, rtol=1e-12)


@pytest.mark.task("A5.2")
@pytest.mark.parametrize("mu0,alpha,beta", [(0.05, 10.0, 0.75), (0.01, 0.0, 0.75),
                                            (0.02, 10.0, 0.0), (0.1, 3.0, 2.0)])
def test_annealed_lr_parameters(mu0, alpha, beta):
    mu = AnnealedLR(mu0, alpha, beta)
    for p in (0.0, 0.4, 1.0):
        got = mu(p)
        if not isinstance(got, float):
            raise CheckFailure(f"AnnealedLR: must return a Python float, got {type(got).__name__}")
        assert_arrays_match(f"AnnealedLR(mu0={mu0}, alpha={alpha}, beta={beta}) at p={p}", got,
                            mu0 / (1 + alpha * p) ** beta, atol=0, rtol=1e-12)


@pytest.mark.task("A5.2")
def test_schedules_are_monotone():
    lam, mu = LambdaSchedule(), AnnealedLR()
    ps = np.linspace(0, 1, 21)
    ls, ms = [lam(p) for p in ps], [mu(p) for p in ps]
    if not all(a < b for a, b in zip(ls, ls[1:])):
        raise CheckFailure(f"LambdaSchedule: lambda_p must increase with p, got {np.round(ls, 4)}")
    if not all(a > b for a, b in zip(ms, ms[1:])):
        raise CheckFailure(f"AnnealedLR: mu_p must decrease with p, got {np.round(ms, 5)}")
