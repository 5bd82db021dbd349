"""The ``dann`` command line: it parses arguments, calls the library, prints.

    dann reproduce PAIR       Table 1 for one pair: source-only, SA, DANN, train-on-target
                              (:func:`~dann_from_scratch.experiments.reproduce`)
    dann train                train one network (source_only | dann | target_only |
                              semi_supervised), with a resumable checkpoint
                              (:class:`~dann_from_scratch.single_run.SingleRun`)
    dann evaluate             accuracy of a saved network on any domain
                              (:func:`~dann_from_scratch.runs.evaluate_checkpoint`)
    dann preview DOMAIN       a PNG grid of samples of a domain
    dann --version            the installed version

What goes where: standard output holds the results (``train``, ``reproduce`` and ``evaluate``
with ``--json``: exactly one JSON object and nothing else, the human summary then goes to
standard error); standard error holds the phase lines (what is loaded, trained, computed), the
progress reports (a bar in a terminal, a plain line every tenth of a run in a log:
:mod:`~dann_from_scratch.progress`; ``--no-progress`` hides them, never the phase lines) and
errors.

Errors are one line on stderr: bad arguments (an ``--out`` that holds another run's checkpoint
among them) exit with code 2 and a hint (``dann CMD --help``), missing or broken data and
checkpoints and a run folder locked by another run with code 1, Ctrl-C with code 130 (after
saving a resumable checkpoint where one is being trained). The library names its arguments as Python
does (``steps=0``, ``data_dir=``); :func:`_in_flag_words` rewrites those as this command's
flags (``--steps 0``, ``--data-dir``).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

__all__ = ["main", "build_parser", "UsageError"]

EXIT_USAGE, EXIT_DATA, EXIT_DIVERGED, EXIT_INTERRUPT = 2, 1, 3, 130
# what a shell reports for a process ended by a signal: 128 + its number (SIGINT 130, SIGTERM 143)
_SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143}


def _interrupt_exit(exc: KeyboardInterrupt) -> int:
    """The exit code of a run stopped by Ctrl-C (130) or SIGTERM (143; the trainer names the
    signal in the interrupt), after it saved its checkpoint."""
    return _SIGNAL_EXIT.get(exc.args[0] if exc.args else "", EXIT_INTERRUPT)


class UsageError(Exception):
    """A command line the parser cannot read: one line + hint, exit code 2 (raised by the
    parser instead of printing its usage)."""

    def __init__(self, message: str, prog: str):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # noqa: D401 - argparse API
        raise UsageError(message, self.prog)


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


def _version() -> str:
    """The installed package's version (its metadata), or "unknown" outside an install."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dann-from-scratch")
    except PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def _progress_option(p) -> None:
    p.add_argument("--no-progress", action="store_true",
                   help="no progress reports (the bar in a terminal, the plain step lines in a "
                        "log); the phase lines and the results are still printed")


def _json_option(p, what: str) -> None:
    p.add_argument("--json", action="store_true",
                   help=f"print {what} as one JSON object on standard output; the human "
                        "summary goes to standard error")


def _data_options(p, download_what: str) -> None:
    p.add_argument("--data-dir", metavar="DIR",
                   help="folder with the real data sets (mnist/, bsds500/train/, mnist_m/, "
                        "svhn/, gtsrb/; see the README's 'Getting the data'); without it, the "
                        "embedded and generated domains need no files")
    p.add_argument("--download", action="store_true",
                   help=f"let the loaders download {download_what} when neither --data-dir "
                        "nor the cache holds them (into the cache, checksummed); without this "
                        "flag nothing is downloaded")


def _image_fit_option(p) -> None:
    p.add_argument("--image-fit", choices=("resize", "pad"),
                   help="how images of another size reach the network's input: resize "
                        "(default) or pad with zeros")


def _device_option(p) -> None:
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where to train: cpu (NumPy, default) or cuda (CuPy on a GPU)")


def _threads_option(p) -> None:
    p.add_argument("--threads", type=_positive_int, default=1,
                   help="threads for the CPU work: minigrad runs conv and pooling image groups "
                        "and large products on this many threads, each BLAS call on one "
                        "(default 1, for small shared machines; 2 makes an MNIST step about "
                        "1.4x faster on 2 idle cores)")


