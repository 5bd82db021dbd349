"""A3.1 / A3.2 / A3.4 hidden tests: stride and padding variants, non-square kernels, leftover
rows, float32, a single needed gradient, and adjoint_gap against a broken col2im."""
import numpy as np
import pytest

import minigrad as mg
from coursework.A3.support import check_conv2d_backward, reference_col2im, reference_im2col
from coursework.checks import (CheckFailure, assert_adjoint_identity, assert_arrays_match,
                               assert_gradients_match)
from minigrad import ops
from minigrad.gradcheck import adjoint_gap

rng = np.random.default_rng(11)

HARD = [  # (x shape, kh, kw, stride, padding): pairs, leftovers, 1x1, kernel = input
    ((2, 2, 7, 6), 3, 2, (2, 1), (1, 2)),
    ((1, 3, 8, 8), 3, 3, 3, 0),            # leftover rows/columns fit no window
    ((2, 4, 3, 5), 1, 1, 1, 0),
    ((1, 2, 4, 4), 4, 4, 1, 0),
    ((1, 1, 5, 5), 3, 3, 1, 2),            # padding larger than half the kernel
]


# -- A3.1 ------------------------------------------------------------------------------------
@pytest.mark.task("A3.1")
@pytest.mark.parametrize("shape, kh, kw, s, p", HARD)
def test_im2col_and_col2im_in_every_geometry(shape, kh, kw, s, p):
    x = rng.standard_normal(shape)
    what = f"{kh}x{kw}, stride {s}, padding {p}, input {shape}"
    cols = ops.im2col(x, kh, kw, s, p)
    assert_arrays_match(f"im2col({what})", cols, reference_im2col(x, kh, kw, s, p), atol=0, rtol=0)
    y = rng.standard_normal(cols.shape)
    assert_adjoint_identity(f"im2col/col2im ({what})", lambda v: ops.im2col(v, kh, kw, s, p),
                            lambda u: ops.col2im(u, shape, kh, kw, s, p), x, y)


@pytest.mark.task("A3.1")
def test_im2col_keeps_float32_and_reads_a_transposed_input():
    x = rng.standard_normal((2, 5, 5, 3)).astype(np.float32).transpose(0, 3, 1, 2)  # NCHW view of NHWC
    cols = ops.im2col(x, 2, 2, 1, 1)
    assert_arrays_match("im2col of a float32 channels-last view", cols,
                        reference_im2col(x.astype(np.float64), 2, 2, 1, 1), atol=0, rtol=0,
                        dtype=np.float32)
    back = ops.col2im(cols, x.shape, 2, 2, 1, 1)
    if back.dtype != np.float32:
        raise CheckFailure(f"col2im of float32 cols: dtype {back.dtype}, expected float32")


# -- A3.2 ------------------------------------------------------------------------------------
@pytest.mark.task("A3.2")
@pytest.mark.parametrize("shape, kh, kw, s, p", HARD[:4])
def test_conv2d_backward_in_harder_geometries(shape, kh, kw, s, p):
    check_conv2d_backward(rng, shape, kh, kw, s, p, filters=2)


@pytest.mark.task("A3.2")
def test_conv2d_without_bias_and_matches_the_simple_reference():
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 2))
    fast = ops.conv2d(mg.Tensor(x), mg.Tensor(w), stride=(1, 2), padding=1)
    slow = ops.conv2d_simple(mg.Tensor(x), mg.Tensor(w), stride=(1, 2), padding=1)
    assert_arrays_match("conv2d without bias vs conv2d_simple", fast, slow, atol=1e-10)
    assert_gradients_match("conv2d without bias", lambda x_, w_: ops.conv2d(x_, w_, stride=(1, 2), padding=1),
                           x[:1], w[:2])


