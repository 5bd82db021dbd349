"""A2.4 / A2.5 hidden tests: extreme logits, float32, single class, soft targets, overflow."""
import numpy as np
import pytest
from scipy.special import expit, log_softmax as scipy_log_softmax, softmax as scipy_softmax

import minigrad as mg
from coursework.checks import CheckFailure, assert_arrays_match, assert_gradients_match
from minigrad import ops

rng = np.random.default_rng(9)


def no_overflow(what, fn):
    """Run ``fn`` with floating-point overflow and invalid operations as errors."""
    try:
        with np.errstate(over="raise", invalid="raise"):
            return fn()
    except FloatingPointError as e:
        raise CheckFailure(f"{what}: {e} (an exp overflowed: compute it in a form that cannot)") from None


def loss_and_backward_without_overflow(what, loss_fn, t, target):
    """``loss_fn(t, target)`` and its backward into ``t.grad``, with overflow as an error."""
    def run():
        loss = loss_fn(t, target)
        loss.backward()
        return loss
    return no_overflow(what, run)


# -- A2.4 ------------------------------------------------------------------------------------
@pytest.mark.task("A2.4")
def test_cross_entropy_gradient_at_extreme_logits_without_overflow():
    z = np.array([[1e4, -1e4, 0.0], [-3e4, -3e4, -3e4], [5.0, 5.0, 1e4]], dtype=np.float32)
    labels = np.array([1, 2, 2])
    t = mg.Tensor(z, requires_grad=True)
    loss = loss_and_backward_without_overflow("cross_entropy at logits of 1e4", ops.cross_entropy,
                                              t, labels)
    z64 = z.astype(np.float64)
    expected = -scipy_log_softmax(z64, axis=1)[np.arange(3), labels].mean()
    assert_arrays_match("cross_entropy at logits of 1e4", loss, expected, rtol=1e-5,
                        dtype=np.float32)
    onehot = np.eye(3)[labels]
    assert_arrays_match("cross_entropy at logits of 1e4: gradient (softmax - onehot) / N", t.grad,
                        (scipy_softmax(z64, axis=1) - onehot) / 3, atol=1e-6, dtype=np.float32)


@pytest.mark.task("A2.4")
def test_log_softmax_backward_on_float32_and_large_batch():
    z = (rng.standard_normal((64, 10)) * 50).astype(np.float32)
    t = mg.Tensor(z, requires_grad=True)
    g = rng.standard_normal((64, 10)).astype(np.float32)
    no_overflow("log_softmax of logits ~50", lambda: ops.log_softmax(t).backward(g))
    z64 = z.astype(np.float64)
    expected = g - scipy_softmax(z64, axis=1) * g.astype(np.float64).sum(axis=1, keepdims=True)
    assert_arrays_match("log_softmax backward, float32, (64, 10)", t.grad, expected, atol=1e-4,
                        rtol=1e-4, dtype=np.float32)


@pytest.mark.task("A2.4")
def test_cross_entropy_single_class_and_one_sample():
    z = np.array([[3.7], [-2.0]])
    loss = ops.cross_entropy(mg.Tensor(z), np.array([0, 0]))
    assert_arrays_match("cross_entropy with one class (always right: loss 0)", loss, 0.0, atol=1e-12)
    one = rng.standard_normal((1, 6))
    assert_gradients_match("cross_entropy of a single sample", lambda x: ops.cross_entropy(x, np.array([3])),
                           one)


@pytest.mark.task("A2.4")
def test_cross_entropy_is_the_mean_over_the_batch():
    z = rng.standard_normal((8, 3))
    labels = rng.integers(0, 3, size=8)
    whole = ops.cross_entropy(mg.Tensor(z), labels).item()
    halves = [ops.cross_entropy(mg.Tensor(z[k:k + 4]), labels[k:k + 4]).item() for k in (0, 4)]
    assert_arrays_match("cross_entropy of 8 samples vs the mean of two batches of 4", whole,
                        np.mean(halves), atol=1e-12)


# -- A2.5 ------------------------------------------------------------------------------------
@pytest.mark.task("A2.5")
def test_sigmoid_does_not_overflow_and_saturates_exactly():
    z = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=np.float32)
    t = mg.Tensor(z, requires_grad=True)
    y = no_overflow("sigmoid of +-1000", lambda: ops.sigmoid(t))
    assert_arrays_match("sigmoid of +-1000", y, expit(z.astype(np.float64)), atol=1e-7,
                        dtype=np.float32)
    no_overflow("sigmoid backward at +-1000", lambda: y.backward(np.ones(5, np.float32)))
    s = expit(z.astype(np.float64))
    assert_arrays_match("sigmoid backward y (1 - y)", t.grad, s * (1 - s), atol=1e-7,
                        dtype=np.float32)


@pytest.mark.task("A2.5")
def test_logistic_loss_with_soft_targets_and_matrix_shape():
    z = rng.standard_normal((3, 2)) * 3
    soft = rng.random((3, 2))
    p = expit(z)
    expected = -(soft * np.log(p) + (1 - soft) * np.log(1 - p)).mean()
    assert_arrays_match("binary_cross_entropy_with_logits with soft targets",
                        ops.binary_cross_entropy_with_logits(mg.Tensor(z), soft), expected,
                        atol=1e-10)
    assert_gradients_match("binary_cross_entropy_with_logits with soft targets",
                           lambda x: ops.binary_cross_entropy_with_logits(x, soft), z)


@pytest.mark.task("A2.5")
def test_logistic_loss_without_overflow_at_extreme_logits():
    z = np.array([-3e4, -100.0, 100.0, 3e4], dtype=np.float32)
    targets = np.array([1.0, 1.0, 0.0, 0.0], dtype=np.float32)
    t = mg.Tensor(z, requires_grad=True)
    loss = loss_and_backward_without_overflow("binary_cross_entropy_with_logits at logits of 3e4",
                                              ops.binary_cross_entropy_with_logits, t, targets)
    assert_arrays_match("binary_cross_entropy_with_logits at logits of 3e4 (all four wrong)", loss,
                        (3e4 + 100 + 100 + 3e4) / 4, rtol=1e-6, dtype=np.float32)
    assert_arrays_match("binary_cross_entropy_with_logits gradient at logits of 3e4", t.grad,
                        [-0.25, -0.25, 0.25, 0.25], atol=1e-7, dtype=np.float32)
