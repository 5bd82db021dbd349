# %% [markdown]
# # Chapter 5 - The saddle point, written out
#
# Section 3 of the paper states DANN as an optimisation problem. With L_y the label loss
# (cross-entropy of G_y on labelled source examples) and L_d the domain loss (logistic loss
# of G_d on source and target examples), the objective is
#
#     (3)  E(theta_f, theta_y, theta_d) = L_y(theta_f, theta_y) - lambda L_d(theta_f, theta_d)
#
# and DANN looks for a **saddle point** of it:
#
#     (theta_f, theta_y) = argmin E          theta_d = argmax E   (= argmin L_d)
#
# The label predictor and the feature extractor want E small: good labels, and (through
# the minus sign) a *large* domain loss, i.e. features that fool G_d. The domain
# classifier wants E large, which is the same as making its own loss L_d small. It is a
# two-player game; a saddle point is where neither player can improve alone.
#
# Stochastic gradient steps on that game are the updates (4)-(6):
#
#     (4)  theta_f <- theta_f - mu (dL_y/dtheta_f - lambda dL_d/dtheta_f)
#     (5)  theta_y <- theta_y - mu dL_y/dtheta_y
#     (6)  theta_d <- theta_d - mu dL_d/dtheta_d
#
# (6) as written here trains G_d with weight 1, which is what the GRL does; differentiating
# E literally would multiply G_d's step by lambda as well, which with lambda_p ramping up
# from 0 would leave G_d untrained early on - see the docstring of `saddle.py`.
#
# No deep-learning package of 2015 could do (4) directly: it wants G_f to go *down* one
# loss and *up* another that shares its forward pass. `saddle.py` does it the long way:
# two backward passes and the gradients of (4)-(6) combined by hand (`SaddlePointUpdater`
# in `updaters.py`, beside the GRL's `GRLUpdater`). The gradient reversal layer of chapter 4
# does it in one ordinary backward pass. This chapter checks that both give the same
# parameters, step after step.

# %%
import os
from pathlib import Path

import numpy as np

from dann_from_scratch.datasets import load_domain, make_two_moons
from dann_from_scratch.models import build_model
from dann_from_scratch.saddle import train_saddle
from dann_from_scratch.trainers import Batch, TrainConfig, dann_losses, train
from minigrad import Tensor

QUICK = os.environ.get("CHAPTER_QUICK") == "1"
if QUICK:
    print("Quick mode (CHAPTER_QUICK=1): tiny data and few steps, only to run the code - "
          "the numbers below are not meaningful.")
OUT = Path(os.environ.get("CHAPTER_OUT", "chapter_output"))
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## One step, by hand
# Take the two-moons network of chapter 6 (15 sigmoid units = G_f; a softmax G_y and a
# logistic G_d on them), one batch of 64 source + 64 target points, lambda = 0.8. We compute
#
# * g_y = dL_y/dtheta and g_d = dL_d/dtheta with two backward passes and *no* GRL, then
# * the GRL gradient of L_y + L_d in one backward pass,
#
# and compare the GRL gradient with what (4)-(6) ask for, block by block.

# %%
xs, ys, xt, yt = make_two_moons(seed=0)
model = build_model("moons", rng=0)
rng = np.random.default_rng(0)
i_s, i_t = rng.choice(len(xs), 64, replace=False), rng.choice(len(xt), 64, replace=False)
batch = Batch(x=Tensor(np.concatenate([xs[i_s], xt[i_t]])),      # source rows, then target rows
              label_rows=slice(0, 64), labels=ys[i_s],           # only the source rows are labelled
              domains=np.r_[np.zeros(64), np.ones(64)].astype(np.float32)[:, None])
blocks = {"theta_f": model.feature_extractor.parameters(),
          "theta_y": model.label_predictor.parameters(),
          "theta_d": model.domain_classifier.parameters()}


def grads(loss, retain=False):
    model.zero_grad()
    loss.backward(retain_graph=retain)
    return {name: [np.zeros_like(p.data) if p.grad is None else p.grad.copy() for p in ps]
            for name, ps in blocks.items()}


lam = 0.8
label_loss, domain_loss, _ = dann_losses(model, batch, reverse_gradient=False)
g_y = grads(label_loss, retain=True)
g_d = grads(domain_loss)
model.grl.lambda_ = lam
label_loss, domain_loss, _ = dann_losses(model, batch, reverse_gradient=True)
g_grl = grads(label_loss + domain_loss)

wanted = {"theta_f": [a - lam * b for a, b in zip(g_y["theta_f"], g_d["theta_f"])],   # (4)
          "theta_y": g_y["theta_y"],                                                  # (5)
          "theta_d": g_d["theta_d"]}                                                  # (6)
