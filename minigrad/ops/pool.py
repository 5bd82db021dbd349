"""2-D max and average pooling over NCHW input.

Both poolings are *separable*: a 2-D window's maximum (or sum) is the maximum (sum) over
the window's columns of the maximum (sum) over its rows. So a ``KH x KW`` pooling is done
as a 1-D pooling along H followed by a 1-D pooling along W, and a 1-D pooling of kernel
``k`` and stride ``s`` is ``k - 1`` elementwise ops between ``k`` strided slices::

    out = max(x[0 : 0 + s*(L-1) + 1 : s], x[1 : 1 + s*(L-1) + 1 : s], ...)

This works for any kernel, stride and padding (overlapping 3x3/2 windows included), costs
``KH + KW - 2`` ops instead of ``KH*KW - 1``, and each op is a whole-array NumPy call. The
slices along H come first: in the channels-last memory that :func:`~minigrad.ops.conv2d`
produces (an NCHW view of NHWC memory), rows are long contiguous runs, so the first pass
is cheap and halves the data the second pass sees. NumPy's elementwise ops follow the
memory order of their inputs, so the result is channels-last again, ready for the next
convolution without a copy.

Max pooling records, per output and per pass, which of the ``k`` slices won (the first
one on ties, so exactly one input element receives each output's gradient); the backward
routes the gradient through the two passes in reverse. Average pooling counts padded
zeros in the denominator (PyTorch's default ``count_include_pad=True``).

Output sizes use the floor rule: ``OH = floor((H + 2*ph - KH) / sh) + 1``, so trailing
rows/columns that fit no whole window are ignored (and get zero gradient).
"""
from __future__ import annotations

from ..function import Function
from .conv import _pair, conv_output_size

__all__ = ["MaxPool2d", "AvgPool2d", "max_pool2d", "avg_pool2d"]


def _pool_geometry(op, x, kernel_size, stride, padding):
    """Validate the arguments against the NCHW input ``x``; return
    ``((kh, kw), (sh, sw), (ph, pw), (oh, ow))``."""
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}")
    kh, kw = _pair(kernel_size, "kernel_size", op)
    sh, sw = _pair(kernel_size if stride is None else stride, "stride", op)
    ph, pw = _pair(padding, "padding", op)
    if kh < 1 or kw < 1:
        raise ValueError(f"{op}: kernel_size must be positive, got {kernel_size!r} (input shape {x.shape})")
    if sh < 1 or sw < 1:
        raise ValueError(f"{op}: stride must be a positive integer, got {stride!r} (input shape {x.shape})")
    if ph < 0 or pw < 0 or 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"{op}: padding must be between 0 and half the kernel size, got padding "
                         f"{padding!r} for kernel {kh}x{kw} (input shape {x.shape})")
    h, w = x.shape[2], x.shape[3]
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(f"{op}: kernel {kh}x{kw} is larger than the padded input "
                         f"{h + 2 * ph}x{w + 2 * pw} (input shape {x.shape}, padding {padding!r})")
    oh = conv_output_size(h, kh, sh, ph)
    ow = conv_output_size(w, kw, sw, pw)
    return (kh, kw), (sh, sw), (ph, pw), (oh, ow)


def _window(axis: int, offset: int, stride: int, length: int) -> tuple:
    """Index selecting, along ``axis`` of a 4-D array, element ``offset + stride*t`` for
    t = 0..length-1 (the ``offset``-th member of every window)."""
    index = [slice(None)] * 4
    index[axis] = slice(offset, offset + stride * (length - 1) + 1, stride)
    return tuple(index)


def _pad_axis(xp, x, axis: int, pad: int, value):
    """``x`` with ``pad`` copies of ``value`` added at both ends of ``axis`` (one copy, in
    the memory order of ``x``)."""
    shape = list(x.shape)
    shape[axis] += 2 * pad
    out = xp.full_like(x, value, shape=tuple(shape))
    inner = [slice(None)] * 4
    inner[axis] = slice(pad, pad + x.shape[axis])
    out[tuple(inner)] = x
    return out


def _unpad_axis(g, axis: int, pad: int, size: int):
    if not pad:
        return g
    inner = [slice(None)] * 4
    inner[axis] = slice(pad, pad + size)
    return g[tuple(inner)]


def _grad_buffer(xp, like, axis, k, s, length):
    """The array the backward of one pass writes into: shape, dtype and memory order of the
    pass's input ``like`` (channels-last stays channels-last, so no op on the way back
    works against the memory order). Uninitialised when the ``k`` slices tile the axis
    exactly (every element gets written), zeros otherwise (gaps, leftovers, overlaps)."""
    if k == s and k * length == like.shape[axis]:
        return xp.empty_like(like)
    return xp.zeros_like(like)


