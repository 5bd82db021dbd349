"""Property tests for every differentiable non-conv op.

Each test draws shapes (broadcasting pairs for binary ops), axes, permutations and indices
with Hypothesis, keeps inputs away from kinks and poles by construction, and hands the op to
``check_op`` (conftest): forward against a float64 NumPy reference, backward against float64
central differences, and the float32 run (float32 out, float32 gradients of the right
shape, close to float64). On a machine with a GPU each test runs on CuPy too.

Then: numerical stability for huge logits, the adjoint identity <u, VJP(v)> == <v, JVP(u)>
for linear ops (HIPS autograd), and a random expression graph replayed in PyTorch
(micrograd's second system).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import ops

from rounding import assert_close_up_to_rounding
from conftest import (BACKENDS, DEVICE, away_from_zero, check_op, distinct_arrays, float_arrays,
                      positive_arrays)

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
nonscalar_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)
pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)

with_backends = pytest.mark.parametrize("backend", BACKENDS)


def axes_for(ndim):
    """None, one axis (positive or negative), or a tuple of distinct axes."""
    options = [st.none(), hnp.valid_tuple_axes(ndim)]
    if ndim:
        options.append(st.integers(-ndim, ndim - 1))
    return st.one_of(*options)


# -- elementwise binary ops, with broadcasting ----------------------------------------------------
BINARY = {
    "add": (ops.add, np.add),
    "sub": (ops.sub, np.subtract),
    "mul": (ops.mul, np.multiply),
    "div": (ops.div, np.divide),
    "add_operator": (lambda a, b: a + b, np.add),
    "sub_operator": (lambda a, b: a - b, np.subtract),
    "mul_operator": (lambda a, b: a * b, np.multiply),
    "div_operator": (lambda a, b: a / b, np.divide),
}


@with_backends
@pytest.mark.parametrize("name", list(BINARY))
@given(data=st.data())
def test_binary_ops_broadcast(backend, name, data):
    fn, ref = BINARY[name]
    sa, sb = data.draw(pairs).input_shapes
    a = data.draw(float_arrays(sa))
    b = data.draw(away_from_zero(sb, margin=0.5) if "div" in name else float_arrays(sb))
    check_op(fn, a, b, reference=ref, device=DEVICE[backend])


SCALAR_FORMS = {
    "x+2": (lambda x: x + 2.0, lambda x: x + 2.0),
    "2+x": (lambda x: 2.0 + x, lambda x: 2.0 + x),
    "x-3": (lambda x: x - 3, lambda x: x - 3.0),
    "3-x": (lambda x: 3 - x, lambda x: 3.0 - x),
    "x*1.5": (lambda x: x * 1.5, lambda x: x * 1.5),
    "1.5*x": (lambda x: 1.5 * x, lambda x: 1.5 * x),
    "x/4": (lambda x: x / 4.0, lambda x: x / 4.0),
    "4/x": (lambda x: 4.0 / x, lambda x: 4.0 / x),
    "x*np.float64": (lambda x: x * np.float64(0.5), lambda x: x * 0.5),
    "np.float32*x": (lambda x: np.float32(0.5) * x, lambda x: 0.5 * x),
    "x-np.int64": (lambda x: x - np.int64(2), lambda x: x - 2.0),
}


@pytest.mark.parametrize("form", list(SCALAR_FORMS))
@given(data=st.data())
def test_scalar_operands_take_the_tensor_dtype(form, data):
    """Python and NumPy scalars adopt the tensor's float dtype (float32 stays float32)."""
    fn, ref = SCALAR_FORMS[form]
    x = data.draw(away_from_zero(data.draw(shapes), margin=0.5))
    check_op(fn, x, reference=ref)


# -- elementwise unary ops -----------------------------------------------------------------------
def _sigmoid64(x):
    return 1.0 / (1.0 + np.exp(-x))


