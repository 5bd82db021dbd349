"""The two non-DANN ingredients of Table 1: subspace alignment and last-layer SVM retraining.

Everything here works on plain NumPy feature matrices ``(N, D)`` (for example the last
hidden layer of the source-only network) and integer label vectors, so it does not depend
on how the networks are trained.

Subspace alignment (Fernando, Habrard, Sebban and Tuytelaars, ICCV 2013)
-----------------------------------------------------------------------
Each domain is normalised on its own (centred; by default also divided by its RMS row norm,
a single scalar, so the PCA directions do not change), and its top-``d`` principal
directions are stacked as the columns of ``X_S`` and ``X_T`` (``D x d``, orthonormal). The
alignment ``M = X_S^T X_T`` is the minimiser of ``||X_S M - X_T||_F``; the source is
represented as ``Xs X_S M`` and the target as ``Xt X_T``, and a classifier trained on the
aligned source is applied to the projected target.

Note what the algebra says: ``X_S M = X_S X_S^T X_T = P_S X_T`` with ``P_S`` the projector
onto the source subspace. So the aligned source coordinates are the source points, projected
onto their own principal subspace, read off along the *target* basis vectors. ``M`` fixes
the sign, order and partial tilt of the two PCA bases (``M_ij = <u_i, v_j>``), but it can
not undo an arbitrary rotation of the feature space: when the target subspace is orthogonal
to the source subspace, ``M = 0``. What SA buys is (i) per-domain normalisation and (ii)
restriction of both domains to the part of their principal subspaces that they share,
which throws away low-variance, domain-specific directions a source classifier might
otherwise rely on. With ``d = D`` (full rank) ``M`` is orthogonal, ``X_S M = X_T`` and SA
reduces to "normalise each domain, then express both in the target's PCA basis", i.e. no
alignment at all beyond the normalisation.

Choosing ``d`` without target labels (:func:`select_d`)
-------------------------------------------------------
The paper (Ganin & Lempitsky, section 5) takes ``d`` from 2..60 "following Fernando et
al.". We implement Fernando et al.'s recipe, which never looks at target labels:

1. *Stability bound* (``criterion="fernando"``, the default). Their consistency theorem says
   the sample alignment ``M_n`` is within ``gamma`` of the population one with probability
   ``1 - delta`` when, for both domains, the eigen-gap of the (data rescaled to norm <= 1)
   covariance satisfies (transcribed from the paper's consistency theorem without access to
   the text; only its role as a cap on ``d`` matters here)::

       lambda_d - lambda_{d+1} >= (1 + sqrt(ln(2/delta) / 2)) * 16 d^{3/2} / (gamma sqrt(n_min))

   ``d_max`` is the largest ``d`` that satisfies it for both domains (see
   :func:`fernando_d_max`; we rescale each domain by the largest row norm ``B`` of both, so
   the bound is scale-invariant). Large gaps appear at the edge between signal and noise
   eigenvalues, so ``d_max`` estimates how many principal directions can be estimated
   stably from the sample at hand. ``gamma`` is a tolerance the bound leaves free
   (default ``1e5``, ``delta = 0.1``); the bound is loose, so ``gamma`` must be large.
2. *Source cross-validation.* Among ``d`` in ``[d_lo, min(d_hi, max(d_lo, d_max))]`` pick the
   one with the best 2-fold cross-validated accuracy of the classifier on the aligned
   **source** (labelled) data; ties go to the smallest ``d``.

Why this criterion: it is the one the paper cites, it needs no target labels, and the two
steps complement each other (the bound caps ``d`` where the subspaces stop being stable and
shared; source CV alone would happily grow ``d`` to include source-only, low-variance cues).
As a second label-free option, ``criterion="reverse_validation"`` implements reverse
validation (Zhong et al., ECML 2010; used by Ganin et al., JMLR 2016, for DANN's own
hyper-parameters): train on aligned source-train, pseudo-label the projected target, train a
reverse classifier on the pseudo-labelled target and score it on aligned held-out source.

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
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

__all__ = [
    "DEFAULT_C_GRID",
    "SubspaceAlignment",
    "DSelection",
    "SAResult",
    "SVMResult",
    "pca_basis",
    "fernando_d_max",
    "select_d",
    "subspace_alignment_accuracy",
    "linear_svm",
    "DenseLinearSVC",
    "retrain_last_layer_svm",
]

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


# -- PCA ---------------------------------------------------------------------------------
def _normalise(X: np.ndarray, center: bool, scale: bool) -> tuple[np.ndarray, np.ndarray, float]:
    mean = X.mean(axis=0) if center else np.zeros(X.shape[1])
    Xc = X - mean
    s = 1.0
    if scale:
        rms = float(np.sqrt(np.mean(np.sum(Xc * Xc, axis=1))))
        s = rms if rms > 0 else 1.0
    return Xc / s, mean, s


def pca_basis(Xc: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``d`` principal directions of the (already centred) rows of ``Xc``.

    Returns ``(basis, eigvals)``: ``basis`` is ``D x d`` with orthonormal columns, ordered by
    decreasing variance, each with a deterministic sign (its largest-magnitude entry
    positive); ``eigvals`` holds *all* ``min(N, D)`` covariance eigenvalues
    (``singular value^2 / N``), in decreasing order.
    """
    _, s, vt = np.linalg.svd(Xc, full_matrices=False)
    basis = vt[:d].T.copy()
    idx = np.argmax(np.abs(basis), axis=0)
    signs = np.sign(basis[idx, np.arange(basis.shape[1])])
    signs[signs == 0] = 1.0
    basis *= signs
    return basis, (s ** 2) / Xc.shape[0]


