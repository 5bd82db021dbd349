"""The gradient reversal layer (eqs. 7-8) and the two schedules of section 5."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import ops
from dann_from_scratch.grl import GradientReversal, GradientReversalLayer, grad_reverse
from dann_from_scratch.models import mlp_model
from dann_from_scratch.schedules import (AnnealedLR, ConstantLambda, ConstantLR, LambdaSchedule,
                                         check_progress, paper_lambda, paper_lr)


# -- the GRL node ----------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(dtype=st.sampled_from([np.float32, np.float64]),
       shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=5),
       lam=st.floats(-10, 10, allow_nan=False, allow_infinity=False),
       data=st.data())
def test_forward_is_identity_and_backward_is_minus_lambda_times_grad(dtype, shape, lam, data):
    elements = st.floats(-1e3, 1e3, width=32)
    x_val = data.draw(hnp.arrays(dtype, shape, elements=elements))
    g_val = data.draw(hnp.arrays(dtype, shape, elements=elements))
    x = mg.Tensor(x_val, requires_grad=True)
    y = grad_reverse(x, lam)
    assert y.dtype == dtype and np.array_equal(y.data, x_val)       # eq. (7): R(x) = x
    y.backward(g_val)
    assert x.grad.dtype == dtype                                     # no silent upcast
    np.testing.assert_array_equal(x.grad, g_val * dtype(-lam))       # eq. (8): -lambda * grad


def test_grl_inside_a_graph_reverses_only_what_flows_through_it():
    x = mg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    loss = (x * 2.0).sum() + grad_reverse(x * 3.0, 0.5).sum()
    loss.backward()
    np.testing.assert_array_equal(x.grad, np.full(3, 2.0 - 0.5 * 3.0))


def test_layer_lambda_is_settable_and_validated():
    layer = GradientReversalLayer()
    assert layer.lambda_ == 1.0 and layer.parameters() == []
    layer.lambda_ = 0.25
    x = mg.Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    layer(x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), -0.25, np.float32))
    assert "0.25" in repr(layer)
    with pytest.raises(ValueError, match="lambda_ must be finite, got nan"):
        layer.lambda_ = float("nan")
    with pytest.raises(TypeError, match="real number"):
        layer.lambda_ = "1"
    with pytest.raises(ValueError, match="inf"):
        grad_reverse(x, math.inf)
    assert layer.lambda_ == 0.25   # a rejected value leaves the old one


def test_no_grad_input_gets_no_gradient():
    x = mg.Tensor(np.ones(3))
    assert not GradientReversal.apply(x, lambda_=1.0).requires_grad


# -- gradcheck: the GRL is a pseudo-function ------------------------------------------------------------
@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0, 6.0])
def test_gradcheck_of_the_grl_fails(lam):
    """R_lambda is a *pseudo-function*: its forward pass is the identity, whose true derivative
    is +I, but its backward pass claims -lambda * I. A numerical gradient check differentiates
    the forward pass, so it must disagree for every lambda except -1 (where R is an honest
    identity). That disagreement is the whole point of the layer."""
    x = mg.Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    with pytest.raises(mg.GradcheckError):
        mg.gradcheck(lambda t: grad_reverse(t, lam), x)
    assert mg.gradcheck(lambda t: grad_reverse(t, -1.0), x)   # the one honest lambda


def _float64_dann(seed=0):
    """A small MLP DANN (3 inputs -> 5 features -> 3 classes / 4-unit domain head) in float64."""
    model = mlp_model(3, 3, hidden=(5,), domain_hidden=(4,), rng=seed, activation="tanh")
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    rng = np.random.default_rng(seed)
    x = mg.Tensor(rng.standard_normal((6, 3)))
    labels = np.array([0, 1, 2])
    domains = np.r_[np.zeros(3), np.ones(3)][:, None]
    return model, x, labels, domains


def _dann_loss(model, x, labels, domains, lam):
    """L_y (first 3 rows labelled) + L_d (all 6 rows) through R_lambda, as the trainer does."""
    f = model.features(x)
    label_loss = ops.cross_entropy(model.label_predictor(f[:3]), labels)
    domain_logits = model.domain_classifier(grad_reverse(f, lam))
    return label_loss + ops.binary_cross_entropy_with_logits(domain_logits, domains)


def _check_params(model, x, labels, domains, lam, params):
    for p in model.parameters():
        p.requires_grad = any(p is q for q in params)
    return mg.gradcheck(lambda *ps: _dann_loss(model, x, labels, domains, lam), *params)


def test_dann_graph_passes_gradcheck_except_through_the_grl():
    """With lambda = 0 the GRL blocks the domain gradient: everything downstream of it (G_y, G_d,
    both losses) is honestly differentiated, and G_f receives exactly dL_y/dtheta_f."""
    model, x, labels, domains = _float64_dann()
    heads = model.label_predictor.parameters() + model.domain_classifier.parameters()
    theta_f = model.feature_extractor.parameters()
    assert _check_params(model, x, labels, domains, 0.0, heads)

    # G_f's gradient from the whole graph at lambda = 0 == the gradient of L_y alone ...
    for p in model.parameters():
        p.requires_grad, p.grad = True, None
    _dann_loss(model, x, labels, domains, 0.0).backward()
    grads_full = [p.grad.copy() for p in theta_f]
    model.zero_grad()
    ops.cross_entropy(model.classify(x)[:3], labels).backward()
    for g_full, p in zip(grads_full, theta_f):
        np.testing.assert_allclose(g_full, p.grad, rtol=1e-12, atol=1e-15)
    # ... and that gradient of L_y is right
    for p in model.parameters():
        p.requires_grad = any(p is q for q in theta_f)
    assert mg.gradcheck(lambda *ps: ops.cross_entropy(model.classify(x)[:3], labels), *theta_f)

    # with lambda = -1 the GRL is an honest identity, and the whole graph passes
    assert _check_params(model, x, labels, domains, -1.0, model.parameters())
    # with lambda = 1 (the adversarial case) G_f's gradient is the reversed one: gradcheck fails
    with pytest.raises(mg.GradcheckError):
        _check_params(model, x, labels, domains, 1.0, theta_f)


# -- schedules -------------------------------------------------------------------------------------------
def test_paper_schedule_values():
    lam, lr = paper_lambda(), paper_lr()
    assert lam(0.0) == 0.0
    assert lam(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1) and 0.9999 < lam(1.0) < 1
    assert lam(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    values = [lam(p) for p in np.linspace(0, 1, 11)]
    assert all(a < b for a, b in zip(values, values[1:]))
    assert lr(0.0) == 0.01
    assert lr(1.0) == pytest.approx(0.01 / 11 ** 0.75)
    assert lr(0.3) == pytest.approx(0.01 / 4 ** 0.75)
    assert LambdaSchedule(gamma=10, scale=6)(1.0) == pytest.approx(6 * lam(1.0))


def test_constant_schedules():
    assert ConstantLambda(6)(0.0) == ConstantLambda(6)(0.7) == 6.0
    assert ConstantLR(0.05)(0.0) == ConstantLR(0.05)(1.0) == 0.05
    assert AnnealedLR(0.01, alpha=0)(1.0) == 0.01      # alpha = 0 also switches annealing off
    assert LambdaSchedule(gamma=0)(1.0) == 0.0         # gamma = 0: no adaptation at all


@pytest.mark.parametrize("make, match", [
    (lambda: LambdaSchedule(gamma=-1), r"gamma must be >= 0, got -1"),
    (lambda: LambdaSchedule(gamma=float("nan")), r"gamma must be finite, got nan"),
    (lambda: LambdaSchedule(scale=float("inf")), r"scale must be finite, got inf"),
    (lambda: ConstantLambda(-0.5), r"lambda\) must be >= 0, got -0.5"),
    (lambda: AnnealedLR(mu0=0), r"mu0 \(initial learning rate\) must be > 0, got 0"),
    (lambda: AnnealedLR(mu0=-0.01), r"mu0 .* must be > 0, got -0.01"),
    (lambda: AnnealedLR(beta=-0.75), r"beta must be >= 0, got -0.75"),
    (lambda: ConstantLR(float("nan")), r"mu0 .* must be finite, got nan"),
])
def test_schedule_parameter_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), float("inf")])
@pytest.mark.parametrize("schedule", [paper_lambda(), paper_lr(), ConstantLambda(1), ConstantLR(0.1)])
def test_progress_outside_unit_interval_is_an_error(schedule, p):
    with pytest.raises(ValueError, match=r"p \(training progress\)"):
        schedule(p)


def test_progress_type_error():
    with pytest.raises(TypeError, match="real number"):
        check_progress("0.5")
    with pytest.raises(TypeError, match="real number"):
        LambdaSchedule(gamma=True)
