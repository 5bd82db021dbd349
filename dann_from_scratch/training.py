"""The training loop shared by every method and both updaters, with checkpoints and resume.

``train(model, source, target, config)`` runs SGD on a :class:`~dann_from_scratch.models.DANNModel`:
every step draws a batch (:mod:`~dann_from_scratch.batches`), computes lambda_p and mu_p from
the progress p = step / steps (:class:`~dann_from_scratch.config.TrainConfig`), and lets an
updater change the parameters (:mod:`~dann_from_scratch.updaters`). :func:`training_loop` is
that loop, on one screen; :class:`_Run` holds what it works on and does the bookkeeping
around a step: the history, evaluation on the validation sets, checkpoints, resuming.

**History.** ``train`` returns a dict of lists (JSON-serialisable): per logged step ``step``,
``label_loss``, ``domain_loss``, ``domain_acc``, ``lambda``, ``lr``; per evaluation
``eval_step``, ``source_val_acc``, ``target_acc``, ``domain_error`` (see
:func:`~dann_from_scratch.evaluation.evaluate`; ``target_acc`` is measured on the target
*validation* set).

**Checkpoints** (:mod:`~dann_from_scratch.checkpoint`) hold everything the next step depends
on, so a resumed run is bit for bit the uninterrupted one; each save also writes the history
so far beside it as ``NAME.history.csv`` (:func:`~dann_from_scratch.checkpoint.write_history_csv`).
A first Ctrl-C (SIGINT) or SIGTERM (what ``kill``, ``timeout`` and job schedulers send) while a
checkpoint path is set finishes the step in progress, saves, then raises KeyboardInterrupt.

**Divergence.** A loss that becomes NaN or infinite stops the run with
:class:`TrainingDiverged`, and no checkpoint is ever written from non-finite parameters: the
one on disk stays the last finite one.
"""
from __future__ import annotations

import math
import signal
import threading
import warnings

import numpy as np

from . import checkpoint as ckpt_io
from . import checks
from .batches import BatchSampler, TrainingData
from .config import TrainConfig, config_differences
from .evaluation import evaluate
from .inputs import compute_input_mean
from .threads import blas_threads
from .updaters import GRLUpdater

__all__ = ["train", "training_loop", "TrainingDiverged"]

_LOGGED = ("step", "label_loss", "domain_loss", "domain_acc", "lambda", "lr")
_EVALUATED = ("source_val_acc", "target_acc", "domain_error")
_LOSSES = ("label_loss", "domain_loss")


class TrainingDiverged(RuntimeError):
    """A training loss or parameter became NaN or infinite (usually: the learning rate is too
    large). Training stopped; a checkpoint on disk is the last one with finite values."""


def train(model, source, target, config: TrainConfig | None = None, target_labelled=None,
          val=None, callback=None, resume_from=None, checkpoint_path=None,
          checkpoint_every: int | None = None, stop_after: int | None = None,
          bar_position: int | None = None) -> dict:
    """Train ``model`` (a :class:`~dann_from_scratch.models.DANNModel`) with ``config.method``.

    source           (X_s, y_s): labelled source examples
    target           X_t, or (X_t, y_t) (labels are used only by "target_only")
    config           a :class:`TrainConfig` (default: the paper's DANN settings); when resuming,
                     None means "the checkpoint's config"
    target_labelled  (X, y): the few labelled target examples of "semi_supervised"
    val              (source_val, target_val), each (X, y) or None (the target set may be
                     unlabelled: X): held-out source and target validation sets, evaluated
                     every ``config.eval_every`` steps and at the end (see :func:`evaluate`)
    callback         ``callback(step, logs)`` after every step (``step`` = steps done so far)
    resume_from      a checkpoint path: continue that run exactly where it stopped
    checkpoint_path  where to save checkpoints: every ``checkpoint_every`` steps, at the end,
                     when ``stop_after`` is reached, and on Ctrl-C or SIGTERM (then
                     KeyboardInterrupt is raised)
    stop_after       stop once this many steps are done (the schedules still span
                     ``config.steps``): with a checkpoint, a run can be cut into pieces
    bar_position     the terminal line of the progress bar (None: tqdm's choice); runners
                     that train several networks at once give each its own line

    Returns the history (dict of lists). The trained weights are in ``model``. Raises
    :class:`TrainingDiverged` if a loss or a parameter becomes NaN or infinite.
    """
    return training_loop(model, source, target, config, GRLUpdater,
                         target_labelled=target_labelled, val=val, callback=callback,
                         resume_from=resume_from, checkpoint_path=checkpoint_path,
                         checkpoint_every=checkpoint_every, stop_after=stop_after,
                         bar_position=bar_position)


