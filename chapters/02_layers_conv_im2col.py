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
# minigrad keeps both versions side by side, as DeZero does: `conv2d_simple`, the
# definition written with plain minigrad ops (slow, obviously right, differentiable), next
# to the fast `conv2d`, and likewise `max_pool2d_simple` next to `max_pool2d`. This chapter
# checks the fast ops against the simple ones, shows that im2col and col2im are adjoint,
# and trains a small convnet on scikit-learn's 8x8 digits.

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
if QUICK:
    print("Quick mode (CHAPTER_QUICK=1): tiny data and few steps, only to run the code - "
          "the numbers below are not meaningful.")
rng = np.random.default_rng(0)

# %% [markdown]
# ## The definition, and the reference that spells it out
# out[n, f, a, b] = bias[f] + sum over c, i, j of xpad[n, c, a*s + i, b*s + j] * w[f, c, i, j]
#
# `conv2d_simple` writes exactly that with ops we already trust: for every kernel offset
# (i, j) one strided slice of the padded input gives member (i, j) of every window
# (`windows_simple`), and a single `linear` does the sum over c, i and j. Every step is
# an op with a backward, so the reference is differentiable too.

# %%
x = rng.standard_normal((2, 3, 9, 9))
w = rng.standard_normal((4, 3, 3, 3))
b = rng.standard_normal(4)
fast = mg.ops.conv2d(mg.Tensor(x), mg.Tensor(w), mg.Tensor(b), stride=2, padding=1).data
simple = mg.ops.conv2d_simple(mg.Tensor(x), mg.Tensor(w), mg.Tensor(b), stride=2, padding=1).data
print("conv2d vs conv2d_simple, max |diff| =", float(np.abs(fast - simple).max()))
pooled = mg.ops.max_pool2d(mg.Tensor(x), 3, 2, 1).data
print("max_pool2d vs max_pool2d_simple, max |diff| =",
      float(np.abs(pooled - mg.ops.max_pool2d_simple(mg.Tensor(x), 3, 2, 1).data).max()))

# %% [markdown]
# Both references cost a slice and a copy per kernel offset and keep every window in
# memory; the fast ops below do the same arithmetic in far less time.

# %%
batch = rng.standard_normal((64, 3, 28, 28)).astype(np.float32)
kernel = rng.standard_normal((32, 3, 5, 5)).astype(np.float32)
for name, conv in (("conv2d_simple", mg.ops.conv2d_simple), ("conv2d", mg.ops.conv2d)):
    start = time.perf_counter()
    conv(mg.Tensor(batch), mg.Tensor(kernel))
    print(f"{name:14s} 64 x 3x28x28, 32 5x5 kernels: {1e3 * (time.perf_counter() - start):6.1f} ms")

# %% [markdown]
# ## What im2col builds
# For a 3x3 kernel on a 9x9 image with stride 2 there are 4x4 windows; each becomes a row
# of 3*3*3 = 27 numbers (minigrad orders them channels-last, which makes the copy move
# long contiguous runs - see docs/performance.md).

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
# `gradcheck` perturbs every input element in float64 and compares. And since the simple
# reference is built from ops, its tape gives a second, independent backward to compare
# the fast kernel's with.

# %%
xs = mg.Tensor(rng.standard_normal((1, 2, 6, 6)), requires_grad=True)
ws = mg.Tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
print("conv2d gradcheck:", mg.gradcheck(lambda a, k: mg.ops.conv2d(a, k, padding=1, stride=2), xs, ws))
grads = []
for conv in (mg.ops.conv2d, mg.ops.conv2d_simple):
    xs.grad = ws.grad = None
    conv(xs, ws, padding=1, stride=2).sum().backward()
    grads.append((xs.grad, ws.grad))
print("conv2d vs conv2d_simple gradients, max |diff| =",
      max(float(np.abs(f - s).max()) for f, s in zip(*grads)))
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
# a fourth, against 0), done while the GEMM's output is still in cache. Same values, same
# gradients:

# %%
xf = mg.Tensor(rng.standard_normal((2, 3, 12, 12)), requires_grad=True)
wf = mg.Tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
fused = mg.ops.conv2d_maxpool2d(xf, wf, relu=True)
plain = mg.ops.relu(mg.ops.max_pool2d_simple(mg.ops.conv2d_simple(xf, wf), 2))
print("fused == conv -> pool -> relu:", np.allclose(fused.numpy(), plain.numpy()))
print("fused gradcheck:", mg.gradcheck(lambda a, k: mg.ops.conv2d_maxpool2d(a, k, relu=True), xf, wf))

# %% [markdown]
# A model asks for the fused node explicitly: `nn.fuse_conv_pool` puts an
# `nn.Conv2dMaxPool2d` layer where each Conv2d -> MaxPool2d(2) [-> ReLU] run was, sharing
# the conv's parameters, with `Identity` in the other places so that every parameter keeps
# its name. The paper's model builders call it on their conv stacks.

# %%
block = nn.Sequential(nn.Conv2d(3, 4, 3, rng=rng), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten())
print(nn.fuse_conv_pool(block))
print("same parameter names:", list(nn.fuse_conv_pool(block).state_dict()) == list(block.state_dict()))

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

# %% [markdown]
# ## Exercises
#
# 1. *(easy)* Follow the digits net's shapes by hand: an 8x8 image, a 3x3 conv with
#    padding 1, a 2x2 pool, again, then `Flatten`. Where does the 128 of `nn.Linear(128, 64)`
#    come from? Check with a forward pass that prints every intermediate shape.
# 2. *(easy)* Repeat the adjoint check <im2col(x), y> = <x, col2im(y)> with stride 1 and
#    padding 1. With stride 1 a 3x3 window overlaps its neighbours: why must col2im *add*
#    into the input positions instead of assigning to them?
# 3. *(medium)* Make a max-pooling window hold a tie (two equal maxima) and run `gradcheck`
#    on `max_pool2d` there. Why does it fail, and which element gets the gradient in
#    minigrad's backward? Compare with `max_pool2d_simple`, and then with `avg_pool2d`,
#    which has no kinks at all.
# 4. *(medium)* Train the digits convnet again with `weight_decay=1e-4` in `SGD`, and with
#    momentum 0. How do the test accuracy and the number of epochs needed change? Assignment
#    A4 (layers and optimisers: `Linear`/`Conv2d` modules, SGD with momentum and weight
#    decay, a convnet on these digits above 95%; see coursework/A4/README.md) asks you to
#    write these pieces yourself.
# 5. *(hard)* Write a convolution forward of your own from `im2col` and one matrix product
#    (mind minigrad's channels-last column order, KH*KW*C), then its backward with `col2im`,
#    and compare both with `mg.ops.conv2d` and `gradcheck`. That is assignment A3,
#    convolution and pooling (im2col/col2im, conv2d forward and backward, pooling backward,
#    the adjoint identity as your own check; see coursework/A3/README.md).
