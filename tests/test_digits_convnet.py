"""End to end: a small convnet trained with minigrad on scikit-learn's bundled 8x8 digits.

The network and the training loop are the ones assignment A4 asks students to write
(``coursework/A4/digits.py``, the reference solution); here they are checked as library code:
accuracy, float32 parameters, and bit-for-bit reproducibility from the seed."""
import numpy as np
import pytest

import minigrad as mg
from coursework.A4.digits import make_convnet, run


def test_convnet_learns_digits_and_is_reproducible():
    acc, net, _, seconds = run(seed=0, epochs=12)
    assert acc > 0.95, f"test accuracy {acc:.3f} after {seconds:.1f}s"
    for p in net.parameters():
        assert p.dtype == np.float32
    acc2, net2, _, _ = run(seed=0, epochs=12)
    assert acc2 == acc
    for (name, a), (_, b) in zip(net.named_parameters(), net2.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


@pytest.mark.gpu
def test_convnet_forward_matches_on_gpu():
    if not mg.gpu_available():
        pytest.skip("no CUDA GPU with CuPy")
    net = make_convnet(0)
    x = np.random.default_rng(0).standard_normal((4, 1, 8, 8)).astype(np.float32)
    cpu = net(mg.Tensor(x)).data
    gpu = net.to("cuda")(mg.Tensor(x).to("cuda")).numpy()
    np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-5)