# -- subspace alignment ------------------------------------------------------------------
class SubspaceAlignment:
    """Subspace alignment of Fernando et al. (2013) with subspace dimension ``d``.

    >>> sa = SubspaceAlignment(d=20).fit(feats_src, feats_tgt)      # doctest: +SKIP
    >>> Zs, Zt = sa.transform_source(feats_src), sa.transform_target(feats_tgt)  # doctest: +SKIP

    Parameters
    ----------
    d: subspace dimension, ``1 <= d <= min(N_s, N_t, D)``.
    center: subtract each domain's own mean before PCA and projection (PCA assumes it).
    scale: also divide each centred domain by its RMS row norm (one scalar per domain, so
        the principal directions are unchanged; removes a global scale shift between the
        domains).

    Attributes after :meth:`fit`: ``basis_s_``, ``basis_t_`` (``D x d``), ``M_`` (``d x d``),
    ``mean_s_``, ``mean_t_``, ``scale_s_``, ``scale_t_``, ``eigvals_s_``, ``eigvals_t_``.
    """

    def __init__(self, d: int, *, center: bool = True, scale: bool = True):
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            raise TypeError(f"d must be an integer, got {d!r}")
        if d < 1:
            raise ValueError(f"d must be >= 1, got d={d}")
        self.d = int(d)
        self.center = bool(center)
        self.scale = bool(scale)

    # fitting
    def fit(self, Xs, Xt) -> "SubspaceAlignment":
        """Learn both PCA subspaces and the alignment ``M``; uses no labels at all."""
        Xs = _as_features(Xs, "source features")
        Xt = _as_features(Xt, "target features")
        _check_same_dim(Xs, Xt)
        limit = min(Xs.shape[0], Xt.shape[0], Xs.shape[1])
        if self.d > limit:
            raise ValueError(
                f"d={self.d} is larger than min(N, D) = {limit} for source features of shape "
                f"{Xs.shape} and target features of shape {Xt.shape}; choose d <= {limit}")
        Zs, self.mean_s_, self.scale_s_ = _normalise(Xs, self.center, self.scale)
        Zt, self.mean_t_, self.scale_t_ = _normalise(Xt, self.center, self.scale)
        self.basis_s_, self.eigvals_s_ = pca_basis(Zs, self.d)
        self.basis_t_, self.eigvals_t_ = pca_basis(Zt, self.d)
        self.M_ = self.basis_s_.T @ self.basis_t_
        self.n_features_in_ = Xs.shape[1]
        return self

    def truncated(self, d: int) -> "SubspaceAlignment":
        """A fitted copy that keeps only the first ``d`` principal directions.

        PCA subspaces are nested, so this equals ``SubspaceAlignment(d).fit(...)`` on the
        same data, without recomputing the SVDs (used to scan many ``d`` cheaply).
        """
        self._check_fitted()
        if not 1 <= d <= self.d:
            raise ValueError(f"truncated(d={d}) needs 1 <= d <= {self.d} (the fitted d)")
        new = SubspaceAlignment(d, center=self.center, scale=self.scale)
        for name in ("mean_s_", "mean_t_", "scale_s_", "scale_t_", "eigvals_s_", "eigvals_t_",
                     "n_features_in_"):
            setattr(new, name, getattr(self, name))
        new.basis_s_ = self.basis_s_[:, :d].copy()
        new.basis_t_ = self.basis_t_[:, :d].copy()
        new.M_ = new.basis_s_.T @ new.basis_t_
        return new

    # transforming
    def _check_fitted(self) -> None:
        if not hasattr(self, "M_"):
            raise RuntimeError("SubspaceAlignment is not fitted yet: call fit(Xs, Xt) first")

    def _check_input(self, X, name: str) -> np.ndarray:
        self._check_fitted()
        X = _as_features(X, name)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{name} have D={X.shape[1]} columns but the alignment was fitted on "
                f"D={self.n_features_in_}")
        return X

    def transform_source(self, Xs) -> np.ndarray:
        """Source rows in the target-aligned source subspace: ``norm_s(Xs) X_S M`` (N x d)."""
        Xs = self._check_input(Xs, "source features")
        return ((Xs - self.mean_s_) / self.scale_s_) @ (self.basis_s_ @ self.M_)

    def transform_target(self, Xt) -> np.ndarray:
        """Target rows in the target subspace: ``norm_t(Xt) X_T`` (N x d)."""
        Xt = self._check_input(Xt, "target features")
        return ((Xt - self.mean_t_) / self.scale_t_) @ self.basis_t_

    def fit_transform(self, Xs, Xt) -> tuple[np.ndarray, np.ndarray]:
        """``fit`` then return ``(transform_source(Xs), transform_target(Xt))``."""
        self.fit(Xs, Xt)
        return self.transform_source(Xs), self.transform_target(Xt)

    def __repr__(self) -> str:
        return f"SubspaceAlignment(d={self.d}, center={self.center}, scale={self.scale})"


