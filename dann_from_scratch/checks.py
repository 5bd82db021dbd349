"""Checks for the numbers and options a caller passes in, shared by the training config, the
schedules and the gradient reversal layer.

Every check takes ``(owner, name, value)``: ``owner`` is the function or class that received
the value, ``name`` the argument. It returns the value as a plain Python number (so a NumPy
scalar becomes a float or an int) or raises an error that names all three, e.g.
``ValueError: AnnealedLR: mu0 (initial learning rate) must be > 0, got 0.0``. A value of the
wrong type (a string, ``True`` where a number is meant) is a TypeError; a number out of range
is a ValueError.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["real", "nonnegative", "positive", "in_interval", "integer", "flag", "one_of"]


def real(owner: str, name: str, value) -> float:
    """A finite real number, as a float (a bool is not a number here)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r} "
                        f"of type {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite, got {value!r}")
    return value


def nonnegative(owner: str, name: str, value) -> float:
    """A finite real number >= 0."""
    value = real(owner, name, value)
    if value < 0:
        raise ValueError(f"{owner}: {name} must be >= 0, got {value!r}")
    return value


def positive(owner: str, name: str, value) -> float:
    """A finite real number > 0."""
    value = real(owner, name, value)
    if value <= 0:
        raise ValueError(f"{owner}: {name} must be > 0, got {value!r}")
    return value


def in_interval(owner: str, name: str, value, low: float, high: float,
                include_high: bool = True) -> float:
    """A finite real number in [low, high] (or [low, high) when ``include_high`` is False)."""
    value = real(owner, name, value)
    if not (low <= value <= high if include_high else low <= value < high):
        bracket = "]" if include_high else ")"
        raise ValueError(f"{owner}: {name} must be in [{low:g}, {high:g}{bracket}, got {value!r}")
    return value


def integer(owner: str, name: str, value, minimum: int) -> int:
    """An integer (Python or NumPy, not a bool) >= ``minimum``, as an int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return int(value)


def flag(owner: str, name: str, value) -> bool:
    """True or False (a NumPy bool too), as a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def one_of(owner: str, name: str, value, choices: tuple):
    """``value`` itself, if it is one of ``choices``."""
    if value not in choices:
        wanted = (" or ".join(map(repr, choices)) if len(choices) == 2
                  else f"one of {tuple(choices)}")
        raise ValueError(f"{owner}: {name} must be {wanted}, got {value!r}")
    return value
