"""Record (or re-check) the golden outputs that pin behaviour through refactors.

    python tests/golden/record.py            # writes tests/golden/*.json, *.npz, kernel.json
    python tests/golden/record.py --check    # re-runs and prints what differs

Three runs, all on the embedded default data (nothing downloaded):

1. ``dann reproduce mnist-mnistm --quick``: its results.json, less what depends on the
   clock, the machine or the output folder;
2. the parameters after a 200-step DANN run (``dann train``, mnist5k -> mnistm5k, seed 0);
3. the parameters after a 50-step run of the explicit saddle-point updates (4)-(6) on the
   same data (seed 1).

float32 training amplifies rounding: after 200 steps the parameters from OpenBLAS's
SkylakeX and Haswell kernels differ by up to 0.07. So the runs are pinned to an order of
summation that most x86-64 machines can reproduce: one BLAS thread, OpenBLAS's Haswell
(AVX2) kernel, and NumPy's own loops held at the same AVX2 level (``PINNED_ENV``, set before
NumPy loads; the script re-executes itself with it). ``kernel.json`` records what ran;
``tests/test_golden.py`` compares bit for bit where the same kernel runs and skips, saying
why, where it cannot (another BLAS, another OpenBLAS or NumPy version, no AVX2).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

GOLDEN_DIR = Path(__file__).resolve().parent
# keys of results.json that depend on the clock, the machine or where the run was written
VOLATILE = {"seconds", "time", "timing", "timings", "environment", "out", "command",
            "started", "finished", "wall_seconds", "train_seconds", "path", "checkpoint",
            "figures", "resumed", "elapsed", "timings_seconds"}


PINNED_ENV = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_NUM_THREADS": "1",
              "OMP_NUM_THREADS": "1", "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}


def kernel_signature() -> dict:
    """What decides the order of float32 sums here: NumPy, its SIMD level, the BLAS."""
    from numpy._core import _multiarray_umath as umath
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    first = blas[0] if blas else {}
    simd = [k for k in umath.__cpu_dispatch__ if umath.__cpu_features__.get(k)]
    return {"numpy": np.__version__, "simd": simd, "blas": first.get("internal_api"),
            "blas_version": first.get("version"), "blas_kernel": first.get("architecture"),
            "blas_threads": first.get("num_threads"),
            # set on some processors to work around old OpenBLAS builds; it may change blocking
            "openblas_l2_size": os.environ.get("OPENBLAS_L2_SIZE")}


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in sorted(obj.items()) if k not in VOLATILE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _cli(argv) -> None:
    from dann_from_scratch.cli import main
    rc = main(argv)
    if rc != 0:
        raise RuntimeError(f"dann {' '.join(argv)} exited {rc}")


def reproduce_quick(workdir: Path) -> dict:
    out = workdir / "reproduce"
    _cli(["reproduce", "mnist-mnistm", "--quick", "--no-progress", "--threads", "1",
          "--out", str(out)])
    return _strip(json.loads((out / "results.json").read_text()))


def dann_200_steps(workdir: Path) -> dict:
    from dann_from_scratch.checkpoint import load_checkpoint
    out = workdir / "dann200"
    _cli(["train", "--source", "mnist5k", "--target", "mnistm5k", "--method", "dann",
          "--steps", "200", "--seed", "0", "--no-progress", "--threads", "1", "--out", str(out)])
    return dict(load_checkpoint(out / "checkpoint.npz").model_state)


def saddle_50_steps(workdir: Path) -> dict:
    from threadpoolctl import threadpool_limits

    from dann_from_scratch.datasets import load_domain
    from dann_from_scratch.models import build_model
    from dann_from_scratch.saddle import train_saddle
    from dann_from_scratch.trainers import TrainConfig

    xs, ys = load_domain("mnist5k", "train", seed=0)
    xt, _ = load_domain("mnistm5k", "train", seed=0)
    model = build_model("mnist", rng=1)
    config = TrainConfig(method="dann", steps=50, seed=1, batch_size=64, progress=False,
                         eval_every=50, log_every=10)
    with threadpool_limits(1, user_api="blas"):
        train_saddle(model, (xs[:2000], ys[:2000]), xt[:2000], config)
    return {k: np.asarray(v) for k, v in model.state_dict().items()}


RUNS = {"reproduce_quick": reproduce_quick, "dann200": dann_200_steps,
        "saddle50": saddle_50_steps}


def load_golden(name: str):
    if name == "reproduce_quick":
        return json.loads((GOLDEN_DIR / "reproduce_quick.json").read_text())
    with np.load(GOLDEN_DIR / f"{name}.npz") as z:
        return {k: z[k] for k in z.files}


def compare(name: str, got) -> str:
    """'' when ``got`` equals the golden ``name`` bit for bit, else what differs."""
    want = load_golden(name)
    if name == "reproduce_quick":
        return "" if got == want else "results.json differs"
    if list(got) != list(want):
        return f"parameter names differ: {list(got)} vs {list(want)}"
    bad = [k for k in want if got[k].dtype != want[k].dtype or not np.array_equal(got[k], want[k])]
    if not bad:
        return ""
    worst = max(float(np.max(np.abs(got[k].astype(np.float64) - want[k]))) for k in bad)
    return f"{len(bad)} of {len(want)} arrays differ, largest |diff| {worst:.3g}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args(argv)
    if any(os.environ.get(k) != v for k, v in PINNED_ENV.items()):   # pin, then start afresh
        env = {**os.environ, **PINNED_ENV}
        return subprocess.call([sys.executable, __file__, *sys.argv[1:]], env=env)
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in RUNS.items():
            got = run(Path(tmp))
            if args.check:
                diff = compare(name, got)
                failed |= bool(diff)
                print(f"{name}: {diff or 'bit-identical'}")
            elif name == "reproduce_quick":
                (GOLDEN_DIR / "reproduce_quick.json").write_text(
                    json.dumps(got, indent=1, sort_keys=True) + "\n")
            else:
                np.savez_compressed(GOLDEN_DIR / f"{name}.npz", **got)
    if args.check:
        print(json.dumps(kernel_signature()))
    else:
        (GOLDEN_DIR / "kernel.json").write_text(json.dumps(kernel_signature(), indent=1) + "\n")
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
