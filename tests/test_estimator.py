"""DANNClassifier: the scikit-learn face of DANN (clone, params, Pipeline, cross-validation, input
checks, explicit target rows)."""
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedKFold, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dann_from_scratch import DANNClassifier, KeepWhole

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
QUICK = {**FAST, "steps": 300}


@pytest.fixture(scope="module")
def moons():
    xs, ys, xt, yt = two_moons(0)
    return xs, ys + 10, xt, yt + 10        # labels 10/11: the estimator keeps any class values


def stacked(xs, ys, xt):
    """Source and target rows in one X; target labels masked with -1 (skada's mask) and marked
    by a negative sample_domain."""
    x = np.vstack([xs, xt])
    y = np.r_[ys, -np.ones(len(xt), dtype=int)]
    sample_domain = np.r_[np.ones(len(xs), dtype=int), -np.ones(len(xt), dtype=int)]
    return x, y, sample_domain


def test_importable_from_the_package_without_importing_sklearn_eagerly():
    import subprocess
    import sys
    code = ("import sys, dann_from_scratch; assert 'sklearn' not in sys.modules; "
            "from dann_from_scratch import DANNClassifier; "
            "assert DANNClassifier.__module__ == 'dann_from_scratch.estimator'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_params_are_stored_verbatim_and_clone_works():
    clf = DANNClassifier(hidden=(7, 5), lr=0.2, random_state=3)
    params = clf.get_params()
    assert params["hidden"] == (7, 5) and params["lr"] == 0.2 and params["random_state"] == 3
    twin = clone(clf)
    assert twin is not clf and twin.get_params() == params
    twin.set_params(lr=0.5, method="source_only")
    assert twin.lr == 0.5 and clf.lr == 0.2


def test_fit_predict_score_transform(moons):
    xs, ys, xt, yt = moons
    clf = DANNClassifier(**FAST).fit(xs, ys, xt)
    assert list(clf.classes_) == [10, 11] and clf.n_features_in_ == 2
    assert clf.n_target_rows_ == 300 and not hasattr(clf, "feature_names_in_")
    proba = clf.predict_proba(xt)
    assert proba.shape == (300, 2) and proba.dtype == np.float64
    # the softmax's normaliser and this check each sum the 2 classes (was rtol 1e-6)
    assert_close_up_to_rounding(proba.sum(axis=1), np.ones(300), n_terms=2 * 2, dtype=proba.dtype)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(xt)), proba, rtol=1e-12)
    decision = clf.decision_function(xt)
    assert decision.shape == (300,) and decision.dtype == np.float64
    np.testing.assert_array_equal(decision > 0, proba[:, 1] > 0.5)
    pred = clf.predict(xt)
    assert set(np.unique(pred)) <= {10, 11}
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(1)])
    assert clf.score(xs, ys) > 0.95
    features = clf.transform(xt)
    assert features.shape == (300, 15) and features.dtype == np.float64
    assert list(clf.get_feature_names_out()) == [f"dannclassifier{i}" for i in range(15)]
    # same random_state, same model (fit_transform = fit, then transform)
    again = clone(clf)
    np.testing.assert_array_equal(again.fit_transform(xs, ys, X_target=xt), clf.transform(xs))
    np.testing.assert_array_equal(again.predict_proba(xt), proba)


