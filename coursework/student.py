"""Write a student tree: the project with the solutions of week N and later taken out.

``generate(3, out)`` copies the library, the chapters and the coursework into ``out`` and
replaces every solution region of assignments 3, 4, 5 and 6 by
``raise NotImplementedError("A3.2: <title> - see coursework/A3/README.md")``. Regions of
assignments 1 and 2 keep their solutions, so a student starts each week from working
code. Hints (comments and docstrings above a region) stay; the instructor-only folders
(``coursework/A*/hidden`` and ``coursework/A*/solutions``) and the library's own test
suite are left out.

The output is deterministic: files are visited in sorted order, copied byte for byte
(stubbed files apart) and carry no timestamp, so two runs give identical trees. The tree
is built in a temporary folder beside ``out`` and renamed into place at the end: a failed
run leaves nothing half-written.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import REPO_ROOT
from .markers import MARKED_DIRS, marked_files, parse_regions, stub_source
from .rubric import Rubric, load_rubrics

__all__ = ["generate", "StudentTree", "GeneratorError", "tree_files", "check_regions",
           "STAMP_FILE"]

#: folders copied into a student tree (relative to the repository root)
COPY_DIRS = ("minigrad", "dann_from_scratch", "chapters", "coursework")
#: single files copied when present
COPY_FILES = ("pyproject.toml", "README.md", "LICENSE", "docs/COURSE.md")
#: folders of ``coursework/A<n>/`` that only the instructor gets
INSTRUCTOR_ONLY = ("hidden", "solutions")
#: caches and outputs never copied (the ``.gitignore`` list, among others)
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".hypothesis", ".ipynb_checkpoints", "runs", "out",
             "build", "dist", ".git"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".tmp", ".egg-info")
SKIP_NAMES = {".DS_Store"}
#: a small file at the root of every student tree (so --force knows what it may replace)
STAMP_FILE = ".dann-course-student"


class GeneratorError(RuntimeError):
    """The student tree cannot be written (bad markers, rubric mismatch, OUT in the way)."""


@dataclass
class StudentTree:
    """What :func:`generate` wrote."""

    path: Path
    assignment: int
    files: list[str] = field(default_factory=list)            # relative paths, sorted
    stubbed: dict[str, list[str]] = field(default_factory=dict)  # task id -> ["file:line", ...]


def _skipped(rel: Path) -> bool:
    if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts[:-1]):
        return True
    name = rel.name
    if name in SKIP_NAMES or name.endswith(SKIP_SUFFIXES) or name in SKIP_DIRS:
        return True
    # coursework/A<n>/hidden/..., coursework/A<n>/solutions/...
    parts = rel.parts
    return (len(parts) > 3 and parts[0] == "coursework" and re.fullmatch(r"A\d+", parts[1])
            is not None and parts[2] in INSTRUCTOR_ONLY)


def tree_files(source_root: Path = REPO_ROOT) -> list[Path]:
    """The files a student tree gets, as paths relative to ``source_root``, sorted."""
    source_root = Path(source_root)
    files = []
    for d in COPY_DIRS:
        base = source_root / d
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(n for n in dirnames if n not in SKIP_DIRS
                                 and not n.endswith(".egg-info"))
            for name in filenames:
                rel = (Path(dirpath) / name).relative_to(source_root)
                if not _skipped(rel):
                    files.append(rel)
    for f in COPY_FILES:
        if (source_root / f).is_file():
            files.append(Path(f))
    return sorted(files, key=lambda p: p.as_posix())


def _is_marked(rel: Path) -> bool:
    """May this file hold solution markers? (``*.py`` under minigrad, dann_from_scratch or
    an assignment folder; the coursework tooling itself only talks about markers.)"""
    if rel.suffix != ".py" or rel.parts[0] not in MARKED_DIRS:
        return False
    if rel.parts[0] == "coursework":
        return len(rel.parts) > 2 and re.fullmatch(r"A[1-6]", rel.parts[1]) is not None
    return True


def check_regions(source_root: Path = REPO_ROOT,
                  rubrics: dict[int, Rubric] | None = None) -> dict[str, list[str]]:
    """Parse every marked file and check the regions against the rubrics.

    Returns ``{task id: ["file:line", ...]}``. Raises :class:`MarkerError` for a malformed
    marker and :class:`GeneratorError` for a region whose task is in no rubric (or is a
    written task) and for an automatically graded rubric task without a region.
    """
    source_root = Path(source_root)
    if rubrics is None:
        rubrics = load_rubrics(source_root / "coursework")
    known = {t.id: t for r in rubrics.values() for t in r.tasks}
    found: dict[str, list[str]] = {}
    for path in marked_files(source_root):
        rel = path.relative_to(source_root)
        for r in parse_regions(path.read_text(encoding="utf-8"), rel.as_posix()):
            task = known.get(r.task_id)
            if task is None:
                raise GeneratorError(
                    f"{r.path}:{r.begin}: region {r.task_id} is not a task of "
                    f"coursework/A{r.assignment}/rubric.toml"
                    + ("" if r.assignment in rubrics else " (there is no such rubric)"))
            if task.written:
                raise GeneratorError(f"{r.path}:{r.begin}: region {r.task_id} belongs to a "
                                     "written task (written = true in its rubric)")
            found.setdefault(r.task_id, []).append(f"{r.path}:{r.begin}")
    missing = [t.id for r in rubrics.values() for t in r.tasks
               if not t.written and t.id not in found]
    if missing:
        raise GeneratorError(f"rubric tasks without any solution region: {', '.join(missing)} "
                             "(mark the code students write with '# BEGIN SOLUTION <id>', or "
                             "set written = true for a task graded by hand)")
    return found


def _student_pyproject(text: str) -> str:
    """The project file with ``testpaths = ["coursework"]`` (the library's tests stay home)
    and ``-p coursework.pytest_plugin`` in ``addopts`` (so that ``pytest --task A3.2`` works)."""
    new, count = re.subn(r"(?m)^testpaths\s*=\s*\[[^\]]*\]", 'testpaths = ["coursework"]', text)
    if count != 1:
        raise GeneratorError("pyproject.toml: expected one 'testpaths = [...]' line under "
                             "[tool.pytest.ini_options]")
    plugin = "-p coursework.pytest_plugin"
    new, count = re.subn(r'(?m)^addopts\s*=\s*"([^"]*)"', lambda m: f'addopts = "{m.group(1)} {plugin}"'
                         if m.group(1) else f'addopts = "{plugin}"', new)
    if count == 0:
        new, count = re.subn(r"(?m)^testpaths = \[\"coursework\"\]$",
                             f'testpaths = ["coursework"]\naddopts = "{plugin}"', new)
    return new


def _prepare_out(out: Path, source_root: Path, force: bool) -> None:
    src = source_root.resolve()
    o = out.resolve()
    if o == src or o in src.parents or src in o.parents:
        raise GeneratorError(f"{out}: the student tree must be outside the project ({src})")
    if o.exists() and not o.is_dir():
        raise GeneratorError(f"{out} exists and is not a folder")
    if o.is_dir() and any(o.iterdir()):
        if not force:
            raise GeneratorError(f"{out} is not empty; choose an empty folder or pass --force "
                                 "to replace a student tree written there before")
        if not (o / STAMP_FILE).is_file():
            raise GeneratorError(f"{out} is not empty and is not a student tree written by "
                                 f"dann-course (no {STAMP_FILE}); refusing to delete it even "
                                 "with --force")


def generate(assignment: int, out, source_root=REPO_ROOT, force: bool = False) -> StudentTree:
    """Write the student tree for week ``assignment`` (1-6) into ``out``.

    Regions of assignments ``>= assignment`` are stubbed. ``out`` must be empty or
    missing; with ``force`` a student tree already there is replaced. Raises
    :class:`GeneratorError` or :class:`~coursework.markers.MarkerError`.
    """
    source_root = Path(source_root)
    out = Path(out)
    rubrics = load_rubrics(source_root / "coursework")
    if assignment not in rubrics:
        raise GeneratorError(f"no assignment {assignment}: assignments with a rubric are "
                             f"{sorted(rubrics) or 'none'} (in {source_root / 'coursework'})")
    check_regions(source_root, rubrics)
    _prepare_out(out, source_root, force)

    result = StudentTree(out, assignment)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{os.getpid()}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        for rel in tree_files(source_root):
            src = source_root / rel
            data = src.read_bytes()
            if rel.as_posix() == "pyproject.toml":
                data = _student_pyproject(data.decode("utf-8")).encode("utf-8")
            elif _is_marked(rel):
                text, stubbed = stub_source(
                    data.decode("utf-8"), rel.as_posix(),
                    stub=lambda tid: int(tid[1]) >= assignment,
                    message=lambda tid: rubrics[int(tid[1])].stub_message(tid))
                for r in stubbed:
                    result.stubbed.setdefault(r.task_id, []).append(f"{r.path}:{r.begin}")
                data = text.encode("utf-8")
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            os.chmod(dest, src.stat().st_mode & 0o777)
            result.files.append(rel.as_posix())
        (tmp / STAMP_FILE).write_text(
            f"student tree for assignment {assignment}, written by `dann-course student`\n",
            encoding="utf-8")
        # swap into place: an old tree (--force) is moved aside first, then removed
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.{os.getpid()}.old"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result

