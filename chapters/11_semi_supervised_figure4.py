# %% [markdown]
# # Chapter 11 - Figure 4: a few real labels, many synthetic ones, and adaptation
#
# DANN is an *unsupervised* method, but nothing stops us from giving it a few labelled
# target images too. Figure 4 of the paper (Syn Signs -> GTSRB) asks what helps most when
# 430 real images are labelled (10 per class) and ~31,000 more real images are available
# without labels. It plots the validation error on real GTSRB images against the number of
# batches seen, for five ways of training the same network:
#
# | curve              | labelled data                    | unlabelled real images | method here         |
# |--------------------|----------------------------------|------------------------|---------------------|
# | Real               | the 430 real images              | -                      | `target_only`       |
# | Syn                | 100,000 synthetic signs          | -                      | `source_only`       |
# | Syn Adapted        | 100,000 synthetic signs          | used by DANN           | `dann`              |
# | Syn + Real         | synthetic + the 430 real         | -                      | `semi_supervised`, lambda = 0 |
# | Syn + Real Adapted | synthetic + the 430 real         | used by DANN           | `semi_supervised`   |
#
# The paper's finding: 430 real labels alone overfit; synthetic data alone is limited by
# the domain gap; adaptation closes much of it; and the best curve uses everything -
# labelled synthetic, the few labelled real and the unlabelled real images.
#
# In `trainers.py` the semi-supervised method fills each batch with 64 source rows and 64
# target rows, of which `labelled_per_batch` are drawn from the labelled real images: those
# rows enter L_y *and* count as target in L_d. With lambda_max = 0 the GRL is off and the
# same batches give "Syn + Real" without adaptation.
#
# **Modes.** Full mode is the paper's setting on the paper's GTSRB network (conv 96-144-256,
# fc512, 40x40 input) and needs GTSRB under `$DANN_DATA` (default `data/`); five
# runs of that network are GPU work (`device="cuda"` is used when minigrad sees a GPU; on
# 2 CPU cores one step of 128 images takes more than a second, so the five runs take
# hours). Quick mode (CI) swaps in tiny stand-ins: a few hundred rendered signs, the
# degraded "stand-in" real signs of chapter 10, and a small fully connected network on
# flattened pixels, trained for a few dozen steps. Its curves show the code path, not the
# paper's result.

# %%
import os
import time
from pathlib import Path

import numpy as np

import minigrad as mg
from dann_from_scratch.datasets import DatasetError, load_domain
from dann_from_scratch.models import build_model, mlp_model
from dann_from_scratch.plots import plot_learning_curves, show_if_notebook
from dann_from_scratch.runs import train_run
from dann_from_scratch.trainers import TrainConfig

QUICK = os.environ.get("CHAPTER_QUICK") == "1"
if QUICK:
    print("Quick mode (CHAPTER_QUICK=1): tiny data and few steps, only to run the code - "
          "the numbers below are not meaningful.")
OUT = Path(os.environ.get("CHAPTER_OUT", "chapter_output"))
OUT.mkdir(parents=True, exist_ok=True)
DATA = Path(os.environ.get("DANN_DATA", "data"))
DEVICE = "cuda" if (not QUICK and mg.gpu_available()) else "cpu"

if QUICK:
    N_SYN, PER_CLASS, STEPS, BATCH, EVAL_EVERY, LABELLED_PER_BATCH, LR = 215, 2, 40, 64, 10, 8, 0.05