def test_predict_domain_is_the_domain_classifiers_verdict_in_skadas_labels(moons):
    xs, ys, xt, yt = moons
    clf = DANNClassifier(**{**QUICK, "lambda_max": 0.0, "domain_hidden": (15,)}).fit(xs, ys, xt)
    proba = clf.predict_domain_proba(np.vstack([xs, xt]))
    assert proba.shape == (600, 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    domains = clf.predict_domain(np.vstack([xs, xt]))
    assert set(np.unique(domains)) <= {-1, 1}
    np.testing.assert_array_equal(domains == -1, proba[:, 0] > 0.5)
    # with lambda 0 G_d is an ordinary classifier of the (rotated) domains: better than chance
    truth = np.r_[np.ones(300), -np.ones(300)]
    assert (domains == truth).mean() > 0.6


def test_labels_minus_one_and_plus_one_are_two_classes(moons):
    """-1 is an ordinary label: unlabelled rows are marked explicitly, never by a label value."""
    xs, ys, xt, yt = moons
    y = np.where(ys == 10, -1, 1)
    clf = DANNClassifier(**QUICK).fit(xs, y, X_target=xt)
    assert list(clf.classes_) == [-1, 1] and clf.n_target_rows_ == 300
    assert set(np.unique(clf.predict(xs))) == {-1, 1}
    assert clf.score(xs, y) > 0.9


def test_pipeline_with_target_rows_marked_by_sample_domain(moons):
    """Target rows ride inside X with a negative sample_domain, so the scaler sees (and scales)
    both domains; their labels (-1 here) are ignored by fit and score."""
    xs, ys, xt, yt = moons
    x, y, sd = stacked(xs, ys, xt)
    pipe = make_pipeline(StandardScaler(), DANNClassifier(**FAST))
    pipe.fit(x, y, dannclassifier__sample_domain=sd)
    assert list(pipe[-1].classes_) == [10, 11] and pipe[-1].n_target_rows_ == 300
    assert pipe.score(xs, ys) > 0.95
    with sklearn.config_context(enable_metadata_routing=True):
        assert pipe.score(x, y, sample_domain=sd) == pipe.score(xs, ys)   # target rows skipped
    assert pipe.score(xt, yt) > 0.6
    # the same as scaling by hand and passing the target explicitly
    scaler = StandardScaler().fit(x)
    manual = DANNClassifier(**FAST).fit(scaler.transform(xs), ys, scaler.transform(xt))
    np.testing.assert_array_equal(pipe.predict_proba(xt),
                                  manual.predict_proba(scaler.transform(xt)))


def test_cross_val_score_counts_the_labelled_rows_only(moons):
    xs, ys, xt, yt = moons
    x, y, sd = stacked(xs, ys, xt)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        out = cross_validate(DANNClassifier(**QUICK), x, y, params={"sample_domain": sd}, cv=cv,
                             return_estimator=True, return_indices=True)
    for score, est, train, test in zip(out["test_score"], out["estimator"],
                                       out["indices"]["train"], out["indices"]["test"]):
        assert est.n_target_rows_ == np.sum(sd[train] < 0)    # the fold's own target rows
        source = test[sd[test] > 0]
        assert score == est.score(x[source], y[source])   # held-out source accuracy
        assert score > 0.8              # counting the -1 rows as errors would give < 0.5


@pytest.mark.parametrize("routing", [False, True])
@pytest.mark.parametrize("n_target", [100, 300, 450])   # 300 = as many rows as X
def test_X_target_of_any_length_stays_whole_in_cross_validation(moons, routing, n_target):
    xs, ys, xt, yt = moons
    xt = np.resize(xt, (n_target, 2))
    clf = DANNClassifier(**{**QUICK, "steps": 20})
    with sklearn.config_context(enable_metadata_routing=routing):
        if routing:
            clf.set_fit_request(X_target=True)
        out = cross_validate(clf, xs, ys, params={"X_target": KeepWhole(xt)}, cv=3,
                             return_estimator=True)
        scores = cross_val_score(clf, xs, ys, params={"X_target": KeepWhole(xt)}, cv=3)
    assert [est.n_target_rows_ for est in out["estimator"]] == [n_target] * 3
    np.testing.assert_array_equal(scores, out["test_score"])


def test_random_state_makes_fits_reproducible(moons):
    xs, ys, xt, yt = moons
    quick = {**QUICK, "steps": 50}
    a = DANNClassifier(**quick, random_state=5).fit(xs, ys, xt).predict_proba(xt)
    b = DANNClassifier(**quick, random_state=5).fit(xs, ys, xt).predict_proba(xt)
    c = DANNClassifier(**quick, random_state=6).fit(xs, ys, xt).predict_proba(xt)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # a RandomState draws the seed: the same generator state, the same network
    r1 = DANNClassifier(**quick, random_state=np.random.RandomState(1)).fit(xs, ys, xt)
    r2 = DANNClassifier(**quick, random_state=np.random.RandomState(1)).fit(xs, ys, xt)
    assert r1.seed_ == r2.seed_
    np.testing.assert_array_equal(r1.predict_proba(xt), r2.predict_proba(xt))
    assert isinstance(DANNClassifier(**quick, random_state=None).fit(xs, ys, xt).seed_, int)


def test_seed_still_works_with_a_future_warning(moons):
    xs, ys, xt, yt = moons
    quick = {**QUICK, "steps": 50}
    with pytest.warns(FutureWarning, match="'seed' was renamed 'random_state'"):
        old = DANNClassifier(**quick, seed=4).fit(xs, ys, xt)
    new = DANNClassifier(**quick, random_state=4).fit(xs, ys, xt)
    assert old.seed_ == 4
    np.testing.assert_array_equal(old.predict_proba(xt), new.predict_proba(xt))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # no warning without seed=
        DANNClassifier(**quick).fit(xs, ys, xt)


def test_reordered_dataframe_columns_are_refused(moons):
    pd = pytest.importorskip("pandas")
    xs, ys, xt, yt = moons
    src = pd.DataFrame(xs, columns=["a", "b"])
    tgt = pd.DataFrame(xt, columns=["a", "b"])
    clf = DANNClassifier(**{**QUICK, "steps": 20}).fit(src, ys, tgt)
    assert list(clf.feature_names_in_) == ["a", "b"]
    clf.predict(tgt)
    for method in ("predict", "predict_proba", "transform", "decision_function"):
        with pytest.raises(ValueError, match="Feature names must be in the same order"):
            getattr(clf, method)(tgt[["b", "a"]])
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        clone(clf).fit(src, ys, tgt[["b", "a"]])


def test_errors(moons):
    xs, ys, xt, yt = moons
    with pytest.raises(ValueError, match="needs unlabelled target data"):
        DANNClassifier(**FAST).fit(xs, ys)
    with pytest.raises(ValueError, match="method must be 'dann' or 'source_only'"):
        DANNClassifier(method="target_only").fit(xs, ys, xt)
    with pytest.raises(ValueError, match=r"y of shape \(10,\) does not match X"):
        DANNClassifier().fit(xs, ys[:10], xt)
    with pytest.raises(NotFittedError):
        DANNClassifier().predict(xt)
    with pytest.raises(ValueError, match="no_target must be 'error' or 'use_source'"):
        DANNClassifier(no_target="maybe").fit(xs, ys)
    x, y, sd = stacked(xs, ys, xt)
    with pytest.raises(ValueError, match=r"sample_domain of shape \(5,\) does not match X"):
        DANNClassifier().fit(x, y, sample_domain=sd[:5])
    with pytest.raises(ValueError, match="no labelled source rows"):
        DANNClassifier().fit(x, y, sample_domain=-np.ones(len(x), dtype=int))
    with pytest.raises(ValueError, match="Unknown label type"):
        DANNClassifier().fit(xs, xs[:, 0], xt)                 # continuous y
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        DANNClassifier().fit(xs[:, 0], ys, xt)
    with pytest.raises(ValueError, match="0 sample"):
        DANNClassifier().fit(xs[:0], ys[:0], xt)
    with pytest.raises(ValueError, match="Complex data not supported"):
        DANNClassifier().fit(xs + 1j, ys, xt)
    import scipy.sparse as sp
    with pytest.raises(TypeError, match="[Ss]parse data was passed"):
        DANNClassifier().fit(sp.csr_matrix(xs), ys, xt)
    clf = DANNClassifier(**{**QUICK, "steps": 10}).fit(xs, ys, xt)
    with pytest.raises(ValueError, match="X has 3 features, but DANNClassifier is expecting 2"):
        clf.predict(np.ones((4, 3)))
    with pytest.raises(ValueError, match="every sample_domain is negative"):
        clf.score(xt, yt, sample_domain=-np.ones(len(xt), dtype=int))


def test_source_only_and_use_source_fit_without_target(moons):
    xs, ys, xt, yt = moons
    for clf in (DANNClassifier(**QUICK, method="source_only"),
                DANNClassifier(**QUICK, no_target="use_source")):
        clf.fit(xs, ys)
        assert clf.n_target_rows_ == 0 and clf.score(xs, ys) > 0.85
