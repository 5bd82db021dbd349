"""Table 1 of Ganin & Lempitsky (2015), end to end: ``reproduce(pair, ...)``.

For one source -> target pair (:mod:`~dann_from_scratch.pairs`), :func:`reproduce` runs these
stages, each a function below:

1. **load the data** (:func:`~dann_from_scratch.pair_data.load_pair_data`): fitted to the
   network, with a labelled *source validation* and an unlabelled *target validation* split
   held out of the training sets;
2. **choose the meta-parameters** (optional, ``select=``): one DANN run per candidate, judged
   by the unsupervised rule of :mod:`~dann_from_scratch.selection`;
3. **train the row**: source only, DANN (one run per seed) and the train-on-target upper bound,
   each a run of :func:`~dann_from_scratch.runs.run_pair` (checkpoint + JSON sidecar), in
   parallel worker processes with ``jobs`` > 1 (:mod:`~dann_from_scratch.parallel`);
4. **subspace alignment** (Fernando et al. 2013) on the last hidden layer of the source-only
   network, ``d`` chosen label-free by :func:`~dann_from_scratch.baselines.select_d`;
5. **SVM retraining**: the last layer of every network retrained as a linear SVM on its last
   hidden layer (C chosen on held-out *source* data - or held-out target training data for
   train-on-target, the one method that learns from target labels);
6. **proxy A-distance** between source and target features (G_f output) of the source-only
   net ("before") and of each DANN net ("after");
7. **figures**: the t-SNE figure (Figure 3), the training curves (losses, lambda, learning
   rate, source validation and target accuracy) and our Table 1 row beside the paper's;
8. **the table**: results.json and results.md (:mod:`~dann_from_scratch.report`), every file
   written atomically. Beside each checkpoint, ``NAME.history.csv`` holds its logged curves.

**Resumed rows.** With ``resume=True`` the numbers of networks trained by an earlier call come
from their checkpoints; results.json (``"resumed"``) and results.md say which, and the
training times are the networks' own (added up over every call, from the sidecars), not the
seconds the rerun took to load them.

**What goes in the table.** The headline row ("ours") gives each network's own softmax
accuracy on the target test set, and for SA the accuracy of the linear SVM trained on the
aligned source features (SA has no network of its own). A second row gives every method with
its last layer retrained as a linear SVM, the protocol under which the paper compares DANN
with SA; both rows are in ``results.json`` and ``results.md``.

**No target test labels are used to choose anything.** Every meta-parameter comes from the
two unsupervised signals of the paper's section "Choosing meta-parameters" (source
validation accuracy, domain-classifier error); the defaults of
:data:`~dann_from_scratch.pairs.PAIRS` were chosen with them (see ``PairSpec.meta_note``).
The target test labels are read exactly once per network, after training, to report the
accuracy.
"""
from __future__ import annotations

import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from minigrad.serialization import atomic_write

from . import checkpoint as ckpt_io
from . import checks
from .comparisons import (MAX_FEATURE_ROWS, MAX_PAD_ROWS, proxy_a_distances, retrain_last_layer,
                          subspace_alignment)
from .errors import ConfigError, checked
from .jsonio import finite, write_json, write_text
from .metrics import gap_covered
from .pair_data import (IMAGE_FITS, QUICK_SIZES, VAL_FRACTION, PairData, data_notes,
                        load_pair_data)
from .pairs import PairSpec, get_pair, with_domains
from .parallel import run_all
from .report import command_line, environment, render_markdown
from .runs import PairRun, Trained, hold_run_folder, refuse_overwrite
from .selection import SELECTION_RULE, select_meta_parameters
from .trainers import TrainConfig

__all__ = ["reproduce", "QUICK_SIZES", "QUICK_STEPS", "QUICK_BATCH"]

QUICK_STEPS, QUICK_BATCH = 2, 16    # quick mode: seconds, to test the pipeline
TSNE_POINTS = 500                   # points per domain in each t-SNE panel


