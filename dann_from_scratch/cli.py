"""The ``dann`` command line.

    dann reproduce PAIR       Table 1 for one pair: source-only, SA, DANN, train-on-target
    dann train                train one network (source_only | dann | target_only |
                              semi_supervised), with a resumable checkpoint
    dann evaluate             accuracy of a saved network on any domain
    dann preview DOMAIN       a PNG grid of samples of a domain

Errors are one line on stderr: bad arguments exit with code 2 and a hint (``dann CMD --help``),
missing or broken data and checkpoints with code 1, Ctrl-C with code 130 (after saving a
resumable checkpoint where one is being trained).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]

EXIT_USAGE, EXIT_DATA, EXIT_INTERRUPT = 2, 1, 130


class _UsageExit(Exception):
    """Raised by the parser instead of printing usage: one line + hint, exit 2."""

    def __init__(self, message: str, prog: str):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # noqa: D401 - argparse API
        raise _UsageExit(message, self.prog)


def _one_line(msg) -> str:
    return " ".join(str(msg).split())


def _int_at_least(minimum: int, what: str):
    """An argparse type: an integer >= ``minimum``, else a one-line error naming ``what``."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {v}")
        return v
    return parse


_positive_int = _int_at_least(1, "a positive integer")
_seed = _int_at_least(0, "a non-negative integer")


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return v


def _batch(text: str) -> int:
    v = _positive_int(text)
    if v < 2:
        raise argparse.ArgumentTypeError("the batch holds half source, half target: use >= 2")
    return v


def _threads_option(p) -> None:
    p.add_argument("--threads", type=_positive_int, default=1,
                   help="BLAS threads for the CPU matrix products (default 1: on a small shared "
                        "machine, two busy-waiting BLAS threads per process can make a step many "
                        "times slower; raise it on a machine of your own)")


