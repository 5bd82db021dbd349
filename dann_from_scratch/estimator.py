"""DANN as a scikit-learn classifier (and transformer), speaking skada's domain convention.

    clf = DANNClassifier(hidden=(15,), method="dann", steps=3000, lr=0.1,
                         lambda_schedule="constant", lambda_max=6.0)
    clf.fit(X_source, y_source, X_target=X_target)   # X_target: unlabelled target inputs
    clf.score(X_target_test, y_target_test)

Which rows are unlabelled target rows is said explicitly, never read from a label value (so
labels such as {-1, +1} are two ordinary classes). There are two ways:

* ``X_target=``: an array of unlabelled target inputs, used whole. Under cross-validation
  scikit-learn cuts every fit parameter that has as many rows as ``X`` down to the fold; wrap
  the array as ``KeepWhole(X_target)`` there and every fold trains on all of it.
* ``sample_domain=`` (skada's convention): one integer per row of ``X``; rows with a negative
  domain are unlabelled target rows (their labels are ignored, e.g. masked with -1 as skada
  does), the others are labelled source rows. The target rows then travel with ``X`` through a
  ``Pipeline`` (a ``StandardScaler`` in front scales both domains alike) and through
  cross-validation folds. ``score`` skips target rows too, so cross-validated accuracy counts
  the labelled rows only. In cross-validation and grid search, turn on scikit-learn's metadata
  routing (``sklearn.set_config(enable_metadata_routing=True)``; importing skada does it):
  ``fit`` and ``score`` ask for ``sample_domain`` by default.

Outputs follow scikit-learn: ``predict_proba``, ``predict_log_proba``, ``decision_function`` and
``transform`` (the features G_f(x)) are float64 (the network itself computes in float32);
``predict_domain`` is the domain classifier's verdict in skada's labels (1 source, -1 target).
Every ``__init__`` argument is stored unchanged (scikit-learn's rule), so ``clone``,
``get_params`` and ``set_params`` work; the work happens in ``fit``, which builds the network
with :mod:`dann_from_scratch.models` and trains it with :func:`dann_from_scratch.runs.train_run`,
the run every entry point goes through (here on the arrays given, without a checkpoint).
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import (BaseEstimator, ClassifierMixin, ClassNamePrefixFeaturesOutMixin,
                          TransformerMixin)
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .inputs import check_finite
from .models import build_model, mlp_model
from .runs import train_run
from .threads import blas_threads
from .trainers import TrainConfig, apply_in_batches, predict_features, predict_logits

try:                                    # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
    _FINITE_KEYWORD = "ensure_all_finite"
except ImportError:                     # older: the same check is a method of BaseEstimator
    def _validate_data(estimator, /, X="no_validation", y="no_validation", **kwargs):
        return estimator._validate_data(X, y, **kwargs)
    _FINITE_KEYWORD = "force_all_finite"

__all__ = ["DANNClassifier", "KeepWhole"]

#: skada's labels for the two domains: source rows are >= 0, target rows < 0
SOURCE_DOMAIN, TARGET_DOMAIN = 1, -1


def _n_rows(a) -> int:
    """Rows of an array-like (sparse matrices and DataFrames included)."""
    shape = getattr(a, "shape", None)
    return shape[0] if shape is not None and len(shape) else len(np.asarray(a))


class KeepWhole:
    """An ``X_target`` that cross-validation passes to every fold whole.

    scikit-learn slices each fit parameter with as many rows as ``X`` down to the training fold
    (it takes them for per-sample metadata). This wrapper has no length or shape, so it is
    passed through untouched; :meth:`DANNClassifier.fit` unwraps it::

        cross_val_score(clf, X, y, params={"X_target": KeepWhole(X_target)})
    """

    def __init__(self, X_target):
        self.X_target = X_target

    def __repr__(self) -> str:
        return f"KeepWhole(shape={getattr(self.X_target, 'shape', '?')})"


class DANNClassifier(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClassifierMixin,
                     BaseEstimator):
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
    random_state      an int seeds both the initial weights and the batch sampler (the same int
                      gives the same network); None or a ``RandomState`` draw that int
    no_target         what ``fit`` does with method "dann" and no target rows: "error" (the
                      default) or "use_source" (the source rows stand in for the target, so the
                      domain classifier sees the same data on both sides and adapts to nothing;
                      what scikit-learn's own checks, which call ``fit(X, y)``, exercise).
                      "source_only" always trains like that.
    seed              deprecated spelling of ``random_state`` (a FutureWarning; wins if given)

    Fitted attributes: ``classes_``, ``n_features_in_``, ``feature_names_in_`` (for a
    DataFrame ``X``), ``model_`` (the :class:`~dann_from_scratch.models.DANNModel`),
    ``history_`` (the training log), ``seed_`` (the int that seeded the run),
    ``n_target_rows_`` (how many unlabelled target rows training adapted to; 0 if none).
    """

    # skada's convention: sample_domain goes to fit (which rows are target rows) and score
    # (which rows have labels). The prediction methods take it too, with skada's allow_source,
    # and ignore both (G_f, G_y and G_d do not know a row's domain); asking for them lets a
    # Pipeline pass on what skada's scorers send.
    __metadata_request__fit = {"sample_domain": True}
    __metadata_request__score = {"sample_domain": True, "allow_source": True}
    __metadata_request__predict = {"sample_domain": True, "allow_source": True}
    __metadata_request__predict_proba = {"sample_domain": True, "allow_source": True}
    __metadata_request__predict_log_proba = {"sample_domain": True, "allow_source": True}
    __metadata_request__decision_function = {"sample_domain": True, "allow_source": True}
    __metadata_request__transform = {"sample_domain": True, "allow_source": True}

    def __init__(self, architecture="mlp", hidden=(15,), domain_hidden=(), activation="relu",
                 method="dann", steps=1000, batch_size=128, lr=0.01, anneal_lr=True,
                 lambda_schedule="paper", lambda_max=1.0, gamma=10.0, momentum=0.9,
                 weight_decay=0.0, mean_subtract=True, random_state=0, device="cpu",
                 progress=False, model_kwargs=None, no_target="error", seed="deprecated"):
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
        self.random_state = random_state
        self.device = device
        self.progress = progress
        self.model_kwargs = model_kwargs
        self.no_target = no_target
        self.seed = seed

    # -- what the estimator is
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True           # a classifier: fit needs y
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        vectors = self.architecture == "mlp"
        tags.input_tags.two_d_array = vectors      # the named networks take images
        tags.input_tags.three_d_array = not vectors
        tags.non_deterministic = self.random_state is None and self.seed == "deprecated"
        return tags

    def _more_tags(self):                          # the same, for scikit-learn < 1.6
        return {"requires_y": True, "allow_nan": False,
                "X_types": ["2darray"] if self.architecture == "mlp" else ["3darray"],
                "non_deterministic": self.random_state is None and self.seed == "deprecated"}

    # -- input checks
    def _check_X(self, X, reset: bool, what: str, y="no_validation"):
        """X (and y) as validated arrays; a clear error for empty, 1-D, complex, sparse, NaN or
        infinite input and, unless ``reset``, for features that differ from fit's. ``what``
        names X in the messages."""
        out = _validate_data(self, X, y, reset=reset, accept_sparse=False, dtype="numeric",
                             ensure_2d=True, allow_nd=self.architecture != "mlp",
                             ensure_min_samples=2 if reset else 1, **{_FINITE_KEYWORD: False})
        check_finite(out if isinstance(y, str) else out[0], f"DANNClassifier.{what}")
        return out

    def _check_X_target(self, X_target):
        """The ``X_target`` argument as an array checked against the fitted features."""
        if isinstance(X_target, KeepWhole):
            X_target = X_target.X_target
        return self._check_X(X_target, reset=False, what="fit: X_target")

    @staticmethod
    def _check_sample_domain(sample_domain, n_rows: int, what: str) -> np.ndarray:
        sd = np.asarray(sample_domain)
        if sd.ndim == 0:
            sd = np.full(n_rows, sd)
        if sd.ndim != 1 or len(sd) != n_rows:
            raise ValueError(f"DANNClassifier.{what}: sample_domain of shape {sd.shape} does "
                             f"not match X with {n_rows} rows (expected ({n_rows},))")
        if sd.dtype.kind not in "iu" and not (sd.dtype.kind == "f"
                                              and np.all(np.mod(sd, 1) == 0)):
            raise ValueError(f"DANNClassifier.{what}: sample_domain must hold integers "
                             f"(>= 0 source, < 0 target), got dtype {sd.dtype}")
        return sd

    def _resolve_seed(self) -> int:
        if self.seed != "deprecated":
            warnings.warn("DANNClassifier: 'seed' was renamed 'random_state' (scikit-learn's "
                          "name); 'seed' overrides it for now and will be removed",
                          FutureWarning, stacklevel=3)
            seed = self.seed
        else:
            seed = self.random_state
        if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
            return int(seed)
        # None or a RandomState: draw the int that seeds weights and sampler alike
        return int(check_random_state(seed).randint(np.iinfo(np.int32).max))

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
                           seed=self.seed_, device=self.device, progress=self.progress)

    def _build(self, x, n_classes):
        if self.architecture == "mlp":
            return mlp_model(x.shape[1], n_classes, hidden=self.hidden,
                             domain_hidden=self.domain_hidden, activation=self.activation,
                             rng=self.seed_)
        model = build_model(self.architecture, rng=self.seed_, **(self.model_kwargs or {}))
        if model.num_classes is not None and n_classes > model.num_classes:
            raise ValueError(f"DANNClassifier: the {self.architecture!r} network has "
                             f"{model.num_classes} outputs but y has {n_classes} classes")
        return model

    def _target_rows(self, x_source, targets):
        """The unlabelled target rows training adapts to."""
        if targets:
            return np.concatenate(targets)
        if self.method == "source_only":
            return x_source          # nothing to adapt to; G_d only probes the features
        if self.no_target == "use_source":
            return x_source
        if self.no_target != "error":
            raise ValueError(f"DANNClassifier: no_target must be 'error' or 'use_source', got "
                             f"{self.no_target!r}")
        raise ValueError("DANNClassifier.fit: method 'dann' needs unlabelled target data: "
                         "pass X_target, or rows of X with a negative sample_domain")

    def fit(self, X, y, X_target=None, sample_domain=None):
        """Train on the labelled source rows of (X, y) and the unlabelled target rows:
        ``X_target`` (an array, or :class:`KeepWhole`) and/or the rows of X whose
        ``sample_domain`` is negative (their labels are ignored). Returns self."""
        if y is not None and _n_rows(y) != _n_rows(X):
            raise ValueError(f"DANNClassifier.fit: y of shape {np.shape(y)} does not match X "
                             f"of shape {getattr(X, 'shape', np.shape(X))}")
        x, y = self._check_X(X, reset=True, what="fit: X", y=y)
        if sample_domain is None:
            source = np.ones(len(x), dtype=bool)
        else:
            source = self._check_sample_domain(sample_domain, len(x), "fit") >= 0
        x_source, y_source = x[source], y[source]
        if len(x_source) == 0:
            raise ValueError("DANNClassifier.fit: no labelled source rows (every sample_domain "
                             "is negative)")
        check_classification_targets(y_source)
        targets = [x[~source]] if not source.all() else []
        if X_target is not None:
            targets.append(self._check_X_target(X_target))
        x_target = self._target_rows(x_source, targets)
        self.n_target_rows_ = sum(len(t) for t in targets)

        self.seed_ = self._resolve_seed()
        config = self._config()
        self.classes_, y_encoded = np.unique(y_source, return_inverse=True)
        self.model_ = self._build(x, len(self.classes_))
        with blas_threads():  # dann_from_scratch.threads: one BLAS thread unless told otherwise
            self.history_ = train_run(self.model_, (x_source, y_encoded), x_target, config).history
        self._n_features_out = self.model_.feature_dim
        return self

    # -- prediction (sample_domain and allow_source are accepted for skada's scorers and
    #    ignored: G_f, G_y and G_d do not know which domain a row comes from)
    def _logits(self, X, what: str, sample_domain) -> np.ndarray:
        check_is_fitted(self, "model_")
        x = self._check_X(X, reset=False, what=f"{what}: X")
        if sample_domain is not None:
            self._check_sample_domain(sample_domain, len(x), what)
        return predict_logits(self.model_, x)[:, :len(self.classes_)].astype(np.float64)

    def decision_function(self, X, sample_domain=None, allow_source=True) -> np.ndarray:
        """Class scores (float64): the logits, (n_samples, n_classes); for two classes the
        logit difference (n_samples,), positive for ``classes_[1]``."""
        logits = self._logits(X, "decision_function", sample_domain)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict_log_proba(self, X, sample_domain=None, allow_source=True) -> np.ndarray:
        """Log-softmax of the class logits (float64), columns in the order of ``classes_``."""
        logits = self._logits(X, "predict_log_proba", sample_domain)
        logits = logits - logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def predict_proba(self, X, sample_domain=None, allow_source=True) -> np.ndarray:
        """Softmax of the class logits (float64), columns in the order of ``classes_``."""
        logits = self._logits(X, "predict_proba", sample_domain)
        proba = np.exp(logits - logits.max(axis=1, keepdims=True))
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X, sample_domain=None, allow_source=True) -> np.ndarray:
        """The most probable class of each row."""
        best = self._logits(X, "predict", sample_domain).argmax(axis=1)
        return self.classes_[best]

    def transform(self, X, sample_domain=None, allow_source=True) -> np.ndarray:
        """The features G_f(X) (float64; the last hidden layer: what the domain classifier
        sees, and what skada's DeepEmbeddedValidation weighs)."""
        check_is_fitted(self, "model_")
        x = self._check_X(X, reset=False, what="transform: X")
        return predict_features(self.model_, x).astype(np.float64)

    def predict_domain_proba(self, X) -> np.ndarray:
        """What G_d makes of each row (float64, (n_samples, 2)): columns P(target), P(source),
        in the order of skada's domain labels (-1, 1)."""
        check_is_fitted(self, "model_")
        x = self._check_X(X, reset=False, what="predict_domain_proba: X")
        logit = apply_in_batches(self.model_, x, 512,
                                 lambda m, t: m.domain_classifier(m.features(t)),
                                 "predict_domain").reshape(-1).astype(np.float64)
        p_target = 0.5 * (1.0 + np.tanh(0.5 * logit))    # the logistic, without overflow
        return np.column_stack([p_target, 1.0 - p_target])

    def predict_domain(self, X) -> np.ndarray:
        """G_d's verdict per row in skada's labels: 1 (source) or -1 (target)."""
        p = self.predict_domain_proba(X)
        return np.where(p[:, 0] > 0.5, TARGET_DOMAIN, SOURCE_DOMAIN)

    def score(self, X, y, sample_weight=None, sample_domain=None, allow_source=True) -> float:
        """Mean accuracy on the labelled rows: all rows, or with ``sample_domain`` the source
        rows (>= 0) only, since target rows carry no labels."""
        if sample_domain is not None:
            keep = self._check_sample_domain(sample_domain, len(y), "score") >= 0
            if not keep.any():
                raise ValueError("DANNClassifier.score: every sample_domain is negative (target "
                                 "rows have no labels); nothing to score")
            X = X.iloc[keep] if hasattr(X, "iloc") else np.asarray(X)[keep]
            y = np.asarray(y)[keep]
            if sample_weight is not None:
                sample_weight = np.asarray(sample_weight)[keep]
        return super().score(X, y, sample_weight=sample_weight)
