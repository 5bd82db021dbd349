"""A2.4 (log-softmax and cross-entropy) and A2.5 (sigmoid and the logistic loss): public tests."""
import numpy as np
import pytest
from scipy.special import expit, log_softmax as scipy_log_softmax

import minigrad as mg
from coursework.checks import CheckFailure, assert_arrays_match, assert_gradients_match
from minigrad import ops

rng = np.random.default_rng(1)
LOGITS = rng.standard_normal((4, 5)) * 3
LABELS = np.array([0, 4, 2, 4])


def reference_cross_entropy(z, labels):
    return -scipy_log_softmax(z, axis=1)[np.arange(len(labels)), labels].mean()


def reference_bce(z, t):
    p = expit(z)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()


def check_finite(what, value):
    data = value.numpy() if isinstance(value, mg.Tensor) else np.asarray(value)
    if not np.all(np.isfinite(data)):
        bad = np.argwhere(~np.isfinite(data))[0]
        raise CheckFailure(f"{what}: not finite at index {tuple(int(i) for i in bad)} "
                           f"(got {data[tuple(bad)]}): use the log-sum-exp / |z| trick")


# -- A2.4 ------------------------------------------------------------------------------------
@pytest.mark.task("A2.4")
@pytest.mark.parametrize("axis", [-1, 0])
def test_log_softmax_forward_and_backward(axis):
    got = ops.log_softmax(mg.Tensor(LOGITS), axis=axis)
    assert_arrays_match(f"log_softmax(axis={axis}) forward", got,
                        scipy_log_softmax(LOGITS, axis=axis), atol=1e-10)
    assert_gradients_match(f"log_softmax(axis={axis})", lambda z: ops.log_softmax(z, axis=axis),
                           LOGITS)


@pytest.mark.task("A2.4")
def test_log_softmax_is_stable_for_huge_logits():
    z = np.array([[1000.0, 0.0, -1000.0], [-800.0, -801.0, -802.0]], dtype=np.float32)
    got = ops.log_softmax(mg.Tensor(z))
    check_finite("log_softmax of logits +-1000 (float32)", got)
    assert_arrays_match("log_softmax of logits +-1000 (float32)", got,
                        scipy_log_softmax(z.astype(np.float64), axis=1), atol=1e-3, rtol=1e-5,
                        dtype=np.float32)


@pytest.mark.task("A2.4")
def test_cross_entropy_forward_and_backward():
    got = ops.cross_entropy(mg.Tensor(LOGITS), LABELS)
    assert_arrays_match("cross_entropy forward", got, reference_cross_entropy(LOGITS, LABELS),
                        atol=1e-10)
    assert_gradients_match("cross_entropy", lambda z: ops.cross_entropy(z, LABELS), LOGITS)


@pytest.mark.task("A2.4")
def test_cross_entropy_is_stable_for_huge_logits():
    z = mg.Tensor(np.array([[1000.0, 0.0], [0.0, 1000.0]], dtype=np.float32), requires_grad=True)
    loss = ops.cross_entropy(z, np.array([1, 1]))
    check_finite("cross_entropy of logits 1000", loss)
    assert_arrays_match("cross_entropy of logits 1000: loss (one right, one wrong by 1000)", loss,
                        500.0, atol=1e-3, dtype=np.float32)
    loss.backward()
    # d/dz of the mean: (softmax(z) - onehot(label)) / N
    assert_arrays_match("cross_entropy of logits 1000: gradient", z.grad,
                        [[0.5, -0.5], [0.0, 0.0]], atol=1e-6, dtype=np.float32)


# -- A2.5 ------------------------------------------------------------------------------------
@pytest.mark.task("A2.5")
def test_sigmoid_forward_and_backward():
    z = np.linspace(-6, 6, 9)
    assert_arrays_match("sigmoid forward", ops.sigmoid(mg.Tensor(z)), expit(z), atol=1e-12)
    assert_gradients_match("sigmoid", ops.sigmoid, z)


@pytest.mark.task("A2.5")
def test_logistic_loss_forward_and_backward():
    z = rng.standard_normal((3, 4)) * 2
    t = (rng.random((3, 4)) > 0.5).astype(np.float64)
    got = ops.binary_cross_entropy_with_logits(mg.Tensor(z), t)
    assert_arrays_match("binary_cross_entropy_with_logits forward", got, reference_bce(z, t),
                        atol=1e-10)
    assert_gradients_match("binary_cross_entropy_with_logits",
                           lambda x: ops.binary_cross_entropy_with_logits(x, t), z)


@pytest.mark.task("A2.5")
def test_logistic_loss_is_stable_for_huge_logits():
    z = mg.Tensor(np.array([1000.0, -1000.0, 1000.0, -1000.0], dtype=np.float32), requires_grad=True)
    t = np.array([1.0, 0.0, 0.0, 1.0], dtype=np.float32)
    loss = ops.binary_cross_entropy_with_logits(z, t)
    check_finite("binary_cross_entropy_with_logits of logits +-1000", loss)
    # two are right (loss 0), two wrong by 1000 (loss 1000 each): mean 500
    assert_arrays_match("binary_cross_entropy_with_logits of logits +-1000", loss, 500.0,
                        atol=1e-3, dtype=np.float32)
    loss.backward()
    assert_arrays_match("binary_cross_entropy_with_logits of logits +-1000: gradient "
                        "(sigmoid(z) - t) / N", z.grad, [0.0, 0.0, 0.25, -0.25], atol=1e-7,
                        dtype=np.float32)
