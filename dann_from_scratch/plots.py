"""Figures of the paper, drawn from NumPy arrays with matplotlib (Agg backend, no display).

* :func:`plot_tsne` / :func:`plot_tsne_pair` - Figure 3: t-SNE of source (blue) and target
  (red) features, before adaptation beside after.
* :func:`plot_training_curves` - label loss, domain loss, domain accuracy, lambda_p and
  mu_p against the training step, and the evaluations (source validation accuracy, target
  accuracy, domain-classifier error) where the run made them.
* :func:`plot_table_comparison` - our Table 1 row(s) beside the paper's, one group of bars
  per method, with the spread of DANN over seeds.
* :func:`plot_decision_boundary` - the two-moons figure of the JMLR paper: source points
  coloured by class, target points in grey, the classifier's 0.5 contour.
* :func:`plot_learning_curves` - Figure 4: validation error against the number of batches.

Every function writes its PNG atomically (:func:`minigrad.serialization.atomic_write`: a
temporary file in the same directory, then a rename), so a crash never leaves a half-written
image, and returns the path as a :class:`pathlib.Path`.
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minigrad.serialization import atomic_write  # noqa: E402

__all__ = [
    "SOURCE_COLOR",
    "TARGET_COLOR",
    "save_figure",
    "show_if_notebook",
    "fit_suptitle",
    "tsne_embed",
    "plot_tsne",
    "plot_tsne_pair",
    "plot_training_curves",
    "plot_table_comparison",
    "plot_decision_boundary",
    "plot_learning_curves",
]

SOURCE_COLOR = "#1f5fbf"   # blue, as in the paper's Figure 3
TARGET_COLOR = "#d62728"   # red
CLASS_COLORS = ("#e6550d", "#3182bd", "#31a354", "#756bb1", "#636363", "#e7298a",
                "#66a61e", "#a6761d", "#1b9e77", "#d95f02")
CLASS_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")

_LABELS = {
    "label_loss": "label loss (source)",
    "domain_loss": "domain loss",
    "domain_acc": "domain classifier accuracy",
    "lambda": r"GRL coefficient $\lambda_p$",
    "lr": r"learning rate $\mu_p$",
}
DEFAULT_CURVE_KEYS = ("label_loss", "domain_loss", "domain_acc", "lambda", "lr")
#: the evaluations of a history (against ``history['eval_step']``), drawn in one panel
EVALUATION_KEYS = {"source_val_acc": ("source validation accuracy", SOURCE_COLOR, "o"),
                   "target_acc": ("target accuracy (validation)", TARGET_COLOR, "s"),
                   "domain_error": ("domain-classifier error", "#636363", "^")}


# -- saving ------------------------------------------------------------------------------
def save_figure(fig, path, *, dpi: int = 120) -> Path:
    """Save ``fig`` as PNG at ``path`` atomically (:func:`minigrad.serialization.atomic_write`).

    The figure is closed afterwards, whether saving worked or not.
    """
    try:
        return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi))
    finally:
        plt.close(fig)


def show_if_notebook(path) -> Path:
    """Display the saved image at ``path`` inline when running in IPython/Jupyter; return it.

    The chapters call it on every PNG they save, so a chapter opened as a notebook shows its
    figures. In a plain script or a test run IPython is not running and nothing happens (it
    is never imported here: only an IPython already loaded by a live shell is used).
    """
    import sys

    ipython = sys.modules.get("IPython")
    if ipython is not None and ipython.get_ipython() is not None:
        from IPython.display import Image, display

        display(Image(filename=str(path)))
    return Path(path)


def fit_suptitle(fig, text: str, fontsize: float = 13):
    """``fig.suptitle(text)``, wrapped onto more lines where one line would be wider than
    the figure (long pair titles such as "... (source domain X, target domain Y)" were cut
    off at both edges). Returns the title's Text artist."""
    title = fig.suptitle(text, fontsize=fontsize)
    renderer = fig.canvas.get_renderer()
    room = 0.96 * fig.get_figwidth() * fig.dpi
    width = title.get_window_extent(renderer).width
    chars = len(text)
    while width > room and chars > 10:
        chars = max(10, int(chars * room / width) - 1)
        title.set_text(textwrap.fill(text, chars))
        width = title.get_window_extent(renderer).width
    return title


