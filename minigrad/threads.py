"""How many threads minigrad's CPU ops use for their groups of images.

Convolution and pooling work on a few images at a time (:func:`minigrad.ops.batch_groups`)
so that consecutive steps meet in cache. The groups are independent: each does its own
im2col copy, its own matrix product and its own elementwise masks. With
``set_num_threads(n)``, n > 1, they run ``n`` at a time on a small thread pool.

Why not leave it to the BLAS library's threads: NumPy's copies and elementwise work run on
one core, and a group's product is too small to split well across BLAS threads (measured
here: the MNIST step ran only 1.3-1.45x faster with two BLAS threads than with one, against
2x for PyTorch, which threads everything). NumPy releases the GIL inside copies, ufunc
loops and matrix products, so Python threads do run the groups in parallel.

While the groups run, the BLAS pool is limited to one thread (threadpoolctl), so the two
kinds of threads do not fight over the cores; the whole-batch products between the group
loops (e.g. a conv's weight gradient, the fully connected layers) keep the BLAS pool's own
count, unless they are large enough to split across the threads too (:func:`matmul`).

The image groups give bit-identical results whatever the count: every group does the same
arithmetic as with one thread, and sums across groups are added in group order
(:func:`map_groups` returns the results in order). A split product may differ in its last
bits (see :func:`matmul`); no product of the MNIST network is large enough to split, so its
training is bit-identical on any count. On a GPU there is one group, so nothing changes.

The default is one thread. ``dann_from_scratch.threads.blas_threads`` sets this count
together with the BLAS one (``dann --threads N``); in your own code::

    import minigrad
    minigrad.set_num_threads(2)          # or: with minigrad.threads.num_threads(2): ...
"""
from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from . import backend

__all__ = ["set_num_threads", "get_num_threads", "num_threads", "map_groups", "matmul"]

_count = 1
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_blas = None            # threadpoolctl controller, made on first use (it scans the libraries)
_inside = threading.local()   # set in pool threads: a nested map_groups runs serially


def set_num_threads(n: int) -> None:
    """Run the image groups of conv and pooling, the large products and the SGD update on
    ``n`` threads (``n`` >= 1)."""
    global _count
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"minigrad.set_num_threads: expected an integer >= 1, got {n!r}")
    _count = n


def get_num_threads() -> int:
    """The number of threads :func:`map_groups` uses (1 unless set)."""
    return _count


@contextlib.contextmanager
def num_threads(n: int):
    """``set_num_threads(n)`` inside the block; the previous count is restored on exit."""
    before = _count
    set_num_threads(n)
    try:
        yield n
    finally:
        set_num_threads(before)


def map_groups(fn, groups) -> list:
    """``[fn(g) for g in groups]``, run ``get_num_threads()`` at a time when there is more
    than one group; results in the order of ``groups``. ``fn`` must only write to its own
    group's part of any shared output."""
    groups = list(groups)
    if _count == 1 or len(groups) <= 1 or getattr(_inside, "yes", False):
        return [fn(g) for g in groups]
    with _one_blas_thread():
        return list(_executor().map(fn, groups))


BLOCK_WORK = 1 << 24  # multiply-adds: the least a block of a split product gets


def matmul(xp, a, b):
    """``a @ b`` for 2-D ``a`` and ``b``, split into up to ``get_num_threads()`` row blocks
    of the output (column blocks when it is wider than tall) that run at once, each a
    one-thread BLAS call of at least :data:`BLOCK_WORK` multiply-adds (16.8M: the large
    fully connected layers of the SVHN and GTSRB networks, not those of the MNIST one).
    Smaller products, and products on a GPU, are one call.

    Each element is the same sum as in the one-call product, but the BLAS may block a
    smaller product differently, so the last bits can differ (measured with OpenBLAS: equal
    on its AVX-512 kernel for most shapes, not on its AVX2 one)."""
    m, k = a.shape
    n = b.shape[1]
    parts = 1
    if _count > 1 and xp is backend.numpy_module and not getattr(_inside, "yes", False):
        parts = min(_count, (m * n * k) // BLOCK_WORK)
    if parts <= 1:
        return a @ b
    out = xp.empty((m, n), dtype=xp.result_type(a, b))
    size = max(m, n)
    step = -(-size // (parts * 16)) * 16     # block edges on multiples of 16 (SIMD tiles)
    if step >= size:
        return a @ b
    blocks = [slice(i, min(i + step, size)) for i in range(0, size, step)]
    if m >= n:
        def block(rows):
            xp.matmul(a[rows], b, out=out[rows])
    else:
        def block(cols):
            xp.matmul(a, b[:, cols], out=out[:, cols])
    map_groups(block, blocks)
    return out


def _executor() -> ThreadPoolExecutor:
    global _pool, _pool_size
    if _pool is None or _pool_size != _count:
        if _pool is not None:
            _pool.shutdown(wait=True)
        _pool = ThreadPoolExecutor(max_workers=_count, thread_name_prefix="minigrad",
                                   initializer=_mark_inside)
        _pool_size = _count
    return _pool


def _mark_inside() -> None:
    _inside.yes = True


def _one_blas_thread():
    """A context that limits the BLAS pools to one thread (nothing if threadpoolctl is not
    installed: the products then use the BLAS pool's own count)."""
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
            _blas = ThreadpoolController()
        except ImportError:  # pragma: no cover - threadpoolctl comes with the package
            _blas = False
    if _blas is False:
        return contextlib.nullcontext()
    return _blas.limit(limits=1, user_api="blas")


def _forget_pool_after_fork() -> None:
    # a forked child (dann reproduce --jobs) inherits the pool object but not its threads
    global _pool, _pool_size
    _pool, _pool_size = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)
