"""minigrad: a small tape-based reverse-mode autodiff framework on NumPy (CuPy on a GPU).

The pieces, each in its own module:

* :mod:`minigrad.backend`  the only place that knows NumPy from CuPy
* :mod:`minigrad.tensor`   ``Tensor``, the tape, ``no_grad``
* :mod:`minigrad.function` ``Function``, the explicit node every op subclasses
* :mod:`minigrad.ops`      the ops, forward and backward side by side
* :mod:`minigrad.nn`       ``Module``, layers, initialisation, the conv+pool fusion pass
* :mod:`minigrad.optim`    SGD (momentum, weight decay), Adam
* :mod:`minigrad.gradcheck` numerical gradient checks in float64
* :mod:`minigrad.serialization` atomic ``.npz`` save/load of model state
* :mod:`minigrad.threads`  how many threads the CPU work uses (image groups, large products)
"""
from . import backend, nn, ops, optim, threads
from .backend import DeviceError, get_array_module, gpu_available
from .function import Function
from .gradcheck import GradcheckError, gradcheck
from .serialization import load_arrays, load_module, save_arrays, save_module
from .tensor import Tensor, enable_grad, is_grad_enabled, no_grad, tensor
from .threads import get_num_threads, set_num_threads

__all__ = [
    "Tensor", "tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled",
    "get_array_module", "gpu_available", "DeviceError", "backend", "ops", "nn", "optim",
    "gradcheck", "GradcheckError", "save_arrays", "load_arrays", "save_module", "load_module",
    "threads", "set_num_threads", "get_num_threads",
]
__version__ = "0.1.0"
