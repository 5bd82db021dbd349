"""The tape: graph building, backward order and accumulation, no_grad, freeing, devices."""
from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad import Function, nn, ops, optim
from minigrad.tensor import _topological_order


def leaf(values, dtype=np.float64):
    return mg.Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# -- depth -------------------------------------------------------------------------------------
def test_ten_thousand_op_chain_backward_needs_no_recursion():
    x = leaf(1.0)
    y = x
    for i in range(10_000):
        y = y * 1.0001 if i % 2 else y + 0.5
    y.backward()
    np.testing.assert_allclose(x.grad, 1.0001 ** 5000, rtol=1e-9)


def test_deep_chain_of_shape_ops():
    x = leaf(np.arange(6.0).reshape(2, 3))
    y = x
    for _ in range(5000):
        y = y.T
    (y * leaf(np.ones((2, 3)))).sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))


# -- accumulation ------------------------------------------------------------------------------
def test_tensor_used_twice_accumulates():
    x = leaf([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, -4.0, 6.0])
    x.grad = None
    (x + x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


def test_diamond_graph():
    x = leaf([0.5, 1.5])
    a = x * 3.0          # da/dx = 3
    b = x.exp()          # db/dx = e^x
    c = a * b + a - b    # dc/dx = 3 e^x + 3 x e^x + 3 - e^x
    c.sum().backward()
    xv = np.array([0.5, 1.5])
    np.testing.assert_allclose(x.grad, 3 * np.exp(xv) + 3 * xv * np.exp(xv) + 3 - np.exp(xv))


def test_wide_diamond_sums_every_path():
    x = leaf([2.0])
    branches = [x * float(k) for k in range(1, 21)]
    total = branches[0]
    for b in branches[1:]:
        total = total + b
    (total * x).sum().backward()  # d/dx (210 x * x) = 420 x
    np.testing.assert_allclose(x.grad, [840.0])


def test_backward_twice_accumulates_into_grad():
    x = leaf([1.0, 2.0])
    for _ in range(2):
        (x * x).sum().backward()  # a fresh graph each time
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])
    x.zero_grad()
    assert x.grad is None


def test_leaf_grads_are_not_shared_arrays():
    """x + y hands one gradient array to both inputs; the leaves must get their own."""
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    assert a.grad is not b.grad
    a.grad *= 0.0  # e.g. an in-place clip or scale of one gradient
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])
    g = np.array([[5.0, 6.0]])
    c = leaf([7.0, 8.0])
    c.reshape(1, 2).backward(g)
    g[...] = 0.0  # the caller reuses its buffer
    np.testing.assert_array_equal(c.grad, [5.0, 6.0])


def test_a_leaf_keeps_a_gradient_made_for_it_alone_without_a_copy():
    """An array an op made for one input becomes that leaf's .grad as it is (no copy of
    the weight gradients every step); views, arrays handed to two inputs and the caller's
    grad= array are still copied."""
    made = []

    class Scale(Function):
        def forward(self, x, y):
            return 2 * x + y

        def backward(self, grad):
            made.append(2 * grad)
            return made[-1], grad          # a new array for x, the incoming one for y

    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    g = np.ones(2)
    Scale.apply(a, b).backward(g)
    assert a.grad is made[0]                       # made for a alone: kept
    assert b.grad is not g and not np.shares_memory(b.grad, g)
    c, d = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (Scale.apply(c, d) * 1.0).sum().backward()     # d gets Mul's fresh array, passed on
    assert d.grad.base is None and c.grad is made[1]
    e = leaf([[1.0, 2.0]])
    Scale.apply(e.reshape(2), leaf([0.0, 0.0])).backward(g)   # a view of made[2]: copied
    assert e.grad.base is None and not np.shares_memory(e.grad, made[2])
    e.grad += 1.0
    np.testing.assert_array_equal(made[2], [2.0, 2.0])


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad, 2 * 3 * np.array([1.0, 4.0]))
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_backward_with_explicit_grad_of_any_float_kind():
    x = leaf(np.ones((2, 2)), np.float32)
    y = x * 2.0
    y.backward(mg.Tensor(np.full((2, 2), 3.0)))  # a float64 tensor for a float32 output
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, np.full((2, 2), 6.0))


