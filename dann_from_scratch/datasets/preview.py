"""Sample grids of a data set as PNG files, to check by eye what a loader produces.

Drawn with matplotlib's Agg canvas directly (no pyplot, so no global backend state and no
display needed) and written atomically.
"""
from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np

from ._io import atomic_write_bytes

__all__ = ["save_grid", "preview"]


def save_grid(
    images: np.ndarray,
    labels,
    path: str | os.PathLike,
    ncols: int = 8,
    title: str | None = None,
    cell_inches: float = 0.9,
    dpi: int = 80,
) -> Path:
    """Write ``images`` (N, H, W, C) uint8, C = 1 or 3, as a grid PNG at ``path``.

    Each cell is captioned with its label unless ``labels`` is None. Returns the path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[3] not in (1, 3) or len(images) == 0:
        raise ValueError(f"images: expected (N, H, W, 1|3) with N > 0, got {images.shape}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"labels: {len(labels)} labels for {len(images)} images")
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    # inches reserved above the grid: the title, else room for the first row's captions
    top = 0.4 if title else (0.15 if labels is not None else 0.0)
    fig = Figure(figsize=(ncols * cell_inches, nrows * cell_inches + top))
    FigureCanvasAgg(fig)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(
        left=0.01, right=0.99, bottom=0.01, top=1 - top / (nrows * cell_inches + top) - 0.01,
        wspace=0.05, hspace=0.35,
    )
    for i in range(nrows * ncols):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        ax.set_axis_off()
        if i >= n:
            continue
        img = images[i]
        if img.shape[2] == 1:
            ax.imshow(img[:, :, 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        else:
            ax.imshow(img, interpolation="nearest")
        if labels is not None:
            ax.set_title(str(int(labels[i])), fontsize=7, pad=2)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return atomic_write_bytes(path, buf.getvalue())


def preview(
    domain: str,
    path: str | os.PathLike,
    n: int = 32,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    split: str = "train",
    ncols: int = 8,
    **kw,
) -> Path:
    """Save a grid of ``n`` random samples (chosen with ``seed``) of ``domain``'s ``split``.

    Loads the domain through :func:`dann_from_scratch.datasets.load_domain`, passing
    ``data_dir``, ``seed`` and ``kw`` along. Returns the path written.
    """
    from . import load_domain

    images, labels = load_domain(domain, split=split, data_dir=data_dir, seed=seed, **kw)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(images), size=min(n, len(images)), replace=False))
    title = f"{domain} ({split}, {len(images):,} images {images.shape[1]}x{images.shape[2]})"
    return save_grid(images[pick], labels[pick], path, ncols=ncols, title=title)