# -- helpers -----------------------------------------------------------------------------
def _features(X, name: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (N, D), got shape {X.shape}")
    X = X.astype(np.float64, copy=False)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def _pick(rng: np.random.Generator, n: int, k: int | None) -> np.ndarray:
    if k is None or n <= k:
        return np.arange(n)
    return np.sort(rng.choice(n, size=k, replace=False))


def tsne_embed(features_src, features_tgt, *, max_points: int | None = 1000, seed: int = 0,
               perplexity: float = 30.0, pca_dims: int = 50, max_iter: int = 1000,
               n_threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """2-D t-SNE of source and target features, embedded **together** (one joint map).

    At most ``max_points`` random rows of each domain are used. Inputs with more than
    ``pca_dims`` columns are first reduced by PCA (the usual speed-up). ``n_threads`` caps
    the OpenMP/BLAS threads (``None``: library default; on a small, busy machine ``1`` is
    often several times faster than oversubscribed threads). Returns ``(emb_src, emb_tgt)``.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    Xs = _features(features_src, "source features")
    Xt = _features(features_tgt, "target features")
    if Xs.shape[1] != Xt.shape[1]:
        raise ValueError(
            f"source and target features must have the same dimension, got {Xs.shape} "
            f"and {Xt.shape}")
    rng = np.random.default_rng(seed)
    Xs = Xs[_pick(rng, Xs.shape[0], max_points)]
    Xt = Xt[_pick(rng, Xt.shape[0], max_points)]
    X = np.concatenate([Xs, Xt])
    n = X.shape[0]
    if n < 5:
        raise ValueError(f"t-SNE needs at least 5 points in all, got {n}")
    if X.shape[1] > pca_dims and n > pca_dims:
        X = PCA(n_components=pca_dims, random_state=seed).fit_transform(X)
    perp = float(min(perplexity, max(1.0, (n - 1) / 3.0)))
    tsne = TSNE(n_components=2, perplexity=perp, init="pca", learning_rate="auto",
                max_iter=max_iter, random_state=seed)
    if n_threads is None:
        emb = tsne.fit_transform(X)
    else:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=int(n_threads)):
            emb = tsne.fit_transform(X)
    return emb[: Xs.shape[0]], emb[Xs.shape[0]:]


def _scatter_domains(ax, emb_s, emb_t, title: str | None, seed: int = 0) -> None:
    from matplotlib.lines import Line2D

    size = float(np.clip(3000.0 / (len(emb_s) + len(emb_t)), 2.0, 18.0))
    # one scatter in a random order, so neither domain is always painted on top
    pts = np.concatenate([emb_s, emb_t])
    colors = np.array([SOURCE_COLOR] * len(emb_s) + [TARGET_COLOR] * len(emb_t))
    order = np.random.default_rng(seed).permutation(len(pts))
    ax.scatter(pts[order, 0], pts[order, 1], s=size, c=colors[order], alpha=0.6,
               linewidths=0, rasterized=True)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=12)
    handles = [Line2D([], [], ls="", marker="o", ms=6, color=SOURCE_COLOR,
                      label=f"source ({len(emb_s)})"),
               Line2D([], [], ls="", marker="o", ms=6, color=TARGET_COLOR,
                      label=f"target ({len(emb_t)})")]
    ax.legend(handles=handles, loc="best", fontsize=9, frameon=True, framealpha=0.85)


# -- t-SNE -------------------------------------------------------------------------------
def plot_tsne(features_src, features_tgt, path, title: str = "t-SNE of features", *,
              max_points: int | None = 1000, seed: int = 0, perplexity: float = 30.0,
              max_iter: int = 1000, n_threads: int | None = None, figsize=(6.0, 6.0),
              dpi: int = 120) -> Path:
    """Figure 3 style t-SNE: source features blue, target features red (joint embedding).

    At most ``max_points`` rows per domain; see :func:`tsne_embed` for the other options.
    """
    emb_s, emb_t = tsne_embed(features_src, features_tgt, max_points=max_points, seed=seed,
                              perplexity=perplexity, max_iter=max_iter, n_threads=n_threads)
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    _scatter_domains(ax, emb_s, emb_t, title, seed)
    return save_figure(fig, path, dpi=dpi)


def plot_tsne_pair(before_src, before_tgt, after_src, after_tgt, path, *,
                   titles: Sequence[str] = ("Non-adapted (source only)", "Adapted (DANN)"),
                   suptitle: str | None = None, max_points: int | None = 1000, seed: int = 0,
                   perplexity: float = 30.0, max_iter: int = 1000,
                   n_threads: int | None = None, figsize=(11.0, 5.5), dpi: int = 120) -> Path:
    """Two panels, non-adapted beside adapted, as in Figure 3 (each its own t-SNE map)."""
    if len(titles) != 2:
        raise ValueError(f"titles must hold two strings, got {titles!r}")
    before = tsne_embed(before_src, before_tgt, max_points=max_points, seed=seed,
                        perplexity=perplexity, max_iter=max_iter, n_threads=n_threads)
    after = tsne_embed(after_src, after_tgt, max_points=max_points, seed=seed,
                       perplexity=perplexity, max_iter=max_iter, n_threads=n_threads)
    fig, axes = plt.subplots(1, 2, figsize=figsize, layout="constrained")
    _scatter_domains(axes[0], *before, titles[0], seed)
    _scatter_domains(axes[1], *after, titles[1], seed)
    if suptitle:
        fit_suptitle(fig, suptitle)
    return save_figure(fig, path, dpi=dpi)


# -- training curves ---------------------------------------------------------------------
def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Moving average that ignores NaNs and keeps the length (shorter window at the edges)."""
    if window <= 1 or y.size < 3:
        return y
    window = min(window, y.size)
    ok = np.isfinite(y)
    v = np.where(ok, y, 0.0)
    k = np.ones(window)
    num = np.convolve(v, k, mode="same")
    den = np.convolve(ok.astype(float), k, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[den == 0] = np.nan
    return out


def _as_series(values, name: str) -> np.ndarray:
    try:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"history[{name!r}] must be a list of numbers") from None


def plot_training_curves(history: Mapping[str, Sequence[float]], path, *,
                         keys: Sequence[str] = DEFAULT_CURVE_KEYS, title: str | None = None,
                         smooth: int | None = None, ncols: int | None = None,
                         evaluations: bool = True, dpi: int = 120) -> Path:
    """One small panel per quantity of ``history`` against ``history['step']``, and one for
    the evaluations.

    ``history`` is a dict of equal-length lists such as ``{'step': [...], 'label_loss':
    [...], 'domain_loss': [...], 'domain_acc': [...], 'lambda': [...], 'lr': [...]}``; keys
    of ``keys`` that are missing or empty are skipped (any other key may be listed in
    ``keys`` too). Without ``'step'`` the index is used. Noisy series (losses, accuracy) are
    drawn faintly with a moving average on top (window ``smooth``, default ~len/50);
    ``domain_acc`` gets a dashed chance line at 0.5. With ``evaluations`` and a history
    holding ``eval_step`` (what the trainer records), a last panel draws the source
    validation accuracy, the target accuracy (where the target validation set is labelled)
    and the domain-classifier error at each evaluation.
    """
    if not isinstance(history, Mapping):
        raise TypeError(f"history must be a dict of lists, got {type(history).__name__}")
    present = [k for k in keys if k != "step" and k in history and len(history[k]) > 0]
    evaluated = _evaluations(history) if evaluations else {}
    if not present and not evaluated:
        raise ValueError(
            f"history has none of the keys {list(keys)} (it has {sorted(history)}); "
            "nothing to plot")
    series = {k: _as_series(history[k], k) for k in present}
    if "step" in history and len(history["step"]) > 0:
        steps = _as_series(history["step"], "step")
    else:
        steps = None
    panels = len(present) + bool(evaluated)
    ncols = ncols or min(3, panels)
    nrows = int(np.ceil(panels / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.1 * nrows),
                             layout="constrained", squeeze=False)
    for ax, k in zip(axes.flat, present):
        y = series[k]
        if steps is not None and len(steps) != len(y):
            plt.close(fig)
            raise ValueError(
                f"history[{k!r}] has {len(y)} values but history['step'] has {len(steps)}")
        x = steps if steps is not None else np.arange(len(y), dtype=float)
        _curve_panel(ax, k, x, y, smooth)
        ax.set_xlabel("step" if steps is not None else "record")
    if evaluated:
        _evaluation_panel(list(axes.flat)[len(present)], history["eval_step"], evaluated)
    for ax in list(axes.flat)[panels:]:
        ax.set_visible(False)
    if title:
        fit_suptitle(fig, title)
    return save_figure(fig, path, dpi=dpi)


def _evaluations(history: Mapping) -> dict:
    """``{key: series}`` of the evaluation keys the history holds with at least one value
    (the target accuracy is None where the target validation set is unlabelled)."""
    n = len(history.get("eval_step") or ())
    out = {}
    for key in EVALUATION_KEYS:
        values = history.get(key) or ()
        if n and len(values) == n and any(v is not None for v in values):
            out[key] = _as_series(values, key)
    return out


def _evaluation_panel(ax, eval_steps, evaluated: dict) -> None:
    x = _as_series(eval_steps, "eval_step")
    for key, y in evaluated.items():
        label, color, marker = EVALUATION_KEYS[key]
        ax.plot(x, y, color=color, lw=1.6, marker=marker if len(y) <= 30 else None, ms=4,
                label=label)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("evaluations (held-out sets)", fontsize=11)
    ax.set_xlabel("step")
    ax.legend(fontsize=8, loc="best", frameon=False)
    ax.grid(True, alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


# -- Table 1 beside the paper's ------------------------------------------------------------
_TABLE_METHODS = (("source_only", "Source only"), ("sa", "SA"), ("dann", "DANN"),
                  ("train_on_target", "Train on target"))
_TABLE_ROWS = (("paper", "Paper (Table 1)", "#bdbdbd"), ("ours", "Ours (network outputs)",
                                                         SOURCE_COLOR),
               ("ours_svm", "Ours, last layer as linear SVM", "#6baed6"))


def plot_table_comparison(results: Mapping, path, *, title: str | None = None,
                          dpi: int = 120) -> Path:
    """Bars of target test accuracy, one group per method (source only, SA, DANN, train on
    target), one bar per row of ``results`` (a ``reproduce`` results dict): the paper's, ours
    and ours with the last layer retrained as an SVM, whichever it holds. DANN's bars of
    our rows carry the standard deviation over seeds as an error bar and the seeds' own
    accuracies as dots. Missing numbers leave a gap."""
    rows = [(key, label, color) for key, label, color in _TABLE_ROWS if results.get(key)]
    if not rows:
        raise ValueError("results hold none of the rows 'paper', 'ours', 'ours_svm'")
    x = np.arange(len(_TABLE_METHODS), dtype=float)
    width = 0.8 / len(rows)
    fig, ax = plt.subplots(figsize=(8.0, 4.6), layout="constrained")
    for i, (key, label, color) in enumerate(rows):
        row = results[key]
        xs = x + (i - (len(rows) - 1) / 2) * width
        values = np.array([np.nan if row.get(m) is None else float(row[m])
                           for m, _ in _TABLE_METHODS])
        spread = np.zeros_like(values)
        seeds = row.get("dann_per_seed") or {}
        if key != "paper" and len(seeds) > 1:
            spread[2] = float(row.get("dann_std") or 0.0)
        ax.bar(xs, np.nan_to_num(values), width * 0.92, color=color, label=label)
        if spread[2] > 0 and np.isfinite(values[2]):
            ax.errorbar(xs[2], values[2], yerr=spread[2], ls="", capsize=3, elinewidth=1.2,
                        color="#252525")
        if key != "paper" and len(seeds) > 1:
            per_seed = [float(v) for v in seeds.values() if v is not None]
            ax.plot([xs[2]] * len(per_seed), per_seed, ls="", marker="o", ms=3.5,
                    color="#252525", label="DANN, each seed" if i == 1 else None)
        for xi, v, e in zip(xs, values, spread):
            if np.isfinite(v):
                ax.text(xi, v + e + 0.01, f"{v:.3f}", ha="center", va="bottom", fontsize=7,
                        rotation=90)
    ax.set_xticks(x, [label for _, label in _TABLE_METHODS])
    ax.set_ylim(0.0, 1.15)
    ax.set_ylabel("target test accuracy")
    ax.legend(fontsize=8, loc="upper left", frameon=False, ncols=2)
    ax.grid(True, axis="y", alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    heading = title or f"Table 1, {results.get('title', '')}: ours beside the paper's"
    seeds = len((results.get("ours") or {}).get("dann_per_seed") or {})
    if seeds > 1:
        heading += f" (DANN: mean ± std over {seeds} seeds)"
    fit_suptitle(fig, heading, fontsize=12)
    return save_figure(fig, path, dpi=dpi)


def _curve_panel(ax, key: str, x: np.ndarray, y: np.ndarray, smooth: int | None) -> None:
    """One quantity of the history: noisy series faint with their moving average on top."""
    noisy = key not in ("lambda", "lr") and len(y) >= 20
    w = smooth if smooth is not None else max(1, len(y) // 50)
    if noisy and w > 1:
        ax.plot(x, y, color="#9ecae1", lw=0.8, alpha=0.8, label="raw")
        ax.plot(x, _smooth(y, w), color="#08519c", lw=1.8, label=f"mean of {w}")
        ax.legend(fontsize=8, loc="best", frameon=False)
    else:
        ax.plot(x, y, color="#08519c", lw=1.8, marker="o" if len(y) <= 30 else None, ms=3)
    if key == "domain_acc":
        ax.axhline(0.5, color="#d62728", ls="--", lw=1.0, label="chance")
        ax.set_ylim(min(0.0, np.nanmin(y) - 0.05) if np.isfinite(y).any() else 0.0, 1.02)
        ax.legend(fontsize=8, loc="best", frameon=False)
    if key == "lr":
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    ax.set_title(_LABELS.get(key, key), fontsize=11)
    ax.grid(True, alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


# -- two moons ---------------------------------------------------------------------------
def _class1_probability(predict_proba: Callable, pts: np.ndarray) -> np.ndarray:
    out = np.asarray(predict_proba(pts.astype(np.float32)), dtype=np.float64)
    m = pts.shape[0]
    if out.shape == (m,) or out.shape == (m, 1):
        return out.reshape(m)
    if out.shape == (m, 2):
        return out[:, 1]
    raise ValueError(
        f"predict_proba must return shape ({m},), ({m}, 1) or ({m}, 2) for {m} points, "
        f"got {out.shape}")


def plot_decision_boundary(predict_proba: Callable, Xs, ys, Xt, path,
                           title: str = "Decision boundary", *, yt=None, resolution: int = 250,
                           margin: float = 0.5, figsize=None, dpi: int = 120,
                           show_colorbar: bool = True) -> Path:
    """Two-moons figure: class-1 probability shading, the 0.5 boundary, and the samples.

    ``predict_proba`` maps ``(M, 2)`` float32 points to class-1 probabilities ``(M,)`` /
    ``(M, 1)``, or to ``(M, 2)`` class probabilities. Source points are coloured by their
    class ``ys``; target points are drawn as grey/black markers (their labels ``yt``, if
    given, only change the marker shape, never the colour).
    """
    Xs = _features(Xs, "source points")
    Xt = _features(Xt, "target points")
    if Xs.shape[1] != 2 or Xt.shape[1] != 2:
        raise ValueError(f"decision boundaries are drawn for 2-D points, got source {Xs.shape} "
                         f"and target {Xt.shape}")
    ys = np.asarray(ys)
    if ys.shape != (Xs.shape[0],):
        raise ValueError(f"ys must have shape ({Xs.shape[0]},), got {ys.shape}")
    if yt is not None:
        yt = np.asarray(yt)
        if yt.shape != (Xt.shape[0],):
            raise ValueError(f"yt must have shape ({Xt.shape[0]},), got {yt.shape}")
    allp = np.concatenate([Xs, Xt])
    lo = allp.min(axis=0) - margin
    hi = allp.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    p = _class1_probability(predict_proba, grid).reshape(gx.shape)

    if figsize is None:   # follow the data's aspect ratio (equal axes), room for the colorbar
        aspect = float(np.clip((hi[1] - lo[1]) / (hi[0] - lo[0]), 0.4, 1.6))
        figsize = (6.0 + (1.0 if show_colorbar else 0.0), 6.0 * aspect + 1.0)
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    levels = np.linspace(0.0, 1.0, 21)
    cf = ax.contourf(gx, gy, np.clip(p, 0, 1), levels=levels, cmap="RdBu_r", alpha=0.35,
                     antialiased=True)
    if np.nanmin(p) < 0.5 < np.nanmax(p):
        ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=2.0)
    _scatter_moons(ax, Xs, ys, Xt, yt)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(title, fontsize=12)
    # below the axes, so it never hides a point
    fig.legend(loc="outside lower center", ncols=3 if yt is None else 2, fontsize=8,
               frameon=False)
    if show_colorbar:
        cb = fig.colorbar(cf, ax=ax, shrink=0.9, ticks=[0, 0.25, 0.5, 0.75, 1.0])
        cb.set_label("P(class 1)")
    return save_figure(fig, path, dpi=dpi)


def _scatter_moons(ax, Xs, ys, Xt, yt) -> None:
    """Source points coloured by class; target points grey (marker shape = class if known)."""
    classes = np.unique(ys)
    class_colors = {c: ("#2166ac", "#b2182b")[i] if len(classes) == 2 else
                    CLASS_COLORS[i % len(CLASS_COLORS)] for i, c in enumerate(classes)}
    for i, c in enumerate(classes):
        sel = ys == c
        ax.scatter(Xs[sel, 0], Xs[sel, 1], s=26, c=class_colors[c], marker="+" if i == 0 else "x",
                   linewidths=1.6, label=f"source, class {c}", zorder=3)
    if yt is None:
        ax.scatter(Xt[:, 0], Xt[:, 1], s=14, c="#404040", marker="o", alpha=0.75,
                   linewidths=0, label="target (unlabelled)", zorder=2)
        return
    for i, c in enumerate(np.unique(yt)):
        sel = yt == c
        ax.scatter(Xt[sel, 0], Xt[sel, 1], s=16, c="#404040", alpha=0.75, linewidths=0,
                   marker=CLASS_MARKERS[i % len(CLASS_MARKERS)],
                   label=f"target, class {c}", zorder=2)


# -- learning curves (Figure 4) ----------------------------------------------------------
def plot_learning_curves(curves: Mapping[str, tuple], path, xlabel: str = "batches",
                         ylabel: str = "validation error", *, title: str | None = None,
                         logx: bool = False, ylim: tuple[float, float] | None = None,
                         figsize=(6.4, 4.4), dpi: int = 120) -> Path:
    """Several named curves on one axes (Figure 4: validation error vs batches seen).

    ``curves`` maps a legend name to ``(x, y)`` (equal-length sequences).
    """
    if not isinstance(curves, Mapping) or len(curves) == 0:
        raise ValueError("curves must be a non-empty dict name -> (x, y)")
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    styles = ("-", "--", "-.", ":")
    for i, (name, xy) in enumerate(curves.items()):
        try:
            x, y = xy
        except (TypeError, ValueError):
            plt.close(fig)
            raise ValueError(f"curves[{name!r}] must be a pair (x, y)") from None
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if x.ndim != 1 or x.shape != y.shape or x.size == 0:
            plt.close(fig)
            raise ValueError(
                f"curves[{name!r}]: x and y must be non-empty 1-D and of equal length, got "
                f"{x.shape} and {y.shape}")
        ax.plot(x, y, lw=2.0, ls=styles[(i // 10) % len(styles)], color=f"C{i % 10}",
                marker="o" if x.size <= 25 else None, ms=4, label=str(name))
    if logx:
        ax.set_xscale("log")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=12)
    ax.grid(True, alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(fontsize=9, frameon=False)
    return save_figure(fig, path, dpi=dpi)
