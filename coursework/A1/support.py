"""Fixtures shared by assignment 1's tests (and its starter): tiny ops for the tape, and a
reference for ``sum_to_shape``.

The ops here are written out in full so that the tape (A1.1) can be tested before any of
minigrad's own arithmetic backward (A1.3/A1.4) works. Nothing here is a solution: it is
the scaffolding the graded tests stand on. (The grader runs the instructor's copy of
this file, so editing it changes nothing in a grade.)
"""
from __future__ import annotations

import numpy as np

from coursework.checks import assert_arrays_match
from minigrad import Function, Tensor
from minigrad.function import sum_to_shape

__all__ = ["Scale", "Plus", "Times", "leaf", "reference_sum_to_shape", "check_sum_to_shape"]


class Scale(Function):
    """y = k * x for a constant k."""

    def forward(self, x, k):
        self.k = k
        return x * k

    def backward(self, grad):
        return grad * self.k


class Plus(Function):
    """y = a + b (same shapes)."""

    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Times(Function):
    """y = a * b (same shapes)."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, grad):
        a, b = self.saved
        return grad * b, grad * a


def leaf(values, requires_grad: bool = True) -> Tensor:
    """A float64 leaf tensor (by default one that wants a gradient)."""
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def reference_sum_to_shape(grad, shape):
    """Every element of ``grad`` added to the input element it was broadcast from: broadcast
    the input's flat indices to grad's shape and scatter-add along them (float64)."""
    source = np.broadcast_to(np.arange(int(np.prod(shape))).reshape(shape), grad.shape)
    out = np.zeros(int(np.prod(shape)), dtype=np.float64)
    np.add.at(out, source.ravel(), grad.astype(np.float64).ravel())
    return out.reshape(shape)


def check_sum_to_shape(grad_shape, shape, seed: int = 0) -> None:
    """``sum_to_shape`` of a random float64 gradient against :func:`reference_sum_to_shape`."""
    grad = np.random.default_rng(seed).standard_normal(grad_shape)
    assert_arrays_match(f"sum_to_shape({grad_shape} -> {shape})", sum_to_shape(grad, shape),
                        reference_sum_to_shape(grad, shape), atol=1e-12, rtol=1e-12)
