"""The ``dann`` command line: every subcommand on tiny inputs, and its error contract.

* ``train`` -> checkpoint (+ sidecar JSON) -> ``evaluate`` round trip;
* ``train --stop-after`` then ``--resume`` gives bit-for-bit the uninterrupted run, and Ctrl-C
  (SIGINT) leaves a checkpoint that ``--resume`` continues;
* ``preview`` writes a PNG; ``reproduce --quick`` prints the paper's row beside ours;
* bad arguments: exit code 2 and one line with a hint; missing data: exit code 1, one line,
  no traceback.
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
from pipeline_fixtures import _cache, _one_blas_thread, cache_root  # noqa: F401 (fixtures)
from pipeline_fixtures import one_line_error, run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = ["--quick", "--steps", "4", "--batch-size", "16", "--no-progress"]


# -- bad arguments: exit 2, one line, a hint --------------------------------------------------------
@pytest.mark.parametrize("argv, needle, hint", [
    (["reproduce", "mnist-foo"], "unknown pair 'mnist-foo'; choose from mnist-mnistm",
     "dann reproduce --help"),
    (["reproduce", "mnist-mnistm", "--steps", "0"], "--steps", "dann reproduce --help"),
    (["reproduce", "mnist-mnistm", "--device", "tpu"], "--device", "dann reproduce --help"),
    (["reproduce", "mnist-mnistm", "--seeds", "x"], "--seeds", "dann reproduce --help"),
    (["reproduce", "mnist-mnistm", "--jobs", "0"], "--jobs", "dann reproduce --help"),
    (["reproduce", "mnist-mnistm", "--source", "mnist_binary"], "--source needs --data-dir",
     "dann reproduce --help"),
    (["reproduce", "mnist-mnistm", "--data-dir", ".", "--source", "svhn"],
     "needs a source like mnist", "dann reproduce --help"),
    (["train", "--source", "mnist5k"], "--target", "dann train --help"),
    (["train", "--source", "mnist5k", "--target", "nowhere"], "unknown domain 'nowhere'",
     "dann train --help"),
    (["train", "--source", "mnist5k", "--target", "mnistm5k", "--method", "magic"], "--method",
     "dann train --help"),
    (["train", "--source", "mnist5k", "--target", "mnistm5k", "--steps", "4",
      "--stop-after", "9"], "--stop-after", "dann train --help"),
    (["evaluate", "--dataset", "mnist5k"], "--checkpoint", "dann evaluate --help"),
    (["preview", "mnist-m"], "unknown domain 'mnist-m'", "dann preview --help"),
    (["preview", "gtsrb", "--split", "nope"], "no split 'nope'", "dann preview --help"),
    (["frobnicate"], "invalid choice", "dann --help"),
    ([], "choose a command", "dann --help"),
])
def test_bad_arguments_exit_2_with_one_line_and_hint(capsys, argv, needle, hint):
    code, out, err = run(capsys, *argv)
    assert code == 2
    line = one_line_error(err)
    assert needle in line and f"(hint: {hint})" in line


def test_library_errors_are_reworded_as_the_commands_flags():
    """The library names its arguments as Python does; the CLI shows the flags of the command
    (only names that are flags of it; ``name=False`` stays as it is)."""
    from dann_from_scratch.cli import _command_parser, _in_flag_words, build_parser

    reproduce = _command_parser(build_parser(), "reproduce")
    message = ("source= needs data_dir=: x; resume=True: y; source='svhn': z; steps=3 differs; "
               "out_dir=, pass data_dir=DATA_DIR. stop_after=9, download=False")
    assert _in_flag_words(message, reproduce) == (
        "--source needs --data-dir: x; --resume: y; --source svhn: z; --steps 3 differs; "
        "--out, pass --data-dir DATA_DIR. stop_after=9, download=False")
    train = _command_parser(build_parser(), "train")
    assert _in_flag_words("stop_after=9 is beyond steps=4.", train) == \
        "--stop-after 9 is beyond --steps 4."


# -- missing data: exit 1, one line ---------------------------------------------------------------
def test_missing_data_exit_1_one_line(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run(capsys, "reproduce", "syndigits-svhn", "--data-dir", str(empty),
                         "--quick", "--no-progress", "--out", str(tmp_path / "o"))
    assert code == 1
    line = one_line_error(err)
    assert "train_32x32.mat" in line and "http://ufldl.stanford.edu/housenumbers/" in line

    code, out, err = run(capsys, "evaluate", "--checkpoint", str(tmp_path / "none.npz"),
                         "--dataset", "mnist5k")
    assert code == 1 and "none.npz" in one_line_error(err)

    code, out, err = run(capsys, "preview", "gtsrb", "--data-dir", str(empty),
                         "--out", str(tmp_path / "p.png"))
    assert code == 1 and "GTSRB" in one_line_error(err)


# -- train -> checkpoint -> evaluate ------------------------------------------------------------------
def test_train_checkpoint_evaluate_round_trip(capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", "--source", "mnist5k", "--target", "mnistm5k",
                         "--method", "dann", "--out", str(out_dir), *TINY)
    assert code == 0, err
    ckpt = out_dir / "checkpoint.npz"
    side = json.loads((out_dir / "checkpoint.json").read_text())
    assert side["model"] == "mnist" and side["input_shape"] == [3, 28, 28]
    assert side["source"] == "mnist5k" and side["result"]["step"] == 4
    assert "target test accuracy" in out and str(ckpt) in out
    assert ckpt_io.load_checkpoint(ckpt).step == 4

    code, out, err = run(capsys, "evaluate", "--checkpoint", str(ckpt), "--dataset", "mnistm5k",
                         "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["n"] == 1000 and 0.0 <= res["accuracy"] <= 1.0 and res["model"] == "mnist"
    assert res["method"] == "dann" and res["step"] == 4
    # plain-text form, another domain (gray MNIST digits fed to the 3-channel network)
    code, out, err = run(capsys, "evaluate", "--checkpoint", str(ckpt), "--dataset", "mnist5k")
    assert code == 0 and out.startswith("accuracy ") and "mnist5k/test" in out


def test_evaluate_without_sidecar_infers_the_network(capsys, tmp_path):
    out_dir = tmp_path / "run"
    assert run(capsys, "train", "--source", "mnist5k", "--target", "mnistm5k", "--method",
               "source_only", "--out", str(out_dir), *TINY)[0] == 0
    (out_dir / "checkpoint.json").unlink()
    code, out, err = run(capsys, "evaluate", "--checkpoint", str(out_dir / "checkpoint.npz"),
                         "--dataset", "mnistm5k", "--json")
    assert code == 0, err
    assert json.loads(out)["model"] == "mnist"


# -- resuming -----------------------------------------------------------------------------------------
def test_stop_after_then_resume_equals_uninterrupted_run(capsys, tmp_path):
    common = ["train", "--source", "mnist5k", "--target", "mnistm5k", "--method", "dann",
              "--quick", "--steps", "6", "--batch-size", "16", "--no-progress"]
    assert run(capsys, *common, "--out", str(tmp_path / "full"))[0] == 0
    code, out, err = run(capsys, *common, "--out", str(tmp_path / "cut"), "--stop-after", "3")
    assert code == 0 and "dann train --resume" in out
    cut = tmp_path / "cut" / "checkpoint.npz"
    assert ckpt_io.load_checkpoint(cut).step == 3
    code, out, err = run(capsys, "train", "--resume", str(cut), "--no-progress")
    assert code == 0, err
    a, b = ckpt_io.load_checkpoint(tmp_path / "full" / "checkpoint.npz"), ckpt_io.load_checkpoint(cut)
    assert b.step == 6
    for k, v in a.model_state.items():
        np.testing.assert_array_equal(v, b.model_state[k], err_msg=k)
    # resuming with a conflicting setting is a usage error (the one resume check of runs.py),
    # and the refused run leaves the checkpoint and its sidecar as they were
    files = cut.read_bytes(), cut.with_suffix(".json").read_bytes()
    code, out, err = run(capsys, "train", "--resume", str(cut), "--steps", "9")
    assert code == 2 and "--steps 9 differs" in one_line_error(err)
    code, out, err = run(capsys, "train", "--resume", str(cut), "--method", "source_only")
    assert code == 2 and "--method source_only differs from the checkpoint's dann" in \
        one_line_error(err)
    assert (cut.read_bytes(), cut.with_suffix(".json").read_bytes()) == files


def test_ctrl_c_leaves_a_resumable_checkpoint(tmp_path, cache_root):
    out_dir = tmp_path / "run"
    ckpt = out_dir / "checkpoint.npz"
    env = {**os.environ, "DANN_CACHE": str(cache_root), "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", "import sys; from dann_from_scratch.cli import main; "
           "sys.exit(main())", "train", "--source", "mnist5k", "--target", "mnistm5k",
           "--quick", "--steps", "2000", "--batch-size", "8", "--no-progress", "--out",
           str(out_dir)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.time() + 60
        while not ckpt.exists():        # the first periodic checkpoint: the loop is running
            assert proc.poll() is None and time.time() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "dann train --resume" in err and "Traceback" not in err
    step = ckpt_io.load_checkpoint(ckpt).step
    assert 0 < step < 2000
    assert main(["train", "--resume", str(ckpt), "--stop-after", str(step + 2),
                 "--no-progress"]) == 0
    assert ckpt_io.load_checkpoint(ckpt).step == step + 2


# -- preview and reproduce ------------------------------------------------------------------------
def test_preview_writes_png(capsys, tmp_path):
    png = tmp_path / "grid.png"
    code, out, err = run(capsys, "preview", "mnist5k", "--out", str(png), "--n", "8",
                         "--seed", "3")
    assert code == 0 and str(png) in out
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_reproduce_quick_prints_the_table(capsys, tmp_path):
    out_dir = tmp_path / "r"
    code, out, err = run(capsys, "reproduce", "mnist-mnistm", "--quick", "--no-progress",
                         "--no-tsne", "--jobs", "2", "--out", str(out_dir))
    assert code == 0, err
    assert "paper" in out and "0.5225" in out and "0.7666" in out and "ours" in out
    assert (out_dir / "results.json").is_file() and (out_dir / "results.md").is_file()
    res = json.loads((out_dir / "results.json").read_text())
    assert res["command"].startswith("dann reproduce mnist-mnistm")
    assert res["settings"]["jobs"] == 2
    assert (out_dir / "checkpoints" / "dann_seed0.npz").is_file()
    # run again with --resume: every network comes from its checkpoint, same row
    code, out2, err = run(capsys, "reproduce", "mnist-mnistm", "--quick", "--no-progress",
                          "--no-tsne", "--resume", "--out", str(out_dir))
    assert code == 0, err
    res2 = json.loads((out_dir / "results.json").read_text())
    assert res2["settings"]["resume"] is True
    assert all(r["resumed_from_step"] == r["config"]["steps"] for r in res2["runs"].values())
    assert res2["ours"] == res["ours"]
