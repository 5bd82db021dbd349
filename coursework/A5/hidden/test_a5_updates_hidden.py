"""A5.3 and A5.4: hidden tests. Each updater is checked against eqs. (4)-(6) written out by
hand in coursework/A5/support.py (so A5.4 is graded without relying on the student's GRL), over several steps with
momentum, a changing lambda and learning rate, and the corner cases lambda = 0 and -1."""
import numpy as np
import pytest

from coursework.A5.support import (check_same_params, check_step_logs, config, make_batches,
                                   make_model, reference_step, rounding_atol)
from coursework.checks import CheckFailure, assert_arrays_match
from dann_from_scratch.updaters import GRLUpdater, SaddlePointUpdater

UPDATERS = {"A5.3": GRLUpdater, "A5.4": SaddlePointUpdater}


def run_both(task, lambdas, lrs, seed=0, **cfg):
    model, ref = make_model(seed), make_model(seed)
    updater = UPDATERS[task](model, config(**cfg))
    velocity = {}
    for batch, lam, lr in zip(make_batches(len(lambdas), seed=seed + 10), lambdas, lrs):
        updater.step(batch, lam, lr)
        reference_step(ref, batch, lam, lr, velocity, **cfg)
    return model, ref


def check_matches_reference(what, model, ref, steps):
    """The updater's parameters against eqs. (4)-(6) by hand, up to rounding."""
    check_same_params(what, model, ref, atol=rounding_atol(ref, steps), rtol=0)


def both_updaters(test):
    """Parametrize ``test`` over the two updaters: (task, updater name), marked with the task."""
    return pytest.mark.parametrize("task, name", [
        pytest.param(task, cls.__name__, marks=pytest.mark.task(task), id=cls.__name__)
        for task, cls in UPDATERS.items()])(test)


@both_updaters
def test_steps_with_momentum_and_changing_lambda_and_lr(task, name):
    lambdas, lrs = [0.1, 0.5, 0.9, 0.3], [0.05, 0.04, 0.03, 0.02]
    model, ref = run_both(task, lambdas, lrs, seed=1)
    check_matches_reference(f"{name}: 4 steps, lambda 0.1 -> 0.9, lr 0.05 -> 0.02", model, ref, 4)


@both_updaters
@pytest.mark.parametrize("lam", [0.0, -1.0, 3.0])
def test_step_corner_lambdas(task, name, lam):
    model, ref = run_both(task, [lam, lam], [0.05, 0.05], seed=2, momentum=0.0)
    check_matches_reference(f"{name}.step(lambda_={lam}), no momentum", model, ref, 2)


@pytest.mark.task("A5.3")
def test_grl_step_uses_the_lr_it_is_given():
    model = make_model(4)
    start = model.state_dict()
    GRLUpdater(model, config(weight_decay=0.0)).step(make_batches(1, seed=4)[0], 0.5, lr=1e-30)
    for name, value in model.state_dict().items():
        assert_arrays_match(f"GRLUpdater.step(lr=1e-30) must hardly move {name} "
                            "(the step's lr, not config.lr)", value, start[name], atol=1e-12, rtol=0)


@pytest.mark.task("A5.4")
def test_saddle_step_trains_the_domain_classifier_with_weight_one():
    """(6): G_d descends L_d with weight 1 whatever lambda is (lambda scales only what reaches
    G_f). With lambda = 0 G_d must still learn."""
    model, ref = run_both("A5.4", [0.0], [0.05], seed=3, momentum=0.0, weight_decay=0.0)
    start = make_model(3).state_dict()
    moved = model.state_dict()["domain_classifier.0.weight"] - start["domain_classifier.0.weight"]
    if np.abs(moved).max() == 0:
        raise CheckFailure("SaddlePointUpdater.step(lambda_=0): the domain classifier did not move; "
                           "eq. (6) trains G_d with weight 1, not lambda")
    check_matches_reference("SaddlePointUpdater.step(lambda_=0)", model, ref, 1)


@pytest.mark.task("A5.4")
def test_saddle_step_returns_the_losses():
    check_step_logs(SaddlePointUpdater, 0.6, batch_seed=5, model_seed=5)
