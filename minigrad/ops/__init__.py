"""The ops, as plain functions over tensors.

Each function here is a thin, documented front for one :class:`~minigrad.function.Function`
subclass; the forward/backward pairs live in the modules next to this one:

* ``arithmetic``  add, sub, mul, div, neg, pow, exp, log, sqrt, cast
* ``activations`` relu, sigmoid, tanh, dropout
* ``reductions``  sum, mean, max
* ``shape``       reshape, transpose, flatten, getitem, concatenate
* ``linalg``      matmul, linear
* ``losses``      softmax, log_softmax, cross_entropy, binary_cross_entropy_with_logits
* ``conv``        conv2d (im2col on strided views, col2im)
* ``pool``        max_pool2d, avg_pool2d
* ``conv_maxpool`` conv2d_maxpool2d (conv + 2x2 max pool [+ relu] fused into one node)
"""
from __future__ import annotations

from ..tensor import Tensor
from .activations import Dropout, ReLU, Sigmoid, Tanh
from .arithmetic import Add, Cast, Div, Exp, Log, Mul, Neg, Pow, Sqrt, Sub
from .conv import Conv2d, col2im, conv2d, im2col
from .conv_maxpool import Conv2dMaxPool2d, conv2d_maxpool2d
from .linalg import Linear, MatMul
from .losses import BCEWithLogits, CrossEntropy, LogSoftmax, Softmax
from .pool import AvgPool2d, MaxPool2d, avg_pool2d, max_pool2d
from .reductions import Max, Mean, Sum
from .shape import Concatenate, GetItem, Reshape, Transpose

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "cast",
    "relu", "sigmoid", "tanh", "dropout",
    "sum", "mean", "max",
    "reshape", "transpose", "flatten", "getitem", "concatenate",
    "matmul", "linear",
    "softmax", "log_softmax", "cross_entropy", "binary_cross_entropy_with_logits",
    "conv2d", "im2col", "col2im", "max_pool2d", "avg_pool2d", "conv2d_maxpool2d",
]


# -- arithmetic
def add(a, b) -> Tensor:
    """``a + b`` with broadcasting."""
    return Add.apply(a, b)


def sub(a, b) -> Tensor:
    """``a - b`` with broadcasting."""
    return Sub.apply(a, b)


def mul(a, b) -> Tensor:
    """``a * b`` with broadcasting."""
    return Mul.apply(a, b)


def div(a, b) -> Tensor:
    """``a / b`` with broadcasting."""
    return Div.apply(a, b)


def neg(a) -> Tensor:
    """``-a``."""
    return Neg.apply(a)


def pow(a, exponent: float) -> Tensor:  # noqa: A001 - mirrors the operator's name
    """``a ** exponent`` for a constant real exponent."""
    if isinstance(exponent, Tensor):
        raise TypeError("pow: the exponent must be a Python number, not a Tensor")
    return Pow.apply(a, exponent=float(exponent))


def exp(a) -> Tensor:
    """Elementwise ``e ** a``."""
    return Exp.apply(a)


def log(a) -> Tensor:
    """Elementwise natural logarithm."""
    return Log.apply(a)


def sqrt(a) -> Tensor:
    """Elementwise square root."""
    return Sqrt.apply(a)


def cast(a: Tensor, dtype) -> Tensor:
    """Explicit dtype change (the only op that may change a floating dtype)."""
    return Cast.apply(a, dtype)


# -- activations
def relu(x) -> Tensor:
    """``max(x, 0)``; the gradient at exactly 0 is taken as 0."""
    return ReLU.apply(x)


def sigmoid(x) -> Tensor:
    """Logistic function, computed without overflow for large ``|x|``."""
    return Sigmoid.apply(x)


def tanh(x) -> Tensor:
    """Hyperbolic tangent."""
    return Tanh.apply(x)


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


# -- reductions
def sum(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (an int, a tuple, or None for all)."""
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (an int, a tuple, or None for all)."""
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis``; tied maxima share the gradient equally."""
    return Max.apply(x, axis=axis, keepdims=keepdims)


# -- shape
def reshape(x, *shape) -> Tensor:
    """View ``x`` with a new shape (one dimension may be -1)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Reshape.apply(x, shape=shape)


def transpose(x, *axes) -> Tensor:
    """Permute axes (reverse them when none are given)."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return Transpose.apply(x, axes=axes or None)


def flatten(x, start_dim: int = 1) -> Tensor:
    """Merge all axes from ``start_dim`` on into one (by default: keep the batch axis)."""
    ndim = len(x.shape) or 1  # a 0-d tensor flattens to shape (1,), as in NumPy
    if not -ndim <= start_dim < ndim:
        raise ValueError(f"flatten: start_dim {start_dim} is out of range for a tensor of "
                         f"shape {tuple(x.shape)}")
    shape = x.shape[:start_dim] + (-1,)
    return reshape(x, shape)


def getitem(x, index) -> Tensor:
    """``x[index]`` for basic and integer-array indices."""
    if isinstance(index, Tensor):
        index = index.data
    return GetItem.apply(x, index=index)


def concatenate(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    if len(tensors) == 0:
        raise ValueError("concatenate: needs at least one tensor")
    return Concatenate.apply(*tensors, axis=axis)


# -- linear algebra
def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's broadcasting over leading (batch) axes."""
    return MatMul.apply(a, b)


def linear(x, weight, bias=None) -> Tensor:
    """Fully connected layer ``x @ weight.T + bias``; ``weight`` is (out, in)."""
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)


# -- losses
def softmax(x, axis: int = -1) -> Tensor:
    """Softmax along ``axis``."""
    return Softmax.apply(x, axis=axis)


def log_softmax(x, axis: int = -1) -> Tensor:
    """Log of the softmax along ``axis``, computed stably."""
    return LogSoftmax.apply(x, axis=axis)


def cross_entropy(logits, labels) -> Tensor:
    """Mean cross-entropy of logits (N, C) against integer labels (N,) in [0, C)."""
    if isinstance(labels, Tensor):
        labels = labels.data
    return CrossEntropy.apply(logits, labels=labels)


def binary_cross_entropy_with_logits(logits, targets) -> Tensor:
    """Mean logistic loss of logits against 0/1 (or soft) targets of the same shape."""
    if isinstance(targets, Tensor):
        targets = targets.data
    return BCEWithLogits.apply(logits, targets=targets)