# -- no_grad and detach ---------------------------------------------------------------------------
def test_no_grad_builds_no_graph_and_nests():
    x = leaf([1.0, 2.0])
    assert mg.is_grad_enabled()
    with mg.no_grad():
        y = x * 2.0
        assert y.requires_grad is False and y._ctx is None
        with mg.no_grad():
            assert not mg.is_grad_enabled()
        assert not mg.is_grad_enabled()  # the inner block restored "off", not "on"
        with mg.enable_grad():
            z = x * 2.0
            assert z.requires_grad and z._ctx is not None
        assert not mg.is_grad_enabled()
        w = x.astype(np.float32)  # Cast bypasses Function.apply: it must respect no_grad too
        assert not w.requires_grad and w._ctx is None
    assert mg.is_grad_enabled()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_no_grad_restores_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with mg.no_grad():
            1 / 0
    assert mg.is_grad_enabled()


def test_detach_cuts_the_tape_and_shares_data():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    d = y.detach()
    assert d.requires_grad is False and d._ctx is None and d.is_leaf
    assert d.data is y.data
    (d * x).sum().backward()  # only the direct path reaches x
    np.testing.assert_array_equal(x.grad, [3.0, 6.0])


def test_inputs_without_requires_grad_get_no_grad():
    x, c = leaf([1.0, 2.0]), mg.Tensor(np.array([3.0, 4.0]))
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


# -- broadcasting is undone in backward -------------------------------------------------------------
@pytest.mark.parametrize("sa, sb", [
    ((2, 3), (3,)), ((2, 3), (1, 3)), ((2, 3), (2, 1)), ((4, 1, 3), (5, 1)), ((), (2, 2)),
    ((1,), (3, 1, 2)), ((2, 1, 1), (1, 3, 1)), ((3, 0), (1,)),
])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_broadcasting_is_summed_back_to_each_input_shape(sa, sb, op):
    rng = np.random.default_rng(0)
    a = leaf(rng.uniform(1, 2, sa))
    b = leaf(rng.uniform(1, 2, sb))
    out = getattr(ops, op)(a, b)
    assert out.shape == np.broadcast_shapes(sa, sb)
    out.backward(np.ones(out.shape))
    assert a.grad.shape == sa and b.grad.shape == sb
    if op == "add":  # each element of an input was used prod(out) / prod(input) times
        np.testing.assert_allclose(a.grad, np.full(sa, out.size / max(a.size, 1)))
        np.testing.assert_allclose(b.grad, np.full(sb, out.size / max(b.size, 1)))


# -- freeing and memory ------------------------------------------------------------------------------
def test_graph_is_freed_after_backward():
    x = leaf(np.ones((3, 3)))
    h = (x @ x).tanh()
    loss = (h * h).sum()
    nodes = [t._ctx for t in _topological_order(loss) if t._ctx is not None]
    assert len(nodes) == 4
    loss.backward()
    for ctx in nodes:
        assert ctx.inputs is None and ctx.saved is None, ctx.name
    with pytest.raises(RuntimeError, match="freed"):
        loss.backward()


def test_intermediates_die_without_the_garbage_collector():
    """Nodes hold their inputs, never their outputs: no cycles, so refcounting frees a
    step's graph the moment the loss goes away."""
    gc.disable()
    try:
        x = leaf(np.ones(4))
        h = x.exp()
        ref = weakref.ref(h)
        loss = (h * 2.0).sum()
        del h
        assert ref() is not None  # kept alive by the graph
        loss.backward()
        assert ref() is None  # backward freed the graph
        h2 = x.exp()
        ref2 = weakref.ref(h2)
        loss2 = (h2 * 2.0).sum()
        del h2, loss2  # never backpropagated: dropping the loss frees it all the same
        assert ref2() is None
    finally:
        gc.enable()


def _live_functions():
    return sum(1 for o in gc.get_objects() if issubclass(type(o), Function))


def test_memory_stays_flat_over_thousands_of_training_steps():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(4, 16, rng=1), nn.ReLU(), nn.Linear(16, 3, rng=2))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = mg.tensor(rng.standard_normal((8, 4)).astype(np.float32))
    y = rng.integers(0, 3, 8)

    def step():
        loss = ops.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    gc.collect()
    functions_before = _live_functions()
    tracemalloc.start()
    try:
        for i in range(3000):
            loss = step()
            if i == 299:
                gc.collect()
                at_300 = tracemalloc.get_traced_memory()[0]
                functions_at_300 = _live_functions()
        gc.collect()
        at_3000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert np.isfinite(loss) and loss < 0.5  # it did learn (8 points, 3 classes)
    assert at_3000 - at_300 < 32 * 1024, f"memory grew by {at_3000 - at_300} bytes"
    assert _live_functions() == functions_at_300 == functions_before


