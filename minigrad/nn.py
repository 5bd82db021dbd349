"""Neural-network building blocks: ``Module``, ``Parameter``, layers and initialisation.

A :class:`Module` keeps its parameters and sub-modules in the order they were assigned
(plain dicts, never sets, so the order - and so a seeded run - does not depend on the hash
seed). ``state_dict()`` and ``load_state_dict()`` move weights in and out as NumPy arrays.

Initialisation always draws from an explicit ``numpy.random.Generator`` (or an int seed)
on the CPU, then the model can be moved with ``.to("cuda")``: the same seed gives the same
model on every device.
"""
from __future__ import annotations

import math

from . import backend, ops
from .ops.conv_maxpool import fusable, fusable_pooling
from .tensor import Tensor

np = backend.numpy_module

__all__ = [
    "Parameter", "Module", "Sequential", "Linear", "Conv2d", "MaxPool2d", "AvgPool2d",
    "ReLU", "Tanh", "Sigmoid", "Flatten", "Dropout", "Identity",
    "Conv2dMaxPool2d", "fuse_conv_pool", "he_normal", "glorot_uniform", "as_rng",
]


# -- initialisation ---------------------------------------------------------------------------
def as_rng(rng=None):
    """A ``numpy.random.Generator`` from a Generator, an int seed, or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def he_normal(shape, fan_in: int, rng) -> "np.ndarray":
    """He et al. (2015): N(0, 2 / fan_in), suited to ReLU layers. float32."""
    # BEGIN SOLUTION A4.1
    std = math.sqrt(2.0 / fan_in)
    return (as_rng(rng).standard_normal(shape) * std).astype(np.float32)
    # END SOLUTION


def glorot_uniform(shape, fan_in: int, fan_out: int, rng) -> "np.ndarray":
    """Glorot & Bengio (2010): U(-a, a), a = sqrt(6 / (fan_in + fan_out)). float32."""
    # BEGIN SOLUTION A4.1
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return as_rng(rng).uniform(-a, a, size=shape).astype(np.float32)
    # END SOLUTION


def _init_weight(init: str, shape, fan_in, fan_out, rng):
    if init == "he":
        return he_normal(shape, fan_in, rng)
    if init == "glorot":
        return glorot_uniform(shape, fan_in, fan_out, rng)
    raise ValueError(f"unknown init {init!r}; expected 'he' or 'glorot'")


# -- Parameter and Module ------------------------------------------------------------------------
class Parameter(Tensor):
    """A tensor that a :class:`Module` owns and an optimizer updates (requires_grad=True)."""

    def __init__(self, data, requires_grad: bool = True, name: str | None = None):
        super().__init__(data, requires_grad=requires_grad, name=name)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype}, device={self.device})"


class Module:
    """Base class of layers and models. Subclasses assign parameters and sub-modules as
    attributes in ``__init__`` and write ``forward``; call the module to run it."""

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- traversal
    def named_modules(self, prefix: str = ""):
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix: str = ""):
        """(dotted name, parameter) pairs in definition order; shared parameters once."""
        seen = set()
        for mod_name, m in self.named_modules(prefix):
            for name, p in m._parameters.items():
                if id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> list:
        return [p for _, p in self.named_parameters()]

    def children(self):
        return list(self._modules.values())

    # -- modes and grads
    def train(self, mode: bool = True) -> "Module":
        for _, m in self.named_modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # -- devices and state
    def to(self, device: str) -> "Module":
        """Move every parameter to ``device`` in place (the Parameter objects stay the same,
        so an optimizer built before the move still updates them)."""
        for p in self.parameters():
            p.data = backend.to_device(p.data, device)
            if p.grad is not None:
                p.grad = backend.to_device(p.grad, device)
        return self

    def state_dict(self) -> dict:
        """Parameter name -> NumPy copy of its values, in definition order."""
        return {name: backend.to_numpy(p.data).copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy values from ``state`` into the parameters (shapes must match exactly)."""
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        for name, p in own.items():
            if name not in state:
                continue
            value = state[name]
            if tuple(value.shape) != p.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: {name} has shape "
                                 f"{tuple(value.shape)} in the state but {p.shape} in the model")
            values = np.array(backend.to_numpy(value), dtype=p.dtype)  # always a fresh copy
            p.data = backend.to_device(values, p.device)

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        return "\n".join(lines) + (")" if len(lines) == 1 else "\n)")


class Sequential(Module):
    """Modules applied one after another; indexable and iterable. Its children are named
    "0", "1", ... in order, which is where state-dict names such as ``"0.weight"`` come from.
    """

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, i) -> Module:
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


