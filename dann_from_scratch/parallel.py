"""Training several networks of a pair at once, one forked worker process each:
:func:`run_all`.

The runs are independent (own seed, own checkpoint), so their results are the same as in one
process, only sooner: on 2 cores, two workers with one BLAS thread each finish a row about
1.3x sooner than one process with two threads. When fewer runs are left than workers (the
last of a row's five networks on two workers), the workers still training take over the
threads of the idle ones (:func:`threads_for_each`), so no core waits for the row's end.
Workers are *forked*, so they share the pair's data (hundreds of MB) copy-on-write instead
of receiving it pickled. They also share
the lock of the run folder that the caller holds (``reproduce`` does), so they never take it.

**Signals.** Ctrl-C (SIGINT) and SIGTERM (what ``kill``, ``timeout`` and job schedulers send)
stop the row the same way: every worker saves the run it is training (the trainer does that,
at the next step boundary) and refuses every run still queued for it, so nothing starts
training behind the user's back; then the parent raises KeyboardInterrupt naming the signal
(``dann reproduce`` exits 130 or 143) and ``--resume`` continues. Each worker runs in its own
process group and the parent passes every SIGINT/SIGTERM it gets on to each worker
(:class:`_ForwardSignals`): so a signal sent to the parent alone reaches the workers, and
one sent to the whole group (Ctrl-C in a terminal, ``timeout``) reaches each worker once, not
twice (a second signal means "stop at once, without saving").
"""
from __future__ import annotations

import os
import signal
import threading
import time
from typing import Sequence

from .pair_data import PairData
from .runs import PairRun, Trained, load_trained_model, run_pair
from .threads import AUTO, resolve_threads

__all__ = ["run_all", "threads_for_each"]

# What forked worker processes inherit instead of receiving it pickled: the data, the options
# of run_pair, and whether an earlier run of this worker was interrupted.
_WORKER_SHARED: dict = {}


def _timed(run: PairRun, data: PairData, options: dict, bar_position=None) -> Trained:
    start = time.perf_counter()
    done = run_pair(run, data, bar_position=bar_position, **options)
    done.wall_seconds = time.perf_counter() - start
    return done


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _worker_init() -> None:
    """Start of each worker process: its own process group (the parent forwards signals, see
    the module docstring), :func:`_worker_signal` for SIGINT and SIGTERM (the trainer
    puts its own handlers in place while it trains, and these back afterwards), and the
    thread that hands it the threads of idle workers."""
    os.setpgid(0, 0)
    for sig in _SIGNALS:
        signal.signal(sig, _worker_signal)
    if _WORKER_SHARED.get("finished") is not None:
        threading.Thread(target=_take_idle_threads, daemon=True, name="dann-threads").start()


SHARE_POLL_SECONDS = 1.0   # how often a worker looks whether others have gone idle


def threads_for_each(jobs: int, per_worker: int, runs_left: int) -> int:
    """minigrad threads for each worker still training: the ``jobs * per_worker`` threads of
    the pool shared among the ``min(jobs, runs_left)`` workers that have a run."""
    busy = max(1, min(jobs, runs_left))
    return max(1, (jobs * per_worker) // busy)


def _take_idle_threads() -> None:
    """In each worker, for good: set minigrad's thread count from the number of runs not yet
    finished (the parent counts them). The trainer sets its count when a run starts; this
    sets it back within a poll."""
    import minigrad

    finished = _WORKER_SHARED["finished"]
    total, jobs, per_worker = _WORKER_SHARED["share"]
    while True:
        count = threads_for_each(jobs, per_worker, total - finished.value)
        if minigrad.get_num_threads() != count:
            minigrad.set_num_threads(count)
        time.sleep(SHARE_POLL_SECONDS)


def _worker_signal(signum, frame) -> None:
    """A signal outside the training loop: refuse the runs still queued; inside a run (its
    set-up or its evaluation) stop it now: its checkpoint on disk is whole."""
    _WORKER_SHARED["interrupted"] = True
    if _WORKER_SHARED.get("running"):
        raise KeyboardInterrupt(signal.Signals(signum).name)


def _worker_run(position: int, run: PairRun) -> Trained:
    """One run inside a worker process, its progress bar on line ``position``; the trained
    model stays in its checkpoint (the parent reloads it)."""
    if _WORKER_SHARED.get("interrupted"):
        raise KeyboardInterrupt(f"{run.name}: not started, an earlier run was interrupted")
    try:
        _WORKER_SHARED["running"] = True
        done = _timed(run, _WORKER_SHARED["data"], _WORKER_SHARED["options"], position)
    except KeyboardInterrupt:
        _WORKER_SHARED["interrupted"] = True
        raise
    finally:
        _WORKER_SHARED["running"] = False
    done.model = None
    return done


def _count_finished(finished) -> None:
    with finished.get_lock():
        finished.value += 1


class _ForwardSignals:
    """In the parent while the pool works: every SIGINT or SIGTERM is passed on to each live
    worker process; ``received`` is the first one's name (None: none came). Only in the main
    thread (where Python runs signal handlers); the previous handlers come back on exit."""

    def __init__(self, pool):
        self.pool, self.received, self._previous = pool, None, {}
        self.pid = os.getpid()

    def _handler(self, signum, frame) -> None:
        if os.getpid() != self.pid:         # a worker just forked, before _worker_init ran
            _worker_signal(signum, frame)
            return
        self.received = self.received or signal.Signals(signum).name
        # the pool's own table of its worker processes: the only place their PIDs are kept
        for pid in list(getattr(self.pool, "_processes", None) or ()):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:      # that worker has just ended
                pass

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handler) for sig in _SIGNALS}
        return self

    def __exit__(self, *exc) -> bool:
        for sig, previous in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if previous is None else previous)
        return False


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

    ctx = multiprocessing.get_context("fork")
    per_worker = resolve_threads()
    finished = ctx.Value("i", 0) if per_worker != AUTO else None   # "auto": leave threads be
    _WORKER_SHARED.update(data=data, options=options, finished=finished,
                          share=(len(runs), min(jobs, len(runs)), per_worker))
    results = {}
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(runs)), mp_context=ctx,
                               initializer=_worker_init)
    forward = _ForwardSignals(pool)
    try:
        with forward:          # until every worker has ended: they only hear from us
            try:
                futures = [pool.submit(_worker_run, i % jobs, run) for i, run in enumerate(runs)]
                if finished is not None:
                    for future in futures:
                        future.add_done_callback(lambda _: _count_finished(finished))
                for run, future in zip(runs, futures):
                    results[run.name] = future.result()
            except BaseException:
                # Ctrl-C, SIGTERM (or a failed run): runs not yet handed to a worker never
                # start; the workers save what they are training before the pool shuts down
                pool.shutdown(wait=True, cancel_futures=True)
                if forward.received:
                    raise KeyboardInterrupt(forward.received) from None
                raise
            finally:
                pool.shutdown(wait=True)
        if forward.received:     # it came as the last runs ended: they are saved, stop here
            raise KeyboardInterrupt(forward.received)
    finally:
        _WORKER_SHARED.clear()
    for run in runs:
        results[run.name].model, _, _ = load_trained_model(run.checkpoint, run.spec.model)
    return results
