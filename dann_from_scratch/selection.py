"""Choosing meta-parameters without target labels: the paper's section "Choosing
meta-parameters".

Two unsupervised signals judge a trained network: its accuracy on held-out *source
validation* images (high is good) and the error of its domain classifier G_d telling
held-out source from held-out (unlabelled) *target training* images (near 0.5 is good).
:func:`select_meta_parameters` turns them into a choice; target test labels never enter.
"""
from __future__ import annotations

from typing import Sequence

__all__ = ["SELECTION_RULE", "unsupervised_score", "select_meta_parameters"]

SELECTION_RULE = (
    "meta-parameters are chosen from the source validation accuracy (high is good) and the "
    "error of the domain classifier on held-out source vs held-out unlabelled target training "
    "images (near 0.5 is good), never from target test labels: keep the candidates within 1 "
    "point of the best source validation accuracy, take the one with the highest domain "
    "confusion min(e, 1 - e)")


def unsupervised_score(source_val_acc: float, domain_error: float) -> tuple[float, float]:
    """The two signals of the paper's "Choosing meta-parameters": (source validation accuracy,
    domain confusion). Domain confusion is ``min(e, 1 - e)`` of the domain classifier's balanced
    error e: 0.5 = the domains cannot be told apart (a classifier that is systematically wrong
    also separates them, hence the min)."""
    # BEGIN SOLUTION A6.4
    e = float(domain_error)
    return float(source_val_acc), min(e, 1.0 - e)
    # END SOLUTION


def select_meta_parameters(candidates: Sequence[dict], tolerance: float = 0.01) -> int:
    """Index of the winning candidate; each is a dict with ``source_val_acc`` and
    ``domain_error`` (never target accuracy). Rule: keep the candidates whose source
    validation accuracy is within ``tolerance`` of the best, and among those take the highest
    domain confusion (the paper: adaptation works best when the source error is low and the
    domain classifier's error high); ties go to the earlier candidate."""
    if not candidates:
        raise ValueError("select_meta_parameters: no candidates")
    # BEGIN SOLUTION A6.4
    scores = [unsupervised_score(c["source_val_acc"], c["domain_error"]) for c in candidates]
    best_acc = max(s[0] for s in scores)
    ok = [i for i, s in enumerate(scores) if s[0] >= best_acc - tolerance - 1e-12]
    return max(ok, key=lambda i: (scores[i][1], -i))
    # END SOLUTION
