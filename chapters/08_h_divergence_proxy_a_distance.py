# %% [markdown]
# # Chapter 8 - Why fooling a domain classifier helps: the H-divergence
#
# DANN's recipe comes from a theorem of domain adaptation (Ben-David et al. 2006, 2010),
# which section 3.3 of the paper ("Relation to H-delta-H distance") recalls. For a class H
# of binary classifiers, the *H-divergence* between the source distribution S and the
# target distribution T is
#
#     d_H(S, T) = 2 sup_{eta in H} | Pr_{x~S}[eta(x) = 1] - Pr_{x~T}[eta(x) = 1] |,
#
# i.e. how well the best classifier of H can tell a source sample from a target sample.
# With the "symmetric difference" class H-delta-H (the disagreements of two classifiers of
# H), every hypothesis h in H satisfies the bound (11):
#
#     eps_T(h) <= eps_S(h) + 1/2 d_{H delta H}(S, T) + C,
#
# where eps_S, eps_T are the source and target errors of h and C is the error of the best
# hypothesis for both domains at once (small whenever the task is solvable at all). The
# target error we cannot measure is bounded by the source error we can, plus a divergence
# term that depends only on *unlabelled* data.
#
# Two consequences shape DANN:
#
# * make the features such that the source error is small (that is L_y) *and* such that no
#   classifier can tell source features from target features (the divergence term);
# * the divergence is estimated by *training* a domain classifier. On m unlabelled points
#   of each domain the empirical H-divergence is
#   2 (1 - min_eta [err_S(eta) + err_T(eta)]), where err_S is the share of source points
#   eta calls "target" and err_T the share of target points it calls "source". With as
#   many points of each domain, that sum is twice eta's error eps at telling the domains
#   apart, so the empirical H-divergence is 2 (1 - 2 min_eta eps): 2 when some eta never
#   errs, 0 when the best one is at chance (eps = 0.5). G_d is that eta; the GRL makes G_f
#   maximise its error.
#
# The **proxy A-distance** is the practical version of the same formula: train a linear
# classifier (here a linear SVM) to separate source rows from target rows, measure its
# *held-out* error eps, and report d_A = 2 (1 - 2 eps): 2 for perfectly separable domains,
# 0 for indistinguishable ones (an error above chance, eps > 0.5, is reported as 0).
# `metrics.proxy_a_distance` implements it (balanced halves, the best C of a grid).

# %%
import os
import time
from pathlib import Path

import numpy as np

from dann_from_scratch.datasets import load_domain
from dann_from_scratch.metrics import proxy_a_distance
from dann_from_scratch.models import build_model
from dann_from_scratch.plots import save_figure, show_if_notebook
from dann_from_scratch.runs import train_run
from dann_from_scratch.trainers import TrainConfig, evaluate, predict_features

QUICK = os.environ.get("CHAPTER_QUICK") == "1"
if QUICK:
    print("Quick mode (CHAPTER_QUICK=1): tiny data and few steps, only to run the code - "
          "the numbers below are not meaningful.")
OUT = Path(os.environ.get("CHAPTER_OUT", "chapter_output"))
OUT.mkdir(parents=True, exist_ok=True)
MAX_ROWS = 300 if QUICK else 2000          # rows per domain given to the SVM
C_GRID = (0.001,) if QUICK else (0.001, 0.01, 0.1, 1, 10)

# %% [markdown]
# ## Raw pixels
# MNIST is grey; for the comparison each digit is repeated over three channels, as the
# network sees it. First a control: two disjoint halves of the *same* MNIST set. The
# estimate is not exactly 0 (picking the best C on the test half biases it up a little),
# which tells us the noise floor of the measurement.

# %%
xs, ys = load_domain("mnist5k", "train")
xt, yt = load_domain("mnistm5k", "train")
xs_test, ys_test = load_domain("mnist5k", "test")
xt_test, yt_test = load_domain("mnistm5k", "test")
rng = np.random.default_rng(0)


def pixels(images, n):
    pick = rng.choice(len(images), min(n, len(images)), replace=False)
    x = images[pick].astype(np.float32) / 255.0
    return np.repeat(x, 3, axis=3).reshape(len(x), -1) if x.shape[3] == 1 else x.reshape(len(x), -1)


