"""dann_from_scratch.parallel: when fewer runs are left than workers, the workers still
training take over the idle workers' threads."""
import time
from types import SimpleNamespace

import pytest

import minigrad
from dann_from_scratch import parallel
from dann_from_scratch import threads


def test_the_share_rule():
    assert parallel.threads_for_each(jobs=2, per_worker=1, runs_left=5) == 1
    assert parallel.threads_for_each(jobs=2, per_worker=1, runs_left=2) == 1
    assert parallel.threads_for_each(jobs=2, per_worker=1, runs_left=1) == 2
    assert parallel.threads_for_each(jobs=3, per_worker=2, runs_left=2) == 3
    assert parallel.threads_for_each(jobs=4, per_worker=1, runs_left=3) == 1
    assert parallel.threads_for_each(jobs=2, per_worker=1, runs_left=0) == 2


def _fake_run_pair(run, data, bar_position=None, **options):
    """Stands in for training: records minigrad's thread count over ``run.seconds`` (the
    last run waits, up to 20 s, for the count to change once the other worker is idle)."""
    seen = [minigrad.get_num_threads()]
    end = time.monotonic() + run.seconds
    while time.monotonic() < end:
        time.sleep(0.02)
        seen.append(minigrad.get_num_threads())
        if run.wait_for_more and seen[-1] > 1:
            break
    return SimpleNamespace(seen=seen, model=None)


@pytest.mark.parametrize("env", [None, "auto"])
def test_the_last_run_gets_the_idle_workers_threads(monkeypatch, env):
    if env is None:
        monkeypatch.delenv(threads.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(threads.ENV_VAR, env)
    monkeypatch.setattr(parallel, "run_pair", _fake_run_pair)
    monkeypatch.setattr(parallel, "load_trained_model", lambda *a: (None, None, None))
    monkeypatch.setattr(parallel, "SHARE_POLL_SECONDS", 0.02)
    spec = SimpleNamespace(model="mnist")

    def run(name, seconds, wait=False):
        return SimpleNamespace(name=name, seconds=seconds, wait_for_more=wait, checkpoint=None,
                               spec=spec)

    # a ends first, so c starts while b still trains, then is alone once b ends
    runs = [run("a", 0.3), run("b", 1.5), run("c", 20.0 if env is None else 2.0, wait=True)]
    done = parallel.run_all(runs, data=None, jobs=2)
    assert set(done["a"].seen) == {1}
    assert set(done["b"].seen) == {1}
    c = done["c"].seen
    if env is None:
        assert c[0] == 1 and c[-1] == 2     # one thread beside b, both once b was done
    else:
        assert set(c) == {1}                # "auto": threads are left as they are
