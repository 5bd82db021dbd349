"""minigrad.threads: image groups on several threads give bit-identical results to one
thread, split products the same sums up to rounding; the order is kept, BLAS runs one thread
meanwhile, and a forked child gets a pool of its own."""
import multiprocessing
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_info, threadpool_limits

import minigrad as mg
from minigrad import ops
from minigrad import threads
from minigrad.ops import conv as conv_module
from minigrad.ops import pool as pool_module

from rounding import assert_close_up_to_rounding


@pytest.fixture
def small_groups(monkeypatch):
    """Groups of one or two images, so that a small batch has many of them."""
    monkeypatch.setattr(conv_module, "GROUP_BYTES", 1)
    monkeypatch.setattr(pool_module, "GROUP_BYTES", 1)


def blas_counts():
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


def test_the_count_is_checked_and_restored():
    assert mg.get_num_threads() == 1
    for bad in (0, -2, 1.5, "2", True):
        with pytest.raises(ValueError, match="minigrad.set_num_threads: expected an integer >= 1"):
            mg.set_num_threads(bad)
    with threads.num_threads(3):
        assert mg.get_num_threads() == 3
    assert mg.get_num_threads() == 1


def test_map_groups_keeps_the_order_and_uses_the_threads():
    seen = set()

    def work(i):
        seen.add(threading.current_thread().name)
        return i * i

    assert threads.map_groups(work, range(40)) == [i * i for i in range(40)]
    assert seen == {threading.current_thread().name}          # one thread: in the caller
    seen.clear()
    with threads.num_threads(3):
        assert threads.map_groups(work, range(40)) == [i * i for i in range(40)]
    assert seen and all(name.startswith("minigrad") for name in seen)


def test_a_nested_map_runs_in_its_thread():
    with threads.num_threads(2):
        out = threads.map_groups(lambda i: threads.map_groups(lambda j: (i, j), range(3)), range(4))
    assert out == [[(i, j) for j in range(3)] for i in range(4)]


def test_blas_runs_one_thread_inside_and_its_count_comes_back():
    if not blas_counts():
        pytest.skip("no BLAS thread pool that threadpoolctl can see")
    with threadpool_limits(limits=2, user_api="blas"):
        if blas_counts() != {2}:
            pytest.skip("this BLAS cannot run 2 threads here")
        with threads.num_threads(2):
            inside = threads.map_groups(lambda i: blas_counts(), range(4))
        assert inside == [{1}] * 4
        assert blas_counts() == {2}


@settings(max_examples=30, deadline=None,  # small_blocks is the same for every example
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=st.integers(16, 400), k=st.integers(32, 300), n=st.integers(16, 400),
       count=st.integers(2, 4), transposed=st.booleans(), seed=st.integers(0, 2**16))
def test_a_split_product_is_the_same_up_to_rounding(m, k, n, count, transposed, seed,
                                                     small_blocks):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if transposed else (k, n)).astype(np.float32)
    b = b.T if transposed else b             # a transposed view, as Linear passes weight.T
    with threads.num_threads(count):
        split = threads.matmul(np, a, b)
    assert split.dtype == np.float32 and split.shape == (m, n)
    assert_close_up_to_rounding(split, a @ b, n_terms=k,
                                magnitude=np.abs(a).astype(np.float64) @ np.abs(b))


@pytest.fixture
def small_blocks(monkeypatch):
    """Split products of a few hundred rows already."""
    monkeypatch.setattr(threads, "BLOCK_WORK", 1 << 16)


def test_big_products_are_split_and_small_ones_are_not(monkeypatch):
    calls = []
    real = np.matmul
    monkeypatch.setattr(np, "matmul", lambda *args, **kw: calls.append(args[0].shape) or real(*args, **kw))
    a, b = np.ones((1024, 512), np.float32), np.ones((512, 64), np.float32)  # 33.6M multiply-adds
    with threads.num_threads(2):
        threads.matmul(np, a, b)
        assert sorted(calls) == [(512, 512), (512, 512)]     # two row blocks
        calls.clear()
        threads.matmul(np, a[:500], b)                       # 16.4M: one call (the @ operator)
        assert calls == []
    threads.matmul(np, a, b)                                 # one thread: one call
    assert calls == []


