"""2-D convolution: ``conv2d`` and the two raw-array helpers it is built on, ``im2col`` and
``col2im``.

The public layout is NCHW (input ``(N, C, H, W)``, weight ``(F, C, KH, KW)``, output
``(N, F, OH, OW)``), as in the paper and in PyTorch. Inside, the work is arranged for speed
on NumPy, where two facts dominate (see ``shared/BENCHMARKING.md``):

* matrix products run multi-threaded in BLAS, everything else runs on one core;
* outside the matrix products, time goes into memory traffic (one core moves roughly
  10-20 GB/s from main memory here) and into per-call overhead for every *contiguous run*
  an elementwise call touches; so data is laid out for long runs, and big intermediates
  are consumed while they are still in cache.

So a convolution is one matrix product over *channels-last* (NHWC) patches:

1. ``im2col`` gathers, for every output position ``(n, oh, ow)``, the ``KH x KW x C`` input
   values it sees into one row of a matrix ``cols`` of shape ``(N*OH*OW, KH*KW*C)``. It is a
   strided *view* of the input (``as_strided``: no copy) turned into a matrix by a single
   copy. In NHWC the ``KW x C`` values of one kernel row are adjacent in memory, so the copy
   moves runs of ``KW*C`` numbers (160 for the paper's second layer), not single numbers.
2. ``out = cols @ Wmat`` with ``Wmat`` of shape ``(KH*KW*C, F)``: one GEMM gives the output
   in NHWC, ``(N*OH*OW, F)``. The bias rides along as an extra column of ones in ``cols``
   and an extra row in ``Wmat``, so neither the forward bias add nor the backward bias sum
   costs a separate pass over the output.
3. The output tensor is that NHWC array seen through ``transpose(0, 3, 1, 2)``: an NCHW
   *view*, shape ``(N, F, OH, OW)``, memory channels-last. The next op (pooling, ReLU, the
   next convolution) therefore reads channels-last memory again without a copy; NumPy's
   elementwise ops follow the memory order of their inputs.
4. On the CPU, steps 1 and 2 run over a group of a few images at a time
   (:func:`batch_groups`): the whole batch's ``cols`` is tens of MB, and written in one go
   it has left the cache before the GEMM reads it back. Group by group, the GEMM reads
   rows that were just written. ``cols`` is kept for the weight gradient.

Backward:

* weight (and bias) gradient: one GEMM ``cols.T @ G`` with ``G`` the output gradient as an
  ``(N*OH*OW, F)`` matrix; its last row is the bias gradient (the ones column again).
* input gradient: one *batched* matrix product ``G @ Wk`` with ``Wk`` of shape
  ``(KH*KW, F, C)`` gives, for every kernel offset ``(i, j)``, the contribution of that
  offset to the input gradient as a contiguous ``(N, OH, OW, C)`` block; ``col2im`` adds the
  ``KH*KW`` blocks into the (strided) windows of the input gradient they came from (group
  by group of images again, so the blocks are added while still in cache). This is
  skipped when nobody needs the input gradient (the first layer, whose input is data).

``im2col`` and ``col2im`` are adjoint: ``<im2col(x), y> == <x, col2im(y)>`` for all ``x``,
``y``, which is exactly what makes ``col2im`` the right backward of ``im2col``.

Every array call goes through ``xp`` (NumPy or CuPy), and ``as_strided`` exists in both,
so the same code runs on the GPU.
"""
from __future__ import annotations

from .. import backend
from ..function import Function

__all__ = ["Conv2d", "conv2d", "im2col", "col2im", "conv_output_size", "batch_groups"]