def reproduce(pair: str, data_dir=None, out_dir="dann_results", seeds: Sequence[int] = (0,),
              steps: int | None = None, batch_size: int | None = None, device: str = "cpu",
              quick: bool = False, progress: bool = True, select=None, download: bool = False,
              image_fit: str | None = None, tsne: bool = True, jobs: int = 1,
              resume: bool = False, target: str | None = None,
              source: str | None = None, overwrite: bool = False) -> dict:
    """Reproduce one column of Table 1 (see the module docstring); returns the results dict
    that is also written to ``out_dir/results.json``.

    pair        one of :data:`~dann_from_scratch.pairs.PAIR_NAMES`
    data_dir    folder with the real data (see each domain's ``needs``); None: the embedded
                default where the pair has one (mnist-mnistm: mnist5k -> mnistm5k)
    seeds       one DANN run per seed (source-only and train-on-target use the first seed)
    steps       SGD steps per run (default: the pair's; quick mode: ``QUICK_STEPS``)
    batch_size  rows per step, half source and half target (default 128, the paper's;
                quick mode: ``QUICK_BATCH``)
    select      None: the pair's chosen meta-parameters; True: choose lambda_max from the pair's
                grid with :func:`~dann_from_scratch.selection.select_meta_parameters`; or a
                list of TrainConfig override dicts to choose from (trained with the first seed)
    download    allow the MNIST/SVHN loaders to download missing files
    tsne        draw the t-SNE figure (the slowest figure; on by default)
    jobs        train up to this many networks at once, each in its own worker process (CPU
                only; give each worker one BLAS thread: on 2 cores, ``jobs=2`` finishes a
                row of 5 networks about 1.3x sooner than one process with 2 threads)
    resume      reuse the checkpoints already in ``out_dir/checkpoints`` (from an earlier call
                with the same arguments, finished or cut short by Ctrl-C): finished runs are
                loaded, interrupted ones continue where they stopped, missing ones are
                trained; a checkpoint of a different run is a :class:`ConfigError`
    overwrite   without ``resume``, replace the row's checkpoints already in ``out_dir`` (False:
                a :class:`ConfigError`, before anything is loaded or written); the lock of
                ``out_dir`` is held meanwhile (:func:`~dann_from_scratch.runs.hold_run_folder`)
    source, target   another source / target domain for the pair (see
                :func:`~dann_from_scratch.pairs.with_domains`; needs ``data_dir``), e.g.
                ``source="mnist_binary", target="mnistm_binary"`` or ``"mnistm_official"``
    """
    started = time.perf_counter()
    spec, seeds, jobs = _checked_arguments(pair, data_dir, seeds, steps, batch_size, device,
                                           select, jobs, image_fit, source, target)
    with hold_run_folder(out_dir):     # the forked workers share this lock (parallel.py)
        _check_out_dir(Path(out_dir), spec, seeds, select, resume, overwrite)
        row = _start_row(spec, data_dir, out_dir, seeds, steps, batch_size, device, quick,
                         jobs, resume, progress, download, image_fit, overwrite)
        trained: dict[str, tuple[PairRun, Trained]] = {}
        selection = (_choose_meta_parameters(row, select, trained) if select is not None
                     else None)
        runs = _train_row(row, trained)
        sa, feature_rows = _subspace_alignment(row, runs)
        _retrain_last_layers(row, runs, feature_rows)
        pad, features = _proxy_a_distance(row, runs)
        figures = _figures(row, runs, features, tsne)
        results = finite(_results(row, runs, sa, pad, figures, selection, data_dir, tsne,
                                  source, target))
        _comparison_figure(row, results)
        row.timings["total"] = time.perf_counter() - started
        results["timings_seconds"] = finite(dict(row.timings))
        write_json(row.out / "results.json", results)
        write_text(row.out / "results.md", render_markdown(results))
    row.log(f"done in {row.timings['total']:.0f} s; results in {row.out}")
    return results


# -- the arguments and the row in progress -----------------------------------------------------------
def _checked_arguments(pair, data_dir, seeds, steps, batch_size, device, select, jobs,
                       image_fit, source, target) -> tuple[PairSpec, list[int], int]:
    """The pair (with its other domains, if any), the seeds and the number of workers; a
    :class:`ConfigError` naming the argument for anything wrong."""
    spec = get_pair(pair)
    for role, domain in (("source", source), ("target", target)):
        if domain is not None and data_dir is None:
            raise ConfigError(role, f"{role}= needs data_dir=: the embedded default data have "
                                    f"their own {role}")
    spec = with_domains(spec, source=source, target=target)
    try:
        seeds = [int(s) for s in seeds]
    except (TypeError, ValueError):
        raise ConfigError("seeds", f"seeds must be non-negative integers, got {seeds!r}") from None
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError("seeds", f"seeds must be distinct non-negative integers, got {seeds!r}")
    for name, value, least in (("steps", steps, 1), ("batch_size", batch_size, 2)):
        if value is not None:
            checked(checks.integer, "reproduce", name, value, minimum=least)
    checked(checks.one_of, "reproduce", "device", device, ("cpu", "cuda"))
    if select is not None and select is not True and not isinstance(select, (list, tuple)):
        raise ConfigError("select", "select must be None, True (the pair's grid) or a list of "
                                    "dicts")
    jobs = checked(checks.integer, "reproduce", "jobs", jobs, minimum=1)
    if image_fit is not None:
        checked(checks.one_of, "reproduce", "image_fit", image_fit, IMAGE_FITS)
    return spec, seeds, 1 if device == "cuda" else jobs   # one GPU: the runs would only queue


