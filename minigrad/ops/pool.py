"""2-D max and average pooling over NCHW input: the fast separable ``MaxPool2d`` and
``AvgPool2d``, and beside them the slow, obviously correct ``max_pool2d_simple`` and
``avg_pool2d_simple``.

A ``KH x KW`` pooling is done as a 1-D pooling along H followed by one along W, each a few
whole-array operations between strided slices, a few images at a time on the CPU. Why, and
how the gradient is routed back: docs/performance.md, section "Pooling". Output sizes use
the floor rule (:func:`~minigrad.ops.geometry.conv_output_size`): trailing rows and columns
that fit no whole window are ignored (and get zero gradient).
"""
from __future__ import annotations

from ..function import Function
from ..tensor import Tensor
from ..threads import map_groups
from . import reductions
from .conv import batch_groups, windows_simple
from .geometry import ConvGeometry, check_window_fits, pair

__all__ = ["MaxPool2d", "AvgPool2d", "max_pool2d", "avg_pool2d", "max_pool2d_simple",
           "avg_pool2d_simple"]

GROUP_BYTES = 1 << 20  # input bytes per group of images on the CPU (see conv.batch_groups)


def _pool_geometry(op, x, kernel_size, stride, padding) -> ConvGeometry:
    """Validate the arguments against the NCHW input ``x``; return the window geometry."""
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}")
    kh, kw = pair(kernel_size, "kernel_size", op)
    sh, sw = pair(kernel_size if stride is None else stride, "stride", op)
    ph, pw = pair(padding, "padding", op)
    if kh < 1 or kw < 1:
        raise ValueError(f"{op}: kernel_size must be positive, got {kernel_size!r} (input shape {x.shape})")
    if sh < 1 or sw < 1:
        raise ValueError(f"{op}: stride must be a positive integer, got {stride!r} (input shape {x.shape})")
    if ph < 0 or pw < 0 or 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"{op}: padding must be between 0 and half the kernel size, got padding "
                         f"{padding!r} for kernel {kh}x{kw} (input shape {x.shape})")
    check_window_fits(op, x.shape, kh, kw, ph, pw, padding)
    return ConvGeometry.of(x.shape, kh, kw, sh, sw, ph, pw)


def _window(axis: int, offset: int, stride: int, length: int) -> tuple:
    """Index selecting, along ``axis`` of a 4-D array, element ``offset + stride*t`` for
    t = 0..length-1 (the ``offset``-th member of every window)."""
    index = [slice(None)] * 4
    index[axis] = slice(offset, offset + stride * (length - 1) + 1, stride)
    return tuple(index)


class _Pool2d(Function):
    """What max and average pooling share: geometry, padding, the two separable passes
    done a group of images at a time, and the routing of gradients back through them.

    Memory layout: every intermediate is allocated with ``empty_like`` from the input, so
    it keeps the input's memory order (channels-last when the input came from a conv).
    """

    float_inputs_only = True

    op = "pool2d"
    pad_value = 0.0

    def forward(self, x, kernel_size, stride=None, padding=0):
        xp = self.xp
        g = _pool_geometry(self.op, x, kernel_size, stride, padding)
        (ph, pw), (oh, ow) = (g.ph, g.pw), (g.oh, g.ow)
        n, c, h, w = x.shape
        if ph or pw:  # pad once, both axes; the passes then need no padding logic
            xpad = xp.full_like(x, x.dtype.type(self.pad_value), shape=(n, c, h + 2 * ph, w + 2 * pw))
            xpad[:, :, ph:ph + h, pw:pw + w] = x
        else:
            xpad = x
        rows = xp.empty_like(xpad, shape=(n, c, oh, xpad.shape[3]))  # after the pass along H
        out = xp.empty_like(xpad, shape=(n, c, oh, ow))              # after the pass along W
        self.passes = ((2, g.kh, g.sh, oh), (3, g.kw, g.sw, ow))
        self.shapes = (x.shape, (ph, pw), xpad, rows)
        self.start(rows, out)

        def one_group(group):
            # both passes over a few images at a time: the intermediate stays in cache
            self.pass_forward(0, xpad[group], rows[group], group)
            self.pass_forward(1, rows[group], out[group], group)

        map_groups(one_group, batch_groups(xp, n, xpad[:1].nbytes, GROUP_BYTES))
        return self.finish(out)

    def backward(self, grad):
        xp = self.xp
        x_shape, (ph, pw), xpad, rows = self.shapes
        (_, kh, sh, oh), (_, kw, sw, ow) = self.passes
        grad = self.scale_grad(grad)
        g_rows = _grad_buffer(xp, rows, 3, kw, sw, ow)
        g_x = _grad_buffer(xp, xpad, 2, kh, sh, oh)

        def one_group(group):
            self._route(grad[group], g_rows[group], 1, group)
            self._route(g_rows[group], g_x[group], 0, group)

        map_groups(one_group, batch_groups(xp, x_shape[0], xpad[:1].nbytes, GROUP_BYTES))
        if ph or pw:
            g_x = g_x[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]]
        return g_x

    def _route(self, g, gin, p, group):
        """Backward of pass ``p``: send each slice's share of ``g`` back to where the slice
        was taken from in ``gin`` (adding where windows overlap)."""
        # BEGIN SOLUTION A3.3
        axis, k, s, length = self.passes[p]
        for d in range(k):
            view = gin[_window(axis, d, s, length)]
            if k > s:  # overlapping windows: an input element can be in several of them
                self.xp.add(view, self.slice_grad(p, d, g, group), out=view)
            else:
                self.slice_grad(p, d, g, group, out=view)
        # END SOLUTION


