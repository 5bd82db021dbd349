"""A5.1 (the gradient reversal layer) and A5.2 (the schedules lambda_p and mu_p): public tests."""
import math

import numpy as np
import pytest

import minigrad as mg
from coursework.checks import CheckFailure, assert_arrays_match, assert_gradients_match
from dann_from_scratch.grl import GradientReversalLayer, grad_reverse
from dann_from_scratch.schedules import AnnealedLR, LambdaSchedule


# -- A5.1 ------------------------------------------------------------------------------------------
@pytest.mark.task("A5.1")
@pytest.mark.parametrize("lam", [0.5, 1.0, 2.5])
def test_grl_forward_is_identity_and_backward_multiplies_by_minus_lambda(lam):
    rng = np.random.default_rng(0)
    x = mg.Tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    y = grad_reverse(x, lam)
    assert_arrays_match(f"GRL(lambda={lam}) forward (eq. 7: the identity)", y, x.data, atol=0, rtol=0,
                        dtype=np.float32)
    (y * mg.Tensor(w)).sum().backward()
    if x.grad is None:
        raise CheckFailure(f"GRL(lambda={lam}) backward: no gradient reached the input")
    assert_arrays_match(f"GRL(lambda={lam}) backward (eq. 8: -lambda * grad)", x.grad, -lam * w,
                        dtype=np.float32)


@pytest.mark.task("A5.1")
def test_grl_is_not_a_function_gradcheck_disagrees():
    """The numerical gradient of the identity is +1; the GRL's backward says -lambda."""
    x = np.random.default_rng(1).standard_normal((3, 2))
    with pytest.raises(CheckFailure):
        assert_gradients_match("GRL(lambda=1)", lambda t: grad_reverse(t, 1.0), x)


@pytest.mark.task("A5.1")
def test_grl_layer_reverses_the_gradient_reaching_earlier_layers():
    rng = np.random.default_rng(2)
    w = mg.Tensor(rng.standard_normal((3, 3)).astype(np.float32), requires_grad=True)
    x = mg.Tensor(rng.standard_normal((5, 3)).astype(np.float32))
    grl = GradientReversalLayer()
    grl.lambda_ = 0.25
    (grl(x @ w) ** 2).sum().backward()
    plain = mg.Tensor(w.data.copy(), requires_grad=True)
    ((x @ plain) ** 2).sum().backward()
    assert_arrays_match("GradientReversalLayer(lambda=0.25): gradient of an earlier weight",
                        w.grad, -0.25 * plain.grad)


# -- A5.2 ------------------------------------------------------------------------------------------
P = [0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.task("A5.2")
def test_lambda_schedule_matches_eq_14():
    lam = LambdaSchedule()
    got = np.array([lam(p) for p in P])
    expected = np.array([2 / (1 + math.exp(-10 * p)) - 1 for p in P])
    assert_arrays_match("LambdaSchedule(gamma=10) at p = " + str(P), got, expected, atol=1e-12,
                        rtol=1e-12)
    assert_arrays_match("LambdaSchedule: lambda_0", lam(0.0), 0.0, atol=1e-15, rtol=0)


@pytest.mark.task("A5.2")
def test_annealed_learning_rate_matches_mu_p():
    mu = AnnealedLR()
    got = np.array([mu(p) for p in P])
    expected = np.array([0.01 / (1 + 10 * p) ** 0.75 for p in P])
    assert_arrays_match("AnnealedLR(0.01, alpha=10, beta=0.75) at p = " + str(P), got, expected,
                        atol=1e-15, rtol=1e-12)
    assert_arrays_match("AnnealedLR: mu_1 (about 0.00166)", mu(1.0), 0.00166, atol=1e-5, rtol=0)
