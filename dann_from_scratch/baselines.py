"""The non-DANN baseline of Table 1: subspace alignment, with ``d`` chosen without target
labels. (The other ingredient, last-layer SVM retraining, is :mod:`~dann_from_scratch.linear_svm`;
its names are importable from here too.)

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
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from .linear_svm import (DEFAULT_C_GRID, DenseLinearSVC, SVMResult, _as_features, _as_labels,
                         _check_same_dim, _check_two_classes, _fit_quiet, _subsample, linear_svm,
                         retrain_last_layer_svm)

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
    if criterion not in ("fernando", "reverse_validation"):
        raise ValueError(f"unknown criterion {criterion!r}; use 'fernando' or 'reverse_validation'")
    Xs, ys, Xt, d_lo, d_hi = _scan_inputs(features_src, y_src, features_tgt, d_range,
                                          max_samples, seed)
    probe = classifier if classifier is not None else linear_svm(1.0, seed=seed)
    if criterion == "fernando":
        d_max, scores = _fernando_scores(Xs, ys, Xt, (d_lo, d_hi), probe, gamma=gamma,
                                         delta=delta, n_folds=n_folds, center=center,
                                         scale=scale, seed=seed)
    else:
        d_max, scores = None, _reverse_validation_scores(Xs, ys, Xt, (d_lo, d_hi), probe,
                                                         center=center, scale=scale, seed=seed)
    best = max(scores.values())
    d_star = min(d for d, s in scores.items() if s >= best - 1e-12)
    return DSelection(d=int(d_star), scores=scores, criterion=criterion, d_max=d_max,
                      candidates=list(scores))


def _scan_inputs(features_src, y_src, features_tgt, d_range, max_samples, seed):
    """The checked inputs of :func:`select_d`, subsampled to ``max_samples`` rows a domain,
    and ``d_range`` clipped to ``min(N, D)``: ``(Xs, ys, Xt, d_lo, d_hi)``."""
    Xs = _as_features(features_src, "source features")
    Xt = _as_features(features_tgt, "target features")
    ys = _as_labels(y_src, Xs.shape[0], "source labels")
    _check_same_dim(Xs, Xt)
    _check_two_classes(ys, "source labels")
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
    return Xs, ys, Xt, d_lo, min(d_hi, limit)


def _fernando_scores(Xs, ys, Xt, d_range, probe, *, gamma, delta, n_folds, center, scale,
                     seed) -> tuple[int, dict[int, float]]:
    """``criterion="fernando"``: the stability bound's ``d_max`` and the source
    cross-validated accuracy of every ``d`` up to it."""
    d_lo, d_hi = d_range
    sa = SubspaceAlignment(d_hi, center=center, scale=scale).fit(Xs, Xt)
    # rescale both domains so that every row has norm <= 1 (B = 1 in the bound)
    Zs = (Xs - sa.mean_s_) / sa.scale_s_
    Zt = (Xt - sa.mean_t_) / sa.scale_t_
    B2 = max(float(np.max(np.sum(Zs * Zs, axis=1))), float(np.max(np.sum(Zt * Zt, axis=1))))
    B2 = B2 if B2 > 0 else 1.0
    d_max = fernando_d_max(sa.eigvals_s_ / B2, sa.eigvals_t_ / B2,
                           min(Xs.shape[0], Xt.shape[0]), gamma=gamma, delta=delta,
                           d_upper=d_hi)
    counts = np.bincount(np.unique(ys, return_inverse=True)[1])
    folds = int(min(n_folds, counts.min()))
    if folds < 2:
        raise ValueError(
            "source cross-validation needs at least 2 examples of every source class; "
            f"class counts are {counts.tolist()}")
    splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(Xs, ys))
    scores = {}
    for d in range(d_lo, max(d_lo, min(d_hi, d_max)) + 1):
        Za = sa.truncated(d).transform_source(Xs)
        accs = []
        for tr, te in splits:
            clf = _fit_quiet(clone(probe), Za[tr], ys[tr])
            accs.append(float(np.mean(clf.predict(Za[te]) == ys[te])))
        scores[d] = float(np.mean(accs))
    return d_max, scores


def _reverse_validation_scores(Xs, ys, Xt, d_range, probe, *, center, scale,
                               seed) -> dict[int, float]:
    """``criterion="reverse_validation"``: the reverse-validation accuracy of every ``d``."""
    d_lo, d_hi = d_range
    counts = np.bincount(np.unique(ys, return_inverse=True)[1])
    tr, va = train_test_split(np.arange(Xs.shape[0]), test_size=0.5, random_state=seed,
                              stratify=ys if counts.min() >= 2 else None)
    if np.unique(ys[tr]).size < 2:
        raise ValueError("reverse validation: the source training half has a single class")
    limit = min(len(tr), Xt.shape[0], Xs.shape[1])
    if d_lo > limit:
        raise ValueError(
            f"reverse validation fits SA on half the source ({len(tr)} rows): d_range "
            f"starts at d={d_lo} > min(N, D) = {limit}")
    candidates = list(range(d_lo, min(d_hi, limit) + 1))
    sa = SubspaceAlignment(candidates[-1], center=center, scale=scale).fit(Xs[tr], Xt)
    scores = {}
    for d in candidates:
        sub = sa.truncated(d)
        Za_tr, Za_va = sub.transform_source(Xs[tr]), sub.transform_source(Xs[va])
        Zt = sub.transform_target(Xt)
        pseudo = _fit_quiet(clone(probe), Za_tr, ys[tr]).predict(Zt)
        if np.unique(pseudo).size < 2:   # reverse classifier would be constant
            pred_va = np.full(len(va), pseudo[0])
        else:
            pred_va = _fit_quiet(clone(probe), Zt, pseudo).predict(Za_va)
        scores[d] = float(np.mean(pred_va == ys[va]))
    return scores


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
