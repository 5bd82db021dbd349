"""nn.Module bookkeeping, initialisation, optimizers and atomic serialization."""
import os

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim

from rounding import assert_close_up_to_rounding


class TwoLayer(nn.Module):
    def __init__(self, rng):
        super().__init__()
        self.hidden = nn.Linear(4, 8, rng=rng)
        self.act = nn.ReLU()
        self.out = nn.Linear(8, 3, rng=rng, init="glorot")

    def forward(self, x):
        return self.out(self.act(self.hidden(x)))


# -- Module ------------------------------------------------------------------------------
def test_parameters_are_ordered_by_definition():
    m = TwoLayer(rng=0)
    assert [n for n, _ in m.named_parameters()] == [
        "hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    seq = nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU(), nn.Linear(3, 1, rng=0))
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU)


def test_shared_parameter_listed_once():
    m = nn.Module()
    m.a = nn.Linear(2, 2, rng=0)
    m.b = m.a
    assert len(m.parameters()) == 2


def test_same_seed_same_model_and_different_seed_different():
    a, b, c = TwoLayer(rng=1), TwoLayer(rng=1), TwoLayer(rng=2)
    for (na, pa), (_, pb), (_, pc) in zip(a.named_parameters(), b.named_parameters(), c.named_parameters()):
        assert np.array_equal(pa.data, pb.data), na
        assert pa.dtype == np.float32
        if na.endswith("weight"):
            assert not np.array_equal(pa.data, pc.data)


def test_init_scales():
    w = nn.he_normal((400, 500), fan_in=500, rng=0)
    assert abs(w.std() - np.sqrt(2 / 500)) < 0.002
    g = nn.glorot_uniform((400, 500), 500, 400, rng=0)
    a = np.sqrt(6 / 900)
    assert g.max() <= a and g.min() >= -a and abs(g.std() - a / np.sqrt(3)) < 0.002
    with pytest.raises(ValueError, match="unknown init"):
        nn.Linear(2, 2, init="xavier-ish")


def test_train_eval_switches_every_submodule_and_dropout():
    m = nn.Sequential(nn.Linear(5, 5, rng=0), nn.Dropout(0.5, rng=0))
    x = mg.tensor(np.ones((4, 5), np.float32))
    m.eval()
    assert all(not sub.training for _, sub in m.named_modules())
    assert np.array_equal(m(x).data, m[0](x).data)  # dropout is the identity in eval
    m.train()
    y = m(x).data
    base = m[0](x).data
    kept = y != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(y[kept], 2 * base[kept], rtol=1e-6)


def test_zero_grad_and_state_dict_roundtrip():
    m = TwoLayer(rng=0)
    x = mg.tensor(np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32))
    m(x).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    state = m.state_dict()
    other = TwoLayer(rng=5)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other(x).data, m(x).data)
    state["hidden.weight"][...] = 0  # the state is a copy, not a view of the model
    assert np.abs(m.hidden.weight.data).sum() > 0


def test_load_state_dict_errors():
    m = TwoLayer(rng=0)
    state = m.state_dict()
    bad = dict(state, **{"hidden.weight": np.zeros((3, 3), np.float32)})
    with pytest.raises(ValueError, match=r"hidden.weight has shape \(3, 3\).*\(8, 4\)"):
        m.load_state_dict(bad)
    missing = {k: v for k, v in state.items() if k != "out.bias"}
    with pytest.raises(KeyError, match="missing keys.*out.bias"):
        m.load_state_dict(missing)
    m.load_state_dict(missing, strict=False)  # allowed when asked


def test_linear_layer_shape_error_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r"Linear\(4, 8\).*\(N, 4\).*\(2, 5\)"):
        nn.Linear(4, 8, rng=0)(mg.tensor(np.zeros((2, 5), np.float32)))


def test_module_without_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.w = 1

    with pytest.raises(RuntimeError, match="super"):
        Broken()


# -- optimizers --------------------------------------------------------------------------
def _quadratic_param(values):
    return nn.Parameter(np.array(values, dtype=np.float32))


