"""Assertion helpers for the graded tests: failures explained the way ``gradcheck`` does.

A graded test should not end in a bare ``assert np.allclose(...)``: a student who reads
``AssertionError`` learns nothing. Every helper here says *what* was checked (the op or
quantity, named by the test), *where* it is most wrong (the worst element's index) and
*by how much* (expected vs got, the difference and the tolerance), e.g.::

    Mul backward: gradient of input 1 (shape (3, 4)) is wrong at index (2, 0):
    expected 0.8312 (numerical, float64) but got -0.8312 (backward); |diff| = 1.66 > tolerance 1.1e-05;
    7 of 12 elements out of tolerance

The grader shows the first lines of such a message in its table of failures.

Public API (signatures are kept stable for the assignment tests):

* :func:`assert_gradients_match` - minigrad's backward against a float64 numerical gradient
* :func:`assert_arrays_match`    - an array (or Tensor, or number) against the expected one
* :func:`assert_adjoint_identity` - ``<A x, y> == <x, A^T y>`` for a linear map and its adjoint
* :func:`assert_function_backward_matches` - one ``Function``'s backward, run by hand
  without the tape, against a float64 numerical vector-Jacobian product
* :func:`function_backward` - run one ``Function``'s forward then backward by hand
"""
from __future__ import annotations

import numpy as np

__all__ = ["assert_gradients_match", "assert_arrays_match", "assert_adjoint_identity",
           "assert_function_backward_matches", "function_backward", "CheckFailure"]


class CheckFailure(AssertionError):
    """A graded check failed; the message names the op, the worst element and the values."""


# -- helpers ------------------------------------------------------------------------------------
def _to_numpy(value) -> np.ndarray:
    """A NumPy array from a Tensor, a CuPy/NumPy array or a Python number (no dtype change)."""
    if getattr(value, "_is_minigrad_tensor", False):
        value = value.data
    if isinstance(value, (np.ndarray, np.generic)) or not hasattr(value, "shape"):
        return np.asarray(value)
    from minigrad import backend  # a CuPy array: copy it to the host
    return np.asarray(backend.to_numpy(value))


def _fmt(x) -> str:
    return f"{float(x):.6g}"


def _worst(got: np.ndarray, expected: np.ndarray, atol: float, rtol: float):
    """(number of bad elements, index of the worst one, its excess over the tolerance)."""
    g = got.astype(np.float64)
    e = expected.astype(np.float64)
    # NaN anywhere it is not expected is the worst possible error
    nan_bad = np.isnan(g) & ~np.isnan(e)
    inf_bad = np.isinf(g) & (g != e)
    with np.errstate(invalid="ignore", over="ignore"):
        excess = np.abs(g - e) - (atol + rtol * np.abs(e))
    excess = np.where(np.isnan(e) & np.isnan(g), -np.inf, excess)
    excess = np.where(np.isinf(e) & (g == e), -np.inf, excess)
    excess = np.where(nan_bad | inf_bad, np.inf, excess)
    excess = np.where(np.isnan(excess), np.inf, excess)
    bad = int(np.count_nonzero(excess > 0))
    if excess.size == 0:
        return 0, (), -np.inf
    flat = int(np.argmax(excess))
    index = tuple(int(i) for i in np.unravel_index(flat, excess.shape))
    return bad, index, float(excess.flat[flat])


def _describe_mismatch(head: str, got: np.ndarray, expected: np.ndarray, atol: float, rtol: float,
                       got_label: str = "got", expected_label: str = "expected") -> str | None:
    """The failure message for ``got`` vs ``expected`` (same shapes), or None if they match."""
    bad, index, _ = _worst(got, expected, atol, rtol)
    if bad == 0:
        return None
    g = got[index] if got.ndim else got[()]
    e = expected[index] if expected.ndim else expected[()]
    where = f"at index {index}" if got.ndim else "(a scalar)"
    diff = abs(float(g) - float(e)) if np.isfinite(g) and np.isfinite(e) else float("nan")
    tol = atol + rtol * abs(float(e)) if np.isfinite(e) else 0.0
    return (f"{head} {where}: {expected_label} {_fmt(e)} but {got_label} {_fmt(g)}; "
            f"|diff| = {diff:.3g} > tolerance {tol:.3g}; "
            f"{bad} of {got.size} element{'s' if got.size != 1 else ''} out of tolerance")


