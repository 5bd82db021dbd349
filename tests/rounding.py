"""How far apart two float results of the same arithmetic may be when their sums run in
different orders: the one tolerance helper that every such comparison in the suite uses.

A sum of n terms t_i computed in floating point, in any order, is within (n - 1) u sum |t_i|
of the exact sum to first order, u = eps / 2 being the unit round-off (Higham, *Accuracy and
Stability of Numerical Algorithms*, 2nd ed., section 4.2). Two different orders of the same
sum are therefore within (n - 1) eps sum |t_i| of each other. Which order a machine uses is
not ours to fix: another CPU's BLAS picks another kernel, blocks the GEMM differently and
sums in another order (the suite was red on an AMD EPYC machine because a test allowed a
fixed 1e-6 where the difference was 2.4e-6 on a value of 5e-4 whose terms cancel).

So a comparison takes its tolerance from three facts, never from a fixed 1e-6:

* ``dtype``: float32's eps is 1.19e-7, float64's 2.2e-16;
* ``n_terms``: the length of the sums behind one element. Through a chain of layers the
  first-order errors add, each layer's amplified by the absolute values of the layers after
  it, so a chain of conv/linear layers (ReLU and max pooling are 1-Lipschitz) uses the *sum*
  of the layers' reduction lengths;
* ``magnitude``: the size of the terms before they cancel. An element whose terms cancel
  (a value of 5e-4 made of terms of size 1) is measured against the scale of its tensor, not
  its own value, so the default is the largest |value| of the expected tensor: in a
  well-scaled network a layer's terms are about as large as its largest outputs. (The strict
  bound, sum |t_i| per element, is what the network computes from |x| with |weights|; for
  the three-conv GTSRB extractor that is ~2,000 times the largest output, a tolerance that
  would accept a wrong network, so the suite does not use it.)

Exact equality stays the claim wherever the order of operations is provably the same.
"""
from __future__ import annotations

import numpy as np


def eps(dtype) -> float:
    """Machine epsilon of a float dtype (the gap between 1 and the next number)."""
    return float(np.finfo(np.dtype(dtype)).eps)


def rounding_atol(dtype, n_terms: int, magnitude):
    """(n_terms - 1) * eps(dtype) * magnitude: the largest first-order difference between
    two summation orders of ``n_terms`` terms whose absolute values add to ``magnitude``."""
    if n_terms < 1:
        raise ValueError(f"rounding_atol: n_terms must be >= 1, got {n_terms}")
    return max(n_terms - 1, 1) * eps(dtype) * np.asarray(magnitude, dtype=np.float64)


def assert_close_up_to_rounding(actual, desired, *, n_terms: int, magnitude=None, dtype=None,
                                err_msg: str = "") -> None:
    """Assert that ``actual`` and ``desired`` are the same computation up to the order of its
    sums (see the module docstring for ``n_terms`` and ``magnitude``).

    ``dtype`` defaults to the coarser of the two arrays' dtypes; ``magnitude`` to the
    largest |value| of ``desired`` (a scalar or an array broadcasting against it).
    """
    actual, desired = np.asarray(actual), np.asarray(desired)
    if dtype is None:
        dtype = max((a.dtype for a in (actual, desired) if a.dtype.kind == "f"),
                    key=lambda d: eps(d), default=np.float64)
    if magnitude is None:
        magnitude = np.abs(desired.astype(np.float64)).max(initial=0.0)
    atol = rounding_atol(dtype, n_terms, magnitude)
    diff = np.abs(actual.astype(np.float64) - desired.astype(np.float64))
    bad = diff > np.broadcast_to(atol, diff.shape)
    if bad.any():
        i = np.unravel_index(np.argmax(np.where(bad, diff - np.broadcast_to(atol, diff.shape),
                                                -np.inf)), diff.shape)
        limit = float(np.broadcast_to(atol, diff.shape)[i])
        raise AssertionError(
            f"{err_msg + ': ' if err_msg else ''}{int(bad.sum())} of {diff.size} elements differ "
            f"by more than rounding allows ({np.dtype(dtype).name}, {n_terms} terms); worst at "
            f"{tuple(int(k) for k in i)}: {float(actual[i])!r} vs {float(desired[i])!r}, "
            f"|diff| {float(diff[i]):.3g} > {limit:.3g}")


def reduction_lengths(module) -> int:
    """The ``n_terms`` of a chain of conv/linear layers: the sum of their fan-ins (in
    channels x kernel area, or in features), plus one per bias."""
    from minigrad import nn

    total = 0
    for _, m in module.named_modules():
        if isinstance(m, nn.Conv2d):
            total += m.in_channels * m.kernel_size[0] * m.kernel_size[1] + (m.bias is not None)
        elif isinstance(m, nn.Linear):
            total += m.in_features + (m.bias is not None)
    return total
