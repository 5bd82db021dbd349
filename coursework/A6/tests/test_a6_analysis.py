"""A6.1 (proxy A-distance), A6.3 (features for t-SNE and how mixed they are) and A6.4 (choosing
lambda without target labels): public tests. A6.2 and A6.5 are written answers, graded by hand."""
import numpy as np
import pytest

from coursework.A6.tsne import neighbour_mixing
from coursework.checks import CheckFailure, assert_arrays_match
from dann_from_scratch.evaluation import predict_features
from dann_from_scratch.metrics import domain_classifier_error, proxy_a_distance
from dann_from_scratch.models import DANNModel
from dann_from_scratch.selection import select_meta_parameters, unsupervised_score
from minigrad import nn


def gaussians(shift, n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal((n, d)) + shift


# -- A6.1 ------------------------------------------------------------------------------------------
@pytest.mark.task("A6.1")
def test_proxy_a_distance_of_separable_domains_is_two():
    src, tgt = gaussians(shift=4.0)
    d_a, details = proxy_a_distance(src, tgt, C_grid=(0.1, 1.0), return_details=True)
    assert_arrays_match("proxy_a_distance of two far-apart Gaussians", d_a, 2.0, atol=0.05, rtol=0)
    assert_arrays_match("proxy_a_distance details: eps", details["eps"], 0.0, atol=0.02, rtol=0)


@pytest.mark.task("A6.1")
def test_proxy_a_distance_of_one_distribution_is_small():
    src, tgt = gaussians(shift=0.0, seed=1)
    d_a = proxy_a_distance(src, tgt, C_grid=(0.1, 1.0))
    if not isinstance(d_a, float) or not 0.0 <= d_a < 0.5:
        raise CheckFailure(f"proxy_a_distance of two samples of one distribution: expected a float "
                           f"in [0, 0.5), got {d_a!r}")


@pytest.mark.task("A6.1")
def test_proxy_a_distance_is_2_1_minus_2eps_of_the_best_error():
    src, tgt = gaussians(shift=0.6, seed=2)
    grid = (0.01, 0.1, 1.0)
    d_a, details = proxy_a_distance(src, tgt, C_grid=grid, return_details=True)
    errors = domain_classifier_error(src, tgt, C=grid)
    assert_arrays_match("domain_classifier_error: the C grid", np.array(sorted(errors)),
                        np.array(grid))
    for C, e in errors.items():
        if not 0.0 <= e <= 1.0:
            raise CheckFailure(f"domain_classifier_error(C={C}): error {e} is not in [0, 1]")
    eps = min(errors.values())
    assert_arrays_match("proxy_a_distance details: eps (the smallest held-out error)",
                        details["eps"], eps, atol=0, rtol=0)
    assert_arrays_match("proxy_a_distance: d_A = 2 (1 - 2 eps)", d_a, 2 * (1 - 2 * eps), atol=1e-12,
                        rtol=0)


# -- A6.3 ------------------------------------------------------------------------------------------
def feature_model(seed=0):
    rng = np.random.default_rng(seed)
    g_f = nn.Sequential(nn.Linear(4, 6, rng=rng), nn.ReLU(), nn.Dropout(0.5, rng=1))
    return DANNModel(g_f, nn.Linear(6, 2, rng=rng), nn.Linear(6, 1, rng=rng), input_shape=(4,))


@pytest.mark.task("A6.3")
def test_predict_features_is_g_f_in_eval_mode_on_mean_subtracted_inputs():
    model = feature_model()
    model.input_mean = np.array([0.5, -1.0, 0.0, 2.0], np.float32)
    x = np.random.default_rng(3).standard_normal((10, 4)).astype(np.float32)
    lin = model.feature_extractor[0]
    expected = np.maximum((x - model.input_mean).astype(np.float64) @ lin.weight.data.T + lin.bias.data, 0)
    got = predict_features(model, x, batch_size=4)
    if not isinstance(got, np.ndarray):
        raise CheckFailure(f"predict_features must return a NumPy array, got {type(got).__name__}")
    assert_arrays_match("predict_features (G_f in eval mode: no dropout; inputs minus input_mean)",
                        got, expected, dtype=np.float32)
    if not model.training:
        raise CheckFailure("predict_features left the model in eval mode; restore training mode")


@pytest.mark.task("A6.3")
def test_neighbour_mixing_separate_and_mixed_domains():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((80, 2)), rng.standard_normal((80, 2))
    assert_arrays_match("neighbour_mixing of two far-apart clusters", neighbour_mixing(a, b + 50.0, k=5),
                        0.0, atol=0, rtol=0)
    mixed = neighbour_mixing(a, b, k=10)
    assert_arrays_match("neighbour_mixing of two samples of one distribution (about 0.5)", mixed, 0.5,
                        atol=0.1, rtol=0)


@pytest.mark.task("A6.3")
def test_neighbour_mixing_small_example_by_hand():
    # on a line: source at 0, 1, 2; target at 2.6, 10. k = 1:
    # 0 -> 1 (same), 1 -> 0 or 2 (same), 2 -> 2.6 (other), 2.6 -> 2 (other), 10 -> 2.6 (same)
    src, tgt = np.array([[0.0], [1.0], [2.0]]), np.array([[2.6], [10.0]])
    assert_arrays_match("neighbour_mixing(k=1) of source [0, 1, 2], target [2.6, 10]",
                        neighbour_mixing(src, tgt, k=1), 2 / 5, atol=1e-12, rtol=0)


# -- A6.4 ------------------------------------------------------------------------------------------
@pytest.mark.task("A6.4")
def test_unsupervised_score_is_accuracy_and_domain_confusion():
    for acc, err, conf in ((0.9, 0.3, 0.3), (0.8, 0.5, 0.5), (0.95, 0.9, 0.1)):
        got = unsupervised_score(acc, err)
        assert_arrays_match(f"unsupervised_score({acc}, {err})", np.array(got), np.array([acc, conf]),
                            atol=1e-12, rtol=0)


@pytest.mark.task("A6.4")
def test_selection_keeps_good_source_accuracy_then_maximises_confusion():
    candidates = [
        {"lambda": 0.0, "source_val_acc": 0.960, "domain_error": 0.02, "target_acc": 0.71},
        {"lambda": 0.1, "source_val_acc": 0.955, "domain_error": 0.35, "target_acc": 0.60},
        {"lambda": 0.3, "source_val_acc": 0.952, "domain_error": 0.44, "target_acc": 0.55},
        {"lambda": 1.0, "source_val_acc": 0.900, "domain_error": 0.50, "target_acc": 0.95},
    ]
    # candidate 3 has the best confusion (and the best target accuracy!) but its source accuracy
    # is more than 1 point below the best; of the others, 2 confuses G_d the most
    got = select_meta_parameters(candidates)
    if got != 2:
        raise CheckFailure(f"select_meta_parameters: expected candidate 2 (within 1 point of the best "
                           f"source accuracy, highest domain confusion), got {got!r}")
    without_target = [{k: v for k, v in c.items() if k != "target_acc"} for c in candidates]
    if select_meta_parameters(without_target) != 2:
        raise CheckFailure("select_meta_parameters must not need target accuracy")