for name in blocks:
    diff = max(float(np.abs(a - b).max()) for a, b in zip(g_grl[name], wanted[name]))
    print(f"{name}: max |GRL gradient - update ({4 + list(blocks).index(name)})| = {diff:.2e}")
print("no label gradient reaches G_d:", all(np.all(g == 0) for g in g_y["theta_d"]))

# %% [markdown]
# ## Many steps: the two trainers side by side
# `train` (GRL, one backward pass) and `train_saddle` (two backward passes, the gradients
# of (4)-(6) combined by hand) share the training loop and minigrad's SGD with momentum,
# which applies the gradients in both: from the same initial weights and the same seed they
# draw the same batches. The paper's schedules are on (lambda_p ramps from 0 to 1, mu_p is
# annealed).

# %%
steps = 200 if QUICK else 3000
cfg = TrainConfig(method="dann", steps=steps, batch_size=128, lr=0.1, progress=False, seed=0)
grl_model, saddle_model = build_model("moons", rng=1), build_model("moons", rng=1)
start = {k: v.copy() for k, v in grl_model.state_dict().items()}
h_grl = train(grl_model, (xs, ys), xt, cfg)
h_saddle = train_saddle(saddle_model, (xs, ys), xt, cfg)


def compare(a_model, b_model, start, label):
    a, b = a_model.state_dict(), b_model.state_dict()
    diff = max(float(np.abs(a[k] - b[k]).max()) for k in a)
    moved = min(float(np.abs(a[k] - start[k]).max()) for k in a)
    print(f"{label}: max |theta_GRL - theta_saddle| = {diff:.2e} over {len(a)} tensors "
          f"(every tensor moved by at least {moved:.2e})")
    return diff


compare(grl_model, saddle_model, start, f"two moons, {steps} steps")
print(f"  final L_y {h_grl['label_loss'][-1]:.5f} vs {h_saddle['label_loss'][-1]:.5f}, "
      f"L_d {h_grl['domain_loss'][-1]:.5f} vs {h_saddle['domain_loss'][-1]:.5f}")

# %% [markdown]
# The difference is float round-off: both compute the same sums, but the GRL adds the two
# contributions to dL/df *before* they are pushed down through G_f, while the saddle
# trainer pushes each down separately and adds at the parameters. Addition of floats is
# not associative, so the last bits differ and slowly drift over thousands of steps; they
# stay orders of magnitude below the size of the updates.
#
# ## The same on the paper's MNIST network
# The conv net of Table 1 (conv 5x5x32, pool, conv 5x5x48, pool; fc100-fc100-fc10 label
# head; fc100-fc1 domain head), MNIST digits as source and MNIST-M as target, in float32.

# %%
n_img, steps, batch_size = (256, 3, 32) if QUICK else (4000, 50, 128)
src = load_domain("mnist5k", "train")
tgt = load_domain("mnistm5k", "train")
src = (src[0][:n_img], src[1][:n_img])
cfg = TrainConfig(method="dann", steps=steps, batch_size=batch_size, progress=False)
grl_net, saddle_net = build_model("mnist", rng=0), build_model("mnist", rng=0)
start = {k: v.copy() for k, v in grl_net.state_dict().items()}
train(grl_net, src, tgt[0][:n_img], cfg)
train_saddle(saddle_net, src, tgt[0][:n_img], cfg)
compare(grl_net, saddle_net, start, f"MNIST net, {steps} steps of {batch_size}")

# %% [markdown]
# So the GRL is not an approximation of the saddle-point updates: it *is* them, computed
# with one backward pass instead of two. That is what lets DANN be added to any
# feed-forward network with one extra layer.

# %% [markdown]
# ## Exercises
#
# 1. *(easy)* Set `lam = 0` in the one-step cell. Which blocks of the GRL gradient change,
#    and which update of (4)-(6) does each block now equal?
# 2. *(easy)* Differentiate E = L_y - lambda L_d literally with one backward pass (no GRL)
#    and compare its theta_d block with g_d. Where do the sign and the factor lambda go,
#    and why does update (6) descend L_d with weight 1?
# 3. *(medium)* Time `train` against `train_saddle` for 200 steps on two moons. How many
#    backward passes does each make per step, and does the ratio of the times match?
# 4. *(medium)* Record the largest parameter difference between the two trainers after 50,
#    200, 1000 and 3000 steps. How does the round-off drift grow, and how does it compare
#    with the size of one update?
# 5. *(hard)* Write one DANN training step yourself (a batch of source and target rows, the
#    two losses, the GRL, one backward pass, the SGD update) and then the saddle-point
#    version that combines g_y and g_d by hand as (4)-(6). Both must give the parameters of
#    `GRLUpdater.step` and `SaddlePointUpdater.step`. This is assignment A5, the paper (one
#    DANN step; the saddle-point updates (4)-(6) shown equal to the GRL; see
#    coursework/A5/README.md).
