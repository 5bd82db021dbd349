"""Property tests for conv2d, max_pool2d, avg_pool2d and the im2col/col2im pair.

Shapes, kernels, strides and paddings are drawn by Hypothesis (kept tiny: the numerical
gradients cost two evaluations per input element). Each op is checked against

* the library's slow references ``conv2d_simple``, ``max_pool2d_simple`` and
  ``avg_pool2d_simple`` (the definitions written with plain ops) in float64, forward and
  backward through their own tape; the references themselves against NumPy's sliding
  windows,
* central differences in float64 via ``minigrad.gradcheck`` (backward),
* PyTorch, when it is importable (forward and backward, float32),
* and, in the ``gpu`` class, the same op on CuPy against the NumPy result.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import Tensor, gradcheck, ops

from rounding import assert_close_up_to_rounding

SETTINGS = dict(deadline=None,  # max_examples: the Hypothesis profile in conftest.py (ci: 25)
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- the output-size rule, written again as an independent check ---------------------------------
def out_size(n, k, s, p):
    return (n + 2 * p - k) // s + 1


# -- strategies --------------------------------------------------------------------------------------
@st.composite
def conv_cases(draw, max_hw=7):
    """(x shape, weight shape, stride pair, padding pair) with the kernel fitting the padded input."""
    n = draw(st.integers(1, 2))
    c = draw(st.integers(1, 3))
    f = draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), max(1, kh - 2 * ph) + max_hw - 2))
    w = draw(st.integers(max(1, kw - 2 * pw), max(1, kw - 2 * pw) + max_hw - 2))
    return (n, c, h, w), (f, c, kh, kw), (sh, sw), (ph, pw)


@st.composite
def pool_cases(draw, max_hw=8):
    """(x shape, kernel pair, stride pair or None, padding pair); padding <= kernel / 2."""
    n = draw(st.integers(1, 2))
    c = draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.none() | st.tuples(st.integers(1, 3), st.integers(1, 3)))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h = draw(st.integers(max(1, kh - 2 * ph), max(1, kh - 2 * ph) + max_hw - 2))
    w = draw(st.integers(max(1, kw - 2 * pw), max(1, kw - 2 * pw) + max_hw - 2))
    return (n, c, h, w), (kh, kw), stride, (ph, pw)


def random(shape, seed, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def distinct(shape, seed, dtype=np.float64):
    """Values spaced 0.1 apart in random order: no ties, and far apart compared with the
    finite-difference step, so the max-pool argmax never flips during gradcheck."""
    size = int(np.prod(shape))
    perm = np.random.default_rng(seed).permutation(size)
    return ((perm - size / 2) * 0.1).reshape(shape).astype(dtype)


def channels_last_view(a):
    """The same values as ``a`` (NCHW) but stored channels-last: an NCHW view of NHWC memory."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def full_stride(stride, kernel):
    return kernel if stride is None else stride


POOLS = {"max": (ops.max_pool2d, ops.max_pool2d_simple),   # (fast, reference)
         "avg": (ops.avg_pool2d, ops.avg_pool2d_simple)}


def sliding_windows(x, kernel, stride, padding, fill=0.0):
    """NumPy's own view of every window, (N, C, OH, OW, KH, KW): a second system to check
    the library's references against."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xpad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    return np.lib.stride_tricks.sliding_window_view(xpad, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


# -- (a) forward against the oracles ----------------------------------------------------------------
@settings(**SETTINGS)
@given(conv_cases(), st.booleans(), st.booleans(), st.integers(0, 2**16))
def test_conv2d_forward_matches_oracle(case, with_bias, channels_last, seed):
    xs, ws, stride, padding = case
    x, w, b = random(xs, seed), random(ws, seed + 1), random(ws[0], seed + 2)
    if channels_last:
        x = channels_last_view(x)
    out = ops.conv2d(Tensor(x), Tensor(w), Tensor(b) if with_bias else None,
                     stride=stride, padding=padding)
    expected = ops.conv2d_simple(x, w, b if with_bias else None, stride, padding).data
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-10)


@settings(**SETTINGS)
@given(pool_cases(), st.sampled_from(["max", "avg"]), st.booleans(), st.integers(0, 2**16))
def test_pool_forward_matches_oracle(case, mode, channels_last, seed):
    xs, kernel, stride, padding = case
    x = distinct(xs, seed)
    if channels_last:
        x = channels_last_view(x)
    fn, simple = POOLS[mode]
    out = fn(Tensor(x), kernel, stride, padding)
    expected = simple(x, kernel, full_stride(stride, kernel), padding).data
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@settings(**SETTINGS)
@given(conv_cases(), st.booleans(), st.integers(0, 2**16))
def test_conv2d_simple_is_the_definition(case, with_bias, seed):
    """The reference itself, against NumPy's sliding windows and one einsum."""
    xs, ws, stride, padding = case
    x, w, b = random(xs, seed), random(ws, seed + 1), random(ws[0], seed + 2)
    windows = sliding_windows(x, ws[2:], stride, padding)
    expected = np.einsum("ncabij,fcij->nfab", windows, w) + (b[:, None, None] if with_bias else 0)
    out = ops.conv2d_simple(Tensor(x), Tensor(w), Tensor(b) if with_bias else None, stride, padding)
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-10)


