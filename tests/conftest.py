"""Shared test machinery: backends, Hypothesis profiles, strategies and ``check_op``.

* ``BACKENDS`` / the ``backend`` fixture: every test that takes it runs once on NumPy and
  once on CuPy (Chainer's one test class on every backend). The CuPy run carries
  ``pytest.mark.gpu``. On a machine with CuPy and a GPU the ``gpu`` tests run on CuPy.
  Without one they run on the strict CuPy stand-in (``tests/strict_xp.py``: host memory,
  but it refuses implicit conversion to NumPy and offers only CuPy's functions), plugged in
  as device ``'cuda'`` for the duration of each ``gpu`` test; ``--no-strict-xp`` skips them
  instead (see ``pytest_collection_modifyitems`` and ``_device_for_gpu_tests``).
* Hypothesis profiles: ``ci`` (the default: 25 examples, no deadline) and ``dev`` (200
  examples); pick one with ``--hypothesis-profile=dev`` or ``HYPOTHESIS_PROFILE=dev``.
* ``check_op(fn, *arrays, reference=...)``: tinygrad's one-line op test. Forward against a
  float64 NumPy reference, backward against float64 central differences
  (:func:`minigrad.gradcheck`), then the float32 run: output and gradients float32, of the
  right shapes, and close to the float64 answers.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import minigrad as mg

# -- Hypothesis profiles ---------------------------------------------------------------------
settings.register_profile("ci", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# -- backends --------------------------------------------------------------------------------
_GPU_SKIP_REASON = "needs CuPy and a CUDA GPU"

BACKENDS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("cupy", id="cupy", marks=pytest.mark.gpu),
]
DEVICE = {"numpy": "cpu", "cupy": "cuda"}


def pytest_addoption(parser):
    parser.addoption("--no-strict-xp", action="store_true",
                     help="without a GPU, skip the gpu tests instead of running them on the "
                          "strict CuPy stand-in (tests/strict_xp.py)")


def _use_strict_xp(config) -> bool:
    """Whether ``gpu`` tests run on the stand-in: only where no real GPU is available."""
    return not config.getoption("--no-strict-xp") and not mg.gpu_available()


def pytest_collection_modifyitems(config, items):
    """Skip every ``gpu``-marked test (the CuPy half of each backend parametrisation
    included) when CuPy or a CUDA device is missing and the stand-in is switched off."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if gpu_items and not mg.gpu_available() and not _use_strict_xp(config):
        skip = pytest.mark.skip(reason=_GPU_SKIP_REASON)
        for item in gpu_items:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _device_for_gpu_tests(request):
    """For a ``gpu`` test on a machine without a GPU: device ``'cuda'`` is the strict CuPy
    stand-in while the test runs, and CuPy (absent) again afterwards."""
    if request.node.get_closest_marker("gpu") is None or not _use_strict_xp(request.config):
        yield
        return
    import strict_xp

    previous = mg.backend.use_device_array_module(strict_xp)
    try:
        yield
    finally:
        mg.backend.use_device_array_module(previous)


@pytest.fixture(params=BACKENDS)
def backend(request):
    """'numpy' or 'cupy' (the latter only where a GPU is available)."""
    if request.param == "cupy" and not mg.gpu_available():  # direct use outside collection
        pytest.skip(_GPU_SKIP_REASON)
    return request.param


@pytest.fixture
def device(backend):
    """'cpu' or 'cuda', following the ``backend`` fixture."""
    return DEVICE[backend]


# -- strategies ------------------------------------------------------------------------------
def finite_floats(lo=-3.0, hi=3.0):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def float_arrays(draw, shape, lo=-3.0, hi=3.0):
    """A float64 array of ``shape`` with values in [lo, hi] (seeded, so it shrinks well)."""
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


@st.composite
def away_from_zero(draw, shape, margin=0.1, scale=2.0):
    """``sign * (margin + |u|)``: never within ``margin`` of 0 (relu's kink, div's pole)."""
    u = draw(float_arrays(shape, -scale, scale))
    sign = np.where(u >= 0, 1.0, -1.0)
    return sign * (margin + np.abs(u))


@st.composite
def positive_arrays(draw, shape, lo=0.5, hi=3.0):
    """Values in [lo, hi]: safe for log, sqrt, fractional powers and denominators."""
    return draw(float_arrays(shape, lo, hi))


