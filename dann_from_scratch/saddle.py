"""DANN without the gradient reversal layer: the saddle-point updates (4)-(6) written out.

The paper's objective (eq. 3) is

    E(theta_f, theta_y, theta_d) = L_y(theta_f, theta_y) - lambda * L_d(theta_f, theta_d)

(per-batch mean losses), and DANN looks for a saddle point: minimise over theta_f and theta_y,
maximise over theta_d. Its stochastic updates are

    (4)  theta_f <- theta_f - mu * (dL_y/dtheta_f - lambda * dL_d/dtheta_f)
    (5)  theta_y <- theta_y - mu * dL_y/dtheta_y
    (6)  theta_d <- theta_d - mu * dL_d/dtheta_d

Note on (6): G_d is trained with weight 1, as the GRL implies and as the paper's
implementation does - lambda scales only the gradient that reaches G_f. (Differentiating E
itself with respect to theta_d would scale G_d's step by lambda too; with lambda_p ramping up
from 0, that would leave G_d untrained early on.)

This trainer computes the two gradients separately - one forward pass, then one backward
pass of L_y and a second backward pass of L_d, with *no* GRL in the graph - and combines them
by hand as in (4)-(6) (:class:`~dann_from_scratch.updaters.SaddlePointUpdater`); then
:class:`minigrad.optim.SGD` applies them with the same momentum rule as the GRL trainer
(``v <- m v + mu (g + wd theta); theta <- theta - v``). The paper's central claim is that a GRL
(identity forward, ``-lambda`` backward) inserted before G_d makes one ordinary backward pass
of ``L_y + L_d`` produce exactly these updates. ``tests/test_trainers.py`` checks it: from the
same seed and the same batches, :func:`train_saddle` and :func:`dann_from_scratch.trainers.train`
end with the same parameters (up to float32 round-off).
"""
from __future__ import annotations

from .config import TrainConfig
from .training import training_loop
from .updaters import SaddlePointUpdater

__all__ = ["SaddlePointUpdater", "train_saddle"]


def train_saddle(model, source, target, config: TrainConfig | None = None, **kwargs) -> dict:
    """Train DANN with the explicit updates (4)-(6) instead of a GRL.

    Same arguments and history as :func:`dann_from_scratch.trainers.train` (``config.method``
    is normally "dann"; with "source_only"/"target_only" lambda is 0 and G_d is a probe).
    Checkpoints written by this trainer resume only with this trainer.
    """
    return training_loop(model, source, target, config, SaddlePointUpdater, **kwargs)
