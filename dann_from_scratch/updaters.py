"""One training step, two ways: with the gradient reversal layer, and with the saddle-point
updates (4)-(6) written out.

Both minimise ``L = L_y + L_d`` in the paper's sense (eq. 9 in its GRL form): ``L_y`` is the
cross-entropy of G_y on the labelled rows of the batch, ``L_d`` the logistic loss of G_d on
all rows (source = domain 0, target = domain 1). Both end with one step of minigrad's SGD
(Caffe's momentum rule ``v <- m v + mu (g + wd theta); theta <- theta - v``); they differ in
how the gradient that SGD applies is formed:

* :class:`GRLUpdater` feeds G_d through ``R_lambda(f)``: the GRL hands G_d the gradient of L_d
  unchanged and hands G_f ``-lambda * dL_d/df`` (eqs. 7-8), so one backward pass of
  ``L_y + L_d`` gives the gradients of (4)-(6);
* :class:`SaddlePointUpdater` has no GRL in the graph: two backward passes (L_y, then L_d),
  and the gradients of (4)-(6) combined by hand (see :mod:`dann_from_scratch.saddle`).

An updater is made by ``updater_cls(model, config)`` and has ``step(batch, lambda_, lr)``
(returns the step's losses and domain accuracy), ``state_dict()``/``load_state_dict()`` (its
SGD state, for checkpoints) and a ``name`` that checkpoints record.
"""
from __future__ import annotations

from minigrad import backend, ops, optim

from .batches import Batch
from .config import TrainConfig

__all__ = ["dann_losses", "domain_accuracy", "GRLUpdater", "SaddlePointUpdater"]


def dann_losses(model, batch: Batch, reverse_gradient: bool = True):
    """L_y, L_d and the domain logits of one batch.

    f = G_f(x) for all rows; L_y = cross-entropy of G_y(f[label rows]); L_d = logistic loss
    of G_d on all rows, fed through the GRL (``reverse_gradient=True``) or on f directly
    (the saddle-point updater, which applies lambda itself).
    """
    f = model.features(batch.x)
    class_logits = model.label_predictor(f[batch.label_rows])
    domain_logits = model.domain_classifier(model.grl(f) if reverse_gradient else f)
    label_loss = ops.cross_entropy(class_logits, batch.labels)
    domain_loss = ops.binary_cross_entropy_with_logits(domain_logits, batch.domains)
    return label_loss, domain_loss, domain_logits


def domain_accuracy(domain_logits, domains) -> float:
    """How often G_d tells the domain of a row right (logit > 0 means "target")."""
    pred = domain_logits.data > 0
    return float((pred == (domains > 0.5)).mean())


class _SGDUpdater:
    """What both updaters share: an SGD optimizer over ``params``, whose state is theirs."""

    name = ""

    def __init__(self, model, config: TrainConfig, params):
        self.model = model
        self.optimizer = optim.SGD(params, lr=config.lr, momentum=config.momentum,
                                   weight_decay=config.weight_decay)

    def _sgd_step(self, lr: float) -> None:
        self.optimizer.lr = lr                        # mu_p, computed by the loop
        self.optimizer.step()

    @staticmethod
    def _logs(label_loss, domain_loss, domain_logits, batch: Batch) -> dict:
        return {"label_loss": label_loss.item(), "domain_loss": domain_loss.item(),
                "domain_acc": domain_accuracy(domain_logits, batch.domains)}

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)


class GRLUpdater(_SGDUpdater):
    """The DANN step with the gradient reversal layer: one backward pass of L_y + L_d through
    R_lambda, then one SGD step."""

    name = "grl"

    def __init__(self, model, config: TrainConfig):
        super().__init__(model, config, model.parameters())

    def step(self, batch: Batch, lambda_: float, lr: float) -> dict:
        # Building blocks: model.grl.lambda_, dann_losses, self._sgd_step(lr), self._logs(...).
        # BEGIN SOLUTION A5.3
        self.model.grl.lambda_ = lambda_              # R_lambda for this step (eq. 8)
        self.optimizer.zero_grad()
        label_loss, domain_loss, domain_logits = dann_losses(self.model, batch)
        (label_loss + domain_loss).backward()         # one pass: eqs. (4)-(6) via the GRL
        self._sgd_step(lr)
        return self._logs(label_loss, domain_loss, domain_logits, batch)
        # END SOLUTION


def _take_grads(params) -> list:
    """The current ``.grad`` of every parameter (zeros where none arrived), then clear them."""
    grads = []
    for p in params:
        g = p.grad if p.grad is not None else backend.get_array_module(p.data).zeros_like(p.data)
        grads.append(g)
        p.grad = None
    return grads


class SaddlePointUpdater(_SGDUpdater):
    """The DANN step without a GRL: two backward passes, the gradients of (4)-(6) combined by
    hand, then one SGD step over theta_f, theta_y and theta_d (in that order: the layout of
    its checkpointed momentum buffers)."""

    name = "saddle"

    def __init__(self, model, config: TrainConfig):
        self.theta_f = model.feature_extractor.parameters()
        self.theta_y = model.label_predictor.parameters()
        self.theta_d = model.domain_classifier.parameters()
        self.params = self.theta_f + self.theta_y + self.theta_d
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("SaddlePointUpdater: G_f, G_y and G_d must not share parameters")
        super().__init__(model, config, self.params)

    def step(self, batch: Batch, lambda_: float, lr: float) -> dict:
        # Building blocks: dann_losses(..., reverse_gradient=False), backward(retain_graph=True),
        # _take_grads, self._combined, self._sgd_step(lr), self._logs(...).
        # BEGIN SOLUTION A5.4
        self.optimizer.zero_grad()
        # One forward pass; G_d reads the features directly (no gradient reversal).
        label_loss, domain_loss, domain_logits = dann_losses(self.model, batch,
                                                             reverse_gradient=False)
        # Backward pass 1: dL_y/dtheta (reaches theta_f and theta_y; nothing reaches theta_d).
        label_loss.backward(retain_graph=True)
        g_y = _take_grads(self.params)
        # Backward pass 2: dL_d/dtheta (reaches theta_f and theta_d).
        domain_loss.backward()
        g_d = _take_grads(self.params)
        for p, grad in zip(self.params, self._combined(g_y, g_d, lambda_)):
            p.grad = grad                    # what SGD applies, with its momentum rule
        self._sgd_step(lr)
        return self._logs(label_loss, domain_loss, domain_logits, batch)
        # END SOLUTION

    def _combined(self, g_y: list, g_d: list, lambda_: float) -> list:
        """The gradient each parameter descends in (4)-(6)."""
        # BEGIN SOLUTION A5.4
        n_f, n_y = len(self.theta_f), len(self.theta_y)
        grads = []
        for i in range(len(self.params)):
            if i < n_f:                      # (4): G_f descends L_y and ascends L_d
                lam = g_d[i].dtype.type(lambda_)
                grads.append(g_y[i] - lam * g_d[i])
            elif i < n_f + n_y:              # (5): G_y descends L_y
                grads.append(g_y[i])
            else:                            # (6): G_d descends L_d (weight 1)
                grads.append(g_d[i])
        return grads
        # END SOLUTION
