"""One run: train a network (resuming its checkpoint when asked), evaluate it, record it.

Every way of training goes through :func:`train_run`: ``dann train``
(:mod:`~dann_from_scratch.single_run`) and ``reproduce`` through :func:`run_pair`, the
chapters and :class:`~dann_from_scratch.estimator.DANNClassifier` directly, with arrays of
their own. So the rules about a run's files are written once, here:

* **resume only the same run on the same data** (:func:`resume_point`): a checkpoint is
  continued (or, when finished, loaded) only if its config matches (up to the fields that do
  not change the numbers, :func:`~dann_from_scratch.config.config_differences`), its
  sidecar names the same network and data (:data:`RUN_IDENTITY`) and, where the sidecar
  records them, the data are the same by content (:data:`DATA_CONTENT`: a fingerprint of
  every set, the photo set, fonts and generator versions they were built from); anything
  else is a :class:`~dann_from_scratch.errors.ConfigError` that names every difference
  (which set, which field, now and then);
* **a run folder belongs to one run**: a run that does not resume refuses to replace a
  checkpoint already there unless told to overwrite it (:func:`refuse_overwrite`), and a run
  holds an exclusive lock on its folder while it writes there (:func:`hold_run_folder`);
* **nothing is written before the checks pass**: the overwrite and resume checks come first,
  and the sidecar is (re)written only once the trainer has accepted the data and taken a
  step (or saved a checkpoint on its way out), so a refused run leaves the folder as it was;
* a checkpoint of a pair's run has a JSON **sidecar** (written once training is under way,
  completed with the outcome after it) that says which network and data it holds, so
  ``dann evaluate`` can rebuild it (:func:`load_trained_model`, :func:`evaluate_checkpoint`);
  its ``train_seconds`` adds up every call that trained the network, so a resumed run
  reports the time the network took, not only the rerun's;
* the **signals** of a trained network (source validation accuracy, domain-classifier error)
  come from its held-out validation sets, and the target test labels are read once, after
  training, for the accuracy that is reported.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import checkpoint as ckpt_io
from .datasets import DOMAINS, DatasetError, load_domain
from .errors import ConfigError
from .models import MODEL_NAMES, build_model
from .pair_data import PairData, fit_images
from .pairs import PairSpec
from .trainers import TrainConfig, config_differences, evaluate, predict_logits, train

__all__ = ["RUN_IDENTITY", "DATA_CONTENT", "LOCK_NAME", "RunFolderBusy", "refuse_overwrite",
           "hold_run_folder",
           "Prior", "Trained", "PairRun", "resume_point", "train_run",
           "outcome", "run_pair", "run_identity", "labelled_target_subset", "load_trained_model",
           "evaluate_checkpoint"]

#: sidecar entries that say which network and data a checkpoint belongs to: a run resumes a
#: checkpoint only when all of them, and its config, are those of the run asking
RUN_IDENTITY = ("model", "source", "target", "image_fit", "data_dir", "quick", "n_labelled")
#: sidecar entries that say by content which data a checkpoint was trained on
#: (:attr:`~dann_from_scratch.pair_data.PairData.info`): compared when both the run asking and
#: the sidecar have them (sidecars written before they existed resume unchecked by content)
DATA_CONTENT = ("provenance", "fingerprints")
_SIGNALS = ("source_val_acc", "target_acc", "domain_error")


@dataclass
class Prior:
    """A checkpoint that a resumed run continues: its steps done and its sidecar (or {});
    ``unchecked``: the sidecar predates the data fingerprints, so the data were not compared
    by content."""

    step: int
    sidecar: dict
    unchecked: bool = False


@dataclass
class Trained:
    """What a run gives back.

    ``seconds``: training time, every call that trained the network added up (for a finished
    run loaded again, the time it took when it was trained); ``call_seconds``: this call's
    share of it; ``resumed_from_step``: the checkpoint's step when the run resumed one (None:
    trained in one go); ``signals``: :func:`~dann_from_scratch.evaluation.evaluate` on the
    validation sets (None without them); ``target_test_acc``: accuracy on the test set, if
    given; ``wall_seconds``: the whole call, evaluation included (set by the worker pool).
    """

    model: object
    history: dict
    seconds: float
    step: int
    resumed_from_step: int | None = None
    call_seconds: float | None = None
    signals: dict | None = None
    target_test_acc: float | None = None
    wall_seconds: float | None = None


# -- the one resume check ---------------------------------------------------------------------------
def resume_point(checkpoint, config: TrainConfig, identity: dict | None = None) -> Prior | None:
    """The checkpoint a run with ``config`` (and sidecar ``identity``) may continue: None when
    there is no file, a :class:`Prior` when it holds this run, and a :class:`ConfigError`
    naming every difference when it holds another one (reusing it would mix two runs).
    Without ``identity`` only the configs are compared; the data's content
    (:data:`DATA_CONTENT`) only where ``identity`` and the sidecar both record it."""
    path = Path(checkpoint)
    if not path.exists():
        return None
    saved = ckpt_io.load_checkpoint(path)
    old = ckpt_io.read_sidecar(path) or {}
    diffs = []
    if identity is not None:
        diffs += [_difference(key, identity.get(key), old.get(key)) for key in RUN_IDENTITY
                  if identity.get(key) != old.get(key)]
        diffs += _content_differences(identity, old)
    now = config.to_dict()
    diffs += [_difference(key, now[key], saved.config.get(key))
              for key in config_differences(saved.config, config)]
    if diffs:
        raise ConfigError("resume", f"resume=True: {path} holds a different run: "
                                    f"{'; '.join(diffs)}. Use another output folder, or drop "
                                    "resume=True to train it again.")
    unchecked = (identity is not None and all(k in identity for k in DATA_CONTENT)
                 and not all(isinstance(old.get(k), dict) for k in DATA_CONTENT))
    return Prior(step=saved.step, sidecar=old, unchecked=unchecked)


def _difference(name: str, now, saved) -> str:
    return f"{name}={now!r} differs from the checkpoint's {saved}"


def _content_differences(identity: dict, old: dict) -> list[str]:
    """What changed in the data by content: the provenance of each domain (photo set, fonts,
    generator), then the sets whose fingerprints differ; [] where either side lacks them."""
    diffs = []
    now, then = identity.get("provenance"), old.get("provenance")
    if isinstance(now, dict) and isinstance(then, dict):
        for role in dict.fromkeys([*now, *then]):
            diffs += _provenance_differences(role, now.get(role) or {}, then.get(role) or {})
    now, then = identity.get("fingerprints"), old.get("fingerprints")
    if isinstance(now, dict) and isinstance(then, dict):
        changed = [f"{name} (fingerprint {now.get(name)} now, {then.get(name)} then)"
                   for name in dict.fromkeys([*now, *then]) if now.get(name) != then.get(name)]
        if changed:
            diffs.append("the images or labels of " + ", ".join(changed) + " differ")
    return diffs


#: provenance fields reported together: what a photo set or a font set is, in words
_FIELD_GROUPS = {"photo set": ("photos", "photos_count", "photos_sha256"),
                 "fonts": ("fonts", "fonts_sha256")}


def _provenance_differences(role: str, now: dict, then: dict) -> list[str]:
    """The differences in one domain's provenance, e.g. "the target's photo set differs:
    /data/bsds500/train (200 photos, sha256 1a..) now, the checkpoint's ... (... 3c..)"."""
    diffs, grouped = [], {"photos_note"}        # the note only repeats what the set says

    def described(prov: dict, keys) -> str:
        if keys[0] not in prov:
            return "none"
        if keys[0] == "photos":
            return (f"{prov['photos']} ({prov.get('photos_count')} photos, sha256 "
                    f"{prov.get('photos_sha256')})")
        return f"{prov['fonts']} fonts (sha256 {prov.get('fonts_sha256')})"

    for what, keys in _FIELD_GROUPS.items():
        grouped.update(keys)
        if any(now.get(k) != then.get(k) for k in keys):
            diffs.append(f"the {role}'s {what} differs: {described(now, keys)} now, the "
                         f"checkpoint's {described(then, keys)}")
    diffs += [f"the {role}'s {key} is {now.get(key)!r} now, the checkpoint's {then.get(key)!r}"
              for key in dict.fromkeys([*now, *then])
              if key not in grouped and now.get(key) != then.get(key)]
    return diffs