def training_loop(model, source, target, config, updater_cls, target_labelled=None, val=None,
                  callback=None, resume_from=None, checkpoint_path=None, checkpoint_every=None,
                  stop_after=None, bar_position=None) -> dict:
    """The loop behind :func:`train` and :func:`dann_from_scratch.saddle.train_saddle` (same
    arguments); ``updater_cls(model, config)`` makes the object whose ``step(batch, lambda_,
    lr)`` changes the parameters."""
    saved = ckpt_io.load_checkpoint(resume_from) if resume_from is not None else None
    config = _config_to_use(config, saved)
    end = _check_arguments(model, config, checkpoint_every, stop_after)
    run = _Run(model, source, target, target_labelled, val, config, updater_cls,
               checkpoint_path, checkpoint_every)
    start = run.resume(saved, resume_from) if saved is not None else run.start()
    bar = _progress_bar(config, start, end, bar_position)
    step, in_step = start, False
    model.train()
    try:
        # the BLAS thread rule of dann_from_scratch.threads (one thread unless told otherwise)
        with blas_threads(), _DeferredInterrupt(enabled=checkpoint_path is not None) as interrupt:
            while step < end:
                in_step = True
                logs = run.take_step(step)
                step, in_step = step + 1, False
                run.after_step(step, end, logs)
                _update_bar(bar, logs)
                if callback is not None:
                    callback(step, logs)
                if interrupt.requested:
                    raise KeyboardInterrupt(interrupt.received)
    except KeyboardInterrupt:
        run.save_on_interrupt(step, in_step)
        raise
    finally:
        if bar is not None:
            bar.close()
    if step > start:
        run.save(step)
    return run.history


def _config_to_use(config, saved) -> TrainConfig:
    """``config``, or the checkpoint's config (or the default) when it is None."""
    if config is None:
        config = TrainConfig.from_dict(saved.config) if saved else TrainConfig()
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    return config


def _check_arguments(model, config: TrainConfig, checkpoint_every, stop_after) -> int:
    """Check what :func:`train` got besides the data; returns the step to stop after."""
    if not hasattr(model, "grl") or not hasattr(model, "features"):
        raise TypeError(f"train: model must be a DANNModel (G_f, G_y, G_d and a GRL), "
                        f"got {type(model).__name__}")
    if checkpoint_every is not None:
        checks.integer("train", "checkpoint_every", checkpoint_every, minimum=1)
    if stop_after is None:
        return config.steps
    checks.integer("train", "stop_after", stop_after, minimum=1)
    if stop_after > config.steps:
        raise ValueError(f"stop_after ({stop_after}) is beyond config.steps ({config.steps})")
    return stop_after


def _split_val(val):
    """(source_val, target_val) from ``val``: a pair, or {'source': ..., 'target': ...}."""
    if val is None:
        return None, None
    if isinstance(val, dict):
        unknown = set(val) - {"source", "target"}
        if unknown:
            raise ValueError(f"val: unknown keys {sorted(unknown)}; use 'source' and 'target'")
        return val.get("source"), val.get("target")
    if isinstance(val, (tuple, list)) and len(val) == 2:
        return val[0], val[1]
    raise ValueError("val: expected (source_val, target_val) or {'source': ..., 'target': ...}")


