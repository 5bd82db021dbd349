"""DANNClassifier with skada (scikit-learn domain adaptation): its sample_domain convention and
its unsupervised scorers choosing lambda_max without a single target label.

skada switches scikit-learn's metadata routing on when it is imported; this module puts the
setting back as it was, and turns routing on only inside each test.
"""
import numpy as np
import pytest
import sklearn

_routing_before = sklearn.get_config()["enable_metadata_routing"]
skada = pytest.importorskip("skada")
sklearn.set_config(enable_metadata_routing=_routing_before)

from skada.metrics import (DeepEmbeddedValidation, ImportanceWeightedScorer,  # noqa: E402
                           PredictionEntropyScorer)
from skada.model_selection import SourceTargetShuffleSplit  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from dann_from_scratch import DANNClassifier  # noqa: E402

from test_estimator import two_moons  # noqa: E402

QUICK = dict(hidden=(15,), activation="sigmoid", steps=400, batch_size=128, lr=0.1,
             anneal_lr=False, lambda_schedule="constant")


@pytest.fixture(autouse=True)
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


@pytest.fixture(scope="module")
def data():
    """Labelled source moons and rotated target moons, stacked the skada way: target labels
    masked with -1, sample_domain 1 (source) / -1 (target). The true target labels stay here,
    for judging the choice afterwards."""
    xs, ys, xt, yt = two_moons(0)
    x = np.vstack([xs, xt])
    y = np.r_[ys, -np.ones(len(xt), dtype=int)]
    sd = np.r_[np.ones(len(xs), dtype=int), -np.ones(len(xt), dtype=int)]
    return x, y, sd, xt, yt


def test_deep_embedded_validation_picks_lambda_max_without_target_labels(data):
    x, y, sd, xt, yt = data
    assert np.all(y[sd < 0] == -1)                       # no target label goes in
    grid = {"dannclassifier__lambda_max": [0.0, 6.0]}
    search = GridSearchCV(make_pipeline(DANNClassifier(**QUICK)), grid,
                          scoring=DeepEmbeddedValidation(random_state=0),
                          cv=SourceTargetShuffleSplit(n_splits=1, random_state=0))
    search.fit(x, y, sample_domain=sd)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    # the choice, judged with the target labels the search never saw: the adapted network
    accuracy = {lam: (clone(search.estimator).set_params(dannclassifier__lambda_max=lam)
                      .fit(x, y, sample_domain=sd).predict(xt) == yt).mean()
                for lam in grid["dannclassifier__lambda_max"]}
    best = search.best_params_["dannclassifier__lambda_max"]
    assert accuracy[best] == max(accuracy.values()) and best == 6.0
    assert (search.predict(xt) == yt).mean() == accuracy[best]


def test_prediction_entropy_reads_target_rows_only(data):
    """PredictionEntropyScorer calls predict_proba(X_target, sample_domain=...) on the rows
    with a negative domain: their labels do not matter."""
    x, y, sd, xt, yt = data
    clf = DANNClassifier(**{**QUICK, "steps": 100, "lambda_max": 1.0}).fit(x, y, sample_domain=sd)
    scorer = PredictionEntropyScorer()
    masked = scorer(clf, x, y, sample_domain=sd)
    assert np.isfinite(masked) and masked < 0             # minus the mean entropy
    assert scorer(clf, x, np.r_[y[sd > 0], yt], sample_domain=sd) == masked


def test_importance_weighted_scorer_uses_weighted_source_accuracy(data):
    """ImportanceWeightedScorer needs score(..., sample_weight=) to be requested; it then scores
    the source rows weighted by their estimated target density."""
    x, y, sd, xt, yt = data
    clf = DANNClassifier(**{**QUICK, "steps": 100, "lambda_max": 1.0}).fit(x, y, sample_domain=sd)
    with pytest.raises(ValueError, match="should accept 'sample_weight'"):
        ImportanceWeightedScorer()(clf, x, y, sample_domain=sd)
    clf.set_score_request(sample_weight=True)
    value = ImportanceWeightedScorer()(clf, x, y, sample_domain=sd)
    assert 0.0 <= value <= 1.0
