"""Small file helpers shared by every loader and generator: a cache directory, atomic
writes (minigrad's ``atomic_write``, re-exported), SHA-256 checks and an ``.npz`` cache for
generated data sets.

Nothing here knows about a particular data set. The one rule it enforces: a file either
appears complete under its final name or not at all (write to a temporary name in the same
directory, then ``os.replace``), so an interrupted download or generation never leaves a
half-written file that a later run would trust.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np

from minigrad.serialization import atomic_write   # the project's one atomic writer

__all__ = [
    "DatasetError",
    "cache_dir",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_save_npz",
    "sha256_of",
    "verify_sha256",
    "cached_arrays",
]


class DatasetError(ValueError):
    """A data file is missing, malformed or does not match what was expected.

    The message always names the file and says what is wrong with it.
    """


def cache_dir(subdir: str | None = None) -> Path:
    """Directory where downloads and generated data sets are kept.

    ``$DANN_CACHE`` wins, then ``$XDG_CACHE_HOME/dann_from_scratch``, then
    ``~/.cache/dann_from_scratch``. The directory is created on first use.
    """
    root = os.environ.get("DANN_CACHE")
    if root is None:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "dann_from_scratch")
    path = Path(root) / subdir if subdir else Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """``np.savez`` to ``path`` atomically (temporary name, then rename)."""
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str) -> None:
    """Raise :class:`DatasetError` naming the file when its SHA-256 is not ``expected``."""
    actual = sha256_of(path)
    if actual.lower() != expected.lower():
        raise DatasetError(
            f"{path}: SHA-256 mismatch (expected {expected}, got {actual}); "
            "the file is corrupt or not the official one - delete it and download again"
        )


def cached_arrays(path: str | os.PathLike, build: Callable[[], dict], *, refresh: bool = False) -> dict:
    """Load the arrays stored at ``path``; if absent, call ``build()`` and store its result.

    ``build`` returns a dict of name -> array. The file is written atomically, so a
    generation interrupted half-way leaves nothing behind.
    """
    path = Path(path)
    if path.exists() and not refresh:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    arrays = build()
    atomic_save_npz(path, **arrays)
    return arrays