class _Run:
    """What one training run works on (model, data, sampler, updater, schedules, history)
    and the bookkeeping around each step: logging, evaluation, checkpoints, resuming."""

    def __init__(self, model, source, target, target_labelled, val, config: TrainConfig,
                 updater_cls, checkpoint_path, checkpoint_every):
        self.model, self.config = model, config
        self.checkpoint_path, self.checkpoint_every = checkpoint_path, checkpoint_every
        self.source_val, self.target_val = _split_val(val)
        self.data = TrainingData(model, source, target, target_labelled, config)
        self.lr_at, self.lambda_at = config.make_lr_schedule(), config.make_lambda_schedule()
        self.sampler = BatchSampler(self.data.sizes, config.seed)
        if config.device != "cpu":
            model.to(config.device)
        self.updater = updater_cls(model, config)
        self.history = {key: [] for key in _LOGGED + ("eval_step",) + _EVALUATED}
        self.mean = None            # subtracted from every input (None: no mean subtraction)
        self.saved_step = None      # the step of the checkpoint on disk (None: none written)

    def start(self) -> int:
        """A fresh run: compute the input mean if the model has none; returns step 0."""
        if self.config.mean_subtract and getattr(self.model, "input_mean", None) is None:
            self.model.input_mean = compute_input_mean(self.data.mean_inputs(),
                                                       self.data.input_shape)
        self.mean = self.model.input_mean if self.config.mean_subtract else None
        return 0

    def resume(self, saved: ckpt_io.Checkpoint, path) -> int:
        """Put back the state saved in ``path``; returns the number of steps it had done."""
        diffs = config_differences(saved.config, self.config)
        if diffs:
            now = self.config.to_dict()
            raise ckpt_io.CheckpointError(
                f"cannot resume from {path}: the config differs in " + "; ".join(
                    f"{k}: checkpoint {saved.config.get(k)!r}, now {now[k]!r}" for k in diffs))
        if saved.trainer != self.updater.name:
            raise ckpt_io.CheckpointError(f"{path} was written by the {saved.trainer!r} "
                                          f"trainer, cannot resume it with {self.updater.name!r}")
        self.model.load_state_dict(saved.model_state)
        ckpt_io.restore_module_rngs(self.model, saved.module_rngs)
        self.updater.load_state_dict(saved.updater_state)
        self.sampler.load_state_dict(saved.sampler_state)
        self.model.input_mean = saved.input_mean
        self.history.update(saved.history)
        self.mean = self.model.input_mean if self.config.mean_subtract else None
        self.saved_step = saved.step
        return saved.step

    def take_step(self, step: int) -> dict:
        """Step number ``step + 1``: draw a batch, update; returns its logs."""
        p = step / self.config.steps
        lam, lr = self.lambda_at(p), self.lr_at(p)
        batch = self.data.batch(self.sampler, self.mean, self.config.device)
        stats = self.updater.step(batch, lam, lr)
        logs = {"step": step + 1, **stats, "lambda": lam, "lr": lr}
        if not all(math.isfinite(logs[key]) for key in _LOSSES):
            losses = ", ".join(f"{key} {logs[key]}" for key in _LOSSES)
            raise self.diverged(f"at step {step + 1}: {losses}", lr)
        return logs

    def after_step(self, step: int, end: int, logs: dict) -> None:
        """Log, evaluate (adding the results to ``logs``) and checkpoint, when they are due."""
        config = self.config
        if step % config.log_every == 0 or step == end:
            for key in _LOGGED:
                self.history[key].append(logs[key])
        if (config.eval_every and step % config.eval_every == 0) or step == config.steps:
            logs.update(self.evaluate(step) or {})
            self.model.train()
        if self.checkpoint_every and step % self.checkpoint_every == 0:
            self.save(step)

    def evaluate(self, step: int) -> dict | None:
        """Evaluate on the validation sets and record it in the history (None: no sets)."""
        if self.source_val is None and self.target_val is None:
            return None
        res = evaluate(self.model, self.source_val, self.target_val,
                       batch_size=self.config.eval_batch_size)
        self.history["eval_step"].append(step)
        for key in _EVALUATED:
            self.history[key].append(res[key])
        return res

    def save(self, step: int) -> None:
        """Write the checkpoint after ``step`` steps (nothing without a checkpoint path);
        TrainingDiverged instead if a parameter is NaN or infinite (checked even without a
        path, since a step can make the parameters non-finite while its loss is finite)."""
        model, updater = self.model, self.updater
        model_state = model.state_dict()
        bad = [name for name, value in model_state.items() if not np.isfinite(value).all()]
        if bad:
            raise self.diverged(f"by step {step}: parameter(s) {', '.join(bad[:3])} hold NaN "
                                f"or inf", self.lr_at(max(step - 1, 0) / self.config.steps))
        if self.checkpoint_path is None:
            return
        ckpt_io.save_checkpoint(self.checkpoint_path, ckpt_io.Checkpoint(
            step=step, config=self.config.to_dict(), model_state=model_state,
            updater_state=updater.state_dict(), sampler_state=self.sampler.state_dict(),
            module_rngs=ckpt_io.module_rng_states(model), input_mean=model.input_mean,
            history=self.history, trainer=updater.name))
        ckpt_io.write_history_csv(self.checkpoint_path, self.history)   # beside it, same step
        self.saved_step = step

    def diverged(self, what: str, lr: float) -> TrainingDiverged:
        """The error for a run whose loss or parameters became non-finite ``what``."""
        if self.checkpoint_path is None:
            kept = "no checkpoint was being written"
        elif self.saved_step is None:
            kept = f"no checkpoint was written to {self.checkpoint_path}"
        else:
            kept = (f"{self.checkpoint_path} holds the last finite state (step "
                    f"{self.saved_step})")
        return TrainingDiverged(f"training diverged {what}, at learning rate {lr:.4g} "
                                f"(lr={self.config.lr:g}); {kept}; lower the learning rate")

    def save_on_interrupt(self, step: int, in_step: bool) -> None:
        """On KeyboardInterrupt: save, unless the step in progress may be half done."""
        if self.checkpoint_path is None:
            return
        if in_step:
            warnings.warn(f"interrupted in the middle of step {step + 1}: the model may be "
                          f"half-updated, so no checkpoint was written (the last periodic "
                          f"checkpoint in {self.checkpoint_path} is intact)", RuntimeWarning)
        else:
            self.save(step)
            warnings.warn(f"interrupted after step {step}: checkpoint saved to "
                          f"{self.checkpoint_path}; resume with resume_from=", RuntimeWarning)


