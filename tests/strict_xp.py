"""A strict CuPy stand-in for tests: NumPy arrays wrapped so that they behave like device arrays.

CI machines have no GPU, so the CuPy half of minigrad would never run there. This module
is an array module (``xp``) that minigrad's backend can take in CuPy's place
(:func:`minigrad.backend.use_device_array_module`); its arrays live in host memory, but
they refuse everything a CuPy array refuses, so the bugs a framework written on a CPU
collects show up here:

* **No implicit conversion to NumPy.** ``numpy.asarray(x)``, ``numpy.array(x)`` and
  ``x.__array__()`` raise ``TypeError``, as CuPy's arrays do. ``x.get()`` and
  ``asnumpy(x)`` are the explicit copies to the host.
* **No mixing with host arrays.** An operator or function of this module given a NumPy
  array raises ``TypeError`` (CuPy's "Unsupported type"); ``asarray``/``array`` are the
  explicit copies to the "device". Python and NumPy *scalars* are fine, as in CuPy.
* **No NumPy functions on device arrays.** ``numpy.exp(x)``, ``numpy.zeros_like(x)`` and
  every other NumPy function raise ``TypeError``. This is *stricter* than CuPy, which
  forwards many of them (NEP 13/18) to itself: minigrad's rule is that op code calls the
  backend's module, so code that calls ``numpy.`` on a device array is a bug here even
  where CuPy would happen to rescue it (and it is one for every function CuPy lacks).
* **Only CuPy's namespace.** Module functions, ``ndarray`` methods, ``random``,
  ``linalg`` and ``lib.stride_tricks`` offer exactly the names that CuPy 14.2 has (listed
  in ``cupy_namespace.json`` beside this file, dumped from the real package), and calls are
  checked against CuPy's signatures where CuPy's function has one (e.g. CuPy's
  ``as_strided`` takes no ``writeable``). Ufuncs take only ``out``, ``dtype`` and
  ``casting``, like CuPy's.
* **Reductions return 0-d arrays**, not NumPy scalars, as CuPy's do.
* **Synchronisations are counted.** ``.item()``, ``.tolist()``, ``float()``, ``int()``,
  ``bool()``, ``.get()`` and ``asnumpy`` each add one to :data:`SYNCS` (on a GPU each waits
  for the device), so a test can bound them.

To regenerate ``cupy_namespace.json`` where CuPy imports (it does without a GPU)::

    python tests/strict_xp.py --dump-cupy-namespace
"""
from __future__ import annotations

import inspect
import json
import os
import sys
import types

import numpy

__all__ = ["StrictArray", "ndarray", "asnumpy", "SYNCS", "reset_syncs", "CUPY_NAMESPACE"]

_HERE = os.path.dirname(os.path.abspath(__file__))
_NAMESPACE_FILE = os.path.join(_HERE, "cupy_namespace.json")


# -- regenerating the namespace list from the real package ---------------------------------------
# (before the list is read below, so that the dump also works when the file is missing)
def _dump_cupy_namespace(path: str = _NAMESPACE_FILE) -> None:  # pragma: no cover - needs cupy
    import cupy  # imports without a GPU; nothing here touches the device
    from cupy.lib import stride_tricks

    def public(obj):
        return sorted(n for n in dir(obj) if not n.startswith("_"))

    signatures = {}
    for prefix, mod in (("", cupy), ("random.", cupy.random), ("linalg.", cupy.linalg),
                        ("lib.stride_tricks.", stride_tricks)):
        for n in public(mod):
            obj = getattr(mod, n)
            if not callable(obj) or isinstance(obj, type):
                continue
            try:
                sig = inspect.signature(obj)
            except (TypeError, ValueError):
                continue  # a Cython function or ufunc: no signature to check against
            signatures[prefix + n] = [[p.name, p.kind.name, p.default is not p.empty]
                                      for p in sig.parameters.values()]
    data = {"version": cupy.__version__, "top": public(cupy), "ndarray": public(cupy.ndarray),
            "random": public(cupy.random), "linalg": public(cupy.linalg),
            "stride_tricks": public(stride_tricks), "ufunc_methods": public(cupy.add),
            "signatures": signatures}
    with open(path, "w") as f:
        json.dump(data, f, indent=0, sort_keys=True)
        f.write("\n")
    print(f"wrote {path}: CuPy {cupy.__version__}, {len(data['top'])} names, "
          f"{len(signatures)} signatures")


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["--dump-cupy-namespace"]:
        _dump_cupy_namespace()
        sys.exit(0)
    sys.exit(__doc__)


