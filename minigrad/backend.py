"""The backend: the one module in minigrad that knows whether arrays live in NumPy (CPU)
or CuPy (GPU).

Every op asks ``get_array_module(x)`` for ``xp`` and writes ``xp.exp(...)``,
``xp.zeros(...)`` and so on; the same code then runs on either device. CuPy is imported
lazily, on the first request for the GPU, so a machine without it never pays for it and
gets a clear message only when it actually asks for ``"cuda"``.

Ideas borrowed from Chainer's backend: ``get_array_module`` also unwraps tensors, and a
stub stands in for CuPy when it is absent.
"""
from __future__ import annotations

import numpy

__all__ = [
    "numpy_module",
    "get_array_module",
    "cupy_or_raise",
    "gpu_available",
    "device_of",
    "to_device",
    "to_numpy",
    "DeviceError",
    "add_at",
    "use_device_array_module",
]

numpy_module = numpy

_cupy = None          # the module, once imported
_cupy_error = None    # why importing it failed, once tried


class DeviceError(RuntimeError):
    """A device was asked for that is not available, or two devices were mixed."""


_INSTALL_HINT = (
    "install CuPy for your CUDA version, e.g. `pip install 'dann-from-scratch[gpu]'` "
    "(cupy-cuda12x) or `pip install cupy-cuda13x`, on a machine with an NVIDIA GPU"
)


def _try_import_cupy():
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy  # noqa: F401  (the only place minigrad imports cupy)

            cupy.cuda.runtime.getDeviceCount()  # raises without a driver or device
            _cupy = cupy
        except Exception as e:  # ImportError, CUDARuntimeError, ...
            _cupy_error = e
    return _cupy


def use_device_array_module(module):
    """Make ``module`` the array module of device ``'cuda'`` in CuPy's place; ``None`` goes
    back to CuPy (imported lazily, as before). Returns the module that was in use (or
    ``None``), so a caller can put it back.

    This is for tests: CI has no GPU, so the test suite plugs in a strict CuPy stand-in
    (``tests/strict_xp.py``: NumPy underneath, but it refuses implicit conversion to NumPy
    and offers only CuPy's functions) and runs the ``gpu`` tests on it. ``module`` needs what
    minigrad uses of CuPy: an ``ndarray`` type, the NumPy-like functions, ``asarray`` (host
    to device) and arrays with ``.get()`` (device to host).
    """
    global _cupy, _cupy_error
    previous = _cupy
    _cupy, _cupy_error = module, None
    return previous


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    return _try_import_cupy() is not None


def cupy_or_raise():
    """Return the cupy module or raise :class:`DeviceError` saying how to get it."""
    cp = _try_import_cupy()
    if cp is None:
        raise DeviceError(f"device 'cuda' is not available ({_cupy_error!r}); {_INSTALL_HINT}")
    return cp


def _is_cupy_array(a) -> bool:
    # Never import cupy just to answer "is this a cupy array?": if cupy was never
    # imported, nothing can be a cupy array.
    return _cupy is not None and isinstance(a, _cupy.ndarray)


def _unwrap(a):
    return getattr(a, "data", a) if hasattr(a, "_is_minigrad_tensor") else a


def get_array_module(*arrays):
    """The array module (``numpy`` or ``cupy``) for the given arrays or tensors.

    Mixing CPU and GPU arrays raises :class:`DeviceError`: minigrad never copies
    between devices behind your back.
    """
    found = None
    for a in arrays:
        a = _unwrap(a)
        if a is None or not hasattr(a, "shape"):
            continue  # python scalars fit either module
        mod = _cupy if _is_cupy_array(a) else numpy
        if found is None:
            found = mod
        elif mod is not found:
            raise DeviceError(
                "arrays on different devices (cpu and cuda) were mixed in one op; "
                "move them first with .to('cuda') or .to('cpu')"
            )
    return found if found is not None else numpy


def device_of(a) -> str:
    """``'cuda'`` for a CuPy array (or tensor holding one), else ``'cpu'``."""
    return "cuda" if _is_cupy_array(_unwrap(a)) else "cpu"


def to_device(a, device: str):
    """Return array ``a`` on ``device`` (``'cpu'`` or ``'cuda'``), copying only if needed."""
    a = _unwrap(a)
    if device == "cpu":
        return a.get() if _is_cupy_array(a) else numpy.asarray(a)
    if device in ("cuda", "gpu"):
        cp = cupy_or_raise()
        return a if _is_cupy_array(a) else cp.asarray(a)
    raise DeviceError(f"unknown device {device!r}; expected 'cpu' or 'cuda'")


def to_numpy(a) -> numpy.ndarray:
    """A NumPy copy (or view) of an array on any device."""
    return to_device(a, "cpu")


def add_at(out, index, values) -> None:
    """``out[index] += values`` with repeated indices accumulating (NumPy's ``add.at``).

    CuPy spells this ``cupyx.scatter_add`` in older releases; this is the one place that
    needs to know.
    """
    if _is_cupy_array(out) and not hasattr(_cupy.add, "at"):  # pragma: no cover - GPU only
        import cupyx

        cupyx.scatter_add(out, index, values)
    else:
        get_array_module(out).add.at(out, index, values)
