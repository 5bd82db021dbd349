"""The offline autograder: run an assignment's tests against a student tree, give points.

``grade(3, tree)`` runs the *instructor's* copy of assignment 3's tests (the public ones
in ``coursework/A3/tests`` and the hidden ones in ``coursework/A3/hidden``; never the
tree's own copies, which a student can edit) against the library code in ``tree``:

1. the tests are copied into a temporary folder with a pytest configuration of their
   own, and the grader's plugin (:mod:`coursework.pytest_plugin`) beside them, with the
   instructor's ``coursework/checks.py`` and ``coursework/A<n>/support.py`` (the shared
   test fixtures), which the tests then import instead of the tree's copies;
2. a fresh ``python -m pytest`` runs them with ``cwd`` and ``PYTHONPATH`` = the tree, a
   time limit per test from the rubric (SIGALRM in the plugin) and an overall timeout as
   a backstop (tests that never reported then count as "timed out"); the plugin reports
   where ``minigrad`` was imported from, and the grade is refused if not from the tree;
3. the run's collection says which tests there are and which task each belongs to; if a
   test file does not even import against the tree, the instructor's library collects
   the tests instead (``--collect-only``), so that every test is still counted (as an
   error);
4. points per task = points x passed tests / tests of the task (rubric.toml); written
   tasks are listed as graded by hand.

:func:`format_grade` prints the table and, for each failure, the first lines of its
message (``Mul backward: gradient of input 1 ... expected ... but got ...`` or
``NotImplementedError: A3.2: ...``); :func:`write_grade_json` saves it atomically.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import COURSEWORK_DIR
from .rubric import Rubric, assignment_dir, load_rubric

__all__ = ["grade", "grade_many", "Grade", "TaskGrade", "TestOutcome", "GradingError",
           "format_grade", "write_grade_json"]

_PLUGIN_NAME = "dann_course_grader_plugin"
_TOOLING_DIR = Path(__file__).resolve().parent  # where this grader's plugin and checks live
#: seconds allowed for pytest to start and import, on top of the per-test limits
STARTUP_ALLOWANCE_S = 60.0


class GradingError(RuntimeError):
    """The tree cannot be graded (not a project tree, library imported from elsewhere...)."""


@dataclass
class TestOutcome:
    nodeid: str
    task: str | None
    outcome: str                 # passed, failed, error, timed out, skipped, not run
    hidden: bool
    message: str | None = None
    where: str | None = None
    duration_s: float = 0.0

    __test__ = False  # not a pytest test class

    @property
    def name(self) -> str:
        """``test_file.py::test_name[param]``: short enough for a table."""
        return self.nodeid.split("/")[-1]


@dataclass
class TaskGrade:
    id: str
    title: str
    max_points: float
    points: float
    passed: int
    tests: int
    written: bool = False
    failures: list[TestOutcome] = field(default_factory=list)


@dataclass
class Grade:
    assignment: int
    title: str
    tree: str
    public_only: bool
    hidden_present: bool
    tasks: list[TaskGrade]
    tests: list[TestOutcome]
    total: float
    max_total: float
    written_points: float
    duration_s: float
    backstop_timed_out: bool
    minigrad_path: str | None
    notes: list[str] = field(default_factory=list)

    def task(self, task_id: str) -> TaskGrade:
        return next(t for t in self.tasks if t.id == task_id)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


# -- preparing the run ----------------------------------------------------------------------------
def _test_dirs(n: int, course_dir: Path, public_only: bool) -> list[tuple[Path, bool]]:
    """[(folder, hidden?)] with the test files of assignment n (hidden only if present)."""
    base = assignment_dir(n, course_dir)
    dirs = [(base / "tests", False)]
    if not public_only:
        dirs.append((base / "hidden", True))
    return [(d, h) for d, h in dirs if d.is_dir() and any(d.glob("test_*.py"))]


def _copy_tests(src: Path, dest: Path) -> None:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc",
                                                             ".pytest_cache"))


def _prepare(workdir: Path, assignments, course_dir: Path, public_only: bool):
    """Lay out the temporary test folder; return (test paths, {relative prefix: hidden?})."""
    (workdir / "plugin").mkdir()
    shutil.copyfile(_TOOLING_DIR / "pytest_plugin.py", workdir / "plugin" / f"{_PLUGIN_NAME}.py")
    shutil.copyfile(_TOOLING_DIR / "checks.py", workdir / "plugin" / "instructor_checks.py")
    # the assignments' shared test fixtures (coursework/A<n>/support.py, which tests of later
    # weeks may import too): the instructor's copies, like the checks
    for support in sorted(course_dir.glob("A*/support.py")):
        shutil.copyfile(support, workdir / "plugin" / f"instructor_{support.parent.name}_support.py")
    # an ini of our own: the tree's pyproject.toml / conftest.py play no part
    (workdir / "suite").mkdir()
    (workdir / "suite" / "pytest.ini").write_text("[pytest]\naddopts =\n", encoding="utf-8")
    paths, hidden_of = [], {}
    for n in assignments:
        for folder, hidden in _test_dirs(n, course_dir, public_only):
            rel = f"A{n}/{folder.name}"
            _copy_tests(folder, workdir / "suite" / rel)
            paths.append(rel)
            hidden_of[rel + "/"] = hidden
    return paths, hidden_of


def _pytest_command(workdir: Path, paths, outcome_file: Path, extra) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", _PLUGIN_NAME, "-p", "no:cacheprovider",
            "-c", str(workdir / "suite" / "pytest.ini"), "--rootdir", str(workdir / "suite"),
            "-q", "--no-header", "-rN", "--tb=no",
            "--grader-outcome", str(outcome_file),
            "--grader-checks", str(workdir / "plugin" / "instructor_checks.py"),
            *_support_options(workdir), *extra, *[str(workdir / "suite" / p) for p in paths]]


def _support_options(workdir: Path) -> list[str]:
    """``--grader-module coursework.A3.support=FILE`` for each support module copied."""
    options = []
    for f in sorted((workdir / "plugin").glob("instructor_A*_support.py")):
        folder = f.name[len("instructor_"):-len("_support.py")]
        options += ["--grader-module", f"coursework.{folder}.support={f}"]
    return options


def _environment(library_root: Path, workdir: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(library_root), str(workdir / "plugin")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave the student's tree as it was
    env.pop("PYTEST_ADDOPTS", None)
    # third-party pytest plugins play no part in grading, and loading them costs seconds
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _run(cmd, cwd: Path, env: dict, timeout: float) -> tuple[int | None, bool, str]:
    """Run ``cmd`` in its own process group; (exit code, timed out?, output tail)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, False, out.decode("utf-8", "replace")[-4000:]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, True, out.decode("utf-8", "replace")[-4000:]
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise


