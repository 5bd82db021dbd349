"""SVHN cropped digits (Netzer et al. 2011) from the official ``<split>_32x32.mat`` files.

In those MATLAB files ``X`` is 32 x 32 x 3 x N uint8 and ``y`` is N x 1 with labels 1..10,
where 10 stands for the digit 0.

What is verified: files downloaded by :func:`load_svhn` are checked against the MD5 sums
that torchvision publishes for the official files (the SVHN site itself publishes no
checksum, and no SHA-256 is known to us, so none is checked). Files found in a directory
or already in the cache are only checked structurally (keys, shapes, dtype, label range).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._download import DownloadError, download_verified
from ._io import DatasetError, cache_dir

__all__ = ["load_svhn", "read_svhn_mat", "SVHN_MD5"]

SVHN_URL = "http://ufldl.stanford.edu/housenumbers/"
SVHN_MD5 = {
    "train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373",
    "test_32x32.mat": "eb5a983be6a315427106f1b164d9cef3",
    "extra_32x32.mat": "a93ce644f1a588dc4d68dda5feec44a7",
}
_SPLITS = ("train", "test", "extra")


def read_svhn_mat(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Parse one SVHN ``.mat`` file into uint8 (N, 32, 32, 3) images and int64 labels 0..9."""
    import scipy.io  # deferred: scipy.io is only needed here

    path = Path(path)
    try:
        mat = scipy.io.loadmat(path)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except MemoryError:
        raise  # a real file too large for this machine is not a damaged one
    except Exception as exc:  # noqa: BLE001 - scipy raises MatReadError, IndexError, OSError,
        # ValueError... on a damaged file (no documented set): every one means "not a .mat"
        raise DatasetError(f"{path}: cannot read as a MATLAB .mat file "
                           f"({type(exc).__name__}: {exc}); delete it and download it again"
                           ) from exc
    for key in ("X", "y"):
        if key not in mat:
            raise DatasetError(f"{path}: variable {key!r} missing (found {sorted(k for k in mat if not k.startswith('__'))})")
    X, y = mat["X"], np.asarray(mat["y"]).reshape(-1)
    if X.ndim != 4 or X.shape[:3] != (32, 32, 3):
        raise DatasetError(f"{path}: X has shape {X.shape}, expected (32, 32, 3, N)")
    if X.dtype != np.uint8:
        raise DatasetError(f"{path}: X has dtype {X.dtype}, expected uint8")
    if len(y) != X.shape[3]:
        raise DatasetError(f"{path}: y holds {len(y)} labels but X holds {X.shape[3]} images")
    if len(y) and (y.min() < 1 or y.max() > 10):
        raise DatasetError(f"{path}: labels outside 1..10 (found {y.min()}..{y.max()})")
    images = np.ascontiguousarray(X.transpose(3, 0, 1, 2))
    labels = (y.astype(np.int64)) % 10  # label 10 means digit 0
    return images, labels


def load_svhn(
    split: str = "train", data_dir: str | os.PathLike | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Load the SVHN ``split`` ("train": 73,257, "test": 26,032, "extra": 531,131 digits).

    Looks for ``<split>_32x32.mat`` in ``data_dir``, then ``cache_dir("svhn")``; if absent
    and ``download`` is true, downloads it from the SVHN site into the cache (MD5 checked,
    written only when it matches).

    Returns ``(images, labels)``: uint8 (N, 32, 32, 3) and int64 (N,), digit 0 labelled 0.
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
    name = f"{split}_32x32.mat"
    cache = cache_dir("svhn")
    dirs = ([Path(data_dir)] if data_dir is not None else []) + [cache]
    for directory in dirs:
        if (directory / name).is_file():
            return read_svhn_mat(directory / name)
    searched = " or ".join(str(d) for d in dirs)
    if not download:
        raise DatasetError(f"SVHN file {name} not found in {searched} and download=False")
    try:
        path = download_verified([SVHN_URL + name], cache / name, SVHN_MD5[name], algorithm="md5")
    except DownloadError as exc:
        if exc.checksum_failed:
            raise DatasetError(
                f"{cache / name}: downloaded SVHN file failed its MD5 check, nothing was saved. "
                f"Details: {exc}"
            ) from exc
        raise DatasetError(
            f"SVHN file {name} not found in {searched} and it could not be downloaded "
            f"(no network?); download it from {SVHN_URL} and pass data_dir=. Details: {exc}"
        ) from exc
    return read_svhn_mat(path)
