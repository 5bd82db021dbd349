"""The ``dann`` command line: every subcommand on tiny inputs, and its error contract.

* ``train`` -> checkpoint (+ sidecar JSON) -> ``evaluate`` round trip;
* ``train --stop-after`` then ``--resume`` gives bit-for-bit the uninterrupted run, and Ctrl-C
  (SIGINT) leaves a checkpoint that ``--resume`` continues;
* ``preview`` writes a PNG; ``reproduce --quick`` prints the paper's row beside ours;
* bad arguments: exit code 2 and one line with a hint; missing data: exit code 1, one line,
  no traceback;
* ``--version``, help text on every flag, ``--json`` (one JSON object on stdout, the human
  summary on stderr), ``--quick`` runs of seconds;
* output for logs: piped, the progress is plain lines (no carriage returns), and
  ``--no-progress`` hides them but keeps the phase lines;
* the default output folders are ignored by git.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

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
    line = one_line_error(err, after_info=True)     # after the phase line "loading data"
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
    assert err.startswith("accuracy ")     # with --json the human line goes to stderr
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
    # --no-progress hides the progress reports, not the phase lines
    # (with --jobs 2 the "training ..." lines come from the worker processes, beyond capsys)
    assert "[mnist-mnistm] loading data" in err and "[mnist-mnistm] proxy A-distance" in err
    assert "[mnist-mnistm] done in" in err and "step 1/" not in err and "\r" not in err
    assert (out_dir / "results.json").is_file() and (out_dir / "results.md").is_file()
    res = json.loads((out_dir / "results.json").read_text())
    assert res["command"].startswith("dann reproduce mnist-mnistm")
    assert res["settings"]["jobs"] == 2
    assert (out_dir / "checkpoints" / "dann_seed0.npz").is_file()
    # run again with --resume: every network comes from its checkpoint, same row; --json:
    # stdout is one JSON summary, the table goes to stderr
    code, out2, err = run(capsys, "reproduce", "mnist-mnistm", "--quick", "--no-progress",
                          "--no-tsne", "--resume", "--json", "--out", str(out_dir))
    assert code == 0, err
    summary = json.loads(out2)
    assert "0.7666" in err and "ours" in err
    res2 = json.loads((out_dir / "results.json").read_text())
    assert summary["ours"] == res2["ours"] and summary["paper"] == res2["paper"]
    assert summary["quick"] and summary["embedded_default"]
    assert summary["results_json"] == str(out_dir / "results.json")
    assert Path(summary["checkpoints"]["dann_seed0"]).is_file()
    assert set(summary["runs"]) == set(res2["runs"]) and "history" not in summary["runs"][
        "dann_seed0"]
    assert res2["settings"]["resume"] is True
    assert all(r["resumed_from_step"] == r["config"]["steps"] for r in res2["runs"].values())
    assert res2["ours"] == res["ours"]


# -- --version, help on every flag, --json --------------------------------------------------------
def test_version_is_the_installed_packages(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"dann {version('dann-from-scratch')}"


def _parsers(parser: argparse.ArgumentParser):
    """``parser`` and every subcommand's parser below it."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_flag_and_argument_has_help():
    from dann_from_scratch.cli import build_parser

    missing = [f"{p.prog} {'/'.join(a.option_strings) or a.dest}"
               for p in _parsers(build_parser()) for a in p._actions
               if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()]
    assert missing == []
    # and every subcommand has a one-line summary in `dann --help`
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert all(choice.help for choice in sub._choices_actions)


def test_train_json_is_one_object_on_stdout(capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", "--source", "mnist5k", "--target", "mnistm5k",
                         "--out", str(out_dir), "--json", "--stop-after", "3", *TINY)
    assert code == 0, err
    res = json.loads(out)               # the whole of stdout is one JSON object
    assert (res["source"], res["target"], res["method"], res["model"]) == \
        ("mnist5k", "mnistm5k", "dann", "mnist")
    assert (res["step"], res["steps"], res["batch_size"], res["quick"]) == (3, 4, 16, True)
    assert res["checkpoint"] == str(out_dir / "checkpoint.npz") and not res["finished"]
    assert res["resume_command"] == f"dann train --resume {out_dir / 'checkpoint.npz'}"
    assert 0 <= res["target_test_acc"] <= 1 and 0 <= res["domain_error"] <= 1
    # the human summary is still shown, on stderr, after the phase line
    assert "training dann on mnist5k -> mnistm5k" in err and "target test accuracy" in err


# -- --quick: seconds -------------------------------------------------------------------------------
def test_train_quick_is_a_short_run(capsys, tmp_path):
    from dann_from_scratch.experiments import QUICK_BATCH, QUICK_STEPS

    start = time.perf_counter()
    code, out, err = run(capsys, "train", "--source", "mnist5k", "--target", "mnistm5k",
                         "--quick", "--no-progress", "--out", str(tmp_path / "q"))
    assert code == 0, err
    assert f"{QUICK_STEPS} steps of batch {QUICK_BATCH}" in err
    ckpt = ckpt_io.load_checkpoint(tmp_path / "q" / "checkpoint.npz")
    assert ckpt.step == QUICK_STEPS and ckpt.config["batch_size"] == QUICK_BATCH
    # generous: the 1,000 steps it used to run took 91 s; this is a fraction of a second of
    # training plus loading the cached data
    assert time.perf_counter() - start < 60
    # --steps and --batch-size still win over the quick defaults (TINY: 4 steps of 16)
    assert run(capsys, "train", "--source", "mnist5k", "--target", "mnistm5k", "--out",
               str(tmp_path / "q4"), *TINY)[0] == 0
    assert ckpt_io.load_checkpoint(tmp_path / "q4" / "checkpoint.npz").step == 4


