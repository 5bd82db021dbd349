"""A4.3: SGD with momentum and weight decay (Caffe's form) - public tests.

    v <- momentum * v + lr * (grad + weight_decay * w);   w <- w - v     (v starts at 0)
"""
import numpy as np
import pytest

import minigrad as mg
from coursework.A4.support import reference_sgd, run_sgd, sgd_problem
from coursework.checks import assert_arrays_match
from minigrad import nn, optim


@pytest.mark.task("A4.3")
@pytest.mark.parametrize("seed, lr, momentum, weight_decay, rule", [
    (0, 0.1, 0.0, 0.0, "w <- w - lr g"),
    (1, 0.05, 0.9, 0.0, "v <- m v + lr g"),
    (2, 0.05, 0.9, 0.01, "v <- m v + lr (g + wd w)"),
], ids=["plain", "momentum", "momentum_and_weight_decay"])
def test_sgd_matches_caffes_rule(seed, lr, momentum, weight_decay, rule):
    w0, grads = sgd_problem(seed, steps=5, shape=(3, 4))
    lrs = [lr] * 5
    p, _ = run_sgd(w0, grads, lrs, momentum=momentum, weight_decay=weight_decay)
    assert_arrays_match(f"SGD(lr={lr}, momentum={momentum}, weight_decay={weight_decay}) after "
                        f"5 steps ({rule})", p.data,
                        reference_sgd(w0, grads, lrs, momentum, weight_decay), dtype=np.float32)


@pytest.mark.task("A4.3")
def test_sgd_trains_a_linear_layer():
    """A least-squares fit: the loss must go down a lot in 50 steps."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3
    w = nn.Parameter(np.zeros((3, 1), np.float32))   # plain Parameters: no A4.1/A4.2 needed
    b = nn.Parameter(np.zeros(1, np.float32))
    opt = optim.SGD([w, b], lr=0.05, momentum=0.9)
    losses = []
    for _ in range(50):
        opt.zero_grad()
        loss = ((mg.Tensor(x) @ w + b - mg.Tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert_arrays_match("SGD on least squares: final loss (should be ~0)", losses[-1], 0.0,
                        atol=1e-2 * losses[0], rtol=0)
