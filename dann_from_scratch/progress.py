"""Training progress that reads well both in a terminal and in a log file.

In a terminal (standard error is a TTY) or a Jupyter notebook, a run shows a tqdm bar that
redraws itself in place. Anywhere else - output piped to a file, a batch scheduler, CI - such a
bar would be one endless line of carriage returns, so a run prints instead an occasional plain
line, each complete on its own::

    dann seed 0: step 300/1000 (30%) L_y=0.512 L_d=0.689 d_acc=0.61 lambda=0.905 lr=0.0043; 25 s, ETA 59 s

:class:`ProgressLines` prints one every :data:`LINE_FRACTION` of the run and at least every
:data:`LINE_SECONDS` seconds (slow networks still say that they are alive), plus the last
step. Both kinds of reporter offer the part of tqdm's interface the trainer uses (``update``,
``set_postfix``, ``close``). :func:`training_progress` chooses between them; a run whose
``config.progress`` is False gets neither (the phase messages of ``dann`` stay: they are not
progress reports).
"""
from __future__ import annotations

import math
import sys
import time

__all__ = ["training_progress", "ProgressLines", "interactive", "format_seconds",
           "LINE_FRACTION", "LINE_SECONDS"]

LINE_FRACTION = 0.1     # a plain line every tenth of the run ...
LINE_SECONDS = 120.0    # ... and at least every two minutes


def interactive(stream=None) -> bool:
    """Whether ``stream`` (default: standard error) is watched by a person who sees a bar
    redraw in place: a terminal, or a Jupyter kernel (whose streams are not TTYs)."""
    stream = sys.stderr if stream is None else stream
    if _in_jupyter_kernel():
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:      # a closed stream
        return False


def _in_jupyter_kernel() -> bool:
    """Whether this process is a running Jupyter kernel (where tqdm.auto draws a widget)."""
    ipython = sys.modules.get("IPython")    # never imported here: only if already loaded
    try:
        shell = ipython.get_ipython() if ipython is not None else None
    except Exception:                       # noqa: BLE001 - any failure means "no kernel"
        return False
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def training_progress(config, start: int, end: int, position: int | None = None):
    """The progress reporter of a training run going from step ``start`` to ``end``: None when
    ``config.progress`` is False, a tqdm bar on line ``position`` when standard error is
    :func:`interactive`, else :class:`ProgressLines` on standard error."""
    if not config.progress:
        return None
    if interactive():
        from tqdm.auto import tqdm
        return tqdm(total=end, initial=start, desc=config.method, unit="step",
                    dynamic_ncols=True, position=position)
    name = config.method if config.method != "dann" else f"dann seed {config.seed}"
    return ProgressLines(total=end, initial=start, desc=name)


class ProgressLines:
    """A progress reporter for logs: plain lines (step, the latest losses, elapsed time, ETA),
    never a carriage return.

    total, initial   the last step and the step the run starts from (a resumed run)
    desc             the name that starts every line
    stream           where the lines go (default: standard error at the time of each line)
    every_fraction   a line each time this fraction of ``total`` is passed
    every_seconds    and a line whenever this long has passed since the last one
    clock            seconds as a float (a test passes its own)

    A line is printed at the next ``update`` or at ``close``, not on the step that is due, so
    that it carries the losses the trainer posts (``set_postfix``) right after that step.
    """

    def __init__(self, total: int, initial: int = 0, desc: str = "", stream=None,
                 every_fraction: float = LINE_FRACTION, every_seconds: float = LINE_SECONDS,
                 clock=time.monotonic):
        if total < 1 or not 0 <= initial <= total:
            raise ValueError(f"ProgressLines: need 0 <= initial <= total and total >= 1, got "
                             f"initial={initial}, total={total}")
        self.total, self.n, self.start = int(total), int(initial), int(initial)
        self.desc, self.stream, self.clock = desc, stream, clock
        self.every_seconds = float(every_seconds)
        self._stride = max(1, math.ceil(self.total * every_fraction))
        self._next_mark = (self.n // self._stride + 1) * self._stride
        self._t0 = self._last_line = clock()
        self._due = None            # (step, time) of a line not yet printed
        self.postfix: dict = {}
        self.closed = False

    def update(self, n: int = 1) -> None:
        """``n`` more steps are done."""
        self._print_due()
        self.n += n
        now = self.clock()
        if (self.n >= self._next_mark or self.n >= self.total
                or now - self._last_line >= self.every_seconds):
            self._due = (self.n, now)
            self._last_line = now
            while self._next_mark <= self.n:
                self._next_mark += self._stride

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        """The latest numbers to show (tqdm's signature; ``refresh`` changes nothing here)."""
        self.postfix = {**(ordered_dict or {}), **kwargs}

    def close(self) -> None:
        """Print the line still due (the last step, or where an interrupted run stopped)."""
        if not self.closed:
            self._print_due()
            self.closed = True

    def line(self, step: int, now: float) -> str:
        """The line for ``step`` reached at time ``now``."""
        elapsed = now - self._t0
        done, left = step - self.start, self.total - step
        parts = [f"{self.desc}: " if self.desc else "",
                 f"step {step}/{self.total} ({100 * step // self.total}%)"]
        parts += [f" {k}={v}" for k, v in self.postfix.items()]
        timing = f"; {format_seconds(elapsed)}"
        if left > 0 and done > 0:
            timing += f", ETA {format_seconds(elapsed / done * left)}"
        return "".join(parts) + timing

    def _print_due(self) -> None:
        if self._due is None:
            return
        step, now = self._due
        self._due = None
        stream = sys.stderr if self.stream is None else self.stream
        print(self.line(step, now), file=stream, flush=True)


def format_seconds(seconds: float) -> str:
    """A duration as people read it: ``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"
