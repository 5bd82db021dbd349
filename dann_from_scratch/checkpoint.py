"""Saving and resuming a training run, so that a resumed run is *bit-for-bit* the run that
was interrupted.

A checkpoint is one ``.npz`` file written atomically by :func:`minigrad.save_arrays` (a
temporary file renamed over the old one, so a crash mid-save never leaves half a file). It
holds everything the next step depends on:

==========================  ===================================================================
``model/<name>``            every parameter of the model (G_f, G_y, G_d)
``updater/<key>``           the optimizer state: momentum velocities and the step counter
``input_mean``              the mean subtracted from every input (computed once, at the start)
``sampler/<stream>/perm``   the current shuffled order of each data stream of the batch sampler
``meta``                    one JSON string: format version, step counter, the config, the
                            sampler's position in each stream and its ``bit_generator.state``,
                            the states of random generators inside the model (dropout masks),
                            the trainer kind and the history logged so far
==========================  ===================================================================

Beside ``run.npz``, the runs of :mod:`~dann_from_scratch.runs` write a **sidecar**
``run.json`` (:func:`write_sidecar`): which network, which data (domains, splits, data folder,
image fitting) and, once trained, the outcome. It lets ``dann evaluate`` rebuild the network
and a resumed run check that it continues the same run on the same data.

Every time the trainer saves a checkpoint it also writes ``run.history.csv``
(:func:`write_history_csv`): one row per logged step with the losses, the domain
classifier's accuracy, lambda and the learning rate, and, on the steps where the run was
evaluated, the source validation accuracy, the target (validation) accuracy and the
domain-classifier error. A spreadsheet or ``pandas.read_csv`` reads it as it is.

:func:`dann_from_scratch.trainers.train` writes checkpoints (``checkpoint_path=``,
``checkpoint_every=``, and on Ctrl-C) and reads them (``resume_from=``); this module only
knows how to put those pieces in a file and take them out again.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import minigrad
from minigrad import nn
from minigrad.serialization import atomic_write

from .config import config_differences
from .jsonio import write_json
from .models import MODEL_NAMES

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "module_rng_states",
           "restore_module_rngs", "load_model", "load_if_finished", "CheckpointError",
           "sidecar_path", "write_sidecar", "read_sidecar", "history_csv_path",
           "write_history_csv", "HISTORY_COLUMNS"]

FORMAT_VERSION = 1
SIDECAR_FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint file is unreadable or does not fit the run that tries to resume from it."""


@dataclass
class Checkpoint:
    """The state of a run after ``step`` completed steps (all arrays NumPy, on the CPU)."""

    step: int
    config: dict
    model_state: dict
    updater_state: dict
    sampler_state: dict          # {"rng": bit_generator.state, "streams": {name: {"perm", "pos"}}}
    module_rngs: dict = field(default_factory=dict)
    input_mean: np.ndarray | None = None
    history: dict = field(default_factory=dict)
    trainer: str = "grl"


# -- random generators living inside a model (dropout) ---------------------------------------------
def module_rng_states(model: nn.Module) -> dict:
    """``{"<module path>.<attribute>": bit_generator.state}`` for every numpy Generator held by a
    sub-module (e.g. the mask generator of each Dropout layer)."""
    states = {}
    for mod_name, mod in model.named_modules():
        for attr, value in vars(mod).items():
            if isinstance(value, np.random.Generator):
                states[f"{mod_name}.{attr}" if mod_name else attr] = value.bit_generator.state
    return states


def restore_module_rngs(model: nn.Module, states: dict) -> None:
    """Put back the generator states recorded by :func:`module_rng_states`."""
    current = {}
    for mod_name, mod in model.named_modules():
        for attr, value in vars(mod).items():
            if isinstance(value, np.random.Generator):
                current[f"{mod_name}.{attr}" if mod_name else attr] = value
    missing = sorted(set(states) - set(current))
    if missing:
        raise CheckpointError(f"checkpoint has random generators {missing} that the model lacks")
    for key, state in states.items():
        current[key].bit_generator.state = state