def _check_out_dir(out: Path, spec: PairSpec, seeds: list, select, resume, overwrite) -> None:
    """A :class:`ConfigError` if the row's checkpoints in ``out`` would be replaced unasked."""
    if resume and overwrite:
        raise ConfigError("overwrite", "overwrite=True replaces the runs, resume=True continues "
                                       "them: pass only one of them")
    if resume or overwrite:
        return
    grid = () if select is None else spec.select_grid if select is True else select
    names = (["source_only"] + [f"dann_seed{s}" for s in seeds] + ["train_on_target"]
             + [f"select_{i}" for i in range(len(grid))])
    refuse_overwrite([out / "checkpoints" / f"{name}.npz" for name in names])


@dataclass
class _Row:
    """A row of Table 1 being reproduced: the pair, its data, the settings, the timings."""

    spec: PairSpec
    data: PairData
    out: Path
    seeds: list
    steps: int
    pair_steps: int          # the pair's own number of steps (``steps`` may override it)
    batch_size: int
    device: str
    quick: bool
    jobs: int
    resume: bool
    progress: bool
    dann_overrides: dict
    overwrite: bool = False
    timings: dict = field(default_factory=dict)

    def log(self, message: str) -> None:
        _log(self.progress, self.spec, message)

    @contextmanager
    def timed(self, phase: str):
        start = time.perf_counter()
        yield
        self.timings[phase] = time.perf_counter() - start

    def run(self, name: str, method: str, seed: int, overrides: dict | None = None,
            **notes) -> PairRun:
        """The run called ``name``: ``method`` with ``seed`` and TrainConfig ``overrides``."""
        settings = dict(method=method, steps=self.steps, batch_size=self.batch_size, seed=seed,
                        anneal_lr=self.spec.anneal_lr, device=self.device,
                        progress=self.progress,
                        eval_every=self.steps if self.quick else max(1, self.steps // 10),
                        log_every=max(1, self.steps // 500), **(overrides or {}))
        return PairRun(name=name, spec=self.spec, config=TrainConfig(**settings),
                       checkpoint=self.out / "checkpoints" / f"{name}.npz",
                       notes={"seed": seed, **notes})

    def train(self, runs: list[PairRun]) -> dict[str, Trained]:
        return run_all(runs, self.data, self.jobs, resume=self.resume,
                       overwrite=self.overwrite, log=self.log)


def _log(progress: bool, spec: PairSpec, message: str) -> None:
    # phase lines are always shown: ``progress`` switches only the training progress bars
    print(f"[{spec.name}] {message}", file=sys.stderr, flush=True)


def _start_row(spec, data_dir, out_dir, seeds, steps, batch_size, device, quick, jobs, resume,
               progress, download, image_fit, overwrite=False) -> _Row:
    """Stage 1: the output folder and the data; the settings that depend on them."""
    out = Path(out_dir)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    embedded = data_dir is None and spec.default_source is not None
    _log(progress, spec, f"loading data{' (embedded default)' if embedded else ''}")
    data = load_pair_data(spec, data_dir=data_dir, quick=quick, seed=0, download=download,
                          image_fit=image_fit)
    for line in data_notes(data.info):         # e.g. which photos MNIST-M was built from
        _log(progress, spec, line)
    pair_steps = QUICK_STEPS if quick else (spec.default_steps if embedded and spec.default_steps
                                            else spec.steps)
    dann = spec.default_dann if embedded and spec.default_dann is not None else spec.dann
    row = _Row(spec=spec, data=data, out=out, seeds=seeds, steps=steps or pair_steps,
               pair_steps=pair_steps, batch_size=batch_size or (QUICK_BATCH if quick else 128),
               device=device, quick=quick, jobs=jobs, resume=resume, progress=progress,
               dann_overrides=dict(dann), overwrite=overwrite)
    row.timings["load_data"] = time.perf_counter() - start
    return row


def _record(run: PairRun, done: Trained) -> dict:
    """A trained run as results.json lists it."""
    labelled_target = run.config.method == "target_only"
    return {"name": run.name, "method": run.config.method, "config": run.config.to_dict(),
            "model": run.spec.model, "model_seed": run.config.seed,
            "checkpoint": run.checkpoint.name, "train_seconds": done.seconds,
            **({"resumed_from_step": done.resumed_from_step,
                "train_seconds_this_call": done.call_seconds}
               if done.resumed_from_step is not None else {}),
            "source_val_acc": done.signals["source_val_acc"],
            **({"target_val_acc": done.signals["target_acc"]} if labelled_target else {}),
            "domain_error": done.signals["domain_error"], "target_acc": done.target_test_acc,
            "history": done.history, "wall_seconds": done.wall_seconds}


# -- stage 2: meta-parameters -------------------------------------------------------------------------
def _choose_meta_parameters(row: _Row, select, trained: dict) -> dict:
    """One DANN run per candidate (first seed); the unsupervised rule picks one, whose run
    becomes the first seed's DANN run (same config, same seed: its checkpoint is copied).
    Updates ``row.dann_overrides`` and ``trained``; returns the selection record."""
    grid = list(row.spec.select_grid) if select is True else [dict(c) for c in select]
    first, runs = row.seeds[0], []
    for i, c in enumerate(grid):
        try:
            runs.append(row.run(f"select_{i}", "dann", first, {**row.dann_overrides, **c},
                                candidate=c))
        except (TypeError, ValueError) as exc:
            raise ConfigError("select", f"bad meta-parameter candidate {c!r}: {exc}") from None
    with row.timed("selection"):
        done = row.train(runs)
        # only the unsupervised signals reach the rule
        candidates = [{"overrides": c, "source_val_acc": done[r.name].signals["source_val_acc"],
                       "domain_error": done[r.name].signals["domain_error"]}
                      for c, r in zip(grid, runs)]
        win = select_meta_parameters(candidates)
        row.dann_overrides = {**row.dann_overrides, **grid[win]}
        winner, name = runs[win], f"dann_seed{first}"
        copy = row.out / "checkpoints" / f"{name}.npz"
        atomic_write(copy, lambda f: _copy_file(winner.checkpoint, f))
        curves = ckpt_io.history_csv_path(winner.checkpoint)
        if curves.is_file():
            atomic_write(ckpt_io.history_csv_path(copy), lambda f: _copy_file(curves, f))
        side = ckpt_io.read_sidecar(winner.checkpoint) or {}
        ckpt_io.write_sidecar(copy, {**{k: v for k, v in side.items()
                                        if k not in ("format", "checkpoint")},
                                     "run": name, "selected_from": winner.name})
        trained[name] = (winner, done[winner.name])
    return {"rule": SELECTION_RULE, "candidates": candidates, "chosen": grid[win],
            "chosen_index": win}


def _copy_file(path: Path, into) -> None:
    with open(path, "rb") as src:
        shutil.copyfileobj(src, into)


# -- stage 3: the row's networks ----------------------------------------------------------------------
def _train_row(row: _Row, trained: dict) -> dict[str, dict]:
    """Source only, DANN per seed (except a run already chosen by the selection) and train on
    target; returns ``{name: record}`` in the table's order, each record with its ``"_model"``."""
    first = row.seeds[0]
    runs = [row.run("source_only", "source_only", first)]
    runs += [row.run(f"dann_seed{s}", "dann", s, row.dann_overrides) for s in row.seeds
             if f"dann_seed{s}" not in trained]
    runs.append(row.run("train_on_target", "target_only", first))
    with row.timed("training"):
        done = row.train(runs)
    trained.update({run.name: (run, done[run.name]) for run in runs})
    order = ["source_only"] + [f"dann_seed{s}" for s in row.seeds] + ["train_on_target"]
    records = {}
    for name in order:
        run, result = trained[name]
        record = _record(run, result)
        if run.name != name:          # the selection's winner, standing for dann_seed<first>
            record.update(name=name, checkpoint=f"{name}.npz", selected_from=run.name)
        records[name] = {**record, "_model": result.model}
        row.timings[name] = result.wall_seconds
    return records


# -- stages 4-6: the comparisons on the networks' features --------------------------------------------
def _subspace_alignment(row: _Row, runs: dict) -> tuple[dict, dict]:
    with row.timed("subspace_alignment"):
        row.log("subspace alignment (choosing d by source cross-validation; minutes with many "
                "classes)")
        record, fit_rows = subspace_alignment(row.data, runs["source_only"]["_model"], row.quick)
    row.log(f"SA: d = {record['d']}, target accuracy {record['target_acc']:.4f}")
    return record, fit_rows


def _retrain_last_layers(row: _Row, runs: dict, fit_rows: dict) -> None:
    with row.timed("svm_retraining"):
        for name, rec in runs.items():
            row.log(f"{name}: last layer retrained as a linear SVM")
            rec["svm"] = retrain_last_layer(row.data, rec["_model"], rec["method"], fit_rows,
                                            row.quick)


def _proxy_a_distance(row: _Row, runs: dict) -> tuple[dict, dict]:
    with row.timed("proxy_a_distance"):
        row.log("proxy A-distance")
        return proxy_a_distances(row.data, {name: rec["_model"] for name, rec in runs.items()
                                            if rec["method"] != "target_only"}, row.quick)


# -- stage 7: figures -------------------------------------------------------------------------------
def _figures(row: _Row, runs: dict, features: dict, tsne: bool) -> dict:
    """The t-SNE figure (source only vs the first DANN run) and each run's training curves;
    returns ``{figure: file name}``."""
    from . import plots

    figures, title, dpi = {}, row.spec.title, 50 if row.quick else 120
    with row.timed("figures"):
        if tsne:
            row.log("t-SNE (Figure 3)")
            (bs, bt), (as_, at) = features["source_only"], features[f"dann_seed{row.seeds[0]}"]
            k = min(TSNE_POINTS, len(bs), len(bt))
            path = plots.plot_tsne_pair(
                bs[:k], bt[:k], as_[:k], at[:k], row.out / "tsne.png",
                titles=("Non-adapted (source only)", "Adapted (DANN)"),
                suptitle=f"{title}: G_f features, source (blue) vs target (red)", max_points=k,
                seed=0, max_iter=250 if row.quick else 1000, n_threads=1, dpi=dpi)
            figures["tsne"] = path.name
        for name, rec in runs.items():
            path = plots.plot_training_curves(rec["history"], row.out / f"training_curves_{name}.png",
                                              title=f"{title}: {name}", dpi=dpi)
            figures[f"training_curves_{name}"] = path.name
    return _existing(row, figures)


def _existing(row: _Row, figures: dict) -> dict:
    """``figures`` less any whose file is not in the output folder (results list no others)."""
    return {key: name for key, name in figures.items() if (row.out / name).is_file()}


def _comparison_figure(row: _Row, results: dict) -> None:
    """Our Table 1 row(s) beside the paper's, with the spread over seeds: added to
    ``results["figures"]``."""
    from . import plots

    start = time.perf_counter()
    path = plots.plot_table_comparison(results, row.out / "table1_comparison.png",
                                       dpi=50 if row.quick else 120)
    row.timings["figures"] = row.timings.get("figures", 0.0) + time.perf_counter() - start
    results["figures"] = _existing(row, {**results["figures"], "table1_comparison": path.name})


# -- stage 8: the table -----------------------------------------------------------------------------
def _gap(method, so, tt):
    try:
        return gap_covered(method, so, tt)
    except ValueError:
        return None


def _table_row(seeds, so_acc, sa_acc, dann_accs, tt_acc) -> dict:
    """One row of the table, with the DANN mean and spread over seeds and the gap covered."""
    row = {"source_only": so_acc, "sa": sa_acc, "dann": float(np.mean(dann_accs)),
           "dann_std": float(np.std(dann_accs)) if len(dann_accs) > 1 else 0.0,
           "dann_per_seed": {str(s): a for s, a in zip(seeds, dann_accs)},
           "train_on_target": tt_acc}
    row["gap_covered"] = {k: _gap(row[k], so_acc, tt_acc) for k in ("sa", "dann")}
    return row


def _results(row: _Row, runs: dict, sa: dict, pad: dict, figures: dict, selection, data_dir,
             tsne: bool, source, target) -> dict:
    """Everything results.json holds."""
    spec, seeds = row.spec, row.seeds
    so, tt = runs["source_only"], runs["train_on_target"]
    dann_runs = [runs[f"dann_seed{s}"] for s in seeds]
    paper = dict(spec.paper)
    paper["gap_covered"] = {k: _gap(paper[k], paper["source_only"], paper["train_on_target"])
                            for k in ("sa", "dann")}
    return {
        "pair": spec.name, "title": spec.title,
        "command": command_line(spec.name, data_dir, seeds, row.steps, row.batch_size, row.device,
                                row.quick, row.jobs, row.resume, target, source),
        "out": str(row.out),
        **_resumed(runs),
        "evaluate": {"dataset": row.data.info["target"], "split": spec.target_test_split,
                     "data_dir": None if data_dir is None else str(data_dir)},
        "table_row": "ours",
        "table_note": ("'ours': each network's own softmax accuracy on the target test set (SA: "
                       "linear SVM on the aligned features); 'ours_svm': every network's last "
                       "layer retrained as a linear SVM on its last hidden layer (C from held-out "
                       "labelled training data), the paper's protocol for comparing with SA"),
        "paper": paper,
        "ours": _table_row(seeds, so["target_acc"], sa["target_acc"],
                           [r["target_acc"] for r in dann_runs], tt["target_acc"]),
        "ours_svm": _table_row(seeds, so["svm"]["target_acc"], sa["target_acc"],
                               [r["svm"]["target_acc"] for r in dann_runs],
                               tt["svm"]["target_acc"]),
        "subspace_alignment": sa,
        "proxy_a_distance": {"features": "G_f output (input of both heads), held-out source "
                                         "validation vs held-out target training images",
                             "before": pad.get("source_only"),
                             "after": {n: v for n, v in pad.items() if n != "source_only"}},
        "runs": {name: {k: v for k, v in rec.items() if k != "_model"}
                 for name, rec in runs.items()},
        "meta_parameters": _meta_parameters(row, runs, selection),
        "data": row.data.info,
        "settings": {"steps": row.steps, "batch_size": row.batch_size, "seeds": seeds,
                     "device": row.device, "jobs": row.jobs, "resume": bool(row.resume),
                     "quick": bool(row.quick), "anneal_lr": spec.anneal_lr, "model": spec.model,
                     "val_fraction": VAL_FRACTION, "max_feature_rows": MAX_FEATURE_ROWS,
                     "max_pad_rows": MAX_PAD_ROWS, "tsne_points": TSNE_POINTS if tsne else None},
        "figures": figures,
        "checkpoints": {name: f"checkpoints/{name}.npz" for name in runs}
        | {f"select_{i}": f"checkpoints/select_{i}.npz"
           for i in range(len(selection["candidates"]) if selection else 0)},
        "timings_seconds": row.timings,
        "environment": environment(row.device),
    }


def _resumed(runs: dict) -> dict:
    """``{"resumed": ...}`` when a network came from an earlier call's checkpoint: which ones,
    at which step; ``{}`` for a row trained in one go."""
    resumed = {name: rec["resumed_from_step"] for name, rec in runs.items()
               if rec.get("resumed_from_step") is not None}
    if not resumed:
        return {}
    return {"resumed": {"from_step": resumed,
                        "note": "these networks were trained (wholly or partly) by an earlier "
                                "call and continued or loaded from their checkpoints; "
                                "train_seconds adds up every call's training time"}}


def _meta_parameters(row: _Row, runs: dict, selection) -> dict:
    """How the settings were chosen, and the unsupervised signals of every run."""
    spec = row.spec
    embedded = row.data.info["embedded_default"]
    note = spec.default_meta_note if embedded and spec.default_meta_note else spec.meta_note
    if row.steps != row.pair_steps:
        note += (f"; but this run trained {row.steps:,} steps per network (--steps), not the "
                 f"pair's {row.pair_steps:,}")
    return {"rule": SELECTION_RULE, "how_chosen": note, "dann_overrides": row.dann_overrides,
            "selection": selection,
            "signals": {name: {k: rec.get(k) for k in ("source_val_acc", "target_val_acc",
                                                       "domain_error") if k in rec}
                        for name, rec in runs.items()}}