UNARY = {
    # name: (op, reference, input strategy factory)
    "neg": (ops.neg, np.negative, float_arrays),
    "neg_operator": (lambda x: -x, np.negative, float_arrays),
    "exp": (ops.exp, np.exp, float_arrays),
    "log": (ops.log, np.log, positive_arrays),
    "sqrt": (ops.sqrt, np.sqrt, positive_arrays),
    "relu": (ops.relu, lambda x: np.maximum(x, 0.0), away_from_zero),
    "sigmoid": (ops.sigmoid, _sigmoid64, lambda s: float_arrays(s, -6.0, 6.0)),
    "tanh": (ops.tanh, np.tanh, float_arrays),
    "method_exp": (lambda x: x.exp(), np.exp, float_arrays),
    "method_relu": (lambda x: x.relu(), lambda x: np.maximum(x, 0.0), away_from_zero),
}


@with_backends
@pytest.mark.parametrize("name", list(UNARY))
@given(data=st.data())
def test_unary_ops(backend, name, data):
    fn, ref, inputs = UNARY[name]
    x = data.draw(inputs(data.draw(shapes)))
    check_op(fn, x, reference=ref, device=DEVICE[backend])


@with_backends
@given(data=st.data(), exponent=st.sampled_from([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0]))
def test_pow_positive_base(backend, data, exponent):
    x = data.draw(positive_arrays(data.draw(shapes)))
    check_op(lambda t: ops.pow(t, exponent), x, reference=lambda a: a ** exponent,
             device=DEVICE[backend])
    check_op(lambda t: t ** exponent, x, reference=lambda a: a ** exponent, device=DEVICE[backend])


@given(data=st.data(), exponent=st.sampled_from([0, 1, 2, 3]))
def test_pow_integer_exponent_any_sign(data, exponent):
    x = data.draw(away_from_zero(data.draw(shapes), margin=0.2))
    check_op(lambda t: t ** exponent, x, reference=lambda a: a ** exponent)


def test_pow_gradient_at_zero_is_finite_for_exponents_0_1_2():
    """d/dx x**c at x = 0 is 0, 1, 0 for c = 0, 1, 2 (no 0 * inf = nan)."""
    for c, expected in [(0, 0.0), (1, 1.0), (2, 0.0)]:
        x = mg.tensor(np.zeros(3), requires_grad=True, dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            (x ** c).sum().backward()
        np.testing.assert_array_equal(x.grad, np.full(3, expected), err_msg=f"exponent {c}")


# -- reductions ---------------------------------------------------------------------------------
@with_backends
@given(data=st.data(), keepdims=st.booleans())
def test_sum_and_mean(backend, data, keepdims):
    shape = data.draw(shapes)
    axis = data.draw(axes_for(len(shape)))
    x = data.draw(float_arrays(shape))
    check_op(lambda t: ops.sum(t, axis, keepdims), x,
             reference=lambda a: np.sum(a, axis=axis, keepdims=keepdims), device=DEVICE[backend])
    check_op(lambda t: t.mean(axis=axis, keepdims=keepdims), x,
             reference=lambda a: np.mean(a, axis=axis, keepdims=keepdims), device=DEVICE[backend])


@with_backends
@given(data=st.data(), keepdims=st.booleans())
def test_max_of_distinct_values(backend, data, keepdims):
    shape = data.draw(shapes)
    axis = data.draw(axes_for(len(shape)))
    x = data.draw(distinct_arrays(shape))
    _, (g,) = check_op(lambda t: ops.max(t, axis, keepdims), x,
                       reference=lambda a: np.max(a, axis=axis, keepdims=keepdims),
                       device=DEVICE[backend])
    # the gradient reaches only the arg-max positions: one per reduced slice
    reduced = np.max(x, axis=axis, keepdims=True)
    assert np.all((g != 0) <= (x == reduced))


def test_max_ties_share_the_gradient():
    x = mg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)


