"""A run that is stopped or goes wrong loses nothing and reports no false success.

* SIGTERM (what ``kill``, ``timeout`` and job schedulers send) saves a resumable checkpoint
  as Ctrl-C does, and ``dann train --resume`` then ends bit for bit where the uninterrupted
  run ends; in ``dann reproduce --jobs 2`` a SIGTERM to the parent alone makes each worker
  save the network it trains, and ``--resume`` finishes the row;
* a loss that becomes NaN or infinite stops training with :class:`TrainingDiverged`, and the
  checkpoint on disk keeps the last finite parameters;
* NaN or inf in the inputs of ``DANNClassifier.fit`` and a batch larger than the data are
  errors that name the argument and the numbers.
"""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from dann_from_scratch import checkpoint as ckpt_io
from dann_from_scratch.cli import main
from dann_from_scratch.estimator import DANNClassifier
from dann_from_scratch.models import mlp_model
from dann_from_scratch.trainers import TrainConfig, train
from dann_from_scratch.training import TrainingDiverged
from pipeline_fixtures import _cache, _one_blas_thread, cache_root  # noqa: F401 (fixtures)


def blobs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, 2, n)
    xs = np.where(ys[:, None] == 1, 1.5, -1.5) + 0.5 * rng.standard_normal((n, 4))
    xt = xs + np.array([0.0, 2.0, 2.0, 0.0])
    return xs.astype(np.float32), ys, xt.astype(np.float32)


def small_model(seed=0):
    return mlp_model(4, 2, hidden=(8,), domain_hidden=(8,), rng=seed)


def config(**kw):
    return TrainConfig(**{"steps": 10, "batch_size": 16, "lr": 0.05, "progress": False, **kw})


def all_finite(state: dict) -> bool:
    return all(np.isfinite(v).all() for v in state.values())


# -- SIGTERM --------------------------------------------------------------------------------------
class Terminated(Exception):
    """What the test's own SIGTERM handler raises: SIGTERM's default would end pytest."""


def _terminate(signum, frame):
    raise Terminated


def test_sigterm_stops_at_the_next_step_boundary_and_saves(tmp_path):
    """In process: the step in progress finishes, the checkpoint is saved, KeyboardInterrupt
    (naming the signal) propagates, and both previous handlers are back."""
    xs, ys, xt = blobs()
    path = tmp_path / "sigterm.npz"

    def send_sigterm(step, logs):
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    sigint, sigterm = signal.getsignal(signal.SIGINT), signal.signal(signal.SIGTERM, _terminate)
    try:
        with pytest.raises(KeyboardInterrupt, match="SIGTERM"), \
                pytest.warns(RuntimeWarning, match="checkpoint saved"):
            train(small_model(), (xs, ys), xt, config(), callback=send_sigterm,
                  checkpoint_path=path)
        assert signal.getsignal(signal.SIGINT) is sigint
        assert signal.getsignal(signal.SIGTERM) is _terminate
    finally:
        signal.signal(signal.SIGTERM, sigterm)
    assert ckpt_io.load_checkpoint(path).step == 3


def dann_env(cache_root) -> dict:
    """The environment of a ``dann`` subprocess: the tests' data cache, one BLAS thread."""
    return {**os.environ, "DANN_CACHE": str(cache_root), "OPENBLAS_NUM_THREADS": "1"}


