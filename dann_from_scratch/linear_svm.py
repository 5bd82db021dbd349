"""Last-layer retraining with a linear SVM, and the linear SVM itself.

Last-layer SVM retraining (:func:`retrain_last_layer_svm`)
---------------------------------------------------------
The paper retrains the last layer of every method with a linear SVM before comparing them.
We use ``StandardScaler -> DenseLinearSVC`` in a scikit-learn ``Pipeline`` (the scaler is fit
on the source only), ``C`` chosen on a stratified held-out **source** split, then the pipeline
is refit on all source data with the chosen ``C``.

The linear SVM (:class:`DenseLinearSVC`)
---------------------------------------
The objective of scikit-learn's ``LinearSVC`` (one-vs-rest, squared hinge loss, L2 penalty,
bias as an extra feature of value 1, penalised too), minimised in the primal for all classes
at once with L-BFGS. Network features are dense, a few hundred columns wide: each objective
evaluation is two matrix products, where liblinear walks the rows one by one. On 8,000
GTSRB features (512 columns, 43 classes; one core) liblinear needed 91 s for C = 0.001, and
on 2,000 of those rows 98 s for C = 0.1; this solver took 5.5, 8.8, 14, 28 and 43 s for
C = 0.001 ... 10 on all 8,000; run to a 10x tighter tolerance it ends within 2e-8 ... 3e-3
of that objective and changes the held-out accuracy by at most .0005.
``benchmarks/bench_linear_svm.py`` compares the two.

Also here: the checks of feature matrices and label vectors shared with
:mod:`~dann_from_scratch.baselines` and :mod:`~dann_from_scratch.metrics`.
"""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple, Sequence

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

__all__ = ["DEFAULT_C_GRID", "SVMResult", "DenseLinearSVC", "linear_svm",
           "retrain_last_layer_svm"]

#: C values tried by the linear SVMs (log-spaced, as usual for an SVM's C).
DEFAULT_C_GRID: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)


# -- input checks ------------------------------------------------------------------------
def _as_features(X, name: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (N, D) of features, got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {X.shape})")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    X = X.astype(np.float64, copy=False)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def _as_labels(y, n: int, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D label vector, got shape {y.shape}")
    if y.shape[0] != n:
        raise ValueError(f"{name} has {y.shape[0]} labels but the features have {n} rows")
    return y


def _check_same_dim(Xs: np.ndarray, Xt: np.ndarray) -> None:
    if Xs.shape[1] != Xt.shape[1]:
        raise ValueError(
            f"source and target features must have the same dimension D, got source "
            f"{Xs.shape} and target {Xt.shape}")


def _check_two_classes(y: np.ndarray, name: str) -> None:
    if np.unique(y).size < 2:
        raise ValueError(f"{name} must contain at least two classes, got {np.unique(y).tolist()}")


def _subsample(rng: np.random.Generator, n: int, max_samples: int | None) -> np.ndarray:
    """Sorted random indices of at most ``max_samples`` rows out of ``n`` (all if None)."""
    if max_samples is None or n <= max_samples:
        return np.arange(n)
    if max_samples < 1:
        raise ValueError(f"max_samples must be >= 1, got {max_samples}")
    return np.sort(rng.choice(n, size=max_samples, replace=False))


def _fit_quiet(clf, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


# -- linear SVM on the last layer --------------------------------------------------------
class SVMResult(NamedTuple):
    """Result of :func:`retrain_last_layer_svm`.

    ``classifier``: fitted ``Pipeline(scale, svm)`` (refit on all source data with ``C``);
    ``target_accuracy``: accuracy on the target if labels were given, else ``None``;
    ``C``: the chosen C; ``val_accuracy``: held-out source accuracy for every C tried;
    ``target_pred``: predicted target labels.
    """
    classifier: Pipeline
    target_accuracy: float | None
    C: float
    val_accuracy: dict[float, float]
    target_pred: np.ndarray


class DenseLinearSVC(ClassifierMixin, BaseEstimator):
    """Linear SVM: ``LinearSVC``'s primal objective, solved for all classes at once.

    For each class c (one-vs-rest; a single classifier for two classes) it minimises

        0.5 * |w_c|^2 + C * sum_i max(0, 1 - y_ic (x_i . w_c + b_c))^2,   y_ic = +-1,

    where the bias b_c is the weight of a constant feature 1 and is penalised like the rest
    (as in liblinear). The objective is smooth and the classes are independent, so one
    L-BFGS run on the stacked weights solves them together; it stops when the largest
    gradient entry has shrunk by ``tol`` relative to its value at w = 0 (or after
    ``max_iter`` iterations, with a ``ConvergenceWarning``).
    """

    def __init__(self, C: float = 1.0, tol: float = 1e-5, max_iter: int = 5000):
        self.C = C
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y):
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim != 2 or y.shape != (X.shape[0],):
            raise ValueError(f"DenseLinearSVC.fit: X must be (N, D) and y (N,), got {X.shape} "
                             f"and {y.shape}")
        if not (self.C > 0 and math.isfinite(self.C)):
            raise ValueError(f"DenseLinearSVC: C must be a positive number, got {self.C}")
        self.classes_, idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"DenseLinearSVC.fit: need two classes, got {self.classes_.tolist()}")
        n, dim = X.shape
        if len(self.classes_) == 2:
            Y = np.where(idx == 1, 1.0, -1.0)[:, None]      # classes_[1] is the positive side
        else:
            Y = -np.ones((n, len(self.classes_)))
            Y[np.arange(n), idx] = 1.0
        Xb = np.hstack([X, np.ones((n, 1))])
        C, shape = float(self.C), (dim + 1, Y.shape[1])

        def loss_and_grad(w):
            W = w.reshape(shape)
            slack = np.maximum(1.0 - Y * (Xb @ W), 0.0)    # active hinge terms only
            loss = 0.5 * float(np.sum(W * W)) + C * float(np.sum(slack * slack))
            return loss, (W - 2.0 * C * (Xb.T @ (Y * slack))).ravel()

        w0 = np.zeros(shape[0] * shape[1])
        g0 = float(np.max(np.abs(loss_and_grad(w0)[1])))
        res = minimize(loss_and_grad, w0, jac=True, method="L-BFGS-B",
                       options={"maxiter": int(self.max_iter), "gtol": self.tol * g0,
                                "ftol": 1e-12, "maxcor": 20})
        if res.nit >= self.max_iter:
            warnings.warn(f"DenseLinearSVC: no convergence in {self.max_iter} iterations "
                          f"(C={C})", ConvergenceWarning)
        W = res.x.reshape(shape)
        self.coef_, self.intercept_ = W[:-1].T.copy(), W[-1].copy()
        self.n_iter_ = int(res.nit)
        self.n_features_in_ = dim
        return self

    def decision_function(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.coef_.shape[1]:
            raise ValueError(f"DenseLinearSVC: expected (N, {self.coef_.shape[1]}) features, "
                             f"got {X.shape}")
        scores = X @ self.coef_.T + self.intercept_
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def predict(self, X):
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]


