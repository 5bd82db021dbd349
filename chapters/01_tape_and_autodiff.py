# %% [markdown]
# # Chapter 1 - The tape and reverse-mode autodiff
#
# Everything in this course rests on one idea: while a program computes a loss, it writes
# down what it did (the *tape*), and then walks that record backwards, applying the chain
# rule once per step, to get the gradient of the loss with respect to every input.
#
# In minigrad the record is made of `Function` nodes. Each op is a subclass with a
# `forward` and a `backward` side by side, and the plain function you call sits right
# below it (`Tanh`, then `tanh`, in minigrad/ops/activations.py). Running `y = f(x)`
# creates a node and stores it in `y._ctx`; `loss.backward()` visits the nodes from the
# loss back to the leaves.
#
# Run this file top to bottom (`python chapters/01_tape_and_autodiff.py`) or open it as a
# notebook: the `# %%` markers are cells.

# %%
import os

import numpy as np

import minigrad as mg
from minigrad import Function, Tensor

QUICK = os.environ.get("CHAPTER_QUICK") == "1"  # CI runs every chapter in quick mode
if QUICK:
    print("Quick mode (CHAPTER_QUICK=1): tiny data and few steps, only to run the code - "
          "the numbers below are not meaningful.")

# %% [markdown]
# ## A first gradient
# f(x, w) = tanh(w * x + 1). By hand: df/dw = x (1 - f^2) and df/dx = w (1 - f^2).

# %%
x = Tensor(np.array(0.8, dtype=np.float32), requires_grad=True)
w = Tensor(np.array(-2.0, dtype=np.float32), requires_grad=True)
f = mg.ops.tanh(w * x + 1.0)
f.backward()
by_hand = 1 - f.item() ** 2
print(f"f = {f.item():.6f}")
print(f"df/dw: tape {w.grad.item():+.6f}   by hand {x.item() * by_hand:+.6f}")
print(f"df/dx: tape {x.grad.item():+.6f}   by hand {w.item() * by_hand:+.6f}")

# %% [markdown]
# ## What the tape looks like
# Each tensor made by an op remembers its creator; each creator remembers its inputs.
# Walking these links from the output gives the graph that `backward` runs in reverse
# topological order (iteratively, so even a 10,000-op chain is fine).

# %%
a = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
b = (a * a).sum() + a.exp().sum()


def show(t, depth=0):
    ctx = t._ctx
    label = "leaf" if ctx is None else ctx.name
    print("  " * depth + f"{label:<8} shape={t.shape}")
    if ctx is not None and ctx.inputs is not None:
        for inp in ctx.inputs:
            if inp.requires_grad:
                show(inp, depth + 1)


show(b)
b.backward()
print("db/da =", a.grad, " (2a + e^a =", 2 * a.data + np.exp(a.data), ")")

# %% [markdown]
# After `backward` the nodes are freed (memory stays flat across training steps). A second
# `backward` through the same graph is therefore an error, unless the first one was asked
# to keep it with `retain_graph=True`.

# %%
try:
    b.backward()
except RuntimeError as e:
    print("second backward:", e)

# %% [markdown]
# ## Writing your own op
# A new op is a `Function` with forward and backward. Here is the softplus,
# log(1 + e^x), whose derivative is the sigmoid. `gradcheck` compares our backward with
# central differences in float64 and raises, naming the worst element, if they disagree.

# %%
class Softplus(Function):
    def forward(self, x):
        xp = self.xp                       # numpy or cupy: the same code runs on both
        self.save_for_backward(x)
        return xp.logaddexp(0, x).astype(x.dtype)

    def backward(self, grad):
        (x,) = self.saved
        return grad / (1 + self.xp.exp(-x))  # sigmoid(x)


z = Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)  # float64
print("gradcheck(softplus):", mg.gradcheck(lambda t: Softplus.apply(t), z))


# %% [markdown]
# A wrong backward is caught: pretend the derivative were tanh(x).

# %%
class WrongSoftplus(Softplus):
    def backward(self, grad):
        (x,) = self.saved
        return grad * self.xp.tanh(x)


try:
    mg.gradcheck(lambda t: WrongSoftplus.apply(t), z)
except mg.GradcheckError as e:
    print("caught:", e)

# %% [markdown]
# ## Gradient descent on a tiny problem
# Fit y = 3x - 1 with one weight and one bias, by hand-written SGD on the tape's gradients.

# %%
rng = np.random.default_rng(0)
xs = rng.uniform(-1, 1, size=(64, 1)).astype(np.float32)
ys = 3 * xs - 1 + 0.05 * rng.standard_normal((64, 1)).astype(np.float32)
layer = mg.nn.Linear(1, 1, rng=0)
opt = mg.optim.SGD(layer.parameters(), lr=0.1)
for step in range(50 if QUICK else 200):
    opt.zero_grad()
    loss = ((layer(Tensor(xs)) - Tensor(ys)) ** 2).mean()
    loss.backward()
    opt.step()
print(f"learned w = {layer.weight.data.item():.3f} (true 3), b = {layer.bias.data.item():.3f} (true -1), "
      f"loss {loss.item():.4f}")

# %% [markdown]
# ## Exercises
#
# 1. *(easy)* Replace tanh by the sigmoid in the first cell: f(x, w) = sigmoid(w * x + 1)
#    (`mg.ops.sigmoid`). Work out df/dw and df/dx by hand and check them against the tape.
# 2. *(easy)* Run `loss.backward()` on two different losses of the same leaf without
#    resetting its `.grad` in between. What do you find in `.grad`, and why is adding (rather
#    than overwriting) the only correct rule when one tensor feeds several ops, as `a` does
#    in `a * a`?
# 3. *(medium)* Let `x` have shape (3, 1) and `y` shape (4,). `(x + y)` has shape (3, 4);
#    predict the shapes and values of `x.grad` and `y.grad` after `(x + y).sum().backward()`,
#    then check. Read `sum_to_shape` in minigrad/function.py: which axes does it sum, and why?
# 4. *(medium)* Write a `Softsign` op, x / (1 + |x|), as a `Function` and pass `gradcheck`.
#    Then break its backward on purpose and read the error: which element does it name?
# 5. *(hard)* Build a chain of 10,000 `tanh` ops and call `backward`. Why would a recursive
#    walk of the graph fail here? Write the reverse topological order yourself, without
#    recursion, and compare it with minigrad's. This is the heart of assignment A1, the tape
#    (`Tensor.backward`, un-broadcasting, the backward of the arithmetic ops; see
#    coursework/A1/README.md).
