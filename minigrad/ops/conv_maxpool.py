"""Convolution followed by 2x2 max pooling (and optionally a ReLU), as one node.

``conv2d_maxpool2d(x, w, b, relu=True)`` computes exactly
``relu(max_pool2d(conv2d(x, w, b), 2))``, with the same gradients, but never stores the
convolution's full output. Every pooled CNN in the paper has this block, and on the CPU the
separate ops spend much of their time moving that output through memory (see
``shared/BENCHMARKING.md``): the conv writes it, the pooling reads it, and the backward
writes and reads its gradient again. The trick is the *row order* of the im2col matrix:

    plain conv2d:  rows in (n, oh, ow) order
    here:          rows in (n, di, dj, a, b) order, where oh = 2a + di and ow = 2b + dj

so for each image the GEMM's output is four contiguous blocks, block ``(di, dj)`` holding
the window member ``(di, dj)`` of *every* pooling window. Max pooling is then three
elementwise maxima between whole blocks, done a few images at a time while the GEMM's
output is still in cache; only the pooled result (4x smaller) is kept. The ReLU rides
along: ``relu(max(a, b, c, d)) = max(a, b, c, d, 0)``.

Backward: for every pooled output we kept which of the four members won (or "none" when
the ReLU clipped it: ``winner == 4``). The output gradient goes to the winner's block and
is zero elsewhere, which gives the conv's output gradient in the same permuted row order;
``cols.T @ G`` is the weight gradient (the row order does not matter to a sum over rows;
it is summed group by group, while each group's G is in cache),
and the input gradient is the plain conv's, after putting G's rows back in (n, oh, ow)
order. Ties go to the first member in (0,0), (0,1), (1,0), (1,1) order (the separable
:func:`~minigrad.ops.max_pool2d` may pick another of the tied members: the values agree,
the gradient goes to a different but equally maximal element).

:class:`minigrad.nn.Sequential` uses this op by itself where a ``Conv2d`` is followed by a
``MaxPool2d(2)`` (and a ``ReLU``) and the conv's output has even height and width, so
models keep their layers (and their parameter names) and get the speed.
"""
from __future__ import annotations

from ..function import Function
from .conv import (_conv_shapes, _input_grad, _nhwc_padded, _split_weight_grad, _strided,
                   _weight_matrix, _windows, batch_groups)

__all__ = ["Conv2dMaxPool2d", "conv2d_maxpool2d", "fusable"]

NO_WINNER = 4  # winner code of a pooled output the ReLU set to zero: no member gets gradient


def fusable(x_shape, kernel_size, stride, padding, pool_kernel, pool_stride, pool_padding) -> bool:
    """Whether a conv with these arguments followed by this max pooling can be one
    :class:`Conv2dMaxPool2d`: pooling 2x2, stride 2, no padding, and an even conv output."""
    def pair(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v, v)

    if pair(pool_kernel) != (2, 2) or pair(pool_stride) != (2, 2) or pair(pool_padding) != (0, 0):
        return False
    if len(x_shape) != 4:
        return False
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel_size), pair(stride), pair(padding)
    oh = (x_shape[2] + 2 * ph - kh) // sh + 1
    ow = (x_shape[3] + 2 * pw - kw) // sw + 1
    return oh > 0 and ow > 0 and oh % 2 == 0 and ow % 2 == 0


def _im2col_pooled_order_into(xp, xh, kh, kw, sh, sw, oh, ow, cols):
    """Like conv's ``_im2col_into``, but row ``(n, di, dj, a, b)`` holds the window of
    output position ``(2a + di, 2b + dj)``."""
    n, _, _, c = xh.shape
    a, b = oh // 2, ow // 2
    win = _windows(xp, xh, kh, kw, sh, sw, oh, ow)  # (n, oh, ow, kh, kw, c)
    s = win.strides
    # split oh into (a, di) and ow into (b, dj), then bring di, dj in front of a, b
    split = _strided(xp, win, (n, a, 2, b, 2, kh, kw, c),
                     (s[0], 2 * s[1], s[1], 2 * s[2], s[2], s[3], s[4], s[5]))
    item, row = cols.itemsize, cols.strides[0]
    dest = _strided(xp, cols, (n, 2, 2, a, b, kh, kw, c),
                    (4 * a * b * row, 2 * a * b * row, a * b * row, b * row, row,
                     kw * c * item, c * item, item))
    dest[...] = split.transpose(0, 2, 4, 1, 3, 5, 6, 7)


