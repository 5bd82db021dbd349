"""Fixtures shared by assignment 5's updater tests (and the assignment 6 starter): two
shifted Gaussian blobs, DANN batches drawn from them, a tiny MLP DANN, and the updates
(4)-(6) of the paper written out by hand.

The data: two Gaussian blobs (the classes) in 4-D; the target domain is the source
shifted along two dimensions that carry no label information. The grader runs the
instructor's copy of this file, so editing it changes nothing in a grade.
"""
from __future__ import annotations

import numpy as np

import minigrad as mg
from coursework.checks import CheckFailure, assert_arrays_match
from dann_from_scratch.batches import Batch
from dann_from_scratch.config import TrainConfig
from dann_from_scratch.models import mlp_model

__all__ = ["LR", "MOMENTUM", "WEIGHT_DECAY", "BATCH", "shifted_blobs", "make_batches",
           "make_model", "config", "reference_step", "rounding_atol", "check_same_params",
           "check_step_logs"]

LR, MOMENTUM, WEIGHT_DECAY = 0.05, 0.9, 1e-3
BATCH = 32


def shifted_blobs(seed, n: int, shift: float = 2.0):
    """``(xs, ys, xt, yt)``: ``n`` source and ``n`` target points (float32, 4-D) in two classes
    centred at x0 = -1.5 and +1.5; the target is shifted by ``shift`` along dimensions 1 and
    2. ``seed`` is an int or a ``numpy.random.Generator`` (which is then drawn from)."""
    rng = np.random.default_rng(seed)
    ys, yt = rng.integers(0, 2, n), rng.integers(0, 2, n)
    centres = np.array([[-1.5, 0, 0, 0], [1.5, 0, 0, 0]])
    xs = centres[ys] + 0.5 * rng.standard_normal((n, 4))
    xt = centres[yt] + 0.5 * rng.standard_normal((n, 4)) + np.array([0, shift, shift, 0])
    return xs.astype(np.float32), ys, xt.astype(np.float32), yt


def make_batches(steps: int, seed: int = 0, n: int = 60) -> list:
    """``steps`` DANN batches of :data:`BATCH` rows: half labelled source, half target."""
    rng = np.random.default_rng(seed)
    xs, ys, xt, _ = shifted_blobs(rng, n)
    half = BATCH // 2
    domains = np.concatenate([np.zeros(half), np.ones(half)]).astype(np.float32)[:, None]
    out = []
    for _ in range(steps):
        i, j = rng.choice(n, half, replace=False), rng.choice(n, half, replace=False)
        out.append(Batch(x=mg.Tensor(np.concatenate([xs[i], xt[j]])), label_rows=slice(0, half),
                         labels=ys[i], domains=domains))
    return out


def make_model(seed: int = 0):
    """A tiny MLP DANN for the 4-D blobs (two classes)."""
    return mlp_model(4, 2, hidden=(8,), domain_hidden=(8,), rng=seed)


def config(momentum: float = MOMENTUM, weight_decay: float = WEIGHT_DECAY) -> TrainConfig:
    return TrainConfig(lr=LR, momentum=momentum, weight_decay=weight_decay, progress=False)


def reference_step(model, batch, lam, lr, velocity, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY):
    """Eqs. (4)-(6) by hand: two backward passes without a GRL, then Caffe's SGD rule
    (float32, in place). ``velocity`` maps parameter names to arrays (kept between calls).
    Returns (L_y, L_d) before the update."""
    params = dict(model.named_parameters())
    f = model.features(batch.x)
    ly = mg.ops.cross_entropy(model.label_predictor(f[batch.label_rows]), batch.labels)
    ld = mg.ops.binary_cross_entropy_with_logits(model.domain_classifier(f), batch.domains)
    grads = []
    for loss, keep in ((ly, True), (ld, False)):
        model.zero_grad()
        loss.backward(retain_graph=keep)
        grads.append({k: p.grad.copy() if p.grad is not None else np.zeros_like(p.data)
                      for k, p in params.items()})
    g_y, g_d = grads
    model.zero_grad()
    for k, p in params.items():
        part = k.split(".")[0]   # feature_extractor / label_predictor / domain_classifier
        g = {"feature_extractor": g_y[k] - np.float32(lam) * g_d[k],   # (4)
             "label_predictor": g_y[k],                                # (5)
             "domain_classifier": g_d[k]}[part]                       # (6)
        g = g + np.float32(weight_decay) * p.data
        v = velocity.get(k)
        velocity[k] = np.float32(lr) * g if v is None else np.float32(momentum) * v + np.float32(lr) * g
        p.data -= velocity[k]
    return ly.item(), ld.item()


def rounding_atol(model, steps: int) -> float:
    """The library suite's rounding rule for two ways of summing the same gradients:
    ``(n_terms - 1) eps(float32) max|theta|`` with ``n_terms = steps x BATCH``."""
    scale = max(np.abs(v).max() for v in model.state_dict().values())
    return (steps * BATCH - 1) * np.finfo(np.float32).eps * scale


def check_same_params(what, got_model, expected_model, atol=1e-6, rtol=1e-5) -> None:
    """Every parameter of ``got_model`` equals ``expected_model``'s (float32), name by name."""
    expected = expected_model.state_dict()
    for name, value in got_model.state_dict().items():
        assert_arrays_match(f"{what}: {name}", value, expected[name], atol=atol, rtol=rtol,
                            dtype=np.float32)


def check_step_logs(updater_cls, lam: float, batch_seed: int, model_seed: int):
    """One ``updater_cls(...).step(batch, lam, LR)``: it must return a dict with label_loss
    and domain_loss equal to eqs. (4)-(6)'s losses before the update, and domain_acc in
    [0, 1]. Returns the model after the step."""
    name = updater_cls.__name__
    batch = make_batches(1, seed=batch_seed)[0]
    model, ref = make_model(model_seed), make_model(model_seed)
    logs = updater_cls(model, config()).step(batch, lam, LR)
    ly, ld = reference_step(ref, batch, lam, LR, {})
    if not isinstance(logs, dict) or set(logs) != {"label_loss", "domain_loss", "domain_acc"}:
        raise CheckFailure(f"{name}.step must return a dict with label_loss, domain_loss and "
                           f"domain_acc, got {logs!r}")
    assert_arrays_match(f"{name}.step: label_loss (before the update)", logs["label_loss"], ly)
    assert_arrays_match(f"{name}.step: domain_loss (before the update)", logs["domain_loss"], ld)
    if not 0.0 <= logs["domain_acc"] <= 1.0:
        raise CheckFailure(f"{name}.step: domain_acc {logs['domain_acc']} is not in [0, 1]")
    return model