start = time.perf_counter()
half = rng.permutation(len(xs))
d_same = proxy_a_distance(pixels(xs[half[:len(xs) // 2]], MAX_ROWS),
                          pixels(xs[half[len(xs) // 2:]], MAX_ROWS), C_grid=C_GRID[:3])
# on 2,352 raw dimensions the solver is slow for large C: a shorter grid keeps this quick
d_raw = proxy_a_distance(pixels(xs, MAX_ROWS), pixels(xt, MAX_ROWS), C_grid=C_GRID[:3])
print(f"proxy A-distance, raw pixels: MNIST vs MNIST   = {d_same:.3f}   (control)")
print(f"proxy A-distance, raw pixels: MNIST vs MNIST-M = {d_raw:.3f}   "
      f"({time.perf_counter() - start:.1f} s)")

# %% [markdown]
# Colour photos behind the digits make the domains trivially separable in pixel space.
#
# ## Features, before and after adaptation
# Now the same measurement on the 768 features G_f(x) of a network trained on source only
# and of a network trained with DANN (the runs of chapter 7; in full mode this chapter
# reuses chapter 7's checkpoints from `OUT/checkpoints` when it finds them, otherwise it
# trains them - 800 steps, a few minutes per method on 2 cores). We also report the error of the
# network's own domain classifier G_d on the test images, the adversary DANN played against.

# %%
STEPS, BATCH = (5, 64) if QUICK else (int(os.environ.get("CHAPTER_STEPS", 800)), 128)
CKPT = OUT / "checkpoints"


def train_or_load(method):
    """The chapter-7 run of ``method``: ``resume=True`` loads its checkpoint when chapter 7
    finished an identical run, and trains it otherwise."""
    cfg = TrainConfig(method=method, steps=STEPS, batch_size=BATCH, progress=False, seed=0,
                      eval_every=0 if QUICK else max(1, STEPS // 10))   # as in chapter 7
    model = build_model("mnist", rng=0)
    path = None if QUICK else CKPT / f"mnist_mnistm_full_{method}_{STEPS}.npz"
    src, tgt = (xs, ys), xt
    if QUICK:                                   # a tiny run, only to show the code path
        keep = rng.choice(len(xs), 300, replace=False)
        src, tgt = (xs[keep], ys[keep]), xt[rng.choice(len(xt), 300, replace=False)]
    run = train_run(model, src, tgt, cfg, checkpoint=path, resume=path is not None)
    print(f"{method}: " + (f"loaded {path}" if run.resumed_from_step == STEPS
                           else f"trained {STEPS} steps"))
    return model


# the test files are sorted by class: take a random subset, never the first rows
ev_s = rng.choice(len(xs_test), 200, replace=False) if QUICK else np.arange(len(xs_test))
ev_t = rng.choice(len(xt_test), 200, replace=False) if QUICK else np.arange(len(xt_test))
rows = {"raw pixels": (d_raw, None)}
for method in ("source_only", "dann"):
    model = train_or_load(method)
    fs = predict_features(model, xs_test[ev_s])
    ft = predict_features(model, xt_test[ev_t])
    d_a = proxy_a_distance(fs, ft, C_grid=C_GRID, max_samples=MAX_ROWS)
    res = evaluate(model, (xs_test[ev_s], ys_test[ev_s]), (xt_test[ev_t], yt_test[ev_t]))
    rows[method] = (d_a, res)

print(f"\n{'representation':16s}{'proxy A-dist':>13s}{'G_d error':>11s}{'MNIST-M acc':>13s}")
for name, (d_a, res) in rows.items():
    extra = f"{res['domain_error']:11.3f}{res['target_acc']:13.3f}" if res else f"{'':11s}{'':13s}"
    print(f"{name:16s}{d_a:13.3f}{extra}")
print(f"{'(control)':16s}{d_same:13.3f}")

# %% [markdown]
# What full mode gave (the chapter-7 networks; test images, 1,000 per domain):
#
# | representation     | proxy A-distance | G_d error | MNIST-M accuracy |
# |--------------------|------------------|-----------|------------------|
# | control (MNIST vs MNIST pixels) | 0.05 |          |                  |
# | raw pixels         | 1.71             |           |                  |
# | source only, 800 steps | 1.70         | 0.062     | .489             |
# | DANN, 800 steps    | 1.62             | 0.167     | .615             |
# | source only, 3000 steps | 1.71        | 0.051     | .496             |
# | DANN, 3000 steps   | 1.64             | 0.193     | .644             |
#
# The source-only features are as separable as the pixels, and their probe G_d tells the
# domains apart 95% of the time. DANN makes its own G_d err almost four times as often
# (0.193 against 0.051 after 3000 steps) and the target accuracy goes up with it (.496 ->
# .644), as the bound says it may. But the proxy A-distance barely moves (1.71 -> 1.64): a
# linear SVM trained *after the fact* on the frozen features still separates the domains
# about 91% of the time. DANN's equilibrium is
# against the G_d it plays with at every step, not against every classifier of H - the
# same lesson chapter 6 found on two moons. The H-divergence term of the bound is reduced
# for the adversary the network actually faces, which is enough to move the target
# accuracy, and far from eliminated.

# %%
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
names = ["MNIST vs MNIST\n(control)", "raw pixels", "source-only\nfeatures", "DANN\nfeatures"]
values = [d_same, d_raw, rows["source_only"][0], rows["dann"][0]]
ax.bar(names, values, color=["#bbbbbb", "#636363", "#1f5fbf", "#d62728"])
for i, v in enumerate(values):
    ax.text(i, v + 0.03, f"{v:.2f}", ha="center")
ax.set_ylim(0, 2.2)
ax.set_ylabel("proxy A-distance")
ax.set_title("MNIST -> MNIST-M: how separable are the domains?")
print("saved", show_if_notebook(save_figure(fig, OUT / "08_proxy_a_distance.png")))

# %% [markdown]
# ## Exercises
#
# 1. *(easy)* By hand: what proxy A-distance do held-out errors eps = 0, 0.1, 0.25 and 0.5
#    give? Why is an error above 0.5 reported as 0 rather than as a negative distance?
# 2. *(easy)* Call `proxy_a_distance(..., return_details=True)` on the DANN features and
#    read the error of every C of the grid. How much does picking the best C on the test
#    half matter?
# 3. *(medium)* Repeat the control (two halves of MNIST) with five different `seed`s and
#    report the mean and the spread. Is the difference between the source-only and the
#    DANN features larger than that noise floor?
# 4. *(medium)* Write the proxy A-distance yourself: balanced halves of each domain, a linear
#    SVM per C, the smallest held-out error eps, 2 (1 - 2 eps) clipped to [0, 2]. That is
#    assignment A6, analysis (the proxy A-distance; see coursework/A6/README.md).
# 5. *(hard)* Put numbers into the bound (11) for the source-only and the DANN networks:
#    eps_S from the MNIST accuracy, the proxy A-distance standing in for
#    d_{H delta H}, C unknown. Is the bound informative here, and what would the right-hand
#    side need to look like for it to explain DANN's gain? (Assignment A6 asks about the
#    H-delta-H bound in its written questions.)
