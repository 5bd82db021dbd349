"""DANN as a scikit-learn classifier.

    clf = DANNClassifier(hidden=(15,), method="dann", steps=3000, lr=0.1,
                         lambda_schedule="constant", lambda_max=6.0)
    clf.fit(X_source, y_source, X_target)        # X_target: unlabelled target inputs
    clf.score(X_target_test, y_target_test)

Unlabelled target rows can also travel *inside* ``X`` with the label ``-1`` (the convention of
scikit-learn's semi-supervised estimators). That is what makes the estimator work in a
``Pipeline`` - a ``StandardScaler`` in front then scales source and target rows alike - and in
``cross_val_score``::

    X = np.vstack([X_source, X_target]); y = np.r_[y_source, -np.ones(len(X_target), int)]
    make_pipeline(StandardScaler(), DANNClassifier(...)).fit(X, y)

``score`` likewise ignores rows labelled -1. Every ``__init__`` argument is stored unchanged
(scikit-learn's rule), so ``clone``, ``get_params`` and ``set_params`` work; the work happens in
``fit``, which builds the network with :mod:`dann_from_scratch.models` and trains it with
:func:`dann_from_scratch.runs.train_run`, the run every entry point goes through (here on the
arrays given, without a checkpoint).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .inputs import check_finite
from .models import build_model, mlp_model
from .runs import train_run
from .trainers import TrainConfig, predict_features, predict_logits

__all__ = ["DANNClassifier", "UNLABELLED"]

#: label that marks a row of ``X`` as an unlabelled target example
UNLABELLED = -1


class DANNClassifier(ClassifierMixin, BaseEstimator):
    """Domain-adversarial neural network (Ganin & Lempitsky, 2015) with scikit-learn's API.

    architecture      "mlp" (a fully connected net sized from the data: ``hidden`` layers form
                      G_f, G_y is one linear layer, G_d has ``domain_hidden`` ReLU layers) or a
                      named network of :func:`~dann_from_scratch.models.build_model` ("moons",
                      "mnist", "svhn", "gtsrb"; ``model_kwargs`` go to its builder)
    hidden, domain_hidden, activation    sizes and nonlinearity of the "mlp" architecture
    method            "dann" or "source_only" (the same network without adaptation); the
                      settings that need target labels live in :mod:`~dann_from_scratch.trainers`
    steps, batch_size, lr, anneal_lr, lambda_schedule, lambda_max, gamma, momentum,
    weight_decay, mean_subtract, device, progress    as in :class:`TrainConfig`
    seed              seeds both the initial weights and the batch sampler

    Fitted attributes: ``classes_``, ``n_features_in_`` (for vectors), ``model_`` (the
    :class:`~dann_from_scratch.models.DANNModel`), ``history_`` (the training log).
    """

    def __init__(self, architecture="mlp", hidden=(15,), domain_hidden=(), activation="relu",
                 method="dann", steps=1000, batch_size=128, lr=0.01, anneal_lr=True,
                 lambda_schedule="paper", lambda_max=1.0, gamma=10.0, momentum=0.9,
                 weight_decay=0.0, mean_subtract=True, seed=0, device="cpu", progress=False,
                 model_kwargs=None):
        self.architecture = architecture
        self.hidden = hidden
        self.domain_hidden = domain_hidden
        self.activation = activation
        self.method = method
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.anneal_lr = anneal_lr
        self.lambda_schedule = lambda_schedule
        self.lambda_max = lambda_max
        self.gamma = gamma
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.mean_subtract = mean_subtract
        self.seed = seed
        self.device = device
        self.progress = progress
        self.model_kwargs = model_kwargs

    # -- fitting
    def _config(self) -> TrainConfig:
        if self.method not in ("dann", "source_only"):
            raise ValueError(f"DANNClassifier: method must be 'dann' or 'source_only', got "
                             f"{self.method!r} (use dann_from_scratch.trainers.train for the "
                             "target_only and semi_supervised settings)")
        return TrainConfig(method=self.method, steps=self.steps, batch_size=self.batch_size,
                           lr=self.lr, anneal_lr=self.anneal_lr,
                           lambda_schedule=self.lambda_schedule, lambda_max=self.lambda_max,
                           gamma=self.gamma, momentum=self.momentum,
                           weight_decay=self.weight_decay, mean_subtract=self.mean_subtract,
                           seed=self.seed, device=self.device, progress=self.progress)

    def _build(self, x, n_classes):
        if self.architecture == "mlp":
            if x.ndim != 2:
                raise ValueError(f"DANNClassifier: the 'mlp' architecture takes feature vectors "
                                 f"(n_samples, n_features), got X of shape {x.shape}")
            return mlp_model(x.shape[1], n_classes, hidden=self.hidden,
                             domain_hidden=self.domain_hidden, activation=self.activation,
                             rng=self.seed)
        model = build_model(self.architecture, rng=self.seed, **(self.model_kwargs or {}))
        if model.num_classes is not None and n_classes > model.num_classes:
            raise ValueError(f"DANNClassifier: the {self.architecture!r} network has "
                             f"{model.num_classes} outputs but y has {n_classes} classes")
        return model

    def fit(self, X, y, X_target=None):
        """Train on labelled source rows (X, y) and unlabelled target rows: ``X_target`` and/or
        the rows of ``X`` whose label is -1. Returns self."""
        x, y = np.asarray(X), np.asarray(y)
        check_finite(x, "DANNClassifier.fit: X")
        if X_target is not None:
            check_finite(X_target, "DANNClassifier.fit: X_target")
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"DANNClassifier.fit: y of shape {y.shape} does not match X of "
                             f"shape {x.shape}")
        unlabelled = y == UNLABELLED
        x_source, y_source = x[~unlabelled], y[~unlabelled]
        targets = [x[unlabelled]] if unlabelled.any() else []
        if X_target is not None:
            targets.append(np.asarray(X_target))
        if len(x_source) == 0:
            raise ValueError("DANNClassifier.fit: no labelled source rows (every label is -1)")
        if targets:
            x_target = np.concatenate(targets)
        elif self.method == "source_only":
            x_target = x_source          # nothing to adapt to; G_d only probes the features
        else:
            raise ValueError("DANNClassifier.fit: method 'dann' needs unlabelled target data: "
                             "pass X_target, or rows of X labelled -1")

        self.classes_, y_encoded = np.unique(y_source, return_inverse=True)
        if x.ndim == 2:
            self.n_features_in_ = x.shape[1]
        self.model_ = self._build(x, len(self.classes_))
        self.history_ = train_run(self.model_, (x_source, y_encoded), x_target,
                                  self._config()).history
        return self

    # -- prediction
    def predict_proba(self, X) -> np.ndarray:
        """Softmax of the class logits, columns in the order of ``classes_``."""
        check_is_fitted(self, "model_")
        logits = predict_logits(self.model_, np.asarray(X))[:, :len(self.classes_)]
        logits = logits - logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        logits = predict_logits(self.model_, np.asarray(X))[:, :len(self.classes_)]
        return self.classes_[logits.argmax(axis=1)]

    def transform(self, X) -> np.ndarray:
        """The features G_f(X) (the last hidden layer: what the domain classifier sees)."""
        check_is_fitted(self, "model_")
        return predict_features(self.model_, np.asarray(X))

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy on the rows whose label is not -1 (unlabelled target rows are skipped)."""
        y = np.asarray(y)
        keep = y != UNLABELLED
        if not keep.any():
            raise ValueError("DANNClassifier.score: every label is -1; nothing to score")
        sw = None if sample_weight is None else np.asarray(sample_weight)[keep]
        return super().score(np.asarray(X)[keep], y[keep], sample_weight=sw)
