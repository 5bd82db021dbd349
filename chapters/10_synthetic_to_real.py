# %% [markdown]
# # Chapter 10 - From synthetic to real images
#
# Two rows of Table 1 adapt from *synthetic* training data to real photos:
#
# * **Syn Numbers -> SVHN**: digits rendered from fonts, with random position, colour,
#   blur and background, towards house numbers photographed by Google Street View
#   (source only .8674, DANN .9109, train on target .9220);
# * **Syn Signs -> GTSRB**: 100,000 traffic signs rendered from pictograms with random
#   pose, lighting and background, towards the German Traffic Sign Recognition Benchmark
#   (.7900, .8865, .9980).
#
# This is the most practical use of domain adaptation: labelled synthetic data costs only
# computer time, and it is never quite like the real thing. The real images are collected
# without labels; DANN uses them as they are.
#
# The project renders both synthetic sets itself (`datasets/syndigits.py`,
# `datasets/synsigns.py`, deterministic from a seed, cached). GTSRB and SVHN are real data
# sets and are not downloaded here: full mode reads GTSRB from `$DANN_DATA` (default: `data/` in the
# working directory; the README's "Getting the data" says what goes there) when it is there. Quick mode
# (CI) never reads it: it renders a handful of images and, for the "real" side, uses a
# clearly labelled *stand-in* - synthetic signs degraded by darkening, blur and noise - so
# that every line of the chapter runs anywhere.
#
# This chapter looks at the data and measures the gap; chapter 11 trains on it.

# %%
import os
from pathlib import Path

import numpy as np

from dann_from_scratch.datasets import DatasetError, load_domain
from dann_from_scratch.datasets.preview import save_grid
from dann_from_scratch.metrics import proxy_a_distance
from dann_from_scratch.plots import show_if_notebook

QUICK = os.environ.get("CHAPTER_QUICK") == "1"
if QUICK:
    print("Quick mode (CHAPTER_QUICK=1): tiny data and few steps, only to run the code - "
          "the numbers below are not meaningful.")
OUT = Path(os.environ.get("CHAPTER_OUT", "chapter_output"))
OUT.mkdir(parents=True, exist_ok=True)
DATA = Path(os.environ.get("DANN_DATA", "data"))
N_SYN = 86 if QUICK else 5000          # rendered images per synthetic set (paper: 100,000 signs)
rng = np.random.default_rng(0)

# %% [markdown]
# ## Synthetic signs and digits

# %%
signs, sign_labels = load_domain("synsigns", "train", n=N_SYN)
digits, digit_labels = load_domain("syndigits", "train", n=min(N_SYN, 2000))
print(f"SynSigns  {signs.shape}, {len(np.unique(sign_labels))} classes, "
      f"{np.bincount(sign_labels).min()}-{np.bincount(sign_labels).max()} images per class")
print(f"SynDigits {digits.shape}, {len(np.unique(digit_labels))} classes")
show = rng.choice(len(signs), 24, replace=False)
path = save_grid(signs[show], sign_labels[show], OUT / "10_synsigns.png",
                 title="SynSigns (synthetic, labelled)")
print("saved", show_if_notebook(path))
show = rng.choice(len(digits), 24, replace=False)
path = save_grid(digits[show], digit_labels[show], OUT / "10_syndigits.png",
                 title="SynDigits (synthetic, labelled)")
print("saved", show_if_notebook(path))

# %% [markdown]
# ## Real traffic signs (or a stand-in)
# The paper's split of the 39,209 GTSRB training images: 31,367 of them, without labels,
# are the target during adaptation ("adapt"); the other 7,842 are for evaluation ("eval").
# Each image is cropped to its annotated region and resized to 40x40.

# %%
def stand_in_real(images, seed):
    """NOT real data: synthetic signs made to look a little like GTSRB's photos - darker and
    duller on average, blurred, noisy. Only for running the chapter without GTSRB."""
    r = np.random.default_rng(seed)
    x = images.astype(np.float32) / 255.0
    x = 0.25 * (x + np.roll(x, 1, 1) + np.roll(x, 1, 2) + np.roll(x, (1, 1), (1, 2)))   # blur
    grey = x.mean(axis=3, keepdims=True)
    x = grey + r.uniform(0.4, 0.9, (len(x), 1, 1, 1)) * (x - grey)                        # duller
    x = x ** r.uniform(1.0, 2.5, (len(x), 1, 1, 1))                                       # darker
    x = x + 0.03 * r.standard_normal(x.shape)                                             # noise
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