def checked_C_grid(C_grid) -> list:
    """The candidate SVM costs as floats; ValueError unless a non-empty list of positive,
    finite numbers (the one check for every ``C_grid`` argument)."""
    C_grid = [float(c) for c in C_grid]
    if not C_grid or any(not (c > 0 and math.isfinite(c)) for c in C_grid):
        raise ValueError(f"C_grid must be a non-empty list of positive numbers, got {C_grid}")
    return C_grid


def linear_svm(C: float = 1.0, *, seed: int = 0, max_iter: int = 5000) -> Pipeline:
    """``StandardScaler -> DenseLinearSVC(C)``: the scaler is fit on whatever ``fit`` receives.
    (``seed`` is accepted for symmetry with the other helpers; the solver is deterministic.)"""
    return Pipeline([("scale", StandardScaler()),
                     ("svm", DenseLinearSVC(C=C, max_iter=max_iter))])


def retrain_last_layer_svm(features_src, y_src, features_tgt, y_tgt=None,
                           C_grid: Sequence[float] = DEFAULT_C_GRID, seed: int = 0, *,
                           val_fraction: float = 0.2, max_iter: int = 5000,
                           max_train: int | None = None) -> SVMResult:
    """Retrain the last layer as a linear SVM on source features and apply it to the target.

    ``C`` is the value of ``C_grid`` with the best accuracy on a stratified held-out
    ``val_fraction`` of the **source** (ties: smaller C); the pipeline
    (``StandardScaler`` fit on source -> ``DenseLinearSVC``) is then refit on all source rows
    (or a random ``max_train`` of them). Target labels, if given, are used only to report
    ``target_accuracy``.
    """
    Xs = _as_features(features_src, "source features")
    Xt = _as_features(features_tgt, "target features")
    ys = _as_labels(y_src, Xs.shape[0], "source labels")
    _check_same_dim(Xs, Xt)
    _check_two_classes(ys, "source labels")
    yt = None if y_tgt is None else _as_labels(y_tgt, Xt.shape[0], "target labels")
    C_grid = checked_C_grid(C_grid)
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    keep = _subsample(rng, Xs.shape[0], max_train)
    Xs, ys = Xs[keep], ys[keep]

    if len(C_grid) == 1:
        best_C, val_acc = C_grid[0], {}
    else:
        counts = np.bincount(np.unique(ys, return_inverse=True)[1])
        stratify = ys if counts.min() >= 2 else None
        tr, va = train_test_split(np.arange(Xs.shape[0]), test_size=val_fraction,
                                  random_state=seed, stratify=stratify)
        if np.unique(ys[tr]).size < 2:
            raise ValueError("the source training split has a single class; give more source data")
        val_acc = {}
        for C in C_grid:
            clf = _fit_quiet(linear_svm(C, seed=seed, max_iter=max_iter), Xs[tr], ys[tr])
            val_acc[C] = float(np.mean(clf.predict(Xs[va]) == ys[va]))
        best = max(val_acc.values())
        best_C = min(C for C, a in val_acc.items() if a >= best - 1e-12)
    clf = linear_svm(best_C, seed=seed, max_iter=max_iter).fit(Xs, ys)
    pred = clf.predict(Xt)
    acc = None if yt is None else float(np.mean(pred == yt))
    return SVMResult(classifier=clf, target_accuracy=acc, C=best_C, val_accuracy=val_acc,
                     target_pred=pred)
