"""The error the orchestration layer raises for a bad argument: :class:`ConfigError`.

A library function names its arguments the way a Python caller writes them: ``steps=0``,
``resume=True``, ``data_dir=``. The ``dann`` command line rewrites those names as its own
flags (``--steps 0``, ``--resume``, ``--data-dir``), so the library never speaks of flags and
the command line never re-words a message by hand.
"""
from __future__ import annotations

__all__ = ["ConfigError", "checked"]


class ConfigError(ValueError):
    """A bad argument to a library function: an unknown pair or domain, a seed list with
    repeats, a checkpoint that holds another run, ... ``argument`` is the name of the
    argument at fault (as the function spells it)."""

    def __init__(self, argument: str, message: str):
        super().__init__(message)
        self.argument = argument


def checked(check, owner: str, name: str, value, *args, **kwargs):
    """``check(owner, name, value, *args, **kwargs)`` (one of :mod:`~dann_from_scratch.checks`),
    with its TypeError or ValueError raised as a :class:`ConfigError` on ``name``."""
    try:
        return check(owner, name, value, *args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(name, str(exc)) from None
