# %% [markdown]
# # Assignment 3 — convolution and pooling
#
# Open as a notebook or run `python coursework/A3/starter.py`. Each cell checks one task;
# `NotImplementedError: A3.x` names the task still to do (coursework/A3/README.md). Finish
# with `pytest coursework/A3 -q`.

# %%
import numpy as np

import minigrad as mg
from minigrad import ops
from minigrad.gradcheck import adjoint_gap, gradcheck

rng = np.random.default_rng(0)

# %% [markdown]
# ## A3.4 first: your own checking tool
# A matrix and its transpose are adjoint; a matrix and itself (not symmetric) are not.

# %%
A = rng.standard_normal((4, 6))
print("gap(A, A^T) =", adjoint_gap(lambda v: A @ v, lambda u: A.T @ u, (6,), (4,)))
B = rng.standard_normal((5, 5))
print("gap(B, B)   =", adjoint_gap(lambda v: B @ v, lambda u: B @ u, (5,), (5,)))

# %% [markdown]
# ## A3.1 im2col and col2im
# One window, written out by hand, then the adjoint identity for a strided, padded geometry.

# %%
x = np.arange(2 * 4 * 4, dtype=np.float64).reshape(1, 2, 4, 4)
cols = ops.im2col(x, 2, 2, stride=2)
print("im2col rows (n, a, b), columns (i, j, c); first window:", cols[0])
assert np.array_equal(cols[0], x[0, :, :2, :2].transpose(1, 2, 0).ravel())
shape = (2, 3, 7, 6)
rows = ops.im2col(np.zeros(shape), 3, 3, 2, 1).shape
gap = adjoint_gap(lambda v: ops.im2col(v, 3, 3, 2, 1), lambda u: ops.col2im(u, shape, 3, 3, 2, 1),
                  shape, rows)
print("gap(im2col, col2im) =", gap)
assert gap < 1e-12

# %% [markdown]
# ## A3.2 conv2d
# Against the slow reference `conv2d_simple`, then gradcheck, then the input gradient as
# the adjoint of the forward.

# %%
x = mg.Tensor(rng.standard_normal((2, 3, 6, 5)), requires_grad=True)
w = mg.Tensor(rng.standard_normal((4, 3, 3, 2)), requires_grad=True)
b = mg.Tensor(rng.standard_normal(4), requires_grad=True)
fast = ops.conv2d(x, w, b, stride=(2, 1), padding=1)
slow = ops.conv2d_simple(x, w, b, stride=(2, 1), padding=1)
print("conv2d vs conv2d_simple, max |diff|:", np.abs(fast.numpy() - slow.numpy()).max())
gradcheck(lambda x, w, b: ops.conv2d(x, w, b, stride=(2, 1), padding=1), x, w, b)
print("conv2d: gradcheck ok")


def conv_input_adjoint(g):
    xi = mg.Tensor(np.zeros(x.shape), requires_grad=True)
    ops.conv2d(xi, w.detach(), stride=(2, 1), padding=1).backward(g)
    return xi.grad


gap = adjoint_gap(lambda v: ops.conv2d(mg.Tensor(v), w.detach(), stride=(2, 1), padding=1).numpy(),
                  conv_input_adjoint, x.shape, fast.shape)
print("gap(conv2d in x, its input gradient) =", gap)
assert gap < 1e-12

# %% [markdown]
# ## A3.3 pooling backward
# gradcheck on distinct values (no ties), then a tied window: all of the gradient goes to
# the topmost maximum of the leftmost column that holds one.

# %%
v = mg.Tensor(rng.permutation(36).reshape(1, 1, 6, 6) / 7.0, requires_grad=True)
gradcheck(lambda t: ops.max_pool2d(t, 3, 2, 1), v)
gradcheck(lambda t: ops.avg_pool2d(t, 3, 2, 1), v)
print("max_pool2d, avg_pool2d: gradcheck ok")
t = mg.Tensor(np.array([[[[1.0, 5.0], [5.0, 5.0]]]]), requires_grad=True)
ops.max_pool2d(t, 2).backward(np.ones((1, 1, 1, 1)))
print("gradient of a tied 2x2 window [[1, 5], [5, 5]]:\n", t.grad[0, 0])
assert t.grad[0, 0, 1, 0] == 1.0 and t.grad.sum() == 1.0

# %%
print("all A3 checks passed")