@st.composite
def distinct_arrays(draw, shape, gap=0.25):
    """All elements distinct, at least ``gap`` apart (a shuffled ramp): no ties for max."""
    n = int(np.prod(shape, dtype=np.int64))
    perm = np.asarray(draw(st.permutations(list(range(n)))), dtype=np.float64)
    offset = draw(finite_floats(-1.0, 1.0))
    return ((perm - n / 2) * gap + offset).reshape(shape)


# -- check_op ------------------------------------------------------------------------------------
def _as_numpy(a):
    return np.asarray(mg.backend.to_numpy(a.data if isinstance(a, mg.Tensor) else a))


def check_op(fn, *arrays, reference=None, wrt=None, device="cpu", atol=1e-5, rtol=1e-4,
             f32_rtol=2e-3, f32_atol=2e-4, directional=False, seed=0):
    """Check one op in one line: forward, backward, shapes and dtypes.

    ``fn`` maps minigrad tensors to one tensor; ``arrays`` are its inputs as NumPy arrays
    (any float dtype: they are converted); ``reference`` maps the same inputs as float64
    arrays to the expected float64 NumPy output. ``wrt`` says which inputs are
    differentiated (default: all). Checks

    1. float64: ``fn`` matches ``reference`` and ``gradcheck`` passes (every element, or one
       random direction with ``directional=True``);
    2. float32: the output is float32 with the reference's shape, every gradient is float32
       with its input's shape, and output and gradients agree with the float64 run.

    Returns ``(output64, grads64)`` as NumPy arrays for further checks.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    wrt = tuple(range(len(arrays))) if wrt is None else tuple(wrt)

    def make(dtype):
        return [mg.Tensor(a.astype(dtype), requires_grad=(i in wrt)).to(device)
                for i, a in enumerate(arrays)]

    # 1. float64: forward against the reference, backward against central differences
    t64 = make(np.float64)
    out64 = fn(*t64)
    assert isinstance(out64, mg.Tensor), f"fn returned {type(out64).__name__}, not a Tensor"
    assert out64.dtype == np.float64, f"float64 inputs gave a {out64.dtype} output"
    assert out64.device == device
    y64 = _as_numpy(out64)
    if reference is not None:
        expected = np.asarray(reference(*[a.copy() for a in arrays]), dtype=np.float64)
        assert y64.shape == expected.shape, f"forward shape {y64.shape}, reference {expected.shape}"
        np.testing.assert_allclose(y64, expected, rtol=1e-10, atol=1e-12,
                                   err_msg="float64 forward differs from the NumPy reference")
    mg.gradcheck(fn, *t64, atol=atol, rtol=rtol, directional=directional, seed=seed)

    rng = np.random.default_rng(seed)
    v = rng.standard_normal(y64.shape)
    for t in t64:
        t.grad = None
    out64 = fn(*t64)
    out64.backward(mg.Tensor(v).to(device))
    grads64 = [(_as_numpy(t.grad) if t.grad is not None else np.zeros(t.shape))
               if i in wrt else None for i, t in enumerate(t64)]

    # 2. float32: dtypes, shapes, and agreement with float64
    t32 = make(np.float32)
    out32 = fn(*t32)
    assert out32.dtype == np.float32, f"float32 inputs gave a {out32.dtype} output"
    assert out32.shape == y64.shape
    assert out32.device == device
    scale = max(1.0, float(np.abs(y64).max(initial=0.0)))
    np.testing.assert_allclose(_as_numpy(out32), y64, rtol=f32_rtol, atol=f32_atol * scale,
                               err_msg="float32 forward differs from float64")
    out32.backward(mg.Tensor(v.astype(np.float32)).to(device))
    for i, t in enumerate(t32):
        if i not in wrt:
            assert t.grad is None
            continue
        if t.grad is None:  # an input the output does not depend on
            assert not np.any(grads64[i])
            continue
        assert t.grad.dtype == np.float32, f"input {i}: float32 input got a {t.grad.dtype} gradient"
        assert t.grad.shape == t.shape, f"input {i}: gradient shape {t.grad.shape} != {t.shape}"
        assert mg.backend.device_of(t.grad) == device
        gscale = max(1.0, float(np.abs(grads64[i]).max(initial=0.0)))
        np.testing.assert_allclose(_as_numpy(t.grad), grads64[i], rtol=f32_rtol,
                                   atol=f32_atol * gscale,
                                   err_msg=f"input {i}: float32 gradient differs from float64")
    return y64, grads64