# -- shape ops ------------------------------------------------------------------------------------
@st.composite
def reshape_cases(draw):
    shape = draw(shapes)
    n = int(np.prod(shape, dtype=np.int64))
    candidates = [(n,), (-1,), (1, n), (n, 1), (-1, 1), tuple(draw(st.permutations(shape)))]
    candidates += [(d, n // d) for d in range(1, n + 1) if n % d == 0]
    candidates += [(d, -1, 1) for d in range(1, n + 1) if n % d == 0]
    if n == 1:
        candidates.append(())
    return shape, draw(st.sampled_from(candidates))


@with_backends
@given(case=reshape_cases(), data=st.data())
def test_reshape(backend, case, data):
    shape, target = case
    x = data.draw(float_arrays(shape))
    check_op(lambda t: ops.reshape(t, target), x, reference=lambda a: a.reshape(target),
             device=DEVICE[backend])
    check_op(lambda t: t.reshape(*target), x, reference=lambda a: a.reshape(target))


@with_backends
@given(data=st.data())
def test_transpose_drawn_permutation(backend, data):
    shape = data.draw(shapes)
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    x = data.draw(float_arrays(shape))
    check_op(lambda t: ops.transpose(t, *perm), x, reference=lambda a: a.transpose(perm),
             device=DEVICE[backend])
    negative = tuple(p - len(shape) for p in perm)  # the same permutation, negative spelling
    check_op(lambda t: t.transpose(negative), x, reference=lambda a: a.transpose(perm))
    check_op(lambda t: t.T, x, reference=lambda a: a.T)


@with_backends
@given(data=st.data())
def test_flatten(backend, data):
    shape = data.draw(nonscalar_shapes)
    start = data.draw(st.integers(0, len(shape) - 1))
    x = data.draw(float_arrays(shape))
    check_op(lambda t: ops.flatten(t, start), x,
             reference=lambda a: a.reshape(a.shape[:start] + (-1,)), device=DEVICE[backend])


@st.composite
def getitem_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    kind = draw(st.sampled_from(["basic", "int_arrays", "take_with_repeats", "mixed",
                                 "bool_full", "bool_axis0"]))
    if kind == "basic":
        index = draw(hnp.basic_indices(shape, min_dims=0, allow_ellipsis=True))
    elif kind == "int_arrays":
        index = draw(hnp.integer_array_indices(
            shape, result_shape=hnp.array_shapes(min_dims=1, max_dims=2, max_side=5)))
    elif kind == "take_with_repeats":  # one integer array on axis 0, repeats likely
        ids = draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=7))
        index = np.asarray(ids + ids[:1])  # always at least one repeat
    elif kind == "mixed" and len(shape) >= 2:
        ids = draw(st.lists(st.integers(0, shape[1] - 1), min_size=1, max_size=5))
        index = (slice(None, None, draw(st.sampled_from([1, -1, 2]))), np.asarray(ids + ids[:1]))
    elif kind == "bool_axis0":
        index = draw(hnp.arrays(np.bool_, (shape[0],)))
    else:
        index = draw(hnp.arrays(np.bool_, shape))
    return shape, index


@with_backends
@given(case=getitem_cases(), data=st.data())
def test_getitem(backend, case, data):
    shape, index = case
    x = data.draw(float_arrays(shape))
    dev = DEVICE[backend]
    dev_index = index
    if dev == "cuda":  # index arrays must live where the data lives
        move = (lambda i: mg.backend.to_device(i, "cuda") if isinstance(i, np.ndarray) else i)
        dev_index = tuple(map(move, index)) if isinstance(index, tuple) else move(index)
    check_op(lambda t: t[dev_index], x, reference=lambda a: a[index], device=dev)