# -- the run folder: one run at a time, nothing replaced unasked --------------------------------
#: the lock file of a run folder: held (``flock``) by the run writing there, it names its PID
LOCK_NAME = ".lock"


class RunFolderBusy(RuntimeError):
    """Another process holds the lock of the run folder (or the folder cannot be used)."""


def refuse_overwrite(checkpoints, resume_hint: str = "resume=True") -> None:
    """A :class:`ConfigError` naming the first of ``checkpoints`` that exists: a run that does
    not resume must not replace another run's work (finished or interrupted) unasked.
    ``resume_hint``: how the caller continues it (its own argument, e.g. ``resume='CKPT'``)."""
    for path in map(Path, checkpoints):
        if path.exists():
            raise ConfigError("overwrite", f"there is already a checkpoint at {path} (a "
                                           f"finished or interrupted run); pass {resume_hint} "
                                           "to continue it or overwrite=True to replace it")


@contextmanager
def hold_run_folder(folder):
    """Hold the exclusive lock of run folder ``folder`` (created if missing) inside the block:
    a :class:`RunFolderBusy` naming the holder's PID when another process holds it. The lock
    is released when the block ends, however it ends, or when the process dies. Processes
    forked inside the block share the lock: they must not take it again."""
    try:
        import fcntl
    except ImportError:          # pragma: no cover - not POSIX: no lock, the other rules hold
        yield
        return
    folder = Path(folder)
    path = folder / LOCK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise RunFolderBusy(f"{folder}: cannot be used as the run folder "
                            f"({exc.strerror or exc}); pass another out_dir=") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
            raise RunFolderBusy(f"{folder} is in use by another run (PID {holder}; lock "
                                f"file {path}): wait for it to end, or pass another "
                                "out_dir=") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {' '.join(sys.argv) or 'python'}\n".encode(), 0)
        yield
    finally:
        # closing releases the lock (forked children hold it until they exit); the file stays:
        # removing it would let a run waiting on the old file and a new one both hold "the" lock
        os.close(fd)