# -- what CuPy offers --------------------------------------------------------------------------
with open(_NAMESPACE_FILE) as _f:
    CUPY_NAMESPACE = json.load(_f)
"""What the real CuPy offers: ``{"version", "top", "ndarray", "random", "linalg",
"stride_tricks", "ufunc_methods", "signatures"}`` (see ``--dump-cupy-namespace``)."""

_UFUNC_KWARGS = {"out", "dtype", "casting"}  # all that CuPy's ufuncs accept
# the explicit host -> device copies: the only functions that take NumPy arrays
_HOST_INPUT_OK = {"asarray", "array", "asanyarray"}

SYNCS = {"count": 0}
"""How many device -> host synchronisations happened (``SYNCS["count"]``)."""


def reset_syncs() -> None:
    SYNCS["count"] = 0


def _sync() -> None:
    SYNCS["count"] += 1


def _host_array_error(where: str) -> TypeError:
    return TypeError(f"{where}: got a numpy.ndarray (host memory) where a device array was "
                     "expected; move it with xp.asarray(...) or minigrad's .to('cuda') first "
                     "(CuPy raises TypeError here too)")


# -- wrapping and unwrapping ----------------------------------------------------------------------
def _unwrap(obj, where: str, host_ok: bool = False):
    """The NumPy data under ``obj`` (recursively through lists, tuples and dicts);
    a bare NumPy array is an error unless ``host_ok``."""
    if isinstance(obj, StrictArray):
        return obj._a
    if isinstance(obj, numpy.ndarray):
        if not host_ok:
            raise _host_array_error(where)
        return obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap(o, where, host_ok) for o in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(v, where, host_ok) for k, v in obj.items()}
    return obj


def _wrap(obj):
    """NumPy results become device arrays; NumPy scalars become 0-d arrays, as in CuPy."""
    if isinstance(obj, numpy.ndarray):
        return StrictArray(obj)
    if isinstance(obj, numpy.generic):
        return StrictArray(numpy.asarray(obj))
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(_wrap(o) for o in obj)
    return obj


# -- the device array ------------------------------------------------------------------------
def _binary(name):
    def op(self, other):
        if isinstance(other, StrictArray):
            other = other._a
        elif isinstance(other, numpy.ndarray):
            raise _host_array_error(f"ndarray.{name}")
        elif not isinstance(other, (int, float, complex, bool, numpy.generic)):
            return NotImplemented  # e.g. a minigrad Tensor: let it handle the operator
        result = getattr(self._a, name)(other)
        if result is NotImplemented:
            return result
        if name.startswith("__i"):  # in place: the same device array
            return self
        return _wrap(result)

    op.__name__ = name
    return op