@pytest.mark.task("A3.2")
def test_conv2d_float32_and_only_the_weight_needs_a_gradient():
    x = mg.Tensor(rng.standard_normal((3, 2, 6, 6)).astype(np.float32))        # data: no grad
    w = mg.Tensor(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), requires_grad=True)
    b = mg.Tensor(np.zeros(4, np.float32), requires_grad=True)
    g = rng.standard_normal((3, 4, 3, 3)).astype(np.float32)
    y = ops.conv2d(x, w, b, stride=2, padding=1)
    y.backward(g)
    ws = mg.Tensor(w.data.astype(np.float64), requires_grad=True)
    bs = mg.Tensor(np.zeros(4), requires_grad=True)
    ops.conv2d_simple(mg.Tensor(x.data.astype(np.float64)), ws, bs, stride=2, padding=1).backward(
        g.astype(np.float64))
    assert_arrays_match("conv2d weight gradient (float32) vs conv2d_simple", w.grad, ws.grad,
                        atol=1e-4, rtol=1e-4, dtype=np.float32)
    assert_arrays_match("conv2d bias gradient (float32)", b.grad, bs.grad, atol=1e-4, rtol=1e-4,
                        dtype=np.float32)
    if x.grad is not None:
        raise CheckFailure("conv2d: the input did not require grad but got a .grad")


@pytest.mark.task("A3.2")
def test_conv2d_input_gradient_is_the_adjoint_of_its_forward():
    w = rng.standard_normal((3, 2, 3, 2))
    shape = (2, 2, 7, 6)

    def forward(x):
        return ops.conv2d(mg.Tensor(x), mg.Tensor(w), stride=2, padding=1).numpy()

    def adjoint(g):
        x = mg.Tensor(np.zeros(shape), requires_grad=True)
        ops.conv2d(x, mg.Tensor(w), stride=2, padding=1).backward(g)
        return x.grad

    y_shape = forward(np.zeros(shape)).shape
    assert_adjoint_identity("conv2d input gradient (stride 2, padding 1)", forward, adjoint,
                            rng.standard_normal(shape), rng.standard_normal(y_shape))


# -- A3.4 ------------------------------------------------------------------------------------
@pytest.mark.task("A3.4")
def test_adjoint_gap_catches_a_col2im_that_overwrites():
    shape, kh, kw, s, p = (2, 2, 6, 6), 3, 3, 1, 1
    y_shape = (2 * 6 * 6, kh * kw * 2)
    good = adjoint_gap(lambda x: reference_im2col(x, kh, kw, s, p),
                       lambda y: ops.col2im(y, shape, kh, kw, s, p), shape, y_shape)
    def overwriting_col2im(y):
        return reference_col2im(y, shape, kh, kw, s, p, overwrite=True)
    bad = adjoint_gap(lambda x: reference_im2col(x, kh, kw, s, p), overwriting_col2im, shape,
                      y_shape, seed=1)
    if not good < 1e-12:
        raise CheckFailure(f"adjoint_gap(im2col, col2im): expected round-off, got {good!r}")
    if not bad > 1e-2:
        raise CheckFailure(f"adjoint_gap(im2col, a col2im that overwrites overlaps): expected a "
                           f"large gap, got {bad!r}")


@pytest.mark.task("A3.4")
def test_adjoint_gap_uses_random_vectors_from_the_seed():
    a = rng.standard_normal((4, 4))
    sym = a + a.T
    gaps = {adjoint_gap(lambda v: a @ v, lambda u: sym @ u, (4,), (4,), seed=k) for k in range(3)}
    if len(gaps) < 2 or min(gaps) <= 0:
        raise CheckFailure(f"adjoint_gap with seeds 0, 1, 2 for a wrong adjoint gave {sorted(gaps)}: "
                           "expected positive gaps that differ with the random x, y of each seed")
    scaled = adjoint_gap(lambda v: 1e-30 * (a @ v), lambda u: 1e-30 * (a.T @ u), (4,), (4,))
    if not scaled < 1e-12:
        raise CheckFailure(f"adjoint_gap must be relative: for 1e-30 A and its transpose got {scaled!r}")


@pytest.mark.task("A3.4")
def test_adjoint_gap_rejects_wrong_shapes():
    with pytest.raises(ValueError) as caught:
        adjoint_gap(lambda v: v[:3], lambda u: u, (4,), (4,))
    if isinstance(caught.value, NotImplementedError):
        raise caught.value
