# %% [markdown]
# # Assignment 1 — the tape
#
# Open this file as a notebook (VS Code, Jupyter with jupytext) or run it:
# `python coursework/A1/starter.py`. Each cell checks one task; a cell that raises
# `NotImplementedError: A1.x` tells you which task is still to do
# (see coursework/A1/README.md). Finish with `pytest coursework/A1 -q`.

# %%
import numpy as np

import minigrad as mg
from coursework.A1.support import Times
from minigrad import Tensor
from minigrad.function import sum_to_shape
from minigrad.gradcheck import gradcheck

# %% [markdown]
# ## A1.1 The tape
# `Times` is a tiny op written out in full in `coursework/A1/support.py` (forward and
# backward side by side, as every minigrad op), so this cell needs nothing but your
# `Tensor.backward`.

# %%
x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
y = Times.apply(Times.apply(x, x), x)          # x**3 through two nodes, x used three times
y.backward(np.ones(3))
print("d(x^3)/dx by the tape:", x.grad, " by hand (3x^2):", 3 * x.data ** 2)
assert np.allclose(x.grad, 3 * x.data ** 2)

# %% [markdown]
# ## A1.2 Un-broadcasting
# A (4,) row added to a (3, 4) matrix gets, in backward, the column sums of the gradient.

# %%
g = np.arange(12.0).reshape(3, 4)
print("sum_to_shape((3, 4) -> (4,)):", sum_to_shape(g, (4,)))
print("sum_to_shape((3, 4) -> (3, 1)):", sum_to_shape(g, (3, 1)).ravel())
assert np.array_equal(sum_to_shape(g, (4,)), g.sum(axis=0))

# %% [markdown]
# ## A1.3 and A1.4 The arithmetic ops
# `gradcheck` compares your backward with central differences in float64 and names the
# worst element when they disagree. It needs your tape (A1.1) too.

# %%
rng = np.random.default_rng(0)
a = Tensor(rng.uniform(0.5, 2.0, (3, 4)), requires_grad=True)
b = Tensor(rng.uniform(0.5, 2.0, (4,)), requires_grad=True)   # broadcast against a
checks = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
    "neg, pow": lambda a, b: -(a ** 3) + b ** 0.5,
    "exp, log, sqrt": lambda a, b: mg.ops.exp(a) * mg.ops.log(b) + mg.ops.sqrt(a),
}
for name, fn in checks.items():
    gradcheck(fn, a, b)
    print(f"gradcheck {name}: ok")

# %%
print("all A1 checks passed")
