"""A6.3: what the t-SNE figure (the paper's Figure 3) shows, and a number for it.

* :func:`embed` - G_f features of source and target inputs (your
  :func:`dann_from_scratch.evaluation.predict_features`), embedded together in 2-D by
  scikit-learn's t-SNE (through :func:`dann_from_scratch.plots.tsne_embed`);
* :func:`neighbour_mixing` - **you write its body** (task A6.3): how mixed the two domains
  are, as the average share of each point's k nearest neighbours that come from the *other*
  domain. About 0.5 when the domains are indistinguishable (equal sample sizes), 0 when they
  form separate clusters. It works on any 2-D point sets: the t-SNE map, or the features.
"""
from __future__ import annotations

import numpy as np

__all__ = ["embed", "neighbour_mixing"]


def embed(model, x_source, x_target, *, max_points: int = 300, seed: int = 0,
          max_iter: int = 500):
    """``(emb_source, emb_target)``: the t-SNE map of the features of both domains."""
    from dann_from_scratch.evaluation import predict_features
    from dann_from_scratch.plots import tsne_embed

    f_s, f_t = predict_features(model, x_source), predict_features(model, x_target)
    return tsne_embed(f_s, f_t, max_points=max_points, seed=seed, max_iter=max_iter, n_threads=1)


def neighbour_mixing(points_source, points_target, k: int = 10) -> float:
    """Mean, over all points of both sets, of the fraction of the point's ``k`` nearest
    neighbours (Euclidean; the point itself excluded - by position, not by distance, so a
    duplicate point from the other domain counts as a neighbour) that belong to the other
    domain. A float in [0, 1]. ``ValueError`` unless both inputs are 2-D arrays with the same
    number of columns, each with at least one row, and 1 <= k <= (total rows - 1).
    """
    # Pairwise squared distances (N, N); the diagonal (each point to itself) set to +inf;
    # np.argpartition finds the k smallest of each row without sorting all of them.
    # BEGIN SOLUTION A6.3
    a, b = np.asarray(points_source, np.float64), np.asarray(points_target, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or not len(a) or not len(b):
        raise ValueError(f"neighbour_mixing: need two non-empty 2-D arrays with the same number "
                         f"of columns, got shapes {a.shape} and {b.shape}")
    points = np.concatenate([a, b])
    n = len(points)
    if not 1 <= k <= n - 1:
        raise ValueError(f"neighbour_mixing: k must be in [1, {n - 1}] for {n} points, got {k}")
    domain = np.concatenate([np.zeros(len(a), bool), np.ones(len(b), bool)])
    sq = (points ** 2).sum(1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * points @ points.T
    np.fill_diagonal(d2, np.inf)
    nearest = np.argpartition(d2, k - 1, axis=1)[:, :k]
    other = domain[nearest] != domain[:, None]
    return float(other.mean())
    # END SOLUTION