# -- a run on arrays ----------------------------------------------------------------------------------
def train_run(model, source, target, config: TrainConfig, *, val=None, test=None,
              target_labelled=None, checkpoint=None, resume: bool = False,
              overwrite: bool = False, sidecar: dict | None = None,
              checkpoint_every: int | None = None,
              stop_after: int | None = None, bar_position: int | None = None,
              name: str = "network", log: Callable[[str], None] | None = None) -> Trained:
    """Train ``model`` on ``source`` / ``target`` with ``config``; returns a :class:`Trained`.

    val, test        (source_val, target_val) and the target test set (X, y): the signals
                     and the reported accuracy (both optional)
    target_labelled  the labelled target examples of "semi_supervised"
    checkpoint       where the run is saved (at the end, every ``checkpoint_every`` steps, on
                     Ctrl-C); None: nowhere
    resume           continue the run saved in ``checkpoint`` if it is this run (a finished
                     one is loaded without a step), train from scratch if there is none;
                     another run there is a :class:`ConfigError` (:func:`resume_point`)
    overwrite        without ``resume``, replace a checkpoint already in ``checkpoint``
                     (False: that is a :class:`ConfigError`, :func:`refuse_overwrite`)
    sidecar          what the run is (network, data; see :func:`run_identity`): written
                     beside the checkpoint once training is under way and again with the
                     outcome, and compared when resuming
    stop_after       stop after this many steps (the schedules still span ``config.steps``)
    bar_position     the line of the progress bar (worker processes each get their own)
    name, log        ``log(message)`` says what happens to the run called ``name``
    """
    if (resume or sidecar is not None) and checkpoint is None:
        raise ConfigError("checkpoint", "train_run: resume=True and sidecar= need checkpoint=")
    if checkpoint is not None and not resume and not overwrite:
        refuse_overwrite([checkpoint])
    prior = resume_point(checkpoint, config, sidecar) if resume else None
    if log is not None:
        log(_announcement(name, config, checkpoint, prior))
        if prior is not None and prior.unchecked:
            log(f"note: {ckpt_io.sidecar_path(checkpoint)} predates data fingerprints, so "
                "the data could not be compared with the checkpoint's by content")
    earlier = (prior.sidecar.get("train_seconds") or 0.0) if prior is not None else 0.0
    sidecar_writer = _SidecarWriter(checkpoint, sidecar, earlier)
    try:
        history = train(model, source, target, config, target_labelled=target_labelled,
                        val=val, checkpoint_path=checkpoint,
                        resume_from=checkpoint if prior else None,
                        checkpoint_every=checkpoint_every, stop_after=stop_after,
                        bar_position=bar_position, callback=sidecar_writer.after_step)
    except BaseException:
        sidecar_writer.on_the_way_out()     # an interrupted run's checkpoint needs its sidecar
        raise
    # a finished run loaded again keeps the time it took to train
    finished_before = prior is not None and prior.step >= config.steps
    seconds = earlier if finished_before else sidecar_writer.seconds()
    done = Trained(model=model, history=history, seconds=seconds,
                   call_seconds=seconds - earlier,
                   step=max(stop_after or config.steps, prior.step if prior else 0),
                   resumed_from_step=prior.step if prior else None)
    if val is not None:
        done.signals = _signals(model, history, val, config)
    if test is not None:
        done.target_test_acc = evaluate(model, None, test,
                                        batch_size=config.eval_batch_size)["target_acc"]
    if sidecar is not None:
        ckpt_io.write_sidecar(checkpoint, {**sidecar, "train_seconds": done.seconds,
                                           "result": outcome(done, config)})
    return done