@settings(**SETTINGS)
@given(pool_cases(), st.sampled_from(["max", "avg"]), st.integers(0, 2**16))
def test_pool_simple_is_the_definition(case, mode, seed):
    xs, kernel, stride, padding = case
    x = random(xs, seed)
    windows = sliding_windows(x, kernel, full_stride(stride, kernel), padding,
                              fill=-np.inf if mode == "max" else 0.0)
    expected = windows.max(axis=(4, 5)) if mode == "max" else windows.mean(axis=(4, 5))
    out = POOLS[mode][1](Tensor(x), kernel, stride, padding)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@settings(**SETTINGS)
@given(conv_cases(max_hw=6), st.booleans(), st.integers(0, 2**16))
def test_conv2d_gradients_match_the_reference(case, with_bias, seed):
    """The fast kernel's backward against the backward of the reference's ops."""
    xs, ws, stride, padding = case
    arrays = [random(xs, seed), random(ws, seed + 1)]
    arrays += [random(ws[0], seed + 2)] if with_bias else []
    g, grads = None, []
    for fn in (ops.conv2d, ops.conv2d_simple):
        ts = [Tensor(a, requires_grad=True) for a in arrays]
        y = fn(*ts[:2], ts[2] if with_bias else None, stride=stride, padding=padding)
        g = random(y.shape, seed + 3) if g is None else g
        y.backward(g)
        grads.append([t.grad for t in ts])
    for fast, simple in zip(*grads):
        np.testing.assert_allclose(fast, simple, rtol=1e-10, atol=1e-10)


@settings(**SETTINGS)
@given(pool_cases(), st.sampled_from(["max", "avg"]), st.integers(0, 2**16))
def test_pool_gradients_match_the_reference(case, mode, seed):
    xs, kernel, stride, padding = case
    x = distinct(xs, seed)   # no ties: both give a window's gradient to its one maximum
    g, grads = None, []
    for fn in POOLS[mode]:
        t = Tensor(x, requires_grad=True)
        y = fn(t, kernel, stride, padding)
        g = random(y.shape, seed + 1) if g is None else g
        y.backward(g)
        grads.append(t.grad)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-12)


# -- (b) backward against numerical gradients --------------------------------------------------------
@settings(**SETTINGS)
@given(conv_cases(max_hw=6), st.booleans(), st.integers(0, 2**16))
def test_conv2d_gradcheck(case, with_bias, seed):
    xs, ws, stride, padding = case
    x = Tensor(random(xs, seed), requires_grad=True)
    w = Tensor(random(ws, seed + 1), requires_grad=True)
    inputs = [x, w]
    if with_bias:
        inputs.append(Tensor(random(ws[0], seed + 2), requires_grad=True))
    assert gradcheck(lambda *t: ops.conv2d(*t, stride=stride, padding=padding), *inputs)


@settings(**SETTINGS)
@given(pool_cases(max_hw=7), st.sampled_from(["max", "avg"]), st.integers(0, 2**16))
def test_pool_gradcheck(case, mode, seed):
    xs, kernel, stride, padding = case
    x = Tensor(distinct(xs, seed), requires_grad=True)
    fn = ops.max_pool2d if mode == "max" else ops.avg_pool2d
    assert gradcheck(lambda t: fn(t, kernel, stride, padding), x)


