# %% [markdown]
# # Chapter 2 - Layers, convolution and pooling via im2col
#
# A convolution slides a small kernel over an image and takes a dot product at every
# position. Written as loops it is six nested `for`s and hopelessly slow in Python. The
# classic trick, *im2col*, copies every window the kernel sees into one row of a matrix;
# then the whole convolution is a single matrix product, which BLAS runs at full speed on
# every core. Its backward needs the adjoint copy, *col2im*, which adds each row back
# into the window it came from.
#
# This chapter checks both against the six loops, shows that they are adjoint, and
# trains a small convnet on scikit-learn's 8x8 digits.

# %%
import os
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import minigrad as mg
from minigrad import nn
from minigrad.ops import col2im, im2col

QUICK = os.environ.get("CHAPTER_QUICK") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## The six loops, as the definition
# out[n, f, i, j] = b[f] + sum over c, u, v of x[n, c, i*s + u, j*s + v] * w[f, c, u, v]

# %%
def conv2d_loops(x, w, b, stride=1):
    n_, c_, h, wd = x.shape
    f_, _, kh, kw = w.shape
    oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n_, f_, oh, ow))
    for n in range(n_):
        for f in range(f_):
            for i in range(oh):
                for j in range(ow):
                    window = x[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = (window * w[f]).sum() + b[f]
    return out


x = rng.standard_normal((2, 3, 9, 9))
w = rng.standard_normal((4, 3, 3, 3))
b = rng.standard_normal(4)
fast = mg.ops.conv2d(mg.Tensor(x), mg.Tensor(w), mg.Tensor(b), stride=2).data
print("conv2d vs loops, max |diff| =", float(np.abs(fast - conv2d_loops(x, w, b, 2)).max()))

# %% [markdown]
# ## What im2col builds
# For a 3x3 kernel on a 9x9 image with stride 2 there are 4x4 windows; each becomes a row
# of 3*3*3 = 27 numbers (minigrad orders them channels-last, which makes the copy move
# long contiguous runs - see the docstring of `minigrad/ops/conv.py`).

# %%
cols = im2col(x, 3, 3, stride=2)
print("x", x.shape, "-> cols", cols.shape, "(N*OH*OW rows, KH*KW*C columns)")

# %% [markdown]
# ## col2im is the adjoint of im2col
# For any x and y: <im2col(x), y> = <x, col2im(y)>. This identity is exactly what makes
# col2im the correct backward of im2col; a test in `tests/test_conv_pool.py` checks it on
# random shapes, strides and paddings.

# %%
y = rng.standard_normal(cols.shape)
lhs = float((cols * y).sum())
rhs = float((x * col2im(y, x.shape, 3, 3, stride=2)).sum())
print(f"<im2col(x), y> = {lhs:.10f}\n<x, col2im(y)> = {rhs:.10f}")

# %% [markdown]
# ## Gradients, proven
# `gradcheck` perturbs every input element in float64 and compares.

# %%
xs = mg.Tensor(rng.standard_normal((1, 2, 6, 6)), requires_grad=True)
ws = mg.Tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
print("conv2d gradcheck:", mg.gradcheck(lambda a, k: mg.ops.conv2d(a, k, padding=1, stride=2), xs, ws))
# max pooling: keep values distinct so the argmax is never a tie (a kink)
xp_ = mg.Tensor(rng.permutation(72).reshape(1, 2, 6, 6) / 10.0, requires_grad=True)
print("max_pool2d 3x3/2 gradcheck:", mg.gradcheck(lambda a: mg.ops.max_pool2d(a, 3, 2), xp_))

# %% [markdown]
# ## Conv, pool and ReLU as one node
# Every pooled block of the paper's networks is conv -> 2x2 max pool -> ReLU. Run as three
# ops, the conv writes its whole output to memory, the pooling reads it back and keeps a
# quarter, and the backward does the same with the gradient. `conv2d_maxpool2d` orders the
# im2col rows so that each image's GEMM output is four contiguous blocks, one per member of
# the 2x2 windows: pooling is then three elementwise maxima between blocks (and the ReLU
# a fourth, against 0), done while the GEMM's output is still in cache. `nn.Sequential`
# uses it by itself for Conv2d -> MaxPool2d(2) [-> ReLU] when the conv output has even
# sides. Same values, same gradients:

# %%
xf = mg.Tensor(rng.standard_normal((2, 3, 12, 12)), requires_grad=True)
wf = mg.Tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
fused = mg.ops.conv2d_maxpool2d(xf, wf, relu=True)
plain = mg.ops.relu(mg.ops.max_pool2d(mg.ops.conv2d(xf, wf), 2))
print("fused == conv -> pool -> relu:", np.allclose(fused.numpy(), plain.numpy()))
print("fused gradcheck:", mg.gradcheck(lambda a, k: mg.ops.conv2d_maxpool2d(a, k, relu=True), xf, wf))

# %% [markdown]
# ## A convnet on 8x8 digits
# Conv 3x3x16, pool, conv 3x3x32, pool, two fully connected layers: float32 throughout.

# %%
digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)[:, None]
images -= images.mean()
xtr, xte, ytr, yte = train_test_split(images, digits.target, test_size=0.25, random_state=0,
                                      stratify=digits.target)
net = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(128, 64, rng=rng), nn.ReLU(), nn.Linear(64, 10, rng=rng),
)
print(net)
opt = mg.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
start = time.perf_counter()
for epoch in range(3 if QUICK else 12):
    order = rng.permutation(len(xtr))
    for i in range(0, len(order), 32):
        idx = order[i:i + 32]
        opt.zero_grad()
        loss = mg.ops.cross_entropy(net(mg.Tensor(xtr[idx])), ytr[idx])
        loss.backward()
        opt.step()
    with mg.no_grad():
        acc = (net(mg.Tensor(xte)).data.argmax(1) == yte).mean()
    print(f"epoch {epoch + 1:2d}  loss {loss.item():.3f}  test accuracy {acc:.3f}")
print(f"trained in {time.perf_counter() - start:.1f} s")