class _SidecarWriter:
    """Writes a run's sidecar once the trainer has accepted its data and taken a step (its
    ``after_step`` is the trainer's callback), and again when the run stops having saved a
    checkpoint (Ctrl-C, SIGTERM, divergence), with the training time so far: a run refused
    by a check leaves the sidecar on disk as it was, and a resumed run adds its time to the
    ``earlier`` seconds its sidecar recorded."""

    def __init__(self, checkpoint, sidecar: dict | None, earlier: float = 0.0):
        self.checkpoint, self.sidecar, self.earlier = checkpoint, sidecar, float(earlier)
        self.before = _stat(checkpoint) if sidecar is not None else None
        self.written = False
        self.start = time.perf_counter()

    def seconds(self) -> float:
        """Training time of the network: the earlier calls' and this one's so far."""
        return self.earlier + time.perf_counter() - self.start

    def after_step(self, step: int, logs: dict) -> None:
        if self.sidecar is not None and not self.written:
            ckpt_io.write_sidecar(self.checkpoint, self.sidecar)
            self.written = True

    def on_the_way_out(self) -> None:
        if self.sidecar is not None and _stat(self.checkpoint) != self.before:
            ckpt_io.write_sidecar(self.checkpoint, {**self.sidecar,
                                                    "train_seconds": self.seconds()})
            self.written = True


