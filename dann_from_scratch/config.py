"""What defines a training run: :class:`TrainConfig`, the methods of the paper's Table 1, and
the one rule for which config changes a resumed run may make.

The methods differ only in which rows of a batch are labelled and in lambda:

=====================  ================================================  =======================
method                 labelled rows (L_y)                               lambda
=====================  ================================================  =======================
``"source_only"``      the source half                                   0
``"dann"``             the source half                                   lambda_p (schedule)
``"target_only"``      the target half (needs target labels):            0
                       the paper's "train on target" upper bound
``"semi_supervised"``  the source half + ``labelled_per_batch`` rows     lambda_p (schedule)
                       drawn from ``target_labelled`` (placed in the
                       target half, so they also count as domain 1);
                       the setting of the paper's Figure 4
=====================  ================================================  =======================

``"target_only"`` is the run the paper and the reports call *train on target*; the method
string stays ``"target_only"`` because every checkpoint and results.json stores it.

With lambda = 0 the GRL sends exactly zero gradient into G_f, so G_d is a passive *probe*:
it is still trained, and its accuracy tells how separable the two domains' features are (the
paper's unsupervised signal for choosing meta-parameters), but it does not change G_f.

**Schedules** (section 5): p = step / steps, lambda_p = 2 / (1 + exp(-gamma p)) - 1 and
mu_p = mu_0 / (1 + alpha p) ** beta (:mod:`~dann_from_scratch.schedules`); both can be
switched off. ``config.lambda_schedule`` is the *name* of the lambda schedule ("paper" or
"constant"); :meth:`TrainConfig.make_lambda_schedule` and :meth:`TrainConfig.make_lr_schedule`
build the functions of p.
"""
from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass

import numpy as np

from . import checks
from .schedules import AnnealedLR, ConstantLambda, ConstantLR, LambdaSchedule

__all__ = ["TrainConfig", "METHODS", "ADAPTIVE_METHODS", "RESUMABLE_FIELDS",
           "config_differences"]

METHODS = ("source_only", "dann", "target_only", "semi_supervised")
ADAPTIVE_METHODS = ("dann", "semi_supervised")      # the methods that use lambda > 0
#: config fields that may change between a checkpoint and the run resuming from it: they
#: change how a run is watched, not the numbers it computes
RESUMABLE_FIELDS = frozenset({"progress", "eval_every", "log_every", "device", "eval_batch_size"})


@dataclass
class TrainConfig:
    """Everything that defines a training run (the defaults are the paper's, section 5).

    method              one of ``METHODS`` (see the module docstring)
    steps               total number of SGD steps; progress p = step / steps
    batch_size          total rows per step, half source and half target (paper: 128 = 64 + 64)
    lr                  mu_0, the initial learning rate (paper: 0.01)
    anneal_lr           True: mu_p = lr / (1 + lr_alpha p) ** lr_beta; False: constant lr
    lr_alpha, lr_beta   10 and 0.75 in the paper
    lambda_schedule     the name of the lambda schedule:
                        "paper": lambda_p = lambda_max (2 / (1 + exp(-gamma p)) - 1);
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
    progress            report progress (a bar in a terminal, plain lines in a log: progress.py)
    eval_batch_size     batch size used by :func:`~dann_from_scratch.evaluation.evaluate`
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
        owner = "TrainConfig"
        checks.one_of(owner, "method", self.method, METHODS)
        for name in ("steps", "batch_size", "log_every", "eval_batch_size"):
            checks.integer(owner, name, getattr(self, name), minimum=1)
        if self.batch_size < 2:
            raise ValueError(f"TrainConfig: batch_size must be >= 2 (half source, half target), "
                             f"got {self.batch_size}")
        for name in ("eval_every", "labelled_per_batch", "seed"):
            checks.integer(owner, name, getattr(self, name), minimum=0)
        checks.one_of(owner, "lambda_schedule", self.lambda_schedule, ("paper", "constant"))
        for name in ("anneal_lr", "mean_subtract", "progress"):
            checks.flag(owner, name, getattr(self, name))
        checks.one_of(owner, "device", self.device, ("cpu", "cuda"))
        checks.in_interval(owner, "momentum", self.momentum, 0.0, 1.0, include_high=False)
        checks.nonnegative(owner, "weight_decay", self.weight_decay)
        target_half = self.batch_size - self.batch_size // 2
        if self.method == "semi_supervised" and not 0 < self.labelled_per_batch < target_half:
            raise ValueError(f"TrainConfig: semi_supervised needs 0 < labelled_per_batch < the "
                             f"target half ({target_half}), got {self.labelled_per_batch}")
        # building the schedules checks lr, lr_alpha, lr_beta, lambda_max and gamma
        self.make_lr_schedule()
        self.make_lambda_schedule()
        self._to_plain_types()

    def _to_plain_types(self) -> None:
        """Python bools, ints and floats instead of NumPy scalars, so the config is JSON (it
        goes into every checkpoint)."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (bool, np.bool_)):
                object.__setattr__(self, f.name, bool(value))
            elif isinstance(value, numbers.Integral):
                object.__setattr__(self, f.name, int(value))
            elif isinstance(value, numbers.Real):
                object.__setattr__(self, f.name, float(value))

    def make_lr_schedule(self):
        """The learning rate mu_p as a function of progress p
        (:mod:`~dann_from_scratch.schedules`)."""
        if self.anneal_lr:
            return AnnealedLR(self.lr, self.lr_alpha, self.lr_beta)
        return ConstantLR(self.lr)

    def make_lambda_schedule(self):
        """lambda_p as a function of progress p, as ``lambda_schedule`` names it; constant 0
        for the methods without adaptation."""
        if self.method not in ADAPTIVE_METHODS:
            return ConstantLambda(0.0)
        if self.lambda_schedule == "paper":
            return LambdaSchedule(gamma=self.gamma, scale=self.lambda_max)
        return ConstantLambda(self.lambda_max)

    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict (what checkpoints and results.json store)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """The config of :meth:`to_dict`; unknown keys are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def config_differences(saved: dict, config: TrainConfig | dict) -> list[str]:
    """The fields in which ``config`` differs from ``saved`` (a checkpoint's config dict),
    leaving out :data:`RESUMABLE_FIELDS`: empty when a run saved with ``saved`` may be
    resumed with ``config``. Every resume check goes through this function."""
    current = config.to_dict() if isinstance(config, TrainConfig) else dict(config)
    return [name for name, value in current.items()
            if name not in RESUMABLE_FIELDS and saved.get(name) != value]