class _DeferredInterrupt:
    """While active (main thread only), a first Ctrl-C or SIGTERM only sets ``requested``; the
    loop raises KeyboardInterrupt at the next step boundary, where the state is consistent and
    can be saved. A second one interrupts at once. SIGTERM is handled like Ctrl-C because it is
    how ``kill``, ``timeout`` and job schedulers stop a run; its default would end the process
    without the save. The previous handlers are put back on exit."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, enabled: bool):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested = False
        self.received = None        # the name of the first signal, e.g. "SIGTERM"
        self._previous = {}

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt(signal.Signals(signum).name)
        self.requested, self.received = True, signal.Signals(signum).name
        warnings.warn(f"{self.received} received: stopping after this step and "
                      f"saving a checkpoint (a second Ctrl-C or SIGTERM stops at once)",
                      RuntimeWarning, stacklevel=2)

    def __enter__(self):
        if self.enabled:
            self._previous = {sig: signal.signal(sig, self._handler) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for sig, previous in self._previous.items():
            # None: a handler installed outside Python; the default is the closest we can do
            signal.signal(sig, signal.SIG_DFL if previous is None else previous)
        self._previous = {}
        return False


# -- the progress bar ------------------------------------------------------------------------
def _progress_bar(config: TrainConfig, start: int, end: int, position: int | None):
    # a bar in a terminal, occasional plain lines in a log (progress.py)
    from .progress import training_progress
    return training_progress(config, start, end, position)


def _update_bar(bar, logs: dict) -> None:
    if bar is None:
        return
    bar.update(1)
    if logs["step"] % 10 == 0 or "target_acc" in logs:
        post = {"L_y": f"{logs['label_loss']:.3f}", "L_d": f"{logs['domain_loss']:.3f}",
                "d_acc": f"{logs['domain_acc']:.2f}", "lambda": f"{logs['lambda']:.3f}",
                "lr": f"{logs['lr']:.2g}"}
        if logs.get("target_acc") is not None:
            post["tgt_acc"] = f"{logs['target_acc']:.3f}"
        bar.set_postfix(post, refresh=False)
