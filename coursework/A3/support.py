"""Fixtures shared by the convolution tests (assignment 3, and the layers of assignment 4):
plain-loop references of im2col, col2im and conv2d in float64, and the gradient check of
conv2d in one geometry.

The references follow the definitions one window at a time: slow, obviously right, and
written in the layout minigrad uses (rows ordered (n, a, b), columns (i, j, c)). The
grader runs the instructor's copy of this file, so editing it changes nothing in a grade.
"""
from __future__ import annotations

import numpy as np

from coursework.checks import assert_gradients_match

__all__ = ["out_size", "pair", "reference_im2col", "reference_col2im", "reference_conv2d",
           "check_conv2d_backward"]


def out_size(size: int, k: int, s: int, p: int) -> int:
    """Windows of size ``k`` at stride ``s`` over ``size`` padded by ``p`` on each side."""
    return (size + 2 * p - k) // s + 1


def pair(v) -> tuple:
    """``(v, v)`` for an int; a (height, width) tuple as it is."""
    return tuple(v) if isinstance(v, tuple) else (v, v)


def reference_im2col(x, kh, kw, stride, padding):
    """cols[(n*OH + a)*OW + b, (i*KW + j)*C + c] = xpad[n, c, a*sh + i, b*sw + j].

    ``stride`` and ``padding`` are ints or (height, width) pairs."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    n, c, h, w = x.shape
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = out_size(h, kh, sh, ph), out_size(w, kw, sw, pw)
    cols = np.zeros((n * oh * ow, kh * kw * c))
    for m in range(n):
        for a in range(oh):
            for b in range(ow):
                patch = xpad[m, :, a * sh:a * sh + kh, b * sw:b * sw + kw]      # (C, KH, KW)
                cols[(m * oh + a) * ow + b] = patch.transpose(1, 2, 0).ravel()
    return cols


def reference_col2im(cols, x_shape, kh, kw, stride, padding, overwrite: bool = False):
    """Each row of ``cols`` added back to the input window it was copied from.

    With ``overwrite=True`` overlapping windows overwrite each other instead of adding up
    (the classic col2im bug; used to show that a check catches it)."""
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    n, c, h, w = x_shape
    oh, ow = out_size(h, kh, sh, ph), out_size(w, kw, sw, pw)
    xpad = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    for m in range(n):
        for a in range(oh):
            for b in range(ow):
                patch = cols[(m * oh + a) * ow + b].reshape(kh, kw, c).transpose(2, 0, 1)
                window = (m, slice(None), slice(a * sh, a * sh + kh), slice(b * sw, b * sw + kw))
                xpad[window] = patch if overwrite else xpad[window] + patch
    return xpad[:, :, ph:ph + h, pw:pw + w]


def reference_conv2d(x, w, b=None, stride=1, padding=0):
    """conv2d (cross-correlation, NCHW, weights (F, C, KH, KW)) through
    :func:`reference_im2col`, in float64; ``b`` may be None."""
    f, c, kh, kw = w.shape
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    n = x.shape[0]
    oh, ow = out_size(x.shape[2], kh, sh, ph), out_size(x.shape[3], kw, sw, pw)
    cols = reference_im2col(np.asarray(x, dtype=np.float64), kh, kw, stride, padding)
    out = cols @ np.asarray(w, dtype=np.float64).transpose(2, 3, 1, 0).reshape(-1, f)
    if b is not None:
        out = out + np.asarray(b, dtype=np.float64)
    return out.reshape(n, oh, ow, f).transpose(0, 3, 1, 2)


def check_conv2d_backward(rng, shape, kh, kw, stride, padding, filters: int) -> None:
    """``ops.conv2d``'s gradients of x, w and b against float64 numerical ones, for random
    inputs of this geometry (``filters`` output channels)."""
    from minigrad import ops
    x = rng.standard_normal(shape)
    w = rng.standard_normal((filters, shape[1], kh, kw))
    b = rng.standard_normal(filters)

    def conv(x_, w_, b_):
        return ops.conv2d(x_, w_, b_, stride=stride, padding=padding)
    assert_gradients_match(f"conv2d ({kh}x{kw}, stride {stride}, padding {padding}, "
                           f"input {shape})", conv, x, w, b)
