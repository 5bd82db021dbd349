"""How many threads training uses: one rule for the CLI and the Python API alike.

On NumPy, matrix products would by default run in the BLAS library's own thread pool
(OpenBLAS, MKL, ...), which starts one thread per core and lets idle threads busy-wait. On
a small machine that other processes share, that is a trap: measured on a busy 2-core
machine, 60 DANN steps took 18 s and then 137 s with OpenBLAS's two default threads,
against 5.6 s with one. The spinning threads also steal the cores from minigrad's own
threads (:mod:`minigrad.threads`), which do the parallel work better: they run the conv and
pooling image groups, copies and masks included, and split the large products. So training
runs the BLAS pools on one thread and gives minigrad the count, by this rule (the first
that applies wins):

1. an explicit ``threads`` argument to :func:`blas_threads`;
2. the innermost enclosing ``with blas_threads(n):`` block (``dann --threads N`` is one:
   everything the command trains runs inside it);
3. the environment variable ``DANN_THREADS``;
4. one thread (:data:`DEFAULT_THREADS`), the CLI's default too.

A count is an integer >= 1, or ``"auto"``: leave the BLAS library's setting and minigrad's
count alone. Measured here (2 cores, MNIST DANN step): one BLAS thread and two minigrad
threads took 64 ms, two BLAS threads and one minigrad thread 84 ms, two of each 106 ms.

The trainer (:func:`dann_from_scratch.trainers.train`, :func:`~dann_from_scratch.saddle.train_saddle`)
and :meth:`dann_from_scratch.estimator.DANNClassifier.fit` run inside ``blas_threads()``;
the limits are restored when they return. Example::

    from dann_from_scratch.threads import blas_threads
    with blas_threads(4):          # this machine is mine: use 4 threads
        train(model, source, target, config)
"""
from __future__ import annotations

import contextlib
import os

from threadpoolctl import threadpool_limits

from minigrad import threads as mg_threads

__all__ = ["blas_threads", "resolve_threads", "ENV_VAR", "DEFAULT_THREADS", "AUTO"]

ENV_VAR = "DANN_THREADS"
DEFAULT_THREADS = 1
AUTO = "auto"

_enclosing: list = []  # the counts of the enclosing blas_threads() blocks, innermost last


def _parse(value, source: str):
    """An int >= 1 or "auto" from ``value``; ValueError naming ``source`` otherwise."""
    given = value
    if isinstance(value, str):
        text = value.strip().lower()
        if text == AUTO:
            return AUTO
        value = int(text) if text.isdigit() else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{source}: expected a number of threads >= 1 or {AUTO!r}, "
                         f"got {given!r}")
    return value


def resolve_threads(threads=None):
    """The BLAS thread count the rule above gives (an int, or ``"auto"``)."""
    if threads is not None:
        return _parse(threads, "threads")
    if _enclosing:
        return _enclosing[-1]
    env = os.environ.get(ENV_VAR)
    if env is not None and env.strip():
        return _parse(env, f"environment variable {ENV_VAR}={env!r}")
    return DEFAULT_THREADS


@contextlib.contextmanager
def blas_threads(threads=None):
    """Inside the block, minigrad uses :func:`resolve_threads` ``(threads)`` threads and the
    BLAS pools one (neither is touched for ``"auto"``); nested trainers inside use the same
    count. The previous settings are restored on exit. Yields the count used."""
    n = resolve_threads(threads)
    _enclosing.append(n)
    try:
        if n == AUTO:
            yield n
        else:
            # one BLAS thread per product; minigrad runs n of them at once
            with threadpool_limits(limits=1, user_api="blas"), mg_threads.num_threads(n):
                yield n
    finally:
        _enclosing.pop()
