"""Elementwise arithmetic and the elementary functions, forward and backward side by side.

Binary ops broadcast like NumPy; their backward sums the gradient back to each input's
shape (``sum_to_shape``). Each derivative is one line, as in a table of calculus.
"""
from __future__ import annotations

from ..function import Function, broadcast_shapes, sum_to_shape
from ..tensor import Tensor, is_grad_enabled


class Add(Function):
    def forward(self, a, b):
        broadcast_shapes("add", a.shape, b.shape)
        self.save_for_backward(a.shape, b.shape)
        return a + b

    def backward(self, grad):
        # BEGIN SOLUTION A1.3
        sa, sb = self.saved
        return sum_to_shape(grad, sa), sum_to_shape(grad, sb)
        # END SOLUTION


def add(a, b) -> Tensor:
    """``a + b`` with broadcasting."""
    return Add.apply(a, b)


class Sub(Function):
    def forward(self, a, b):
        broadcast_shapes("sub", a.shape, b.shape)
        self.save_for_backward(a.shape, b.shape)
        return a - b

    def backward(self, grad):
        # BEGIN SOLUTION A1.3
        sa, sb = self.saved
        gb = sum_to_shape(-grad, sb) if self.needs_input_grad[1] else None
        return sum_to_shape(grad, sa), gb
        # END SOLUTION


def sub(a, b) -> Tensor:
    """``a - b`` with broadcasting."""
    return Sub.apply(a, b)


class Mul(Function):
    def forward(self, a, b):
        broadcast_shapes("mul", a.shape, b.shape)
        self.save_for_backward(a, b)
        return a * b

    def backward(self, grad):
        # BEGIN SOLUTION A1.3
        a, b = self.saved
        ga = sum_to_shape(grad * b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to_shape(grad * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb
        # END SOLUTION


def mul(a, b) -> Tensor:
    """``a * b`` with broadcasting."""
    return Mul.apply(a, b)


class Div(Function):
    def forward(self, a, b):
        broadcast_shapes("div", a.shape, b.shape)
        self.save_for_backward(a, b)
        return a / b

    def backward(self, grad):
        # BEGIN SOLUTION A1.3
        a, b = self.saved
        ga = sum_to_shape(grad / b, a.shape) if self.needs_input_grad[0] else None
        # -a / b**2 as (a / b) / b: b * b over- or underflows (float32 |b| beyond 1e19 or
        # under 1e-19) where the gradient itself is representable
        gb = sum_to_shape(-grad * (a / b) / b, b.shape) if self.needs_input_grad[1] else None
        return ga, gb
        # END SOLUTION


def div(a, b) -> Tensor:
    """``a / b`` with broadcasting."""
    return Div.apply(a, b)


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, grad):
        # BEGIN SOLUTION A1.4
        return -grad
        # END SOLUTION


def neg(a) -> Tensor:
    """``-a``."""
    return Neg.apply(a)


class Pow(Function):
    """``a ** exponent`` for a constant (non-differentiated) real exponent."""

    def forward(self, a, exponent):
        self.save_for_backward(a, exponent)
        return a ** a.dtype.type(exponent)

    def backward(self, grad):
        # BEGIN SOLUTION A1.4
        a, c = self.saved
        if c == 0:  # d/da a**0 = 0, also at a = 0 (where c * a**(c-1) would be 0 * inf)
            return self.xp.zeros_like(a)
        return grad * a.dtype.type(c) * a ** a.dtype.type(c - 1)
        # END SOLUTION


def pow(a, exponent: float) -> Tensor:  # noqa: A001 - mirrors the operator's name
    """``a ** exponent`` for a constant real exponent."""
    if isinstance(exponent, Tensor):
        raise TypeError("pow: the exponent must be a Python number, not a Tensor")
    return Pow.apply(a, exponent=float(exponent))


class Exp(Function):
    def forward(self, a):
        y = self.xp.exp(a)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        # BEGIN SOLUTION A1.4
        (y,) = self.saved
        return grad * y
        # END SOLUTION


def exp(a) -> Tensor:
    """Elementwise ``e ** a``."""
    return Exp.apply(a)


class Log(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return self.xp.log(a)

    def backward(self, grad):
        # BEGIN SOLUTION A1.4
        (a,) = self.saved
        return grad / a
        # END SOLUTION


def log(a) -> Tensor:
    """Elementwise natural logarithm."""
    return Log.apply(a)


class Sqrt(Function):
    def forward(self, a):
        y = self.xp.sqrt(a)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        # BEGIN SOLUTION A1.4
        (y,) = self.saved
        return grad / (2 * y)
        # END SOLUTION


def sqrt(a) -> Tensor:
    """Elementwise square root."""
    return Sqrt.apply(a)


class Cast(Function):
    """Change the floating dtype explicitly (the gradient is cast back)."""

    def forward(self, a, dtype):
        self.save_for_backward(a.dtype)
        return a.astype(dtype)

    def backward(self, grad):
        (dtype,) = self.saved
        return grad.astype(dtype)

    @classmethod
    def apply(cls, x, dtype):
        # Cast is the one op allowed to change the dtype, so it bypasses the dtype guard.
        fn = cls()
        fn.xp = None
        fn.needs_input_grad = (x.requires_grad,)
        out = Tensor(fn.forward(x.data, dtype), requires_grad=is_grad_enabled() and x.requires_grad)
        if out.requires_grad:
            fn.inputs = (x,)
            out._ctx = fn
        return out


def cast(a: Tensor, dtype) -> Tensor:
    """Explicit dtype change (the only op that may change a floating dtype)."""
    return Cast.apply(a, dtype)
