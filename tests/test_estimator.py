"""DANNClassifier: the scikit-learn face of DANN (clone, params, Pipeline, cross-validation)."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dann_from_scratch.estimator import DANNClassifier

from rounding import assert_close_up_to_rounding


def two_moons(seed):
    """150 + 150 source points (noise 0.05) and a fresh sample rotated by 35 degrees."""
    from sklearn.datasets import make_moons
    xs, ys = make_moons(n_samples=(150, 150), noise=0.05, random_state=seed)
    xt, yt = make_moons(n_samples=(150, 150), noise=0.05, random_state=seed + 1)
    a, centre = np.deg2rad(35), np.array([0.5, 0.25])
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return xs.astype(np.float32), ys, ((xt - centre) @ rot.T + centre).astype(np.float32), yt


FAST = dict(hidden=(15,), activation="sigmoid", steps=1500, batch_size=128, lr=0.1,
            anneal_lr=False, lambda_schedule="constant", lambda_max=6.0)


@pytest.fixture(scope="module")
def moons():
    xs, ys, xt, yt = two_moons(0)
    return xs, ys + 10, xt, yt + 10        # labels 10/11: the estimator keeps any class values


def test_params_are_stored_verbatim_and_clone_works():
    clf = DANNClassifier(hidden=(7, 5), lr=0.2, seed=3)
    params = clf.get_params()
    assert params["hidden"] == (7, 5) and params["lr"] == 0.2 and params["seed"] == 3
    twin = clone(clf)
    assert twin is not clf and twin.get_params() == params
    twin.set_params(lr=0.5, method="source_only")
    assert twin.lr == 0.5 and clf.lr == 0.2


def test_fit_predict_score_transform(moons):
    xs, ys, xt, yt = moons
    clf = DANNClassifier(**FAST).fit(xs, ys, xt)
    assert list(clf.classes_) == [10, 11] and clf.n_features_in_ == 2
    proba = clf.predict_proba(xt)
    assert proba.shape == (300, 2)
    # the softmax's normaliser and this check each sum the 2 classes (was rtol 1e-6)
    assert_close_up_to_rounding(proba.sum(axis=1), np.ones(300), n_terms=2 * 2, dtype=proba.dtype)
    pred = clf.predict(xt)
    assert set(np.unique(pred)) <= {10, 11}
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(1)])
    assert clf.score(xs, ys) > 0.95
    assert clf.transform(xt).shape == (300, 15)
    # same seed, same model
    again = clone(clf).fit(xs, ys, xt)
    np.testing.assert_array_equal(again.predict_proba(xt), proba)


def test_pipeline_with_unlabelled_rows_marked_minus_one(moons):
    """Target rows ride inside X with label -1, so the scaler sees (and scales) both domains."""
    xs, ys, xt, yt = moons
    x = np.vstack([xs, xt])
    y = np.r_[ys, -np.ones(len(xt), dtype=int)]          # -1: unlabelled target rows
    pipe = make_pipeline(StandardScaler(), DANNClassifier(**FAST)).fit(x, y)
    assert pipe.score(xs, ys) > 0.95
    assert pipe.score(x, y) == pipe.score(xs, ys)          # score skips the -1 rows
    assert pipe.score(xt, yt) > 0.6
    # the same as scaling by hand and passing the target explicitly
    scaler = StandardScaler().fit(x)
    manual = DANNClassifier(**FAST).fit(scaler.transform(xs), ys, scaler.transform(xt))
    np.testing.assert_array_equal(pipe.predict_proba(xt),
                                  manual.predict_proba(scaler.transform(xt)))


def test_cross_val_score(moons):
    xs, ys, xt, yt = moons
    x = np.vstack([xs, xt])
    y = np.r_[ys, -np.ones(len(xt), dtype=int)]
    clf = DANNClassifier(**{**FAST, "steps": 300})
    scores = cross_val_score(clf, x, y, cv=StratifiedKFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,) and np.all(scores > 0.8)   # held-out source accuracy


def test_errors(moons):
    xs, ys, xt, yt = moons
    with pytest.raises(ValueError, match="needs unlabelled target data"):
        DANNClassifier(**FAST).fit(xs, ys)
    with pytest.raises(ValueError, match="method must be 'dann' or 'source_only'"):
        DANNClassifier(method="target_only").fit(xs, ys, xt)
    with pytest.raises(ValueError, match=r"y of shape \(10,\) does not match X"):
        DANNClassifier().fit(xs, ys[:10], xt)
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        DANNClassifier().predict(xt)
