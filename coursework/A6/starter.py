# %% [markdown]
# # Assignment 6 - analysis
#
# Run top to bottom or open as a notebook. Cells stop with `NotImplementedError("A6.k: ...")`
# until you have written that task (see `coursework/A6/README.md`). The written answers
# (A6.2, A6.5) go in `coursework/A6/questions.md`.

# %%
from coursework.A5.support import shifted_blobs
from coursework.A6.tsne import embed, neighbour_mixing
from dann_from_scratch.evaluation import evaluate, predict_features
from dann_from_scratch.metrics import proxy_a_distance
from dann_from_scratch.models import mlp_model
from dann_from_scratch.selection import select_meta_parameters
from dann_from_scratch.trainers import TrainConfig, train

# %% [markdown]
# Tiny data: two Gaussian classes in 4-D; the target domain is the source shifted along two
# dimensions that carry no label information (`shifted_blobs`, the data of assignment 5's
# tests). A source-only network and a DANN (the paper's lambda_p schedule).

# %%
xs, ys, xt, yt = shifted_blobs(0, n=300)
xs_val, ys_val, xt_val, yt_val = shifted_blobs(1, n=200)


def fit(method, lam=1.0, steps=300, seed=0):
    model = mlp_model(4, 2, hidden=(16,), domain_hidden=(16,), rng=seed)
    cfg = TrainConfig(method=method, steps=steps, batch_size=64, lr=0.05, lambda_max=lam,
                      progress=False, seed=seed)
    train(model, (xs, ys), xt, cfg)
    return model


models = {"source only": fit("source_only"), "DANN": fit("dann")}

# %% [markdown]
# ## A6.1 - proxy A-distance of the features; A6.3 - features, t-SNE, neighbour mixing

# %%
maps = {}
for name, model in models.items():
    f_s, f_t = predict_features(model, xs_val), predict_features(model, xt_val)
    d_a = proxy_a_distance(f_s, f_t, C_grid=(0.1, 1.0, 10.0))
    emb_s, emb_t = embed(model, xs_val, xt_val, max_points=200)
    maps[name] = (emb_s, emb_t)
    acc = evaluate(model, None, (xt_val, yt_val))["target_acc"]
    print(f"{name:12s} d_A = {d_a:.2f}   mixing: t-SNE {neighbour_mixing(emb_s, emb_t):.2f}, "
          f"features {neighbour_mixing(f_s, f_t):.2f}   target accuracy {acc:.3f}")

# %%
try:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, (name, (emb_s, emb_t)) in zip(axes, maps.items()):
        ax.scatter(*emb_s.T, s=6, c="tab:blue", label="source")
        ax.scatter(*emb_t.T, s=6, c="tab:red", label="target")
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend()
    plt.show()
except ImportError:
    print("matplotlib is not installed: no figure")

# %% [markdown]
# ## A6.4 - choosing lambda without target labels
# Each candidate is judged on source validation accuracy and on how well its own G_d tells
# held-out source from (unlabelled) target inputs. Target labels are used only in the last
# column, after the choice.

# %%
candidates = []
for lam in (0.0, 0.3, 1.0, 3.0):
    model = fit("dann", lam=lam)
    res = evaluate(model, (xs_val, ys_val), xt_val)       # no target labels
    candidates.append({"lambda": lam, "source_val_acc": res["source_val_acc"],
                       "domain_error": res["domain_error"], "model": model})
winner = select_meta_parameters(candidates)
for i, c in enumerate(candidates):
    target_acc = evaluate(c["model"], None, (xt_val, yt_val))["target_acc"]
    print(f"lambda {c['lambda']:3.1f}: source val acc {c['source_val_acc']:.3f}, domain error "
          f"{c['domain_error']:.3f}  (target acc, not used: {target_acc:.3f})"
          + ("  <- chosen" if i == winner else ""))
