"""One training loop for every method of the paper's Table 1: the trainer's public API.

``train(model, source, target, config)`` runs SGD on a :class:`~dann_from_scratch.models.DANNModel`.
Every step draws a batch that is half source, half target (the paper: 64 + 64), runs all of it
through G_f once, and minimises

    L = L_y + L_d                                     (the paper's eq. 9 in its GRL form)

with the gradient reversal layer R_lambda between G_f and G_d, so that one backward pass
performs the saddle-point updates (4)-(6); :mod:`dann_from_scratch.saddle` does the same
arithmetic by hand. The trainer lives in one module per job; this module gathers their
public names, so ``from dann_from_scratch.trainers import train`` is all a caller needs:

===========================================  ====================================================
:mod:`~dann_from_scratch.config`             ``TrainConfig``, ``METHODS`` (what each method
                                             trains on), ``config_differences`` (the resume rule)
:mod:`~dann_from_scratch.inputs`             raw arrays -> float32 network inputs, the input mean
:mod:`~dann_from_scratch.batches`            ``BatchSampler``, ``Batch``, a run's training sets
:mod:`~dann_from_scratch.updaters`           one step: ``GRLUpdater`` (and the saddle-point one)
:mod:`~dann_from_scratch.training`           ``train`` and the loop, checkpoints, resume, Ctrl-C
:mod:`~dann_from_scratch.evaluation`         ``evaluate``, ``predict_logits``, ``predict_features``
===========================================  ====================================================
"""
from __future__ import annotations

from .batches import Batch, BatchSampler
from .config import METHODS, RESUMABLE_FIELDS, TrainConfig, config_differences
from .evaluation import apply_in_batches, evaluate, predict_features, predict_logits
from .inputs import compute_input_mean, prepare_inputs
from .training import train, training_loop
from .updaters import GRLUpdater, dann_losses

__all__ = [
    "TrainConfig", "METHODS", "train", "evaluate", "predict_logits", "predict_features",
    "prepare_inputs", "compute_input_mean", "BatchSampler", "GRLUpdater", "dann_losses",
    "Batch", "training_loop", "config_differences", "RESUMABLE_FIELDS", "apply_in_batches",
]