def build_parser() -> argparse.ArgumentParser:
    from .datasets import DOMAINS
    from .pairs import PAIR_NAMES

    p = _Parser(prog="dann", description="Ganin & Lempitsky (2015), DANN, on minigrad: "
                "reproduce Table 1, train, evaluate and preview data.")
    p.add_argument("--version", action="version", version=f"dann {_version()}",
                   help="print the installed version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND",
                           help="what to do; dann COMMAND --help lists its options")
    _add_reproduce(sub, ", ".join(PAIR_NAMES))
    _add_train(sub, ", ".join(DOMAINS))
    _add_evaluate(sub, ", ".join(DOMAINS))
    v = sub.add_parser("preview", help="save a PNG grid of samples of a domain",
                       description=f"Save a grid of random samples. Domains: {', '.join(DOMAINS)}.")
    v.add_argument("domain", metavar="DOMAIN", help="the domain to show")
    v.add_argument("--out", help="PNG path (default: preview_DOMAIN.png in the current "
                   "folder)")
    v.add_argument("--n", type=_positive_int, default=32, help="how many images (default 32)")
    v.add_argument("--split", default="train", help="which split to draw from (default train)")
    v.add_argument("--data-dir", metavar="DIR", help="folder with the real data sets (see the "
                   "README's 'Getting the data')")
    v.add_argument("--seed", type=_seed, default=0, help="seed of the random choice of images "
                   "(default 0)")
    return p


def _add_reproduce(sub, pairs: str) -> None:
    r = sub.add_parser("reproduce", help="reproduce one column of Table 1",
                       description="Train source-only, DANN (one run per seed) and "
                       "train-on-target, run subspace alignment, and print the paper's Table 1 "
                       "row beside ours. Writes results.json, results.md, PNG figures and "
                       f"checkpoints to --out. Pairs: {pairs}. Without --data-dir, mnist-mnistm "
                       "runs on the embedded default (mnist5k -> mnistm5k; about 4 minutes on 2 "
                       "CPU cores, under 10 on a busy machine).")
    r.add_argument("pair", metavar="PAIR", help=f"one of {pairs}")
    r.add_argument("--out", help="output folder (default: dann_results/PAIR)")
    r.add_argument("--seeds", nargs="+", type=_seed, default=[0], metavar="SEED",
                   help="one DANN run per seed (default: 0)")
    r.add_argument("--steps", type=_positive_int, help="SGD steps per run (default: the "
                   "pair's; with --quick 2)")
    r.add_argument("--batch-size", type=_batch, help="rows per step, half source and half "
                   "target (default 128; with --quick 16)")
    _device_option(r)
    r.add_argument("--quick", action="store_true", help="a few steps on tiny subsets, to test "
                   "the pipeline (seconds; the numbers mean nothing)")
    _progress_option(r)
    _json_option(r, "a summary of the results (the table, SA, proxy A-distance, file paths)")
    r.add_argument("--select", action="store_true", help="choose lambda_max among 0.1, 0.3, 1 "
                   "by source validation accuracy and domain-classifier error (no target labels)")
    _data_options(r, "the MNIST and SVHN files")
    _image_fit_option(r)
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
    r.add_argument("--overwrite", action="store_true", help="replace the checkpoints already "
                   "in --out (without it, or --resume, they are never replaced)")
    _threads_option(r)