# -- public helpers -----------------------------------------------------------------------------
def assert_arrays_match(what: str, got, expected, atol: float = 1e-6, rtol: float = 1e-5,
                        dtype=None) -> None:
    """Check that ``got`` equals ``expected`` within ``atol + rtol * |expected|``, elementwise.

    ``what`` names the quantity for the message (e.g. ``"conv2d forward"`` or
    ``"sum_to_shape((2, 3, 4) -> (3, 1))"``). ``got`` may be a minigrad Tensor, a NumPy or
    CuPy array or a number; ``expected`` likewise. Shapes must match exactly (no
    broadcasting: a wrong shape is a bug worth its own message). NaN matches only NaN.
    With ``dtype`` given, ``got`` must also have that dtype (e.g. ``np.float32``: the
    training dtype must not be upcast silently). Raises :class:`CheckFailure`.
    """
    g = _to_numpy(got)
    e = _to_numpy(expected)
    if g.shape != e.shape:
        raise CheckFailure(f"{what}: shape {g.shape} but expected shape {e.shape}")
    if dtype is not None and g.dtype != np.dtype(dtype):
        raise CheckFailure(f"{what}: dtype {g.dtype} but expected {np.dtype(dtype)}")
    if g.dtype.kind not in "fciub" or e.dtype.kind not in "fciub":
        if not np.array_equal(g, e):
            raise CheckFailure(f"{what}: got {g!r} but expected {e!r}")
        return
    message = _describe_mismatch(f"{what}: wrong", g, e, atol, rtol)
    if message is not None:
        raise CheckFailure(message)


def _float64_inputs(inputs):
    """Float64 copies of the inputs: float arrays/Tensors are checked, the rest passed as is."""
    import minigrad as mg
    out = []
    for x in inputs:
        if getattr(x, "_is_minigrad_tensor", False):
            data = _to_numpy(x)
            if data.dtype.kind == "f":
                out.append(mg.Tensor(data.astype(np.float64), requires_grad=x.requires_grad))
            else:
                out.append(mg.Tensor(data.copy()))
        elif isinstance(x, np.ndarray) and x.dtype.kind == "f":
            out.append(mg.Tensor(x.astype(np.float64), requires_grad=True))
        else:
            out.append(x)  # integer index arrays, ints, tuples, ... are arguments, not inputs
    return out


def assert_gradients_match(op_name: str, fn, *inputs, atol: float = 1e-5, rtol: float = 1e-4,
                           eps: float = 1e-6, seed: int = 0) -> None:
    """Check minigrad's backward of ``fn`` against a float64 numerical gradient.

    ``fn(*inputs)`` must return one minigrad Tensor. Each input is converted to float64:

    * a float NumPy array becomes a Tensor with ``requires_grad=True`` (checked);
    * a Tensor keeps its ``requires_grad`` flag (pass ``requires_grad=False`` for a
      constant);
    * anything else (integer index arrays, ints, tuples) is passed to ``fn`` unchanged.

    As :func:`minigrad.gradcheck` does, the scalar differentiated is ``<fn(*inputs), v>``
    for a fixed random ``v`` (seeded by ``seed``), so the whole vector-Jacobian product is
    checked; the numerical gradient is the central difference with step ``eps``
    (:func:`minigrad.gradcheck.numerical_gradient`). The backward runs first, so a stubbed
    task shows its ``NotImplementedError``. On a mismatch, raises :class:`CheckFailure`
    naming ``op_name``, the input, the worst element's index, expected (numerical) vs got
    (backward) and how many elements are out of tolerance.
    """
    import minigrad as mg
    from minigrad.gradcheck import numerical_gradient

    tensors = _float64_inputs(inputs)
    checked = [k for k, t in enumerate(tensors)
               if getattr(t, "_is_minigrad_tensor", False) and t.requires_grad]
    if not checked:
        raise ValueError(f"assert_gradients_match({op_name!r}): no input to differentiate "
                         "(pass float arrays, or Tensors with requires_grad=True)")

    # analytic: one backward of <fn(x), v>
    out = fn(*tensors)
    if not getattr(out, "_is_minigrad_tensor", False):
        raise CheckFailure(f"{op_name}: fn returned {type(out).__name__}, not a minigrad Tensor")
    if not out.requires_grad:
        raise CheckFailure(f"{op_name}: the output does not require grad, so no gradient can flow "
                           "back (was the result built outside the tape, e.g. from .data?)")
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(out.shape)
    out.backward(mg.Tensor(v.astype(out.dtype)))
    analytic = {}
    for k in checked:
        t = tensors[k]
        analytic[k] = None if t.grad is None else _to_numpy(t.grad).astype(np.float64)

    # numerical: central differences of the same scalar, in float64
    numeric = numerical_gradient(fn, tensors, v, eps)

    for k in checked:
        t, a, n = tensors[k], analytic[k], numeric[k]
        where = f"{op_name} backward: gradient of input {k} (shape {t.shape})"
        if a is None:
            if np.all(np.abs(n) <= atol):
                continue  # the output does not depend on this input: no gradient is right
            bad, index, _ = _worst(np.zeros_like(n), n, atol, rtol)
            raise CheckFailure(f"{where} was never computed (grad is None), but the numerical "
                               f"gradient is nonzero, e.g. {_fmt(n[index])} at index {index}")
        if a.shape != n.shape:
            raise CheckFailure(f"{where}: backward gave shape {a.shape}, expected {n.shape}")
        message = _describe_mismatch(f"{where} is wrong", a, n, atol, rtol,
                                     got_label="got (backward)",
                                     expected_label="expected (numerical, float64)")
        if message is not None:
            raise CheckFailure(message)


