"""Training several networks of a pair at once, one forked worker process each:
:func:`run_all`.

The runs are independent (own seed, own checkpoint), so their results are the same as in one
process, only sooner: on 2 cores, two workers with one BLAS thread each finish a row about
1.3x sooner than one process with two threads. Workers are *forked*, so they share the
pair's data (hundreds of MB) copy-on-write instead of receiving it pickled. They also share
the lock of the run folder that the caller holds (``reproduce`` does), so they never take it.

Ctrl-C reaches every worker: each saves the run it is training (the trainer does that) and
refuses every run still queued for it, so nothing starts training behind the user's back.
"""
from __future__ import annotations

import time
from typing import Sequence

from .pair_data import PairData
from .runs import PairRun, Trained, load_trained_model, run_pair

__all__ = ["run_all"]

# What forked worker processes inherit instead of receiving it pickled: the data, the options
# of run_pair, and whether an earlier run of this worker was interrupted.
_WORKER_SHARED: dict = {}


def _timed(run: PairRun, data: PairData, options: dict, bar_position=None) -> Trained:
    start = time.perf_counter()
    done = run_pair(run, data, bar_position=bar_position, **options)
    done.wall_seconds = time.perf_counter() - start
    return done


def _worker_run(position: int, run: PairRun) -> Trained:
    """One run inside a worker process, its progress bar on line ``position``; the trained
    model stays in its checkpoint (the parent reloads it)."""
    if _WORKER_SHARED.get("interrupted"):
        raise KeyboardInterrupt(f"{run.name}: not started, an earlier run was interrupted")
    try:
        done = _timed(run, _WORKER_SHARED["data"], _WORKER_SHARED["options"], position)
    except KeyboardInterrupt:
        _WORKER_SHARED["interrupted"] = True
        raise
    done.model = None
    return done


def run_all(runs: Sequence[PairRun], data: PairData, jobs: int = 1,
            **options) -> dict[str, Trained]:
    """Train every run on ``data`` with :func:`~dann_from_scratch.runs.run_pair` (``options``
    go to it); returns ``{run.name: Trained}`` in the order of ``runs``, with
    ``wall_seconds`` set.

    ``jobs`` > 1 trains up to that many at once in forked worker processes (each with the
    BLAS thread limit of this one); the trained networks are then reloaded from their
    checkpoints.
    """
    if jobs <= 1 or len(runs) <= 1:
        return {run.name: _timed(run, data, options) for run in runs}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _WORKER_SHARED.update(data=data, options=options)
    results = {}
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(runs)),
                               mp_context=multiprocessing.get_context("fork"))
    try:
        futures = [pool.submit(_worker_run, i % jobs, run) for i, run in enumerate(runs)]
        for run, future in zip(runs, futures):
            results[run.name] = future.result()
    except BaseException:
        # Ctrl-C (or a failed run): runs not yet handed to a worker never start; the workers
        # save what they are training before the pool shuts down
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        _WORKER_SHARED.clear()
    for run in runs:
        results[run.name].model, _, _ = load_trained_model(run.checkpoint, run.spec.model)
    return results
