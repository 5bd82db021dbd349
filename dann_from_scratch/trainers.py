"""One training loop for every method of the paper's Table 1.

``train(model, source, target, config)`` runs SGD on a :class:`~dann_from_scratch.models.DANNModel`.
Every step draws a batch that is half source, half target (the paper: 64 + 64), runs all of it
through G_f once, and minimises

    L = L_y + L_d                                     (the paper's eq. 9 in its GRL form)

* ``L_y``: cross-entropy of G_y on the *labelled* rows of the batch;
* ``L_d``: logistic loss of G_d on *all* rows (source = domain 0, target = domain 1), computed
  on ``R_lambda(f)``: the gradient reversal layer hands G_d the gradient of L_d unchanged and
  hands G_f ``-lambda * dL_d/df`` (eqs. 7-8). One backward pass then performs the saddle-point
  updates (4)-(6); :mod:`dann_from_scratch.saddle` does the same arithmetic by hand.

The methods differ only in which rows are labelled and in lambda:

=====================  ================================================  =======================
method                 labelled rows (L_y)                               lambda
=====================  ================================================  =======================
``"source_only"``      the source half                                   0
``"dann"``             the source half                                   lambda_p (schedule)
``"target_only"``      the target half (needs target labels):            0
                       the "train on target" upper bound
``"semi_supervised"``  the source half + ``labelled_per_batch`` rows     lambda_p (schedule)
                       drawn from ``target_labelled`` (placed in the
                       target half, so they also count as domain 1);
                       the setting of the paper's Figure 4
=====================  ================================================  =======================

With lambda = 0 the GRL sends exactly zero gradient into G_f, so G_d is a passive *probe*:
it is still trained, and its accuracy tells how separable the two domains' features are (the
paper's unsupervised signal for choosing meta-parameters), but it does not change G_f.

**Inputs.** Images may be (N, H, W, C) (any dtype; uint8 is scaled to [0, 1]) or already
(N, C, H, W); a one-channel image is repeated over the model's channels (MNIST fed to the
3-channel MNIST/MNIST-M network); feature vectors are (N, D). Every input is converted to
float32 and mean-subtracted: ``model.input_mean`` is the per-channel mean (per-feature for
vectors) of the training inputs, taken as the average of the source mean and the target
mean (so each domain weighs half, as in every batch). It is computed once at the start (if
the model has none yet) and stored on the model and in every checkpoint.

**Schedules** (section 5): p = step / steps, lambda_p = 2 / (1 + exp(-gamma p)) - 1 and
mu_p = mu_0 / (1 + alpha p) ** beta, SGD with momentum 0.9 in Caffe's form
``v <- m v + mu (g + wd theta); theta <- theta - v``; both schedules can be switched off.

**History.** ``train`` returns a dict of lists (JSON-serialisable): per logged step ``step``,
``label_loss``, ``domain_loss``, ``domain_acc``, ``lambda``, ``lr``; per evaluation
``eval_step``, ``source_val_acc``, ``target_acc``, ``domain_error`` (see :func:`evaluate`).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import signal
import threading
import warnings
from dataclasses import dataclass

import numpy as np

from minigrad import backend, ops, optim
from minigrad.tensor import Tensor, no_grad

from . import checkpoint as ckpt_io
from .schedules import AnnealedLR, ConstantLambda, ConstantLR, LambdaSchedule

__all__ = [
    "TrainConfig", "METHODS", "train", "evaluate", "predict_logits", "predict_features",
    "prepare_inputs", "compute_input_mean", "BatchSampler", "GRLUpdater", "dann_losses",
    "Batch", "training_loop",
]

METHODS = ("source_only", "dann", "target_only", "semi_supervised")
_ADAPTIVE = ("dann", "semi_supervised")       # the methods that use lambda > 0
# config fields that may change between a checkpoint and the run resuming from it
_RESUMABLE_CHANGES = {"progress", "eval_every", "log_every", "device", "eval_batch_size"}


# -- configuration -----------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """Everything that defines a training run (the defaults are the paper's, section 5).

    method              one of ``METHODS`` (see the module docstring)
    steps               total number of SGD steps; progress p = step / steps
    batch_size          total rows per step, half source and half target (paper: 128 = 64 + 64)
    lr                  mu_0, the initial learning rate (paper: 0.01)
    anneal_lr           True: mu_p = lr / (1 + lr_alpha p) ** lr_beta; False: constant lr
    lr_alpha, lr_beta   10 and 0.75 in the paper
    lambda_schedule     "paper": lambda_p = lambda_max (2 / (1 + exp(-gamma p)) - 1);
                        "constant": lambda = lambda_max at every step.
                        Ignored (lambda = 0) for source_only and target_only.
    lambda_max          the asymptote of the paper's ramp, or the constant (paper: 1)
    gamma               steepness of the ramp (paper: 10)
    momentum            SGD momentum (paper: 0.9)
    weight_decay        L2 coefficient added to every gradient (paper: not stated; 0)
    labelled_per_batch  semi_supervised only: labelled target rows per batch (taken out of
                        the target half)
    mean_subtract       subtract ``model.input_mean`` from every input (the paper: yes)
    seed                seeds the batch sampler (the model is seeded when it is built)
    eval_every          evaluate on ``val`` every this many steps (0: only at the end)
    log_every           record losses in the history every this many steps
    device              "cpu" or "cuda"
    progress            show a tqdm progress bar
    eval_batch_size     batch size used by :func:`evaluate`
    """

    method: str = "dann"
    steps: int = 1000
    batch_size: int = 128
    lr: float = 0.01
    anneal_lr: bool = True
    lr_alpha: float = 10.0
    lr_beta: float = 0.75
    lambda_schedule: str = "paper"
    lambda_max: float = 1.0
    gamma: float = 10.0
    momentum: float = 0.9
    weight_decay: float = 0.0
    labelled_per_batch: int = 16
    mean_subtract: bool = True
    seed: int = 0
    eval_every: int = 0
    log_every: int = 1
    device: str = "cpu"
    progress: bool = True
    eval_batch_size: int = 512

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"TrainConfig: method must be one of {METHODS}, got {self.method!r}")
        for name in ("steps", "batch_size", "log_every", "eval_batch_size"):
            _check_int(name, getattr(self, name), minimum=1)
        if self.batch_size < 2:
            raise ValueError(f"TrainConfig: batch_size must be >= 2 (half source, half target), "
                             f"got {self.batch_size}")
        for name in ("eval_every", "labelled_per_batch"):
            _check_int(name, getattr(self, name), minimum=0)
        _check_int("seed", self.seed, minimum=0)
        if self.lambda_schedule not in ("paper", "constant"):
            raise ValueError(f"TrainConfig: lambda_schedule must be 'paper' or 'constant', "
                             f"got {self.lambda_schedule!r}")
        for name in ("anneal_lr", "mean_subtract", "progress"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"TrainConfig: {name} must be True or False, "
                                f"got {getattr(self, name)!r}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"TrainConfig: device must be 'cpu' or 'cuda', got {self.device!r}")
        if not 0.0 <= _finite("momentum", self.momentum) < 1.0:
            raise ValueError(f"TrainConfig: momentum must be in [0, 1), got {self.momentum!r}")
        if _finite("weight_decay", self.weight_decay) < 0:
            raise ValueError(f"TrainConfig: weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.method == "semi_supervised" and not 0 < self.labelled_per_batch < (
                self.batch_size - self.batch_size // 2):
            raise ValueError(f"TrainConfig: semi_supervised needs 0 < labelled_per_batch < the "
                             f"target half ({self.batch_size - self.batch_size // 2}), "
                             f"got {self.labelled_per_batch}")
        # building the schedules validates lr, lr_alpha, lr_beta, lambda_max, gamma
        self.lr_schedule()
        self.lambda_schedule_fn()
        # plain Python types (not numpy scalars), so the config is JSON for checkpoints
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (bool, np.bool_)):
                object.__setattr__(self, f.name, bool(value))
            elif isinstance(value, numbers.Integral):
                object.__setattr__(self, f.name, int(value))
            elif isinstance(value, numbers.Real):
                object.__setattr__(self, f.name, float(value))

    def lr_schedule(self):
        """The learning rate as a function of progress p (:mod:`~dann_from_scratch.schedules`)."""
        if self.anneal_lr:
            return AnnealedLR(self.lr, self.lr_alpha, self.lr_beta)
        return ConstantLR(self.lr)

    def lambda_schedule_fn(self):
        """lambda as a function of progress p; constant 0 for the non-adaptive methods."""
        if self.method not in _ADAPTIVE:
            return ConstantLambda(0.0)
        if self.lambda_schedule == "paper":
            return LambdaSchedule(gamma=self.gamma, scale=self.lambda_max)
        return ConstantLambda(self.lambda_max)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _check_int(name, value, minimum, owner="TrainConfig"):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")


def _finite(name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"TrainConfig: {name} must be a finite number, got {value!r}")
    return float(value)


# -- turning user data into network inputs -----------------------------------------------------------
def _split_xy(data, what: str, need_labels: bool):
    """(X, y) from an array X or a pair (X, y); y is None when absent."""
    if data is None:
        raise ValueError(f"{what}: no data given")
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ValueError(f"{what}: expected an array or a pair (X, y), got a sequence of "
                             f"length {len(data)}")
        x, y = data
    else:
        x, y = data, None
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"{what}: the set is empty (X has shape {tuple(x.shape)})")
    if y is None and need_labels:
        raise ValueError(f"{what}: labels are needed here; pass a pair (X, y)")
    if y is not None:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"{what}: labels of shape {y.shape} do not match {len(x)} inputs "
                             f"(expected ({len(x)},))")
    return x, y


def _check_labels(y, num_classes, what: str):
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.int64)
        else:
            raise TypeError(f"{what}: labels must be integers, got dtype {y.dtype}")
    if num_classes is not None and len(y):
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"{what}: labels must lie in [0, {num_classes}) for a model with "
                             f"{num_classes} classes, got values in [{lo}, {hi}]")
    return y.astype(np.int64, copy=False)


def _layout(shape, input_shape, what: str) -> str:
    """How to turn arrays of ``shape`` into (N,) + input_shape; a clear error if impossible."""
    per_example = tuple(shape[1:])
    if input_shape is None or per_example == tuple(input_shape):
        return "as_is"
    if len(input_shape) == 3:
        c, h, w = input_shape
        if per_example == (h, w, c):
            return "nhwc"
        if per_example in ((h, w), (h, w, 1), (1, h, w)):
            return "gray"
        expected = f"(N, {c}, {h}, {w}) or (N, {h}, {w}, {c})"
    else:
        expected = f"(N, {', '.join(map(str, input_shape))})"
    raise ValueError(f"{what}: inputs of shape {tuple(shape)} do not match the model's input "
                     f"shape {tuple(input_shape)}; expected {expected}")


def _to_float(x, layout: str, input_shape) -> np.ndarray:
    x = np.asarray(x)
    scale = 1.0 / 255.0 if x.dtype == np.uint8 else None
    x = x.astype(np.float32)
    if scale is not None:
        x *= np.float32(scale)
    if layout == "nhwc":
        x = x.transpose(0, 3, 1, 2)
    elif layout == "gray":
        c, h, w = input_shape
        x = np.broadcast_to(x.reshape(len(x), 1, h, w), (len(x), c, h, w))
    return np.ascontiguousarray(x, dtype=np.float32)


def prepare_inputs(x, model, what: str = "inputs") -> np.ndarray:
    """Raw inputs -> float32 network inputs (N,) + model.input_shape, minus ``model.input_mean``."""
    input_shape = getattr(model, "input_shape", None)
    out = _to_float(x, _layout(np.shape(x), input_shape, what), input_shape)
    mean = getattr(model, "input_mean", None)
    if mean is not None:
        out -= mean
    return out


def compute_input_mean(arrays, input_shape, chunk: int = 4096) -> np.ndarray:
    """The average over domains of each domain's mean input: per channel, shape (C, 1, 1), for
    images; per feature, shape (D,), for vectors. Computed in chunks (no full float copy)."""
    means = []
    for x in arrays:
        layout = _layout(np.shape(x), input_shape, "compute_input_mean")
        total, count = None, 0
        for start in range(0, len(x), chunk):
            block = _to_float(x[start:start + chunk], layout, input_shape).astype(np.float64)
            axes = (0, 2, 3) if block.ndim == 4 else (0,)
            s = block.sum(axis=axes)
            total = s if total is None else total + s
            count += block.size // s.size
        means.append(total / count)
    mean = np.mean(means, axis=0).astype(np.float32)
    return mean.reshape(-1, 1, 1) if len(input_shape or ()) == 3 else mean


# -- batches -------------------------------------------------------------------------------------------
class BatchSampler:
    """Draws indices from several data streams, each walked through in a freshly shuffled order
    (an "epoch") and reshuffled when used up, all from one seeded ``numpy.random.Generator``.

    Its whole state (the generator's ``bit_generator.state``, each stream's current order and
    position) goes into checkpoints, so a resumed run draws exactly the batches it would have.
    """

    def __init__(self, sizes: dict, seed: int):
        self.rng = np.random.default_rng(seed)
        self.sizes = dict(sizes)
        self.streams = {name: {"perm": self.rng.permutation(n), "pos": 0}
                        for name, n in self.sizes.items()}

    def draw(self, name: str, k: int) -> np.ndarray:
        """The next ``k`` indices of stream ``name`` (wrapping into new epochs as needed)."""
        st, out = self.streams[name], []
        while k > 0:
            if st["pos"] == len(st["perm"]):
                st["perm"], st["pos"] = self.rng.permutation(self.sizes[name]), 0
            take = min(k, len(st["perm"]) - st["pos"])
            out.append(st["perm"][st["pos"]:st["pos"] + take])
            st["pos"] += take
            k -= take
        return np.concatenate(out)

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state,
                "streams": {n: {"perm": s["perm"].copy(), "pos": s["pos"]}
                            for n, s in self.streams.items()}}

    def load_state_dict(self, state: dict) -> None:
        if set(state["streams"]) != set(self.streams):
            raise ckpt_io.CheckpointError(
                f"checkpoint samples from streams {sorted(state['streams'])}, this run from "
                f"{sorted(self.streams)}")
        for name, st in state["streams"].items():
            if len(st["perm"]) != self.sizes[name]:
                raise ckpt_io.CheckpointError(
                    f"checkpoint's {name} set has {len(st['perm'])} examples, this run's has "
                    f"{self.sizes[name]}: resume with the same data")
            self.streams[name] = {"perm": np.asarray(st["perm"]).copy(), "pos": int(st["pos"])}
        self.rng.bit_generator.state = state["rng"]


@dataclass
class Batch:
    """One training batch, ready for the network.

    ``x``: all rows (source first, then target), float32 tensor on the training device;
    ``label_rows``: the slice of rows that carry class labels, and ``labels`` (int64) for them;
    ``domains``: (N, 1) float array, 0 for source rows and 1 for target rows.
    """

    x: Tensor
    label_rows: slice
    labels: object
    domains: object


class _Data:
    """The training sets, checked once, and the rule that assembles a batch for a method."""

    def __init__(self, model, source, target, target_labelled, config: TrainConfig):
        num_classes = getattr(model, "num_classes", None)
        shape = getattr(model, "input_shape", None)
        self.method = config.method
        self.xs, ys = _split_xy(source, "source", need_labels=config.method != "target_only")
        self.xt, yt = _split_xy(target, "target", need_labels=config.method == "target_only")
        self.layouts = {"source": _layout(self.xs.shape, shape, "source"),
                        "target": _layout(self.xt.shape, shape, "target")}
        self.ys = _check_labels(ys, num_classes, "source labels") if ys is not None else None
        self.yt = _check_labels(yt, num_classes, "target labels") if yt is not None else None
        sizes = {"source": len(self.xs), "target": len(self.xt)}
        self.xl = self.yl = None
        if config.method == "semi_supervised":
            if target_labelled is None:
                raise ValueError("semi_supervised: pass target_labelled=(X, y), the few labelled "
                                 "target examples")
            self.xl, yl = _split_xy(target_labelled, "target_labelled", need_labels=True)
            self.layouts["labelled"] = _layout(self.xl.shape, shape, "target_labelled")
            self.yl = _check_labels(yl, num_classes, "target_labelled labels")
            sizes["labelled"] = len(self.xl)
        elif target_labelled is not None:
            raise ValueError(f"target_labelled is used only by method 'semi_supervised', "
                             f"not {config.method!r}")
        self.sizes = sizes
        self.n_source = config.batch_size // 2
        self.n_target = config.batch_size - self.n_source
        self.n_labelled = config.labelled_per_batch if config.method == "semi_supervised" else 0
        self.input_shape = shape

    def mean_inputs(self):
        return [self.xs, self.xt]

    def _rows(self, x, idx, layout, mean):
        out = _to_float(x[idx], layout, self.input_shape)
        if mean is not None:
            out -= mean
        return out

    def batch(self, sampler: BatchSampler, mean, device: str) -> Batch:
        ns, nt, nl = self.n_source, self.n_target, self.n_labelled
        i_s = sampler.draw("source", ns)
        parts = [self._rows(self.xs, i_s, self.layouts["source"], mean)]
        if nl:  # semi-supervised: [source | labelled target | unlabelled target]
            i_l = sampler.draw("labelled", nl)
            parts.append(self._rows(self.xl, i_l, self.layouts["labelled"], mean))
        i_t = sampler.draw("target", nt - nl)
        parts.append(self._rows(self.xt, i_t, self.layouts["target"], mean))

        if self.method == "target_only":
            label_rows, labels = slice(ns, ns + nt), self.yt[i_t]
        elif self.method == "semi_supervised":
            label_rows, labels = slice(0, ns + nl), np.concatenate([self.ys[i_s], self.yl[i_l]])
        else:
            label_rows, labels = slice(0, ns), self.ys[i_s]
        domains = np.concatenate([np.zeros(ns, np.float32), np.ones(nt, np.float32)])[:, None]

        x = Tensor(np.concatenate(parts))
        if device != "cpu":
            x = x.to(device)
            xp = backend.get_array_module(x)
            labels, domains = xp.asarray(labels), xp.asarray(domains)
        return Batch(x=x, label_rows=label_rows, labels=labels, domains=domains)


# -- one step -------------------------------------------------------------------------------------------
def dann_losses(model, batch: Batch, reverse_gradient: bool = True):
    """L_y, L_d and the domain logits of one batch.

    f = G_f(x) for all rows; L_y = cross-entropy of G_y(f[label rows]); L_d = logistic loss
    of G_d on all rows, fed through the GRL (``reverse_gradient=True``) or on f directly
    (the saddle-point trainer, which applies lambda itself).
    """
    f = model.features(batch.x)
    class_logits = model.label_predictor(f[batch.label_rows])
    domain_logits = model.domain_classifier(model.grl(f) if reverse_gradient else f)
    label_loss = ops.cross_entropy(class_logits, batch.labels)
    domain_loss = ops.binary_cross_entropy_with_logits(domain_logits, batch.domains)
    return label_loss, domain_loss, domain_logits


def _domain_accuracy(domain_logits, domains) -> float:
    pred = domain_logits.data > 0
    return float((pred == (domains > 0.5)).mean())


class GRLUpdater:
    """The DANN step with the gradient reversal layer: one backward pass of L_y + L_d through
    R_lambda, then one step of minigrad's SGD (Caffe-style momentum)."""

    name = "grl"

    def __init__(self, model, config: TrainConfig):
        self.model = model
        self.optimizer = optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                   weight_decay=config.weight_decay)

    def step(self, batch: Batch, lambda_: float, lr: float) -> dict:
        self.model.grl.lambda_ = lambda_              # R_lambda for this step (eq. 8)
        self.optimizer.zero_grad()
        label_loss, domain_loss, domain_logits = dann_losses(self.model, batch)
        (label_loss + domain_loss).backward()         # one pass: eqs. (4)-(6) via the GRL
        self.optimizer.lr = lr                        # mu_p, computed by the loop
        self.optimizer.step()
        return {"label_loss": label_loss.item(), "domain_loss": domain_loss.item(),
                "domain_acc": _domain_accuracy(domain_logits, batch.domains)}

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)


