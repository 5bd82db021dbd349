"""2-D convolution: the fast ``Conv2d`` (im2col on strided views, one GEMM), the slow and
obviously correct ``conv2d_simple`` beside it, and the raw-array helpers ``im2col`` and
``col2im``.

The public layout is NCHW (input ``(N, C, H, W)``, weight ``(F, C, KH, KW)``, output
``(N, F, OH, OW)``), as in the paper and in PyTorch; inside, the fast op works on
channels-last memory, a few images at a time. Why, and how the backward is arranged:
docs/performance.md, section "conv2d".
"""
from __future__ import annotations

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ..threads import map_groups
from ..threads import matmul as threaded_matmul
from .geometry import ConvGeometry, conv_geometry, conv_output_size
from .linalg import linear
from .shape import concatenate, getitem, reshape, transpose

__all__ = ["Conv2d", "conv2d", "conv2d_simple", "windows_simple", "im2col", "col2im",
           "conv_output_size", "batch_groups"]

GROUP_BYTES = 3 << 20  # per group of images on the CPU (measured here: 1.5-3 MB is best)


def batch_groups(xp, n: int, bytes_per_image: int, budget: int | None = None) -> list:
    """Slices of the batch axis into groups of whole images of about ``budget`` bytes each
    (default ``GROUP_BYTES``): conv and pooling work a group at a time on the CPU, so that
    consecutive steps meet in cache. On a GPU one group, the whole batch, is best."""
    if xp is not backend.numpy_module:
        return [slice(0, n)]
    per = max(1, min(n, (budget or GROUP_BYTES) // max(1, bytes_per_image)))
    return [slice(a, min(a + per, n)) for a in range(0, n, per)]


# -- strided views of NHWC memory ---------------------------------------------------------------
def _strided(xp, a, shape, strides):
    """A view of ``a`` with the given shape and strides (in bytes), on NumPy or CuPy."""
    return xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides)


def _nhwc_padded(xp, x, ph, pw):
    """The NCHW array ``x`` as a C-contiguous channels-last (N, H+2ph, W+2pw, C) array.

    No copy when ``x`` already is an NCHW view of NHWC memory without padding (the output
    of a previous conv or pool); otherwise one copy, which is KH*KW times smaller than the
    im2col copy that follows and makes that copy move long runs.
    """
    xh = x.transpose(0, 2, 3, 1)
    if ph == 0 and pw == 0:
        return xp.ascontiguousarray(xh)
    n, h, w, c = xh.shape
    padded = xp.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=x.dtype)
    padded[:, ph:ph + h, pw:pw + w, :] = xh
    return padded


def _windows(xp, xh, g: ConvGeometry):
    """The (N, OH, OW, KH, KW, C) view of all convolution windows of a padded NHWC array:
    element ``[n, a, b, i, j, c]`` is ``xh[n, a*sh + i, b*sw + j, c]``. No copy."""
    # BEGIN SOLUTION A3.1
    n, _, _, c = xh.shape
    s_n, s_h, s_w, s_c = xh.strides
    return _strided(xp, xh, (n, g.oh, g.ow, g.kh, g.kw, c),
                    (s_n, s_h * g.sh, s_w * g.sw, s_h, s_w, s_c))
    # END SOLUTION


def _im2col_into(xp, xh, g: ConvGeometry, cols):
    """Copy the windows of the padded NHWC array ``xh`` into the first ``KH*KW*C`` columns of
    the row-major matrix ``cols`` (which may have extra columns after them)."""
    n, _, _, c = xh.shape
    item = cols.itemsize
    row = cols.strides[0]  # bytes from one row to the next (>= KH*KW*C items)
    dest = _strided(xp, cols, (n, g.oh, g.ow, g.kh, g.kw, c),
                    (g.oh * g.ow * row, g.ow * row, row, g.kw * c * item, c * item, item))
    dest[...] = _windows(xp, xh, g)


def _col2im_add(xp, blocks, gx, sh, sw):
    """Adjoint of the window view: add ``blocks[i, j]`` (shape (N, OH, OW, C), any strides)
    into the strided window of kernel offset (i, j) of the padded NHWC array ``gx``.

    One strided slice per kernel offset (``xp.add(..., out=...)``), so overlapping windows
    accumulate correctly, with no scatter-add and no Python loop over positions.
    """
    # BEGIN SOLUTION A3.1
    kh, kw, _, oh, ow, _ = blocks.shape
    for i in range(kh):
        for j in range(kw):
            window = gx[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]
            xp.add(window, blocks[i, j], out=window)
    # END SOLUTION


