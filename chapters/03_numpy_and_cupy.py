# %% [markdown]
# # Chapter 3 - NumPy and CuPy, one code
#
# CuPy copies NumPy's interface on NVIDIA GPUs: `cupy.exp`, `cupy.zeros`, slicing, `@`...
# So an op written against "the array module" runs on either device, provided it never
# names `numpy` itself. minigrad keeps that knowledge in one module, `minigrad.backend`:
#
# * `get_array_module(*arrays)` returns `numpy` or `cupy` for the arrays (or tensors)
#   given, and refuses to mix devices;
# * `Tensor.to("cuda")` / `.to("cpu")` / `.numpy()` move data explicitly;
# * CuPy is imported lazily, the first time someone asks for the GPU.
#
# Inside every op, `self.xp` is that module. This chapter shows the mechanism on whatever
# machine runs it: with a GPU it compares both devices, without one it shows the errors
# you get and why they are errors rather than silent copies.

# %%
import os

import numpy as np

import minigrad as mg
from minigrad import backend

QUICK = os.environ.get("CHAPTER_QUICK") == "1"
if QUICK:
    print("Quick mode (CHAPTER_QUICK=1): tiny data and few steps, only to run the code - "
          "the numbers below are not meaningful.")

# %%
x = mg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
print("array module of a CPU tensor:", backend.get_array_module(x).__name__)
print("device:", x.device, " GPU available here:", mg.gpu_available())

# %% [markdown]
# ## The same op on both devices
# One `Function`, no device-specific code: a GPU run must agree with the CPU run to
# float32 round-off. The net's conv -> pool -> ReLU runs as the fused node of chapter 2
# (`fuse_conv_pool`), the way the paper's networks run.

# %%
rng = np.random.default_rng(0)
inputs = rng.standard_normal((64, 3, 28, 28)).astype(np.float32)
net = mg.nn.fuse_conv_pool(mg.nn.Sequential(
    mg.nn.Conv2d(3, 8, 5, rng=rng), mg.nn.MaxPool2d(2), mg.nn.ReLU(),
    mg.nn.Flatten(), mg.nn.Linear(8 * 12 * 12, 10, rng=rng),
))
cpu_out = net(mg.Tensor(inputs)).data
if mg.gpu_available():
    gpu_out = net.to("cuda")(mg.Tensor(inputs).to("cuda")).numpy()
    print("max |cpu - gpu| =", float(np.abs(cpu_out - gpu_out).max()))
    net.to("cpu")
else:
    try:
        mg.Tensor(inputs).to("cuda")
    except mg.DeviceError as e:
        print("asking for the GPU without one:\n ", e)

# %% [markdown]
# ## Why mixing devices is an error
# Adding a CPU array to a GPU array would need a copy across the PCIe bus, which is slow
# and easy to do by accident in a training loop. minigrad refuses and says what to do.
# On a CPU-only machine we can still show the check itself: `get_array_module` looks at
# every argument and raises if they disagree.

# %%
print("get_array_module(x, 2.0, None) ->", backend.get_array_module(x, 2.0, None).__name__)
if mg.gpu_available():
    try:
        x + mg.tensor(np.ones(3, np.float32)).to("cuda")
    except mg.DeviceError as e:
        print("mixing devices:", e)

# %% [markdown]
# ## What must be written with care
# Not everything in NumPy exists in CuPy, and random numbers differ between the two.
# minigrad draws initial weights and dropout masks with a NumPy `Generator` on the CPU and
# moves them, so a seed gives the same model on both devices; and the scatter-add needed
# by the backward of indexing goes through `backend.add_at`, the one place that knows how
# each library spells it.

# %% [markdown]
# ## Exercises
#
# 1. *(easy)* What does `backend.get_array_module` return for a NumPy array, a `Tensor`, a
#    Python float, and for no argument at all? Read its code to explain each answer.
# 2. *(easy)* Build the same network twice with `rng=0` and check that every parameter is
#    equal. Why does minigrad draw initial weights with a NumPy `Generator` on the CPU even
#    when the model is going to live on the GPU?
# 3. *(medium)* Pick one op in minigrad/ops and find every place it uses `self.xp`. What
#    would break on a GPU if one of them were written `np.` instead?
# 4. *(medium)* In plain NumPy, compare `a[[0, 0, 1]] += 1` with `np.add.at(a, [0, 0, 1], 1)`.
#    Why does the backward of indexing with repeated indices need the second (the job of
#    `backend.add_at`)? Assignment A2 (reductions, shapes and losses: `getitem` with repeated
#    indices; see coursework/A2/README.md) tests exactly this case.
# 5. *(hard)* With a GPU: time the network's forward and backward on both devices for
#    batches of 16, 256 and 4096 images. Where does the GPU start to win, and why not for
#    tiny batches? Without a GPU: explain from the code of `Tensor.to` and
#    `get_array_module` what would happen, step by step, in `x + y` with `x` on the CPU and
#    `y` on the GPU.
