"""A run folder belongs to one run (``dann_from_scratch.runs``: refuse_overwrite,
hold_run_folder, and the sidecar written only once training is under way).

* ``dann train`` / ``dann reproduce`` without ``--resume`` refuse an ``--out`` that already
  holds a checkpoint (finished or interrupted), naming it and ``--resume`` / ``--overwrite``;
  ``--overwrite`` replaces it;
* a run holds an exclusive lock on its folder: a second run there is refused, naming the PID
  of the holder, and the lock is released however the run ends;
* nothing is written before the checks pass: a refused resume leaves the sidecar byte for
  byte as it was, and a new run refused by the trainer writes no sidecar.
"""
import fcntl
import json
import os
from contextlib import contextmanager

import numpy as np
import pytest

from dann_from_scratch import checkpoint as ckpt_io
from dann_from_scratch.errors import ConfigError
from dann_from_scratch.models import mlp_model
from dann_from_scratch.runs import LOCK_NAME, RunFolderBusy, hold_run_folder, train_run
from dann_from_scratch.trainers import TrainConfig
from pipeline_fixtures import _cache, _one_blas_thread, cache_root  # noqa: F401 (fixtures)
from pipeline_fixtures import one_line_error, run

TRAIN = ["train", "--source", "mnist5k", "--target", "mnistm5k", "--quick", "--steps", "4",
         "--batch-size", "16", "--no-progress"]
REPRODUCE = ["reproduce", "mnist-mnistm", "--quick", "--no-progress", "--no-tsne"]


def error_line(err: str) -> str:
    return one_line_error(err, after_info=True)


