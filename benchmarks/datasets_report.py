"""Report on the data sets: size and load/generation time of each domain, then how far apart
the paper's source/target pairs are for a simple source-only linear classifier.

Usage (from the project root)::

    python benchmarks/datasets_report.py --data-dir DIR [--cache DIR]

Domains whose module or data is missing are skipped with the reason. By default the run
uses a fresh temporary cache, so the times include downloads-free decoding and generation
(GTSRB decoding, MNIST-M blending); pass ``--cache`` to time the (warm) real cache instead.

The linear baseline: multinomial logistic regression (scikit-learn, lbfgs, C=1.0, at most
300 iterations) on raw pixels scaled to [0, 1], fitted on at most ``--n-train`` labelled
source images. No per-feature standardisation: scaled with source statistics, MNIST's
constant border pixels turn any target texture into huge inputs and the target accuracy
collapses to chance (0.11 instead of 0.20 for MNIST -> MNIST-M), which says more about the
scaler than about the domains. Both domains
of a pair are first put in one input space: digits become greyscale (channel mean) at the
smaller of the two image sizes, so MNIST (1 channel) and MNIST-M (3) are comparable; traffic
signs stay colour, downsampled to 20x20 to keep the fit quick. The target accuracy is on at
most ``--n-test`` images of the target's evaluation split; the in-domain accuracy on the
source's test split (or a held-out part of its training split), for reference.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Source-only accuracies of the paper's CNNs (Ganin & Lempitsky 2015, Table 1), for scale.
PAPER_SOURCE_ONLY = {
    ("mnist", "mnistm"): 0.5225,
    ("syndigits", "svhn"): 0.8674,
    ("svhn", "mnist"): 0.5490,
    ("synsigns", "gtsrb"): 0.7900,
}

# (source, target, target evaluation split, representation)
PAIRS = [
    ("mnist", "mnistm", "test", "grey"),
    ("syndigits", "svhn", "test", "grey"),
    ("svhn", "mnist", "test", "grey"),
    ("synsigns", "gtsrb", "eval", "colour20"),
    ("mnist5k", "mnistm5k", "test", "grey"),
]


def domain_plan(syn_n: int) -> list[tuple[str, tuple[str, ...], dict]]:
    """Domains to time: name, splits, extra keyword arguments for load_domain."""
    return [
        ("mnist", ("train", "test"), {"download": False}),
        ("mnist5k", ("train", "test"), {}),
        ("mnistm", ("train", "test"), {}),
        ("mnistm5k", ("train", "test"), {}),
        ("svhn", ("train", "test"), {"download": False}),
        ("syndigits", ("train",), {"n": syn_n}),
        ("synsigns", ("train",), {"n": syn_n}),
        ("gtsrb", ("adapt", "eval"), {}),
    ]


def load_all(data_dir: Path, syn_n: int) -> dict:
    """Load every available (domain, split); print a line each; return the arrays."""
    from dann_from_scratch.datasets import DatasetError, load_domain

    loaded = {}
    print(f"{'domain':<10} {'split':<6} {'images':>8}  {'shape':<12} {'seconds':>8}  note")
    for name, splits, kw in domain_plan(syn_n):
        for split in splits:
            start = time.perf_counter()
            try:
                images, labels = load_domain(name, split, data_dir=data_dir, seed=0, **kw)
            except ImportError as exc:
                print(f"{name:<10} {split:<6} {'-':>8}  {'-':<12} {'-':>8}  skipped: module missing ({exc})")
                break
            except DatasetError as exc:
                print(f"{name:<10} {split:<6} {'-':>8}  {'-':<12} {'-':>8}  skipped: {str(exc)[:110]}")
                break
            seconds = time.perf_counter() - start
            shape = "x".join(str(s) for s in images.shape[1:])
            classes = len(np.unique(labels))
            print(f"{name:<10} {split:<6} {len(images):>8,}  {shape:<12} {seconds:>8.2f}  {classes} classes")
            loaded[name, split] = (images, labels)
    return loaded


def to_features(images: np.ndarray, representation: str, side: int) -> np.ndarray:
    """Put images in the pair's common input space: float32 in [0, 1], flattened."""
    planes = images.astype(np.float32)
    if representation == "grey":
        planes = planes.mean(axis=3, keepdims=True)  # MNIST has 1 channel, the others 3
    if planes.shape[1] != side:
        planes = resize_stack(planes, side)
    return (planes / 255.0).reshape(len(planes), -1)


