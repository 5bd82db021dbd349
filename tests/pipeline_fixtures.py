"""Fixtures shared by the pipeline tests (test_cli.py, test_experiments.py, ...): a private
data cache per module and one BLAS thread. Import them by name into a test module. Also the
helpers of the command-line tests: :func:`run` and :func:`one_line_error`."""
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


def run(capsys, *argv):
    """``dann ARGV`` in this process: (exit code, stdout, stderr)."""
    from dann_from_scratch.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, after_info: bool = False) -> str:
    """The one error line of ``err``; ``after_info``: the last line, after the lines that say
    what is about to run (``dann train`` says what it trains before it starts)."""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    if after_info:
        assert lines and not any(line.startswith("error") for line in lines[:-1]), err
        lines = lines[-1:]
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]
