"""A4.3: hidden tests (the learning rate folded into the velocity, weight decay without
momentum, several parameters, skipped parameters, float32, checkpointed velocity)."""
import numpy as np
import pytest

from coursework.A4.support import reference_sgd, run_sgd, sgd_problem
from coursework.checks import CheckFailure, assert_arrays_match
from minigrad import nn, optim


def problem(seed):
    return sgd_problem(seed, steps=6, shape=(5,))


@pytest.mark.task("A4.3")
def test_changing_lr_is_folded_into_the_velocity():
    """Caffe's v <- m v + lr g, not PyTorch's v <- m v + g; w <- w - lr v: they differ as soon
    as the learning rate changes (the DANN schedule anneals it every step)."""
    w0, grads = problem(3)
    lrs = [0.1, 0.05, 0.02, 0.01, 0.2, 0.1]
    p, _ = run_sgd(w0, grads, lrs, momentum=0.9)
    assert_arrays_match("SGD(momentum=0.9) with a changing lr (v <- m v + lr g)", p.data,
                        reference_sgd(w0, grads, lrs, 0.9, 0.0), dtype=np.float32)


@pytest.mark.task("A4.3")
def test_weight_decay_without_momentum():
    w0, grads = problem(4)
    lrs = [0.1] * 6
    p, _ = run_sgd(w0, grads, lrs, weight_decay=0.5)
    assert_arrays_match("SGD(lr=0.1, weight_decay=0.5), no momentum", p.data,
                        reference_sgd(w0, grads, lrs, 0.0, 0.5), dtype=np.float32)


@pytest.mark.task("A4.3")
def test_each_parameter_has_its_own_velocity_and_missing_grads_are_skipped():
    rng = np.random.default_rng(5)
    a = nn.Parameter(rng.standard_normal((2, 3)).astype(np.float32))
    b = nn.Parameter(rng.standard_normal(4).astype(np.float32))
    c = nn.Parameter(rng.standard_normal(2).astype(np.float32))
    c0 = c.data.copy()
    a0, b0 = a.data.copy(), b.data.copy()
    opt = optim.SGD([a, b, c], lr=0.1, momentum=0.5, weight_decay=0.01)
    ga = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(3)]
    gb = [rng.standard_normal(4).astype(np.float32) for _ in range(3)]
    for k in range(3):
        a.grad, b.grad, c.grad = ga[k], gb[k], None
        opt.step()
    assert_arrays_match("SGD: parameter 0 of 3", a.data, reference_sgd(a0, ga, [0.1] * 3, 0.5, 0.01))
    assert_arrays_match("SGD: parameter 1 of 3", b.data, reference_sgd(b0, gb, [0.1] * 3, 0.5, 0.01))
    assert_arrays_match("SGD: parameter with grad None must not move", c.data, c0, atol=0, rtol=0)


@pytest.mark.task("A4.3")
def test_float32_stays_float32_and_the_parameter_object_is_kept():
    w0, grads = problem(6)
    p = nn.Parameter(w0.copy())
    opt = optim.SGD([p], lr=np.float64(0.1), momentum=0.9, weight_decay=np.float64(1e-3))
    for g in grads:
        p.grad = g
        opt.step()
    assert_arrays_match("SGD with float64 hyper-parameters: weights stay float32", p.data,
                        reference_sgd(w0, grads, [0.1] * 6, 0.9, 1e-3), dtype=np.float32)
    if opt.params[0] is not p:
        raise CheckFailure("SGD: the optimizer must update the Parameter objects it was given")


@pytest.mark.task("A4.3")
def test_velocity_is_kept_in_self_velocity_for_checkpoints():
    """The velocity lives in ``optimizer.velocity[i]`` (state_dict saves it): a resumed
    optimizer continues exactly where the first one was."""
    w0, grads = problem(7)
    p, opt = run_sgd(w0, grads[:3], [0.1] * 3, momentum=0.9)
    state = {k: v.copy() for k, v in opt.state_dict().items()}
    if "velocity.0" not in state:
        raise CheckFailure("SGD(momentum=0.9): after 3 steps optimizer.velocity[0] is still None; "
                           "keep the velocity of parameter i in self.velocity[i]")
    q = nn.Parameter(p.data.copy())
    resumed = optim.SGD([q], lr=0.1, momentum=0.9)
    resumed.load_state_dict(state)
    for g in grads[3:]:
        p.grad, q.grad = g.copy(), g.copy()
        opt.step()
        resumed.step()
    assert_arrays_match("SGD resumed from state_dict vs uninterrupted", q.data, p.data, atol=0, rtol=0)
    assert_arrays_match("SGD(momentum=0.9) after 6 steps", p.data,
                        reference_sgd(w0, grads, [0.1] * 6, 0.9, 0.0))