else:   # the paper's sizes and learning rate; CHAPTER_STEPS overrides the number of steps
    N_SYN, PER_CLASS, BATCH, LABELLED_PER_BATCH, LR = 100_000, 10, 128, 16, 0.01
    STEPS = int(os.environ.get("CHAPTER_STEPS", 10_000))   # as `dann reproduce`
    EVAL_EVERY = max(1, STEPS // 10)
CURVE_VAL = 1000  # the curves use this many validation images (the final number uses all)
rng = np.random.default_rng(0)

# %% [markdown]
# ## Data

# %%
def stand_in_real(images, seed):
    """NOT real data: synthetic signs darkened, dulled, blurred and noised (chapter 10)."""
    r = np.random.default_rng(seed)
    x = images.astype(np.float32) / 255.0
    x = 0.25 * (x + np.roll(x, 1, 1) + np.roll(x, 1, 2) + np.roll(x, (1, 1), (1, 2)))
    grey = x.mean(axis=3, keepdims=True)
    x = grey + r.uniform(0.4, 0.9, (len(x), 1, 1, 1)) * (x - grey)
    x = x ** r.uniform(1.0, 2.5, (len(x), 1, 1, 1))
    x = x + 0.03 * r.standard_normal(x.shape)
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


syn = load_domain("synsigns", "train", n=N_SYN)
real_adapt = real_eval = None
if not QUICK:
    try:
        real_adapt = load_domain("gtsrb", "adapt", data_dir=DATA)
        real_eval = load_domain("gtsrb", "eval", data_dir=DATA)
    except DatasetError as e:
        print(f"GTSRB not available ({str(e)[:100]}...): falling back to the stand-in")
if real_adapt is None:
    x, y = load_domain("synsigns", "test", n=344 if QUICK else 10_000)
    x = stand_in_real(x, seed=1)
    cut = len(x) * 3 // 4
    real_adapt, real_eval = (x[:cut], y[:cut]), (x[cut:], y[cut:])
    REAL = "stand-in"
else:
    REAL = "GTSRB"

# the labelled real images: PER_CLASS of every class, drawn from the adaptation split
xa, ya = real_adapt
few = np.concatenate([rng.choice(np.flatnonzero(ya == c), PER_CLASS, replace=False)
                      for c in range(43) if np.any(ya == c)])
real_labelled = (xa[few], ya[few])
print(f"synthetic {syn[0].shape}, {REAL} unlabelled {xa.shape}, labelled {real_labelled[0].shape}, "
      f"validation {real_eval[0].shape}, device {DEVICE}")

# %% [markdown]
# ## The network
# Full mode: the paper's GTSRB network. Quick mode: one hidden layer of 64 ReLU units on
# the 4,800 pixel values, a 32-unit domain head - the same three parts G_f, G_y, G_d.

# %%
if QUICK:
    flat = lambda data: (data[0].reshape(len(data[0]), -1), data[1])  # noqa: E731
    syn, real_adapt, real_eval, real_labelled = map(flat, (syn, real_adapt, real_eval, real_labelled))
    make_model = lambda: mlp_model(40 * 40 * 3, 43, hidden=(64,), domain_hidden=(32,), rng=0)  # noqa: E731
else:
    make_model = lambda: build_model("gtsrb", rng=0)  # noqa: E731

# %% [markdown]
# ## Five runs
# Same initial weights, same number of steps, same schedules (lambda_p and mu_p of the
# paper); the validation error on real images is recorded every `EVAL_EVERY` steps.

# %%
RUNS = {
    "Real": dict(method="target_only"),
    "Syn": dict(method="source_only"),
    "Syn Adapted": dict(method="dann"),
    "Syn + Real": dict(method="semi_supervised", lambda_max=0.0),
    "Syn + Real Adapted": dict(method="semi_supervised"),
}
# a fixed subset for the curves: evaluating all validation images at every point of five
# curves would cost more than the training in full mode
curve_idx = np.random.default_rng(1).permutation(len(real_eval[1]))[:CURVE_VAL]
curve_val = (real_eval[0][curve_idx], real_eval[1][curve_idx])
curves, final = {}, {}
for name, kw in RUNS.items():
    cfg = TrainConfig(steps=STEPS, batch_size=BATCH, lr=LR, eval_every=EVAL_EVERY, device=DEVICE,
                      labelled_per_batch=LABELLED_PER_BATCH, progress=False, seed=0, **kw)
    # target_only learns from the target half of each batch: there, the labelled real images
    target = real_labelled if kw["method"] == "target_only" else real_adapt[0]
    labelled = real_labelled if kw["method"] == "semi_supervised" else None
    start = time.perf_counter()
    run = train_run(make_model(), syn, target, cfg, target_labelled=labelled,
                    val=(None, curve_val), test=real_eval)
    errors = 1.0 - np.array(run.history["target_acc"])
    curves[name] = (np.array(run.history["eval_step"]), errors)
    final[name] = 1.0 - run.target_test_acc
    print(f"{name:20s} validation error {final[name]:.3f} after {STEPS} batches "
          f"(on all {len(real_eval[1])} images; best on the curve's {len(curve_val[1])}: "
          f"{errors.min():.3f})  [{time.perf_counter() - start:.0f} s]")

# %% [markdown]
# ## Figure 4

# %%
path = plot_learning_curves(curves, OUT / "11_figure4.png", xlabel="batches seen",
                            ylabel=f"validation error ({REAL})",
                            title=f"Syn Signs -> {REAL}: semi-supervised setting")
print("saved", show_if_notebook(path))
print(f"Table 1 row (target accuracy): Syn {1 - final['Syn']:.4f} (paper .7900), "
      f"Syn Adapted {1 - final['Syn Adapted']:.4f} (paper .8865)")

# %% [markdown]
# Reading the figure (the paper's, and ours in full mode): "Real" falls fast and stalls -
# 430 images are too few for a network this size. "Syn" starts better and ends where the
# domain gap lets it. "Syn Adapted" goes below it without a single real label. Adding the
# 430 labels to the synthetic data helps, and adding adaptation on top helps again: the
# lowest curve uses every source of information there is.
#
# The unsupervised part of this experiment - the Syn Signs -> GTSRB row of Table 1 with
# source only, subspace alignment, DANN and train-on-target - is also one command:
# `dann reproduce synsigns-gtsrb --data-dir DIR` (see `dann reproduce --help`).

# %% [markdown]
# ## Exercises
#
# 1. *(easy)* Change `PER_CLASS` to 1 and to 5 in quick mode. Which curves move, and which
#    do not depend on it at all?
# 2. *(easy)* Why does "Syn + Real" use the method `semi_supervised` with lambda_max = 0
#    rather than a method of its own? What is G_d doing in that run?
# 3. *(medium)* Change `LABELLED_PER_BATCH` (how many rows of each batch come from the few
#    labelled real images). What goes wrong when it is too large for 430 images?
# 4. *(hard)* You may not look at the validation error on real images to pick among the
#    five runs. Which of the two signals of chapter 12 (source validation error, G_d error)
#    can you still compute for each run, and do they rank the runs the way the curves do?
#    (Assignment A6, analysis: choosing lambda without target labels; see
#    coursework/A6/README.md.)
