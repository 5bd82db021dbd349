"""A6.1, A6.3 and A6.4: hidden tests (clipping of d_A, one error per C from the SVM protocol,
batch sizes and duplicates, ties and the tolerance of the selection rule)."""
import numpy as np
import pytest

import minigrad as mg
from coursework.A6.tsne import neighbour_mixing
from coursework.checks import CheckFailure, assert_arrays_match
from dann_from_scratch import metrics
from dann_from_scratch.evaluation import predict_features
from dann_from_scratch.linear_svm import linear_svm
from dann_from_scratch.models import mlp_model
from dann_from_scratch.selection import select_meta_parameters


# -- A6.1 ------------------------------------------------------------------------------------------
@pytest.mark.task("A6.1")
@pytest.mark.parametrize("errors,expected", [({1.0: 0.7}, 0.0), ({0.1: 0.0, 1.0: 0.3}, 2.0),
                                             ({0.1: 0.3, 1.0: 0.2}, 1.2), ({1.0: 0.5}, 0.0)])
def test_d_a_from_the_errors_and_its_clipping(monkeypatch, errors, expected):
    monkeypatch.setattr(metrics, "_domain_errors", lambda split, C_grid, seed, max_iter: dict(errors))
    rng = np.random.default_rng(0)
    d_a, details = metrics.proxy_a_distance(rng.standard_normal((20, 2)), rng.standard_normal((20, 2)),
                                            return_details=True)
    eps = min(errors.values())
    assert_arrays_match(f"proxy_a_distance with errors {errors}: d_A clipped to [0, 2]", d_a,
                        expected, atol=1e-12, rtol=0)
    assert_arrays_match(f"proxy_a_distance with errors {errors}: d_A_raw = 2 (1 - 2 eps)",
                        details["d_A_raw"], 2 * (1 - 2 * eps), atol=1e-12, rtol=0)
    if not isinstance(d_a, float):
        raise CheckFailure(f"proxy_a_distance must return a Python float, got {type(d_a).__name__}")


@pytest.mark.task("A6.1")
def test_domain_errors_follow_the_protocol():
    """One linear SVM per C, fit on the training halves, scored on the test halves."""
    rng = np.random.default_rng(1)
    src, tgt = rng.standard_normal((60, 3)), rng.standard_normal((60, 3)) + [0.8, 0, 0]
    split = metrics._domain_split(src, tgt, None, 0)
    got = metrics._domain_errors(split, (0.01, 1.0), 0, 5000)
    x_train, y_train, x_test, y_test = split
    for C in (0.01, 1.0):
        clf = linear_svm(C, seed=0, max_iter=5000).fit(x_train, y_train)
        expected = float(np.mean(clf.predict(x_test) != y_test))
        if C not in got:
            raise CheckFailure(f"_domain_errors: no error for C={C}; got keys {sorted(got)}")
        assert_arrays_match(f"_domain_errors: held-out error for C={C}", got[C], expected, atol=1e-12,
                            rtol=0)
    single = metrics.domain_classifier_error(src, tgt, C=1.0)
    assert_arrays_match("domain_classifier_error(C=1.0) (a float)", single, got[1.0], atol=0, rtol=0)


# -- A6.3 ------------------------------------------------------------------------------------------
@pytest.mark.task("A6.3")
def test_predict_features_batches_and_no_tape():
    model = mlp_model(3, 2, hidden=(5, 4), rng=0)
    x = np.random.default_rng(2).standard_normal((11, 3)).astype(np.float32)
    whole = predict_features(model, x, batch_size=512)
    pieces = predict_features(model, x, batch_size=3)
    assert_arrays_match("predict_features: batch_size 3 vs 512", pieces, whole)
    assert_arrays_match("predict_features shape (N, feature_dim)", np.array(whole.shape),
                        np.array([11, 4]))
    with mg.no_grad():
        expected = model.features(mg.Tensor(x)).numpy()
    assert_arrays_match("predict_features vs model.features", whole, expected, dtype=np.float32)
    if any(p.grad is not None for p in model.parameters()):
        raise CheckFailure("predict_features left gradients on the parameters (run it without a tape)")


@pytest.mark.task("A6.3")
def test_neighbour_mixing_counts_duplicates_from_the_other_domain():
    src, tgt = np.array([[0.0, 0.0], [10.0, 0.0]]), np.array([[0.0, 0.0], [10.5, 0.0]])
    assert_arrays_match("neighbour_mixing(k=1) with a target point equal to a source point "
                        "(exclude the point itself by position, not by distance 0)",
                        neighbour_mixing(src, tgt, k=1), 1.0, atol=1e-12, rtol=0)


@pytest.mark.task("A6.3")
def test_neighbour_mixing_unequal_sizes_and_k():
    # source at 0, 1; target at 3, 3.8, 4.5, 20. k = 2:
    # 0 -> {1, 3}: 1/2;  1 -> {0, 3}: 1/2;  3 -> {3.8, 4.5}: 0;  3.8 -> {4.5, 3}: 0;
    # 4.5 -> {3.8, 3}: 0;  20 -> {4.5, 3.8}: 0.   mean = 1/6
    src, tgt = np.array([[0.0], [1.0]]), np.array([[3.0], [3.8], [4.5], [20.0]])
    assert_arrays_match("neighbour_mixing(k=2), 2 source and 4 target points", neighbour_mixing(src, tgt, k=2),
                        1 / 6, atol=1e-12, rtol=0)


@pytest.mark.task("A6.3")
@pytest.mark.parametrize("k", [0, 6])
def test_neighbour_mixing_rejects_a_bad_k(k):
    with pytest.raises(ValueError):
        neighbour_mixing(np.zeros((3, 2)), np.ones((3, 2)), k=k)


# -- A6.4 ------------------------------------------------------------------------------------------
def cands(*pairs):
    return [{"source_val_acc": a, "domain_error": e} for a, e in pairs]


@pytest.mark.task("A6.4")
@pytest.mark.parametrize("pairs,tolerance,expected,why", [
    (((0.95, 0.40), (0.94, 0.48)), 0.01, 1, "exactly 1 point below the best is still kept"),
    (((0.95, 0.40), (0.94, 0.48)), 0.0, 0, "tolerance 0 keeps only the best source accuracy"),
    (((0.90, 0.45), (0.90, 0.45), (0.90, 0.30)), 0.01, 0, "ties go to the earlier candidate"),
    (((0.90, 0.95), (0.90, 0.30)), 0.01, 1, "error 0.95 means confusion 0.05 (a systematically "
                                            "wrong G_d still tells the domains apart)"),
    (((0.80, 0.50), (0.85, 0.10), (0.84, 0.20)), 0.05, 0, "a wider tolerance keeps more candidates"),
    (((0.70, 0.10),), 0.01, 0, "a single candidate wins"),
])
def test_selection_rule_corner_cases(pairs, tolerance, expected, why):
    got = select_meta_parameters(cands(*pairs), tolerance=tolerance)
    if got != expected or not isinstance(got, int):
        raise CheckFailure(f"select_meta_parameters({list(pairs)}, tolerance={tolerance}): expected "
                           f"{expected} ({why}), got {got!r}")
