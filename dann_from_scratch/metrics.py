"""Numbers the paper reports: accuracy, the share of the domain gap a method closes, and the
proxy A-distance between two feature distributions.

Proxy A-distance (Ben-David et al., 2007/2010)
----------------------------------------------
The paper's bound (11) says the target risk is at most the source risk plus the
H-delta-H divergence between the two feature distributions (plus the risk of the best joint
hypothesis). That divergence cannot be computed, but its empirical proxy can: train a
classifier to tell source features (label 0) from target features (label 1) and measure its
held-out error ``eps``; then::

    d_A = 2 (1 - 2 eps)

* ``d_A`` near **2**: the classifier separates the domains almost perfectly (``eps`` ~ 0),
  i.e. the features are very domain-specific - the situation DANN tries to avoid.
* ``d_A`` near **0**: the classifier is at chance (``eps`` ~ 0.5), i.e. the two feature
  distributions are indistinguishable to a linear classifier - what DANN aims for.

Protocol used here (:func:`proxy_a_distance`): the same number ``n`` of rows is drawn from
each domain (``n = min(N_s, N_t, max_samples)``, so the problem is balanced and chance is
exactly 0.5); each domain's rows are split in half, one half of each for training and the
other half for testing; a linear SVM (``StandardScaler -> DenseLinearSVC``, scaler fit on the
training half) is trained for every ``C`` of the grid and ``eps`` is the smallest test error
over the grid. Taking the minimum over ``C`` on the test half follows common practice for
this proxy; it biases ``eps`` slightly downwards (``d_A`` slightly upwards, about 0.1 for two
samples of one distribution with a few hundred rows each). An error above 0.5 (worse than
chance) is reported as ``d_A = 0``.
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np

__all__ = [
    "accuracy",
    "gap_covered",
    "domain_classifier_error",
    "proxy_a_distance",
]


def accuracy(y_true, y_pred) -> float:
    """Fraction of positions where ``y_pred`` equals ``y_true`` (both 1-D, same length > 0)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1:
        hint = (" (for scores or probabilities of shape (N, K), pass y_pred.argmax(axis=1))"
                if y_pred.ndim == 2 else "")
        raise ValueError(
            f"accuracy needs 1-D label vectors, got y_true {y_true.shape} and y_pred "
            f"{y_pred.shape}{hint}")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred have different lengths: {y_true.shape[0]} vs {y_pred.shape[0]}")
    if y_true.size == 0:
        raise ValueError("accuracy of an empty set of predictions is undefined")
    return float(np.mean(y_true == y_pred))


