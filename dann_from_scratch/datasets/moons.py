"""The inter-twinning moons toy problem of Ganin et al., JMLR 2016, sec. 5.1.1.

Source: two classes of 150 points each from scikit-learn's ``make_moons`` with noise 0.05.
Target: a fresh sample of the same distribution rotated by 35 degrees. These are points in
the plane, not images.
"""
from __future__ import annotations

import numpy as np

__all__ = ["make_two_moons", "MOONS_CENTRE", "rotate"]

# Centre of the noise-free moons layout (upper arc centred at (0, 0), lower at (1, 0.5), both
# radius 1): the rotation pivots here so the target stays where the source is.
MOONS_CENTRE = np.array([0.5, 0.25])


def rotate(points: np.ndarray, angle_deg: float, centre=MOONS_CENTRE) -> np.ndarray:
    """Rotate 2-D ``points`` counter-clockwise by ``angle_deg`` about ``centre``."""
    a = np.deg2rad(angle_deg)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (points - centre) @ r.T + centre


def make_two_moons(
    n_per_class: int = 150, noise: float = 0.05, angle_deg: float = 35, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source and rotated target samples of the two-moons problem.

    The source is ``make_moons`` with ``n_per_class`` points per class and Gaussian
    ``noise``, drawn with random state ``seed``; the target is an independent draw (random
    state ``seed + 1``) rotated counter-clockwise by ``angle_deg`` about
    :data:`MOONS_CENTRE`. Labels: 0 for the upper moon, 1 for the lower.

    Returns ``(Xs, ys, Xt, yt)``: float32 (2n, 2), int64 (2n,), float32 (2n, 2), int64 (2n,).
    ``yt`` is for evaluation only; an unsupervised method must not train on it.
    """
    from sklearn.datasets import make_moons  # deferred: sklearn import is slow

    xs, ys = make_moons(n_samples=(n_per_class, n_per_class), noise=noise, random_state=seed)
    xt, yt = make_moons(n_samples=(n_per_class, n_per_class), noise=noise, random_state=seed + 1)
    xt = rotate(xt, angle_deg)
    return xs.astype(np.float32), ys.astype(np.int64), xt.astype(np.float32), yt.astype(np.int64)
