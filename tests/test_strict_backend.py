"""The strict CuPy stand-in (tests/strict_xp.py) and the backend hook that plugs it in.

The stand-in is what the ``gpu`` tests run on where there is no GPU, so these tests check
that it really is strict (it refuses what CuPy refuses, and NumPy calls on device arrays),
that minigrad's backend takes it as device ``'cuda'``, that an op written with ``numpy.``
instead of the backend's module fails on it, and that a short DANN training runs on it.
"""
import numpy as np
import pytest

import minigrad as mg
import strict_xp
from minigrad import Function, backend
from dann_from_scratch.models import build_model
from dann_from_scratch.trainers import TrainConfig, train
from rounding import assert_close_up_to_rounding


@pytest.fixture
def standin():
    """Device 'cuda' is the stand-in during the test (even on a machine with a GPU)."""
    previous = backend.use_device_array_module(strict_xp)
    try:
        yield strict_xp
    finally:
        backend.use_device_array_module(previous)


# -- the stand-in is strict ---------------------------------------------------------------------
def test_no_implicit_conversion_to_numpy():
    x = strict_xp.asarray(np.arange(6.0).reshape(2, 3))
    for convert in (np.asarray, np.array, lambda a: a.__array__(), np.ascontiguousarray):
        with pytest.raises(TypeError, match="[Ii]mplicit conversion|device array"):
            convert(x)
    np.testing.assert_array_equal(x.get(), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(strict_xp.asnumpy(x), np.arange(6.0).reshape(2, 3))


def test_numpy_functions_and_host_arrays_are_refused():
    x = strict_xp.asarray(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="does not support ufuncs"):
        np.exp(x)
    with pytest.raises(TypeError, match="numpy.zeros_like was called on a device array"):
        np.zeros_like(x)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        x + np.ones((2, 3), dtype=np.float32)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        np.ones((2, 3), dtype=np.float32) * x
    with pytest.raises(TypeError, match="numpy.ndarray"):
        strict_xp.maximum(x, np.zeros((2, 3), dtype=np.float32))
    # scalars are fine, on either side, as in CuPy; results stay on the device
    y = np.float32(2.0) * x + 1.0
    assert isinstance(y, strict_xp.ndarray) and y.dtype == np.float32
    assert isinstance(x.sum(), strict_xp.ndarray) and x.sum().ndim == 0  # 0-d, not a scalar


def test_only_cupys_names_and_signatures():
    x = strict_xp.zeros((4, 4), dtype=np.float32)
    assert "insert" not in strict_xp.CUPY_NAMESPACE["top"] and hasattr(np, "insert")
    with pytest.raises(AttributeError, match="does not provide it"):
        strict_xp.insert  # NumPy has it, CuPy does not
    with pytest.raises(AttributeError, match="arrays do not have it"):
        x.tofile_like_numpy_only  # noqa: B018
    with pytest.raises(TypeError, match="CuPy's signature"):
        strict_xp.lib.stride_tricks.as_strided(x, shape=(2, 2), strides=(16, 4), writeable=False)
    with pytest.raises(TypeError, match="take no"):
        strict_xp.add(x, x, where=x > 0)


def test_synchronisations_are_counted():
    x = strict_xp.asarray(np.array(1.5, dtype=np.float32))
    strict_xp.reset_syncs()
    float(x), x.item(), bool(x > 0), x.get()
    assert strict_xp.SYNCS["count"] == 4


def test_the_name_list_is_cupys():
    """Where CuPy imports (it does without a GPU), the stored list is its namespace."""
    cupy = pytest.importorskip("cupy")
    if cupy.__version__ != strict_xp.CUPY_NAMESPACE["version"]:
        pytest.skip(f"CuPy {cupy.__version__} here; the list is from "
                    f"{strict_xp.CUPY_NAMESPACE['version']}")
    assert strict_xp.CUPY_NAMESPACE["top"] == sorted(n for n in dir(cupy) if not n.startswith("_"))


# -- the backend hook --------------------------------------------------------------------------------
def test_backend_takes_the_standin_as_cuda(standin):
    t = mg.Tensor(np.arange(4.0, dtype=np.float32)).to("cuda")
    assert t.device == "cuda" and isinstance(t.data, standin.ndarray)
    assert backend.get_array_module(t) is standin
    with pytest.raises(mg.DeviceError, match="different devices"):
        t + mg.Tensor(np.ones(4, dtype=np.float32))
    np.testing.assert_array_equal(t.numpy(), np.arange(4.0))
    assert t.to("cpu").device == "cpu"


def test_backend_goes_back_to_cupy_afterwards():
    previous = backend.use_device_array_module(strict_xp)
    assert backend.use_device_array_module(previous) is strict_xp
    assert backend.gpu_available() == (previous is not None)


@pytest.mark.gpu
def test_gpu_tests_run_on_a_device():
    """Every gpu test gets a device: the real GPU, or else the stand-in (conftest)."""
    assert mg.gpu_available()
    assert mg.Tensor(np.ones(2, dtype=np.float32)).to("cuda").device == "cuda"


# -- an op written with numpy fails on the stand-in ----------------------------------------------
class _ExpWithNumpy(Function):
    """exp written the wrong way: ``numpy.exp`` instead of the backend's ``self.xp.exp``."""

    def forward(self, x):
        y = np.exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved
        return grad * y


class _ExpWithXp(_ExpWithNumpy):
    def forward(self, x):
        y = self.xp.exp(x)
        self.save_for_backward(y)
        return y


def test_an_op_written_with_numpy_fails_on_the_standin(standin):
    x = np.linspace(-1, 1, 6, dtype=np.float32)
    for op in (_ExpWithNumpy, _ExpWithXp):  # both are fine on the CPU
        np.testing.assert_allclose(op.apply(mg.Tensor(x)).numpy(), np.exp(x), rtol=1e-6)
    on_device = mg.Tensor(x).to("cuda")
    np.testing.assert_allclose(_ExpWithXp.apply(on_device).numpy(), np.exp(x), rtol=1e-6)
    with pytest.raises(TypeError, match="does not support ufuncs"):
        _ExpWithNumpy.apply(on_device)


# -- a short DANN training on the stand-in ----------------------------------------------------------
def test_short_dann_training_on_the_standin_matches_the_cpu(standin):
    """The paper's MNIST network (fused conv + pool), 4 DANN steps, with evaluation: every
    op, the trainer and the evaluation run on 'device' arrays and agree with the CPU."""
    rng = np.random.default_rng(0)
    xs = rng.integers(0, 256, (48, 28, 28, 3), dtype=np.uint8)
    xt = rng.integers(0, 256, (48, 28, 28, 3), dtype=np.uint8)
    ys, yt = rng.integers(0, 10, 48), rng.integers(0, 10, 48)
    cfg = dict(method="dann", steps=4, batch_size=16, progress=False, eval_every=2)
    cpu, dev = build_model("mnist", rng=1), build_model("mnist", rng=1)
    h_cpu = train(cpu, (xs, ys), xt, TrainConfig(**cfg), val=((xs, ys), (xt, yt)))
    syncs_after_step = {}
    h_dev = train(dev, (xs, ys), xt, TrainConfig(device="cuda", **cfg), val=((xs, ys), (xt, yt)),
                  callback=lambda step, logs: syncs_after_step.update({step: standin.SYNCS["count"]}))
    assert dev.parameters()[0].device == "cuda"
    assert isinstance(dev.parameters()[0].data, standin.ndarray)
    # the stand-in is NumPy underneath, so the only differences are summation orders
    for name, value in cpu.state_dict().items():
        assert_close_up_to_rounding(dev.state_dict()[name], value, n_terms=4 * 16 * 5 * 5 * 32,
                                    err_msg=name)
    assert h_dev["target_acc"] == pytest.approx(h_cpu["target_acc"])
    # device -> host waits in a training step without evaluation (step 3): the two logged
    # losses, the domain accuracy, and the label range check of cross_entropy (min and max)
    assert syncs_after_step[3] - syncs_after_step[2] <= 5
