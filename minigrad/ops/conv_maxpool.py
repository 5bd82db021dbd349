"""Convolution followed by 2x2 max pooling (and optionally a ReLU), as one node.

``conv2d_maxpool2d(x, w, b, relu=True)`` computes exactly
``relu(max_pool2d(conv2d(x, w, b), 2))``, with the same gradients, but never stores the
convolution's full output: the im2col rows are ordered so that each image's GEMM output is
four blocks, one per member of the 2x2 windows, and pooling becomes three elementwise
maxima between blocks while they are still in cache. How, and what it saves:
docs/performance.md, section "conv2d + max pool (+ ReLU), fused".

Ties go to the first member in (0,0), (0,1), (1,0), (1,1) order (the separable
:func:`~minigrad.ops.max_pool2d` may pick another of the tied members: the values agree,
the gradient goes to a different but equally maximal element).

Nothing uses this node behind your back: a model asks for it with the layer
:class:`minigrad.nn.Conv2dMaxPool2d`, usually through the pass
:func:`minigrad.nn.fuse_conv_pool`.
"""
from __future__ import annotations

from ..function import Function
from ..threads import map_groups
from .conv import (_conv_shapes, _input_grad, _nhwc_padded, _split_weight_grad, _strided,
                   _weight_matrix, _windows, batch_groups)
from .geometry import ConvGeometry, conv_output_size

__all__ = ["Conv2dMaxPool2d", "conv2d_maxpool2d", "fusable", "fusable_pooling"]

NO_WINNER = 4  # winner code of a pooled output the ReLU set to zero: no member gets gradient


def _as_pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def fusable_pooling(kernel_size, stride, padding) -> bool:
    """Whether a max pooling with these arguments is the one the fused node does: 2x2,
    stride 2, no padding (ints or (height, width) pairs)."""
    return (_as_pair(kernel_size) == (2, 2) and _as_pair(stride) == (2, 2)
            and _as_pair(padding) == (0, 0))


def fusable(x_shape, kernel_size, stride, padding, pool_kernel, pool_stride, pool_padding) -> bool:
    """Whether a conv with these arguments followed by this max pooling can be one
    :class:`Conv2dMaxPool2d`: pooling 2x2, stride 2, no padding, and an even conv output."""
    if not fusable_pooling(pool_kernel, pool_stride, pool_padding) or len(x_shape) != 4:
        return False
    (kh, kw), (sh, sw), (ph, pw) = _as_pair(kernel_size), _as_pair(stride), _as_pair(padding)
    oh = conv_output_size(x_shape[2], kh, sh, ph)
    ow = conv_output_size(x_shape[3], kw, sw, pw)
    return oh > 0 and ow > 0 and oh % 2 == 0 and ow % 2 == 0


def _im2col_pooled_order_into(xp, xh, g: ConvGeometry, cols):
    """Like conv's ``_im2col_into``, but row ``(n, di, dj, a, b)`` holds the window of
    output position ``(2a + di, 2b + dj)``."""
    n, _, _, c = xh.shape
    kh, kw, a, b = g.kh, g.kw, g.oh // 2, g.ow // 2
    win = _windows(xp, xh, g)  # (n, oh, ow, kh, kw, c)
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
    in one node. The conv output must have even height and width.

    Backward: the output gradient goes to the block of each window's winner (to none where
    the ReLU clipped), which is the conv output's gradient with rows in the fused order;
    ``cols.T @ G`` gives the weight gradient, and the plain conv's input gradient the rest.
    """

    float_inputs_only = True

    def forward(self, x, weight, bias=None, stride=1, padding=0, relu=False):
        xp = self.xp
        op = "conv2d_maxpool2d"
        f, g = _conv_shapes(op, x, weight, bias, stride, padding)
        n, c = x.shape[:2]
        oh, ow = g.oh, g.ow
        if oh % 2 or ow % 2:
            raise ValueError(f"{op}: the convolution's output is {oh}x{ow}; 2x2 pooling here "
                             f"needs even sizes (input shape {x.shape}, weight shape "
                             f"{weight.shape}, stride {stride!r}, padding {padding!r})")
        xh = _nhwc_padded(xp, x, g.ph, g.pw)
        wmat = _weight_matrix(xp, weight, bias)
        k, fold = g.kh * g.kw * c, bias is not None
        q = (oh // 2) * (ow // 2)  # pooled positions per image and channel
        self.geometry, self.fold = g, fold

        cols = xp.empty((n * oh * ow, k + fold), dtype=x.dtype)
        pooled = xp.empty((n, q * f), dtype=x.dtype)      # NHWC memory, (n, a, b, f)
        winner = xp.empty((n, q * f), dtype=xp.uint8)     # 0-3: the member that won; 4: none

        def one_group(images):
            rows = slice(images.start * oh * ow, images.stop * oh * ow)
            _im2col_pooled_order_into(xp, xh[images], g, cols[rows])
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

        map_groups(one_group, batch_groups(xp, n, oh * ow * (k + fold + f) * x.itemsize))
        self.save_for_backward(cols, weight, winner)
        return pooled.reshape(n, oh // 2, ow // 2, f).transpose(0, 3, 1, 2)

    def backward(self, grad):
        xp = self.xp
        cols, weight, winner = self.saved
        geo = self.geometry
        n, f, oh, ow = geo.x_shape[0], weight.shape[0], geo.oh, geo.ow
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

        def one_group(images):
            block = g[images]
            for d in range(4):
                xp.multiply(gp[images], winner[images] == d, out=block[:, d])
            if want_w:
                rows = slice(images.start * oh * ow, images.stop * oh * ow)
                return cols[rows].T @ block.reshape(-1, f)

        parts = map_groups(one_group, batch_groups(xp, n, oh * ow * (cols.shape[1] + f)
                                                   * grad.itemsize))
        gwmat = parts[0]
        for part in parts[1:] if want_w else ():   # in group order, whatever the threads
            xp.add(gwmat, part, out=gwmat)
        g = g.reshape(n * oh * ow, f)

        gw = gb = None
        if want_w:
            gw, gb = _split_weight_grad(gwmat, weight.shape, self.fold)
        gx = None
        if needs[0]:
            # rows back to (n, oh, ow) order, then the plain conv's input gradient
            g_std = g.reshape(n, 2, 2, a, b, f).transpose(0, 3, 1, 4, 2, 5).reshape(n * oh * ow, f)
            gx = _input_grad(xp, xp.ascontiguousarray(g_std), weight, geo)
        return (gx, gw, gb) if has_bias else (gx, gw)


def conv2d_maxpool2d(x, weight, bias=None, stride=1, padding=0, relu=False):
    """``max_pool2d(conv2d(x, weight, bias, stride, padding), 2)``, followed by ``relu``
    when ``relu=True``, as one op (same values and gradients, less memory traffic). The
    convolution's output must have even height and width."""
    if bias is None:
        return Conv2dMaxPool2d.apply(x, weight, stride=stride, padding=padding, relu=relu)
    return Conv2dMaxPool2d.apply(x, weight, bias, stride=stride, padding=padding, relu=relu)