def test_conv2d_skips_gradients_nobody_asked_for():
    x = Tensor(random((2, 3, 6, 6), 0))  # data: requires_grad=False
    w = Tensor(random((4, 3, 3, 3), 1), requires_grad=True)
    b = Tensor(random(4, 2))              # a frozen bias
    ops.conv2d(x, w, b).sum().backward()
    assert x.grad is None and b.grad is None
    assert w.grad is not None and w.grad.shape == w.shape


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_image_groups_give_the_same_result(monkeypatch, mode):
    """On the CPU conv and pooling work a group of images at a time; one image per group
    must give what one group for the whole batch gives."""
    from minigrad.ops import conv as conv_module, pool as pool_module

    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 10, 9))
    w, b = rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    g = rng.standard_normal((5, 4, 5, 5))
    pool = ops.max_pool2d if mode == "max" else ops.avg_pool2d

    def run():
        X, W, B = (Tensor(a, requires_grad=True) for a in (x, w, b))
        y = pool(ops.conv2d(X, W, B, padding=1), 3, 2, 1)
        y.backward(g)
        return [y.data, X.grad, W.grad, B.grad]

    whole = run()
    monkeypatch.setattr(conv_module, "GROUP_BYTES", 1)
    monkeypatch.setattr(pool_module, "GROUP_BYTES", 1)
    assert len(conv_module.batch_groups(np, 5, 100)) == 5
    for a, e in zip(run(), whole):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


def test_conv_and_pool_chain_gradcheck():
    """conv -> max-pool -> relu -> conv -> avg-pool -> flatten, as in the paper's networks
    (exercises the channels-last views flowing between the ops)."""
    x = Tensor(random((2, 2, 9, 9), 3), requires_grad=True)
    w1 = Tensor(random((3, 2, 3, 3), 4), requires_grad=True)
    b1 = Tensor(random(3, 5), requires_grad=True)
    w2 = Tensor(random((2, 3, 2, 2), 6), requires_grad=True)

    def net(x, w1, b1, w2):
        h = ops.relu(ops.max_pool2d(ops.conv2d(x, w1, b1, padding=1), 3, 2))
        return ops.flatten(ops.avg_pool2d(ops.conv2d(h, w2), 2, 1))

    assert gradcheck(net, x, w1, b1, w2)


# -- (c) im2col and col2im are adjoint ------------------------------------------------------------------
@settings(**SETTINGS)
@given(conv_cases(), st.integers(0, 2**16))
def test_im2col_col2im_adjoint(case, seed):
    xs, ws, stride, padding = case
    kh, kw = ws[2:]
    x = random(xs, seed)
    cols = ops.im2col(x, kh, kw, stride, padding)
    oh, ow = out_size(xs[2], kh, stride[0], padding[0]), out_size(xs[3], kw, stride[1], padding[1])
    assert cols.shape == (xs[0] * oh * ow, kh * kw * xs[1])
    y = random(cols.shape, seed + 1)
    back = ops.col2im(y, xs, kh, kw, stride, padding)
    assert back.shape == xs
    lhs, rhs = float((cols * y).sum()), float((x * back).sum())
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


def test_im2col_layout():
    """Row (n, oh, ow), column (i, j, c): the documented channels-last window order."""
    x = random((2, 3, 5, 4), 0)
    cols = ops.im2col(x, 2, 3, stride=(2, 1), padding=(1, 0))
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
    oh, ow = out_size(5, 2, 2, 1), out_size(4, 3, 1, 0)
    for n in range(2):
        for a in range(oh):
            for b in range(ow):
                window = xp[n, :, 2 * a:2 * a + 2, b:b + 3]  # (C, KH, KW)
                np.testing.assert_array_equal(cols[(n * oh + a) * ow + b], window.transpose(1, 2, 0).ravel())


# -- (d) float32 stays float32 -------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["conv", "max", "avg"])
def test_float32_in_float32_out_and_grads(op):
    x = Tensor(random((2, 3, 8, 7), 0, np.float32), requires_grad=True)
    params = [x]
    if op == "conv":
        w = Tensor(random((4, 3, 3, 2), 1, np.float32), requires_grad=True)
        b = Tensor(random(4, 2, np.float32), requires_grad=True)
        params += [w, b]
        out = ops.conv2d(x, w, b, stride=2, padding=1)
    elif op == "max":
        out = ops.max_pool2d(x, 3, 2, 1)
    else:
        out = ops.avg_pool2d(x, 2)
    assert out.dtype == np.float32
    out.sum().backward()
    for p in params:
        assert p.grad.dtype == np.float32 and p.grad.shape == p.shape


def test_helpers_keep_float32():
    x = random((2, 3, 6, 6), 0, np.float32)
    cols = ops.im2col(x, 3, 3, 1, 1)
    assert cols.dtype == np.float32
    assert ops.col2im(cols, x.shape, 3, 3, 1, 1).dtype == np.float32


