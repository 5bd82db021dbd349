"""Pointwise nonlinearities and inverted dropout."""
from __future__ import annotations

from ..function import Function
from ..tensor import Tensor


class ReLU(Function):
    def forward(self, x):
        self.save_for_backward(x > 0)
        # maximum, not x * (x > 0): -inf * 0 is NaN, and relu(-inf) is 0
        return self.xp.maximum(x, x.dtype.type(0))

    def backward(self, grad):
        (mask,) = self.saved
        # grad * mask, written into an array laid out like the mask (like the forward input:
        # channels-last after a conv), so the conv before reads it without a copy. Copying
        # grad in and then multiplying in place gives the same numbers, and is several times
        # faster than grad * mask when grad comes in another layout (NCHW from a flatten).
        out = self.xp.empty_like(mask, dtype=grad.dtype)
        out[...] = grad
        out *= mask
        return out


def relu(x) -> Tensor:
    """``max(x, 0)``; the gradient at exactly 0 is taken as 0."""
    return ReLU.apply(x)


class Sigmoid(Function):
    def forward(self, x):
        xp = self.xp
        # BEGIN SOLUTION A2.5
        # exp of a non-positive number never overflows: use the form that keeps it so
        e = xp.exp(-xp.abs(x))
        y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        self.save_for_backward(y)
        return y
        # END SOLUTION

    def backward(self, grad):
        # BEGIN SOLUTION A2.5
        (y,) = self.saved
        return grad * y * (1 - y)
        # END SOLUTION


def sigmoid(x) -> Tensor:
    """Logistic function, computed without overflow for large ``|x|``."""
    return Sigmoid.apply(x)


class Tanh(Function):
    def forward(self, x):
        y = self.xp.tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved
        return grad * (1 - y * y)


def tanh(x) -> Tensor:
    """Hyperbolic tangent."""
    return Tanh.apply(x)


class Dropout(Function):
    """Inverted dropout: zero each element with probability ``p`` and scale survivors by
    ``1/(1-p)`` during training, so evaluation needs no rescaling (and no dropout at all).

    ``rng`` is a NumPy ``Generator`` (the mask is drawn on the CPU and moved to the input's
    device) so that a seed reproduces a run exactly on either backend.
    """

    def forward(self, x, p, rng):
        keep = rng.random(x.shape, dtype="float32") >= p
        mask = self.xp.asarray(keep).astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
        self.save_for_backward(mask)
        return x * mask

    def backward(self, grad):
        (mask,) = self.saved
        return grad * mask


def dropout(x, p: float, training: bool, rng) -> Tensor:
    """Inverted dropout with drop probability ``p``; the identity when not ``training``."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    if not hasattr(rng, "random"):
        raise TypeError(f"dropout: rng must be a numpy.random.Generator (e.g. "
                        f"numpy.random.default_rng(seed)), got {type(rng).__name__}")
    return Dropout.apply(x, p=p, rng=rng)