def _as_score(x, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {x!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def gap_covered(method, source_only, train_on_target) -> float:
    """Share of the source-only -> train-on-target gap that ``method`` closes.

    ``(method - source_only) / (train_on_target - source_only)``: 0 = no better than
    training on the source only, 1 = as good as training on labelled target data; it can be
    negative (worse than source only) or above 1. Accuracies (or any score where higher is
    better) in the same units. Example, MNIST -> MNIST-M in Table 1:
    ``gap_covered(.7666, .5225, .9596) = 0.558``.
    """
    m = _as_score(method, "method")
    s = _as_score(source_only, "source_only")
    t = _as_score(train_on_target, "train_on_target")
    gap = t - s
    if gap == 0:
        raise ValueError(
            f"the gap is zero (train_on_target = source_only = {s}): the share of the gap "
            "covered is undefined")
    return (m - s) / gap


# -- telling the domains apart -----------------------------------------------------------
def _domain_split(features_src, features_tgt, max_samples: int | None, seed: int):
    """Balanced train/test split for the domain classification problem (see module doc)."""
    Xs = np.asarray(features_src)
    Xt = np.asarray(features_tgt)
    for name, X in (("source features", Xs), ("target features", Xt)):
        if X.ndim != 2:
            raise ValueError(f"{name} must be a 2-D array (N, D), got shape {X.shape}")
        if X.shape[1] == 0:
            raise ValueError(f"{name} have no columns (shape {X.shape})")
        if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
            raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if Xs.shape[1] != Xt.shape[1]:
        raise ValueError(
            f"source and target features must have the same dimension D, got source "
            f"{Xs.shape} and target {Xt.shape}")
    n = min(Xs.shape[0], Xt.shape[0])
    if max_samples is not None:
        if max_samples < 4:
            raise ValueError(f"max_samples must be >= 4, got {max_samples}")
        n = min(n, int(max_samples))
    if n < 4:
        raise ValueError(
            f"need at least 4 rows in each domain to train and test a domain classifier, got "
            f"source {Xs.shape} and target {Xt.shape}")
    rng = np.random.default_rng(seed)
    i_s = rng.permutation(Xs.shape[0])[:n]
    i_t = rng.permutation(Xt.shape[0])[:n]
    h = n // 2
    X_train = np.concatenate([Xs[i_s[:h]], Xt[i_t[:h]]]).astype(np.float64)
    y_train = np.concatenate([np.zeros(h, int), np.ones(h, int)])
    X_test = np.concatenate([Xs[i_s[h:]], Xt[i_t[h:]]]).astype(np.float64)
    y_test = np.concatenate([np.zeros(n - h, int), np.ones(n - h, int)])
    if not (np.all(np.isfinite(X_train)) and np.all(np.isfinite(X_test))):
        raise ValueError("features contain NaN or infinite values")
    return X_train, y_train, X_test, y_test


def _domain_errors(split, C_grid: Sequence[float], seed: int, max_iter: int) -> dict[float, float]:
    from sklearn.exceptions import ConvergenceWarning

    from .linear_svm import checked_C_grid, linear_svm

    X_train, y_train, X_test, y_test = split
    C_grid = checked_C_grid(C_grid)
    # For each C: fit linear_svm(C, seed=seed, max_iter=max_iter) on the training half (silence
    # its ConvergenceWarning), and record its error rate on the test half as a float.
    # BEGIN SOLUTION A6.1
    errors = {}
    for C in C_grid:
        clf = linear_svm(C, seed=seed, max_iter=max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X_train, y_train)
        errors[C] = float(np.mean(clf.predict(X_test) != y_test))
    return errors
    # END SOLUTION


def domain_classifier_error(features_src, features_tgt, C: float | Sequence[float] = 1.0, *,
                            seed: int = 0, max_samples: int | None = 2000,
                            max_iter: int = 5000) -> float | dict[float, float]:
    """Held-out error of a linear SVM that tells source rows from target rows.

    Same balanced half/half protocol as :func:`proxy_a_distance`. ``C`` a number -> that
    error (a float); ``C`` a sequence -> ``{C: error}`` for each.
    """
    split = _domain_split(features_src, features_tgt, max_samples, seed)
    if np.ndim(C) == 0:
        return _domain_errors(split, [C], seed, max_iter)[float(C)]
    return _domain_errors(split, C, seed, max_iter)


def proxy_a_distance(features_src, features_tgt,
                     C_grid: Sequence[float] = (0.001, 0.01, 0.1, 1, 10), seed: int = 0, *,
                     max_samples: int | None = 2000, max_iter: int = 5000,
                     return_details: bool = False):
    """Proxy A-distance ``d_A = 2 (1 - 2 eps)`` between two feature samples, in ``[0, 2]``.

    ``eps`` is the smallest held-out error, over ``C_grid``, of linear SVMs telling source
    features from target features (balanced: half of ``n = min(N_s, N_t, max_samples)`` rows
    of each domain for training, the other half for testing). ``d_A`` near 2: the domains
    are easy to tell apart; near 0: indistinguishable. See the module docstring.

    ``return_details=True`` returns ``(d_A, {"eps": ..., "errors": {C: err}, "n_per_domain":
    n, "d_A_raw": 2 (1 - 2 eps)})`` instead of the float.
    """
    split = _domain_split(features_src, features_tgt, max_samples, seed)
    errors = _domain_errors(split, C_grid, seed, max_iter)
    # eps, the raw 2 (1 - 2 eps) and d_a, the raw value clipped to [0, 2] (a Python float).
    # BEGIN SOLUTION A6.1
    eps = min(errors.values())
    raw = 2.0 * (1.0 - 2.0 * eps)
    d_a = float(min(2.0, max(0.0, raw)))
    # END SOLUTION
    if return_details:
        n = len(split[1]) // 2 + len(split[3]) // 2
        return d_a, {"eps": eps, "errors": errors, "n_per_domain": n, "d_A_raw": raw}
    return d_a
