"""What a trained model says: class logits, features, and the paper's signals.

:func:`evaluate` gives the three numbers the paper watches (source validation accuracy, target
accuracy, and how well G_d tells the domains apart); :func:`predict_logits` and
:func:`predict_features` run the networks on raw inputs, converted like the training inputs
(:mod:`~dann_from_scratch.inputs`), in batches, in eval mode and without a tape.
"""
from __future__ import annotations

import numpy as np

from minigrad import backend, ops
from minigrad.tensor import Tensor, no_grad

from .inputs import check_labels, input_layout, split_xy, to_network_input

__all__ = ["evaluate", "predict_logits", "predict_features", "apply_in_batches"]


def apply_in_batches(model, x, batch_size: int, fn, what: str) -> np.ndarray:
    """Apply ``fn(model, tensor)`` to the raw inputs ``x`` in batches (converted and
    mean-subtracted like the training inputs), in eval mode without a tape; NumPy out.
    ``what`` names the inputs in error messages."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    layout = input_layout(np.shape(x), getattr(model, "input_shape", None), what)
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
                rows = x[start:start + batch_size]
                xb = to_network_input(rows, layout, model.input_shape, mean)
                t = Tensor(xb.astype(dtype, copy=False))
                out.append(backend.to_numpy(fn(model, t.to(device) if device != "cpu" else t).data))
    finally:
        model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0,))


def predict_logits(model, x, batch_size: int = 512) -> np.ndarray:
    """Class logits G_y(G_f(x)) for raw inputs ``x`` (converted like the training inputs)."""
    return apply_in_batches(model, x, batch_size, lambda m, t: m.classify(t), "predict")


def predict_features(model, x, batch_size: int = 512) -> np.ndarray:
    """Features G_f(x) (what t-SNE plots and the proxy A-distance look at)."""
    # BEGIN SOLUTION A6.3
    return apply_in_batches(model, x, batch_size, lambda m, t: m.features(t), "features")
    # END SOLUTION


def _heads(model, x, batch_size, domain: bool):
    """Class logits (N, C) and, if ``domain``, the domain logits (N,) (else None), from one
    pass of G_f over ``x``."""
    if not domain:
        return predict_logits(model, x, batch_size), None

    def fn(m, t):
        f = m.features(t)
        return ops.concatenate([m.label_predictor(f), m.domain_classifier(f)], axis=1)

    out = apply_in_batches(model, x, batch_size, fn, "evaluate")
    return out[:, :-1], out[:, -1]


def evaluate(model, source_val=None, target_test=None, batch_size: int = 512) -> dict:
    """The paper's signals for a trained model.

    * ``source_val_acc``: label accuracy on the labelled source validation set (X, y);
    * ``target_acc``: label accuracy on the held-out target set ``target_test`` (the test set
      for a reported accuracy; the trainer passes its target *validation* set). None when the
      set has no labels, as in the truly unsupervised setting;
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
        xs, ys = split_xy(source_val, "source_val", need_labels=True)
        ys = check_labels(ys, num_classes, "source_val labels")
        logits_s, domain_s = _heads(model, xs, batch_size, domain=both)
        result["source_val_acc"] = float((logits_s.argmax(1) == ys).mean())
    if target_test is not None:
        xt, yt = split_xy(target_test, "target_test", need_labels=False)
        if yt is not None:
            yt = check_labels(yt, num_classes, "target_test labels")
        if yt is not None or both:
            logits_t, domain_t = _heads(model, xt, batch_size, domain=both)
            if yt is not None:
                result["target_acc"] = float((logits_t.argmax(1) == yt).mean())
    if both:
        err_s = float((domain_s > 0).mean())    # source images called target
        err_t = float((domain_t <= 0).mean())   # target images called source
        result["domain_error"] = 0.5 * (err_s + err_t)
    return result
