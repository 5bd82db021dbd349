"""scikit-learn's own estimator checks on DANNClassifier, in a source-only and a DANN configuration.

The settings are tiny (100 steps, 8 hidden units, batches of 8) so that the whole run takes
seconds. The checks call ``fit(X, y)`` with no target data; the DANN configuration says
``no_target="use_source"``, so its adversarial branch trains on source against source: the
checks then exercise the full DANN step (gradient reversal, domain classifier) and the input
handling around it, though there is nothing to adapt to.
"""
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from dann_from_scratch import DANNClassifier  # noqa: E402

TINY = dict(hidden=(8,), steps=100, batch_size=8, lr=0.05, random_state=0)

ESTIMATORS = [
    DANNClassifier(**TINY, method="source_only"),
    DANNClassifier(**TINY, method="dann", lambda_max=1.0, no_target="use_source"),
]

# Each expected failure, with why it is not a bug of the estimator.
EXPECTED_FAILURES = {
    "check_methods_subset_invariance": (
        "the network computes in float32 (the paper's training dtype): BLAS sums a batch of 10 "
        "rows and one of 60 in different orders, so outputs agree to float32 rounding (~1e-7), "
        "not always to the check's rtol=1e-7"),
}


def expected_failed_checks(estimator):
    return EXPECTED_FAILURES


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks,
                         xfail_strict=False)
def test_scikit_learn_checks(estimator, check):
    check(estimator)