def _crop_to_nchw(gx, ph, pw):
    """Drop the padding of an NHWC gradient and show it as NCHW (a view, no copy)."""
    h, w = gx.shape[1] - 2 * ph, gx.shape[2] - 2 * pw
    return gx[:, ph:ph + h, pw:pw + w, :].transpose(0, 3, 1, 2)


# -- the public raw-array helpers ------------------------------------------------------------
def im2col(x, kh: int, kw: int, stride=1, padding=0):
    """Unfold the convolution windows of an NCHW array into the rows of a matrix.

    Returns ``cols`` of shape ``(N*OH*OW, KH*KW*C)``: row ``(n, oh, ow)`` (row-major over
    those three) holds the window whose top-left corner is ``(oh*sh - ph, ow*sw - pw)`` in
    the zero-padded input, flattened channels-last, i.e. in the order ``(i, j, c)``:
    ``cols[(n*OH + oh)*OW + ow, (i*KW + j)*C + c] = xpad[n, c, oh*sh + i, ow*sw + j]``.

    ``stride`` and ``padding`` are ints or (height, width) pairs. Built on a strided view
    of the (channels-last, padded) input and one copy.
    """
    xp = backend.get_array_module(x)
    if x.ndim != 4:
        raise ValueError(f"im2col: input must be 4-D (N, C, H, W), got shape {x.shape}")
    g = conv_geometry("im2col", x.shape, kh, kw, stride, padding)
    n, c = x.shape[:2]
    cols = xp.empty((n * g.oh * g.ow, kh * kw * c), dtype=x.dtype)
    _im2col_into(xp, _nhwc_padded(xp, x, g.ph, g.pw), g, cols)
    return cols


def col2im(cols, x_shape, kh: int, kw: int, stride=1, padding=0):
    """The adjoint of :func:`im2col`: scatter-add the rows of ``cols`` back to the input
    positions they were copied from, dropping what fell on the padding.

    ``cols`` has shape ``(N*OH*OW, KH*KW*C)`` in :func:`im2col`'s layout; the result has
    ``x_shape`` (N, C, H, W). Positions covered by several windows receive the sum, so
    ``<im2col(x), y> == <x, col2im(y, x.shape, ...)>``.
    """
    xp = backend.get_array_module(cols)
    n, c, h, w = x_shape
    g = conv_geometry("col2im", x_shape, kh, kw, stride, padding)
    if cols.shape != (n * g.oh * g.ow, kh * kw * c):
        raise ValueError(f"col2im: cols of shape {cols.shape} do not fit input shape {tuple(x_shape)} "
                         f"with a {kh}x{kw} kernel, stride {stride!r}, padding {padding!r} "
                         f"(expected {(n * g.oh * g.ow, kh * kw * c)})")
    # (N, OH, OW, KH, KW, C) -> (KH, KW, N, OH, OW, C): a transposed view, no copy
    blocks = cols.reshape(n, g.oh, g.ow, kh, kw, c).transpose(3, 4, 0, 1, 2, 5)
    gx = xp.zeros((n, h + 2 * g.ph, w + 2 * g.pw, c), dtype=cols.dtype)
    _col2im_add(xp, blocks, gx, g.sh, g.sw)
    return _crop_to_nchw(gx, g.ph, g.pw)


# -- pieces shared by conv2d and the fused conv2d + max-pool op (conv_maxpool.py) -------------
def _conv_shapes(op, x, weight, bias, stride, padding):
    """Check the arguments of a convolution; return ``(f, geometry)``, ``f`` the number of
    output channels."""
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"{op}: weight must be 4-D (F, C, KH, KW), got shape {weight.shape}")
    c = x.shape[1]
    f, wc, kh, kw = weight.shape
    if wc != c:
        raise ValueError(f"{op}: input has {c} channels but weight expects {wc} "
                         f"(input shape {x.shape}, weight shape {weight.shape})")
    if bias is not None and bias.shape != (f,):
        raise ValueError(f"{op}: bias of shape {bias.shape} does not fit weight of shape "
                         f"{weight.shape} (expected ({f},))")
    return f, conv_geometry(op, x.shape, kh, kw, stride, padding)


