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
by hand as in (4)-(6), with the same momentum rule as :class:`minigrad.optim.SGD`
(``v <- m v + mu (g + wd theta); theta <- theta - v``). The paper's central claim is that a GRL
(identity forward, ``-lambda`` backward) inserted before G_d makes one ordinary backward pass
of ``L_y + L_d`` produce exactly these updates. ``tests/test_trainers.py`` checks it: from the
same seed and the same batches, :func:`train_saddle` and :func:`dann_from_scratch.trainers.train`
end with the same parameters (up to float32 round-off).
"""
from __future__ import annotations

import numpy as np

from minigrad import backend
from minigrad.tensor import no_grad

from .trainers import TrainConfig, _domain_accuracy, dann_losses, training_loop

__all__ = ["SaddlePointUpdater", "train_saddle"]


def _collect_grads(params) -> list:
    """The current ``.grad`` of every parameter (zeros where none arrived), then clear them."""
    grads = []
    for p in params:
        g = p.grad if p.grad is not None else backend.get_array_module(p.data).zeros_like(p.data)
        grads.append(g)
        p.grad = None
    return grads


class SaddlePointUpdater:
    """Applies (4)-(6) by hand, keeping one momentum buffer per parameter."""

    name = "saddle"

    def __init__(self, model, config: TrainConfig):
        self.model = model
        self.theta_f = model.feature_extractor.parameters()
        self.theta_y = model.label_predictor.parameters()
        self.theta_d = model.domain_classifier.parameters()
        self.params = self.theta_f + self.theta_y + self.theta_d
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("SaddlePointUpdater: G_f, G_y and G_d must not share parameters")
        self.momentum, self.weight_decay = config.momentum, config.weight_decay
        self.velocity = [None] * len(self.params)   # same layout as minigrad's SGD
        self.steps_done = 0

    def step(self, batch, lambda_: float, lr: float) -> dict:
        for p in self.params:
            p.grad = None
        # One forward pass; G_d reads the features directly (no gradient reversal).
        label_loss, domain_loss, domain_logits = dann_losses(self.model, batch,
                                                             reverse_gradient=False)
        # Backward pass 1: dL_y/dtheta (reaches theta_f and theta_y; nothing reaches theta_d).
        label_loss.backward(retain_graph=True)
        g_y = _collect_grads(self.params)
        # Backward pass 2: dL_d/dtheta (reaches theta_f and theta_d).
        domain_loss.backward()
        g_d = _collect_grads(self.params)

        n_f, n_y = len(self.theta_f), len(self.theta_y)
        with no_grad():
            for i, p in enumerate(self.params):
                if i < n_f:                      # (4): G_f descends L_y and ascends L_d
                    lam = g_d[i].dtype.type(lambda_)
                    grad = g_y[i] - lam * g_d[i]
                elif i < n_f + n_y:              # (5): G_y descends L_y
                    grad = g_y[i]
                else:                            # (6): G_d descends L_d (weight 1)
                    grad = g_d[i]
                self._sgd_momentum(i, p, grad, lr)
        self.steps_done += 1
        return {"label_loss": label_loss.item(), "domain_loss": domain_loss.item(),
                "domain_acc": _domain_accuracy(domain_logits, batch.domains)}

    def _sgd_momentum(self, i, p, grad, lr):
        """theta <- theta - v, v <- m v + mu (grad + wd theta): Caffe's rule, as in SGD."""
        if self.weight_decay:
            grad = grad + self.weight_decay * p.data
        if self.momentum:
            if self.velocity[i] is None:
                self.velocity[i] = lr * grad
            else:
                self.velocity[i] *= self.momentum
                self.velocity[i] += lr * grad
            p.data -= self.velocity[i]
        else:
            p.data -= lr * grad

    # -- checkpoints: the same layout as minigrad's SGD.state_dict()
    def state_dict(self) -> dict:
        state = {"steps_done": np.asarray(self.steps_done)}
        for i, v in enumerate(self.velocity):
            if v is not None:
                state[f"velocity.{i}"] = backend.to_numpy(v).copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.steps_done = int(state["steps_done"])
        for i, p in enumerate(self.params):
            key = f"velocity.{i}"
            self.velocity[i] = (backend.to_device(np.array(state[key], dtype=p.dtype), p.device)
                                if key in state else None)


def train_saddle(model, source, target, config: TrainConfig | None = None, **kwargs) -> dict:
    """Train DANN with the explicit updates (4)-(6) instead of a GRL.

    Same arguments and history as :func:`dann_from_scratch.trainers.train` (``config.method``
    is normally "dann"; with "source_only"/"target_only" lambda is 0 and G_d is a probe).
    Checkpoints written by this trainer resume only with this trainer.
    """
    return training_loop(model, source, target, config, SaddlePointUpdater, **kwargs)