def test_getitem_repeated_indices_accumulate():
    x = mg.tensor([10.0, 20.0, 30.0], requires_grad=True)
    x[np.array([0, 2, 0, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])
    x[mg.tensor([1, 1])].sum().backward()  # an integer Tensor works as an index too
    np.testing.assert_array_equal(x.grad, [3.0, 2.0, 1.0])


# -- cast ----------------------------------------------------------------------------------------
@given(data=st.data())
def test_cast_between_float_dtypes(data):
    x = data.draw(float_arrays(data.draw(shapes)))
    # float64 -> float64 is the identity: a gradcheck of the Cast node itself
    check_op(lambda t: t.astype(t.dtype) * 2.0, x, reference=lambda a: 2.0 * a)
    t = mg.Tensor(x.astype(np.float32), requires_grad=True)
    y = t.astype(np.float64)
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert t.grad.dtype == np.float32  # the gradient is cast back to the input's dtype
    np.testing.assert_allclose(t.grad, 2 * x.astype(np.float32), rtol=1e-6)


@st.composite
def concatenate_cases(draw):
    ndim = draw(st.integers(1, 3))
    axis = draw(st.integers(-ndim, ndim - 1))
    base = list(draw(hnp.array_shapes(min_dims=ndim, max_dims=ndim, max_side=3)))
    sizes = draw(st.lists(st.integers(1, 3), min_size=2, max_size=3))
    out = []
    for s in sizes:
        shape = list(base)
        shape[axis] = s
        out.append(tuple(shape))
    return out, axis


@with_backends
@given(case=concatenate_cases(), data=st.data())
def test_concatenate_drawn_axis(backend, case, data):
    in_shapes, axis = case
    xs = [data.draw(float_arrays(s)) for s in in_shapes]
    check_op(lambda *ts: ops.concatenate(list(ts), axis=axis), *xs,
             reference=lambda *arrs: np.concatenate(arrs, axis=axis), device=DEVICE[backend])


# -- linear algebra ------------------------------------------------------------------------------
@st.composite
def matmul_shapes(draw):
    m, k, n = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2,
                                                   max_side=3)).input_shapes
    return batch[0] + (m, k), batch[1] + (k, n)


@with_backends
@given(case=matmul_shapes(), data=st.data())
def test_matmul_2d_and_batched_with_broadcasting(backend, case, data):
    sa, sb = case
    a, b = data.draw(float_arrays(sa)), data.draw(float_arrays(sb))
    check_op(ops.matmul, a, b, reference=np.matmul, device=DEVICE[backend])
    check_op(lambda x, y: x @ y, a, b, reference=np.matmul)
    check_op(lambda x, y: x @ y, a, b, reference=np.matmul, wrt=(1,))  # one side constant


@with_backends
@given(n=st.integers(1, 4), fan_in=st.integers(1, 4), fan_out=st.integers(1, 4),
       bias=st.booleans(), data=st.data())
def test_linear_with_and_without_bias(backend, n, fan_in, fan_out, bias, data):
    x = data.draw(float_arrays((n, fan_in)))
    w = data.draw(float_arrays((fan_out, fan_in)))
    if bias:
        b = data.draw(float_arrays((fan_out,)))
        check_op(ops.linear, x, w, b, reference=lambda x, w, b: x @ w.T + b,
                 device=DEVICE[backend])
    else:
        check_op(ops.linear, x, w, reference=lambda x, w: x @ w.T, device=DEVICE[backend])


# -- softmax family and losses -------------------------------------------------------------------
def _log_softmax64(a, axis):
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@with_backends
@given(data=st.data())
def test_softmax_and_log_softmax_drawn_axis(backend, data):
    shape = data.draw(nonscalar_shapes)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = data.draw(float_arrays(shape))
    dev = DEVICE[backend]
    check_op(lambda t: ops.softmax(t, axis), x,
             reference=lambda a: np.exp(_log_softmax64(a, axis)), device=dev)
    check_op(lambda t: ops.log_softmax(t, axis), x,
             reference=lambda a: _log_softmax64(a, axis), device=dev)


@with_backends
@given(n=st.integers(1, 5), c=st.integers(2, 5), data=st.data())
def test_cross_entropy_integer_labels(backend, n, c, data):
    logits = data.draw(float_arrays((n, c)))
    labels = np.asarray(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    dev = DEVICE[backend]
    dev_labels = mg.backend.to_device(labels, dev)
    _, (g,) = check_op(lambda t: ops.cross_entropy(t, dev_labels), logits,
                       reference=lambda z: -_log_softmax64(z, 1)[np.arange(n), labels].mean(),
                       device=dev)
    # the well-known closed form: (softmax - onehot) / N, scaled by the upstream gradient
    onehot = np.eye(c)[labels]
    v = np.random.default_rng(0).standard_normal(())
    np.testing.assert_allclose(g, v * (np.exp(_log_softmax64(logits, 1)) - onehot) / n,
                               rtol=1e-10, atol=1e-12)


@with_backends
@given(data=st.data(), hard=st.booleans())
def test_binary_cross_entropy_with_logits(backend, data, hard):
    shape = data.draw(nonscalar_shapes)
    z = data.draw(float_arrays(shape, -4.0, 4.0))
    t = data.draw(hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, 1.0])) if hard
                  else float_arrays(shape, 0.0, 1.0))

    def reference(z):
        s = _sigmoid64(z)
        return np.mean(-(t * np.log(s) + (1 - t) * np.log(1 - s)))

    dev_t = mg.backend.to_device(t, DEVICE[backend])
    check_op(lambda x: ops.binary_cross_entropy_with_logits(x, dev_t), z, reference=reference,
             device=DEVICE[backend])