# -- the loop ------------------------------------------------------------------------------------------
class _DeferredInterrupt:
    """While active (main thread only), a first Ctrl-C only sets ``requested``; the loop raises
    KeyboardInterrupt at the next step boundary, where the state is consistent and can be
    saved. A second Ctrl-C interrupts at once."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        warnings.warn("interrupt received: stopping after this step and saving a checkpoint "
                      "(press Ctrl-C again to stop at once)", RuntimeWarning, stacklevel=2)

    def __enter__(self):
        if self.enabled:
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.enabled:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _new_history() -> dict:
    keys = ("step", "label_loss", "domain_loss", "domain_acc", "lambda", "lr",
            "eval_step", "source_val_acc", "target_acc", "domain_error")
    return {k: [] for k in keys}


def _split_val(val):
    if val is None:
        return None, None
    if isinstance(val, dict):
        unknown = set(val) - {"source", "target"}
        if unknown:
            raise ValueError(f"val: unknown keys {sorted(unknown)}; use 'source' and 'target'")
        return val.get("source"), val.get("target")
    if isinstance(val, (tuple, list)) and len(val) == 2:
        return val[0], val[1]
    raise ValueError("val: expected (source_val, target_test) or {'source': ..., 'target': ...}")


def _check_resume(saved: dict, config: TrainConfig, path) -> None:
    current = config.to_dict()
    diffs = [f"{k}: checkpoint {saved.get(k)!r}, now {v!r}" for k, v in current.items()
             if k not in _RESUMABLE_CHANGES and saved.get(k) != v]
    if diffs:
        raise ckpt_io.CheckpointError(f"cannot resume from {path}: the config differs in "
                                      + "; ".join(diffs))


def train(model, source, target, config: TrainConfig | None = None, target_labelled=None,
          val=None, callback=None, resume_from=None, checkpoint_path=None,
          checkpoint_every: int | None = None, stop_after: int | None = None) -> dict:
    """Train ``model`` (a :class:`~dann_from_scratch.models.DANNModel`) with ``config.method``.

    source           (X_s, y_s): labelled source examples
    target           X_t, or (X_t, y_t) (labels are used only by "target_only")
    config           a :class:`TrainConfig` (default: the paper's DANN settings); when resuming,
                     None means "the checkpoint's config"
    target_labelled  (X, y): the few labelled target examples of "semi_supervised"
    val              (source_val, target_test), each (X, y) or None: evaluated every
                     ``config.eval_every`` steps and at the end (see :func:`evaluate`)
    callback         ``callback(step, logs)`` after every step (``step`` = steps done so far)
    resume_from      a checkpoint path: continue that run exactly where it stopped
    checkpoint_path  where to save checkpoints: every ``checkpoint_every`` steps, at the end,
                     when ``stop_after`` is reached, and on KeyboardInterrupt (then re-raised)
    stop_after       stop once this many steps are done (the schedules still span
                     ``config.steps``): with a checkpoint, a run can be cut into pieces

    Returns the history (dict of lists). The trained weights are in ``model``.
    """
    return training_loop(model, source, target, config, GRLUpdater, target_labelled=target_labelled,
                         val=val, callback=callback, resume_from=resume_from,
                         checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every,
                         stop_after=stop_after)


def training_loop(model, source, target, config, updater_cls, target_labelled=None, val=None,
                  callback=None, resume_from=None, checkpoint_path=None, checkpoint_every=None,
                  stop_after=None) -> dict:
    """The loop behind :func:`train` and :func:`dann_from_scratch.saddle.train_saddle`;
    ``updater_cls(model, config)`` makes the object whose ``step(batch, lambda_, lr)`` changes
    the parameters."""
    resumed = ckpt_io.load_checkpoint(resume_from) if resume_from is not None else None
    if config is None:
        config = TrainConfig.from_dict(resumed.config) if resumed else TrainConfig()
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not hasattr(model, "grl") or not hasattr(model, "features"):
        raise TypeError(f"train: model must be a DANNModel (G_f, G_y, G_d and a GRL), "
                        f"got {type(model).__name__}")
    if checkpoint_every is not None:
        _check_int("checkpoint_every", checkpoint_every, minimum=1, owner="train")
    if stop_after is not None:
        _check_int("stop_after", stop_after, minimum=1, owner="train")
        if stop_after > config.steps:
            raise ValueError(f"stop_after ({stop_after}) is beyond config.steps ({config.steps})")
    source_val, target_test = _split_val(val)

    data = _Data(model, source, target, target_labelled, config)
    lr_at, lambda_at = config.lr_schedule(), config.lambda_schedule_fn()
    sampler = BatchSampler(data.sizes, config.seed)
    if config.device != "cpu":
        model.to(config.device)
    updater = updater_cls(model, config)
    history, start = _new_history(), 0

    if resumed is not None:
        _check_resume(resumed.config, config, resume_from)
        if resumed.trainer != updater.name:
            raise ckpt_io.CheckpointError(f"{resume_from} was written by the {resumed.trainer!r} "
                                          f"trainer, cannot resume it with {updater.name!r}")
        model.load_state_dict(resumed.model_state)
        ckpt_io.restore_module_rngs(model, resumed.module_rngs)
        updater.load_state_dict(resumed.updater_state)
        sampler.load_state_dict(resumed.sampler_state)
        model.input_mean = resumed.input_mean
        history = {**history, **resumed.history}
        start = resumed.step
    elif config.mean_subtract and getattr(model, "input_mean", None) is None:
        model.input_mean = compute_input_mean(data.mean_inputs(), data.input_shape)
    mean = model.input_mean if config.mean_subtract else None
    end = stop_after if stop_after is not None else config.steps

    def save(step):
        ckpt_io.save_checkpoint(checkpoint_path, ckpt_io.Checkpoint(
            step=step, config=config.to_dict(), model_state=model.state_dict(),
            updater_state=updater.state_dict(), sampler_state=sampler.state_dict(),
            module_rngs=ckpt_io.module_rng_states(model), input_mean=model.input_mean,
            history=history, trainer=updater.name))

    def run_eval(step):
        if source_val is None and target_test is None:
            return None
        res = evaluate(model, source_val, target_test, batch_size=config.eval_batch_size)
        history["eval_step"].append(step)
        for key in ("source_val_acc", "target_acc", "domain_error"):
            history[key].append(res[key])
        return res

    bar = _progress_bar(config, start, end)
    step, in_step = start, False
    model.train()
    try:
        with _DeferredInterrupt(enabled=checkpoint_path is not None) as interrupt:
            while step < end:
                p = step / config.steps
                lam, lr = lambda_at(p), lr_at(p)
                in_step = True
                batch = data.batch(sampler, mean, config.device)
                stats = updater.step(batch, lam, lr)
                step += 1
                in_step = False

                logs = {"step": step, **stats, "lambda": lam, "lr": lr}
                if step % config.log_every == 0 or step == end:
                    for key in ("step", "label_loss", "domain_loss", "domain_acc", "lambda", "lr"):
                        history[key].append(logs[key])
                if (config.eval_every and step % config.eval_every == 0) or step == config.steps:
                    res = run_eval(step)
                    if res is not None:
                        logs.update(res)
                    model.train()
                if checkpoint_path is not None and checkpoint_every and step % checkpoint_every == 0:
                    save(step)
                _update_bar(bar, logs)
                if callback is not None:
                    callback(step, logs)
                if interrupt.requested:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        if checkpoint_path is not None:
            if in_step:
                warnings.warn(f"interrupted in the middle of step {step + 1}: the model may be "
                              f"half-updated, so no checkpoint was written (the last periodic "
                              f"checkpoint in {checkpoint_path} is intact)", RuntimeWarning)
            else:
                save(step)
                warnings.warn(f"interrupted after step {step}: checkpoint saved to "
                              f"{checkpoint_path}; resume with resume_from=", RuntimeWarning)
        raise
    finally:
        if bar is not None:
            bar.close()
    if checkpoint_path is not None and step > start:
        save(step)
    return history


#: terminal line of this process's progress bar (None: tqdm's default); runners that train
#: several networks at once in worker processes give each worker its own line
BAR_POSITION: int | None = None


def _progress_bar(config: TrainConfig, start: int, end: int):
    if not config.progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=end, initial=start, desc=config.method, unit="step", dynamic_ncols=True,
                position=BAR_POSITION)


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


# -- evaluation -----------------------------------------------------------------------------------------
def _batched(model, x, batch_size: int, fn, what: str) -> np.ndarray:
    """Apply ``fn(model, tensor)`` to ``x`` in batches, in eval mode without a tape; NumPy out."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    layout = _layout(np.shape(x), getattr(model, "input_shape", None), what)
    params = model.parameters()
    device = params[0].device if params else "cpu"
    dtype = params[0].dtype if params else np.float32
    mean = getattr(model, "input_mean", None)
    was_training = model.training
    model.eval()
    out = []
    try:
        with no_grad():
            for start in range(0, len(x), batch_size):
                xb = _to_float(x[start:start + batch_size], layout, model.input_shape)
                if mean is not None:
                    xb -= mean
                t = Tensor(xb.astype(dtype, copy=False))
                out.append(backend.to_numpy(fn(model, t.to(device) if device != "cpu" else t).data))
    finally:
        model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0,))