# -- progress for terminals and logs ----------------------------------------------------------------
def _dann(*argv, cache, timeout=180):
    """``dann ARGV`` in a child process, stdout and stderr piped (as to a log file)."""
    env = {**os.environ, "DANN_CACHE": str(cache), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", "import sys; from dann_from_scratch.cli import "
                           "main; sys.exit(main())", *argv], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_piped_progress_is_plain_lines(tmp_path, cache_root):
    proc = _dann("train", "--source", "mnist5k", "--target", "mnistm5k", "--quick", "--steps",
                 "20", "--out", str(tmp_path / "run"), cache=cache_root)
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "\r" not in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.startswith("dann seed 0: step")]
    # one every tenth of the run: steps 2, 4, ..., 20, each with the losses and the time
    assert [line.split()[4] for line in lines] == [f"{s}/20" for s in range(2, 21, 2)]
    assert all("L_y=" in line and " s" in line for line in lines)
    assert "ETA" in lines[0] and "ETA" not in lines[-1]
    assert "training dann on mnist5k -> mnistm5k" in proc.stderr    # the phase line
    # --no-progress: no step lines, the phase line stays
    proc = _dann("train", "--source", "mnist5k", "--target", "mnistm5k", "--quick",
                 "--no-progress", "--out", str(tmp_path / "quiet"), cache=cache_root)
    assert proc.returncode == 0, proc.stderr
    assert "training dann on mnist5k -> mnistm5k" in proc.stderr and "step 1/" not in proc.stderr


def test_progress_lines_every_tenth_and_every_so_many_seconds():
    import io

    from dann_from_scratch.progress import ProgressLines

    now = [0.0]
    stream = io.StringIO()
    bar = ProgressLines(total=100, desc="dann seed 1", stream=stream, every_seconds=30,
                        clock=lambda: now[0])
    for step in range(1, 101):
        now[0] = step * 0.5 if step <= 50 else 25 + (step - 50) * 10.0   # then slow steps
        bar.update(1)
        bar.set_postfix({"L_y": f"{1 / step:.3f}"}, refresh=False)
    bar.close()
    lines = stream.getvalue().splitlines()
    steps = [int(line.split()[4].split("/")[0]) for line in lines]
    # every 10 steps while fast; when a step takes 10 s, also every 30 s (3 steps)
    assert steps[:5] == [10, 20, 30, 40, 50] and steps[-1] == 100
    assert {53, 56, 59} <= set(steps) and len(steps) == len(set(steps))
    # the losses posted right after the step are on its line; the ETA uses the run's pace
    assert lines[0] == "dann seed 1: step 10/100 (10%) L_y=0.100; 5 s, ETA 45 s"
    assert lines[-1] == "dann seed 1: step 100/100 (100%) L_y=0.010; 8 min 45 s"
    assert "\r" not in stream.getvalue()


def test_progress_lines_of_a_resumed_run_and_an_interrupted_one():
    import io

    from dann_from_scratch.progress import ProgressLines

    stream = io.StringIO()
    bar = ProgressLines(total=50, initial=20, stream=stream, clock=lambda: 0.0)
    for _ in range(7):                  # stopped at step 27: the next mark was 25
        bar.update(1)
    bar.close()
    bar.close()                         # closing twice prints nothing more
    assert stream.getvalue().splitlines() == ["step 25/50 (50%); 0 s, ETA 0 s"]
    with pytest.raises(ValueError, match="initial=9, total=5"):
        ProgressLines(total=5, initial=9)


def test_terminal_gets_a_bar_a_log_gets_lines(monkeypatch):
    from dann_from_scratch import progress
    from dann_from_scratch.trainers import TrainConfig

    class Terminal:
        def isatty(self):
            return True

        def write(self, text):
            pass

        def flush(self):
            pass

    assert progress.interactive(Terminal()) and not progress.interactive(open(os.devnull, "w"))
    config = TrainConfig(method="dann", seed=3, steps=10)
    monkeypatch.setattr(progress, "interactive", lambda stream=None: False)
    lines = progress.training_progress(config, 0, 10)
    assert isinstance(lines, progress.ProgressLines) and lines.desc == "dann seed 3"
    monkeypatch.setattr(progress, "interactive", lambda stream=None: True)
    monkeypatch.setattr(sys, "stderr", Terminal())
    bar = progress.training_progress(config, 4, 10)
    from tqdm import tqdm

    assert isinstance(bar, tqdm) and (bar.n, bar.total) == (4, 10)
    bar.close()
    config.progress = False
    assert progress.training_progress(config, 0, 10) is None
    assert [progress.format_seconds(s) for s in (4.4, 65, 3725)] == \
        ["4 s", "1 min 05 s", "1 h 02 min"]


# -- git ignores what the commands write by default -------------------------------------------------
def test_default_outputs_are_ignored_by_git(tmp_path):
    from dann_from_scratch.cli import build_parser

    root = Path(__file__).resolve().parent.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    helps = " ".join(a.help or "" for p in _parsers(build_parser()) for a in p._actions)
    # the defaults as the commands' help texts state them, and the chapters' folder
    assert "dann_results/PAIR" in helps and "dann_runs/SOURCE-TARGET" in helps
    assert "preview_DOMAIN.png" in helps
    assert '"chapter_output"' in (root / "chapters" / "07_mnist_to_mnistm.py").read_text()
    paths = ["dann_results/mnist-mnistm/results.json", "dann_runs/a-b-dann-seed0/checkpoint.npz",
             "preview_mnist5k.png", "chapter_output/07_curves.png"]
    proc = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=root,
                          capture_output=True, text=True)
    assert proc.stdout.split() == paths