def test_sgd_momentum_matches_the_written_out_rule():
    p = _quadratic_param([1.0, -2.0, 3.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    w = p.data.astype(np.float64).copy()
    v = np.zeros_like(w)
    for _ in range(5):
        opt.zero_grad()
        (p * p).sum().backward()          # grad = 2 w
        g = 2 * w + 0.01 * w
        v = 0.9 * v + 0.1 * g
        w = w - v
        opt.step()
    np.testing.assert_allclose(p.data, w, rtol=1e-5)
    assert p.data.dtype == np.float32


def test_sgd_uses_the_learning_rate_set_before_each_step():
    """A schedule sets ``opt.lr`` between steps (as the DANN trainer does); each step uses
    the value it finds, as a Python float (a NumPy float64 must not promote float32)."""
    p = _quadratic_param([1.0])
    opt = optim.SGD([p], lr=0.5, momentum=0.0)
    w = np.float32(1.0)
    for lr in (0.5, np.float64(0.25), 0.125):
        opt.lr = lr
        p.grad = np.ones(1, np.float32)
        opt.step()
        w = w - np.float32(lr)
    np.testing.assert_array_equal(p.data, [w])
    assert p.data.dtype == np.float32 and opt.steps_done == 3


@pytest.mark.parametrize("momentum, weight_decay", [(0.9, 0.0), (0.9, 5e-4), (0.0, 5e-4), (0.0, 0.0)])
def test_sgd_in_blocks_is_the_whole_array_formula_to_the_bit(momentum, weight_decay):
    """Large parameters are updated a block of rows at a time, in place: the same float32
    operations in the same order as the written-out formula, so the same bits. Sizes that
    do not divide into blocks, a transposed (non-contiguous) parameter and a 0-d one."""
    rng = np.random.default_rng(1)
    shapes = [(700, 131), (131, 700), (5,), ()]
    params = [nn.Parameter(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    params[1].data = params[1].data.T.copy().T          # same values, column-major memory
    w = [p.data.copy() for p in params]
    v = [None] * len(params)
    opt = optim.SGD(params, lr=0.1, momentum=momentum, weight_decay=weight_decay)
    for lr in (0.1, 0.05, 0.2):
        opt.lr = lr
        for k, p in enumerate(params):
            g = rng.standard_normal(p.shape).astype(np.float32)
            p.grad = g
            if weight_decay:
                g = g + weight_decay * w[k]
            if momentum:
                v[k] = lr * g if v[k] is None else momentum * v[k] + lr * g
                w[k] = w[k] - v[k]
            else:
                w[k] = w[k] - lr * g
        opt.step()
    for k, p in enumerate(params):
        assert p.data.dtype == np.float32 and p.data.shape == shapes[k]
        np.testing.assert_array_equal(p.data.view(np.int32), w[k].view(np.int32))
        if momentum:
            np.testing.assert_array_equal(opt.velocity[k].view(np.int32), v[k].view(np.int32))
    assert params[1].data.flags.f_contiguous        # updated in place, not replaced


def test_adam_matches_reference_formula():
    p = _quadratic_param([0.5, -1.5])
    opt = optim.Adam([p], lr=0.01)
    w = p.data.astype(np.float64).copy()
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t in range(1, 6):
        opt.zero_grad()
        (p * p).sum().backward()
        g = 2 * w
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        opt.step()
    np.testing.assert_allclose(p.data, w, rtol=1e-5)


def test_adam_against_torch_when_available():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(6).astype(np.float32)
    p = nn.Parameter(w0.copy())
    tp = torch.tensor(w0.copy(), requires_grad=True)
    opt = optim.Adam([p], lr=0.05, weight_decay=0.01)
    topt = torch.optim.Adam([tp], lr=0.05, weight_decay=0.01)
    for _ in range(10):
        opt.zero_grad(); topt.zero_grad()
        ((p * p * p).sum()).backward()
        (tp ** 3).sum().backward()
        opt.step(); topt.step()
    # the same update written in another order: ~10 float32 roundings per element and step
    # (gradient, two moments, two corrections, sqrt, division, decay), 10 steps
    assert_close_up_to_rounding(p.data, tp.detach().numpy(), n_terms=10 * 10)


def test_optimizer_state_dict_roundtrip_resumes_identically():
    def run(steps, resume_at=None):
        p = _quadratic_param([1.0, 2.0])
        opt = optim.SGD([p], lr=0.1, momentum=0.9)
        for k in range(steps):
            if resume_at is not None and k == resume_at:
                state, data = opt.state_dict(), p.data.copy()
                p = _quadratic_param([0.0, 0.0])
                p.data = data
                opt = optim.SGD([p], lr=0.1, momentum=0.9)
                opt.load_state_dict(state)
            opt.zero_grad()
            (p * p).sum().backward()
            opt.step()
        return p.data

    np.testing.assert_array_equal(run(8), run(8, resume_at=3))


def test_optimizer_argument_errors():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    p = _quadratic_param([1.0])
    with pytest.raises(ValueError, match="lr must be a positive number"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD([p], lr=0.1, momentum=1.5)


# -- serialization -----------------------------------------------------------------------
def test_save_and_load_module(tmp_path):
    m = TwoLayer(rng=3)
    path = mg.save_module(m, tmp_path / "model.npz")
    other = mg.load_module(TwoLayer(rng=4), path)
    for (_, a), (_, b) in zip(m.named_parameters(), other.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert os.listdir(tmp_path) == ["model.npz"]


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    mg.save_arrays({"w": np.arange(3.0)}, path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # as if Ctrl-C arrived mid-write

    monkeypatch.setattr(mg.serialization.np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        mg.save_arrays({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(mg.load_arrays(path)["w"], np.arange(3.0))
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        mg.load_arrays(tmp_path / "nothere.npz")
    bad = tmp_path / "garbage.npz"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="garbage.npz"):
        mg.load_arrays(bad)


def test_lr_accepts_numpy_scalars_but_not_bools():
    p = _quadratic_param([1.0])
    optim.SGD([p], lr=np.float32(0.01))
    with pytest.raises(ValueError, match="lr must be a positive number"):
        optim.SGD([p], lr=True)


def test_adam_bias_correction_counts_each_parameters_own_updates():
    # b gets its first gradient only at the 5th step: its first update must be a full
    # Adam step of size ~lr (m_hat / sqrt(v_hat) = sign(g)), not one shrunk by (1 - 0.9 ** 5).
    a, b = _quadratic_param([1.0]), _quadratic_param([1.0])
    opt = optim.Adam([a, b], lr=0.1)
    for _ in range(4):
        a.grad = np.ones(1, np.float32)
        opt.step()
    a.grad = b.grad = np.ones(1, np.float32)
    opt.step()
    np.testing.assert_allclose(b.data, [0.9], rtol=1e-5)


def test_adam_state_roundtrip_and_partial_state_error():
    p = _quadratic_param([1.0, 2.0])
    opt = optim.Adam([p], lr=0.1)
    p.grad = np.ones(2, np.float32)
    opt.step()
    state = opt.state_dict()
    fresh = optim.Adam([p], lr=0.1)
    fresh.load_state_dict(state)
    assert fresh.t == [1] and np.array_equal(fresh.m[0], opt.m[0])
    broken = {k: v for k, v in state.items() if k != "v.0"}
    with pytest.raises(KeyError, match="parameter 0"):
        fresh.load_state_dict(broken)


def test_saved_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = mg.save_arrays({"w": np.zeros(2)}, tmp_path / "w.npz")
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == 0o644


@pytest.mark.gpu
def test_optimizer_state_follows_the_model_to_the_gpu():
    if not mg.gpu_available():
        pytest.skip("no CUDA GPU with CuPy")
    m = TwoLayer(rng=0)
    opt = optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    x = mg.tensor(np.ones((2, 4), np.float32))
    m(x).sum().backward()
    opt.step()
    m.to("cuda")
    opt.zero_grad()
    m(x.to("cuda")).sum().backward()
    opt.step()  # velocities move with the parameters
    assert all(p.device == "cuda" for p in m.parameters())


def test_atomic_write_removes_temporaries_of_killed_writers_only(tmp_path):
    """A writer killed mid-save (kill -9) leaves ``.NAME.PID.*.tmp``; the next write to the
    same file removes it when that PID no longer runs, and leaves a live writer's alone."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)                      # exited: no such process any more
    target = tmp_path / "state.npz"
    stale = tmp_path / f".state.npz.{dead_pid}.abc123.tmp"
    live = tmp_path / f".state.npz.{os.getpid()}.def456.tmp"   # this process: alive
    other = tmp_path / f".other.npz.{dead_pid}.xyz.tmp"         # another file's: not ours
    for f in (stale, live, other):
        f.write_bytes(b"half a file")
    mg.save_arrays({"w": np.arange(3.0)}, target)
    assert not stale.exists() and live.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, live.name,
                                                                 other.name])
