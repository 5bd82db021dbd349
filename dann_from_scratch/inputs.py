"""Turning user data into network inputs.

Images may be (N, H, W, C) (any dtype; uint8 is scaled to [0, 1]) or already (N, C, H, W); a
one-channel image is repeated over the model's channels (MNIST fed to the 3-channel
MNIST/MNIST-M network); feature vectors are (N, D). Every input is converted to float32 and
mean-subtracted: ``model.input_mean`` is the per-channel mean (per-feature for vectors) of the
training inputs, taken as the average of the source mean and the target mean (so each domain
weighs half, as in every batch). The trainer computes it once at the start (if the model has
none yet) and stores it on the model and in every checkpoint.

Labels are checked here too: integers (or integral floats) in [0, num_classes).
"""
from __future__ import annotations

import numpy as np

__all__ = ["split_xy", "check_finite", "check_labels", "input_layout", "to_float32",
           "to_network_input", "prepare_inputs", "compute_input_mean"]


def split_xy(data, what: str, need_labels: bool):
    """(X, y) from an array X or a pair (X, y); y is None when absent."""
    if data is None:
        raise ValueError(f"{what}: no data given")
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ValueError(f"{what}: expected an array or a pair (X, y), got a sequence of "
                             f"length {len(data)}")
        x, y = data
    else:
        x, y = data, None
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"{what}: the set is empty (X has shape {tuple(x.shape)})")
    if y is None and need_labels:
        raise ValueError(f"{what}: labels are needed here; pass a pair (X, y)")
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"{what}: labels of shape {y.shape} do not match {len(x)} inputs "
                             f"(expected ({len(x)},))")
    return x, y


def check_finite(x, what: str, chunk: int = 4096) -> None:
    """A ValueError naming ``what`` if the array ``x`` holds NaN or infinity (scikit-learn's
    rule: training on such input gives NaN weights). Integer arrays are always finite; float
    arrays are scanned in chunks of rows, so no full-size mask is made."""
    x = np.atleast_1d(np.asarray(x))
    if x.dtype.kind not in "fc":
        return
    bad = 0
    for start in range(0, len(x), chunk):
        block = x[start:start + chunk]
        bad += block.size - np.count_nonzero(np.isfinite(block))
    if bad:
        raise ValueError(f"{what} holds {bad} NaN or infinite value(s); remove or impute them "
                         f"before training")


def check_labels(y, num_classes, what: str):
    """``y`` as int64 labels in [0, num_classes); integral floats are accepted."""
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        else:
            raise TypeError(f"{what}: labels must be integers, got dtype {y.dtype}")
    if num_classes is not None and len(y):
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"{what}: labels must lie in [0, {num_classes}) for a model with "
                             f"{num_classes} classes, got values in [{lo}, {hi}]")
    return y.astype(np.int64, copy=False)


def input_layout(shape, input_shape, what: str) -> str:
    """How to turn arrays of ``shape`` into (N,) + input_shape; a clear error if impossible."""
    per_example = tuple(shape[1:])
    if input_shape is None or per_example == tuple(input_shape):
        return "as_is"
    if len(input_shape) == 3:
        c, h, w = input_shape
        if per_example == (h, w, c):
            return "nhwc"
        if per_example in ((h, w), (h, w, 1), (1, h, w)):
            return "gray"
        expected = f"(N, {c}, {h}, {w}) or (N, {h}, {w}, {c})"
    else:
        expected = f"(N, {', '.join(map(str, input_shape))})"
    raise ValueError(f"{what}: inputs of shape {tuple(shape)} do not match the model's input "
                     f"shape {tuple(input_shape)}; expected {expected}")


def to_float32(x, layout: str, input_shape) -> np.ndarray:
    """``x`` as contiguous float32 (N,) + input_shape, by the ``layout`` of :func:`input_layout`
    (uint8 scaled to [0, 1])."""
    x = np.asarray(x)
    scale = 1.0 / 255.0 if x.dtype == np.uint8 else None
    x = x.astype(np.float32)
    if scale is not None:
        x *= np.float32(scale)
    if layout == "nhwc":
        x = x.transpose(0, 3, 1, 2)
    elif layout == "gray":
        c, h, w = input_shape
        x = np.broadcast_to(x.reshape(len(x), 1, h, w), (len(x), c, h, w))
    return np.ascontiguousarray(x, dtype=np.float32)


def to_network_input(x, layout: str, input_shape, mean) -> np.ndarray:
    """:func:`to_float32`, minus ``mean`` unless it is None: the rows the network sees."""
    out = to_float32(x, layout, input_shape)
    if mean is not None:
        out -= mean
    return out


def prepare_inputs(x, model, what: str = "inputs") -> np.ndarray:
    """Raw inputs -> float32 network inputs (N,) + model.input_shape, minus ``model.input_mean``."""
    input_shape = getattr(model, "input_shape", None)
    return to_network_input(x, input_layout(np.shape(x), input_shape, what), input_shape,
                            getattr(model, "input_mean", None))


def compute_input_mean(arrays, input_shape, chunk: int = 4096) -> np.ndarray:
    """The average over domains of each domain's mean input: per channel, shape (C, 1, 1), for
    images; per feature, shape (D,), for vectors. Computed in chunks (no full float copy)."""
    means = []
    for x in arrays:
        layout = input_layout(np.shape(x), input_shape, "compute_input_mean")
        total, count = None, 0
        for start in range(0, len(x), chunk):
            block = to_float32(x[start:start + chunk], layout, input_shape).astype(np.float64)
            axes = (0, 2, 3) if block.ndim == 4 else (0,)
            s = block.sum(axis=axes)
            total = s if total is None else total + s
            count += block.size // s.size
        means.append(total / count)
    mean = np.mean(means, axis=0).astype(np.float32)
    return mean.reshape(-1, 1, 1) if len(input_shape or ()) == 3 else mean