def build_parser() -> argparse.ArgumentParser:
    from .experiments import PAIR_NAMES
    from .datasets import DOMAINS
    from .trainers import METHODS

    pairs, domains = ", ".join(PAIR_NAMES), ", ".join(DOMAINS)
    p = _Parser(prog="dann", description="Ganin & Lempitsky (2015), DANN, on minigrad: "
                "reproduce Table 1, train, evaluate and preview data.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    # reproduce
    r = sub.add_parser("reproduce", help="reproduce one column of Table 1",
                       description="Train source-only, DANN (one run per seed) and "
                       "train-on-target, run subspace alignment, and print the paper's Table 1 "
                       "row beside ours. Writes results.json, results.md, PNG figures and "
                       f"checkpoints to --out. Pairs: {pairs}. Without --data-dir, mnist-mnistm "
                       "runs on the embedded default (mnist5k -> mnistm5k; about 4 minutes on 2 "
                       "CPU cores, under 10 on a busy machine).")
    r.add_argument("pair", metavar="PAIR", help=f"one of {pairs}")
    r.add_argument("--data-dir", help="folder with the real data (mnist/, bsds500/train/, "
                   "svhn/, gtsrb/)")
    r.add_argument("--out", help="output folder (default: dann_results/PAIR)")
    r.add_argument("--seeds", nargs="+", type=_seed, default=[0], metavar="SEED",
                   help="one DANN run per seed (default: 0)")
    r.add_argument("--steps", type=_positive_int, help="SGD steps per run (default: the pair's)")
    r.add_argument("--batch-size", type=_batch, help="rows per step, half source and half "
                   "target (default 128)")
    r.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    r.add_argument("--quick", action="store_true", help="a few steps on tiny subsets (seconds)")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.add_argument("--select", action="store_true", help="choose lambda_max among 0.1, 0.3, 1 "
                   "by source validation accuracy and domain-classifier error (no target labels)")
    r.add_argument("--download", action="store_true", help="let the MNIST/SVHN loaders download "
                   "missing files")
    r.add_argument("--image-fit", choices=("resize", "pad"), help="how images of another size "
                   "reach the network's input (default: resize)")
    r.add_argument("--no-tsne", action="store_true", help="skip the t-SNE figure")
    r.add_argument("--jobs", type=_positive_int, default=1, help="train up to this many "
                   "networks at once, one worker process each (CPU; default 1). On 2 cores, "
                   "--jobs 2 with the default --threads 1 finishes a full row sooner")
    r.add_argument("--target", metavar="DOMAIN", help="another target domain of the same "
                   "image size, e.g. mnistm_binary (MNIST-M with thresholded digits, as the "
                   "released set) or mnistm_official (the released set in --data-dir)")
    r.add_argument("--source", metavar="DOMAIN", help="another source domain of the same "
                   "image size, e.g. mnist_binary (MNIST thresholded at 0, the digits as "
                   "mnistm_binary draws them)")
    r.add_argument("--resume", action="store_true", help="reuse the checkpoints already in "
                   "--out from an earlier run of the same command: finished networks are "
                   "loaded, ones cut short by Ctrl-C continue, missing ones are trained")
    _threads_option(r)

    # train
    t = sub.add_parser("train", help="train one network, with a resumable checkpoint",
                       description="Train one network on SOURCE -> TARGET and save a checkpoint "
                       "(Ctrl-C saves it too; continue with --resume). Prints the source "
                       "validation accuracy, domain-classifier error and target test accuracy. "
                       f"Domains: {domains}.")
    t.add_argument("--source", help="source domain (labelled)")
    t.add_argument("--target", help="target domain (unlabelled, except for target_only)")
    t.add_argument("--method", choices=METHODS, default="dann")
    t.add_argument("--model", choices=("mnist", "svhn", "gtsrb"),
                   help="network (default: from the domains' image size)")
    t.add_argument("--steps", type=_positive_int, default=None, help="SGD steps (default 1000)")
    t.add_argument("--stop-after", type=_positive_int, help="stop after this many steps "
                   "(schedules still span --steps), leaving a resumable checkpoint")
    t.add_argument("--seed", type=_seed, default=None, help="seed of weights and batches "
                   "(default 0)")
    t.add_argument("--batch-size", type=_batch, default=None, help="default 128")
    t.add_argument("--lr", type=_positive_float, default=None, help="initial learning rate "
                   "(default 0.01)")
    t.add_argument("--no-anneal", action="store_true", help="constant learning rate")
    t.add_argument("--lambda-max", type=float, default=None, help="asymptote of lambda_p "
                   "(default 1)")
    t.add_argument("--n-labelled", type=_positive_int, default=10, help="semi_supervised: "
                   "labelled target images per class (default 10)")
    t.add_argument("--labelled-per-batch", type=_positive_int, default=None,
                   help="semi_supervised: labelled target rows per batch (default: 16, at most "
                        "half the target half)")
    t.add_argument("--data-dir", help="folder with the real data")
    t.add_argument("--out", help="output folder (default: dann_runs/SOURCE-TARGET-METHOD-seedN)")
    t.add_argument("--resume", metavar="CKPT", help="continue the run saved in this checkpoint")
    t.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    t.add_argument("--quick", action="store_true", help="tiny subsets (smoke test)")
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--image-fit", choices=("resize", "pad"), default=None)
    t.add_argument("--download", action="store_true")
    _threads_option(t)

    # evaluate
    e = sub.add_parser("evaluate", help="accuracy of a saved network on a domain",
                       description="Accuracy of a checkpoint on a split of any domain, e.g. the "
                       "released MNIST-M (--dataset mnistm_official --data-dir FOLDER) or a GTSRB "
                       f"folder (--dataset gtsrb --data-dir FOLDER --split test). Domains: "
                       f"{domains}.")
    e.add_argument("--checkpoint", required=True, help="a .npz written by train or reproduce")
    e.add_argument("--dataset", required=True, metavar="DOMAIN")
    e.add_argument("--split", default="test")
    e.add_argument("--data-dir")
    e.add_argument("--model", choices=("mnist", "svhn", "gtsrb"),
                   help="network (default: from the checkpoint's sidecar JSON)")
    e.add_argument("--image-fit", choices=("resize", "pad"), default=None)
    e.add_argument("--batch-size", type=_positive_int, default=512)
    e.add_argument("--json", action="store_true", help="print the result as JSON")
    e.add_argument("--download", action="store_true")
    _threads_option(e)

    # preview
    v = sub.add_parser("preview", help="save a PNG grid of samples of a domain",
                       description=f"Save a grid of random samples. Domains: {domains}.")
    v.add_argument("domain", metavar="DOMAIN")
    v.add_argument("--out", help="PNG path (default: preview_DOMAIN.png)")
    v.add_argument("--n", type=_positive_int, default=32)
    v.add_argument("--split", default="train")
    v.add_argument("--data-dir")
    v.add_argument("--seed", type=_seed, default=0)
    return p


# -- commands ---------------------------------------------------------------------------------------
def _cmd_reproduce(a) -> int:
    from .experiments import format_table, get_pair, reproduce

    spec = get_pair(a.pair)
    out = Path(a.out) if a.out else Path("dann_results") / spec.name
    try:
        res = reproduce(spec.name, data_dir=a.data_dir, out_dir=out, seeds=tuple(a.seeds),
                        steps=a.steps, batch_size=a.batch_size, device=a.device, quick=a.quick,
                        progress=not a.no_progress, select=True if a.select else None,
                        download=a.download, image_fit=a.image_fit, tsne=not a.no_tsne,
                        jobs=a.jobs, resume=a.resume, target=a.target,
                        source=a.source)
    except KeyboardInterrupt:
        print(f"interrupted: the networks trained so far, and the one(s) in training, are "
              f"saved in {out / 'checkpoints'}; continue with the same command plus --resume",
              file=sys.stderr)
        return EXIT_INTERRUPT
    print(format_table(res))
    pad = res["proxy_a_distance"]
    if pad["before"]:
        after = ", ".join(f"{k} {v['d_A']:.3f}" for k, v in pad["after"].items())
        print(f"proxy A-distance: before (source only) {pad['before']['d_A']:.3f}, after {after}")
    print(f"SA: d = {res['subspace_alignment']['d']}; total time "
          f"{res['timings_seconds']['total']:.0f} s; results in {out}/results.md")
    return 0


def _target_labelled(data, n_per_class: int, seed: int):
    import numpy as np

    x, y = data.target_train
    rng = np.random.default_rng(seed + 404)
    pick = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        pick.append(rng.choice(members, size=min(n_per_class, len(members)), replace=False))
    idx = np.sort(np.concatenate(pick))
    return x[idx], y[idx]


def _cmd_train(a) -> int:
    import numpy as np

    from . import checkpoint as ckpt_io
    from .experiments import (UsageError, custom_spec, load_pair_data, read_sidecar,
                              write_sidecar)
    from .models import build_model
    from .trainers import TrainConfig, evaluate, train

    resume = Path(a.resume) if a.resume else None
    if resume is not None:
        if not resume.is_file():
            raise FileNotFoundError(f"{resume}: no such checkpoint")
        side = read_sidecar(resume)
        if side is None:
            raise ckpt_io.CheckpointError(f"{resume}: no sidecar JSON beside it, so the data of "
                                          "the run is unknown; resume a checkpoint written by "
                                          "dann train")
        saved = ckpt_io.load_checkpoint(resume).config
        for flag, key in (("source", "source"), ("target", "target"), ("method", "method"),
                          ("model", "model")):
            given = getattr(a, flag)
            if given is not None and flag != "method" and given != side.get(key):
                raise UsageError(f"--{flag} {given} differs from the checkpoint's {side.get(key)}")
        for flag, key in (("steps", "steps"), ("seed", "seed"), ("batch_size", "batch_size"),
                          ("lr", "lr")):
            given = getattr(a, flag)
            if given is not None and given != saved.get(key):
                raise UsageError(f"--{flag.replace('_', '-')} {given} differs from the "
                                 f"checkpoint's {saved.get(key)}")
        source, target, model_name = side["source"], side["target"], side["model"]
        method = saved["method"]
        quick, data_dir = bool(side.get("quick")), a.data_dir or side.get("data_dir")
        image_fit = side.get("image_fit")
        config = TrainConfig.from_dict({**saved, "progress": not a.no_progress,
                                        "device": a.device})
        ckpt = resume
        n_labelled = int(side.get("n_labelled", a.n_labelled))
    else:
        if not a.source or not a.target:
            raise UsageError("train needs --source and --target (or --resume CKPT)")
        source, target, method = a.source, a.target, a.method
        quick, data_dir, image_fit, n_labelled = a.quick, a.data_dir, a.image_fit, a.n_labelled
        spec = custom_spec(source, target, a.model)
        model_name = spec.model
        steps = a.steps or 1000
        overrides = dict(method=method, steps=steps, seed=a.seed or 0,
                         batch_size=a.batch_size or 128, lr=a.lr or 0.01,
                         anneal_lr=not a.no_anneal, device=a.device, progress=not a.no_progress,
                         eval_every=max(1, steps // 10), log_every=max(1, steps // 500))
        if a.lambda_max is not None:
            overrides["lambda_max"] = a.lambda_max
        if method == "semi_supervised":
            half = overrides["batch_size"] - overrides["batch_size"] // 2
            overrides["labelled_per_batch"] = a.labelled_per_batch or max(1, min(16, half // 2))
        try:
            config = TrainConfig(**overrides)
        except (TypeError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        out = Path(a.out) if a.out else Path("dann_runs") / f"{source}-{target}-{method}-seed{config.seed}"
        ckpt = out / "checkpoint.npz"
    if a.stop_after is not None and a.stop_after > config.steps:
        raise UsageError(f"--stop-after {a.stop_after} is beyond --steps {config.steps}")

    spec = custom_spec(source, target, model_name)
    data = load_pair_data(spec, data_dir=data_dir, quick=quick, seed=0, download=a.download,
                          image_fit=image_fit)
    labelled = _target_labelled(data, n_labelled, config.seed) if method == "semi_supervised" else None
    if method == "target_only":   # held-out target *training* labels, never the test set
        src, tgt = data.source_train, data.target_train
        val = (data.source_val, data.target_val)
    else:
        src, tgt = data.source_train, data.target_train[0]
        val = (data.source_val, data.target_val[0])
    model = build_model(model_name, rng=config.seed)
    info = {"model": model_name, "input_shape": list(model.input_shape),
            "num_classes": model.num_classes, "source": source, "target": target,
            "method": method, "image_fit": data.info["image_fit"],
            "data_dir": data.info["data_dir"], "quick": bool(quick), "seed": config.seed,
            "n_labelled": n_labelled, "splits": data.info["splits"], "sizes": data.info["sizes"]}
    write_sidecar(ckpt, info)
    print(f"training {method} on {source} -> {target} with the {model_name} network: "
          f"{config.steps} steps of batch {config.batch_size}; checkpoint {ckpt}"
          + (f" (resuming)" if resume else ""), file=sys.stderr, flush=True)
    try:
        train(model, src, tgt, config, target_labelled=labelled, val=val,
              resume_from=resume, checkpoint_path=ckpt,
              checkpoint_every=max(1, config.steps // 20), stop_after=a.stop_after)
    except KeyboardInterrupt:
        print(f"interrupted: checkpoint saved in {ckpt}; continue with: dann train --resume "
              f"{ckpt}", file=sys.stderr)
        return EXIT_INTERRUPT
    sig = evaluate(model, *val)
    test = evaluate(model, None, data.target_test)
    step = ckpt_io.load_checkpoint(ckpt).step
    result = {"step": step, "steps": config.steps, "source_val_acc": sig["source_val_acc"],
              "domain_error": sig["domain_error"], "target_test_acc": test["target_acc"]}
    if method == "target_only":
        result["target_val_acc"] = sig["target_acc"]
    write_sidecar(ckpt, {**info, "result": result})
    extra = (f", target validation accuracy {sig['target_acc']:.4f}"
             if method == "target_only" else "")
    print(f"step {step}/{config.steps}: source validation accuracy {sig['source_val_acc']:.4f}"
          f"{extra}, domain-classifier error {sig['domain_error']:.4f}, target test accuracy "
          f"({target}/{spec.target_test_split}) {test['target_acc']:.4f}")
    if step < config.steps:
        print(f"stopped early; continue with: dann train --resume {ckpt}")
    print(f"checkpoint: {ckpt}")
    return 0


def _cmd_evaluate(a) -> int:
    from .experiments import evaluate_checkpoint

    res = evaluate_checkpoint(a.checkpoint, a.dataset, split=a.split, data_dir=a.data_dir,
                              model_name=a.model, image_fit=a.image_fit,
                              batch_size=a.batch_size, download=a.download)
    if a.json:
        print(json.dumps(res))
    else:
        print(f"accuracy {res['accuracy']:.4f} on {res['dataset']}/{res['split']} "
              f"({res['n']:,} images) - {res['model']} network, {res['method']}, step "
              f"{res['step']}")
    return 0


def _cmd_preview(a) -> int:
    from .datasets.preview import preview
    from .experiments import UsageError
    from .datasets import DOMAINS

    if a.domain not in DOMAINS:
        raise UsageError(f"unknown domain {a.domain!r}; choose from {', '.join(DOMAINS)}")
    if a.split not in DOMAINS[a.domain].splits:
        raise UsageError(f"domain {a.domain!r} has no split {a.split!r}; choose from "
                         f"{', '.join(DOMAINS[a.domain].splits)}")
    out = Path(a.out) if a.out else Path(f"preview_{a.domain}.png")
    kw = {"download": False} if a.domain in ("mnist", "svhn") else {}
    path = preview(a.domain, out, n=a.n, data_dir=a.data_dir, seed=a.seed, split=a.split, **kw)
    print(f"wrote {path}")
    return 0


def _blas_threads(n):
    """Limit the BLAS thread pools to ``n`` threads inside the block (None: no limit)."""
    import contextlib

    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=int(n), user_api="blas")


_COMMANDS = {"reproduce": _cmd_reproduce, "train": _cmd_train, "evaluate": _cmd_evaluate,
             "preview": _cmd_preview}


def main(argv=None) -> int:
    """Entry point of the ``dann`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageExit as exc:
        print(f"error: {_one_line(exc)} (hint: {exc.prog} --help)", file=sys.stderr)
        return EXIT_USAGE
    if args.command is None:
        print("error: choose a command: reproduce, train, evaluate, preview (hint: dann --help)",
              file=sys.stderr)
        return EXIT_USAGE

    from minigrad.backend import DeviceError
    from . import checkpoint as ckpt_io
    from .datasets import DatasetError
    from .experiments import UsageError

    prog = f"dann {args.command}"
    try:
        with _blas_threads(getattr(args, "threads", None)):
            return _COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"error: {_one_line(exc)} (hint: {prog} --help)", file=sys.stderr)
        return EXIT_USAGE
    except (DatasetError, ckpt_io.CheckpointError, FileNotFoundError, DeviceError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_DATA
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
