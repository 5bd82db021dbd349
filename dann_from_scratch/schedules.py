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
``p`` at every call, and raises a ValueError that names the offending parameter and value.
"""
from __future__ import annotations

import math
import numbers

__all__ = [
    "check_progress", "LambdaSchedule", "ConstantLambda", "AnnealedLR", "ConstantLR",
    "paper_lambda", "paper_lr",
]


# -- validation helpers ----------------------------------------------------------------------
def _real(name: str, value, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r} "
                        f"of type {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")
    return value


def _nonnegative(name: str, value, owner: str) -> float:
    value = _real(name, value, owner)
    if value < 0:
        raise ValueError(f"{owner}: {name} must be >= 0, got {value!r}")
    return value


def _positive(name: str, value, owner: str) -> float:
    value = _real(name, value, owner)
    if value <= 0:
        raise ValueError(f"{owner}: {name} must be > 0, got {value!r}")
    return value


def check_progress(p, owner: str = "schedule") -> float:
    """``p`` as a float, or a ValueError if it is not a finite number in [0, 1]."""
    p = _real("p (training progress)", p, owner)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{owner}: p (training progress) must lie in [0, 1], got {p!r}")
    return p


# -- lambda_p ----------------------------------------------------------------------------------
class LambdaSchedule:
    """lambda_p = scale * (2 / (1 + exp(-gamma p)) - 1): 0 at p = 0, -> ``scale`` as p grows.

    The paper uses ``gamma = 10`` and ``scale = 1`` (lambda_1 = 0.99991).
    """

    def __init__(self, gamma: float = 10.0, scale: float = 1.0):
        self.gamma = _nonnegative("gamma", gamma, "LambdaSchedule")
        self.scale = _nonnegative("scale", scale, "LambdaSchedule")

    def __call__(self, p) -> float:
        p = check_progress(p, "LambdaSchedule")
        return self.scale * (2.0 / (1.0 + math.exp(-self.gamma * p)) - 1.0)

    def __repr__(self) -> str:
        return f"LambdaSchedule(gamma={self.gamma:g}, scale={self.scale:g})"


class ConstantLambda:
    """lambda_p = ``value`` for every p (the schedule switched off)."""

    def __init__(self, value: float = 1.0):
        self.value = _nonnegative("value (lambda)", value, "ConstantLambda")

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
        self.mu0 = _positive("mu0 (initial learning rate)", mu0, "AnnealedLR")
        self.alpha = _nonnegative("alpha", alpha, "AnnealedLR")
        self.beta = _nonnegative("beta", beta, "AnnealedLR")

    def __call__(self, p) -> float:
        p = check_progress(p, "AnnealedLR")
        return self.mu0 / (1.0 + self.alpha * p) ** self.beta

    def __repr__(self) -> str:
        return f"AnnealedLR(mu0={self.mu0:g}, alpha={self.alpha:g}, beta={self.beta:g})"


class ConstantLR:
    """mu_p = ``mu0`` for every p (annealing switched off)."""

    def __init__(self, mu0: float = 0.01):
        self.mu0 = _positive("mu0 (learning rate)", mu0, "ConstantLR")

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
