"""Fixtures shared by assignment 4's SGD tests: Caffe's update rule written out in float64,
a loop that drives ``optim.SGD`` with given gradients, and a random problem.

The rule (``v`` starts at 0; the learning rate is folded into the velocity)::

    v <- momentum * v + lr * (grad + weight_decay * w);   w <- w - v

The grader runs the instructor's copy of this file, so editing it changes nothing in a
grade.
"""
from __future__ import annotations

import numpy as np

from minigrad import nn, optim

__all__ = ["reference_sgd", "run_sgd", "sgd_problem"]


def reference_sgd(w0, grads, lrs, momentum, weight_decay):
    """The weights after ``len(grads)`` steps of Caffe's rule, in float64."""
    w, v = w0.astype(np.float64), np.zeros(w0.shape)
    for g, lr in zip(grads, lrs):
        v = momentum * v + lr * (g + weight_decay * w)
        w = w - v
    return w


def run_sgd(w0, grads, lrs, **kw):
    """One Parameter (a copy of ``w0``) after ``optim.SGD(**kw)`` has taken one step per
    gradient, with the learning rate set to ``lrs[k]`` before step k; ``(param, opt)``."""
    p = nn.Parameter(w0.copy())
    opt = optim.SGD([p], lr=lrs[0], **kw)
    for g, lr in zip(grads, lrs):
        opt.zero_grad()
        p.grad = g.copy()
        opt.lr = lr
        opt.step()
    return p, opt


def sgd_problem(seed: int, steps: int, shape):
    """A random float32 start ``w0`` of ``shape`` and ``steps`` random float32 gradients."""
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal(shape).astype(np.float32)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(steps)]
    return w0, grads