@contextmanager
def locked_by_this_process(folder):
    """The lock of ``folder`` taken as another ``dann`` process would: flock + its PID."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_NAME, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        f.write(f"{os.getpid()} dann train (the test)\n")
        f.flush()
        yield


def lock_is_free(folder) -> bool:
    with open(folder / LOCK_NAME) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True


# -- refuse to overwrite --------------------------------------------------------------------------
@pytest.mark.parametrize("first", [[], ["--stop-after", "2"]], ids=["finished", "interrupted"])
def test_train_refuses_to_overwrite_a_checkpoint(capsys, tmp_path, first):
    out_dir = tmp_path / "run"
    assert run(capsys, *TRAIN, "--out", str(out_dir), *first)[0] == 0
    ckpt, side = out_dir / "checkpoint.npz", out_dir / "checkpoint.json"
    before = ckpt.read_bytes(), side.read_bytes()
    code, out, err = run(capsys, *TRAIN, "--seed", "1", "--out", str(out_dir))
    assert code == 2
    line = error_line(err)
    assert f"there is already a checkpoint at {ckpt}" in line
    assert f"pass --resume {ckpt} to continue it or --overwrite to replace it" in line
    assert (ckpt.read_bytes(), side.read_bytes()) == before      # nothing touched


def test_train_overwrite_replaces_the_checkpoint(capsys, tmp_path):
    out_dir = tmp_path / "run"
    assert run(capsys, *TRAIN, "--out", str(out_dir))[0] == 0
    ckpt = out_dir / "checkpoint.npz"
    first = ckpt_io.load_checkpoint(ckpt)
    code, out, err = run(capsys, *TRAIN, "--seed", "1", "--out", str(out_dir), "--overwrite")
    assert code == 0, err
    second = ckpt_io.load_checkpoint(ckpt)
    assert second.config["seed"] == 1 and first.config["seed"] == 0
    assert json.loads((out_dir / "checkpoint.json").read_text())["seed"] == 1
    assert any(not np.array_equal(v, second.model_state[k]) for k, v in first.model_state.items())


def test_resume_and_overwrite_exclude_each_other(capsys, tmp_path):
    code, out, err = run(capsys, "train", "--resume", str(tmp_path / "c.npz"), "--overwrite")
    assert code == 2 and "--overwrite replaces a run, --resume continues one" in \
        error_line(err)
    code, out, err = run(capsys, *REPRODUCE, "--resume", "--overwrite", "--out", str(tmp_path))
    assert code == 2 and "pass only one of them" in error_line(err)


def test_reproduce_refuses_to_overwrite_a_checkpoint_of_the_row(capsys, tmp_path):
    """Checked before the data are loaded: the checkpoint (here a stand-in) stays as it was
    and nothing else is written."""
    ckpt = tmp_path / "r" / "checkpoints" / "train_on_target.npz"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"an earlier run")
    code, out, err = run(capsys, *REPRODUCE, "--out", str(tmp_path / "r"))
    assert code == 2
    line = error_line(err)
    assert f"there is already a checkpoint at {ckpt}" in line
    assert "pass --resume to continue it or --overwrite to replace it" in line
    assert ckpt.read_bytes() == b"an earlier run"
    assert sorted(p.name for p in (tmp_path / "r").rglob("*") if p.name != LOCK_NAME) == \
        ["checkpoints", "train_on_target.npz"]


def test_reproduce_overwrite_replaces_the_row(capsys, tmp_path):
    ckpt = tmp_path / "r" / "checkpoints" / "source_only.npz"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"an earlier run")
    code, out, err = run(capsys, *REPRODUCE, "--out", str(tmp_path / "r"), "--overwrite")
    assert code == 0, err
    assert ckpt_io.load_checkpoint(ckpt).config["method"] == "source_only"
    assert (tmp_path / "r" / "results.json").is_file()


def test_library_runs_refuse_to_overwrite(tmp_path):
    """train_run (chapters, run_pair) keeps the rule: resume=True or overwrite=True."""
    xs, ys, xt = blobs()
    path = tmp_path / "net.npz"
    train_run(small_model(), (xs, ys), xt, config(), checkpoint=path)
    with pytest.raises(ConfigError, match="pass resume=True to continue it or overwrite=True"):
        train_run(small_model(), (xs, ys), xt, config(), checkpoint=path)
    assert train_run(small_model(), (xs, ys), xt, config(), checkpoint=path,
                     resume=True).resumed_from_step == 4
    train_run(small_model(1), (xs, ys), xt, config(seed=1), checkpoint=path, overwrite=True)
    assert ckpt_io.load_checkpoint(path).config["seed"] == 1


# -- the lock -------------------------------------------------------------------------------------
def test_a_locked_run_folder_is_refused_naming_the_holder(capsys, tmp_path):
    out_dir = tmp_path / "run"
    with locked_by_this_process(out_dir):
        code, out, err = run(capsys, *TRAIN, "--out", str(out_dir))
        assert code == 1
        line = error_line(err)
        assert f"{out_dir} is in use by another run (PID {os.getpid()}" in line
        assert "--out" in line
        assert not (out_dir / "checkpoint.npz").exists()
        assert not (out_dir / "checkpoint.json").exists()
        code, out, err = run(capsys, *REPRODUCE, "--out", str(out_dir))
        assert code == 1 and f"PID {os.getpid()}" in error_line(err)
        assert not (out_dir / "checkpoints").exists()
    assert run(capsys, *TRAIN, "--out", str(out_dir))[0] == 0      # released: runs again
    assert lock_is_free(out_dir)


def test_the_lock_names_its_holder_and_is_released_on_errors(tmp_path):
    with hold_run_folder(tmp_path):
        assert (tmp_path / LOCK_NAME).read_text().split()[0] == str(os.getpid())
        with pytest.raises(RunFolderBusy, match=f"PID {os.getpid()} "):
            with hold_run_folder(tmp_path):
                pass
    with pytest.raises(ZeroDivisionError):
        with hold_run_folder(tmp_path):
            assert not lock_is_free(tmp_path)
            1 / 0
    assert lock_is_free(tmp_path)


def test_a_run_folder_that_is_a_file_is_a_one_line_error(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    code, out, err = run(capsys, *TRAIN, "--out", str(tmp_path / "file"))
    assert code == 1 and "cannot be used as the run folder" in error_line(err)


# -- nothing written before the checks pass -------------------------------------------------------
def blobs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, 2, n)
    xs = (np.where(ys[:, None] == 1, 1.5, -1.5) + 0.5 * rng.standard_normal((n, 4)))
    return xs.astype(np.float32), ys, (xs + 2.0).astype(np.float32)


def small_model(seed=0):
    return mlp_model(4, 2, hidden=(8,), domain_hidden=(8,), rng=seed)


def config(**kw):
    return TrainConfig(**{"steps": 4, "batch_size": 16, "lr": 0.05, "progress": False, **kw})


def test_a_refused_resume_leaves_the_sidecar_untouched(tmp_path):
    """The resume is refused by the trainer (the data have another size); the sidecar of
    the checkpoint keeps every byte (it used to be rewritten with the refused run's)."""
    xs, ys, xt = blobs()
    path = tmp_path / "net.npz"
    train_run(small_model(), (xs, ys), xt, config(), checkpoint=path, stop_after=2,
              sidecar={"run": "net", "sizes": {"source": 40}})
    side = path.with_suffix(".json")
    before = side.read_bytes()
    with pytest.raises(ckpt_io.CheckpointError):
        train_run(small_model(), (xs[:30], ys[:30]), xt, config(), checkpoint=path,
                  resume=True, sidecar={"run": "net", "sizes": {"source": 30}})
    assert side.read_bytes() == before
    assert ckpt_io.load_checkpoint(path).step == 2


def test_a_run_refused_by_the_trainer_writes_no_sidecar(capsys, tmp_path):
    code, out, err = run(capsys, *TRAIN[:8], "--batch-size", "100001", "--no-progress",
                         "--out", str(tmp_path / "run"))
    assert code == 2 and "--batch-size 100001" in error_line(err)
    assert not (tmp_path / "run" / "checkpoint.json").exists()
    assert not (tmp_path / "run" / "checkpoint.npz").exists()


def test_an_interrupted_run_still_gets_its_sidecar(tmp_path, monkeypatch):
    """A run stopped (Ctrl-C) after saving a checkpoint but before the trainer's first
    callback still writes the sidecar, so ``dann train --resume`` can continue it."""
    from dann_from_scratch import runs

    xs, ys, xt = blobs()
    path = tmp_path / "net.npz"
    real_train = runs.train

    def train_then_interrupt(*args, callback=None, **kwargs):
        real_train(*args, **kwargs)             # saves the checkpoint, never calls back
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "train", train_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_run(small_model(), (xs, ys), xt, config(), checkpoint=path,
                  sidecar={"run": "net"})
    assert ckpt_io.load_checkpoint(path).step == 4
    assert json.loads(path.with_suffix(".json").read_text())["run"] == "net"


def test_an_interrupted_then_resumed_run_counts_both_calls_training_time(tmp_path,
                                                                          monkeypatch):
    """The sidecar of a run stopped by Ctrl-C records its training time so far; the resumed
    run reports that plus its own (the original training time, not only the rerun's)."""
    from dann_from_scratch import runs

    xs, ys, xt = blobs()
    path = tmp_path / "net.npz"
    real_train = runs.train

    def stop_half_way(*args, **kwargs):
        real_train(*args, **{**kwargs, "stop_after": 2})
        raise KeyboardInterrupt

    monkeypatch.setattr(runs, "train", stop_half_way)
    with pytest.raises(KeyboardInterrupt):
        train_run(small_model(), (xs, ys), xt, config(), checkpoint=path,
                  sidecar={"run": "net"})
    monkeypatch.setattr(runs, "train", real_train)
    first = json.loads(path.with_suffix(".json").read_text())["train_seconds"]
    assert first > 0
    done = train_run(small_model(), (xs, ys), xt, config(), checkpoint=path, resume=True,
                     sidecar={"run": "net"})
    assert done.resumed_from_step == 2 and 0 < done.call_seconds < done.seconds
    assert done.seconds == pytest.approx(first + done.call_seconds)
    assert json.loads(path.with_suffix(".json").read_text())["train_seconds"] == done.seconds


def test_history_csv_is_written_with_every_checkpoint(tmp_path):
    """One row per logged or evaluated step (an evaluation off the logging grid gets its own
    row), the evaluated columns empty where there was none; rewritten with each save."""
    xs, ys, xt = blobs()
    path = tmp_path / "net.npz"
    train_run(small_model(), (xs, ys), xt, config(steps=6, log_every=2, eval_every=3),
              val=((xs, ys), xt), checkpoint=path, stop_after=3)
    csv_path = tmp_path / "net.history.csv"
    assert csv_path == ckpt_io.history_csv_path(path)
    lines = csv_path.read_text().splitlines()
    assert lines[0] == ",".join(ckpt_io.HISTORY_COLUMNS)
    assert [line.split(",")[0] for line in lines[1:]] == ["2", "3"]
    two, three = (line.split(",") for line in lines[1:])
    assert two[6:] == ["", "", ""] and three[6] != "" and three[7] == ""   # target unlabelled
    train_run(small_model(), (xs, ys), xt, config(steps=6, log_every=2, eval_every=3),
              val=((xs, ys), xt), checkpoint=path, resume=True)
    steps = [line.split(",")[0] for line in csv_path.read_text().splitlines()[1:]]
    assert steps == ["2", "3", "4", "6"]