# -- file format -------------------------------------------------------------------------------------
def save_checkpoint(path, ckpt: Checkpoint) -> Path:
    """Write ``ckpt`` to ``path`` (.npz) atomically; returns the path."""
    arrays = {}
    for name, value in ckpt.model_state.items():
        arrays[f"model/{name}"] = value
    for name, value in ckpt.updater_state.items():
        arrays[f"updater/{name}"] = value
    streams_meta = {}
    for stream, st in ckpt.sampler_state["streams"].items():
        arrays[f"sampler/{stream}/perm"] = np.asarray(st["perm"])
        streams_meta[stream] = {"pos": int(st["pos"])}
    if ckpt.input_mean is not None:
        arrays["input_mean"] = np.asarray(ckpt.input_mean)
    meta = {
        "format": FORMAT_VERSION,
        "step": int(ckpt.step),
        "trainer": ckpt.trainer,
        "config": ckpt.config,
        "sampler_rng": ckpt.sampler_state["rng"],
        "sampler_streams": streams_meta,
        "module_rngs": ckpt.module_rngs,
        "history": ckpt.history,
    }
    # A 0-d unicode array: loads back with allow_pickle=False, unlike an object array.
    arrays["meta"] = np.array(json.dumps(meta))
    return minigrad.save_arrays(arrays, path)


_META_KEYS = ("format", "step", "config", "sampler_rng", "sampler_streams")


def _read_arrays(path) -> dict:
    """Every array of the checkpoint file; a :class:`CheckpointError` naming the file when it
    is truncated or damaged (a missing file stays a FileNotFoundError)."""
    try:
        return minigrad.load_arrays(path)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path}: damaged or truncated checkpoint ({_cause(exc)}); "
                              "train again, or resume from a copy") from None


