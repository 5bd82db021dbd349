"""Strict JSON files, written atomically: ``results.json`` and the checkpoints' sidecars.

Strict: NaN and infinity become ``null`` (:func:`finite`), NumPy numbers and arrays become
plain JSON, so every file parses with any JSON reader. Atomic: through
:func:`minigrad.serialization.atomic_write`, so a file is complete or absent.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from minigrad.serialization import atomic_write

__all__ = ["finite", "dumps", "write_json", "write_text"]


def finite(obj):
    """``obj`` with NaN/inf -> None and NumPy scalars -> Python numbers, everywhere in it."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _plain(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps(obj) -> str:
    """Indented strict JSON text of ``obj`` (already :func:`finite`), with a final newline."""
    return json.dumps(obj, indent=2, default=_plain, allow_nan=False) + "\n"


def write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def write_json(path, obj) -> Path:
    """Write ``finite(obj)`` to ``path`` as strict JSON, atomically."""
    return write_text(path, dumps(finite(obj)))
