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
import warnings
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath
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
    "files_fingerprint",
    "relative_name",
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
    generation interrupted half-way leaves nothing behind. A cache file that cannot be read
    (truncated or damaged on disk) is reported in a warning naming it and rebuilt.
    """
    path = Path(path)
    if path.exists() and not refresh:
        try:
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            # A cache is only a copy: rebuilding it is always right, failing on it forever is not.
            warnings.warn(f"{path}: corrupt cache file ({type(exc).__name__}: {exc}); "
                          "rebuilding it", RuntimeWarning, stacklevel=2)
    arrays = build()
    atomic_save_npz(path, **arrays)
    return arrays


def files_fingerprint(paths, listed_in: str) -> str:
    """Short SHA-256 over the name, size and modification time of each file in ``paths`` (the
    files ``listed_in`` names), so a cache keyed by it is rebuilt when any of them is
    replaced. A missing file is a :class:`DatasetError` naming it and ``listed_in``."""
    h = hashlib.sha256()
    for path in paths:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise DatasetError(f"{path}: image listed in {listed_in} is missing or unreadable "
                               f"({exc.strerror or exc})") from None
        h.update(f"{path}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def relative_name(name: str, where: str) -> str:
    """``name``, a path read from a label or annotation file, if it stays inside the data
    folder; else a :class:`DatasetError` naming ``where`` (``file:line``) and the path.

    The check is on the text (absolute, drive letter or a ``..`` part), not on resolved paths,
    so data folders that are symbolic links keep working."""
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if not name or posix.is_absolute() or windows.drive or windows.root or \
            ".." in posix.parts or ".." in windows.parts:
        raise DatasetError(f"{where}: path {name!r} points outside the data folder; label "
                           "files may only name files inside it")
    return name