# -- choosing d --------------------------------------------------------------------------
def fernando_d_max(eigvals_s: np.ndarray, eigvals_t: np.ndarray, n_min: int, *,
                   gamma: float = 1e5, delta: float = 0.1, d_upper: int | None = None) -> int:
    """Largest ``d`` that passes Fernando et al.'s stability condition (0 if none does).

    ``eigvals_*`` are the covariance eigenvalues (decreasing) of data rescaled so that every
    row has norm <= 1; ``lambda_{d+1}`` is taken as 0 past the last eigenvalue. The condition,
    for both domains, is::

        lambda_d - lambda_{d+1} >= (1 + sqrt(ln(2/delta)/2)) * 16 d^{3/2} / (gamma sqrt(n_min))
    """
    if gamma <= 0 or not 0 < delta < 1:
        raise ValueError(f"need gamma > 0 and 0 < delta < 1, got gamma={gamma}, delta={delta}")
    if n_min < 1:
        raise ValueError(f"n_min must be >= 1, got {n_min}")
    top = min(len(eigvals_s), len(eigvals_t))
    if d_upper is not None:
        top = min(top, d_upper)
    ls = np.append(np.asarray(eigvals_s, float), 0.0)
    lt = np.append(np.asarray(eigvals_t, float), 0.0)
    const = (1.0 + math.sqrt(math.log(2.0 / delta) / 2.0)) * 16.0 / (gamma * math.sqrt(n_min))
    d_max = 0
    for d in range(1, top + 1):
        gap = min(ls[d - 1] - ls[d], lt[d - 1] - lt[d])
        if gap >= const * d ** 1.5:
            d_max = d
    return d_max


@dataclass
class DSelection:
    """What :func:`select_d` chose and why.

    ``d``: the chosen dimension; ``scores``: label-free score of every candidate ``d``
    (source CV accuracy, or reverse-validation accuracy); ``criterion``; ``d_max``: the
    stability bound's cap (``None`` for reverse validation); ``candidates``: the ``d`` tried.
    """
    d: int
    scores: dict[int, float]
    criterion: str
    d_max: int | None
    candidates: list[int] = field(default_factory=list)