def predict_logits(model, x, batch_size: int = 512) -> np.ndarray:
    """Class logits G_y(G_f(x)) for raw inputs ``x`` (converted like the training inputs)."""
    return _batched(model, x, batch_size, lambda m, t: m.classify(t), "predict")


def predict_features(model, x, batch_size: int = 512) -> np.ndarray:
    """Features G_f(x) (what t-SNE plots and the proxy A-distance look at)."""
    return _batched(model, x, batch_size, lambda m, t: m.features(t), "features")


def _heads(model, x, batch_size, domain: bool):
    """Class logits (N, C) and, if ``domain``, the domain logits (N,) (else None), from one
    pass of G_f over ``x``."""
    if not domain:
        return predict_logits(model, x, batch_size), None

    def fn(m, t):
        f = m.features(t)
        return ops.concatenate([m.label_predictor(f), m.domain_classifier(f)], axis=1)

    out = _batched(model, x, batch_size, fn, "evaluate")
    return out[:, :-1], out[:, -1]


def evaluate(model, source_val=None, target_test=None, batch_size: int = 512) -> dict:
    """The paper's signals for a trained model.

    * ``source_val_acc``: label accuracy on the labelled source validation set (X, y);
    * ``target_acc``: label accuracy on the target test set (None when it has no labels, as in
      the truly unsupervised setting);
    * ``domain_error``: balanced error of the domain classifier G_d telling the source
      validation inputs (domain 0) from the target inputs (domain 1), i.e. the mean of its
      error rates on the two sets (0.5 = chance = domain-invariant features). Needs both sets.

    Both sets are optional; missing entries are None.
    """
    result = {"source_val_acc": None, "target_acc": None, "domain_error": None}
    num_classes = getattr(model, "num_classes", None)
    both = source_val is not None and target_test is not None
    xs = xt = None
    if source_val is not None:
        xs, ys = _split_xy(source_val, "source_val", need_labels=True)
        ys = _check_labels(ys, num_classes, "source_val labels")
        logits_s, domain_s = _heads(model, xs, batch_size, domain=both)
        result["source_val_acc"] = float((logits_s.argmax(1) == ys).mean())
    if target_test is not None:
        xt, yt = _split_xy(target_test, "target_test", need_labels=False)
        if yt is not None:
            yt = _check_labels(yt, num_classes, "target_test labels")
        if yt is not None or both:
            logits_t, domain_t = _heads(model, xt, batch_size, domain=both)
            if yt is not None:
                result["target_acc"] = float((logits_t.argmax(1) == yt).mean())
    if both:
        err_s = float((domain_s > 0).mean())    # source images called target
        err_t = float((domain_t <= 0).mean())   # target images called source
        result["domain_error"] = 0.5 * (err_s + err_t)
    return result
