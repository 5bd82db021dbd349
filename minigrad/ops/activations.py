"""Pointwise nonlinearities and inverted dropout."""
from __future__ import annotations

from ..function import Function


class ReLU(Function):
    def forward(self, x):
        mask = x > 0
        self.save_for_backward(mask)
        return x * mask  # keeps dtype; faster than where() on NumPy

    def backward(self, grad):
        (mask,) = self.saved
        return grad * mask


class Sigmoid(Function):
    def forward(self, x):
        xp = self.xp
        # exp of a non-positive number never overflows: use the form that keeps it so
        e = xp.exp(-xp.abs(x))
        y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved
        return grad * y * (1 - y)


class Tanh(Function):
    def forward(self, x):
        y = self.xp.tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved
        return grad * (1 - y * y)


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