def resize_stack(planes: np.ndarray, side: int) -> np.ndarray:
    """Bilinear resize of (N, H, W, C) float32 images to side x side, channel by channel."""
    from PIL import Image

    out = np.empty((len(planes), side, side, planes.shape[3]), dtype=np.float32)
    for i, img in enumerate(planes):
        for c in range(planes.shape[3]):
            # A 2-D float32 array becomes a PIL mode "F" image: no rounding to 8 bits.
            out[i, :, :, c] = np.asarray(Image.fromarray(img[:, :, c]).resize((side, side), Image.BILINEAR))
    return out


def subsample(images, labels, n, seed):
    if len(images) <= n:
        return images, labels
    pick = np.random.default_rng(seed).choice(len(images), size=n, replace=False)
    return images[pick], labels[pick]


def source_only(loaded: dict, n_train: int, n_test: int, seed: int) -> None:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    print(f"\n{'source -> target':<22} {'train n':>8} {'in-domain':>10} {'target':>8} {'paper CNN':>10} {'seconds':>8}")
    for source, target, target_split, representation in PAIRS:
        label = f"{source} -> {target}"
        src_train = loaded.get((source, "train"))
        tgt_eval = loaded.get((target, target_split))
        if src_train is None or tgt_eval is None:
            missing = source if src_train is None else f"{target} ({target_split})"
            print(f"{label:<22} skipped: {missing} not available")
            continue
        start = time.perf_counter()
        xs, ys = src_train
        if (source, "test") in loaded:
            xs, ys = subsample(xs, ys, n_train, seed)
            xin, yin = subsample(*loaded[source, "test"], n_test, seed)
        else:  # hold out part of the training split for the in-domain figure
            xs, ys = subsample(xs, ys, n_train + n_test, seed)
            xin, yin = xs[n_train:], ys[n_train:]
            xs, ys = xs[:n_train], ys[:n_train]
        xt, yt = subsample(*tgt_eval, n_test, seed)
        side = 20 if representation == "colour20" else min(xs.shape[1], xt.shape[1])
        rep = representation if representation == "grey" else "colour"
        model = LogisticRegression(C=1.0, max_iter=300)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(to_features(xs, rep, side), ys)
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        in_acc = model.score(to_features(xin, rep, side), yin)
        tgt_acc = model.score(to_features(xt, rep, side), yt)
        paper = PAPER_SOURCE_ONLY.get((source, target))
        paper_s = f"{paper:.4f}" if paper is not None else "-"
        print(f"{label:<22} {len(xs):>8,} {in_acc:>10.4f} {tgt_acc:>8.4f} {paper_s:>10} {time.perf_counter() - start:>8.1f}"
              + ("" if converged else "  (lbfgs stopped at max_iter)"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"),
                        help="data root with mnist/, bsds500/train/, gtsrb/ (the layout of the "
                             "README's 'Getting the data'; default ./data)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="cache directory to use (default: a fresh temporary one)")
    parser.add_argument("--syn-n", type=int, default=10_000, help="images generated per synthetic domain")
    parser.add_argument("--n-train", type=int, default=5_000)
    parser.add_argument("--n-test", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="dann_cache_") as tmp:
        os.environ["DANN_CACHE"] = str(args.cache or tmp)
        print(f"data dir: {args.data_dir}  (exists: {args.data_dir.is_dir()})")
        print(f"cache:    {os.environ['DANN_CACHE']}\n")
        total = time.perf_counter()
        loaded = load_all(args.data_dir, args.syn_n)
        source_only(loaded, args.n_train, args.n_test, args.seed)
        print(f"\ntotal {time.perf_counter() - total:.1f} s")


if __name__ == "__main__":
    main()
