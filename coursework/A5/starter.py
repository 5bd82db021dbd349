# %% [markdown]
# # Assignment 5 - gradient reversal and the saddle point
#
# Run top to bottom or open as a notebook. Cells stop with `NotImplementedError("A5.k: ...")`
# until you have written that task (see `coursework/A5/README.md`).

# %%
import numpy as np

import minigrad as mg
from dann_from_scratch.batches import Batch
from dann_from_scratch.config import TrainConfig
from dann_from_scratch.datasets.moons import make_two_moons
from dann_from_scratch.grl import grad_reverse
from dann_from_scratch.models import moons_model
from dann_from_scratch.schedules import AnnealedLR, LambdaSchedule
from dann_from_scratch.updaters import GRLUpdater, SaddlePointUpdater

# %% [markdown]
# ## A5.1 - the gradient reversal layer: identity forward, -lambda backward

# %%
x = mg.Tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
y = grad_reverse(x, 0.5)
(y * 2.0).sum().backward()
print("forward:", y.numpy(), " backward:", x.grad, "(expected -0.5 * 2 = -1)")

# %% [markdown]
# ## A5.2 - the schedules

# %%
lam, mu = LambdaSchedule(), AnnealedLR()
for p in (0.0, 0.1, 0.25, 0.5, 1.0):
    print(f"p = {p:4.2f}: lambda_p = {lam(p):.5f}, mu_p = {mu(p):.5f}")

# %% [markdown]
# ## A5.3 and A5.4 - one step, two ways
# Two moons (source) and the same moons rotated by 35 degrees (target), the shallow network
# of the JMLR paper. Both updaters start from the same weights and see the same batches.

# %%
xs, ys, xt, _ = make_two_moons(n_per_class=100, seed=0)
mean = np.concatenate([xs, xt]).mean(0)
cfg = TrainConfig(lr=0.05, momentum=0.9, progress=False)
grl_model, saddle_model = moons_model(rng=0), moons_model(rng=0)
grl, saddle = GRLUpdater(grl_model, cfg), SaddlePointUpdater(saddle_model, cfg)
rng = np.random.default_rng(0)
steps, half = 300, 32
domains = np.concatenate([np.zeros(half), np.ones(half)]).astype(np.float32)[:, None]
acc = []
for step in range(steps):
    p = step / steps
    i, j = rng.choice(len(xs), half, replace=False), rng.choice(len(xt), half, replace=False)
    batch = Batch(x=mg.Tensor(np.concatenate([xs[i], xt[j]]) - mean), label_rows=slice(0, half),
                  labels=ys[i], domains=domains)
    logs = grl.step(batch, lam(p), mu(p) * 5)
    saddle.step(batch, lam(p), mu(p) * 5)
    acc.append(logs["domain_acc"])
diff = max(np.abs(a - b).max() for a, b in zip(grl_model.state_dict().values(),
                                                saddle_model.state_dict().values()))
print(f"largest |GRL - saddle| parameter difference after {steps} steps: {diff:.2e}")
print("domain accuracy of G_d, mean over 50-step windows:",
      np.round([np.mean(acc[k:k + 50]) for k in range(0, steps, 50)], 3))
