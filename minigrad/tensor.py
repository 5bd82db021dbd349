"""``Tensor`` and the tape.

A :class:`Tensor` holds an array (``.data``, NumPy or CuPy), a ``requires_grad`` flag,
the gradient ``.grad`` (a raw array of the same shape and dtype, filled by ``backward``)
and ``_ctx``, the :class:`~minigrad.function.Function` node that produced it. Following the
``_ctx`` links from the loss back to the leaves gives the recorded graph; ``backward``
walks it in reverse topological order, iteratively (a chain of 10,000 ops needs no
recursion), and frees every node it has passed so memory does not grow across steps.
"""
from __future__ import annotations

import contextlib
import threading

from . import backend

__all__ = ["Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled"]


# -- grad mode ------------------------------------------------------------------------------
class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether ops currently record themselves on the tape."""
    return _grad_mode.enabled


@contextlib.contextmanager
def no_grad():
    """Context manager: ops inside build no graph (evaluation, optimizer updates)."""
    previous = _grad_mode.enabled
    _grad_mode.enabled = False
    try:
        yield
    finally:
        _grad_mode.enabled = previous


@contextlib.contextmanager
def enable_grad():
    """Context manager: turn recording back on inside a ``no_grad`` block."""
    previous = _grad_mode.enabled
    _grad_mode.enabled = True
    try:
        yield
    finally:
        _grad_mode.enabled = previous


# -- Tensor ---------------------------------------------------------------------------------
class Tensor:
    """An array with a place on the tape.

    ``Tensor(data)`` keeps the dtype of an array it is given; Python numbers and lists
    become float32 (the training dtype) unless ``dtype`` says otherwise.
    """

    _is_minigrad_tensor = True
    __array_priority__ = 1000  # so ndarray * Tensor calls Tensor.__rmul__

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        if not hasattr(data, "shape") or not hasattr(data, "dtype"):
            xp = backend.numpy_module
            data = xp.asarray(data, dtype=dtype or xp.float32)
        else:
            if isinstance(data, backend.numpy_module.generic):
                # a NumPy scalar (what x.sum() or x[0, 0] return) is immutable and has no
                # view: keep a 0-d array instead, so in-place updates and gradcheck work on it
                data = backend.numpy_module.asarray(data)
            if dtype is not None and data.dtype != dtype:
                data = data.astype(dtype)
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"only floating tensors can require gradients, got dtype {data.dtype}")
        self.data = data
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self.name = name
        self._ctx = None

    # -- basic properties
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def device(self) -> str:
        return backend.device_of(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        # without this, Python would fall back to __len__ and ``if loss_vector:`` would be
        # silently true for any non-empty tensor
        if self.data.size != 1:
            raise ValueError(f"bool(Tensor of shape {tuple(self.shape)}): the truth value of a "
                             "tensor with more than one element is ambiguous; compare "
                             "t.numpy() with .any() or .all(), or use t.item() for one element")
        return bool(self.data.reshape(()))

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.data!r}{grad})"

    # -- conversion
    def numpy(self):
        """The data as a NumPy array (copied from the GPU if needed)."""
        return backend.to_numpy(self.data)

    def item(self) -> float:
        return self.data.item()

    def to(self, device: str) -> "Tensor":
        """This tensor on ``device`` ('cpu' or 'cuda'); a new leaf that keeps ``requires_grad``."""
        data = backend.to_device(self.data, device)
        if data is self.data:
            return self
        return Tensor(data, requires_grad=self.requires_grad, name=self.name)

    def astype(self, dtype) -> "Tensor":
        """A differentiable copy with another floating dtype (the only way dtypes change)."""
        from .ops import cast
        return cast(self, dtype)

    def detach(self) -> "Tensor":
        """The same data, cut from the tape."""
        return Tensor(self.data, requires_grad=False, name=self.name)

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if flag and self.data.dtype.kind != "f":
            raise TypeError(f"only floating tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = bool(flag)
        return self

    # -- autodiff
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires it.

        ``grad`` is the gradient flowing in from above; it may be omitted only for a
        scalar (one-element) tensor, where it defaults to 1. Unless ``retain_graph`` is set,
        each node is freed once used.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad (no input had "
                               "requires_grad=True, or it was computed under no_grad())")
        xp = backend.get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implied only for a scalar output, but this tensor "
                    f"has shape {self.shape}; pass grad= of that shape or reduce it first (e.g. .sum())")
            grad = xp.ones_like(self.data)
        else:
            grad = xp.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward: grad has shape {grad.shape}, tensor has shape {self.shape}")

        # BEGIN SOLUTION A1.1
        # grads maps a tensor to (its gradient so far, whether that array is its own).
        # An array is its own when an op made it for this one input: it owns its memory
        # (not a view), the op gave it to no other input (x + y hands one array to both) and
        # it is not the caller's grad= array flowing down unchanged. A leaf keeps its own
        # gradient as it is and copies a shared one, so no two .grad arrays (nor a .grad and
        # the caller's array) are ever the same memory.
        grads = {id(self): (grad, False)}
        for t in reversed(_topological_order(self)):
            g, own = grads.pop(id(t), (None, False))
            if g is None:
                continue
            ctx = t._ctx
            if ctx is None:  # a leaf: keep the gradient
                if t.grad is not None:
                    t.grad = t.grad + g
                else:
                    t.grad = g if own else g.copy()
                continue
            if ctx.inputs is None:
                raise RuntimeError(
                    f"backward through {ctx.name} a second time: its graph was freed by the "
                    "first backward; call backward(retain_graph=True) the first time")
            in_grads = ctx.backward(g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if len(in_grads) != len(ctx.inputs):
                raise RuntimeError(f"{ctx.name}.backward returned {len(in_grads)} gradients "
                                   f"for {len(ctx.inputs)} inputs")
            for inp, ig in zip(ctx.inputs, in_grads):
                if ig is None or not inp.requires_grad:
                    continue
                if ig.shape != inp.shape or ig.dtype != inp.dtype:
                    raise RuntimeError(
                        f"{ctx.name}.backward returned a gradient of shape {ig.shape} dtype "
                        f"{ig.dtype} for an input of shape {inp.shape} dtype {inp.dtype}")
                key = id(inp)
                if key in grads:
                    grads[key] = (grads[key][0] + ig, True)
                else:
                    given_once = sum(other is ig for other in in_grads) == 1
                    grads[key] = (ig, ig.base is None and given_once and (ig is not g or own))
            if not retain_graph:
                ctx.free()
        # END SOLUTION

    def zero_grad(self) -> None:
        self.grad = None

    # -- operators (the ops live in minigrad.ops; imported lazily to avoid a cycle)
    def __add__(self, other): return _ops().add(self, other)
    def __radd__(self, other): return _ops().add(other, self)
    def __sub__(self, other): return _ops().sub(self, other)
    def __rsub__(self, other): return _ops().sub(other, self)
    def __mul__(self, other): return _ops().mul(self, other)
    def __rmul__(self, other): return _ops().mul(other, self)
    def __truediv__(self, other): return _ops().div(self, other)
    def __rtruediv__(self, other): return _ops().div(other, self)
    def __neg__(self): return _ops().neg(self)
    def __pow__(self, exponent): return _ops().pow(self, exponent)
    def __matmul__(self, other): return _ops().matmul(self, other)
    def __rmatmul__(self, other): return _ops().matmul(other, self)
    def __getitem__(self, index): return _ops().getitem(self, index)

    def sum(self, axis=None, keepdims=False): return _ops().sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _ops().mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return _ops().max(self, axis, keepdims)
    def reshape(self, *shape): return _ops().reshape(self, *shape)
    def transpose(self, *axes): return _ops().transpose(self, *axes)
    def flatten(self, start_dim=1): return _ops().flatten(self, start_dim)
    def exp(self): return _ops().exp(self)
    def log(self): return _ops().log(self)
    def sqrt(self): return _ops().sqrt(self)
    def relu(self): return _ops().relu(self)
    def sigmoid(self): return _ops().sigmoid(self)
    def tanh(self): return _ops().tanh(self)

    @property
    def T(self): return _ops().transpose(self)


def _ops():
    from . import ops
    return ops


def _topological_order(root: Tensor) -> list:
    """Tensors reachable from ``root`` through ``_ctx.inputs``, each after its inputs.

    Iterative depth-first search with an explicit stack (HIPS autograd does the same), so
    the depth of the graph is not limited by Python's recursion limit.
    """
    # BEGIN SOLUTION A1.1
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        ctx = t._ctx
        if ctx is not None and ctx.inputs is not None:
            for inp in ctx.inputs:
                if inp.requires_grad and id(inp) not in visited:
                    stack.append((inp, False))
    return order
    # END SOLUTION


def tensor(data, requires_grad: bool = False, dtype=None, device: str = "cpu") -> Tensor:
    """Make a tensor from a list, number or array; float data defaults to float32."""
    xp = backend.numpy_module
    if not hasattr(data, "dtype"):
        data = xp.asarray(data)
        if dtype is None and data.dtype.kind in "fc" or (dtype is None and data.dtype.kind == "i"
                                                         and requires_grad):
            dtype = xp.float32
    t = Tensor(data, requires_grad=requires_grad, dtype=dtype)
    return t.to(device) if device != "cpu" else t
