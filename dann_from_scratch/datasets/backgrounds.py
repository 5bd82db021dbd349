"""Colour photographs used as backgrounds (MNIST-M patches, synthetic-sign backgrounds).

:func:`load_photos` reads every JPEG/PNG of a directory (for the paper's MNIST-M recipe:
the BSDS500 photos), or, without a directory, a small offline set of genuine colour photos
that ship inside scikit-learn and scikit-image. :func:`describe_photos` says which set that
is (the folder, or "bundled photos"), how many photos and a hash of their files, so a run
can record the photos its MNIST-M was built from and notice when they change.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ._io import DatasetError

__all__ = ["load_photos", "photo_paths", "describe_photos", "bundled_photo_paths",
           "BUNDLED", "PHOTO_SUFFIXES"]

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
#: how records name the photos bundled with scikit-learn / scikit-image
BUNDLED = "bundled photos"

# Natural colour photographs bundled with the libraries. Left out on purpose: greyscale
# images (camera, coins, moon, brick, grass, gravel, ...), synthetic ones (color.png is a
# colour wheel; chessboard_RGB, phantom, logo), the RGBA horse silhouette and tiny images.
_SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")
_SKIMAGE_PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "ihc.png",
)


def _package_dir(name: str) -> Path | None:
    """Installation directory of a package, found without importing it (imports are slow)."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def bundled_photo_paths() -> list[Path]:
    """Paths of the bundled colour photos that are present in this installation."""
    paths = []
    sk = _package_dir("sklearn")
    if sk is not None:
        paths += [sk / "datasets" / "images" / n for n in _SKLEARN_PHOTOS]
    ski = _package_dir("skimage")
    if ski is not None:
        paths += [ski / "data" / n for n in _SKIMAGE_PHOTOS]
    return [p for p in paths if p.is_file()]


def _read_rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            # Greyscale or palette files become 3 equal channels; alpha is dropped.
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"{path}: unreadable image ({exc})") from exc


def photo_paths(photo_dir: str | os.PathLike | None = None) -> list[Path]:
    """The photo files :func:`load_photos` reads, in its order (same arguments, same errors
    for a missing or empty directory)."""
    if photo_dir is None:
        paths = bundled_photo_paths()
        if not paths:
            raise DatasetError(
                "sklearn/datasets/images, skimage/data: no bundled colour photo found; "
                "pass photo_dir= a directory of colour photos"
            )
        return paths
    directory = Path(photo_dir)
    if not directory.is_dir():
        raise DatasetError(f"{directory}: photo directory does not exist")
    paths = sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
    )
    if not paths:
        raise DatasetError(
            f"{directory}: photo directory holds no {'/'.join(PHOTO_SUFFIXES)} file"
        )
    return paths


def describe_photos(photo_dir: str | os.PathLike | None = None) -> dict:
    """Which photo set :func:`load_photos` reads: ``{"photo_set": the absolute folder or
    "bundled photos", "count": number of photos, "sha256": short hash of the files' names
    and bytes}``. Hashing the files (not the decoded pixels) takes milliseconds even for
    the 200 BSDS500 photos; a photo replaced by another of the same size changes it."""
    paths = photo_paths(photo_dir)
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode() + b"\0")
        try:
            h.update(path.read_bytes())
        except OSError as exc:
            raise DatasetError(f"{path}: unreadable photo ({exc.strerror or exc})") from None
    where = BUNDLED if photo_dir is None else str(Path(photo_dir).resolve())
    return {"photo_set": where, "count": len(paths), "sha256": h.hexdigest()[:16]}


def load_photos(photo_dir: str | os.PathLike | None = None) -> list[np.ndarray]:
    """Colour photos as a list of H x W x 3 uint8 arrays, in sorted file-name order.

    ``photo_dir``: a directory of .jpg/.jpeg/.png files (not searched recursively), e.g.
    the 200 BSDS500 training photos. ``None``: the colour photos bundled with scikit-learn
    (china, flower) and scikit-image (astronaut, chelsea, coffee, rocket, motorcycle
    left/right, hubble_deep_field, retina, ihc), which needs no download.

    Raises :class:`DatasetError` naming the directory when it is missing or holds no
    photo, or naming the file when one cannot be decoded.
    """
    return [_read_rgb(p) for p in photo_paths(photo_dir)]