def signal_once_checkpointed(argv, ckpt, signum, cache_root, timeout=60):
    """Run ``dann ARGV`` in a subprocess, send it ``signum`` as soon as ``ckpt`` exists (the
    training loop is running; a list: all of them), wait; returns (exit code, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "dann_from_scratch.cli", *argv],
                            env=dann_env(cache_root), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    paths = ckpt if isinstance(ckpt, list) else [ckpt]
    try:
        deadline = time.time() + timeout
        while not all(path.exists() for path in paths):
            assert proc.poll() is None and time.time() < deadline, proc.communicate()
            time.sleep(0.02)
        proc.send_signal(signum)
        err = proc.communicate(timeout=timeout)[1]
        return proc.returncode, err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sigterm_then_resume_equals_the_uninterrupted_run(tmp_path, cache_root):
    """``dann train`` in a subprocess gets SIGTERM once its first periodic checkpoint is on
    disk; ``dann train --resume`` then ends bit for bit where the uninterrupted run ends."""
    steps = 300
    command = ["train", "--source", "mnist5k", "--target", "mnistm5k", "--quick", "--steps",
               str(steps), "--batch-size", "8", "--no-progress"]
    assert main(command + ["--out", str(tmp_path / "full")]) == 0

    ckpt = tmp_path / "cut" / "checkpoint.npz"
    returncode, err = signal_once_checkpointed(command + ["--out", str(tmp_path / "cut")],
                                               ckpt, signal.SIGTERM, cache_root)
    assert returncode == 143, err               # 128 + SIGTERM, after saving the checkpoint
    assert "dann train --resume" in err and "Traceback" not in err
    step = ckpt_io.load_checkpoint(ckpt).step
    assert 0 < step < steps, "the run ended before SIGTERM arrived"

    assert main(["train", "--resume", str(ckpt), "--no-progress"]) == 0
    full = ckpt_io.load_checkpoint(tmp_path / "full" / "checkpoint.npz")
    resumed = ckpt_io.load_checkpoint(ckpt)
    assert resumed.step == full.step == steps
    assert full.model_state.keys() == resumed.model_state.keys()
    for name, value in full.model_state.items():
        np.testing.assert_array_equal(resumed.model_state[name], value, err_msg=name)


def test_sigterm_to_reproduce_with_jobs_saves_every_worker_then_resume_finishes(tmp_path,
                                                                             cache_root):
    """SIGTERM to the parent of ``dann reproduce --jobs 2`` only (as ``kill PID`` sends it):
    the parent passes it on, both workers save the network they are training, the queued
    one never starts, the parent exits 143; ``--resume`` continues both from their step,
    trains the third and reports each network's whole training time."""
    steps = 100
    out = tmp_path / "row"
    command = ["reproduce", "mnist-mnistm", "--quick", "--steps", str(steps), "--batch-size",
               "8", "--no-tsne", "--jobs", "2", "--no-progress", "--out", str(out)]
    # the sidecars are written once training is under way
    training = [out / "checkpoints" / f"{name}.json" for name in ("source_only", "dann_seed0")]
    returncode, err = signal_once_checkpointed(command, training, signal.SIGTERM, cache_root)
    assert returncode == 143, err
    assert "--resume" in err and "Traceback" not in err
    cut = {name: ckpt_io.load_checkpoint(out / "checkpoints" / f"{name}.npz").step
           for name in ("source_only", "dann_seed0")}
    assert all(0 < step < steps for step in cut.values()), cut     # both saved mid-run
    assert not (out / "checkpoints" / "train_on_target.npz").exists()   # never started

    assert main(command + ["--resume"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["resumed"]["from_step"] == cut
    for name in ("source_only", "dann_seed0", "train_on_target"):
        assert ckpt_io.load_checkpoint(out / "checkpoints" / f"{name}.npz").step == steps
    for name in cut:            # the first call's seconds are counted too
        run = results["runs"][name]
        assert run["train_seconds"] > run["train_seconds_this_call"] > 0


# -- divergence (NumPy warns of the overflow on the way) ------------------------------------------
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_stops_training_and_keeps_the_last_finite_checkpoint(tmp_path):
    xs, ys, xt = blobs()
    path = tmp_path / "diverged.npz"
    with pytest.raises(TrainingDiverged, match=r"training diverged (at|by) step \d+.* at "
                                               r"learning rate .*lower the learning rate"):
        train(small_model(), (xs, ys), xt, config(steps=50, lr=1e30), checkpoint_path=path,
              checkpoint_every=1)
    saved = ckpt_io.load_checkpoint(path)       # written before the divergence ...
    assert 0 < saved.step < 50
    assert all_finite(saved.model_state)        # ... and finite


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_without_a_checkpoint_is_an_error_too():
    """No run that went NaN returns as if it had succeeded, checkpoint or not."""
    xs, ys, xt = blobs()
    with pytest.raises(TrainingDiverged, match="no checkpoint was being written"):
        train(small_model(), (xs, ys), xt, config(steps=50, lr=1e30))


def test_a_diverged_cli_run_exits_non_zero_with_a_finite_checkpoint(tmp_path, cache_root):
    out_dir = tmp_path / "nan"
    proc = subprocess.run([sys.executable, "-m", "dann_from_scratch.cli", "train", "--source",
                           "mnist5k", "--target", "mnistm5k", "--quick", "--steps", "40",
                           "--batch-size", "8", "--lr", "1e30", "--no-progress", "--out",
                           str(out_dir)], env=dann_env(cache_root), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 3, proc.stdout    # the CLI's code for a diverged run
    assert "lower the learning rate" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")   # one line, no traceback
    assert "domain-classifier error" not in proc.stdout     # no results printed
    ckpt = out_dir / "checkpoint.npz"
    if ckpt.exists():
        assert all_finite(ckpt_io.load_checkpoint(ckpt).model_state)


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("where, value", [("X", np.nan), ("X", np.inf), ("X_target", np.nan),
                                          ("X_target", -np.inf)])
def test_fit_rejects_nan_and_inf_naming_the_argument(where, value):
    xs, ys, xt = blobs()
    arrays = {"X": xs.copy(), "X_target": xt.copy()}
    arrays[where][3, 1] = value
    with pytest.raises(ValueError, match=rf"DANNClassifier.fit: {where} holds 1 NaN or "
                                         rf"infinite value"):
        DANNClassifier(steps=2, batch_size=16).fit(arrays["X"], ys, arrays["X_target"])


@pytest.mark.parametrize("batch_size, match", [
    (100_001, r"batch_size=100001 draws 50000 source rows per step, but the source set has "
              r"only 40 rows: use a batch size of at most 80"),
    (42, r"batch_size=42 draws 21 source rows per step, but the source set has only 20"),
])
def test_a_batch_larger_than_the_data_is_an_error(batch_size, match):
    xs, ys, xt = blobs()
    source = (xs, ys) if batch_size > 42 else (xs[:20], ys[:20])
    with pytest.raises(ValueError, match=match):
        train(small_model(), source, xt, config(steps=1, batch_size=batch_size))


def test_a_batch_larger_than_the_target_set_is_an_error():
    xs, ys, xt = blobs()
    with pytest.raises(ValueError, match=r"draws 8 target rows per step, but the target set "
                                         r"has only 5 rows"):
        train(small_model(), (xs, ys), xt[:5], config(steps=1, batch_size=16))
    train(small_model(), (xs, ys), xt[:8], config(steps=1, batch_size=16))   # exactly fits


def test_dann_train_with_a_batch_larger_than_the_data_is_a_usage_error(capsys, tmp_path):
    code = main(["train", "--source", "mnist5k", "--target", "mnistm5k", "--quick", "--steps",
                 "2", "--batch-size", "100001", "--no-progress", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "error: --batch-size 100001 draws 50000 source rows per step, but the source set " \
           "has only" in err