class MaxPool2d(Function):
    """Maximum over each ``KH x KW`` window (padding counts as -inf)."""

    def forward(self, x, kernel_size, stride=None, padding=0):
        xp = self.xp
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = _pool_geometry("max_pool2d", x, kernel_size, stride,
                                                                 padding)
        self.passes = []  # per pass: (axis, k, s, pad, size before padding, padded input, winner)
        out = x
        for axis, k, s, p, length in ((2, kh, sh, ph, oh), (3, kw, sw, pw, ow)):
            in_size = out.shape[axis]
            if p:
                out = _pad_axis(xp, out, axis, p, x.dtype.type(-float("inf")))
            padded = out
            out, winner = self._max_1d(out, axis, k, s, length)
            self.passes.append((axis, k, s, p, in_size, padded, winner))
        return out

    def _max_1d(self, x, axis, k, s, length):
        """Running maximum over the ``k`` slices, and which slice won (first on ties).
        ``winner`` is a bool array for k == 2 (the common case: True = second slice)."""
        xp = self.xp
        if k == 1:
            return x[_window(axis, 0, s, length)], None
        first = x[_window(axis, 0, s, length)]
        second = x[_window(axis, 1, s, length)]
        m = xp.maximum(first, second)
        winner = second > first
        if k == 2:
            return m, winner
        index = xp.uint8 if k < 256 else xp.int32
        winner = winner.astype(index)
        for d in range(2, k):
            v = x[_window(axis, d, s, length)]
            better = v > m
            m = xp.maximum(m, v)
            # the last slice that beat the running maximum wins; d only grows, so a
            # maximum records it without a per-element branch (``where`` would branch)
            winner = xp.maximum(winner, better * index(d))
        return m, winner

    def backward(self, grad):
        # Each pass routes its output gradient to the winning slice. The mask is applied
        # by multiplying with the boolean winner array, not with ``where``: ``where``
        # branches per element, which is several times slower when winners are random.
        xp = self.xp
        g = grad
        for axis, k, s, p, in_size, padded, winner in reversed(self.passes):
            length = g.shape[axis]
            gin = _grad_buffer(xp, padded, axis, k, s, length)
            for d in range(k):
                view = gin[_window(axis, d, s, length)]
                if k == 1:
                    view[...] = g
                    continue
                mask = (winner if d else ~winner) if k == 2 else winner == d
                if k > s:  # overlapping windows: an input element may win several times
                    xp.add(view, g * mask, out=view)
                else:
                    xp.multiply(g, mask, out=view)
            g = _unpad_axis(gin, axis, p, in_size)
        return g


class AvgPool2d(Function):
    """Mean over each ``KH x KW`` window (padding counts as zeros in the mean)."""

    def forward(self, x, kernel_size, stride=None, padding=0):
        xp = self.xp
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = _pool_geometry("avg_pool2d", x, kernel_size, stride,
                                                                 padding)
        self.passes = []
        out = x
        for axis, k, s, p, length in ((2, kh, sh, ph, oh), (3, kw, sw, pw, ow)):
            in_size = out.shape[axis]
            if p:
                out = _pad_axis(xp, out, axis, p, x.dtype.type(0))
            padded = out
            total = out[_window(axis, 0, s, length)]
            for d in range(1, k):
                total = total + out[_window(axis, d, s, length)]
            out = total
            self.passes.append((axis, k, s, p, in_size, padded))
        self.scale = x.dtype.type(1.0 / (kh * kw))
        return out * self.scale

    def backward(self, grad):
        xp = self.xp
        g = grad * self.scale
        for axis, k, s, p, in_size, padded in reversed(self.passes):
            length = g.shape[axis]
            gin = _grad_buffer(xp, padded, axis, k, s, length)
            for d in range(k):
                view = gin[_window(axis, d, s, length)]
                if k > s:
                    xp.add(view, g, out=view)
                else:
                    view[...] = g
            g = _unpad_axis(gin, axis, p, in_size)
        return g


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max pooling over ``kernel_size`` windows of NCHW ``x``; ``stride`` defaults to
    ``kernel_size``; ``padding`` (at most half the kernel) pads with -inf. Ints or
    (height, width) pairs. The gradient goes to one maximal element per window."""
    return MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Average pooling over ``kernel_size`` windows of NCHW ``x``; ``stride`` defaults to
    ``kernel_size``; zero ``padding`` counts in the mean. Ints or (height, width) pairs."""
    return AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)
