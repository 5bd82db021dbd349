"""Reductions over axes: sum, mean, max (with ``keepdims``).

The functions ``sum`` and ``max`` take the builtins' names, as NumPy's do; nothing in this
module uses the builtins.
"""
from __future__ import annotations

import operator

from ..function import Function
from ..tensor import Tensor


def _normalize_axes(op, axis, ndim):
    """``axis`` (None, an int or a sequence of ints) as sorted non-negative axes; an axis
    outside [-ndim, ndim) or a repeated one is an error, never silently wrapped."""
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    for a in axes:
        if not -ndim <= operator.index(a) < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for an array of {ndim} dimension(s)")
    normalized = tuple(sorted(a % ndim for a in axes))
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: axis {axis!r} names the same axis twice")
    return normalized


def _expand(grad, axes, keepdims):
    """Reinsert the reduced axes (as size 1) so ``grad`` broadcasts against the input."""
    if keepdims:
        return grad
    for a in axes:
        grad = grad.reshape(grad.shape[:a] + (1,) + grad.shape[a:])
    return grad


class Sum(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.axes = _normalize_axes("sum", axis, x.ndim)
        self.keepdims = keepdims
        self.save_for_backward(x.shape)
        return x.sum(axis=self.axes, keepdims=keepdims)

    def backward(self, grad):
        # BEGIN SOLUTION A2.1
        (shape,) = self.saved
        return self.xp.broadcast_to(_expand(grad, self.axes, self.keepdims), shape).copy()
        # END SOLUTION


def sum(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (an int, a tuple, or None for all)."""
    return Sum.apply(x, axis=axis, keepdims=keepdims)


class Mean(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.axes = _normalize_axes("mean", axis, x.ndim)
        self.keepdims = keepdims
        count = 1
        for a in self.axes:
            count *= x.shape[a]
        self.save_for_backward(x.shape, count)
        return x.mean(axis=self.axes, keepdims=keepdims)

    def backward(self, grad):
        # BEGIN SOLUTION A2.1
        shape, count = self.saved
        g = _expand(grad, self.axes, self.keepdims) / grad.dtype.type(count)
        return self.xp.broadcast_to(g, shape).copy()
        # END SOLUTION


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (an int, a tuple, or None for all)."""
    return Mean.apply(x, axis=axis, keepdims=keepdims)


class Max(Function):
    """Max over axes. Ties share the gradient equally (the subgradient that keeps
    the numerical and analytical gradients equal when ties are exact)."""

    def forward(self, x, axis=None, keepdims=False):
        self.axes = _normalize_axes("max", axis, x.ndim)
        self.keepdims = keepdims
        y = x.max(axis=self.axes, keepdims=True)
        # BEGIN SOLUTION A2.2
        mask = (x == y).astype(x.dtype)
        mask /= mask.sum(axis=self.axes, keepdims=True)
        self.save_for_backward(mask)
        # END SOLUTION
        return y if keepdims else y.reshape(tuple(n for i, n in enumerate(x.shape) if i not in self.axes))

    def backward(self, grad):
        # BEGIN SOLUTION A2.2
        (mask,) = self.saved
        return _expand(grad, self.axes, self.keepdims) * mask
        # END SOLUTION


def max(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis``; tied maxima share the gradient equally."""
    return Max.apply(x, axis=axis, keepdims=keepdims)
