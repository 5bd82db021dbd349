# %% [markdown]
# # Chapter 4 - The gradient reversal layer
#
# DANN (Ganin & Lempitsky 2015) trains three networks at once: a feature extractor G_f, a
# label predictor G_y that reads the features, and a domain classifier G_d that also reads
# them and guesses "source or target?". G_d should get *better* at telling the domains
# apart, while G_f should make that *harder*: the two play against each other. Section 3.2
# of the paper shows that this tug of war fits into ordinary backpropagation if one new
# node is put between G_f and G_d, the *gradient reversal layer* R_lambda:
#
#     (7)  R_lambda(x) = x                 forward: the identity
#     (8)  dR_lambda/dx = -lambda I        backward: flip the sign of the gradient, scale it
#
# Everything above the node (G_d) sees the true gradient of the domain loss; everything
# below it (G_f) sees that gradient reversed. One backward pass, one optimizer step.
#
# In this chapter: the node on a tiny graph, the node inside a two-headed graph, the reason
# a numerical gradient check *must* fail on it, and the lambda schedule of the paper.

# %%
import os
from pathlib import Path

import numpy as np

import minigrad as mg
from minigrad import Tensor, ops
from dann_from_scratch.grl import GradientReversal, GradientReversalLayer, grad_reverse
from dann_from_scratch.schedules import paper_lambda, paper_lr

QUICK = os.environ.get("CHAPTER_QUICK") == "1"
if QUICK:
    print("Quick mode (CHAPTER_QUICK=1): tiny data and few steps, only to run the code - "
          "the numbers below are not meaningful.")
OUT = Path(os.environ.get("CHAPTER_OUT", "chapter_output"))
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## The node itself
# `GradientReversal` is an ordinary minigrad `Function`: forward hands its input back
# unchanged, backward multiplies the incoming gradient by -lambda. Take
# loss = sum(w * R(x)). Without the node, dloss/dx = w; with it, -lambda * w.

# %%
lam = 0.5
x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
w = Tensor(np.array([0.1, 0.2, 0.3]), requires_grad=True)
y = grad_reverse(x, lam)
loss = (w * y).sum()
loss.backward()
print("forward  R(x)      =", y.data, "(the identity: same as x)")
print("backward dloss/dx  =", x.grad, " = -lambda * w =", -lam * w.data)
print("         dloss/dw  =", w.grad, " (untouched: w sits above the node, it sees R(x) = x)")

# %% [markdown]
# ## Inside a two-headed graph
# This is the shape of DANN: one feature vector f feeds a label head and, through R_lambda,
# a domain head. The gradient that reaches f is the sum of what comes down each branch,
#
#     dL/df = dL_y/df - lambda * dL_d/df,
#
# so f descends the label loss while it *ascends* the domain loss. We check it against
# the two branches differentiated on their own.

# %%
rng = np.random.default_rng(0)
h = Tensor(rng.standard_normal((4, 3)), requires_grad=True)        # the input of G_f
W_f = Tensor(rng.standard_normal((3, 5)), requires_grad=True)      # G_f: one tanh layer
W_y = Tensor(rng.standard_normal((5, 2)))                          # G_y: linear, 2 classes
W_d = Tensor(rng.standard_normal((5, 1)), requires_grad=True)      # G_d: logistic regression
labels = np.array([0, 1, 1, 0])
domains = np.array([[0.0], [0.0], [1.0], [1.0]])


def losses(reverse: bool, lam: float):
    f = ops.tanh(h @ W_f)
    label_loss = ops.cross_entropy(f @ W_y, labels)
    f_d = grad_reverse(f, lam) if reverse else f
    domain_loss = ops.binary_cross_entropy_with_logits(f_d @ W_d, domains)
    return label_loss, domain_loss


def grad_of(loss):
    W_f.grad = W_d.grad = h.grad = None
    loss.backward()
    return [np.zeros_like(t.data) if t.grad is None else t.grad.copy() for t in (W_f, W_d)]


lam = 0.7
g_f_y, _ = grad_of(losses(False, lam)[0])                  # dL_y/dtheta_f
g_f_d, g_d_d = grad_of(losses(False, lam)[1])              # dL_d/dtheta_f, dL_d/dtheta_d
g_f_grl, g_d_grl = grad_of(sum(losses(True, lam)))         # one pass of L_y + L_d through R
print("theta_f: |GRL - (dL_y - lambda dL_d)| max =",
      float(np.abs(g_f_grl - (g_f_y - lam * g_f_d)).max()))
print("theta_d: |GRL - dL_d|                  max =", float(np.abs(g_d_grl - g_d_d).max()),
      "(G_d is trained with weight 1, not lambda)")

