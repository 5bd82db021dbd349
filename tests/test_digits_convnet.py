"""End to end: a small convnet trained with minigrad on scikit-learn's bundled 8x8 digits."""
import time

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import minigrad as mg
from minigrad import nn, optim


def make_net(seed):
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),   # 16x4x4
        nn.Conv2d(16, 32, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),  # 32x2x2
        nn.Flatten(), nn.Linear(128, 64, rng=rng), nn.ReLU(), nn.Linear(64, 10, rng=rng),
    )


def train_digits(seed, epochs=12, batch=32):
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]  # N, 1, 8, 8 in [0, 1]
    x -= x.mean()
    xtr, xte, ytr, yte = train_test_split(x, digits.target, test_size=0.25, random_state=0,
                                          stratify=digits.target)
    net = make_net(seed)
    opt = optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(xtr))
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = mg.ops.cross_entropy(net(mg.Tensor(xtr[idx])), ytr[idx])
            loss.backward()
            opt.step()
    net.eval()
    with mg.no_grad():
        pred = net(mg.Tensor(xte)).data.argmax(axis=1)
    return float((pred == yte).mean()), net


def test_convnet_learns_digits_and_is_reproducible():
    start = time.perf_counter()
    acc, net = train_digits(seed=0)
    elapsed = time.perf_counter() - start
    assert acc > 0.95, f"test accuracy {acc:.3f} after {elapsed:.1f}s"
    for p in net.parameters():
        assert p.dtype == np.float32
    acc2, net2 = train_digits(seed=0)
    assert acc2 == acc
    for (name, a), (_, b) in zip(net.named_parameters(), net2.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


@pytest.mark.gpu
def test_convnet_forward_matches_on_gpu():
    if not mg.gpu_available():
        pytest.skip("no CUDA GPU with CuPy")
    net = make_net(0)
    x = np.random.default_rng(0).standard_normal((4, 1, 8, 8)).astype(np.float32)
    cpu = net(mg.Tensor(x)).data
    gpu = net.to("cuda")(mg.Tensor(x).to("cuda")).numpy()
    np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-5)
