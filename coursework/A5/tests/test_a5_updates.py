"""A5.3 (one DANN training step with the GRL) and A5.4 (the saddle-point updates (4)-(6),
equal to the GRL step up to rounding): public tests.

The data (two shifted Gaussian blobs), the tiny MLP DANN and eqs. (4)-(6) written out by
hand are in coursework/A5/support.py.
"""
import numpy as np
import pytest

from coursework.A5.support import (LR, check_same_params, check_step_logs, config,
                                   make_batches, make_model, reference_step, rounding_atol)
from coursework.checks import assert_arrays_match
from dann_from_scratch.updaters import GRLUpdater, SaddlePointUpdater


# -- A5.3 ------------------------------------------------------------------------------------------
@pytest.mark.task("A5.3")
def test_one_grl_step_performs_updates_4_to_6():
    batch = make_batches(1)[0]
    model, ref = make_model(1), make_model(1)
    GRLUpdater(model, config()).step(batch, lambda_=0.7, lr=LR)
    reference_step(ref, batch, 0.7, LR, {})
    check_same_params("GRLUpdater.step(lambda_=0.7) vs eqs. (4)-(6)", model, ref)


@pytest.mark.task("A5.3")
def test_grl_step_sets_lambda_and_returns_the_losses():
    model = check_step_logs(GRLUpdater, 0.4, batch_seed=1, model_seed=2)
    assert_arrays_match("GRLUpdater.step: model.grl.lambda_ after the step", model.grl.lambda_, 0.4)


# -- A5.4 ------------------------------------------------------------------------------------------
@pytest.mark.task("A5.4")
def test_saddle_point_updates_equal_the_grl_step():
    """The paper's claim: from the same start and the same batches, the explicit updates
    (4)-(6) and one backward pass through the GRL end at the same parameters. Not bit for bit:
    the two sum the gradients in other orders, so the tolerance is the rounding rule of the
    library's suite, (n_terms - 1) eps(float32) max|theta| with n_terms = steps x batch."""
    steps = 10
    lambdas = np.linspace(0.0, 0.9, steps)
    lrs = LR / (1 + 10 * np.linspace(0, 1, steps)) ** 0.75
    grl_model, saddle_model = make_model(3), make_model(3)
    grl, saddle = GRLUpdater(grl_model, config()), SaddlePointUpdater(saddle_model, config())
    for batch, lam, lr in zip(make_batches(steps, seed=2), lambdas, lrs):
        logs_s = saddle.step(batch, float(lam), float(lr))
        logs_g = grl.step(batch, float(lam), float(lr))
        for key in ("label_loss", "domain_loss"):
            assert_arrays_match(f"SaddlePointUpdater.step vs GRLUpdater.step: {key}", logs_s[key],
                                logs_g[key], atol=1e-5, rtol=1e-4)
    check_same_params(f"SaddlePointUpdater vs GRLUpdater after {steps} steps", saddle_model,
                      grl_model, atol=rounding_atol(grl_model, steps), rtol=0)
