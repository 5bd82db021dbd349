"""Fixtures shared by the pipeline tests (test_cli.py, test_experiments.py): a private
data cache per module and one BLAS thread. Import them by name into a test module."""
import pytest


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("dann_cache")


@pytest.fixture(autouse=True)
def _cache(cache_root, monkeypatch):
    monkeypatch.setenv("DANN_CACHE", str(cache_root))


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """One BLAS thread, as ``dann`` uses by default: on a shared 2-core machine two spinning
    BLAS threads per process can make every matrix product many times slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