def _stat(path) -> tuple | None:
    """What tells whether ``path`` was (re)written: inode, size, modification time."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _announcement(name: str, config: TrainConfig, checkpoint, prior: Prior | None) -> str:
    if prior is None:
        return f"training {name} ({config.method}, {config.steps} steps, batch {config.batch_size})"
    if prior.step < config.steps:
        return f"resuming {name} at step {prior.step} of {config.steps}"
    return f"reusing the finished {name} from {checkpoint}"   # train() takes no step


def _signals(model, history: dict, val, config: TrainConfig) -> dict:
    """The signals on ``val`` after training: from the history when the trainer evaluated
    after the last step already."""
    if history.get("eval_step") and history["eval_step"][-1] == config.steps:
        return {key: history[key][-1] for key in _SIGNALS}
    return evaluate(model, *val, batch_size=config.eval_batch_size)


def outcome(done: Trained, config: TrainConfig) -> dict:
    """The numbers of a trained run, as its sidecar and ``dann train`` report them
    (``target_val_acc``: only where the target validation set is labelled)."""
    signals = done.signals or dict.fromkeys(_SIGNALS)
    result = {"step": done.step, "steps": config.steps,
              "source_val_acc": signals["source_val_acc"]}
    if signals["target_acc"] is not None:
        result["target_val_acc"] = signals["target_acc"]
    return {**result, "domain_error": signals["domain_error"],
            "target_test_acc": done.target_test_acc}


# -- a run on a pair's data ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PairRun:
    """One network to train on a pair's data: its name, settings and checkpoint.

    ``n_labelled``: labelled target images per class ("semi_supervised" only); ``notes``:
    more entries for the sidecar (e.g. the seed, a selection candidate).
    """

    name: str
    spec: PairSpec
    config: TrainConfig
    checkpoint: Path
    n_labelled: int | None = None
    notes: dict = field(default_factory=dict)


def run_identity(run: PairRun, data_info: dict) -> dict:
    """The :data:`RUN_IDENTITY` entries of ``run`` on data described by ``data_info`` (a
    :attr:`PairData.info`, or :func:`~dann_from_scratch.pair_data.data_identity` before the
    data are loaded), and the :data:`DATA_CONTENT` entries where ``data_info`` has them (once
    the data are loaded)."""
    identity = {"model": run.spec.model,
                **{key: data_info[key] for key in ("source", "target", "image_fit", "data_dir",
                                                   "quick")}}
    if run.n_labelled is not None:
        identity["n_labelled"] = run.n_labelled
    identity.update({key: data_info[key] for key in DATA_CONTENT if key in data_info})
    return identity


def run_pair(run: PairRun, data: PairData, *, resume: bool = False, overwrite: bool = False,
             log: Callable[[str], None] | None = None, checkpoint_every: int | None = None,
             stop_after: int | None = None, bar_position: int | None = None) -> Trained:
    """Build the pair's network and train it on ``data`` with :func:`train_run`.

    ``resume`` and ``overwrite`` as for :func:`train_run`. The labelled source trains G_y;
    the target training images, unlabelled, train G_d. The
    validation sets are the held-out source images (labelled) and target images (unlabelled),
    except for "target_only" (train on target), the one method that learns from target labels:
    it trains and validates on labelled target *training* images, never the test set.
    """
    model = build_model(run.spec.model, rng=run.config.seed)
    method = run.config.method
    if method == "target_only":
        source, target = data.source_train, data.target_train
        val = (data.source_val, data.target_val)
    else:
        source, target = data.source_train, data.target_train[0]
        val = (data.source_val, data.target_val[0])
    labelled = (labelled_target_subset(data, run.n_labelled, run.config.seed)
                if method == "semi_supervised" else None)
    sidecar = {"model": run.spec.model, "input_shape": list(model.input_shape),
               "num_classes": model.num_classes, "pair": run.spec.name, "run": run.name,
               "method": method, **run_identity(run, data.info), "model_seed": run.config.seed,
               "splits": data.info["splits"], "sizes": data.info["sizes"], **run.notes}
    return train_run(model, source, target, run.config, val=val, test=data.target_test,
                     target_labelled=labelled, checkpoint=run.checkpoint, resume=resume,
                     overwrite=overwrite, sidecar=sidecar, checkpoint_every=checkpoint_every,
                     stop_after=stop_after,
                     bar_position=bar_position, name=run.name, log=log)


def labelled_target_subset(data: PairData, n_per_class: int, seed: int) -> tuple:
    """``n_per_class`` labelled target training images of each class (fewer where a class has
    fewer), drawn with ``seed``: the labelled target data of "semi_supervised"."""
    x, y = data.target_train
    rng = np.random.default_rng(seed + 404)
    pick = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        pick.append(rng.choice(members, size=min(n_per_class, len(members)), replace=False))
    idx = np.sort(np.concatenate(pick))
    return x[idx], y[idx]


# -- saved runs -------------------------------------------------------------------------------------
def _infer_model_name(state: dict) -> str:
    """The builder whose parameters have exactly the shapes stored in ``state``."""
    shapes = {k: tuple(np.shape(v)) for k, v in state.items()}
    for name in ("mnist", "gtsrb", "svhn"):
        probe = build_model(name, rng=0)
        if {k: tuple(v.shape) for k, v in probe.state_dict().items()} == shapes:
            return name
    raise ckpt_io.CheckpointError("cannot tell which network this checkpoint holds (no sidecar "
                                  "JSON beside it and no known architecture matches); pass "
                                  f"model_name= ({', '.join(n for n in MODEL_NAMES if n != 'moons')})")


def load_trained_model(checkpoint, model_name: str | None = None):
    """Rebuild the network of ``checkpoint`` and load its weights and input mean.

    The architecture comes from ``model_name``, else the sidecar JSON, else the parameter
    shapes. Returns ``(model, sidecar_or_empty_dict, checkpoint)``."""
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        ckpt = ckpt_io.load_checkpoint(path)
    except ckpt_io.CheckpointError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise ckpt_io.CheckpointError(f"{path}: not a readable training checkpoint ({exc})") from exc
    side = ckpt_io.read_sidecar(path) or {}
    name = model_name or side.get("model") or _infer_model_name(ckpt.model_state)
    model = build_model(name, rng=0)
    try:
        model.load_state_dict(ckpt.model_state)
    except (KeyError, ValueError) as exc:
        raise ckpt_io.CheckpointError(f"{path}: weights do not fit the {name!r} network ({exc})"
                                      ) from exc
    model.input_mean = ckpt.input_mean
    return model, side, ckpt


def evaluate_checkpoint(checkpoint, dataset: str, split: str = "test", data_dir=None,
                        model_name: str | None = None, image_fit: str | None = None,
                        batch_size: int = 512, seed: int = 0, download: bool = False) -> dict:
    """Accuracy of a saved network on ``split`` of domain ``dataset`` (images fitted to the
    network's input). Returns a dict with accuracy, counts and what was evaluated."""
    model, side, ckpt = load_trained_model(checkpoint, model_name)
    try:
        x, y = load_domain(dataset, split, data_dir=data_dir, seed=seed, download=download)
    except DatasetError as exc:
        raise DatasetError(f"{' '.join(str(exc).split())}. {dataset} needs "
                           f"{DOMAINS[dataset].needs}; pass data_dir=DATA_DIR") from exc
    fit = image_fit or side.get("image_fit") or "resize"
    x = fit_images(x, model.input_shape, fit)
    pred = predict_logits(model, x, batch_size=batch_size).argmax(1)
    return {"checkpoint": str(checkpoint), "model": model.name, "dataset": dataset, "split": split,
            "n": int(len(y)), "accuracy": float(np.mean(pred == y)), "step": int(ckpt.step),
            "method": ckpt.config.get("method"), "image_fit": fit}