# -- dropout --------------------------------------------------------------------------------------
@with_backends
@given(data=st.data(), p=st.sampled_from([0.1, 0.5, 0.8]), seed=st.integers(0, 2**16))
def test_dropout_gradient_is_the_mask(backend, data, p, seed):
    shape = data.draw(nonscalar_shapes)
    x = data.draw(away_from_zero(shape))
    dev = DEVICE[backend]

    def drop(t):  # a fresh generator with the same seed: the same mask on every call
        return ops.dropout(t, p, True, np.random.default_rng(seed))

    mask = drop(mg.Tensor(np.ones(shape)).to(dev)).numpy()
    assert set(np.unique(mask)) <= {0.0, 1.0 / (1.0 - p)}
    _, (g,) = check_op(drop, x, reference=lambda a: a * mask, device=dev)
    xt = mg.Tensor(x.astype(np.float32), requires_grad=True).to(dev)
    drop(xt).sum().backward()
    np.testing.assert_allclose(xt.grad if dev == "cpu" else mg.backend.to_numpy(xt.grad),
                               mask, rtol=1e-6)


def test_dropout_is_identity_when_not_training_or_p_zero():
    x = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert ops.dropout(x, 0.5, False, np.random.default_rng(0)) is x
    assert ops.dropout(x, 0.0, True, np.random.default_rng(0)) is x


# -- numerical stability ----------------------------------------------------------------------
_STRICT = dict(over="raise", divide="raise", invalid="raise", under="ignore")
# underflow of exp(-1e4) to exactly 0 is the correct float answer, not an error


def test_cross_entropy_huge_logits_finite_and_correct():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3], [3.0, 1e4, 1e4]], np.float32)
    labels = np.array([0, 2, 1])
    x = mg.tensor(logits, requires_grad=True)
    with warnings.catch_warnings(), np.errstate(**_STRICT):
        warnings.simplefilter("error")
        loss = ops.cross_entropy(x, labels)
        loss.backward()
    # per row: logsumexp - z[label]: 0, 1e4 - 5e3, log(2)
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss.item(), (0.0 + 5e3 + np.log(2.0)) / 3, rtol=1e-6)
    expected = np.array([[1, 0, 0], [0, 1, 0], [0, 0.5, 0.5]]) - np.eye(3)[labels]
    assert np.all(np.isfinite(x.grad)) and x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, expected / 3, atol=1e-7)


def test_bce_with_logits_huge_logits_finite_and_correct():
    z = np.array([1e4, -1e4, 1e4, -1e4], np.float32)
    t = np.array([1.0, 0.0, 0.0, 1.0])
    x = mg.tensor(z, requires_grad=True)
    with warnings.catch_warnings(), np.errstate(**_STRICT):
        warnings.simplefilter("error")
        loss = ops.binary_cross_entropy_with_logits(x, t)
        loss.backward()
    np.testing.assert_allclose(loss.item(), (0 + 0 + 1e4 + 1e4) / 4, rtol=1e-6)
    np.testing.assert_allclose(x.grad, np.array([0.0, 0.0, 1.0, -1.0]) / 4, atol=1e-7)
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_extreme_inputs_without_warnings(dtype):
    x = mg.tensor(np.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype), requires_grad=True)
    with warnings.catch_warnings(), np.errstate(**_STRICT):
        warnings.simplefilter("error")
        y = ops.sigmoid(x)
        y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    np.testing.assert_allclose(y.numpy(), [0.0, _sigmoid64(-100.0), 0.5, 1.0, 1.0], atol=1e-30)
    assert np.all(np.isfinite(x.grad)) and x.grad[2] == pytest.approx(0.25)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_of_infinities_is_max_with_zero(dtype):
    # relu(-inf) is max(-inf, 0) = 0, not -inf * 0 = NaN
    x = mg.tensor(np.array([-np.inf, -2.0, 0.0, 3.0, np.inf], dtype), requires_grad=True)
    with warnings.catch_warnings(), np.errstate(**_STRICT):
        warnings.simplefilter("error")
        y = ops.relu(x)
        y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.0, 0.0, 3.0, np.inf])
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0, 1.0, 1.0])


