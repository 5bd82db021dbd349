"""Download one file from a list of mirrors into the cache, checking its hash first.

Shared by the MNIST and SVHN loaders. The file is streamed through
:func:`~dann_from_scratch.datasets._io.atomic_write` (a temporary name next to its
destination, renamed when complete) and hashed on the way; a hash that does not match aborts
the write, so the cache never holds a corrupt or partial download.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence

from ._io import DatasetError, atomic_write

__all__ = ["DownloadError", "download_verified"]

# Short: a loader that cannot reach the network should say so within seconds, not hang.
DEFAULT_TIMEOUT_S = 15.0


class DownloadError(DatasetError):
    """No mirror delivered a file with the expected hash (network down or bad content)."""

    def __init__(self, message: str, *, checksum_failed: bool):
        super().__init__(message)
        self.checksum_failed = checksum_failed


class _HashMismatch(Exception):
    """Raised inside the write: the downloaded bytes have another digest (``got``)."""

    def __init__(self, got: str):
        super().__init__(got)
        self.got = got


_NAMES = {"sha256": "SHA-256", "md5": "MD5"}


def _hasher(algorithm: str):
    # md5 only serves as an integrity check against the published value, not for security.
    if algorithm == "md5":
        return hashlib.md5(usedforsecurity=False)
    return hashlib.new(algorithm)


def _fetch(url: str, dest: Path, expected: str, algorithm: str, timeout: float) -> Path:
    """Stream ``url`` into ``dest``; :class:`_HashMismatch` (and no file) unless its digest
    under ``algorithm`` is ``expected``."""
    def write(out):
        h = _hasher(algorithm)
        # urlopen is looked up at call time so that tests can replace it.
        with urllib.request.urlopen(url, timeout=timeout) as response:
            while True:
                block = response.read(1 << 20)
                if not block:
                    break
                h.update(block)
                out.write(block)
        if h.hexdigest().lower() != expected.lower():
            raise _HashMismatch(h.hexdigest())

    return atomic_write(dest, write)


def download_verified(
    urls: Sequence[str],
    dest: str | os.PathLike,
    expected: str,
    *,
    algorithm: str = "sha256",
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Path:
    """Download ``dest`` from the first mirror in ``urls`` that serves the expected content.

    ``expected`` is the hex digest under ``algorithm`` ("sha256" or "md5"). Raises
    :class:`DownloadError` listing what went wrong with every mirror; its
    ``checksum_failed`` flag tells a bad file apart from an unreachable network.
    """
    dest = Path(dest)
    problems = []
    checksum_failed = False
    for url in urls:
        try:
            return _fetch(url, dest, expected, algorithm, timeout)
        except _HashMismatch as exc:
            checksum_failed = True
            problems.append(
                f"{url}: {_NAMES.get(algorithm, algorithm)} mismatch for {dest.name} "
                f"(expected {expected}, got {exc.got})"
            )
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            # URLError covers DNS/refused/HTTP errors, OSError covers timeouts and resets.
            problems.append(f"{url}: {exc}")
    raise DownloadError(
        f"{dest}: download failed from every mirror: " + "; ".join(problems),
        checksum_failed=checksum_failed,
    )