def _add_train(sub, domains: str) -> None:
    from .config import METHODS

    t = sub.add_parser("train", help="train one network, with a resumable checkpoint",
                       description="Train one network on SOURCE -> TARGET and save a checkpoint "
                       "(Ctrl-C saves it too; continue with --resume). Prints the source "
                       "validation accuracy, domain-classifier error and target test accuracy. "
                       f"Domains: {domains}.")
    t.add_argument("--source", help="source domain (labelled)")
    t.add_argument("--target", help="target domain (unlabelled, except for target_only)")
    t.add_argument("--method", choices=METHODS, default=None, help="what to train "
                   "(default dann; target_only trains on the labelled target: the upper bound)")
    t.add_argument("--model", choices=("mnist", "svhn", "gtsrb"),
                   help="network (default: from the domains' image size)")
    t.add_argument("--steps", type=_positive_int, default=None, help="SGD steps (default 1000; "
                   "with --quick 2)")
    t.add_argument("--stop-after", type=_positive_int, help="stop after this many steps "
                   "(schedules still span --steps), leaving a resumable checkpoint")
    t.add_argument("--seed", type=_seed, default=None, help="seed of weights and batches "
                   "(default 0)")
    t.add_argument("--batch-size", type=_batch, default=None, help="rows per step, half "
                   "source and half target (default 128; with --quick 16)")
    t.add_argument("--lr", type=_positive_float, default=None, help="initial learning rate "
                   "(default 0.01)")
    t.add_argument("--no-anneal", action="store_true", help="constant learning rate")
    t.add_argument("--lambda-max", type=float, default=None, help="asymptote of lambda_p "
                   "(default 1)")
    t.add_argument("--n-labelled", type=_positive_int, default=None, help="semi_supervised: "
                   "labelled target images per class (default 10)")
    t.add_argument("--labelled-per-batch", type=_positive_int, default=None,
                   help="semi_supervised: labelled target rows per batch (default: 16, at most "
                        "half the target half)")
    t.add_argument("--out", help="output folder (default: dann_runs/SOURCE-TARGET-METHOD-seedN)")
    t.add_argument("--resume", metavar="CKPT", help="continue the run saved in this checkpoint "
                   "(its settings; any given must agree)")
    t.add_argument("--overwrite", action="store_true", help="replace the checkpoint already in "
                   "--out (without it, or --resume, it is never replaced)")
    _device_option(t)
    t.add_argument("--quick", action="store_true", help="tiny subsets, and unless given "
                   "2 steps of batch 16 (seconds: a smoke test, the numbers mean nothing)")
    _progress_option(t)
    _json_option(t, "the run's numbers and checkpoint")
    _data_options(t, "the MNIST and SVHN files")
    _image_fit_option(t)
    _threads_option(t)


def _add_evaluate(sub, domains: str) -> None:
    e = sub.add_parser("evaluate", help="accuracy of a saved network on a domain",
                       description="Accuracy of a checkpoint on a split of any domain, e.g. the "
                       "released MNIST-M (--dataset mnistm_official --data-dir FOLDER) or a GTSRB "
                       f"folder (--dataset gtsrb --data-dir FOLDER --split test). Domains: "
                       f"{domains}.")
    e.add_argument("--checkpoint", required=True, help="a .npz written by train or reproduce")
    e.add_argument("--dataset", required=True, metavar="DOMAIN", help="the domain to score "
                   "the network on")
    e.add_argument("--split", default="test", help="which split of it (default test)")
    e.add_argument("--model", choices=("mnist", "svhn", "gtsrb"),
                   help="network (default: from the checkpoint's sidecar JSON)")
    _image_fit_option(e)
    e.add_argument("--batch-size", type=_positive_int, default=512, help="images per forward "
                   "pass (default 512; only memory depends on it)")
    _json_option(e, "the result")
    _data_options(e, "the MNIST and SVHN files")
    _threads_option(e)


# -- commands ---------------------------------------------------------------------------------------
def _report(a, human: list[str], payload: dict) -> None:
    """The result of a command: without ``--json`` the ``human`` lines on standard output;
    with it, ``payload`` as one JSON object on standard output (nothing else goes there) and
    the human lines on standard error, so a terminal still shows them."""
    text = "\n".join(human)
    if getattr(a, "json", False):
        print(text, file=sys.stderr, flush=True)
        print(json.dumps(payload, allow_nan=False))
    else:
        print(text)


def _reproduce_summary(res: dict, out: Path) -> dict:
    """What ``dann reproduce --json`` prints: the row beside the paper's and where everything
    is, without the per-step histories and settings of results.json (read that for them)."""
    pad = res["proxy_a_distance"]
    return {
        "pair": res["pair"], "title": res["title"], "command": res["command"],
        "out": str(out), "results_json": str(out / "results.json"),
        "results_md": str(out / "results.md"),
        "embedded_default": bool(res["data"].get("embedded_default")),
        "quick": bool(res["settings"].get("quick")),
        "paper": res["paper"], "ours": res["ours"], "ours_svm": res["ours_svm"],
        "subspace_alignment": {k: res["subspace_alignment"].get(k) for k in ("d", "target_acc")},
        "proxy_a_distance": {
            "before": pad["before"]["d_A"] if pad["before"] else None,
            "after": {name: v["d_A"] for name, v in pad["after"].items()}},
        "runs": {name: {k: r.get(k) for k in ("method", "target_acc", "source_val_acc",
                                              "domain_error", "train_seconds",
                                              "resumed_from_step")}
                 for name, r in res["runs"].items()},
        "checkpoints": {name: str(out / path) for name, path in res["checkpoints"].items()},
        "figures": res["figures"],
        "timings_seconds": res["timings_seconds"],
    }