def test_relu_gradient_is_grad_times_mask_to_the_bit_laid_out_like_its_input():
    """A channels-last input (what conv2d returns) and an NCHW gradient (what a flatten
    sends back): the input gradient is grad * mask bit for bit (-0.0 and NaN included) and
    channels-last, so the conv before it needs no copy."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 3, 4)).astype(np.float32).transpose(0, 3, 1, 2)
    g = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
    g[0, 0, 0, :] = [np.nan, -0.0, np.inf]
    xt = mg.Tensor(x, requires_grad=True)
    with np.errstate(invalid="ignore"):              # inf * 0
        ops.relu(xt).backward(g)
        expected = g * (x > 0)
    assert xt.grad.strides == x.strides and xt.grad.dtype == np.float32
    np.testing.assert_array_equal(xt.grad.view(np.int32), expected.view(np.int32))


# divisors whose square overflows or underflows while d(a/b)/db = -a / b**2 is representable
_DIVISOR_CASES = [(np.float64, b, a) for b in (1e-30, 1e30, 1e-200, 1e200) for a in (b, 1.0)
                  if 1e-300 < abs(1.0 / b * a / b) < 1e300] + \
                 [(np.float32, b, a) for b in (1e-20, 1e20) for a in (b, 1.0)
                  if 1e-37 < abs(1.0 / b * a / b) < 1e38]


@pytest.mark.parametrize("dtype, b, a", _DIVISOR_CASES)
def test_divisor_gradient_finite_and_accurate_at_extreme_divisors(dtype, b, a):
    from fractions import Fraction
    av, bv = dtype(a), dtype(b)   # the values the tensors hold, rounded to dtype
    exact = -Fraction(float(av)) / Fraction(float(bv)) ** 2   # d(a/b)/db, exactly
    x = mg.tensor(np.array([av], dtype), requires_grad=True)
    y = mg.tensor(np.array([bv], dtype), requires_grad=True)
    (x / y).sum().backward()
    got = y.grad[0]
    assert y.grad.dtype == dtype and np.isfinite(got)
    want = dtype(float(exact))
    # two roundings (a / b, then / b): within 2 ulps of the exact value
    assert abs(Fraction(float(got)) - exact) <= 2 * Fraction(float(np.spacing(abs(want)))), \
        (got, float(exact))
    assert x.grad[0] == dtype(1) / bv


def test_softmax_huge_logits_sums_to_one():
    x = mg.tensor(np.array([[1e4, 1e4 - 1.0, -1e4]], np.float32), requires_grad=True)
    with warnings.catch_warnings(), np.errstate(**_STRICT):
        warnings.simplefilter("error")
        y = ops.softmax(x, axis=1)
        (y * mg.tensor([[1.0, 2.0, 3.0]])).sum().backward()
    # the normaliser and this check each sum the 3 outputs (was rtol 1e-6)
    assert_close_up_to_rounding(y.numpy().sum(), 1.0, n_terms=2 * 3, magnitude=1.0)
    assert np.all(np.isfinite(x.grad))


# -- adjoint identity: <u, VJP(v)> == <v, JVP(u)> for linear ops ---------------------------------
def _adjoint_check(fn, x):
    """For linear ``fn``: VJP by backward, JVP by a central difference in float64 (exact
    for a linear map up to round-off); the two pairings must agree."""
    rng = np.random.default_rng(0)
    u = rng.standard_normal(x.shape)
    xt = mg.Tensor(x, requires_grad=True)
    y = fn(xt)
    v = rng.standard_normal(y.shape)
    y.backward(v)
    vjp = xt.grad
    h = 0.5  # any step: the difference quotient of a linear map is exact
    with mg.no_grad():
        jvp = (fn(mg.Tensor(x + h * u)).numpy() - fn(mg.Tensor(x - h * u)).numpy()) / (2 * h)
    lhs, rhs = float(np.sum(u * vjp)), float(np.sum(v * jvp))
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9)


@given(data=st.data())
def test_adjoint_transpose(data):
    shape = data.draw(shapes)
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    _adjoint_check(lambda t: ops.transpose(t, *perm), data.draw(float_arrays(shape)))


@given(case=getitem_cases(), data=st.data())
def test_adjoint_getitem(case, data):
    shape, index = case
    _adjoint_check(lambda t: t[index], data.draw(float_arrays(shape)))


@given(case=matmul_shapes(), data=st.data(), left=st.booleans())
def test_adjoint_matmul_in_one_argument(case, data, left):
    sa, sb = case
    a, b = data.draw(float_arrays(sa)), data.draw(float_arrays(sb))
    if left:
        _adjoint_check(lambda t: t @ mg.Tensor(b), a)
    else:
        _adjoint_check(lambda t: mg.Tensor(a) @ t, b)


@given(data=st.data(), keepdims=st.booleans())
def test_adjoint_sum_and_broadcast_add(data, keepdims):
    sa, sb = data.draw(pairs).input_shapes
    const = data.draw(float_arrays(sb))
    axis = data.draw(axes_for(len(sa)))
    _adjoint_check(lambda t: ops.sum(t, axis, keepdims) * 3.0, data.draw(float_arrays(sa)))
    _adjoint_check(lambda t: t + (mg.Tensor(const) * 0.0), data.draw(float_arrays(sa)))


# -- a second system: replay random graphs in PyTorch -------------------------------------------
def _build(lib, leaves, program):
    """Evaluate ``program`` (a list of (op, operand indices)) on ``leaves`` with ``lib``,
    an adapter exposing the ops by name. Every node is (4, 4)."""
    nodes = list(leaves)
    for op, (i, j) in program:
        a, b = nodes[i], nodes[j]
        nodes.append(getattr(lib, op)(a, b))
    return lib.loss(nodes[-1], nodes)


class _MG:
    add = staticmethod(lambda a, b: a + b)
    sub = staticmethod(lambda a, b: a - b)
    mul = staticmethod(lambda a, b: a * b)
    div = staticmethod(lambda a, b: a / (b * b + 1.0))
    matmul = staticmethod(lambda a, b: (a @ b) * 0.5)
    matmul_t = staticmethod(lambda a, b: a @ b.T * 0.5)
    tanh = staticmethod(lambda a, b: a.tanh())
    sigmoid = staticmethod(lambda a, b: ops.sigmoid(a) + b)
    relu = staticmethod(lambda a, b: ops.relu(a - b))
    exp_tanh = staticmethod(lambda a, b: a.tanh().exp())
    log = staticmethod(lambda a, b: (a * a + 1.0).log())
    sqrt = staticmethod(lambda a, b: (b * b + 0.5).sqrt() * a)
    pow = staticmethod(lambda a, b: a.tanh() ** 3)
    softmax = staticmethod(lambda a, b: ops.softmax(a, axis=0) * b)
    log_softmax = staticmethod(lambda a, b: ops.log_softmax(a, axis=1))
    sum_bcast = staticmethod(lambda a, b: a.sum(axis=1, keepdims=True) * b)
    mean_bcast = staticmethod(lambda a, b: b - a.mean(axis=0, keepdims=True))
    max_bcast = staticmethod(lambda a, b: a.max(axis=1, keepdims=True) + b)
    transpose = staticmethod(lambda a, b: a.T - b)
    getitem = staticmethod(lambda a, b: a[np.array([3, 0, 0, 1])] + b[:, ::-1])
    concat = staticmethod(lambda a, b: ops.concatenate([a[:2], b[1:3]], axis=0))

    @staticmethod
    def loss(out, nodes):
        return (out * out).mean() + ops.cross_entropy(nodes[0] + out, np.array([0, 3, 1, 1]))


def _torch_lib(torch):
    F = torch.nn.functional
    idx = torch.tensor([3, 0, 0, 1])

    class T:
        add = staticmethod(lambda a, b: a + b)
        sub = staticmethod(lambda a, b: a - b)
        mul = staticmethod(lambda a, b: a * b)
        div = staticmethod(lambda a, b: a / (b * b + 1.0))
        matmul = staticmethod(lambda a, b: (a @ b) * 0.5)
        matmul_t = staticmethod(lambda a, b: a @ b.T * 0.5)
        tanh = staticmethod(lambda a, b: a.tanh())
        sigmoid = staticmethod(lambda a, b: torch.sigmoid(a) + b)
        relu = staticmethod(lambda a, b: torch.relu(a - b))
        exp_tanh = staticmethod(lambda a, b: a.tanh().exp())
        log = staticmethod(lambda a, b: (a * a + 1.0).log())
        sqrt = staticmethod(lambda a, b: (b * b + 0.5).sqrt() * a)
        pow = staticmethod(lambda a, b: a.tanh() ** 3)
        softmax = staticmethod(lambda a, b: torch.softmax(a, dim=0) * b)
        log_softmax = staticmethod(lambda a, b: torch.log_softmax(a, dim=1))
        sum_bcast = staticmethod(lambda a, b: a.sum(dim=1, keepdim=True) * b)
        mean_bcast = staticmethod(lambda a, b: b - a.mean(dim=0, keepdim=True))
        max_bcast = staticmethod(lambda a, b: a.amax(dim=1, keepdim=True) + b)  # ties split
        transpose = staticmethod(lambda a, b: a.T - b)
        getitem = staticmethod(lambda a, b: a[idx] + b.flip(1))
        concat = staticmethod(lambda a, b: torch.cat([a[:2], b[1:3]], dim=0))

        @staticmethod
        def loss(out, nodes):
            return (out * out).mean() + F.cross_entropy(nodes[0] + out, torch.tensor([0, 3, 1, 1]))

    return T


_OPS = [name for name in vars(_MG) if not name.startswith("_") and name != "loss"]


@st.composite
def programs(draw, n_leaves=3):
    length = draw(st.integers(1, 10))
    program = []
    for k in range(length):
        avail = n_leaves + k
        # the last node used most often, so graphs are deep as well as wide
        i = draw(st.one_of(st.just(avail - 1), st.integers(0, avail - 1)))
        j = draw(st.integers(0, avail - 1))
        program.append((draw(st.sampled_from(_OPS)), (i, j)))
    return program


@given(program=programs(), seed=st.integers(0, 2**32 - 1))
def test_random_graphs_match_pytorch(program, seed):
    torch = pytest.importorskip("torch")
    values = np.random.default_rng(seed).uniform(-1.5, 1.5, size=(3, 4, 4))
    mg_leaves = [mg.Tensor(v.copy(), requires_grad=True) for v in values]
    th_leaves = [torch.tensor(v.copy(), dtype=torch.float64, requires_grad=True) for v in values]
    mg_loss = _build(_MG, mg_leaves, program)
    th_loss = _build(_torch_lib(torch), th_leaves, program)
    np.testing.assert_allclose(mg_loss.item(), th_loss.item(), rtol=1e-10, atol=1e-12)
    mg_loss.backward()
    th_loss.backward()
    for k, (a, b) in enumerate(zip(mg_leaves, th_leaves)):
        ga = a.grad if a.grad is not None else np.zeros((4, 4))
        gb = b.grad.numpy() if b.grad is not None else np.zeros((4, 4))
        np.testing.assert_allclose(ga, gb, rtol=1e-8, atol=1e-10, err_msg=f"leaf {k}, {program}")