def _forward_and_grads(build, arrays):
    """Output and input gradients of ``build(*tensors)``, with a fixed random output grad."""
    tensors = [mg.Tensor(a, requires_grad=True) for a in arrays]
    out = build(*tensors)
    seed = np.random.default_rng(7).standard_normal(out.shape).astype(np.float32)
    (out * mg.Tensor(seed)).sum().backward()
    return [out.data] + [t.grad for t in tensors]


CASES = {
    "conv2d, padding 2": (lambda x, w, b: ops.conv2d(x, w, b, padding=2), [(5, 3, 9, 9), (4, 3, 5, 5), (4,)]),
    "conv2d + max pool + relu": (lambda x, w, b: ops.conv2d_maxpool2d(x, w, b, relu=True),
                                 [(6, 2, 9, 9), (3, 2, 2, 2), (3,)]),
    "max pool 3x3/2, padding 1": (lambda x: ops.max_pool2d(x, 3, 2, padding=1), [(7, 3, 9, 9)]),
    "avg pool 2x2": (lambda x: ops.avg_pool2d(x, 2), [(5, 2, 8, 8)]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_ops_give_the_same_bits_on_several_threads(case, small_groups):
    build, shapes = CASES[case]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    one = _forward_and_grads(build, arrays)
    with threads.num_threads(3):
        three = _forward_and_grads(build, arrays)
    for a, b in zip(one, three):
        assert a.dtype == np.float32
        assert np.array_equal(a, b)


def _in_child(queue):
    with threads.num_threads(2):
        queue.put(threads.map_groups(lambda i: i + 1, range(5)))


def test_a_split_linear_layer_is_the_same_up_to_rounding(small_blocks):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(200, 160), (300, 160), (300,)])
    build = lambda x, w, b: ops.linear(x, w, b)   # noqa: E731
    y1, gx1, gw1, gb1 = _forward_and_grads(build, [x, w, b])
    with threads.num_threads(3):
        y3, gx3, gw3, gb3 = _forward_and_grads(build, [x, w, b])
    g = np.abs(np.random.default_rng(7).standard_normal(y1.shape))   # |output grad|
    ax, aw = np.abs(x).astype(np.float64), np.abs(w)
    assert_close_up_to_rounding(y3, y1, n_terms=160, magnitude=ax @ aw.T + np.abs(b))
    assert_close_up_to_rounding(gx3, gx1, n_terms=300, magnitude=g @ aw)
    assert_close_up_to_rounding(gw3, gw1, n_terms=200, magnitude=g.T @ ax)
    assert np.array_equal(gb3, gb1)               # a column sum: no product, no split


def test_a_forked_child_gets_a_fresh_pool():
    with threads.num_threads(2):
        threads.map_groups(lambda i: i, range(4))      # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == [1, 2, 3, 4, 5]


def test_sgd_on_several_threads_is_bit_identical():
    """A large layer's update runs its row blocks on the threads; elementwise, so same bits."""
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((1000, 300)).astype(np.float32)       # 300 K numbers: 5 blocks
    grads = [rng.standard_normal(w0.shape).astype(np.float32) for _ in range(3)]
    finals = []
    for count in (1, 3):
        p = mg.Tensor(w0.copy(), requires_grad=True)
        opt = mg.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=1e-3)
        with threads.num_threads(count):
            for g in grads:
                p.grad = g.copy()
                opt.step()
        finals.append((p.data, opt.velocity[0]))
    assert finals[1][0].dtype == np.float32
    assert np.array_equal(finals[0][0], finals[1][0])
    assert np.array_equal(finals[0][1], finals[1][1])
    assert not np.array_equal(finals[0][0], w0)