class StrictArray:
    """A "device" array: a NumPy array that refuses to be treated as one (see the module
    docstring). Only the attributes and methods of ``cupy.ndarray`` exist."""

    __slots__ = ("_a",)
    __array_ufunc__ = None  # numpy.<ufunc>(x) raises TypeError; x * numpy_scalar still works
    __hash__ = None

    def __init__(self, a):
        if not isinstance(a, numpy.ndarray):
            raise TypeError(f"StrictArray wraps numpy arrays, got {type(a).__name__}")
        self._a = a

    # refused: the implicit conversions CuPy refuses
    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed (strict CuPy "
                        "stand-in). Please use `.get()` or `asnumpy` to copy to the host "
                        "explicitly.")

    def __array_function__(self, func, types_, args, kwargs):
        raise TypeError(f"numpy.{func.__name__} was called on a device array (strict CuPy "
                        "stand-in): use the backend's array module (xp), not numpy")

    # allowed: explicit copies and scalar conversions (each is a synchronisation)
    def get(self, stream=None, order="C", out=None, blocking=True):
        _sync()
        return numpy.array(self._a, order=order)

    def item(self, *args):
        _sync()
        return self._a.item(*args)

    def tolist(self):
        _sync()
        return self._a.tolist()

    def __float__(self):
        _sync()
        return float(self._a)

    def __int__(self):
        _sync()
        return int(self._a)

    def __bool__(self):
        _sync()
        return bool(self._a)

    def __index__(self):
        _sync()
        return self._a.__index__()

    def __complex__(self):
        _sync()
        return complex(self._a)

    # container protocol
    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(v) for v in self._a)

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key, "ndarray.__getitem__", host_ok=True)])

    def __setitem__(self, key, value):
        # CuPy accepts host values here (it copies them to the device)
        self._a[_unwrap(key, "ndarray.__setitem__", host_ok=True)] = _unwrap(
            value, "ndarray.__setitem__", host_ok=True)

    def __repr__(self):
        return f"StrictArray({self._a!r})"

    def __neg__(self):
        return _wrap(-self._a)

    def __pos__(self):
        return _wrap(+self._a)

    def __abs__(self):
        return _wrap(abs(self._a))

    def __invert__(self):
        return _wrap(~self._a)

    # cupy.ndarray's attributes and methods, and nothing else
    def __getattr__(self, name):
        if name.startswith("__") or name not in _NDARRAY_NAMES:
            raise AttributeError(f"'cupy.ndarray' (strict stand-in) has no attribute {name!r}"
                                 + ("" if name.startswith("__") else
                                    f": CuPy {CUPY_NAMESPACE['version']} arrays do not have it"))
        value = getattr(self._a, name)
        if not callable(value):
            return _wrap(value) if name not in ("dtype", "flags") else value

        def method(*args, **kwargs):
            where = f"ndarray.{name}"
            return _wrap(value(*_unwrap(args, where), **_unwrap(kwargs, where)))

        method.__name__ = name
        return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor", "lshift", "rshift"):
    for _form in ("__{}__", "__r{}__", "__i{}__"):
        _dunder = _form.format(_name)
        setattr(StrictArray, _dunder, _binary(_dunder))
for _dunder in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
    setattr(StrictArray, _dunder, _binary(_dunder))

ndarray = StrictArray
# shape, dtype, ndim, size, strides, T, ... come from __getattr__; "data" (a device
# pointer in CuPy) and "device" are left out: nothing in minigrad may rely on them
_NDARRAY_NAMES = frozenset(CUPY_NAMESPACE["ndarray"]) - {"data", "device", "get", "item",
                                                          "tolist"}


# -- functions and ufuncs ----------------------------------------------------------------------
def _signature(params):
    """An inspect.Signature from the dump's ``[name, kind, has_default]`` triples."""
    return inspect.Signature([
        inspect.Parameter(name, inspect._ParameterKind[kind],
                          default=None if has_default else inspect.Parameter.empty)
        for name, kind, has_default in params])


