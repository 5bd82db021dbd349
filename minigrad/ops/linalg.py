"""Matrix products: ``matmul`` and the fully connected layer ``linear``."""
from __future__ import annotations

from ..function import Function, broadcast_shapes, sum_to_shape
from ..tensor import Tensor
from ..threads import matmul as threaded_matmul


class MatMul(Function):
    """``a @ b`` with NumPy semantics for 2-D and batched (broadcast) operands."""

    float_inputs_only = True

    def forward(self, a, b):
        if a.ndim < 1 or b.ndim < 1 or a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                             f"(last axis of the first must equal the first matrix axis of the second)")
        if a.ndim == 1 or b.ndim == 1:
            raise ValueError(f"matmul: 1-D operands are not supported (shapes {a.shape}, {b.shape}); "
                             "reshape to a matrix")
        try:
            broadcast_shapes("matmul", a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: the batch axes of shapes {a.shape} and {b.shape} cannot be "
                             f"broadcast together ({a.shape[:-2]} vs {b.shape[:-2]})") from None
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, grad):
        a, b = self.saved
        xp = self.xp
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = sum_to_shape(grad @ xp.swapaxes(b, -1, -2), a.shape)
        if self.needs_input_grad[1]:
            gb = sum_to_shape(xp.swapaxes(a, -1, -2) @ grad, b.shape)
        return ga, gb


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's broadcasting over leading (batch) axes."""
    return MatMul.apply(a, b)


class Linear(Function):
    """``y = x @ W.T + b`` with ``W`` of shape (out_features, in_features), as in the
    common convention, so weights move between frameworks without transposes."""

    float_inputs_only = True

    def forward(self, x, weight, bias=None):
        if x.ndim != 2 or weight.ndim != 2 or x.shape[1] != weight.shape[1]:
            raise ValueError(f"linear: input of shape {x.shape} does not fit weight of shape "
                             f"{weight.shape} (expected input (N, {weight.shape[1] if weight.ndim == 2 else '?'}))")
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError(f"linear: bias of shape {bias.shape} does not fit weight of shape {weight.shape}")
        self.save_for_backward(x, weight)
        # a large product runs on minigrad's threads, split in blocks of the output
        # (minigrad.threads.matmul: the same sums; the last bits may differ from one call)
        y = threaded_matmul(self.xp, x, weight.T)
        if bias is not None:
            y += bias
        return y

    def backward(self, grad):
        x, w = self.saved
        xp = self.xp
        gx = threaded_matmul(xp, grad, w) if self.needs_input_grad[0] else None
        gw = threaded_matmul(xp, grad.T, x) if self.needs_input_grad[1] else None
        if len(self.needs_input_grad) == 3:
            gb = grad.sum(axis=0) if self.needs_input_grad[2] else None
            return gx, gw, gb
        return gx, gw


def linear(x, weight, bias=None) -> Tensor:
    """Fully connected layer ``x @ weight.T + bias``; ``weight`` is (out, in)."""
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)