# -- layers ---------------------------------------------------------------------------------
class Linear(Module):
    """Fully connected layer, ``y = x W^T + b``, W of shape (out_features, in_features).

    ``init='he'`` (default, for ReLU networks) or ``'glorot'``; biases start at zero.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng=None,
                 init: str = "he"):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        # BEGIN SOLUTION A4.2
        self.weight = Parameter(_init_weight(init, (out_features, in_features), in_features,
                                             out_features, rng))
        self.bias = Parameter(np.zeros(out_features, dtype=np.float32)) if bias else None
        # END SOLUTION

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"Linear({self.in_features}, {self.out_features}): expected input "
                             f"(N, {self.in_features}), got shape {x.shape}")
        # BEGIN SOLUTION A4.2
        return ops.linear(x, self.weight, self.bias)
        # END SOLUTION

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}"


class Conv2d(Module):
    """2-D convolution over NCHW input; weight (out_channels, in_channels, k, k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride: int = 1,
                 padding: int = 0, bias: bool = True, rng=None, init: str = "he"):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (kh, kw), stride, padding
        # BEGIN SOLUTION A4.2
        fan_in, fan_out = in_channels * kh * kw, out_channels * kh * kw
        self.weight = Parameter(_init_weight(init, (out_channels, in_channels, kh, kw),
                                             fan_in, fan_out, rng))
        self.bias = Parameter(np.zeros(out_channels, dtype=np.float32)) if bias else None
        # END SOLUTION

    def forward(self, x):
        # BEGIN SOLUTION A4.2
        return ops.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)
        # END SOLUTION

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class MaxPool2d(Module):
    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding

    def forward(self, x):
        return ops.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class AvgPool2d(Module):
    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding

    def forward(self, x):
        return ops.avg_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class ReLU(Module):
    def forward(self, x):
        return ops.relu(x)


class Tanh(Module):
    def forward(self, x):
        return ops.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return ops.sigmoid(x)


class Identity(Module):
    def forward(self, x):
        return x


class Flatten(Module):
    """(N, ...) -> (N, prod(...))."""

    def forward(self, x):
        return ops.flatten(x, 1)


class Dropout(Module):
    """Inverted dropout, active only in training mode; ``rng`` seeds the masks."""

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.rng = as_rng(rng)

    def forward(self, x):
        return ops.dropout(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# -- conv + 2x2 max pool [+ ReLU] as one layer, and the pass that puts it in ---------------------
class Conv2dMaxPool2d(Conv2d):
    """A :class:`Conv2d` followed by 2x2 max pooling (stride 2) and, with ``relu=True``, a
    ReLU, run as one node (:func:`minigrad.ops.conv2d_maxpool2d`): the same values and
    gradients as the three layers, less memory traffic (docs/performance.md).

    It is built from an existing ``conv`` and shares its parameters (the same ``Parameter``
    objects, as ``weight`` and ``bias``), so it is a ``Conv2d`` in every attribute; only
    ``forward`` also pools. When the conv's output has an odd side the fused node does not
    apply and ``forward`` runs the separate ops instead.
    """

    def __init__(self, conv: Conv2d, relu: bool = False):
        Module.__init__(self)  # not Conv2d.__init__: the parameters come from ``conv``
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.stride, self.padding = conv.kernel_size, conv.stride, conv.padding
        self.weight, self.bias = conv.weight, conv.bias
        self.relu = bool(relu)

    def forward(self, x):
        if fusable(x.shape, self.kernel_size, self.stride, self.padding, 2, 2, 0):
            return ops.conv2d_maxpool2d(x, self.weight, self.bias, stride=self.stride,
                                        padding=self.padding, relu=self.relu)
        y = ops.max_pool2d(super().forward(x), 2, 2, 0)
        return ops.relu(y) if self.relu else y

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, pool=2x2/2, relu={self.relu}"


def fuse_conv_pool(seq: Sequential) -> Sequential:
    """``seq`` with every ``Conv2d -> MaxPool2d(2) [-> ReLU]`` run as one
    :class:`Conv2dMaxPool2d` layer; the model builders call it on their conv stacks.

    Returns a new :class:`Sequential` of the same length over the same parameter objects:
    the fused layer takes the conv's place and :class:`Identity` the places of the pooling
    and the ReLU (as PyTorch's ``fuse_modules`` does), so every state-dict name stays (a
    checkpoint of the plain stack loads into the fused one and back). Only exact
    ``Conv2d``, ``MaxPool2d`` and ``ReLU`` layers are fused, since a subclass may change
    what its ``forward`` does; pooling must be 2x2, stride 2, unpadded.
    """
    layers = list(seq) + [None, None]  # two Nones: the lookahead never runs off the end
    out, i = [], 0
    while i < len(seq):
        conv, pool, after = layers[i:i + 3]
        if (type(conv) is Conv2d and type(pool) is MaxPool2d
                and fusable_pooling(pool.kernel_size, pool.stride, pool.padding)):
            relu = type(after) is ReLU
            out += [Conv2dMaxPool2d(conv, relu=relu)] + [Identity() for _ in range(1 + relu)]
            i += 2 + relu
        else:
            out.append(conv)
            i += 1
    fused = Sequential(*out)
    fused.training = seq.training
    return fused
