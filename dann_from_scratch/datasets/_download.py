"""Download one file from a list of mirrors into the cache, checking its hash first.

Shared by the MNIST and SVHN loaders. The file is streamed to a temporary name next to
its destination, hashed on the way, and only renamed to its final name when the hash
matches, so the cache never holds a corrupt or partial download.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence

from ._io import DatasetError

__all__ = ["DownloadError", "download_verified"]

# Short: a loader that cannot reach the network should say so within seconds, not hang.
DEFAULT_TIMEOUT_S = 15.0


class DownloadError(DatasetError):
    """No mirror delivered a file with the expected hash (network down or bad content)."""

    def __init__(self, message: str, *, checksum_failed: bool):
        super().__init__(message)
        self.checksum_failed = checksum_failed


_NAMES = {"sha256": "SHA-256", "md5": "MD5"}


def _hasher(algorithm: str):
    # md5 only serves as an integrity check against the published value, not for security.
    if algorithm == "md5":
        return hashlib.md5(usedforsecurity=False)
    return hashlib.new(algorithm)


def _fetch_to(url: str, dest: Path, algorithm: str, timeout: float) -> tuple[str, str]:
    """Stream ``url`` into a temporary file beside ``dest``; return (temp path, hex digest)."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix="." + dest.name + ".", suffix=".part")
    h = _hasher(algorithm)
    try:
        # The file object first, so the descriptor is closed even when urlopen fails.
        # urlopen is looked up at call time so that tests can replace it.
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while True:
                block = response.read(1 << 20)
                if not block:
                    break
                h.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return tmp, h.hexdigest()


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
    dest.parent.mkdir(parents=True, exist_ok=True)
    problems = []
    checksum_failed = False
    for url in urls:
        try:
            tmp, digest = _fetch_to(url, dest, algorithm, timeout)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            # URLError covers DNS/refused/HTTP errors, OSError covers timeouts and resets.
            problems.append(f"{url}: {exc}")
            continue
        if digest.lower() != expected.lower():
            os.remove(tmp)
            checksum_failed = True
            problems.append(
                f"{url}: {_NAMES.get(algorithm, algorithm)} mismatch for {dest.name} "
                f"(expected {expected}, got {digest})"
            )
            continue
        os.replace(tmp, dest)
        return dest
    raise DownloadError(
        f"{dest}: download failed from every mirror: " + "; ".join(problems),
        checksum_failed=checksum_failed,
    )
