"""A4.4: hidden tests (reproducible from the seed, not from global state; the loss history;
the hyper-parameters reach the optimizer)."""
import numpy as np
import pytest

from coursework.A4 import digits
from coursework.checks import CheckFailure, assert_arrays_match


def short_run(seed, **kw):
    x, y, _, _ = digits.load_split(n=400)
    net = digits.make_convnet(0)
    history = digits.train(net, x, y, epochs=2, seed=seed, **kw)
    return net, history


@pytest.mark.task("A4.4")
def test_same_seed_same_network_whatever_the_global_random_state():
    np.random.seed(1)
    a, ha = short_run(seed=3)
    np.random.seed(2)
    b, hb = short_run(seed=3)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert_arrays_match(f"digits.train(seed=3) twice: {name}", q.data, p.data, atol=0, rtol=0)
    assert_arrays_match("digits.train(seed=3) twice: loss history", hb, ha, atol=0, rtol=0)
    c, _ = short_run(seed=4)
    if np.array_equal(c.state_dict()["0.weight"], a.state_dict()["0.weight"]):
        raise CheckFailure("digits.train: seed 3 and seed 4 gave the same network; the seed must "
                           "choose the order of the rows")


@pytest.mark.task("A4.4")
def test_history_is_the_mean_loss_of_each_epoch_and_goes_down():
    _, history = short_run(seed=0, lr=0.05)
    if len(history) != 2 or not all(isinstance(h, float) for h in history):
        raise CheckFailure(f"digits.train: expected 2 floats (epochs=2), got {history!r}")
    if not (0.0 < history[1] < history[0] < 3.0):
        raise CheckFailure(f"digits.train: the mean epoch loss should start near log(10) = 2.30 "
                           f"and go down, got {history}")


@pytest.mark.task("A4.4")
def test_hyper_parameters_reach_the_optimizer():
    plain, _ = short_run(seed=0, momentum=0.0)
    decayed, _ = short_run(seed=0, momentum=0.0, weight_decay=0.5)
    w_plain, w_decay = plain.state_dict()["7.weight"], decayed.state_dict()["7.weight"]
    if not np.abs(w_decay).sum() < np.abs(w_plain).sum():
        raise CheckFailure("digits.train: weight_decay=0.5 did not shrink the weights; pass "
                           "weight_decay (and lr, momentum) to optim.SGD")