def _weight_matrix(xp, weight, bias):
    """The weight as a (KH*KW*C [+1], F) matrix in the (i, j, c) order of ``cols``' columns,
    with the bias as an extra last row when given (it meets the column of ones)."""
    f, c, kh, kw = weight.shape
    k = kh * kw * c
    wmat = xp.empty((k + (bias is not None), f), dtype=weight.dtype)
    wmat[:k] = weight.transpose(2, 3, 1, 0).reshape(k, f)
    if bias is not None:
        wmat[k] = bias
    return wmat


def _split_weight_grad(gwmat, weight_shape, fold):
    """``cols.T @ G`` (K [+1], F) -> (weight gradient (F, C, KH, KW), bias gradient or None)."""
    f, c, kh, kw = weight_shape
    k = kh * kw * c
    gw = gwmat[:k].reshape(kh, kw, c, f).transpose(3, 2, 0, 1)
    return gw.copy(), (gwmat[k].copy() if fold else None)


def _input_grad(xp, g, weight, geo: ConvGeometry):
    """The input gradient of a convolution from its output gradient ``g``, an
    ``(N*OH*OW, F)`` matrix with rows in (n, oh, ow) order; NCHW view of NHWC memory."""
    n, c, h, w = geo.x_shape
    kh, kw, oh, ow = geo.kh, geo.kw, geo.oh, geo.ow
    f = weight.shape[0]
    # per kernel offset (i, j): W[:, :, i, j] as an (F, C) matrix
    # BEGIN SOLUTION A3.2
    wk = weight.transpose(2, 3, 0, 1).reshape(kh * kw, f, c)
    gx = xp.zeros((n, h + 2 * geo.ph, w + 2 * geo.pw, c), dtype=g.dtype)

    def one_group(images):
        rows = slice(images.start * oh * ow, images.stop * oh * ow)
        # one batched matmul: for each kernel offset, G (P, F) @ W_ij (F, C) -> (P, C),
        # added at once into the input positions it came from (in cache, slice by slice)
        blocks = (g[rows] @ wk).reshape(kh, kw, -1, oh, ow, c)
        _col2im_add(xp, blocks, gx[images], geo.sh, geo.sw)

    map_groups(one_group, batch_groups(xp, n, oh * ow * kh * kw * c * g.itemsize))
    return _crop_to_nchw(gx, geo.ph, geo.pw)
    # END SOLUTION


