"""A4.4: a small convnet trained with minigrad on scikit-learn's bundled 8x8 digits.

Everything except the training loop is given:

* :func:`load_split` - the 1,797 digits as float32 images (N, 1, 8, 8), scaled to [0, 1] and
  centred, split 75 / 25 into training and test rows (stratified, fixed split);
* :func:`make_convnet` - conv(16) -> ReLU -> pool -> conv(32) -> ReLU -> pool -> 64 -> 10;
* :func:`train` - **you write its body** (task A4.4): minibatch SGD on the cross-entropy;
* :func:`accuracy` - test accuracy in eval mode without a tape;
* :func:`run` - all of it: ``accuracy, net, history, seconds = run(seed=0)``.

The data ships with scikit-learn, so nothing is downloaded. The whole run takes about a
second on one core.
"""
from __future__ import annotations

import time

import numpy as np

import minigrad as mg
from minigrad import nn, optim

__all__ = ["load_split", "make_convnet", "train", "accuracy", "run"]


def load_split(n: int | None = None):
    """``(x_train, y_train, x_test, y_test)``: images float32 (N, 1, 8, 8), labels int64.

    ``n`` keeps only the first ``n`` digits before splitting (for quick checks)."""
    from sklearn.datasets import load_digits  # deferred: importing scikit-learn is slow
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]  # N, 1, 8, 8 in [0, 1]
    x -= x.mean()
    y = digits.target.astype(np.int64)
    if n is not None:
        x, y = x[:n], y[:n]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    return x_train, y_train, x_test, y_test


def make_convnet(seed: int = 0) -> nn.Sequential:
    """The network: two 3x3 conv blocks (padding 1, 2x2 max pooling) and two linear layers."""
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 4 x 4
        nn.Conv2d(16, 32, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),  # 32 x 2 x 2
        nn.Flatten(), nn.Linear(128, 64, rng=rng), nn.ReLU(), nn.Linear(64, 10, rng=rng),
    )


def train(net, x, y, *, epochs: int = 8, batch_size: int = 32, lr: float = 0.05,
          momentum: float = 0.9, weight_decay: float = 0.0, seed: int = 0) -> list:
    """Train ``net`` in place with minibatch SGD on ``ops.cross_entropy``; return the mean
    training loss of each epoch (a list of ``epochs`` floats).

    Reproducible: the only randomness is the order of the rows, drawn from ONE generator
    ``np.random.default_rng(seed)`` made before the first epoch (a fresh permutation of all
    rows each epoch, then consecutive slices of ``batch_size`` rows; the last may be
    shorter). Use :class:`minigrad.optim.SGD` with ``lr``, ``momentum`` and ``weight_decay``.
    """
    # Per minibatch: zero the gradients, forward, loss, backward, optimizer step.
    # BEGIN SOLUTION A4.4
    opt = optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    net.train()
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad()
            loss = mg.ops.cross_entropy(net(mg.Tensor(x[idx])), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history.append(total / len(x))
    return history
    # END SOLUTION


def accuracy(net, x, y, batch_size: int = 512) -> float:
    """Fraction of rows of ``x`` whose arg-max logit is ``y`` (eval mode, no tape)."""
    was_training = net.training
    net.eval()
    try:
        with mg.no_grad():
            pred = np.concatenate([net(mg.Tensor(x[i:i + batch_size])).numpy().argmax(axis=1)
                                   for i in range(0, len(x), batch_size)])
    finally:
        net.train(was_training)
    return float((pred == y).mean())


def run(seed: int = 0, **train_kwargs):
    """Load the split, build and train the convnet; ``(test accuracy, net, history, seconds)``
    where ``seconds`` is the training time."""
    x_train, y_train, x_test, y_test = load_split()
    net = make_convnet(seed)
    start = time.perf_counter()
    history = train(net, x_train, y_train, seed=seed, **train_kwargs)
    seconds = time.perf_counter() - start
    return accuracy(net, x_test, y_test), net, history, seconds


if __name__ == "__main__":
    acc, _, hist, secs = run()
    print(f"test accuracy {acc:.3f} after {len(hist)} epochs ({secs:.1f} s); "
          f"losses {', '.join(f'{h:.3f}' for h in hist)}")
