"""Read ``coursework/A<n>/rubric.toml``: the tasks of an assignment, their points and limits.

The rubric is the grader's only source of points and the generator's source of task
titles (they go into each stub's ``NotImplementedError``)::

    assignment = 3
    title = "Convolution and pooling"
    [[task]]
    id = "A3.1"
    title = "im2col and col2im"
    points = 20
    time_limit_s = 30     # per test of this task (default 60)
    # written = true      # a written answer graded by hand: no region, no automatic points
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from . import COURSEWORK_DIR
from .markers import TASK_ID_RE, assignment_of

__all__ = ["Task", "Rubric", "RubricError", "load_rubric", "load_rubrics", "assignment_dir"]

DEFAULT_TIME_LIMIT_S = 60.0


class RubricError(ValueError):
    """A rubric file is missing or malformed; the message names the file."""


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    points: float
    time_limit_s: float = DEFAULT_TIME_LIMIT_S
    written: bool = False


@dataclass(frozen=True)
class Rubric:
    assignment: int
    title: str
    tasks: tuple[Task, ...]
    path: Path

    @property
    def auto_points(self) -> float:
        """The points the grader can give (written tasks are graded by hand)."""
        return sum(t.points for t in self.tasks if not t.written)

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(f"{task_id} is not a task of {self.path} "
                       f"(tasks: {', '.join(t.id for t in self.tasks)})")

    def stub_message(self, task_id: str) -> str:
        """The text of the ``NotImplementedError`` that replaces a region of ``task_id``."""
        return (f"{task_id}: {self.task(task_id).title} - "
                f"see coursework/A{self.assignment}/README.md")


def assignment_dir(n: int, course_dir: Path = COURSEWORK_DIR) -> Path:
    return Path(course_dir) / f"A{n}"


def load_rubric(n: int, course_dir: Path = COURSEWORK_DIR) -> Rubric:
    """Parse and check ``<course_dir>/A<n>/rubric.toml``; raises :class:`RubricError`."""
    path = assignment_dir(n, course_dir) / "rubric.toml"
    if not path.is_file():
        raise RubricError(f"{path}: no rubric for assignment {n}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{path}: not valid TOML: {exc}") from None
    if data.get("assignment") != n:
        raise RubricError(f"{path}: says assignment = {data.get('assignment')!r}, expected {n}")
    title = data.get("title")
    if not isinstance(title, str) or not title:
        raise RubricError(f"{path}: needs a title = \"...\"")
    raw_tasks = data.get("task")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise RubricError(f"{path}: needs at least one [[task]]")
    tasks, seen = [], set()
    for i, t in enumerate(raw_tasks, start=1):
        where = f"{path}: task #{i}"
        unknown = set(t) - {"id", "title", "points", "time_limit_s", "written"}
        if unknown:
            raise RubricError(f"{where}: unknown keys {sorted(unknown)}")
        task_id = t.get("id")
        if not isinstance(task_id, str) or not TASK_ID_RE.fullmatch(task_id) \
                or assignment_of(task_id) != n:
            raise RubricError(f"{where}: id {task_id!r} is not a task id of assignment {n} "
                              f"(expected 'A{n}.<k>')")
        if task_id in seen:
            raise RubricError(f"{where}: task id {task_id} appears twice")
        seen.add(task_id)
        if not isinstance(t.get("title"), str) or not t["title"]:
            raise RubricError(f"{where} ({task_id}): needs a title")
        points = t.get("points")
        if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
            raise RubricError(f"{where} ({task_id}): points must be a number >= 0, got {points!r}")
        limit = t.get("time_limit_s", DEFAULT_TIME_LIMIT_S)
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit <= 0:
            raise RubricError(f"{where} ({task_id}): time_limit_s must be > 0, got {limit!r}")
        written = t.get("written", False)
        if not isinstance(written, bool):
            raise RubricError(f"{where} ({task_id}): written must be true or false")
        tasks.append(Task(task_id, t["title"], float(points), float(limit), written))
    return Rubric(n, title, tuple(tasks), path)


def load_rubrics(course_dir: Path = COURSEWORK_DIR) -> dict[int, Rubric]:
    """The rubrics of every assignment folder ``A1`` ... ``A6`` present, by number."""
    out = {}
    for n in range(1, 7):
        if (assignment_dir(n, course_dir) / "rubric.toml").is_file():
            out[n] = load_rubric(n, course_dir)
    return out
