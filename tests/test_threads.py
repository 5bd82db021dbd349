"""The thread rule (dann_from_scratch.threads): while training, BLAS runs one thread and
minigrad the count the rule gives; both are restored after."""
import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import minigrad
from dann_from_scratch import estimator as estimator_module
from dann_from_scratch import threads
from dann_from_scratch.estimator import DANNClassifier
from dann_from_scratch.models import mlp_model
from dann_from_scratch.trainers import TrainConfig, train


def blas_thread_counts():
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


@pytest.fixture
def two_threads_outside(monkeypatch):
    """BLAS set to 2 threads around the test (so that a limit of 1 is visible), and no
    DANN_THREADS from the caller's environment."""
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    if not blas_thread_counts():
        pytest.skip("no BLAS thread pool that threadpoolctl can see")
    with threadpool_limits(limits=2, user_api="blas"):
        if blas_thread_counts() != {2}:
            pytest.skip("this BLAS cannot run 2 threads here")
        yield


def blobs(n=64):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    xs = (np.where(y[:, None] == 1, 1.0, -1.0) + 0.3 * rng.standard_normal((n, 4))).astype(np.float32)
    return xs, y, xs + np.float32(1.0)


def counts():
    """(BLAS thread counts, minigrad's thread count) now."""
    return blas_thread_counts(), minigrad.get_num_threads()


def train_and_watch(**config):
    """Train a tiny DANN and return :func:`counts` seen during each step."""
    xs, ys, xt = blobs()
    seen = []
    train(mlp_model(4, 2, hidden=(8,), rng=0), (xs, ys), xt,
          TrainConfig(steps=3, batch_size=16, progress=False, **config),
          callback=lambda step, logs: seen.append(counts()))
    return seen


def test_the_rule(monkeypatch):
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    assert threads.resolve_threads() == threads.DEFAULT_THREADS == 1
    monkeypatch.setenv(threads.ENV_VAR, "3")
    assert threads.resolve_threads() == 3
    with threads.blas_threads(2):                      # an enclosing block beats the env
        assert threads.resolve_threads() == 2
        assert threads.resolve_threads(4) == 4         # an explicit argument beats both
    monkeypatch.setenv(threads.ENV_VAR, "Auto")
    assert threads.resolve_threads() == "auto"
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(threads.ENV_VAR, bad)
        with pytest.raises(ValueError, match="DANN_THREADS"):
            threads.resolve_threads()
    with pytest.raises(ValueError, match="threads >= 1"):
        threads.resolve_threads(0)


def test_training_uses_one_thread_and_restores_the_limit(two_threads_outside):
    assert train_and_watch() == [({1}, 1)] * 3
    assert counts() == ({2}, 1)


def test_the_environment_and_an_enclosing_block_override_it(two_threads_outside, monkeypatch):
    with threadpool_limits(limits=1, user_api="blas"):
        with threads.blas_threads(2):                  # what `dann --threads 2` does
            assert train_and_watch() == [({1}, 2)] * 3   # BLAS calls on 2 minigrad threads
        assert counts() == ({1}, 1)
        monkeypatch.setenv(threads.ENV_VAR, "2")
        assert train_and_watch() == [({1}, 2)] * 3
        monkeypatch.setenv(threads.ENV_VAR, "auto")    # leave BLAS and minigrad alone
        with threadpool_limits(limits=2, user_api="blas"), minigrad.threads.num_threads(3):
            assert train_and_watch() == [({2}, 3)] * 3
        assert counts() == ({1}, 1)


def test_the_limit_is_restored_when_training_fails(two_threads_outside):
    with pytest.raises(RuntimeError, match="stop"):
        xs, ys, xt = blobs()
        train(mlp_model(4, 2, hidden=(8,), rng=0), (xs, ys), xt,
              TrainConfig(steps=3, batch_size=16, progress=False),
              callback=lambda step, logs: (_ for _ in ()).throw(RuntimeError("stop")))
    assert counts() == ({2}, 1)


def test_the_estimator_fits_with_one_thread(two_threads_outside, monkeypatch):
    seen = []
    real_train_run = estimator_module.train_run

    def watching_train_run(*args, **kwargs):
        seen.append(counts())
        return real_train_run(*args, **kwargs)

    monkeypatch.setattr(estimator_module, "train_run", watching_train_run)
    xs, ys, xt = blobs()
    DANNClassifier(steps=2, batch_size=16).fit(xs, ys, X_target=xt)
    assert seen == [({1}, 1)]
    assert counts() == ({2}, 1)


def test_dann_threads_reaches_the_trainer(two_threads_outside):
    """`dann --threads N` wraps the command in the CLI's limit; the trainer inside keeps N."""
    from dann_from_scratch.cli import _blas_threads

    with threadpool_limits(limits=1, user_api="blas"):
        with _blas_threads(2):
            assert train_and_watch() == [({1}, 2)] * 3
        assert counts() == ({1}, 1)


def test_mnist_training_is_bit_identical_on_one_and_two_threads(monkeypatch):
    """No product of the MNIST network is large enough to split (minigrad.threads), and the
    image groups do the same arithmetic on any count: same parameters, bit for bit."""
    from minigrad.ops import conv as conv_module

    from dann_from_scratch.models import mnist_model

    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    monkeypatch.setattr(conv_module, "GROUP_BYTES", 1 << 18)   # several groups in a batch of 16
    rng = np.random.default_rng(0)
    xs = rng.random((32, 3, 28, 28), dtype=np.float32)
    ys = rng.integers(0, 10, 32)
    xt = rng.random((32, 3, 28, 28), dtype=np.float32)
    trained = []
    for count in (1, 2):
        model = mnist_model(rng=0)
        with threads.blas_threads(count):
            train(model, (xs, ys), xt, TrainConfig(steps=3, batch_size=16, progress=False))
        trained.append({name: p.data.copy() for name, p in model.named_parameters()})
    assert trained[0].keys() == trained[1].keys()
    for name in trained[0]:
        assert np.array_equal(trained[0][name], trained[1][name]), name
