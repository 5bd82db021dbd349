"""DenseLinearSVC against scikit-learn's LinearSVC (liblinear): time and objective.

Usage (from the project root)::

    python benchmarks/bench_linear_svm.py [--features FILE.npz] [--rows 1000] [--C 0.001 0.1 1]

Both fit ``StandardScaler``-ed features with the same objective (one-vs-rest squared hinge,
L2 penalty, penalised bias); the script prints the seconds of each, the ratio, the objective
each reaches and how often their predictions agree on held-out rows.

``--features``: an ``.npz`` with ``X`` (N, D) and ``y`` (N,), e.g. a network's last hidden
layer saved with ``numpy.savez``. These are the case that matters: dense, a few hundred
correlated columns, many classes. Without it the script makes 43 Gaussian classes in 512
dimensions whose columns are mixed through a random matrix with a wide range of scales
(so the features are correlated and badly conditioned, as network features are).
liblinear can take minutes on real features: keep ``--rows`` small when you include it,
or pass ``--skip-liblinear`` to time only the dense solver on many rows.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from dann_from_scratch.baselines import DenseLinearSVC  # noqa: E402


def synthetic(n: int, dim: int = 512, classes: int = 43, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    latent = rng.normal(0, 1.0, (classes, dim))[y] + rng.normal(0, 1.5, (n, dim))
    mix = rng.normal(0, 1, (dim, dim)) * np.logspace(-2, 1, dim)[None, :]
    return np.maximum(latent @ mix, 0.0), y          # ReLU-like, correlated, badly scaled


def objective(coef, intercept, X, y, classes, C):
    Y = np.where(y[:, None] == classes[None, :], 1.0, -1.0)
    if len(classes) == 2:
        Y = Y[:, 1:]
    slack = np.maximum(1 - Y * (X @ coef.T + intercept), 0)
    return 0.5 * (np.sum(coef ** 2) + np.sum(intercept ** 2)) + C * np.sum(slack ** 2)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--features", help=".npz with X (N, D) and y (N,)")
    ap.add_argument("--rows", type=int, default=1000, help="training rows (default 1000)")
    ap.add_argument("--test-rows", type=int, default=2000)
    ap.add_argument("--C", type=float, nargs="+", default=[0.001, 0.1, 1.0])
    ap.add_argument("--skip-liblinear", action="store_true")
    a = ap.parse_args(argv)

    if a.features:
        d = np.load(a.features)
        X, y = d["X"].astype(np.float64), d["y"]
        source = a.features
    else:
        X, y = synthetic(a.rows + a.test_rows)
        source = "synthetic: 43 classes, 512 correlated columns"
    if len(y) < a.rows + a.test_rows:
        raise SystemExit(f"{source}: {len(y)} rows, need --rows + --test-rows = "
                         f"{a.rows + a.test_rows}")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    tr, te = order[:a.rows], order[a.rows:a.rows + a.test_rows]
    scaler = StandardScaler().fit(X[tr])
    Xtr, Xte, ytr = scaler.transform(X[tr]), scaler.transform(X[te]), y[tr]
    print(f"{source}; {a.rows} training rows x {X.shape[1]} columns, "
          f"{len(np.unique(ytr))} classes")
    print(f"{'C':>7}  {'dense s':>8}  {'liblinear s':>11}  {'ratio':>6}  "
          f"{'objective dense':>16}  {'objective liblinear':>19}  agree")
    for C in a.C:
        t = time.perf_counter()
        ours = DenseLinearSVC(C=C).fit(Xtr, ytr)
        t_ours = time.perf_counter() - t
        f_ours = objective(ours.coef_, ours.intercept_, Xtr, ytr, ours.classes_, C)
        if a.skip_liblinear:
            print(f"{C:7g}  {t_ours:8.2f}  {'-':>11}  {'-':>6}  {f_ours:16.6g}")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t = time.perf_counter()
            ref = LinearSVC(C=C, max_iter=5000).fit(Xtr, ytr)
            t_ref = time.perf_counter() - t
        f_ref = objective(ref.coef_, ref.intercept_, Xtr, ytr, ref.classes_, C)
        agree = float(np.mean(ours.predict(Xte) == ref.predict(Xte)))
        print(f"{C:7g}  {t_ours:8.2f}  {t_ref:11.2f}  {t_ref / t_ours:5.1f}x  "
              f"{f_ours:16.6g}  {f_ref:19.6g}  {agree:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
