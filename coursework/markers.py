"""Solution regions in the library source: find them, check them, stub them out.

A region is the body a student writes, between two comment lines of their own::

    <indent># BEGIN SOLUTION A1.3
    ...the reference solution...
    <indent># END SOLUTION

The task id is ``A`` + assignment (1-6) + ``.`` + task number (1, 2, ..., no leading zero).
Regions do not nest; one task may have several regions. Anything that looks like a
marker but is not exactly one (a typo, a marker after code on the same line, an unknown
id, an END without a BEGIN, a BEGIN never closed) is a :class:`MarkerError` naming
``file:line``, so a broken marker can never silently leak or lose a solution.

:func:`stub_source` replaces each region of the chosen assignments (markers included) by
one line at the BEGIN marker's indentation, ``raise NotImplementedError("...")``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

__all__ = ["Region", "MarkerError", "TASK_ID_RE", "parse_regions", "stub_source",
           "assignment_of", "marked_files", "MARKED_DIRS"]

#: a task id: A<assignment 1-6>.<task number>
TASK_ID_RE = re.compile(r"A[1-6]\.[1-9][0-9]*")
# the exact marker lines (own line, any indentation, optional trailing whitespace)
_BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION (?P<id>\S+)[ \t]*$")
_END_RE = re.compile(r"^(?P<indent>[ \t]*)# END SOLUTION[ \t]*$")
# anything that looks like an attempt at a marker (to catch typos and misplaced ones)
_LOOKS_LIKE_MARKER = re.compile(r"#\s*(BEGIN|END)[ _-]*SOLUTION", re.IGNORECASE)

#: the folders (relative to the repository root) where markers may be; the student-tree
#: generator stubs regions of ``*.py`` files under these and nowhere else
MARKED_DIRS = ("minigrad", "dann_from_scratch", "coursework")


class MarkerError(ValueError):
    """A malformed solution marker; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class Region:
    """One solution region: ``begin``/``end`` are the 1-based lines of its two markers."""

    path: str
    task_id: str
    begin: int
    end: int
    indent: str

    @property
    def assignment(self) -> int:
        return assignment_of(self.task_id)

    def body(self, lines: list[str]) -> list[str]:
        """The solution lines between the markers, from the file's ``lines``."""
        return lines[self.begin:self.end - 1]


def assignment_of(task_id: str) -> int:
    """3 for ``"A3.2"``."""
    if not TASK_ID_RE.fullmatch(task_id):
        raise ValueError(f"not a task id: {task_id!r} (expected e.g. 'A3.2')")
    return int(task_id[1])


def parse_regions(text: str, path: str = "<string>") -> list[Region]:
    """The solution regions of a source text, in order; raises :class:`MarkerError`.

    ``path`` is only used in messages and in the returned regions.
    """
    regions: list[Region] = []
    open_id = open_line = open_indent = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not _LOOKS_LIKE_MARKER.search(line):
            continue
        where = f"{path}:{number}"
        begin, end = _BEGIN_RE.match(line), _END_RE.match(line)
        if begin:
            task_id = begin.group("id")
            if not TASK_ID_RE.fullmatch(task_id):
                raise MarkerError(f"{where}: unknown task id {task_id!r} in BEGIN SOLUTION "
                                  "(expected A<1-6>.<n>, e.g. 'A3.2')")
            if open_id is not None:
                raise MarkerError(f"{where}: BEGIN SOLUTION {task_id} inside the region "
                                  f"{open_id} opened at line {open_line} (regions do not nest; "
                                  "close it with '# END SOLUTION' first)")
            open_id, open_line, open_indent = task_id, number, begin.group("indent")
        elif end:
            if open_id is None:
                raise MarkerError(f"{where}: END SOLUTION without a BEGIN SOLUTION before it")
            if end.group("indent") != open_indent:
                raise MarkerError(f"{where}: END SOLUTION is indented differently from its "
                                  f"BEGIN SOLUTION {open_id} at line {open_line}")
            if number == open_line + 1:
                raise MarkerError(f"{where}: the region {open_id} opened at line {open_line} "
                                  "is empty")
            regions.append(Region(path, open_id, open_line, number, open_indent))
            open_id = open_line = open_indent = None
        else:
            raise MarkerError(f"{where}: malformed solution marker {line.strip()!r}: a marker is "
                              "a comment line of its own, exactly '# BEGIN SOLUTION A<n>.<k>' "
                              "or '# END SOLUTION'")
    if open_id is not None:
        raise MarkerError(f"{path}:{open_line}: BEGIN SOLUTION {open_id} is never closed "
                          "(no '# END SOLUTION' before the end of the file)")
    return regions


def stub_source(text: str, path: str, stub: Callable[[str], bool],
                message: Callable[[str], str]) -> tuple[str, list[Region]]:
    """``text`` with every region whose task id satisfies ``stub(task_id)`` replaced.

    Each such region, markers included, becomes one line at the BEGIN marker's
    indentation: ``raise NotImplementedError(<message(task_id)>)``. Other regions are left
    as they are, markers included. Line endings are kept. Returns the new text and the
    regions that were stubbed. Raises :class:`MarkerError` for malformed markers and if
    the stubbed text is no longer valid Python (a marker at the wrong indentation).
    """
    regions = parse_regions(text, path)
    chosen = [r for r in regions if stub(r.task_id)]
    if not chosen:
        return text, []
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    next_line = 1  # 1-based number of the next line of ``lines`` to copy
    for r in chosen:
        out.extend(lines[next_line - 1:r.begin - 1])
        eol = "\r\n" if lines[r.begin - 1].endswith("\r\n") else "\n"
        out.append(f"{r.indent}raise NotImplementedError({message(r.task_id)!r}){eol}")
        next_line = r.end + 1
    out.extend(lines[next_line - 1:])
    new_text = "".join(out)
    if path.endswith(".py"):
        try:
            compile(new_text, path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise MarkerError(f"{path}:{chosen[0].begin}: the file is not valid Python once its "
                              f"regions are stubbed ({exc.msg} at stubbed line {exc.lineno}); "
                              "is a BEGIN SOLUTION marker at the indentation of the body it "
                              "encloses?") from None
    return new_text, chosen


def marked_files(root: Path, dirs: Iterable[str] = MARKED_DIRS) -> list[Path]:
    """The ``*.py`` files under ``root/<dir>`` that may hold markers, sorted, caches skipped.

    Under ``coursework`` only the assignment folders (``coursework/A<n>/``) count: the
    tooling's own sources talk about markers without being marked.
    """
    files = []
    for d in dirs:
        base = root / d
        if not base.is_dir():
            continue
        for p in sorted(base.rglob("*.py")):
            rel = p.relative_to(root)
            if "__pycache__" in rel.parts:
                continue
            if rel.parts[0] == "coursework" and not (
                    len(rel.parts) > 2 and re.fullmatch(r"A[1-6]", rel.parts[1])):
                continue
            files.append(p)
    return files