# -- the op -----------------------------------------------------------------------------------
class Conv2d(Function):
    """``out[n, f] = bias[f] + sum_c x[n, c] (*) weight[f, c]`` (cross-correlation, as in
    every deep-learning framework), over NCHW input with zero padding and a stride."""

    float_inputs_only = True

    def forward(self, x, weight, bias=None, stride=1, padding=0):
        xp = self.xp
        f, g = _conv_shapes("conv2d", x, weight, bias, stride, padding)
        n, c = x.shape[:2]
        xh = _nhwc_padded(xp, x, g.ph, g.pw)
        wmat = _weight_matrix(xp, weight, bias)
        k, fold = g.kh * g.kw * c, bias is not None  # bias as an extra column of ones in cols
        self.geometry, self.fold = g, fold
        p = g.oh * g.ow  # output positions per image
        # cols: one row per output position, (i, j, c) columns [+ a column of ones]
        # BEGIN SOLUTION A3.2
        cols = xp.empty((n * p, k + fold), dtype=x.dtype)
        out = xp.empty((n * p, f), dtype=x.dtype)

        def one_group(images):
            rows = slice(images.start * p, images.stop * p)
            # fill this group's rows of cols and multiply them while they are in cache
            _im2col_into(xp, xh[images], g, cols[rows])
            if fold:
                cols[rows, k] = 1
            xp.matmul(cols[rows], wmat, out=out[rows])

        map_groups(one_group, batch_groups(xp, n, p * (k + fold) * x.itemsize))

        self.save_for_backward(cols, weight)
        # NHWC memory seen as NCHW: no copy; the next layer reads channels-last memory
        return out.reshape(n, g.oh, g.ow, f).transpose(0, 3, 1, 2)
        # END SOLUTION

    def backward(self, grad):
        xp = self.xp
        cols, weight = self.saved
        g = self.geometry
        n, f = g.x_shape[0], weight.shape[0]
        needs = self.needs_input_grad
        has_bias = len(needs) == 3
        # output gradient as an (N*OH*OW, F) matrix; free when grad is channels-last already
        # BEGIN SOLUTION A3.2
        gy = xp.ascontiguousarray(grad.transpose(0, 2, 3, 1)).reshape(n * g.oh * g.ow, f)

        gw = gb = None
        if needs[1] or (has_bias and needs[2]):
            # (K [+1], F): the weight gradient, and the bias gradient as the last row
            gw, gb = _split_weight_grad(threaded_matmul(xp, cols.T, gy), weight.shape, self.fold)
        gx = _input_grad(xp, gy, weight, g) if needs[0] else None
        return (gx, gw, gb) if has_bias else (gx, gw)
        # END SOLUTION


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation) of ``x`` (N, C, H, W) with ``weight`` (F, C, KH, KW)
    plus ``bias`` (F,), zero ``padding`` and ``stride`` (ints or (height, width) pairs).

    Returns (N, F, OH, OW) with ``OH = floor((H + 2*ph - KH) / sh) + 1`` (likewise OW). The
    result is an NCHW view of channels-last memory (see docs/performance.md)."""
    if bias is None:
        return Conv2d.apply(x, weight, stride=stride, padding=padding)
    return Conv2d.apply(x, weight, bias, stride=stride, padding=padding)


# -- the slow, obviously correct reference -----------------------------------------------------
def windows_simple(x, g: ConvGeometry, pad_value: float = 0.0) -> Tensor:
    """Every window of the NCHW tensor ``x`` described by ``g``, gathered with plain,
    differentiable minigrad ops: shape (N, C, OH, OW, KH*KW), where member ``i*KW + j`` of
    window ``(a, b)`` is ``xpad[n, c, a*sh + i, b*sw + j]`` and ``xpad`` is ``x`` padded
    with ``pad_value``. One strided slice per kernel offset: slow, and plainly right."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    n, c = x.shape[:2]
    xpad = _pad_simple(x, g.ph, g.pw, pad_value)
    members = []
    for i in range(g.kh):
        for j in range(g.kw):
            rows = slice(i, i + g.sh * (g.oh - 1) + 1, g.sh)
            cols = slice(j, j + g.sw * (g.ow - 1) + 1, g.sw)
            member = getitem(xpad, (slice(None), slice(None), rows, cols))
            members.append(reshape(member, (n, c, g.oh, g.ow, 1)))
    return concatenate(members, axis=4)


def _pad_simple(x: Tensor, ph: int, pw: int, value: float) -> Tensor:
    """``x`` (NCHW) with ``ph`` rows and ``pw`` columns of ``value`` added on each side."""
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape

    def border(shape):
        return Tensor(xp.full(shape, value, dtype=x.dtype))

    if ph:
        x = concatenate([border((n, c, ph, w)), x, border((n, c, ph, w))], axis=2)
    if pw:
        x = concatenate([border((n, c, h + 2 * ph, pw)), x, border((n, c, h + 2 * ph, pw))], axis=3)
    return x


def conv2d_simple(x, weight, bias=None, stride=1, padding=0) -> Tensor:
    """The same convolution as :func:`conv2d`, written as its definition:
    ``out[n, f, a, b] = bias[f] + sum over c, i, j of xpad[n, c, a*sh + i, b*sw + j] *
    weight[f, c, i, j]``, with the windows gathered by :func:`windows_simple` and the sum
    done by one :func:`~minigrad.ops.linear`.

    Built only from other minigrad ops, so it is differentiable and independent of the
    fast kernel: the tests use it as the oracle for :func:`conv2d`, and chapter 2 teaches
    with it. Slow (one slice per kernel offset, every window copied); use :func:`conv2d`.
    """
    f, g = _conv_shapes("conv2d_simple", x, weight, bias, stride, padding)
    n, c = g.x_shape[:2]
    windows = windows_simple(x, g)                                    # (N, C, OH, OW, KH*KW)
    rows = reshape(transpose(windows, (0, 2, 3, 1, 4)), (n * g.oh * g.ow, c * g.kh * g.kw))
    out = linear(rows, reshape(weight, (f, c * g.kh * g.kw)), bias)   # (N*OH*OW, F)
    return transpose(reshape(out, (n, g.oh, g.ow, f)), (0, 3, 1, 2))