def _cmd_reproduce(a) -> int:
    from .experiments import reproduce
    from .pairs import get_pair
    from .report import format_table

    out = Path(a.out) if a.out else Path("dann_results") / get_pair(a.pair).name
    try:
        res = reproduce(a.pair, data_dir=a.data_dir, out_dir=out, seeds=tuple(a.seeds),
                        steps=a.steps, batch_size=a.batch_size, device=a.device, quick=a.quick,
                        progress=not a.no_progress, select=True if a.select else None,
                        download=a.download, image_fit=a.image_fit, tsne=not a.no_tsne,
                        jobs=a.jobs, resume=a.resume, target=a.target, source=a.source,
                        overwrite=a.overwrite)
    except KeyboardInterrupt as exc:
        print(f"interrupted: the networks trained so far, and the one(s) in training, are "
              f"saved in {out / 'checkpoints'}; continue with the same command plus --resume",
              file=sys.stderr)
        return _interrupt_exit(exc)
    human = [format_table(res)]
    pad = res["proxy_a_distance"]
    if pad["before"]:
        after = ", ".join(f"{k} {v['d_A']:.3f}" for k, v in pad["after"].items())
        human.append(f"proxy A-distance: before (source only) {pad['before']['d_A']:.3f}, "
                     f"after {after}")
    human.append(f"SA: d = {res['subspace_alignment']['d']}; total time "
                 f"{res['timings_seconds']['total']:.0f} s; results in {out}/results.md")
    _report(a, human, _reproduce_summary(res, out))
    return 0


def _cmd_train(a) -> int:
    from .single_run import SingleRun

    job = SingleRun.prepare(
        a.source, a.target, a.method, model=a.model, steps=a.steps, seed=a.seed,
        batch_size=a.batch_size, lr=a.lr, anneal_lr=False if a.no_anneal else None,
        lambda_max=a.lambda_max, n_labelled=a.n_labelled,
        labelled_per_batch=a.labelled_per_batch, data_dir=a.data_dir, out_dir=a.out,
        resume=a.resume, quick=a.quick or None, image_fit=a.image_fit, download=a.download,
        stop_after=a.stop_after, device=a.device, progress=not a.no_progress,
        overwrite=a.overwrite)
    print(job.describe(), file=sys.stderr, flush=True)
    try:
        r = job.run(log=lambda line: print(line, file=sys.stderr, flush=True))
    except KeyboardInterrupt as exc:
        print(f"interrupted: checkpoint saved in {job.checkpoint}; continue with: dann train "
              f"--resume {job.checkpoint}", file=sys.stderr)
        return _interrupt_exit(exc)
    extra = (f", target validation accuracy {r['target_val_acc']:.4f}"
             if "target_val_acc" in r else "")
    human = [f"step {r['step']}/{r['steps']}: source validation accuracy "
             f"{r['source_val_acc']:.4f}{extra}, domain-classifier error "
             f"{r['domain_error']:.4f}, target test accuracy ({r['test_set']}) "
             f"{r['target_test_acc']:.4f}"]
    resume = f"dann train --resume {r['checkpoint']}" if r["step"] < r["steps"] else None
    if resume:
        human.append(f"stopped early; continue with: {resume}")
    human.append(f"checkpoint: {r['checkpoint']}")
    spec, config = job.pair_run.spec, job.pair_run.config
    _report(a, human, {"source": spec.source, "target": spec.target, "model": spec.model,
                       "method": config.method, "seed": config.seed,
                       "batch_size": config.batch_size, "quick": job.quick, **r,
                       "finished": resume is None, "resume_command": resume})
    return 0