# -- (e) errors name the op and the shapes ------------------------------------------------------------
def test_conv2d_channel_mismatch():
    x, w = Tensor(np.zeros((2, 3, 8, 8), np.float32)), Tensor(np.zeros((4, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"conv2d: input has 3 channels but weight expects 1 "
                                         r"\(input shape \(2, 3, 8, 8\), weight shape \(4, 1, 3, 3\)\)"):
        ops.conv2d(x, w)


def test_conv2d_kernel_larger_than_padded_input():
    x, w = Tensor(np.zeros((1, 1, 4, 4), np.float32)), Tensor(np.zeros((2, 1, 7, 7), np.float32))
    with pytest.raises(ValueError, match=r"conv2d: kernel 7x7 is larger than the padded input 6x6 "
                                         r"\(input shape \(1, 1, 4, 4\)"):
        ops.conv2d(x, w, padding=1)


@pytest.mark.parametrize("stride", [0, -1, (1, 0)])
def test_conv2d_bad_stride(stride):
    x, w = Tensor(np.zeros((1, 1, 5, 5), np.float32)), Tensor(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"conv2d: stride must be a positive integer"):
        ops.conv2d(x, w, stride=stride)


def test_conv2d_other_errors():
    x, w = Tensor(np.zeros((1, 1, 5, 5), np.float32)), Tensor(np.zeros((2, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"conv2d: input must be 4-D"):
        ops.conv2d(Tensor(np.zeros((5, 5), np.float32)), w)
    with pytest.raises(ValueError, match=r"conv2d: bias of shape \(3,\) does not fit weight of shape"):
        ops.conv2d(x, w, Tensor(np.zeros(3, np.float32)))
    with pytest.raises(ValueError, match=r"conv2d: padding must be >= 0"):
        ops.conv2d(x, w, padding=-1)
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a pair"):
        ops.conv2d(x, w, stride=1.5)


@pytest.mark.parametrize("fn,name", [(ops.max_pool2d, "max_pool2d"), (ops.avg_pool2d, "avg_pool2d")])
def test_pool_errors(fn, name):
    x = Tensor(np.zeros((1, 2, 4, 4), np.float32))
    with pytest.raises(ValueError, match=rf"{name}: kernel 5x5 is larger than the padded input 4x4 "
                                         r"\(input shape \(1, 2, 4, 4\)"):
        fn(x, 5)
    with pytest.raises(ValueError, match=rf"{name}: stride must be a positive integer"):
        fn(x, 2, 0)
    with pytest.raises(ValueError, match=rf"{name}: padding must be between 0 and half the kernel"):
        fn(x, 2, 2, 2)
    with pytest.raises(ValueError, match=rf"{name}: input must be 4-D"):
        fn(Tensor(np.zeros((4, 4), np.float32)), 2)


def test_col2im_shape_error():
    with pytest.raises(ValueError, match=r"col2im: cols of shape \(3, 4\) do not fit input shape"):
        ops.col2im(np.zeros((3, 4)), (1, 1, 4, 4), 2, 2)


# -- (f) agreement with PyTorch ---------------------------------------------------------------------------
def test_agrees_with_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 13, 11)).astype(np.float32)
    w = rng.standard_normal((5, 4, 3, 4)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)

    def run_minigrad():
        X, W, B = (Tensor(a, requires_grad=True) for a in (x, w, b))
        h = ops.conv2d(X, W, B, stride=(1, 2), padding=(2, 1))
        y = (ops.max_pool2d(h, 3, 2, 1) * 1.5).sum() + (ops.avg_pool2d(h, 2) ** 2).sum()
        y.backward()
        return h.data, y.data, X.grad, W.grad, B.grad

    def run_torch():
        X, W, B = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        h = F.conv2d(X, W, B, stride=(1, 2), padding=(2, 1))
        y = (F.max_pool2d(h, 3, 2, 1) * 1.5).sum() + (F.avg_pool2d(h, 2) ** 2).sum()
        y.backward()
        return h.detach(), y.detach(), X.grad, W.grad, B.grad

    # PyTorch sums in its own order. Lengths of the sums behind one element (tests/rounding.py;
    # was rtol 1e-4, atol 1e-3 x max): the conv's fan-in 4 x 3 x 4 + bias; the loss adds the
    # 8 x 3 max-pooled and 7 x 2 average-pooled values of 3 x 5 maps on top; a gradient of h
    # gathers up to 4 max windows + 1 average window, then dx up to 5 x 3 x 4 taps, dw and
    # db all 3 x 15 x 5 conv positions.
    conv, positions, h_grad = 4 * 3 * 4 + 1, 3 * 15 * 5, 4 + 1
    lengths = {"conv": conv, "loss": conv + 3 * 5 * (8 * 3 + 7 * 2), "dx": 5 * 3 * 4 + h_grad,
               "dw": positions + h_grad, "db": positions + h_grad}
    for ours, theirs, what in zip(run_minigrad(), run_torch(), ["conv", "loss", "dx", "dw", "db"]):
        theirs = theirs.numpy()
        assert ours.dtype == np.float32, what
        assert_close_up_to_rounding(ours, theirs, n_terms=lengths[what], err_msg=what)


# -- the same checks on CuPy --------------------------------------------------------------------------------
@pytest.mark.gpu
class TestOnGPU:
    """Forward and backward on CuPy arrays against the NumPy result (float32 and float64)."""

    @pytest.fixture(autouse=True)
    def _need_gpu(self):
        if not mg.gpu_available():
            pytest.skip("no CUDA GPU with CuPy")

    @staticmethod
    def both(fn, arrays):
        """Run ``fn`` on CPU and GPU tensors; return (cpu out, gpu out, cpu grads, gpu grads)."""
        results = []
        for device in ("cpu", "cuda"):
            ts = [Tensor(a, requires_grad=True).to(device) for a in arrays]
            out = fn(*ts)
            g = np.random.default_rng(9).standard_normal(out.shape).astype(out.dtype)
            out.backward(Tensor(g).to(device))
            results.append((out.numpy(), [mg.backend.to_numpy(t.grad) for t in ts]))
        return results

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), ((1, 2), (2, 0))])
    def test_conv2d(self, dtype, stride, padding):
        x, w, b = random((3, 4, 11, 10), 0, dtype), random((5, 4, 3, 3), 1, dtype), random(5, 2, dtype)
        (c_out, c_g), (g_out, g_g) = self.both(
            lambda *t: ops.conv2d(*t, stride=stride, padding=padding), [x, w, b])
        # cuBLAS sums in its own order: fan-in 4 x 3 x 3 + bias for the output and dx's
        # 5 x 3 x 3 taps, every position of every image for dw and db (tests/rounding.py;
        # was rtol = atol = 1e-4 for float32, 1e-10 for float64)
        positions = int(np.prod(c_out.shape)) // 5
        assert_close_up_to_rounding(g_out, c_out, n_terms=4 * 9 + 1, err_msg="output")
        for what, a, e, n in zip(("dx", "dw", "db"), g_g, c_g, (5 * 9, positions, positions)):
            assert_close_up_to_rounding(a, e, n_terms=n, err_msg=what)

    @pytest.mark.parametrize("mode", ["max", "avg"])
    @pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), (3, 2, 1), ((2, 3), (1, 2), (1, 0))])
    def test_pool(self, mode, kernel, stride, padding):
        x = distinct((2, 3, 9, 8), 0, np.float32)
        fn = ops.max_pool2d if mode == "max" else ops.avg_pool2d
        (c_out, c_g), (g_out, g_g) = self.both(lambda t: fn(t, kernel, stride, padding), [x])
        if mode == "max":   # no sums: a max and its gradient's routing are exact on any device
            np.testing.assert_array_equal(g_out, c_out)
            np.testing.assert_array_equal(g_g[0], c_g[0])
            return
        # an average sums one window; a gradient element gathers from every window holding it
        kh, kw = (kernel, kernel) if np.ndim(kernel) == 0 else kernel
        assert_close_up_to_rounding(g_out, c_out, n_terms=kh * kw + 1, err_msg="output")
        assert_close_up_to_rounding(g_g[0], c_g[0], n_terms=kh * kw, err_msg="dx")

    def test_im2col_col2im(self):
        cp = mg.backend.cupy_or_raise()
        x = random((2, 3, 7, 6), 0)
        cols = ops.im2col(cp.asarray(x), 3, 2, (2, 1), 1)
        np.testing.assert_allclose(cp.asnumpy(cols), ops.im2col(x, 3, 2, (2, 1), 1))
        y = random(cols.shape, 1)
        back = ops.col2im(cp.asarray(y), x.shape, 3, 2, (2, 1), 1)
        assert_close_up_to_rounding(cp.asnumpy(back), ops.col2im(y, x.shape, 3, 2, (2, 1), 1),
                                    n_terms=3 * 2, err_msg="col2im")   # 3 x 2 overlapping taps