def assert_adjoint_identity(what: str, forward, adjoint, x, y, rtol: float = 1e-10,
                            atol: float = 1e-10) -> None:
    """Check ``<forward(x), y> == <x, adjoint(y)>`` (the dot-product test of a linear map).

    ``forward`` and ``adjoint`` take and return arrays (or Tensors); ``x`` is in the
    domain, ``y`` in the range (use random float64 arrays). A backward that is not the
    exact transpose of its forward (im2col/col2im, conv, pooling) fails this for almost
    any ``x, y``. Raises :class:`CheckFailure` with both inner products.
    """
    fx = _to_numpy(forward(x)).astype(np.float64)
    aty = _to_numpy(adjoint(y)).astype(np.float64)
    x_, y_ = _to_numpy(x).astype(np.float64), _to_numpy(y).astype(np.float64)
    if fx.shape != y_.shape:
        raise CheckFailure(f"{what}: forward(x) has shape {fx.shape} but y has shape {y_.shape}")
    if aty.shape != x_.shape:
        raise CheckFailure(f"{what}: adjoint(y) has shape {aty.shape} but x has shape {x_.shape}")
    lhs = float((fx * y_).sum())
    rhs = float((x_ * aty).sum())
    if abs(lhs - rhs) > atol + rtol * max(abs(lhs), abs(rhs)):
        raise CheckFailure(f"{what}: adjoint identity fails: <A x, y> = {lhs:.12g} but "
                           f"<x, A^T y> = {rhs:.12g} (|diff| = {abs(lhs - rhs):.3g})")


# -- one Function by hand, without the tape -------------------------------------------------------
def _new_node(cls, n_inputs: int):
    """A fresh node of ``cls`` set up as ``Function.apply`` would: NumPy, every input's
    gradient wanted."""
    fn = cls()
    fn.xp = np
    fn.needs_input_grad = (True,) * n_inputs
    return fn


def function_backward(cls, inputs, grad, **kwargs) -> tuple:
    """The gradients ``cls.backward(grad)`` returns after ``cls.forward(*inputs, **kwargs)``.

    ``cls`` is a :class:`minigrad.Function` subclass; ``inputs`` are plain NumPy arrays and
    ``kwargs`` the op's non-differentiable arguments (an exponent, an axis). No tape is
    involved, so this tests an op's backward even before ``Tensor.backward`` works. The
    result is always a tuple, one entry per gradient returned.
    """
    fn = _new_node(cls, len(inputs))
    fn.forward(*inputs, **kwargs)
    out = fn.backward(grad)
    return out if isinstance(out, tuple) else (out,)


def _numerical_vjp(cls, inputs, grad, eps: float, **kwargs) -> list:
    """Central differences of ``<forward(inputs), grad>`` for each input, in float64."""
    def value(args):
        return float((_new_node(cls, len(args)).forward(*args, **kwargs) * grad).sum())
    grads = []
    for k, x in enumerate(inputs):
        g = np.zeros_like(x, dtype=np.float64)
        for i in np.ndindex(x.shape):
            plus = [a.copy() for a in inputs]
            minus = [a.copy() for a in inputs]
            plus[k][i] += eps
            minus[k][i] -= eps
            g[i] = (value(plus) - value(minus)) / (2 * eps)
        grads.append(g)
    return grads


def assert_function_backward_matches(name: str, cls, inputs, seed: int = 0, atol: float = 1e-6,
                                     rtol: float = 1e-5, eps: float = 1e-6, **kwargs) -> None:
    """Check one ``Function``'s backward, run by hand, against a numerical gradient.

    The inputs are converted to float64; ``cls.forward(*inputs, **kwargs)`` runs on plain
    arrays and ``cls.backward(v)`` is called with a fixed random ``v`` (seeded by
    ``seed``) of the output's shape - no tape, so an op is graded on its own backward
    (:func:`assert_gradients_match` goes through ``Tensor.backward`` instead). Each
    returned gradient is compared with the central differences (step ``eps``) of
    ``<forward(inputs), v>``. Raises :class:`CheckFailure` naming ``name``, the input, the
    worst element and expected vs got, or saying how many gradients came back for how
    many inputs when the counts differ.
    """
    inputs = [np.asarray(x, dtype=np.float64) for x in inputs]
    out = _new_node(cls, len(inputs)).forward(*[x.copy() for x in inputs], **kwargs)
    v = np.random.default_rng(seed).standard_normal(np.shape(out))
    got = function_backward(cls, [x.copy() for x in inputs], v, **kwargs)
    if len(got) != len(inputs):
        raise CheckFailure(f"{name} backward returned {len(got)} gradient(s) for "
                           f"{len(inputs)} input(s)")
    expected = _numerical_vjp(cls, inputs, v, eps, **kwargs)
    for k, (g, e) in enumerate(zip(got, expected)):
        if g is None:
            raise CheckFailure(f"{name} backward: gradient of input {k} (shape {e.shape}) "
                               "is None, but every input's gradient was asked for")
        assert_arrays_match(f"{name} backward: gradient of input {k} (shape {e.shape})",
                            g, e, atol=atol, rtol=rtol)