def _function(qualname: str, fn, signature=None):
    name = qualname.rsplit(".", 1)[-1]
    host_ok = name in _HOST_INPUT_OK
    where = f"cupy.{qualname}"

    def call(*args, **kwargs):
        if signature is not None:
            try:
                signature.bind(*args, **kwargs)
            except TypeError as e:
                raise TypeError(f"{where}: {e} (CuPy's signature is {where}{signature})") from None
        return _wrap(fn(*_unwrap(args, where, host_ok), **_unwrap(kwargs, where, host_ok)))

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{where} on the strict stand-in (NumPy's {name} underneath)."
    return call


class StrictUfunc:
    """A NumPy ufunc restricted to CuPy's ufunc interface (``out``, ``dtype``, ``casting``;
    methods ``at``, ``reduce``, ``accumulate``, ``outer``, ``reduceat``)."""

    def __init__(self, ufunc):
        self._u = ufunc
        self.__name__ = ufunc.__name__
        for attr in ("nin", "nout", "nargs", "types"):
            setattr(self, attr, getattr(ufunc, attr))

    def _call(self, method, args, kwargs):
        where = f"cupy.{self.__name__}" + ("" if method == "__call__" else f".{method}")
        if method == "__call__":
            extra = set(kwargs) - _UFUNC_KWARGS
            if extra:
                raise TypeError(f"{where}: CuPy's ufuncs take no {sorted(extra)} argument(s) "
                                f"(only {sorted(_UFUNC_KWARGS)})")
        out = kwargs.get("out")
        result = getattr(self._u, method)(*_unwrap(args, where), **_unwrap(kwargs, where))
        if out is not None:  # return the caller's own device array, as CuPy does
            return out
        return _wrap(result)

    def __call__(self, *args, **kwargs):
        return self._call("__call__", args, kwargs)

    def __getattr__(self, name):
        if name not in CUPY_NAMESPACE["ufunc_methods"] or not hasattr(self._u, name):
            raise AttributeError(f"cupy.{self.__name__} (strict stand-in) has no {name!r}")
        return lambda *args, **kwargs: self._call(name, args, kwargs)

    def __repr__(self):
        return f"<strict ufunc {self.__name__}>"


def _member(qualname: str, value):
    """The stand-in's version of NumPy's ``value`` exposed as ``cupy.<qualname>``."""
    if isinstance(value, numpy.ufunc):
        return StrictUfunc(value)
    if isinstance(value, type) or not callable(value):
        return value  # dtypes, scalar types, constants (pi, inf, newaxis, ...)
    params = CUPY_NAMESPACE["signatures"].get(qualname)
    return _function(qualname, value, _signature(params) if params is not None else None)


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    """The explicit device -> host copy (``cupy.asnumpy``)."""
    if isinstance(a, StrictArray):
        return a.get(order=order)
    return numpy.asarray(a, order=order)


def get_array_module(*args):
    return sys.modules[__name__] if any(isinstance(a, StrictArray) for a in args) else numpy


class _Device:
    """``cupy.cuda.Device()``: synchronising is a no-op here."""

    def __init__(self, device=0):
        self.id = device

    def synchronize(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


cuda = types.SimpleNamespace(
    Device=_Device,
    runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
    Stream=types.SimpleNamespace(null=types.SimpleNamespace(synchronize=lambda: None)),
)


def _submodule(qualname: str, names, source) -> types.ModuleType:
    mod = types.ModuleType(f"{__name__}.{qualname}", f"cupy.{qualname} on the strict stand-in")
    for n in names:
        if hasattr(source, n):
            setattr(mod, n, _member(f"{qualname}.{n}", getattr(source, n)))
    return mod


random = _submodule("random", CUPY_NAMESPACE["random"], numpy.random)
linalg = _submodule("linalg", CUPY_NAMESPACE["linalg"], numpy.linalg)
lib = types.SimpleNamespace(stride_tricks=_submodule(
    "lib.stride_tricks", CUPY_NAMESPACE["stride_tricks"], numpy.lib.stride_tricks))

# CuPy's other names, served by the module's __getattr__ rather than put in globals():
# CuPy's namespace has "bool", "abs", "any", "round", ... which must not shadow the builtins
# that the code of this file uses.
_OWN = {"ndarray", "asnumpy", "get_array_module", "cuda", "random", "linalg", "lib"}
_MEMBERS = {name: _member(name, getattr(numpy, name)) for name in CUPY_NAMESPACE["top"]
            if name not in _OWN and hasattr(numpy, name)
            and not isinstance(getattr(numpy, name), types.ModuleType)}


def __getattr__(name):
    if name in _MEMBERS:
        return _MEMBERS[name]
    if name in CUPY_NAMESPACE["top"]:
        raise AttributeError(f"cupy.{name} exists in CuPy but not in the strict stand-in; "
                             "add it to tests/strict_xp.py if minigrad needs it")
    raise AttributeError(f"module 'cupy' (strict stand-in) has no attribute {name!r}: "
                         f"CuPy {CUPY_NAMESPACE['version']} does not provide it")
