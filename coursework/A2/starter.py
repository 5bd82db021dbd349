# %% [markdown]
# # Assignment 2 — reductions, shapes and losses
#
# Open as a notebook or run `python coursework/A2/starter.py`. Each cell checks one task;
# `NotImplementedError: A2.x` names the task still to do (coursework/A2/README.md). Finish
# with `pytest coursework/A2 -q`. Your A1 tape runs every backward here.

# %%
import numpy as np

import minigrad as mg
from minigrad import ops
from minigrad.gradcheck import gradcheck

rng = np.random.default_rng(0)
x = mg.Tensor(rng.standard_normal((3, 4)), requires_grad=True)

# %% [markdown]
# ## A2.1 sum and mean

# %%
gradcheck(lambda t: ops.sum(t, axis=1), x)
gradcheck(lambda t: ops.mean(t, axis=(0, 1), keepdims=True), x)
print("sum, mean: gradcheck ok")

# %% [markdown]
# ## A2.2 max: tied maxima share the gradient

# %%
t = mg.Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), requires_grad=True)
ops.max(t, axis=1).backward(np.ones(2))
print("gradient of max over rows [1, 3, 3] and [2, 2, 2]:\n", t.grad)
assert np.allclose(t.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])

# %% [markdown]
# ## A2.3 reshape, transpose, getitem: repeated indices accumulate

# %%
gradcheck(lambda t: t.reshape(2, 6).T[::2], x)
v = mg.Tensor(np.zeros(3), requires_grad=True)
v[np.array([0, 0, 2])].backward(np.array([1.0, 1.0, 1.0]))
print("gradient of v[[0, 0, 2]]:", v.grad)
assert np.array_equal(v.grad, [2.0, 0.0, 1.0])

# %% [markdown]
# ## A2.4 log-softmax and cross-entropy, stable at logits of 1000

# %%
logits = mg.Tensor(np.array([[1000.0, 0.0], [0.0, 1000.0]], dtype=np.float32), requires_grad=True)
loss = ops.cross_entropy(logits, np.array([0, 0]))
loss.backward()
print("cross-entropy at logits 1000:", loss.item(), " gradient:\n", logits.grad)
assert np.isfinite(loss.item()) and abs(loss.item() - 500.0) < 1e-3
gradcheck(lambda z: ops.cross_entropy(z, np.array([1, 3, 0])), mg.Tensor(rng.standard_normal((3, 4)), requires_grad=True))
print("cross-entropy: gradcheck ok")

# %% [markdown]
# ## A2.5 sigmoid and the logistic loss

# %%
with np.errstate(over="raise"):
    s = ops.sigmoid(mg.Tensor(np.array([-1000.0, 0.0, 1000.0], dtype=np.float32)))
print("sigmoid(-1000, 0, 1000):", s.numpy())
z = mg.Tensor(rng.standard_normal(5), requires_grad=True)
gradcheck(lambda q: ops.binary_cross_entropy_with_logits(q, np.array([0.0, 1.0, 1.0, 0.0, 0.3])), z)
print("logistic loss: gradcheck ok")

# %%
print("all A2 checks passed")