def _grad_buffer(xp, like, axis, k, s, length):
    """The array a pass's backward writes into: shape, dtype and memory order of the
    pass's input ``like`` (channels-last stays channels-last, so nothing on the way back
    works against the memory order). Uninitialised when the ``k`` slices tile ``axis``
    exactly (every element gets written), zeros otherwise (gaps, leftovers, overlaps)."""
    if k == s and k * length == like.shape[axis]:
        return xp.empty_like(like)
    return xp.zeros_like(like)


class MaxPool2d(_Pool2d):
    """Maximum over each ``KH x KW`` window (padding counts as -inf)."""

    op = "max_pool2d"
    pad_value = -float("inf")

    def start(self, rows, out):
        xp = self.xp
        # which slice won, per pass: bool for k == 2 (True: the second), else an index
        self.winners = [None if k == 1 else
                        xp.empty_like(a, dtype=bool if k == 2 else (xp.uint8 if k < 256 else xp.int32))
                        for a, (_, k, _, _) in zip((rows, out), self.passes)]

    def pass_forward(self, p, x, out, group):
        """Running maximum over the pass's ``k`` slices of ``x`` into ``out``, recording the
        winner (the first slice on ties, so each output's gradient goes to one input)."""
        xp = self.xp
        axis, k, s, length = self.passes[p]
        first = x[_window(axis, 0, s, length)]
        if k == 1:
            out[...] = first
            return
        winner = self.winners[p][group]
        second = x[_window(axis, 1, s, length)]
        xp.maximum(first, second, out=out)
        xp.greater(second, first, out=winner)
        for d in range(2, k):
            v = x[_window(axis, d, s, length)]
            better = v > out
            xp.maximum(out, v, out=out)
            # the last slice that beat the running maximum wins; d only grows, so a
            # maximum records it without a per-element branch (``where`` would branch)
            xp.maximum(winner, better * winner.dtype.type(d), out=winner)

    def finish(self, out):
        return out

    def scale_grad(self, grad):
        return grad

    def slice_grad(self, p, d, g, group, out=None):
        """The share of ``g`` that slice ``d`` of pass ``p`` gets: ``g`` where it won, 0
        elsewhere (written into ``out`` when given). The mask is applied by multiplying
        with the winner array, not with ``where``: ``where`` branches per element, which
        is several times slower when the winners are random."""
        # BEGIN SOLUTION A3.3
        k = self.passes[p][1]
        if k == 1:
            return g if out is None else self.xp.copyto(out, g)
        winner = self.winners[p][group]
        mask = (winner if d else ~winner) if k == 2 else winner == d
        return self.xp.multiply(g, mask, out=out)
        # END SOLUTION


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max pooling over ``kernel_size`` windows of NCHW ``x``; ``stride`` defaults to
    ``kernel_size``; ``padding`` (at most half the kernel) pads with -inf. Ints or
    (height, width) pairs. The gradient goes to one maximal element per window."""
    return MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


class AvgPool2d(_Pool2d):
    """Mean over each ``KH x KW`` window (padding counts as zeros in the mean)."""

    op = "avg_pool2d"
    pad_value = 0.0

    def start(self, rows, out):
        (_, kh, _, _), (_, kw, _, _) = self.passes
        self.scale = rows.dtype.type(1.0 / (kh * kw))

    def pass_forward(self, p, x, out, group):
        """Sum over the pass's ``k`` slices of ``x`` into ``out``."""
        axis, k, s, length = self.passes[p]
        out[...] = x[_window(axis, 0, s, length)]
        for d in range(1, k):
            self.xp.add(out, x[_window(axis, d, s, length)], out=out)

    def finish(self, out):
        out *= self.scale
        return out

    def scale_grad(self, grad):
        return grad * self.scale

    def slice_grad(self, p, d, g, group, out=None):
        """Every slice of a sum gets the whole (already scaled) gradient."""
        # BEGIN SOLUTION A3.3
        if out is None:
            return g
        out[...] = g
        # END SOLUTION


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Average pooling over ``kernel_size`` windows of NCHW ``x``; ``stride`` defaults to
    ``kernel_size``; zero ``padding`` counts in the mean. Ints or (height, width) pairs."""
    return AvgPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding)


# -- the slow, obviously correct references ---------------------------------------------------
def max_pool2d_simple(x, kernel_size, stride=None, padding=0) -> Tensor:
    """The same pooling as :func:`max_pool2d`, written as its definition: gather every
    window (:func:`~minigrad.ops.conv.windows_simple`, padding -inf) and take its maximum.

    Built from other minigrad ops, so it is differentiable and independent of the fast
    kernel (the tests' oracle, chapter 2's lesson). Tied maxima share the gradient here
    (:func:`~minigrad.ops.max`), where :func:`max_pool2d` gives it to one of them.
    """
    g = _pool_geometry("max_pool2d_simple", x, kernel_size, stride, padding)
    return reductions.max(windows_simple(x, g, pad_value=-float("inf")), axis=4)


def avg_pool2d_simple(x, kernel_size, stride=None, padding=0) -> Tensor:
    """The same pooling as :func:`avg_pool2d`, written as its definition: gather every
    window (zero padding, which counts in the mean) and take its mean. Slow; differentiable."""
    g = _pool_geometry("avg_pool2d_simple", x, kernel_size, stride, padding)
    return reductions.mean(windows_simple(x, g), axis=4)
