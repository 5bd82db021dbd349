"""One network on any two domains, with a resumable checkpoint: the library side of
``dann train``.

    job = SingleRun.prepare(source="mnist5k", target="mnistm5k", method="dann", steps=200)
    job.checkpoint                    # where the run is saved
    result = job.run()                # loads the data, trains, evaluates: the run's numbers

:meth:`SingleRun.prepare` settles every setting first - the defaults for a new run, the
checkpoint's own for ``resume=CHECKPOINT``, where any setting given must agree with it (the
one check of :func:`~dann_from_scratch.runs.resume_point`); a new run whose folder already
holds a checkpoint is refused unless ``overwrite=True`` - so a wrong setting fails before any
data is loaded or anything written. :meth:`SingleRun.run` then holds the lock of the run
folder and trains through :func:`~dann_from_scratch.runs.run_pair`, as ``reproduce`` does.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import checkpoint as ckpt_io
from .errors import ConfigError
from .pair_data import data_identity, data_notes, load_pair_data
from .pairs import custom_spec
from .runs import (PairRun, hold_run_folder, outcome, refuse_overwrite, resume_point,
                   run_identity, run_pair)
from .trainers import TrainConfig

__all__ = ["SingleRun", "NEW_RUN_DEFAULTS"]

#: the settings of a new run that the caller leaves open
NEW_RUN_DEFAULTS = {"method": "dann", "steps": 1000, "seed": 0, "batch_size": 128, "lr": 0.01,
                    "anneal_lr": True, "n_labelled": 10}
_DATA_SETTINGS = ("source", "target", "model", "data_dir", "quick", "image_fit", "n_labelled")


@dataclass
class SingleRun:
    """A run of :func:`~dann_from_scratch.runs.run_pair` on two domains, ready to start."""

    pair_run: PairRun
    data_dir: str | None
    quick: bool
    image_fit: str | None
    download: bool
    resume: bool
    stop_after: int | None
    overwrite: bool = False

    @property
    def checkpoint(self) -> Path:
        return self.pair_run.checkpoint

    @classmethod
    def prepare(cls, source: str | None = None, target: str | None = None,
                method: str | None = None, *, model: str | None = None,
                steps: int | None = None, seed: int | None = None,
                batch_size: int | None = None, lr: float | None = None,
                anneal_lr: bool | None = None, lambda_max: float | None = None,
                n_labelled: int | None = None, labelled_per_batch: int | None = None,
                data_dir=None, out_dir=None, resume=None, quick: bool | None = None,
                image_fit: str | None = None, download: bool = False,
                stop_after: int | None = None, device: str = "cpu",
                progress: bool = True, overwrite: bool = False) -> "SingleRun":
        """Settle the run: ``source`` -> ``target`` with ``method`` (see
        :data:`~dann_from_scratch.config.METHODS`), the network ``model`` (default: from the
        domains' image size), the training settings (None: :data:`NEW_RUN_DEFAULTS` and the
        paper's), ``n_labelled`` labelled target images per class for "semi_supervised",
        the data (``data_dir``, ``quick``: tiny subsets and, unless given, the steps and batch
        of reproduce's quick mode; ``image_fit``), ``out_dir`` (default
        ``dann_runs/SOURCE-TARGET-METHOD-seedN``). ``resume``: a checkpoint written by an
        earlier call, continued with its own settings; ``overwrite``: a new run may replace
        the checkpoint already in ``out_dir`` (else that is a ConfigError); ``stop_after``:
        stop after this many steps, leaving a resumable checkpoint."""
        given = {k: v for k, v in dict(method=method, steps=steps, seed=seed, batch_size=batch_size,
                                       lr=lr, anneal_lr=anneal_lr, lambda_max=lambda_max,
                                       labelled_per_batch=labelled_per_batch).items()
                 if v is not None}
        data = dict(source=source, target=target, model=model, data_dir=data_dir, quick=quick,
                    image_fit=image_fit, n_labelled=n_labelled)
        watch = {"device": device, "progress": progress}
        if resume is None:
            config, data, checkpoint = _new_run(given, data, watch, out_dir)
            if not overwrite:
                refuse_overwrite([checkpoint], f"resume={str(checkpoint)!r}")
        elif overwrite:
            raise ConfigError("overwrite", "overwrite=True replaces a run, resume= continues "
                                           "one: pass only one of them")
        else:
            config, data, checkpoint = _resumed_run(Path(resume), given, data, watch)
        if stop_after is not None and stop_after > config.steps:
            raise ConfigError("stop_after", f"stop_after={stop_after} is beyond "
                                            f"steps={config.steps}")
        spec = custom_spec(data["source"], data["target"], data["model"])
        run = PairRun(name=f"{config.method}_seed{config.seed}", spec=spec, config=config,
                      checkpoint=checkpoint, n_labelled=data["n_labelled"],
                      notes={"seed": config.seed})
        job = cls(pair_run=run, data_dir=data["data_dir"], quick=bool(data["quick"]),
                  image_fit=data["image_fit"], download=download, resume=resume is not None,
                  stop_after=stop_after, overwrite=overwrite)
        if job.resume:   # before the data are loaded: a wrong setting fails at once
            resume_point(checkpoint, config, run_identity(run, data_identity(
                spec, job.data_dir, job.quick, job.image_fit)))
        return job

    def describe(self) -> str:
        """One line: what is about to be trained, and where it is saved."""
        c, spec = self.pair_run.config, self.pair_run.spec
        return (f"training {c.method} on {spec.source} -> {spec.target} with the {spec.model} "
                f"network: {c.steps} steps of batch {c.batch_size}; checkpoint {self.checkpoint}"
                + (" (resuming)" if self.resume else ""))

    def run(self, log: Callable[[str], None] | None = None) -> dict:
        """Load the data, train (or continue), evaluate. Returns the checkpoint, the run's
        numbers (:func:`~dann_from_scratch.runs.outcome`: steps done, source validation
        accuracy, domain-classifier error, target test accuracy) and the test set's name.
        ``log(line)`` is told what the data were built from (MNIST-M's photo set, ...) once
        they are loaded, and notes about the resume check."""
        spec, config = self.pair_run.spec, self.pair_run.config
        with hold_run_folder(self.checkpoint.parent):   # run_pair checks again, under the lock
            data = load_pair_data(spec, data_dir=self.data_dir, quick=self.quick, seed=0,
                                  download=self.download, image_fit=self.image_fit)
            for line in data_notes(data.info) if log is not None else ():
                log(line)
            done = run_pair(self.pair_run, data, resume=self.resume, overwrite=self.overwrite,
                            stop_after=self.stop_after, log=_notes_only(log),
                            checkpoint_every=max(1, config.steps // 20))
        return {"checkpoint": str(self.checkpoint), "test_set": f"{spec.target}/"
                f"{spec.target_test_split}", **outcome(done, config)}


def _notes_only(log):
    """``log`` for the notes of :func:`~dann_from_scratch.runs.train_run` only: ``dann train``
    has said what it trains already (:meth:`SingleRun.describe`)."""
    if log is None:
        return None
    return lambda line: log(line) if line.startswith("note:") else None


def _config(settings: dict) -> TrainConfig:
    try:
        return TrainConfig.from_dict(settings)
    except (TypeError, ValueError) as exc:
        raise ConfigError("config", str(exc)) from None


def _new_run(given: dict, data: dict, watch: dict, out_dir):
    """(config, data settings, checkpoint path) of a new run."""
    if not data["source"] or not data["target"]:
        raise ConfigError("source", "train needs source= and target= (or resume=CKPT)")
    settings = {**{k: v for k, v in NEW_RUN_DEFAULTS.items() if k != "n_labelled"}, **given}
    if data["quick"]:   # seconds, as reproduce's quick mode: its steps and batch unless given
        from .experiments import QUICK_BATCH, QUICK_STEPS
        settings.update({k: v for k, v in (("steps", QUICK_STEPS), ("batch_size", QUICK_BATCH))
                         if k not in given})
    steps = settings["steps"]
    settings.update(eval_every=max(1, steps // 10), log_every=max(1, steps // 500), **watch)
    if settings["method"] == "semi_supervised" and "labelled_per_batch" not in given:
        half = settings["batch_size"] - settings["batch_size"] // 2
        settings["labelled_per_batch"] = max(1, min(16, half // 2))
    config = _config(settings)
    if config.method == "semi_supervised":
        data["n_labelled"] = data["n_labelled"] or NEW_RUN_DEFAULTS["n_labelled"]
    else:
        data["n_labelled"] = None
    out = (Path(out_dir) if out_dir else Path("dann_runs") /
           f"{data['source']}-{data['target']}-{config.method}-seed{config.seed}")
    return config, data, out / "checkpoint.npz"


def _resumed_run(checkpoint: Path, given: dict, data: dict, watch: dict):
    """(config, data settings, checkpoint) of the run saved in ``checkpoint``: its own
    settings, with those ``given`` and ``data`` put in (the resume check then compares)."""
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: no such checkpoint")
    side = ckpt_io.read_sidecar(checkpoint)
    if side is None:
        raise ckpt_io.CheckpointError(f"{checkpoint}: no sidecar JSON beside it, so the data of "
                                      "the run is unknown; resume a checkpoint written by "
                                      "dann train")
    saved = ckpt_io.load_checkpoint(checkpoint).config
    config = _config({**saved, **given, **watch})
    data = {key: data[key] if data[key] is not None else side.get(key) for key in _DATA_SETTINGS}
    return config, data, checkpoint
