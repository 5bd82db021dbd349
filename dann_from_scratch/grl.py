"""The gradient reversal layer (GRL), the one new node that DANN adds to a network.

Ganin & Lempitsky (2015), section 3.2, define a "pseudo-function" R_lambda by two equations
that describe its forward and its backward pass separately:

    (7)   R_lambda(x) = x                          forward: the identity
    (8)   dR_lambda/dx = -lambda * I               backward: multiply the gradient by -lambda

Inserted between the feature extractor G_f and the domain classifier G_d, it lets ordinary
backpropagation of the single loss ``L_y + L_d`` perform the saddle-point updates (4)-(6):
G_d receives dL_d/dtheta_d unchanged (it learns to *tell* the domains apart), while G_f
receives -lambda * dL_d/dtheta_f (it learns to make them *indistinguishable*).

No real function has this forward/backward pair: a function equal to the identity
everywhere has derivative +I, not -lambda*I. So a numerical gradient check of the GRL
(difference quotients of the forward pass, which always give +I) must disagree with its
backward pass for every lambda except lambda = -1, where -lambda*I = +I and the GRL is an
honest identity that passes; lambda = 0 fails too (the backward pass returns zeros). The
test suite asserts exactly that. This is why the GRL has to be written as an explicit
:class:`minigrad.Function` with a hand-written ``backward`` rather than composed from
differentiable ops.

Three ways to use it:

* :class:`GradientReversal` - the :class:`~minigrad.Function` node (``GradientReversal.apply(x,
  lambda_=0.5)``);
* :func:`grad_reverse` - the functional form ``grad_reverse(x, lambda_)``;
* :class:`GradientReversalLayer` - an :class:`minigrad.nn.Module` whose ``lambda_`` the trainer
  sets before every step (lambda follows the schedule of :mod:`dann_from_scratch.schedules`).
"""
from __future__ import annotations

from minigrad import Function, nn
from minigrad.tensor import Tensor

from . import checks

__all__ = ["GradientReversal", "grad_reverse", "GradientReversalLayer", "check_lambda"]


def check_lambda(lambda_, where: str = "gradient reversal") -> float:
    """``lambda_`` as a Python float, or a ValueError/TypeError naming the bad value.

    Any finite real number is accepted (lambda >= 0 is the adversarial case of the paper;
    lambda = 0 blocks the domain gradient; a negative lambda would make G_f *help* G_d).
    """
    return checks.real(where, "lambda_", lambda_)


class GradientReversal(Function):
    """R_lambda of eqs. (7)-(8): forward is the identity, backward multiplies by -lambda."""

    def forward(self, x, lambda_):
        # eq. (7): R(x) = x; keep lambda_ for the backward pass.
        # BEGIN SOLUTION A5.1
        # We hand back the same array (no copy): nothing downstream writes into activations
        # in place, and an identity should cost nothing.
        self.lambda_ = lambda_
        return x
        # END SOLUTION

    def backward(self, grad):
        if not self.needs_input_grad[0]:
            return None
        # eq. (8): dR/dx = -lambda I. Multiply by a scalar of the gradient's own dtype so that
        # a float32 gradient stays float32 (a numpy float64 scalar would upcast it).
        # BEGIN SOLUTION A5.1
        return grad * grad.dtype.type(-self.lambda_)
        # END SOLUTION


def grad_reverse(x, lambda_: float = 1.0) -> Tensor:
    """Apply the gradient reversal R_lambda to ``x`` (identity forward, ``-lambda_ * grad``
    backward). ``lambda_`` is a plain number, fixed for this call."""
    return GradientReversal.apply(x, lambda_=check_lambda(lambda_))


class GradientReversalLayer(nn.Module):
    """The GRL as a layer with no parameters. Set ``layer.lambda_`` before each step::

        grl = GradientReversalLayer()
        grl.lambda_ = lambda_schedule(p)       # the trainer does this every step
        domain_logits = G_d(grl(features))
    """

    def __init__(self, lambda_: float = 1.0):
        super().__init__()
        self.lambda_ = lambda_

    @property
    def lambda_(self) -> float:
        return self._lambda

    @lambda_.setter
    def lambda_(self, value) -> None:
        object.__setattr__(self, "_lambda", check_lambda(value, "GradientReversalLayer"))

    def forward(self, x):
        return GradientReversal.apply(x, lambda_=self._lambda)

    def extra_repr(self) -> str:
        return f"lambda_={self._lambda:g}"