real_name = "GTSRB"
real = None
if not QUICK:
    try:
        real, real_labels = load_domain("gtsrb", "eval", data_dir=DATA)
    except DatasetError as e:
        print(f"GTSRB not available ({str(e)[:100]}...)")
if real is None:
    real_name = "stand-in"
    real, real_labels = load_domain("synsigns", "test", n=N_SYN)   # another random stream
    real = stand_in_real(real, seed=1)
    print("using a stand-in for the real domain: put GTSRB under $DANN_DATA and run in full mode")
print(f"real side: {real_name}, {real.shape}, "
      f"{np.bincount(real_labels, minlength=43).min()}-{np.bincount(real_labels).max()} images per class")
show = rng.choice(len(real), 24, replace=False)
title = "GTSRB (real, labels unused)" if real_name == "GTSRB" else \
    "stand-in for GTSRB: degraded synthetic signs, NOT real data"
path = save_grid(real[show], real_labels[show], OUT / "10_real_signs.png", title=title)
print("saved", show_if_notebook(path))

# %% [markdown]
# ## Measuring the gap
# Simple statistics already differ. In full mode (5,000 rendered signs against the 7,842
# GTSRB "eval" images) we measured a mean saturation of 0.171 against 0.105 (the photos
# are duller), a mean RGB of (.415, .334, .326) against (.353, .317, .335) (the renderings
# are redder), and classes from 35 to 459 images in GTSRB, while SynSigns draws the 43
# classes uniformly. A linear classifier on raw pixels tells the domains apart fairly well:
# proxy A-distance 1.30 (chapter 8; 2 = perfectly separable). That is less than MNIST vs
# MNIST-M (1.71): the signs were rendered to look like the real ones.

# %%
def describe(name, x):
    x = x.astype(np.float32) / 255.0
    sat = x.max(axis=3) - x.min(axis=3)
    print(f"{name:10s} mean RGB {np.round(x.reshape(-1, 3).mean(0), 3)}  "
          f"brightness std {x.mean(axis=(1, 2, 3)).std():.3f}  mean saturation {sat.mean():.3f}")


describe("SynSigns", signs)
describe(real_name, real)
n = min(len(signs), len(real), 200 if QUICK else 2000)
a = signs[rng.choice(len(signs), n, replace=False)].reshape(n, -1) / 255.0
b = real[rng.choice(len(real), n, replace=False)].reshape(n, -1) / 255.0
d_a = proxy_a_distance(a, b, C_grid=(0.001,) if QUICK else (0.001, 0.01))
print(f"proxy A-distance on raw pixels, SynSigns vs {real_name}: {d_a:.3f}")

# %% [markdown]
# The same measurement for digits needs SVHN, which this project does not ship; with
# `$DANN_DATA/svhn` in place, `load_domain("svhn", "test", data_dir=DATA)` reads it.

# %%
if not QUICK and (DATA / "svhn").exists():
    svhn, svhn_labels = load_domain("svhn", "test", data_dir=DATA)
    m = min(len(digits), len(svhn), 2000)
    d_digits = proxy_a_distance(digits[:m].reshape(m, -1) / 255.0,
                                svhn[rng.choice(len(svhn), m, replace=False)].reshape(m, -1) / 255.0)
    print(f"proxy A-distance on raw pixels, SynDigits vs SVHN: {d_digits:.3f}")
else:
    print("SVHN not available here: skipping SynDigits vs SVHN")

# %% [markdown]
# ## Exercises
#
# 1. *(easy)* Predict the proxy A-distance between two *undegraded* samples of SynSigns
#    (drop `stand_in_real`), then measure it. Compare with the control of chapter 8.
# 2. *(easy)* Remove one degradation of `stand_in_real` at a time (blur, dulling,
#    darkening, noise). Which one makes the domains easiest to tell apart?
# 3. *(medium)* `describe` compares global colour statistics. Give the linear classifier
#    only those statistics (mean RGB and saturation per image, 4 numbers) instead of the
#    4,800 pixels. How much of the domain gap do they explain?
# 4. *(hard)* Train a small network on SynSigns (chapter 11's quick-mode `mlp_model`) and
#    measure the proxy A-distance on its hidden features instead of the pixels. Is the
#    gap larger or smaller in feature space, and why can that happen? (Assignment A6,
#    analysis: the proxy A-distance; see coursework/A6/README.md.)
