"""Saving and loading model state as ``.npz``, atomically.

The file is written under a temporary name in the target directory and renamed over the
destination only when complete (``os.replace`` is atomic on POSIX and Windows), so a crash
or Ctrl-C mid-save leaves either the old file or the new one, never half of one.
"""
from __future__ import annotations

import os
import tempfile
from glob import escape as glob_escape
from pathlib import Path
from typing import BinaryIO, Callable

from . import backend

np = backend.numpy_module

__all__ = ["atomic_write", "save_arrays", "load_arrays", "save_module", "load_module"]


def _default_file_mode() -> int:
    """The mode ``open()`` would give a new file (0666 less the umask); ``mkstemp`` makes
    private 0600 files, which would surprise anyone sharing checkpoints."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(f)`` on a temporary binary file beside ``path``, then rename it to ``path``.

    The one way this project writes a file: parent folders are created, the data reach the
    disk (``fsync``) before the rename, the file gets the mode ``open()`` would give, and on
    any failure (Ctrl-C included) the temporary file is removed and ``path`` is left as it
    was. Returns ``path`` as a :class:`~pathlib.Path`.

    Only a killed process (``kill -9``) leaves its temporary file behind. The file's name
    carries the writer's process id, so the next write to ``path`` removes the temporary
    files of writers that no longer run (never those of a live one, which may be writing).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _remove_stale_temporaries(path: Path) -> None:
    """Delete ``.NAME.PID.*.tmp`` beside ``path`` whose writer PID is no longer running."""
    prefix = f".{path.name}."
    for candidate in path.parent.glob(f"{glob_escape(prefix)}*.tmp"):
        pid = candidate.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _process_exists(int(pid)):
            try:
                candidate.unlink()
            except FileNotFoundError:   # another writer cleaned it first
                pass


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)                  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:              # it exists, under another user
        return True
    return True


def save_arrays(arrays: dict, path) -> Path:
    """Write a dict of name -> array (any device) to ``path`` (.npz) atomically."""
    return atomic_write(path, lambda f: np.savez(f, **{k: backend.to_numpy(v)
                                                       for k, v in arrays.items()}))


def load_arrays(path) -> dict:
    """Read every array of an ``.npz`` file into a dict (NumPy, CPU)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"load_arrays: no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"load_arrays: {path} is not a readable .npz file ({e})") from e


def save_module(module, path) -> Path:
    """Save ``module.state_dict()`` to ``path`` atomically."""
    return save_arrays(module.state_dict(), path)


def load_module(module, path, strict: bool = True):
    """Load parameters saved by :func:`save_module` into ``module`` (returns it)."""
    module.load_state_dict(load_arrays(path), strict=strict)
    return module
