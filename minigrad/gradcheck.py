"""Numerical gradient checks: is ``backward`` telling the truth?

``gradcheck(fn, *inputs)`` compares the gradients that minigrad's backward computes
against central differences ``(f(x + eps) - f(x - eps)) / (2 eps)``, in float64 so that
round-off does not drown the signal. The scalar being differentiated is ``<fn(*inputs), v>``
for a fixed random ``v``, which checks the whole vector-Jacobian product, not just
the gradient of a sum.

Two modes:

* full (default): perturb every element of every input, one at a time. Exact location
  of any error; costs two evaluations of ``fn`` per element.
* directional (``directional=True``): perturb all inputs at once along a random direction
  ``u`` and compare ``<grad, u>`` with the directional difference quotient. Costs two
  evaluations however large the inputs are (Chainer's checker does this); it finds that
  something is wrong, not where.

On failure :class:`GradcheckError` reports the worst element: input, index, analytic and
numeric values.
"""
from __future__ import annotations

from . import backend
from .tensor import Tensor, no_grad

np = backend.numpy_module  # checks run on the CPU in float64

__all__ = ["gradcheck", "numerical_gradient", "GradcheckError", "adjoint_gap"]


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree beyond the tolerance."""


def _evaluate(fn, inputs, v):
    """<fn(*inputs), v> as a Python float, without recording a graph."""
    with no_grad():
        out = fn(*inputs)
    data = backend.to_numpy(out.data)
    return float((data.astype(np.float64) * v).sum())


def numerical_gradient(fn, inputs, v, eps: float = 1e-6) -> list:
    """Central-difference gradients of ``<fn(*inputs), v>`` for each input that requires grad."""
    grads = []
    for t in inputs:
        if not (isinstance(t, Tensor) and t.requires_grad):
            grads.append(None)
            continue
        if not t.data.flags.c_contiguous:
            # a C-ordered copy, so that reshape(-1) below is a view. (Not ascontiguousarray:
            # it turns a 0-d array into shape (1,), changing the input's shape.)
            t.data = t.data.copy()
        flat = t.data.reshape(-1)  # a view: writing to it perturbs t in place
        g = np.zeros(t.size, dtype=np.float64)
        for i in range(t.size):
            old = flat[i].item()
            flat[i] = old + eps
            plus = _evaluate(fn, inputs, v)
            flat[i] = old - eps
            minus = _evaluate(fn, inputs, v)
            flat[i] = old
            g[i] = (plus - minus) / (2 * eps)
        grads.append(g.reshape(t.shape))
    return grads


def _analytic_gradient(fn, inputs, v):
    for t in inputs:
        if isinstance(t, Tensor):
            t.grad = None
    out = fn(*inputs)
    if not isinstance(out, Tensor) or not out.requires_grad:
        raise GradcheckError("gradcheck: fn's output does not depend on any input that requires grad")
    xp = backend.get_array_module(out)
    out.backward(xp.asarray(v, dtype=out.dtype))
    grads = []
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad:
            g = t.grad if t.grad is not None else xp.zeros_like(t.data)
            grads.append(backend.to_numpy(g).astype(np.float64))
        else:
            grads.append(None)
    return grads


def gradcheck(fn, *inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4,
              directional: bool = False, seed: int = 0) -> bool:
    """Check ``fn``'s backward against central differences; return True or raise.

    ``fn`` maps the tensors in ``inputs`` to one tensor. Inputs that should be checked
    must be float64 tensors with ``requires_grad=True`` (float32 has too few digits for
    a difference quotient to mean anything). Pass ``directional=True`` for large inputs.
    """
    checked = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for t in checked:
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck: inputs must be float64 for a meaningful numerical "
                            f"gradient, got {t.dtype} (shape {t.shape}); use .astype(np.float64)")
    rng = np.random.default_rng(seed)
    with no_grad():
        out_shape = fn(*inputs).shape
    v = rng.standard_normal(out_shape)

    analytic = _analytic_gradient(fn, inputs, v)

    if directional:
        directions = [rng.standard_normal(t.shape) if (isinstance(t, Tensor) and t.requires_grad)
                      else None for t in inputs]
        originals = [t.data.copy() if d is not None else None for t, d in zip(inputs, directions)]

        def shifted(sign):
            for t, d, o in zip(inputs, directions, originals):
                if d is not None:
                    xp = backend.get_array_module(t)
                    t.data[...] = o + sign * eps * xp.asarray(d)
            value = _evaluate(fn, inputs, v)
            for t, o in zip(inputs, originals):
                if o is not None:
                    t.data[...] = o
            return value

        numeric = (shifted(+1) - shifted(-1)) / (2 * eps)
        predicted = sum(float((a * d).sum()) for a, d in zip(analytic, directions) if d is not None)
        if abs(predicted - numeric) > atol + rtol * abs(numeric):
            raise GradcheckError(
                f"gradcheck (directional): <grad, u> = {predicted:.10g} but the difference "
                f"quotient along u is {numeric:.10g} (|diff| = {abs(predicted - numeric):.3g})")
        return True

    numeric = numerical_gradient(fn, inputs, v, eps)
    worst = None  # (excess over tolerance, input index, element index, analytic, numeric)
    for k, (a, n) in enumerate(zip(analytic, numeric)):
        if a is None:
            continue
        excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        i = int(np.argmax(excess)) if excess.size else 0
        if excess.size and (worst is None or excess.flat[i] > worst[0]):
            worst = (excess.flat[i], k, np.unravel_index(i, a.shape), a.flat[i], n.flat[i])
    if worst is not None and worst[0] > 0:
        _, k, idx, a_val, n_val = worst
        raise GradcheckError(
            f"gradcheck: input {k} (shape {inputs[k].shape}) at index {tuple(int(i) for i in idx)}: "
            f"analytic {a_val:.10g} vs numeric {n_val:.10g} "
            f"(|diff| = {abs(a_val - n_val):.3g}, tolerance {atol + rtol * abs(n_val):.3g})")
    return True


def adjoint_gap(forward, adjoint, x_shape, y_shape, seed: int = 0) -> float:
    """How far ``adjoint`` is from being the adjoint (transpose) of the linear map ``forward``.

    Draws random float64 arrays ``x`` of ``x_shape`` and ``y`` of ``y_shape`` and returns the
    relative gap ``|<A x, y> - <x, A^T y>| / max(|<A x, y>|, |<x, A^T y>|)`` between the two
    inner products, with ``A = forward`` and ``A^T = adjoint`` (functions of NumPy arrays).
    For a true adjoint pair it is round-off, about 1e-15; a backward that drops, doubles or
    misplaces contributions (a col2im that overwrites where windows overlap, say) gives a gap
    near 1. Only linear maps have an adjoint: im2col/col2im, a convolution in its input,
    pooling's gradient routing. 0.0 when both inner products are exactly 0.
    """
    # BEGIN SOLUTION A3.4
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(tuple(x_shape))
    y = rng.standard_normal(tuple(y_shape))
    ax = backend.to_numpy(forward(x))
    aty = backend.to_numpy(adjoint(y))
    if ax.shape != y.shape:
        raise ValueError(f"adjoint_gap: forward(x) has shape {ax.shape}, expected y_shape {y.shape}")
    if aty.shape != x.shape:
        raise ValueError(f"adjoint_gap: adjoint(y) has shape {aty.shape}, expected x_shape {x.shape}")
    lhs = float((ax.astype(np.float64) * y).sum())
    rhs = float((x * aty.astype(np.float64)).sum())
    scale = max(abs(lhs), abs(rhs))
    return 0.0 if scale == 0.0 else abs(lhs - rhs) / scale
    # END SOLUTION