# %% [markdown]
# ## Why gradcheck disagrees: a pseudo-function
# A gradient check perturbs the input, reruns the *forward* pass and compares the change
# with what backward claims. The forward pass of R_lambda is the identity, whose true
# derivative is +I; backward claims -lambda I. So for every lambda other than -1 the check
# must fail, and it does: no real function has this forward/backward pair. The paper calls
# R_lambda a "pseudo-function" for exactly this reason, and it is why the GRL is written as
# an explicit `Function` with a hand-made backward rather than composed from other ops
# (which autodiff would differentiate honestly).

# %%
z = Tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)  # float64
for lam in (1.0, 0.0):
    try:
        mg.gradcheck(lambda t: grad_reverse(t, lam), z)
        print(f"lambda = {lam}: gradcheck passed (unexpected!)")
    except mg.GradcheckError as e:
        first = str(e).splitlines()[0].split(" (|diff|")[0]
        print(f"lambda = {lam}: gradcheck fails, as it must ->\n    {first}")

# %% [markdown]
# With lambda = -1 the backward multiplies by +1: the node is an honest identity and the
# check passes. (lambda = 0 fails too: it blocks the gradient, and a true identity does not.)

# %%
print("lambda = -1: gradcheck ->", mg.gradcheck(lambda t: grad_reverse(t, -1.0), z))
zc = Tensor(z.data.copy(), requires_grad=True)
grad_reverse(zc, -1.0).sum().backward()
print("             and its gradient is all ones:", bool(np.all(zc.grad == 1.0)))

# %% [markdown]
# Everything *around* the node is still differentiated exactly: `tests/test_grl.py` runs
# gradcheck on a whole DANN graph with lambda = 0 (which blocks the domain branch) and with
# lambda = -1 (an honest identity), and both pass.
#
# ## The layer and its schedule
# In a network the GRL is a `GradientReversalLayer` module without parameters; the trainer
# sets its `lambda_` before every step. The paper (section 5) does not use a constant
# lambda: early in training the features are random and the domain classifier's signal is
# noise, so lambda starts at 0 and rises towards 1,
#
#     lambda_p = 2 / (1 + exp(-10 p)) - 1,    p = training progress in [0, 1],
#
# while the learning rate is annealed as mu_p = 0.01 / (1 + 10 p)^0.75.

# %%
layer = GradientReversalLayer()
lam_p, mu_p = paper_lambda(), paper_lr()
print(layer)
for p in (0.0, 0.05, 0.1, 0.25, 0.5, 1.0):
    layer.lambda_ = lam_p(p)
    print(f"p = {p:4.2f}   lambda_p = {layer.lambda_:.4f}   mu_p = {mu_p(p):.5f}")

# The node hands back the very same array (no copy): an identity should cost nothing.
a = Tensor(np.ones((2, 2), np.float32), requires_grad=True)
print("forward shares memory with its input:", GradientReversal.apply(a, lambda_=1.0).data is a.data)

# %%
from dann_from_scratch.plots import save_figure, show_if_notebook  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

ps = np.linspace(0, 1, 201)
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
axes[0].plot(ps, [lam_p(p) for p in ps], lw=2)
axes[0].set_title(r"GRL coefficient $\lambda_p$")
axes[1].plot(ps, [mu_p(p) for p in ps], lw=2, color="C1")
axes[1].set_title(r"learning rate $\mu_p$")
for ax in axes:
    ax.set_xlabel("training progress p")
    ax.grid(alpha=0.3)
print("saved", show_if_notebook(save_figure(fig, OUT / "04_schedules.png")))

# %% [markdown]
# ## Exercises
#
# 1. *(easy)* In the first cell set `lam` to 0 and then to -1. Predict `x.grad` and `w.grad`
#    before you run it.
# 2. *(easy)* Solve lambda_p = 0.5 for p by hand (the answer is ln(3) / 10) and check it
#    with `paper_lambda()`. What is mu_p at the end of training (p = 1)?
# 3. *(medium)* gradcheck reports the worst element for lambda = 1 and lambda = 0: which
#    "expected" and "got" values do you predict for each, knowing the forward is the
#    identity? Check against the messages printed above.
# 4. *(medium)* Write the GRL yourself as a `Function` (forward: the identity; backward:
#    -lambda times the incoming gradient) and check it against `grad_reverse` on the
#    two-headed graph above. Then write the two schedules lambda_p and mu_p. This is
#    assignment A5, the paper (the gradient reversal layer, the schedules lambda_p and mu_p;
#    see coursework/A5/README.md).
# 5. *(hard)* Build the GRL from ordinary ops instead: R(x) = -lambda x + (1 + lambda)
#    x.detach(). Show that its forward is the identity and its backward -lambda. Does
#    gradcheck pass now? Explain why or why not - what kind of function is `detach`?