# -- small helpers ----------------------------------------------------------------------------
def _pair(value, what: str, op: str) -> tuple:
    """An int or a pair of ints -> a pair of Python ints (height, width)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{op}: {what} must be an int or a pair of ints, got {value!r}")
        a, b = value
    else:
        a = b = value
    try:
        if int(a) != a or int(b) != b:
            raise TypeError
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {what} must be an int or a pair of ints, got {value!r}") from None
    return int(a), int(b)


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Number of window positions along one axis: ``floor((size + 2p - k) / s) + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


def _check_geometry(op, x_shape, kh, kw, stride, padding):
    """Validate stride/padding/kernel against an NCHW input shape; return
    ``(sh, sw, ph, pw, oh, ow)``."""
    sh, sw = _pair(stride, "stride", op)
    ph, pw = _pair(padding, "padding", op)
    if sh < 1 or sw < 1:
        raise ValueError(f"{op}: stride must be a positive integer, got {stride!r} "
                         f"(input shape {tuple(x_shape)})")
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: padding must be >= 0, got {padding!r} (input shape {tuple(x_shape)})")
    if kh < 1 or kw < 1:
        raise ValueError(f"{op}: kernel size must be positive, got {kh}x{kw}")
    h, w = x_shape[2], x_shape[3]
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(f"{op}: kernel {kh}x{kw} is larger than the padded input "
                         f"{h + 2 * ph}x{w + 2 * pw} (input shape {tuple(x_shape)}, padding {padding!r})")
    return sh, sw, ph, pw, conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)


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


def _windows(xp, xh, kh, kw, sh, sw, oh, ow):
    """The (N, OH, OW, KH, KW, C) view of all convolution windows of a padded NHWC array:
    element ``[n, a, b, i, j, c]`` is ``xh[n, a*sh + i, b*sw + j, c]``. No copy."""
    n, _, _, c = xh.shape
    s_n, s_h, s_w, s_c = xh.strides
    return _strided(xp, xh, (n, oh, ow, kh, kw, c), (s_n, s_h * sh, s_w * sw, s_h, s_w, s_c))


def _im2col_into(xp, xh, kh, kw, sh, sw, oh, ow, cols):
    """Copy the windows of the padded NHWC array ``xh`` into the first ``KH*KW*C`` columns of
    the row-major matrix ``cols`` (which may have extra columns after them)."""
    n, _, _, c = xh.shape
    item = cols.itemsize
    row = cols.strides[0]  # bytes from one row to the next (>= KH*KW*C items)
    dest = _strided(xp, cols, (n, oh, ow, kh, kw, c),
                    (oh * ow * row, ow * row, row, kw * c * item, c * item, item))
    dest[...] = _windows(xp, xh, kh, kw, sh, sw, oh, ow)


def _col2im_add(xp, blocks, gx, sh, sw):
    """Adjoint of the window view: add ``blocks[i, j]`` (shape (N, OH, OW, C), any strides)
    into the strided window of kernel offset (i, j) of the padded NHWC array ``gx``.

    One strided slice per kernel offset (``xp.add(..., out=...)``), so overlapping windows
    accumulate correctly, with no scatter-add and no Python loop over positions.
    """
    kh, kw, _, oh, ow, _ = blocks.shape
    for i in range(kh):
        for j in range(kw):
            window = gx[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]
            xp.add(window, blocks[i, j], out=window)


def _crop_to_nchw(gx, ph, pw):
    """Drop the padding of an NHWC gradient and show it as NCHW (a view, no copy)."""
    h, w = gx.shape[1] - 2 * ph, gx.shape[2] - 2 * pw
    return gx[:, ph:ph + h, pw:pw + w, :].transpose(0, 3, 1, 2)


def batch_groups(xp, n: int, bytes_per_image: int, budget: int | None = None) -> list:
    """Slices of the batch axis into groups of whole images of about ``budget`` bytes each.

    Used by conv and pooling to work a few images at a time on the CPU. Done for the
    whole batch at once, each step of an op streams tens of MB through memory: the
    im2col matrix (or a pooling intermediate) has left the cache before the next step
    reads it, and that memory traffic costs about as much as the arithmetic. Groups of a
    few MB let consecutive steps meet in cache. On a GPU one group, the whole batch, is
    best.
    """
    if xp is not backend.numpy_module:
        return [slice(0, n)]
    per = max(1, min(n, (budget or GROUP_BYTES) // max(1, bytes_per_image)))
    return [slice(a, min(a + per, n)) for a in range(0, n, per)]


GROUP_BYTES = 3 << 20  # per group of images on the CPU (measured here: 1.5-3 MB is best)


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
    sh, sw, ph, pw, oh, ow = _check_geometry("im2col", x.shape, kh, kw, stride, padding)
    n, c = x.shape[:2]
    cols = xp.empty((n * oh * ow, kh * kw * c), dtype=x.dtype)
    _im2col_into(xp, _nhwc_padded(xp, x, ph, pw), kh, kw, sh, sw, oh, ow, cols)
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
    sh, sw, ph, pw, oh, ow = _check_geometry("col2im", x_shape, kh, kw, stride, padding)
    if cols.shape != (n * oh * ow, kh * kw * c):
        raise ValueError(f"col2im: cols of shape {cols.shape} do not fit input shape {tuple(x_shape)} "
                         f"with a {kh}x{kw} kernel, stride {stride!r}, padding {padding!r} "
                         f"(expected {(n * oh * ow, kh * kw * c)})")
    # (N, OH, OW, KH, KW, C) -> (KH, KW, N, OH, OW, C): a transposed view, no copy
    blocks = cols.reshape(n, oh, ow, kh, kw, c).transpose(3, 4, 0, 1, 2, 5)
    gx = xp.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=cols.dtype)
    _col2im_add(xp, blocks, gx, sh, sw)
    return _crop_to_nchw(gx, ph, pw)


# -- pieces shared by conv2d and the fused conv2d + max-pool op (conv_pool.py) ----------------
def _conv_shapes(op, x, weight, bias, stride, padding):
    """Check the arguments of a convolution; return
    ``(n, c, f, kh, kw, sh, sw, ph, pw, oh, ow)``."""
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}")
    if weight.ndim != 4:
        raise ValueError(f"{op}: weight must be 4-D (F, C, KH, KW), got shape {weight.shape}")
    n, c = x.shape[:2]
    f, wc, kh, kw = weight.shape
    if wc != c:
        raise ValueError(f"{op}: input has {c} channels but weight expects {wc} "
                         f"(input shape {x.shape}, weight shape {weight.shape})")
    if bias is not None and bias.shape != (f,):
        raise ValueError(f"{op}: bias of shape {bias.shape} does not fit weight of shape "
                         f"{weight.shape} (expected ({f},))")
    sh, sw, ph, pw, oh, ow = _check_geometry(op, x.shape, kh, kw, stride, padding)
    return n, c, f, kh, kw, sh, sw, ph, pw, oh, ow


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


def _input_grad(xp, g, weight, geometry):
    """The input gradient of a convolution from its output gradient ``g``, an
    ``(N*OH*OW, F)`` matrix with rows in (n, oh, ow) order; NCHW view of NHWC memory."""
    x_shape, kh, kw, sh, sw, ph, pw, oh, ow, _ = geometry
    n, c, h, w = x_shape
    f = weight.shape[0]
    # per kernel offset (i, j): W[:, :, i, j] as an (F, C) matrix
    wk = weight.transpose(2, 3, 0, 1).reshape(kh * kw, f, c)
    gx = xp.zeros((n, h + 2 * ph, w + 2 * pw, c), dtype=g.dtype)
    for images in batch_groups(xp, n, oh * ow * kh * kw * c * g.itemsize):
        rows = slice(images.start * oh * ow, images.stop * oh * ow)
        # one batched matmul: for each kernel offset, G (P, F) @ W_ij (F, C) -> (P, C),
        # added at once into the input positions it came from (in cache, slice by slice)
        blocks = (g[rows] @ wk).reshape(kh, kw, -1, oh, ow, c)
        _col2im_add(xp, blocks, gx[images], sh, sw)
    return _crop_to_nchw(gx, ph, pw)


# -- the op -----------------------------------------------------------------------------------
class Conv2d(Function):
    """``out[n, f] = bias[f] + sum_c x[n, c] (*) weight[f, c]`` (cross-correlation, as in
    every deep-learning framework), over NCHW input with zero padding and a stride."""

    def forward(self, x, weight, bias=None, stride=1, padding=0):
        xp = self.xp
        n, c, f, kh, kw, sh, sw, ph, pw, oh, ow = _conv_shapes("conv2d", x, weight, bias, stride,
                                                               padding)
        xh = _nhwc_padded(xp, x, ph, pw)
        wmat = _weight_matrix(xp, weight, bias)
        k, fold = kh * kw * c, bias is not None  # bias as an extra column of ones in cols
        self.geometry = (x.shape, kh, kw, sh, sw, ph, pw, oh, ow, fold)
        # cols: one row per output position, (i, j, c) columns [+ a column of ones]
        cols = xp.empty((n * oh * ow, k + fold), dtype=x.dtype)
        out = xp.empty((n * oh * ow, f), dtype=x.dtype)
        for images in batch_groups(xp, n, oh * ow * (k + fold) * x.itemsize):
            rows = slice(images.start * oh * ow, images.stop * oh * ow)
            # fill this group's rows of cols and multiply them while they are in cache
            _im2col_into(xp, xh[images], kh, kw, sh, sw, oh, ow, cols[rows])
            if fold:
                cols[rows, k] = 1
            xp.matmul(cols[rows], wmat, out=out[rows])

        self.save_for_backward(cols, weight)
        # NHWC memory seen as NCHW: no copy; the next layer reads channels-last memory
        return out.reshape(n, oh, ow, f).transpose(0, 3, 1, 2)

    def backward(self, grad):
        xp = self.xp
        cols, weight = self.saved
        x_shape, kh, kw, sh, sw, ph, pw, oh, ow, fold = self.geometry
        n, f = x_shape[0], weight.shape[0]
        needs = self.needs_input_grad
        has_bias = len(needs) == 3
        # output gradient as an (N*OH*OW, F) matrix; free when grad is channels-last already
        g = xp.ascontiguousarray(grad.transpose(0, 2, 3, 1)).reshape(n * oh * ow, f)

        gw = gb = None
        if needs[1] or (has_bias and needs[2]):
            # (K [+1], F): the weight gradient, and the bias gradient as the last row
            gw, gb = _split_weight_grad(cols.T @ g, weight.shape, fold)
        gx = _input_grad(xp, g, weight, self.geometry) if needs[0] else None
        return (gx, gw, gb) if has_bias else (gx, gw)


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation) of ``x`` (N, C, H, W) with ``weight`` (F, C, KH, KW)
    plus ``bias`` (F,), zero ``padding`` and ``stride`` (ints or (height, width) pairs).

    Returns (N, F, OH, OW) with ``OH = floor((H + 2*ph - KH) / sh) + 1`` (likewise OW). The
    result is an NCHW view of channels-last memory (see the module notes)."""
    if bias is None:
        return Conv2d.apply(x, weight, stride=stride, padding=padding)
    return Conv2d.apply(x, weight, bias, stride=stride, padding=padding)
