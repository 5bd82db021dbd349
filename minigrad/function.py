"""``Function``: the explicit node of the tape.

Every differentiable operation in minigrad is a subclass of :class:`Function` with a
``forward`` and a ``backward`` written side by side. ``forward`` receives raw arrays
(NumPy or CuPy) and returns one raw array; ``backward`` receives the gradient of the loss
with respect to that output and returns one gradient per input (or ``None`` for an input
that needs none). ``apply`` does the bookkeeping that turns this into autodiff: it unwraps
tensors, runs ``forward``, wraps the result and, when gradients are wanted, records the
node so that :meth:`Tensor.backward` can find it.

Writing a new op (the gradient reversal layer of DANN is one)::

    class Double(Function):
        def forward(self, x):
            return 2 * x

        def backward(self, grad):
            return 2 * grad

    y = Double.apply(x)

Non-tensor arguments (an axis, a stride, integer labels) are passed as keyword arguments:
they reach ``forward`` unchanged and are never differentiated.
"""
from __future__ import annotations

import inspect

from . import backend
from .tensor import Tensor, is_grad_enabled

__all__ = ["Function", "sum_to_shape", "broadcast_shapes"]


class Function:
    """Base class of every differentiable op. Subclass it and write ``forward``/``backward``.

    Inside ``forward``/``backward``:

    * ``self.xp`` is the array module (numpy or cupy) of the inputs;
    * ``self.save_for_backward(*arrays)`` keeps what backward needs, read back as
      ``self.saved``;
    * ``self.needs_input_grad`` is a tuple of booleans, one per input, so backward can skip
      gradients nobody asked for (the input image of the first conv layer, labels, ...).

    After a backward pass the node frees its inputs and saved arrays (unless
    ``retain_graph=True``), so memory stays flat over thousands of training steps; a second
    backward through it is then a clear error rather than a wrong answer.
    """

    #: set by ``apply``; ``None`` once the graph has been freed
    inputs: tuple | None = None
    #: True for ops that only make sense on floats (convolutions, pools, matrix products):
    #: an integer input there is a mistake (raw uint8 images, say), reported by ``apply``
    #: with the op, the argument and its dtype instead of a NumPy casting error
    float_inputs_only: bool = False

    def forward(self, *arrays, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    # -- bookkeeping --------------------------------------------------------------------
    def save_for_backward(self, *arrays) -> None:
        """Keep arrays (or other values) that ``backward`` will need."""
        self.saved = arrays

    @property
    def name(self) -> str:
        return type(self).__name__

    @classmethod
    def apply(cls, *inputs, **kwargs) -> Tensor:
        """Run the op on tensors (or arrays / Python scalars) and record it on the tape."""
        fn = cls()
        tensors = _as_tensors(fn.name, inputs)
        fn.xp = backend.get_array_module(*tensors)
        _check_float_dtypes(fn, tensors)
        fn.needs_input_grad = tuple(t.requires_grad for t in tensors)

        out = fn.forward(*(t.data for t in tensors), **kwargs)

        ref = _float_dtype(tensors)
        if ref is not None and out.dtype.kind == "f" and out.dtype != ref:
            raise TypeError(f"{fn.name}: forward turned {ref} inputs into a {out.dtype} output; "
                            "ops must not change the floating dtype")
        requires_grad = is_grad_enabled() and any(fn.needs_input_grad)
        result = Tensor(out, requires_grad=requires_grad)
        if requires_grad:
            fn.inputs = tensors
            result._ctx = fn
        return result

    def free(self) -> None:
        """Drop references to inputs and saved arrays (called after backward)."""
        self.inputs = None
        self.saved = None


def _as_tensors(op: str, inputs) -> tuple:
    """Wrap arrays and Python scalars as constant tensors (scalars take the float dtype of
    the tensor inputs, so ``x * 2.0`` stays float32)."""
    ref = None
    for a in inputs:
        if isinstance(a, Tensor):
            if a.data.dtype.kind == "f":
                ref = a
                break
    out = []
    for a in inputs:
        if isinstance(a, Tensor):
            out.append(a)
        elif ref is not None and _is_real_scalar(a):
            # Python and NumPy scalars alike (np.float64 is a float): the tensor's dtype
            xp = backend.get_array_module(ref)
            out.append(Tensor(xp.asarray(a, dtype=ref.data.dtype)))
        elif hasattr(a, "shape") and hasattr(a, "dtype"):
            out.append(Tensor(a))
        elif _is_real_scalar(a):
            raise TypeError(f"{op}: a Python scalar takes its dtype from a floating Tensor input, "
                            f"and there is none among {inputs!r}")
        else:
            raise TypeError(f"{op}: cannot use an input of type {type(a).__name__}")
    return tuple(out)


def _is_real_scalar(a) -> bool:
    """A Python or NumPy real number (not an array, not even a 0-d one)."""
    if isinstance(a, (int, float)):
        return True
    return isinstance(a, backend.numpy_module.generic) and a.dtype.kind in "biuf"


def _float_dtype(tensors):
    for t in tensors:
        if t.data.dtype.kind == "f":
            return t.data.dtype
    return None


def _check_float_dtypes(fn: Function, tensors) -> None:
    """The one place input dtypes are checked: floats must agree, and an op declared
    ``float_inputs_only`` takes nothing but floats."""
    kinds = {t.data.dtype for t in tensors if t.data.dtype.kind == "f"}
    if len(kinds) > 1:
        names = ", ".join(sorted(str(k) for k in kinds))
        raise TypeError(f"{fn.name}: inputs have different float dtypes ({names}); "
                        "convert explicitly with .astype(...) - minigrad never upcasts silently")
    if not fn.float_inputs_only:
        return
    for i, t in enumerate(tensors):
        if t.data.dtype.kind != "f":
            arg = list(inspect.signature(fn.forward).parameters)[i]
            raise TypeError(f"{fn.name}: {arg} has dtype {t.data.dtype}; expected a float dtype "
                            "(float32 for training, float64 for checks) - convert with "
                            ".astype(np.float32)")


def broadcast_shapes(op: str, *shapes) -> tuple:
    """The shape that NumPy broadcasting makes of ``shapes``; a ValueError naming ``op``
    and every shape when they do not broadcast."""
    try:
        return backend.numpy_module.broadcast_shapes(*shapes)
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(f"{op}: shapes {listed} cannot be broadcast together (each trailing "
                         "axis must match or be 1)") from None


def sum_to_shape(grad, shape):
    """Undo broadcasting: sum ``grad`` over the axes that broadcasting added or stretched,
    so the result has ``shape`` (the shape of the input that was broadcast)."""
    if grad.shape == tuple(shape):
        return grad
    # BEGIN SOLUTION A1.2
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1
    )
    grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)
    # END SOLUTION
