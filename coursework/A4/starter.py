# %% [markdown]
# # Assignment 4 - layers and optimisers
#
# Run this file top to bottom (or open it as a notebook: every `# %%` is a cell). Each cell
# calls code you write in this assignment; until you have written it, the cell stops with
# `NotImplementedError("A4.k: ...")`. See `coursework/A4/README.md`.

# %%
import math

import numpy as np

import minigrad as mg
from minigrad import nn, optim

# %% [markdown]
# ## A4.1 - initialisation
# He: N(0, 2 / fan_in). Glorot: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).

# %%
w = nn.he_normal((256, 512), fan_in=512, rng=0)
print(f"he_normal: std {w.std():.4f}, expected {math.sqrt(2 / 512):.4f}, dtype {w.dtype}")
g = nn.glorot_uniform((256, 512), 512, 256, rng=0)
print(f"glorot_uniform: max |w| {np.abs(g).max():.4f}, bound {math.sqrt(6 / 768):.4f}")

# %% [markdown]
# Why the factor 2: push a batch through ten ReLU layers and watch the activations' scale.

# %%
x = np.random.default_rng(1).standard_normal((512, 256)).astype(np.float32)
for name, scale in (("He, 2/fan_in", 2.0), ("1/fan_in", 1.0)):
    h = x
    for _ in range(10):
        h = np.maximum(h @ (nn.he_normal((256, 256), 256, 2) * math.sqrt(scale / 2.0)).T, 0)
    print(f"{name:14s} std after 10 ReLU layers: {h.std():.4f}")

# %% [markdown]
# ## A4.2 - Linear and Conv2d

# %%
layer = nn.Linear(4, 3, rng=0)
print(layer, [(n, p.shape) for n, p in layer.named_parameters()])
print(layer(mg.Tensor(np.ones((2, 4), np.float32))))
conv = nn.Conv2d(1, 2, 3, padding=1, rng=0)
print(conv, conv(mg.Tensor(np.ones((1, 1, 5, 5), np.float32))).shape)

# %% [markdown]
# ## A4.3 - SGD with momentum and weight decay
# Minimise f(w) = |w|^2 / 2 (gradient w): with momentum the iterates spiral in.

# %%
p = nn.Parameter(np.array([1.0, -2.0], np.float32))
opt = optim.SGD([p], lr=0.1, momentum=0.9)
trace = []
for _ in range(30):
    p.grad = p.data.copy()
    opt.step()
    trace.append(float(np.linalg.norm(p.data)))
print("|w| every 5 steps:", np.round(trace[::5], 4))

# %% [markdown]
# ## A4.4 - a convnet on scikit-learn's digits

# %%
from coursework.A4 import digits

acc, net, history, seconds = digits.run(seed=0)
print(f"test accuracy {acc:.3f} after {len(history)} epochs ({seconds:.1f} s)")

# %%
try:
    import matplotlib.pyplot as plt

    plt.plot(range(1, len(history) + 1), history, marker="o")
    plt.xlabel("epoch")
    plt.ylabel("mean training loss")
    plt.title(f"digits convnet: test accuracy {acc:.3f}")
    plt.show()
except ImportError:
    print("matplotlib is not installed; losses:", np.round(history, 3))