def _cause(exc: BaseException) -> str:
    """The innermost message of ``exc`` on one line (load_arrays wraps the zip error)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _read_meta(path, arrays: dict) -> dict:
    """The checked ``meta`` entry of a checkpoint's arrays."""
    if "meta" not in arrays:
        raise CheckpointError(f"{path}: not a training checkpoint (no 'meta' entry; "
                              f"found {sorted(arrays)[:5]}...)")
    try:
        meta = json.loads(str(arrays["meta"]))
    except ValueError as exc:
        raise CheckpointError(f"{path}: damaged checkpoint, its 'meta' entry is not JSON "
                              f"({exc})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: damaged checkpoint, its 'meta' entry is not a JSON "
                              "object")
    if meta.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {meta.get('format')!r}, this code reads "
                              f"format {FORMAT_VERSION}")
    missing = [k for k in _META_KEYS if k not in meta]
    streams = meta.get("sampler_streams")
    missing += [f"sampler/{name}/perm" for name in (streams if isinstance(streams, dict) else ())
                if f"sampler/{name}/perm" not in arrays]
    if missing:
        raise CheckpointError(f"{path}: damaged checkpoint, missing {', '.join(missing)}")
    return meta


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`. A file that is truncated, damaged
    or lacks an entry is a one-line :class:`CheckpointError` naming it and what is wrong."""
    arrays = _read_arrays(path)
    meta = _read_meta(path, arrays)

    def section(prefix):
        return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}

    try:
        streams = {name: {"perm": arrays[f"sampler/{name}/perm"], "pos": int(st["pos"])}
                   for name, st in meta["sampler_streams"].items()}
        step = int(meta["step"])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: damaged checkpoint, bad sampler or step entry "
                              f"({type(exc).__name__}: {exc})") from None
    return Checkpoint(
        step=step,
        config=meta["config"],
        model_state=section("model/"),
        updater_state=section("updater/"),
        sampler_state={"rng": meta["sampler_rng"], "streams": streams},
        module_rngs=meta.get("module_rngs", {}),
        input_mean=arrays.get("input_mean"),
        history=meta.get("history", {}),
        trainer=meta.get("trainer", "grl"),
    )


def load_model(model: nn.Module, path) -> nn.Module:
    """Load only the weights (and the input mean) of a checkpoint into ``model``, e.g. to
    evaluate a trained network; returns the model."""
    ckpt = load_checkpoint(path)
    model.load_state_dict(ckpt.model_state)
    if hasattr(model, "input_mean"):
        model.input_mean = ckpt.input_mean
    return model


def load_if_finished(model: nn.Module, path, config: dict):
    """Load ``path`` into ``model`` if it holds a *finished* run of ``config`` (a
    ``TrainConfig.to_dict()``; the fields a resumed run may change are not compared, see
    :func:`~dann_from_scratch.config.config_differences`); otherwise return None."""
    path = Path(path)
    if not path.exists():
        return None
    ckpt = load_checkpoint(path)
    if config_differences(ckpt.config, config) or ckpt.step != config["steps"]:
        return None
    return load_model(model, path)


# -- sidecars: what the checkpoint holds, in words ----------------------------------------------------
def sidecar_path(checkpoint) -> Path:
    """``run.npz`` -> ``run.json``."""
    p = Path(checkpoint)
    return p.with_suffix(".json") if p.suffix == ".npz" else p.with_name(p.name + ".json")


def write_sidecar(checkpoint, info: dict) -> Path:
    """Write the JSON sidecar of a checkpoint (model name, input shape, domains, splits, ...)."""
    body = {"format": SIDECAR_FORMAT, "checkpoint": Path(checkpoint).name, **info}
    return write_json(sidecar_path(checkpoint), body)


def read_sidecar(checkpoint) -> dict | None:
    """The sidecar of ``checkpoint`` as a dict, or None when there is none."""
    path = sidecar_path(checkpoint)
    if not path.is_file():
        return None
    try:
        side = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable sidecar, not valid JSON ({exc}); restore it "
                              "or delete it (dann evaluate then infers the network)") from None
    if not isinstance(side, dict):
        raise CheckpointError(f"{path}: damaged sidecar, expected a JSON object, got "
                              f"{type(side).__name__}")
    # Edited by hand? An unknown network would only fail later, far from the file at fault.
    if side.get("model") is not None and side["model"] not in MODEL_NAMES:
        raise CheckpointError(f"{path}: damaged sidecar, unknown model {side['model']!r} "
                              f"(expected one of {', '.join(MODEL_NAMES)})")
    return side


# -- history.csv: the logged curves, for a spreadsheet -------------------------------------------
#: the columns of history.csv: the logged quantities, then the evaluated ones (empty on the
#: steps without an evaluation)
HISTORY_COLUMNS = ("step", "label_loss", "domain_loss", "domain_acc", "lambda", "lr",
                   "source_val_acc", "target_acc", "domain_error")
_EVALUATED = ("source_val_acc", "target_acc", "domain_error")


def history_csv_path(checkpoint) -> Path:
    """``run.npz`` -> ``run.history.csv``."""
    p = Path(checkpoint)
    return p.with_name(f"{p.stem if p.suffix == '.npz' else p.name}.history.csv")


def write_history_csv(checkpoint, history: dict) -> Path:
    """Write the trainer's ``history`` (dict of lists) as CSV beside ``checkpoint``,
    atomically: one row per step that was logged or evaluated, in step order."""
    rows: dict[int, dict] = {}
    for i, step in enumerate(history.get("step", [])):
        rows.setdefault(int(step), {}).update(
            {key: history[key][i] for key in HISTORY_COLUMNS[1:6]
             if key in history and i < len(history[key])})
    for i, step in enumerate(history.get("eval_step", [])):
        rows.setdefault(int(step), {}).update(
            {key: history[key][i] for key in _EVALUATED
             if key in history and i < len(history[key])})
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for step in sorted(rows):
        writer.writerow([step, *("" if rows[step].get(key) is None else rows[step][key]
                                 for key in HISTORY_COLUMNS[1:])])
    data = text.getvalue().encode("utf-8")
    return atomic_write(history_csv_path(checkpoint), lambda f: f.write(data))
