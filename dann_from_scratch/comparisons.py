"""What a reproduced row measures on its trained networks' features, besides their own
accuracy: subspace alignment, last layers retrained as linear SVMs, the proxy A-distance.

* :func:`subspace_alignment` (Fernando et al. 2013) on the last hidden layer of the
  source-only network, ``d`` chosen without target labels
  (:func:`~dann_from_scratch.baselines.select_d`);
* :func:`retrain_last_layer`: a network's last layer replaced by a linear SVM on its last
  hidden layer, the protocol under which the paper compares DANN with SA;
* :func:`proxy_a_distances`: d_A between held-out source and target features (G_f output).

The feature matrices are capped (:data:`MAX_FEATURE_ROWS`, :data:`MAX_PAD_ROWS` rows per
domain) so that the full data sets stay fast and memory-bounded.
"""
from __future__ import annotations

import numpy as np

from .baselines import retrain_last_layer_svm, subspace_alignment_accuracy
from .metrics import proxy_a_distance
from .pair_data import PairData, subset_rows
from .trainers import apply_in_batches, predict_features

__all__ = ["last_hidden_features", "subspace_alignment", "retrain_last_layer",
           "proxy_a_distances", "MAX_FEATURE_ROWS", "MAX_PAD_ROWS"]

MAX_FEATURE_ROWS = 10000      # rows per domain for SA fitting and the SVM training sets
MAX_PAD_ROWS = 2000           # rows per domain for the proxy A-distance


def last_hidden_features(model, x, batch_size: int = 512) -> np.ndarray:
    """Activations of the last hidden layer of G_y (the input of its final linear layer): the
    features that subspace alignment and the last-layer SVM work on (100 units in the MNIST
    net, 2048 in the SVHN net, 512 in the GTSRB net)."""
    layers = list(model.label_predictor)

    def fn(m, t):
        h = m.features(t)
        for layer in layers[:-1]:
            h = layer(h)
        return h

    return apply_in_batches(model, x, batch_size, fn, "last hidden layer")


def _rows(x, k: int | None, seed: int):
    """A random subset of at most ``k`` rows of ``x`` (and the indices)."""
    idx = subset_rows(np.random.default_rng(seed), len(x), k)
    return x[idx], idx


def subspace_alignment(data: PairData, source_only_model, quick: bool = False) -> tuple[dict, dict]:
    """SA on the source-only network's last hidden layer, fitted on labelled source and
    unlabelled target training rows, scored on the target test set. Returns its record (for
    results.json) and the labelled rows the last-layer SVMs train on: ``{"source": (x, y),
    "target": (x, y)}`` (the latter for train on target only)."""
    xs_fit, s_idx = _rows(data.source_train[0], MAX_FEATURE_ROWS, 11)
    xt_fit, _ = _rows(data.target_train[0], MAX_FEATURE_ROWS, 12)
    xtt_fit, tt_idx = _rows(data.target_train[0], MAX_FEATURE_ROWS, 13)
    fit_rows = {"source": (xs_fit, data.source_train[1][s_idx]),
                "target": (xtt_fit, data.target_train[1][tt_idx])}
    model, (xt_test, yt_test) = source_only_model, data.target_test
    fs, ft = last_hidden_features(model, xs_fit), last_hidden_features(model, xt_fit)
    ft_test = last_hidden_features(model, xt_test)
    # quick mode: a short d range and one C keep it to a second
    sa_kw = {"d_range": (2, 6), "C_grid": (1.0,)} if quick else {}
    sa = subspace_alignment_accuracy(fs, fit_rows["source"][1], ft, None, seed=0, **sa_kw)
    sa_pred = sa.classifier.predict(sa.alignment.transform_target(ft_test))
    record = {"d": sa.d, "target_acc": float(np.mean(sa_pred == yt_test)),
              "features": "last hidden layer of the source-only network",
              "d_selection": None if sa.selection is None else {
                  "criterion": sa.selection.criterion, "d_max": sa.selection.d_max,
                  "candidates": [int(c) for c in sa.selection.candidates],
                  "source_cv_scores": {str(k): v for k, v in sa.selection.scores.items()}},
              "svm_C": float(sa.classifier.named_steps["svm"].C)}
    return record, fit_rows


def retrain_last_layer(data: PairData, model, method: str, fit_rows: dict,
                       quick: bool = False) -> dict:
    """The target test accuracy of ``model`` with its last layer retrained as a linear SVM
    on its last hidden layer, trained on the network's labelled domain (the target's
    training rows for train on target, else the source's), C chosen on held-out rows of it."""
    x_fit, y_fit = fit_rows["target" if method == "target_only" else "source"]
    xt_test, yt_test = data.target_test
    res = retrain_last_layer_svm(last_hidden_features(model, x_fit), y_fit,
                                 last_hidden_features(model, xt_test), yt_test, seed=0,
                                 **({"C_grid": (1.0,)} if quick else {}))
    return {"target_acc": res.target_accuracy, "C": res.C,
            "val_accuracy": {str(k): v for k, v in res.val_accuracy.items()}}


def proxy_a_distances(data: PairData, models: dict, quick: bool = False) -> tuple[dict, dict]:
    """d_A = 2 (1 - 2 eps) between the G_f features of held-out source validation and target
    validation images, for each of ``models`` (``{name: model}``). Returns ``{name: {"d_A",
    "eps", "n_per_domain"}}`` and the features ``{name: (source, target)}``."""
    xs_pad, _ = _rows(data.source_val[0], MAX_PAD_ROWS, 21)
    xt_pad, _ = _rows(data.target_val[0], MAX_PAD_ROWS, 22)
    pad, features = {}, {}
    for name, model in models.items():
        fsrc, ftgt = predict_features(model, xs_pad), predict_features(model, xt_pad)
        features[name] = (fsrc, ftgt)
        d_a, det = proxy_a_distance(fsrc, ftgt, seed=0, max_samples=MAX_PAD_ROWS,
                                    return_details=True, **({"C_grid": (1.0,)} if quick else {}))
        pad[name] = {"d_A": d_a, "eps": det["eps"], "n_per_domain": det["n_per_domain"]}
    return pad, features