def _read_records(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a line cut short by the backstop's kill
    return records


_EXPECTED_CACHE: dict[tuple, list[dict]] = {}


def _expected_tests(workdir: Path, paths, course_dir: Path, fingerprint) -> list[dict]:
    """The instructor library's collection of the tests: ``collected`` records, cached."""
    key = (str(course_dir), tuple(paths), fingerprint)
    if key in _EXPECTED_CACHE:
        return _EXPECTED_CACHE[key]
    library_root = course_dir.parent
    out = workdir / "expected.jsonl"
    cmd = _pytest_command(workdir, paths, out, ["--collect-only"])
    code, timed_out, tail = _run(cmd, library_root, _environment(library_root, workdir), 300)
    records = _read_records(out)
    errors = [r for r in records if r["kind"] == "collect_error"]
    if timed_out or errors or code not in (0, 5):
        detail = errors[0]["message"] if errors else tail
        raise GradingError(f"the instructor's tests do not collect with the reference library "
                           f"in {library_root}:\n{detail}")
    collected = [r for r in records if r["kind"] == "collected"]
    _EXPECTED_CACHE[key] = collected
    return collected


def _fingerprint(course_dir: Path, assignments, public_only: bool) -> tuple:
    """Sizes and mtimes of the test files, support modules and rubrics (invalidates the
    collection cache)."""
    items = []
    for n in assignments:
        base = assignment_dir(n, course_dir)
        for folder, _ in _test_dirs(n, course_dir, public_only):
            for p in sorted(folder.rglob("*.py")):
                st = p.stat()
                items.append((str(p), st.st_size, st.st_mtime_ns))
        for p in (base / "support.py", base / "rubric.toml"):
            if p.is_file():
                items.append((str(p), p.stat().st_size, p.stat().st_mtime_ns))
    return tuple(items)


def _count_test_functions(folder: Path) -> int:
    """A rough count of the tests (``def test_`` lines; parametrised ones count once), for
    the default overall time limit."""
    return sum(p.read_text(encoding="utf-8").count("def test_") for p in folder.rglob("test_*.py"))


# -- grading --------------------------------------------------------------------------------------
def _check_tree(tree: Path) -> None:
    if not (tree / "minigrad" / "__init__.py").is_file():
        raise GradingError(f"{tree}: not a project tree (no minigrad/__init__.py)")


def _inside(path: str | None, root: Path) -> bool:
    if not path:
        return False
    p = Path(path).resolve()
    return p == root or root in p.parents


def grade_many(assignments, tree, *, course_dir=COURSEWORK_DIR, public_only: bool = False,
               timeout: float | None = None, test_time_limit: float | None = None) -> list[Grade]:
    """Grade several assignments of one tree in one pytest run; one :class:`Grade` each.

    ``course_dir`` holds the instructor's assignments (``A<n>/rubric.toml``, ``tests/``,
    ``hidden/``); its parent is the reference library used to collect the tests.
    ``timeout`` is the overall backstop in seconds (default: the sum of the per-test limits
    plus a minute); ``test_time_limit`` replaces every rubric's per-test limit.
    """
    tree = Path(tree).resolve()
    course_dir = Path(course_dir).resolve()
    _check_tree(tree)
    assignments = list(assignments)
    rubrics: dict[int, Rubric] = {n: load_rubric(n, course_dir) for n in assignments}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dann-course-grade-") as tmp:
        workdir = Path(tmp)
        paths, hidden_of = _prepare(workdir, assignments, course_dir, public_only)
        if not paths:
            raise GradingError(f"no tests for assignment(s) {assignments} in {course_dir}")
        limits = {t.id: (test_time_limit or t.time_limit_s)
                  for r in rubrics.values() for t in r.tasks}
        (workdir / "limits.json").write_text(json.dumps(limits), encoding="utf-8")
        if timeout is None:
            n_tests = _count_test_functions(workdir / "suite")
            timeout = STARTUP_ALLOWANCE_S + n_tests * max(limits.values(), default=60.0)
        outcome_file = workdir / "outcome.jsonl"
        cmd = _pytest_command(workdir, paths, outcome_file,
                              ["--grader-limits", str(workdir / "limits.json")])
        code, backstop, tail = _run(cmd, tree, _environment(tree, workdir), timeout)
        records = _read_records(outcome_file)
        collected = [r for r in records if r["kind"] == "collected"]
        if collected and not any(r["kind"] == "collect_error" for r in records):
            expected = collected  # the tree collected every test file: that is the list
        else:  # some test files did not import against the tree: ask the reference library
            expected = _expected_tests(workdir, paths, course_dir,
                                       _fingerprint(course_dir, assignments, public_only))
    duration = time.perf_counter() - start

    session = next((r for r in records if r["kind"] == "session"), None)
    minigrad_path = session["modules"].get("minigrad") if session else None
    if session is not None and minigrad_path is not None and not _inside(minigrad_path, tree):
        raise GradingError(f"minigrad was imported from {minigrad_path}, not from the tree "
                           f"{tree}; is a non-editable copy of the project installed?")
    if session is None and not backstop:
        raise GradingError(f"pytest did not start in {tree} (exit code {code}):\n{tail}")

    ran = {r["nodeid"]: r for r in records if r["kind"] == "test"}
    collect_errors = {r["nodeid"]: r["message"] for r in records if r["kind"] == "collect_error"}
    notes = []
    if session is not None and minigrad_path is None:
        notes.append("minigrad does not import in the tree:\n"
                     + session["modules"].get("minigrad_error", "?"))
    if backstop:
        notes.append(f"the run was stopped after the overall time limit of {timeout:g} s; "
                     "tests that did not report count as timed out")

    outcomes = []
    for r in expected:
        nodeid = r["nodeid"]
        hidden = next((h for prefix, h in hidden_of.items() if nodeid.startswith(prefix)), False)
        got = ran.get(nodeid)
        if got is not None:
            outcomes.append(TestOutcome(nodeid, r["task"], got["outcome"], hidden, got["message"],
                                        got["where"], got["duration_s"]))
            continue
        file_id = nodeid.split("::")[0]
        if file_id in collect_errors:
            outcomes.append(TestOutcome(nodeid, r["task"], "error", hidden,
                                        "the test file does not import against this tree:\n"
                                        + collect_errors[file_id]))
        elif backstop:
            outcomes.append(TestOutcome(nodeid, r["task"], "timed out", hidden,
                                        "did not finish before the overall time limit"))
        else:
            outcomes.append(TestOutcome(nodeid, r["task"], "not run", hidden,
                                        f"the test did not report (pytest exited with code {code})"))

    grades = []
    for n in assignments:
        rubric = rubrics[n]
        mine = [o for o in outcomes if o.task and o.task.startswith(f"A{n}.")]
        known = {t.id for t in rubric.tasks}
        stray = sorted({o.task for o in mine if o.task not in known})
        task_notes = list(notes)
        if stray:
            task_notes.append(f"tests marked with tasks not in the rubric (not graded): {stray}")
        unmarked = [o.nodeid for o in outcomes if o.task is None and o.nodeid.startswith(f"A{n}/")]
        if unmarked:
            task_notes.append(f"tests without a task mark (not graded): {unmarked}")
        tasks = []
        for t in rubric.tasks:
            if t.written:
                tasks.append(TaskGrade(t.id, t.title, t.points, 0.0, 0, 0, written=True))
                continue
            tests = [o for o in mine if o.task == t.id]
            passed = sum(o.outcome == "passed" for o in tests)
            points = t.points * passed / len(tests) if tests else 0.0
            if not tests:
                task_notes.append(f"{t.id} has no tests: 0 points")
            tasks.append(TaskGrade(t.id, t.title, t.points, round(points, 2), passed, len(tests),
                                   failures=[o for o in tests if o.outcome != "passed"]))
        hidden_present = any(h for _, h in _test_dirs(n, course_dir, False))
        if not hidden_present:
            task_notes.append("hidden tests are not present here: public tests only "
                              "(the instructor's grade also runs hidden tests)")
        elif public_only:
            task_notes.append("--public-only: hidden tests not run")
        grades.append(Grade(
            assignment=n, title=rubric.title, tree=str(tree), public_only=public_only,
            hidden_present=hidden_present, tasks=tasks, tests=mine,
            total=round(sum(t.points for t in tasks if not t.written), 2),
            max_total=rubric.auto_points,
            written_points=sum(t.points for t in rubric.tasks if t.written),
            duration_s=round(duration, 2), backstop_timed_out=backstop,
            minigrad_path=minigrad_path, notes=task_notes))
    return grades


def grade(assignment: int, tree, **kwargs) -> Grade:
    """Grade one assignment of ``tree``; see :func:`grade_many` for the options."""
    return grade_many([assignment], tree, **kwargs)[0]


# -- output -----------------------------------------------------------------------------------------
def _points(x: float) -> str:
    return f"{x:g}"


def format_grade(g: Grade, max_groups_per_task: int = 5) -> str:
    """The grade as a table, then the failures with the first lines of their messages."""
    lines = [f"Assignment {g.assignment}: {g.title}", f"tree: {g.tree}",
             "tests: " + ("public only" if (g.public_only or not g.hidden_present)
                          else "public + hidden"), ""]
    width = max([len(t.title) for t in g.tasks] + [5])
    lines.append(f"{'task':<6} {'title':<{width}}  {'tests':>9}  {'points':>13}")
    for t in g.tasks:
        if t.written:
            lines.append(f"{t.id:<6} {t.title:<{width}}  {'written':>9}  "
                         f"{'by hand / ' + _points(t.max_points):>13}")
        else:
            lines.append(f"{t.id:<6} {t.title:<{width}}  {f'{t.passed}/{t.tests}':>9}  "
                         f"{_points(t.points) + ' / ' + _points(t.max_points):>13}")
    lines.append(f"{'total':<6} {'':<{width}}  {'':>9}  "
                 f"{_points(g.total) + ' / ' + _points(g.max_total):>13}")
    if g.written_points:
        lines.append(f"(plus {_points(g.written_points)} points of written answers, graded by hand)")
    failing = [t for t in g.tasks if t.failures]
    if failing:
        lines += ["", "Failures (the first lines of each message):"]
        for t in failing:
            # tests failing the same way (a stub, say) are shown once
            groups: dict[tuple, list[TestOutcome]] = {}
            for o in t.failures:
                groups.setdefault((o.outcome, o.message), []).append(o)
            for shown, ((outcome, message), tests) in enumerate(groups.items()):
                if shown == max_groups_per_task:
                    rest = sum(len(v) for v in list(groups.values())[shown:])
                    lines.append(f"  {t.id}: ... and {rest} more failing tests")
                    break
                first = tests[0]
                tag = " (hidden)" if first.hidden else ""
                where = f" at {first.where}" if first.where else ""
                if len(tests) == 1:
                    lines.append(f"  {t.id} {first.name}{tag}: {outcome}{where}")
                else:
                    lines.append(f"  {t.id} {len(tests)} tests {outcome}, e.g. "
                                 f"{first.name}{tag}{where}")
                for ln in (message or "").splitlines():
                    lines.append(f"      {ln}")
    if g.notes:
        lines += [""] + [f"note: {n}" for n in g.notes]
    lines.append(f"graded in {g.duration_s:.1f} s")
    return "\n".join(lines)


def write_grade_json(g: Grade, path) -> Path:
    """Save the grade as JSON, atomically (:func:`minigrad.serialization.atomic_write`)."""
    from minigrad.serialization import atomic_write
    data = json.dumps(g.to_json(), indent=2, sort_keys=True).encode("utf-8") + b"\n"
    return atomic_write(path, lambda f: f.write(data))