def _fit_quiet(clf, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


def select_d(features_src, y_src, features_tgt, *, d_range: tuple[int, int] = (2, 60),
             criterion: str = "fernando", gamma: float = 1e5, delta: float = 0.1,
             n_folds: int = 2, classifier=None, center: bool = True, scale: bool = True,
             max_samples: int | None = 10000, seed: int = 0) -> DSelection:
    """Choose SA's subspace dimension ``d`` from ``d_range`` **without target labels**.

    The signature takes no target labels on purpose; only target *features* enter (SA is
    unsupervised on the target side).

    criterion:
        ``"fernando"`` (default): Fernando et al.'s stability bound caps ``d`` at ``d_max``
        (:func:`fernando_d_max`, with ``gamma``/``delta``), then the ``d`` in
        ``[d_lo, max(d_lo, min(d_hi, d_max))]`` with the best ``n_folds``-fold stratified
        cross-validated accuracy on the *aligned source* wins (ties: smallest ``d``).
        ``"reverse_validation"``: for every ``d`` in ``d_range``, split the source 50/50,
        fit SA on (source-train, target), train on aligned source-train, pseudo-label the
        projected target, train a reverse classifier on it and score that on the aligned
        source-validation half; best score wins (ties: smallest ``d``).
    d_range: inclusive ``(d_lo, d_hi)``; ``d_hi`` is clipped to ``min(N_s, N_t, D)``.
    classifier: scikit-learn estimator used for the scores (cloned); default
        ``StandardScaler -> DenseLinearSVC(C=1)``.
    max_samples: rows of each domain used (random subsample) to keep the scan fast.
    """
    Xs = _as_features(features_src, "source features")
    Xt = _as_features(features_tgt, "target features")
    ys = _as_labels(y_src, Xs.shape[0], "source labels")
    _check_same_dim(Xs, Xt)
    _check_two_classes(ys, "source labels")
    if criterion not in ("fernando", "reverse_validation"):
        raise ValueError(f"unknown criterion {criterion!r}; use 'fernando' or 'reverse_validation'")
    d_lo, d_hi = (int(v) for v in d_range)
    if d_lo < 1 or d_hi < d_lo:
        raise ValueError(f"d_range must be (d_lo, d_hi) with 1 <= d_lo <= d_hi, got {d_range}")
    rng = np.random.default_rng(seed)
    Xs_idx = _subsample(rng, Xs.shape[0], max_samples)
    Xs, ys = Xs[Xs_idx], ys[Xs_idx]
    Xt = Xt[_subsample(rng, Xt.shape[0], max_samples)]
    limit = min(Xs.shape[0], Xt.shape[0], Xs.shape[1])
    if d_lo > limit:
        raise ValueError(
            f"d_range starts at d={d_lo}, larger than min(N, D) = {limit} for source features "
            f"{Xs.shape} and target features {Xt.shape}")
    d_hi = min(d_hi, limit)
    probe = classifier if classifier is not None else linear_svm(1.0, seed=seed)

    if criterion == "fernando":
        sa = SubspaceAlignment(d_hi, center=center, scale=scale).fit(Xs, Xt)
        # rescale both domains so that every row has norm <= 1 (B = 1 in the bound)
        Zs = (Xs - sa.mean_s_) / sa.scale_s_
        Zt = (Xt - sa.mean_t_) / sa.scale_t_
        B2 = max(float(np.max(np.sum(Zs * Zs, axis=1))), float(np.max(np.sum(Zt * Zt, axis=1))))
        B2 = B2 if B2 > 0 else 1.0
        d_max = fernando_d_max(sa.eigvals_s_ / B2, sa.eigvals_t_ / B2,
                               min(Xs.shape[0], Xt.shape[0]), gamma=gamma, delta=delta,
                               d_upper=d_hi)
        top = max(d_lo, min(d_hi, d_max))
        candidates = list(range(d_lo, top + 1))
        counts = np.bincount(np.unique(ys, return_inverse=True)[1])
        folds = int(min(n_folds, counts.min()))
        if folds < 2:
            raise ValueError(
                "source cross-validation needs at least 2 examples of every source class; "
                f"class counts are {counts.tolist()}")
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        splits = list(cv.split(Xs, ys))
        scores = {}
        for d in candidates:
            Za = sa.truncated(d).transform_source(Xs)
            accs = []
            for tr, te in splits:
                clf = _fit_quiet(clone(probe), Za[tr], ys[tr])
                accs.append(float(np.mean(clf.predict(Za[te]) == ys[te])))
            scores[d] = float(np.mean(accs))
    else:
        d_max = None
        counts = np.bincount(np.unique(ys, return_inverse=True)[1])
        tr, va = train_test_split(np.arange(Xs.shape[0]), test_size=0.5, random_state=seed,
                                  stratify=ys if counts.min() >= 2 else None)
        if np.unique(ys[tr]).size < 2:
            raise ValueError("reverse validation: the source training half has a single class")
        limit_rv = min(len(tr), Xt.shape[0], Xs.shape[1])
        if d_lo > limit_rv:
            raise ValueError(
                f"reverse validation fits SA on half the source ({len(tr)} rows): d_range "
                f"starts at d={d_lo} > min(N, D) = {limit_rv}")
        candidates = list(range(d_lo, min(d_hi, limit_rv) + 1))
        sa = SubspaceAlignment(candidates[-1], center=center, scale=scale).fit(Xs[tr], Xt)
        scores = {}
        for d in candidates:
            sub = sa.truncated(d)
            Za_tr = sub.transform_source(Xs[tr])
            Za_va = sub.transform_source(Xs[va])
            Zt = sub.transform_target(Xt)
            fwd = _fit_quiet(clone(probe), Za_tr, ys[tr])
            pseudo = fwd.predict(Zt)
            if np.unique(pseudo).size < 2:   # reverse classifier would be constant
                pred_va = np.full(len(va), pseudo[0])
            else:
                pred_va = _fit_quiet(clone(probe), Zt, pseudo).predict(Za_va)
            scores[d] = float(np.mean(pred_va == ys[va]))
    best = max(scores.values())
    d_star = min(d for d, s in scores.items() if s >= best - 1e-12)
    return DSelection(d=int(d_star), scores=scores, criterion=criterion, d_max=d_max,
                      candidates=candidates)


class SAResult(NamedTuple):
    """Result of :func:`subspace_alignment_accuracy`."""
    d: int
    target_accuracy: float | None
    classifier: Pipeline
    alignment: SubspaceAlignment
    selection: DSelection | None
    target_pred: np.ndarray


def subspace_alignment_accuracy(features_src, y_src, features_tgt, y_tgt=None, *,
                                d: int | None = None, criterion: str = "fernando",
                                C_grid: Sequence[float] = DEFAULT_C_GRID, seed: int = 0,
                                center: bool = True, scale: bool = True,
                                **select_kwargs) -> SAResult:
    """The SA row of Table 1: align, retrain a linear SVM on the aligned source, predict target.

    ``d=None`` chooses ``d`` with :func:`select_d` (no target labels; extra keyword
    arguments go to it). ``y_tgt`` is used only to *score* the final predictions; leave it
    out for a purely unsupervised run (``target_accuracy`` is then ``None``). The SVM is
    :func:`retrain_last_layer_svm` on the aligned features (``C`` from ``C_grid`` chosen on
    held-out source).
    """
    Xs = _as_features(features_src, "source features")
    Xt = _as_features(features_tgt, "target features")
    ys = _as_labels(y_src, Xs.shape[0], "source labels")
    _check_same_dim(Xs, Xt)
    selection = None
    if d is None:
        selection = select_d(Xs, ys, Xt, criterion=criterion, seed=seed, center=center,
                             scale=scale, **select_kwargs)
        d = selection.d
    sa = SubspaceAlignment(d, center=center, scale=scale).fit(Xs, Xt)
    res = retrain_last_layer_svm(sa.transform_source(Xs), ys, sa.transform_target(Xt), y_tgt,
                                 C_grid=C_grid, seed=seed)
    return SAResult(d=int(d), target_accuracy=res.target_accuracy, classifier=res.classifier,
                    alignment=sa, selection=selection, target_pred=res.target_pred)


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
    C_grid = [float(c) for c in C_grid]
    if not C_grid or any(not (c > 0 and math.isfinite(c)) for c in C_grid):
        raise ValueError(f"C_grid must be a non-empty list of positive numbers, got {C_grid}")
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