def _cmd_evaluate(a) -> int:
    from .runs import evaluate_checkpoint

    res = evaluate_checkpoint(a.checkpoint, a.dataset, split=a.split, data_dir=a.data_dir,
                              model_name=a.model, image_fit=a.image_fit,
                              batch_size=a.batch_size, download=a.download)
    _report(a, [f"accuracy {res['accuracy']:.4f} on {res['dataset']}/{res['split']} "
                f"({res['n']:,} images) - {res['model']} network, {res['method']}, step "
                f"{res['step']}"], res)
    return 0


def _cmd_preview(a) -> int:
    from .datasets.preview import preview

    out = Path(a.out) if a.out else Path(f"preview_{a.domain}.png")
    path = preview(a.domain, out, n=a.n, data_dir=a.data_dir, seed=a.seed, split=a.split,
                   download=False)
    print(f"wrote {path}")
    return 0


# -- library errors in the command line's words -------------------------------------------------------
#: library arguments whose flag has another name
_FLAG_DEST = {"out_dir": "out", "model_name": "model"}
#: ``name=value`` as a Python call writes it: a quoted string or a bare word (may be empty;
#: a full stop after it ends the sentence, not the value)
_KEYWORD = re.compile(r"\b([a-z][a-z_]*)=('[^']*'|\"[^\"]*\"|(?:[^\s,;:()]*[^\s,;:().])?)")


def _in_flag_words(message: str, parser: argparse.ArgumentParser) -> str:
    """``message`` (one line) with every ``name=value`` that is a flag of ``parser`` written
    as that flag: ``steps=0`` -> ``--steps 0``, ``resume=True`` and ``data_dir=`` -> the bare
    flag, ``source='svhn'`` -> ``--source svhn``. ``name=False`` stays (no flag says it)."""
    flags = {a.dest: max(a.option_strings, key=len) for a in parser._actions if a.option_strings}

    def rewrite(m: re.Match) -> str:
        flag = flags.get(_FLAG_DEST.get(m.group(1), m.group(1)))
        value = m.group(2).strip("'\"")
        if flag is None or value == "False":
            return m.group(0)
        return flag if value in ("", "True") else f"{flag} {value}"

    return _KEYWORD.sub(rewrite, _one_line(message))


def _command_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


def _blas_threads(n):
    """Train with ``n`` threads inside the block (:mod:`dann_from_scratch.threads`; None:
    leave the settings alone)."""
    import contextlib

    if n is None:
        return contextlib.nullcontext()
    from .threads import blas_threads  # so the trainers inside use --threads too

    return blas_threads(int(n))


_COMMANDS = {"reproduce": _cmd_reproduce, "train": _cmd_train, "evaluate": _cmd_evaluate,
             "preview": _cmd_preview}


def main(argv=None) -> int:
    """Entry point of the ``dann`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"error: {_one_line(exc)} (hint: {exc.prog} --help)", file=sys.stderr)
        return EXIT_USAGE
    if args.command is None:
        print("error: choose a command: reproduce, train, evaluate, preview (hint: dann --help)",
              file=sys.stderr)
        return EXIT_USAGE

    from minigrad.backend import DeviceError
    from . import checkpoint as ckpt_io
    from .datasets import DatasetError
    from .errors import ConfigError
    from .runs import RunFolderBusy
    from .training import TrainingDiverged

    prog, command_parser = f"dann {args.command}", _command_parser(parser, args.command)
    try:
        with _blas_threads(getattr(args, "threads", None)):
            return _COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"error: {_in_flag_words(str(exc), command_parser)} (hint: {prog} --help)",
              file=sys.stderr)
        return EXIT_USAGE
    except (DatasetError, ckpt_io.CheckpointError, FileNotFoundError, DeviceError,
            RunFolderBusy) as exc:
        print(f"error: {_in_flag_words(str(exc), command_parser)}", file=sys.stderr)
        return EXIT_DATA
    except TrainingDiverged as exc:
        print(f"error: {_in_flag_words(str(exc), command_parser)}", file=sys.stderr)
        return EXIT_DIVERGED
    except KeyboardInterrupt as exc:
        print("interrupted", file=sys.stderr)
        return _interrupt_exit(exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