class Conv2dMaxPool2d(Function):
    """``max_pool2d(conv2d(x, weight, bias, stride, padding), 2)``, then ``relu`` if asked,
    in one node (see the module notes). The conv output must have even height and width."""

    def forward(self, x, weight, bias=None, stride=1, padding=0, relu=False):
        xp = self.xp
        op = "conv2d_maxpool2d"
        n, c, f, kh, kw, sh, sw, ph, pw, oh, ow = _conv_shapes(op, x, weight, bias, stride, padding)
        if oh % 2 or ow % 2:
            raise ValueError(f"{op}: the convolution's output is {oh}x{ow}; 2x2 pooling here "
                             f"needs even sizes (input shape {x.shape}, weight shape "
                             f"{weight.shape}, stride {stride!r}, padding {padding!r})")
        xh = _nhwc_padded(xp, x, ph, pw)
        wmat = _weight_matrix(xp, weight, bias)
        k, fold = kh * kw * c, bias is not None
        q = (oh // 2) * (ow // 2)  # pooled positions per image and channel
        self.geometry = (x.shape, kh, kw, sh, sw, ph, pw, oh, ow, fold)

        cols = xp.empty((n * oh * ow, k + fold), dtype=x.dtype)
        pooled = xp.empty((n, q * f), dtype=x.dtype)      # NHWC memory, (n, a, b, f)
        winner = xp.empty((n, q * f), dtype=xp.uint8)     # 0-3: the member that won; 4: none
        for images in batch_groups(xp, n, oh * ow * (k + fold + f) * x.itemsize):
            rows = slice(images.start * oh * ow, images.stop * oh * ow)
            _im2col_pooled_order_into(xp, xh[images], kh, kw, sh, sw, oh, ow, cols[rows])
            if fold:
                cols[rows, k] = 1
            # the conv output of these images as (images, member, a*b*f): four blocks each
            members = (cols[rows] @ wmat).reshape(-1, 4, q * f)
            best, won = pooled[images], winner[images]
            xp.maximum(members[:, 0], members[:, 1], out=best)
            xp.greater(members[:, 1], members[:, 0], out=won)
            for d in (2, 3):
                better = members[:, d] > best
                xp.maximum(best, members[:, d], out=best)
                # the last member that beat the running maximum wins; d only grows, so a
                # maximum records it without a per-element branch
                xp.maximum(won, better * won.dtype.type(d), out=won)
            if relu:
                clipped = best <= 0
                xp.maximum(won, clipped * won.dtype.type(NO_WINNER), out=won)
                xp.maximum(best, 0, out=best)
        self.save_for_backward(cols, weight, winner)
        return pooled.reshape(n, oh // 2, ow // 2, f).transpose(0, 3, 1, 2)

    def backward(self, grad):
        xp = self.xp
        cols, weight, winner = self.saved
        x_shape, kh, kw, sh, sw, ph, pw, oh, ow, fold = self.geometry
        n, f = x_shape[0], weight.shape[0]
        a, b = oh // 2, ow // 2
        needs = self.needs_input_grad
        has_bias = len(needs) == 3
        # pooled gradient as (n, a*b*f), channels-last (free when it already is)
        gp = xp.ascontiguousarray(grad.transpose(0, 2, 3, 1)).reshape(n, a * b * f)
        want_w = needs[1] or (has_bias and needs[2])
        # the conv output's gradient, rows in the permuted (n, di, dj, a, b) order, a few
        # images at a time: each group's block goes into the weight-gradient GEMM while it
        # is still in cache (the row order does not matter to cols.T @ G, a sum over rows)
        g = xp.empty((n, 4, a * b * f), dtype=grad.dtype)
        gwmat = None
        for images in batch_groups(xp, n, oh * ow * (cols.shape[1] + f) * grad.itemsize):
            block = g[images]
            for d in range(4):
                xp.multiply(gp[images], winner[images] == d, out=block[:, d])
            if want_w:
                rows = slice(images.start * oh * ow, images.stop * oh * ow)
                part = cols[rows].T @ block.reshape(-1, f)
                gwmat = part if gwmat is None else xp.add(gwmat, part, out=gwmat)
        g = g.reshape(n * oh * ow, f)

        gw = gb = None
        if want_w:
            gw, gb = _split_weight_grad(gwmat, weight.shape, fold)
        gx = None
        if needs[0]:
            # rows back to (n, oh, ow) order, then the plain conv's input gradient
            g_std = g.reshape(n, 2, 2, a, b, f).transpose(0, 3, 1, 4, 2, 5).reshape(n * oh * ow, f)
            gx = _input_grad(xp, xp.ascontiguousarray(g_std), weight, self.geometry)
        return (gx, gw, gb) if has_bias else (gx, gw)


def conv2d_maxpool2d(x, weight, bias=None, stride=1, padding=0, relu=False):
    """``max_pool2d(conv2d(x, weight, bias, stride, padding), 2)``, followed by ``relu``
    when ``relu=True``, as one op (same values and gradients, less memory traffic). The
    convolution's output must have even height and width."""
    if bias is None:
        return Conv2dMaxPool2d.apply(x, weight, stride=stride, padding=padding, relu=relu)
    return Conv2dMaxPool2d.apply(x, weight, bias, stride=stride, padding=padding, relu=relu)
