"""Ops that move elements around without changing them: reshape, transpose, getitem,
concatenate. Their backward moves the gradient back the same way."""
from __future__ import annotations

from .. import backend
from ..function import Function
from ..tensor import Tensor


class Reshape(Function):
    def forward(self, x, shape):
        self.save_for_backward(x.shape)
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape an array of shape {x.shape} "
                             f"({x.size} elements) into shape {tuple(shape)}") from None

    def backward(self, grad):
        # BEGIN SOLUTION A2.3
        (shape,) = self.saved
        return grad.reshape(shape)
        # END SOLUTION


def reshape(x, *shape) -> Tensor:
    """View ``x`` with a new shape (one dimension may be -1)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Reshape.apply(x, shape=shape)


def flatten(x, start_dim: int = 1) -> Tensor:
    """Merge all axes from ``start_dim`` on into one (by default: keep the batch axis)."""
    ndim = len(x.shape) or 1  # a 0-d tensor flattens to shape (1,), as in NumPy
    if not -ndim <= start_dim < ndim:
        raise ValueError(f"flatten: start_dim {start_dim} is out of range for a tensor of "
                         f"shape {tuple(x.shape)}")
    shape = x.shape[:start_dim] + (-1,)
    return reshape(x, shape)


class Transpose(Function):
    def forward(self, x, axes=None):
        if axes is None:
            axes = tuple(reversed(range(x.ndim)))
        if len(axes) != x.ndim or any(not -x.ndim <= a < x.ndim for a in axes) or \
                sorted(a % x.ndim for a in axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {tuple(axes)} are not a permutation of the "
                             f"{x.ndim} axes of an array of shape {x.shape}")
        self.axes = tuple(a % x.ndim for a in axes)
        return x.transpose(self.axes)

    def backward(self, grad):
        # BEGIN SOLUTION A2.3
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return grad.transpose(inverse)
        # END SOLUTION


def transpose(x, *axes) -> Tensor:
    """Permute axes (reverse them when none are given)."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return Transpose.apply(x, axes=axes or None)


class GetItem(Function):
    """``x[index]`` for any NumPy index. Backward scatters with ``add.at`` semantics so
    repeated integer indices accumulate (on CuPy, ``scatter_add`` does the same)."""

    def forward(self, x, index):
        self.save_for_backward(x.shape, index)
        return x[index]

    def backward(self, grad):
        # BEGIN SOLUTION A2.3
        shape, index = self.saved
        out = self.xp.zeros(shape, dtype=grad.dtype)
        backend.add_at(out, index, grad)
        return out
        # END SOLUTION


def getitem(x, index) -> Tensor:
    """``x[index]`` for basic and integer-array indices."""
    if isinstance(index, Tensor):
        index = index.data
    return GetItem.apply(x, index=index)


class Concatenate(Function):
    def forward(self, *xs, axis=0):
        ref = xs[0]
        if not -ref.ndim <= axis < ref.ndim:
            raise ValueError(f"concatenate: axis {axis} is out of range for arrays of "
                             f"{ref.ndim} dimension(s) (shape {ref.shape})")
        for x in xs[1:]:
            if x.ndim != ref.ndim or any(
                n != m for i, (n, m) in enumerate(zip(x.shape, ref.shape)) if i != axis % ref.ndim
            ):
                shapes = ", ".join(str(t.shape) for t in xs)
                raise ValueError(f"concatenate: shapes {shapes} differ outside axis {axis}")
        self.axis = axis
        self.save_for_backward([x.shape[axis] for x in xs])
        return self.xp.concatenate(xs, axis=axis)

    def backward(self, grad):
        (sizes,) = self.saved
        bounds, total = [], 0
        for n in sizes[:-1]:
            total += n
            bounds.append(total)
        return tuple(self.xp.split(grad, bounds, axis=self.axis))


def concatenate(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    if len(tensors) == 0:
        raise ValueError("concatenate: needs at least one tensor")
    return Concatenate.apply(*tensors, axis=axis)
