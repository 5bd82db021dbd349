"""The two schedules of the paper, as small callables of training progress p in [0, 1].

Ganin & Lempitsky (2015), section 5 ("Training"), with p the fraction of training done
(p = step / total_steps, going linearly from 0 to 1):

* the adaptation factor of the gradient reversal layer

      lambda_p = 2 / (1 + exp(-gamma * p)) - 1,          gamma = 10,

  which rises from 0 at the start (when the features are still meaningless and the domain
  classifier's signal is noise) to almost 1 at the end: :class:`LambdaSchedule`;

* the learning rate

      mu_p = mu_0 / (1 + alpha * p) ** beta,              mu_0 = 0.01, alpha = 10, beta = 0.75,

  :class:`AnnealedLR`.

Both can be switched off: :class:`ConstantLambda` (the two-moons experiment of the JMLR
version uses lambda = 6 throughout) and :class:`ConstantLR` (SVHN -> MNIST is trained
without annealing). Every schedule checks its parameters at construction and its argument
``p`` at every call (with :mod:`~dann_from_scratch.checks`, like the training config), and
raises an error that names the schedule, the offending parameter and its value.
"""
from __future__ import annotations

import math

from . import checks

__all__ = [
    "check_progress", "LambdaSchedule", "ConstantLambda", "AnnealedLR", "ConstantLR",
    "paper_lambda", "paper_lr",
]


def check_progress(p, owner: str = "schedule") -> float:
    """``p`` as a float; a TypeError if it is not a number, a ValueError if it is not a finite
    number in [0, 1]."""
    return checks.in_interval(owner, "p (training progress)", p, 0.0, 1.0)


# -- lambda_p ----------------------------------------------------------------------------------
class LambdaSchedule:
    """lambda_p = scale * (2 / (1 + exp(-gamma p)) - 1): 0 at p = 0, -> ``scale`` as p grows.

    The paper uses ``gamma = 10`` and ``scale = 1`` (lambda_1 = 0.99991).
    """

    def __init__(self, gamma: float = 10.0, scale: float = 1.0):
        self.gamma = checks.nonnegative("LambdaSchedule", "gamma", gamma)
        self.scale = checks.nonnegative("LambdaSchedule", "scale", scale)

    def __call__(self, p) -> float:
        p = check_progress(p, "LambdaSchedule")
        # BEGIN SOLUTION A5.2
        return self.scale * (2.0 / (1.0 + math.exp(-self.gamma * p)) - 1.0)
        # END SOLUTION

    def __repr__(self) -> str:
        return f"LambdaSchedule(gamma={self.gamma:g}, scale={self.scale:g})"


class ConstantLambda:
    """lambda_p = ``value`` for every p (the schedule switched off)."""

    def __init__(self, value: float = 1.0):
        self.value = checks.nonnegative("ConstantLambda", "value (lambda)", value)

    def __call__(self, p) -> float:
        check_progress(p, "ConstantLambda")
        return self.value

    def __repr__(self) -> str:
        return f"ConstantLambda({self.value:g})"


# -- mu_p ----------------------------------------------------------------------------------------
class AnnealedLR:
    """mu_p = mu0 / (1 + alpha p) ** beta; the paper: mu0 = 0.01, alpha = 10, beta = 0.75,
    so mu_1 = 0.01 / 11 ** 0.75 ~= 0.00166."""

    def __init__(self, mu0: float = 0.01, alpha: float = 10.0, beta: float = 0.75):
        self.mu0 = checks.positive("AnnealedLR", "mu0 (initial learning rate)", mu0)
        self.alpha = checks.nonnegative("AnnealedLR", "alpha", alpha)
        self.beta = checks.nonnegative("AnnealedLR", "beta", beta)

    def __call__(self, p) -> float:
        p = check_progress(p, "AnnealedLR")
        # BEGIN SOLUTION A5.2
        return self.mu0 / (1.0 + self.alpha * p) ** self.beta
        # END SOLUTION

    def __repr__(self) -> str:
        return f"AnnealedLR(mu0={self.mu0:g}, alpha={self.alpha:g}, beta={self.beta:g})"


class ConstantLR:
    """mu_p = ``mu0`` for every p (annealing switched off)."""

    def __init__(self, mu0: float = 0.01):
        self.mu0 = checks.positive("ConstantLR", "mu0 (learning rate)", mu0)

    def __call__(self, p) -> float:
        check_progress(p, "ConstantLR")
        return self.mu0

    def __repr__(self) -> str:
        return f"ConstantLR({self.mu0:g})"


# -- the paper's settings, by name -----------------------------------------------------------------
def paper_lambda() -> LambdaSchedule:
    """The paper's lambda schedule (gamma = 10)."""
    return LambdaSchedule(gamma=10.0)


def paper_lr() -> AnnealedLR:
    """The paper's learning-rate schedule (0.01, alpha = 10, beta = 0.75)."""
    return AnnealedLR(0.01, 10.0, 0.75)