# -- conversions and construction ------------------------------------------------------------------
def test_to_cpu_numpy_item():
    x = mg.tensor([[1.5, 2.5]])
    assert x.to("cpu") is x and x.device == "cpu"
    assert isinstance(x.numpy(), np.ndarray) and x.numpy().dtype == np.float32
    s = x.sum()
    assert isinstance(s.item(), float) and s.item() == 4.0
    assert isinstance(s.data, np.ndarray) and s.data.shape == ()  # a 0-d array, not a scalar
    assert isinstance(x[0, 1].data, np.ndarray)
    with pytest.raises(mg.DeviceError, match="unknown device"):
        x.to("tpu")


def test_tensor_dtype_defaults():
    assert mg.tensor([1.0, 2.0]).dtype == np.float32      # float lists: the training dtype
    assert mg.tensor(3.0).dtype == np.float32
    assert mg.tensor([1, 2]).dtype == np.int64            # integer lists stay labels
    assert mg.tensor([1, 2], requires_grad=True).dtype == np.float32
    assert mg.tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert mg.tensor(np.zeros(2)).dtype == np.float64     # arrays keep their dtype
    assert mg.Tensor([1, 2]).dtype == np.float32          # Tensor(): numbers become float32
    t = mg.tensor(np.float64(2.0), requires_grad=True)   # a NumPy scalar becomes a 0-d array
    assert isinstance(t.data, np.ndarray) and t.shape == ()
    assert mg.gradcheck(lambda a: a * a, t)
    assert t.shape == ()  # gradcheck left the input's shape alone


def test_gradcheck_leaves_zero_d_and_non_contiguous_inputs_intact():
    s = mg.Tensor(np.array(1.5), requires_grad=True)
    m = mg.Tensor(np.arange(6.0).reshape(2, 3).T, requires_grad=True)  # a transposed view
    assert mg.gradcheck(lambda a, b: a * b.exp(), s, m)
    assert s.shape == () and m.shape == (3, 2)
    np.testing.assert_array_equal(m.numpy(), np.arange(6.0).reshape(2, 3).T)


def test_gradcheck_catches_a_wrong_backward():
    class WrongSquare(Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x * x

        def backward(self, grad):
            (x,) = self.saved
            return grad * x  # should be 2 x

    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(mg.GradcheckError, match="analytic"):
        mg.gradcheck(WrongSquare.apply, x)
    with pytest.raises(mg.GradcheckError, match="directional"):
        mg.gradcheck(WrongSquare.apply, x, directional=True)


# -- devices --------------------------------------------------------------------------------------
def test_to_cuda_without_a_gpu_says_how_to_install_cupy():
    if mg.gpu_available():
        pytest.skip("a GPU is available here")
    x = mg.tensor([1.0])
    with pytest.raises(mg.DeviceError, match="install CuPy"):
        x.to("cuda")
    with pytest.raises(mg.DeviceError, match="cupy-cuda12x"):
        mg.tensor([1.0], device="cuda")


@pytest.mark.gpu
def test_mixing_devices_raises_device_error():
    a = mg.tensor([1.0, 2.0]).to("cuda")
    b = mg.tensor([1.0, 2.0])
    with pytest.raises(mg.DeviceError, match="different devices"):
        a + b
    with pytest.raises(mg.DeviceError, match="different devices"):
        ops.matmul(a.reshape(1, 2), b.reshape(2, 1))


@pytest.mark.gpu
def test_gpu_round_trip_and_backward_on_cuda():
    x = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, device="cuda")
    assert x.device == "cuda" and x.requires_grad
    y = (x * x).sum()
    y.backward()
    assert mg.backend.device_of(x.grad) == "cuda"
    np.testing.assert_allclose(mg.backend.to_numpy(x.grad), 2 * np.arange(6.0).reshape(2, 3))
    back = x.to("cpu")
    assert back.device == "cpu" and isinstance(back.numpy(), np.ndarray)
    assert y.item() == pytest.approx(55.0)
