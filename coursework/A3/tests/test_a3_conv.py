"""A3.1 (im2col, col2im), A3.2 (conv2d) and A3.4 (adjoint_gap): public tests.

References are plain loops over the definition, in float64 (coursework/A3/support.py).
"""
import numpy as np
import pytest

import minigrad as mg
from coursework.A3.support import (check_conv2d_backward, out_size, reference_col2im,
                                   reference_conv2d, reference_im2col)
from coursework.checks import CheckFailure, assert_arrays_match
from minigrad import ops
from minigrad.gradcheck import adjoint_gap

rng = np.random.default_rng(3)

GEOMETRIES = [  # (x shape, kh, kw, stride, padding)
    ((2, 3, 5, 5), 3, 3, 1, 0),
    ((1, 2, 6, 7), 3, 3, 2, 1),
    ((2, 1, 4, 6), 2, 3, 1, 1),
]


# -- A3.1 ------------------------------------------------------------------------------------
@pytest.mark.task("A3.1")
@pytest.mark.parametrize("shape, kh, kw, s, p", GEOMETRIES)
def test_im2col_matches_the_loop_reference(shape, kh, kw, s, p):
    x = rng.standard_normal(shape)
    assert_arrays_match(f"im2col(x of shape {shape}, {kh}x{kw}, stride {s}, padding {p})",
                        ops.im2col(x, kh, kw, s, p), reference_im2col(x, kh, kw, s, p), atol=0, rtol=0)


@pytest.mark.task("A3.1")
@pytest.mark.parametrize("shape, kh, kw, s, p", GEOMETRIES)
def test_col2im_matches_the_loop_reference(shape, kh, kw, s, p):
    rows = shape[0] * out_size(shape[2], kh, s, p) * out_size(shape[3], kw, s, p)
    cols = rng.standard_normal((rows, kh * kw * shape[1]))
    assert_arrays_match(f"col2im(to shape {shape}, {kh}x{kw}, stride {s}, padding {p})",
                        ops.col2im(cols, shape, kh, kw, s, p),
                        reference_col2im(cols, shape, kh, kw, s, p), atol=1e-12)


# -- A3.2 ------------------------------------------------------------------------------------
@pytest.mark.task("A3.2")
@pytest.mark.parametrize("shape, kh, kw, s, p", GEOMETRIES)
def test_conv2d_forward(shape, kh, kw, s, p):
    x = rng.standard_normal(shape)
    w = rng.standard_normal((4, shape[1], kh, kw))
    b = rng.standard_normal(4)
    assert_arrays_match(f"conv2d forward (x {shape}, w {w.shape}, stride {s}, padding {p})",
                        ops.conv2d(mg.Tensor(x), mg.Tensor(w), mg.Tensor(b), stride=s, padding=p),
                        reference_conv2d(x, w, b, s, p), atol=1e-10)


@pytest.mark.task("A3.2")
@pytest.mark.parametrize("shape, kh, kw, s, p", GEOMETRIES[:2])
def test_conv2d_backward(shape, kh, kw, s, p):
    check_conv2d_backward(rng, shape, kh, kw, s, p, filters=3)


# -- A3.4 ------------------------------------------------------------------------------------
@pytest.mark.task("A3.4")
def test_adjoint_gap_is_round_off_for_a_matrix_and_its_transpose():
    a = rng.standard_normal((5, 7))
    gap = adjoint_gap(lambda v: a @ v, lambda u: a.T @ u, (7,), (5,))
    if not 0 <= gap < 1e-12:
        raise CheckFailure(f"adjoint_gap(A, A^T): expected round-off (< 1e-12), got {gap!r}")


@pytest.mark.task("A3.4")
def test_adjoint_gap_flags_a_map_that_is_not_the_adjoint():
    a = rng.standard_normal((6, 6))
    gap = adjoint_gap(lambda v: a @ v, lambda u: a @ u, (6,), (6,))   # A, not A^T
    if not gap > 1e-2:
        raise CheckFailure(f"adjoint_gap(A, A) for a non-symmetric A: expected a large gap, got {gap!r}")
    gap2 = adjoint_gap(lambda v: 2 * v, lambda u: u, (4, 3), (4, 3))   # off by a factor 2
    if not gap2 > 0.1:
        raise CheckFailure(f"adjoint_gap(2 I, I): expected a gap of about 0.5, got {gap2!r}")


@pytest.mark.task("A3.4")
def test_adjoint_gap_of_im2col_and_col2im():
    shape, kh, kw, s, p = (2, 3, 6, 7), 3, 3, 2, 1
    rows = 2 * out_size(6, 3, 2, 1) * out_size(7, 3, 2, 1)
    gap = adjoint_gap(lambda x: ops.im2col(x, kh, kw, s, p),
                      lambda y: ops.col2im(y, shape, kh, kw, s, p), shape, (rows, kh * kw * 3))
    if not 0 <= gap < 1e-12:
        raise CheckFailure(f"adjoint_gap(im2col, col2im) with stride 2, padding 1: expected "
                           f"round-off, got {gap!r}")
