"""The grader's pytest plugin: a time limit per test, and one JSON line per outcome.

The grader runs pytest in a fresh subprocess with this file loaded as a plugin (a copy of
it, under a name of its own, so that a student tree cannot replace it) and these options:

``--grader-outcome FILE``
    append one JSON object per line to FILE: ``session`` (where ``minigrad`` was imported
    from), ``collected`` (every test and its task), ``collect_error`` and ``test`` (outcome,
    duration and, for a failure, the first lines of its message). Lines are flushed as
    they are written, so a run killed by the grader's backstop still says how far it got.
``--grader-limits FILE``
    a JSON object ``{"A3.1": 30, ...}``: seconds per test of each task; tests of other
    tasks get ``--grader-default-limit`` (60 s). The limit covers setup, call and teardown
    and is enforced with ``SIGALRM``: a student's ``while True: pass`` ends as "timed out".
``--grader-checks FILE``
    the instructor's ``coursework/checks.py``, installed as ``coursework.checks`` before
    any test is imported, so the assertions themselves are not the student's to edit.
``--grader-module NAME=FILE`` (repeatable)
    import module NAME (an assignment's shared test fixtures, ``coursework.A3.support``)
    from the instructor's FILE rather than from the tree, for the same reason.

It also registers the ``task`` marker (``@pytest.mark.task("A3.1")``) and the ``--task``
option (``pytest --task A3.2`` runs that task's tests, ``--task A3`` the assignment's);
``coursework/conftest.py`` and a student tree's ``addopts = "-p coursework.pytest_plugin"``
load these hooks for students (the ``-p`` makes ``pytest --task A3.2`` work from the
tree's root, where pytest would otherwise take ``A3.2`` for a path before reading the
conftest).
"""
from __future__ import annotations

import json
import os
import re
import signal
import sys
import time

import pytest

#: first lines of a failure message kept in the outcome (and shown by the grader)
MESSAGE_LINES = 6
MESSAGE_LINE_CHARS = 400


class TestTimeLimitExceeded(BaseException):
    """Raised by SIGALRM in a test that ran past its limit.

    A ``BaseException`` (like ``KeyboardInterrupt``), so that student code catching
    ``Exception`` cannot swallow it; pytest still records it as this test's failure.
    """

    __test__ = False  # not a test class, whatever its name says


_TASK_OR_ASSIGNMENT = re.compile(r"A[1-6](\.[1-9][0-9]*)?")


def pytest_addoption(parser):
    try:
        parser.addoption("--task", action="append", default=[], metavar="A3.2",
                         help="run only the tests of this task (A3.2) or assignment (A3)")
    except ValueError:  # already added (this module is both a plugin and coursework's conftest)
        return
    group = parser.getgroup("dann-course grader")
    group.addoption("--grader-outcome", default=None, help="append per-test outcomes (JSON lines)")
    group.addoption("--grader-limits", default=None, help="JSON file: seconds per test of each task")
    group.addoption("--grader-default-limit", type=float, default=60.0,
                    help="seconds per test of a task not in --grader-limits")
    group.addoption("--grader-checks", default=None,
                    help="install this checks.py as coursework.checks")
    group.addoption("--grader-module", action="append", default=[], metavar="NAME=FILE",
                    help="import module NAME (e.g. coursework.A3.support) from FILE")


def task_of(item) -> str | None:
    """The task id of a test (its one ``task`` mark), or None; several marks -> first."""
    marks = list(item.iter_markers("task"))
    if not marks or not marks[0].args:
        return None
    return str(marks[0].args[0])


def first_lines(exc: BaseException) -> str:
    """``Type: message``, cut to the first few lines (what the grader shows)."""
    text = f"{type(exc).__name__}: {exc}".rstrip()
    lines = text.splitlines() or [type(exc).__name__]
    kept = [ln if len(ln) <= MESSAGE_LINE_CHARS else ln[:MESSAGE_LINE_CHARS] + " ..."
            for ln in lines[:MESSAGE_LINES]]
    if len(lines) > MESSAGE_LINES:
        kept.append("...")
    return "\n".join(kept)


def _where(excinfo) -> str | None:
    """``file:line`` (relative to the tree) of the innermost frame in the tree's own code.

    The tree is the working directory; the tests and the checks run from elsewhere, so a
    stub or a crash in student code is located, and a failed check is not.
    """
    root = os.getcwd()
    try:
        entries = list(excinfo.traceback)
    except Exception:  # pragma: no cover - defensive
        return None
    for entry in reversed(entries):
        path = os.path.abspath(str(entry.path))
        if os.path.commonpath([root, path]) == root and os.sep + "site-packages" + os.sep not in path:
            return f"{os.path.relpath(path, root)}:{entry.lineno + 1}"
    return None


def _install_checks(path: str) -> None:
    import importlib.util
    import types
    try:
        import coursework  # the tree's package: coursework.A4.<module> stay the student's
    except Exception:
        coursework = types.ModuleType("coursework")
        coursework.__path__ = []
        sys.modules["coursework"] = coursework
    spec = importlib.util.spec_from_file_location("coursework.checks", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["coursework.checks"] = module
    spec.loader.exec_module(module)
    coursework.checks = module


class _InstructorModules:
    """A ``sys.meta_path`` finder that imports the named modules (the assignments' shared
    test fixtures, ``coursework.A3.support``...) from the instructor's files, ahead of the
    tree's copies. Lazily: a fixture module that fails to import against the tree is a
    collection error of the tests that import it, not a crash of the whole run."""

    def __init__(self, files: dict[str, str]):
        self.files = files

    def find_spec(self, name, path=None, target=None):
        if name not in self.files:
            return None
        import importlib.util
        return importlib.util.spec_from_file_location(name, self.files[name])


def _install_modules(specs: list[str]) -> None:
    files = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            raise pytest.UsageError(f"--grader-module {spec!r}: expected NAME=FILE")
        files[name] = path
    sys.meta_path.insert(0, _InstructorModules(files))


class _Recorder:
    def __init__(self, config):
        self.config = config
        path = config.getoption("--grader-outcome")
        self.out = open(path, "a", encoding="utf-8") if path else None
        limits = config.getoption("--grader-limits")
        self.limits = {}
        if limits:
            with open(limits, encoding="utf-8") as f:
                self.limits = {str(k): float(v) for k, v in json.load(f).items()}
        self.default_limit = float(config.getoption("--grader-default-limit"))
        self.state: dict[str, dict] = {}

    def write(self, record: dict) -> None:
        if self.out is not None:
            self.out.write(json.dumps(record, sort_keys=True) + "\n")
            self.out.flush()

    def limit_for(self, item) -> float:
        return self.limits.get(task_of(item), self.default_limit)

    # -- hooks
    def pytest_sessionstart(self, session):
        modules = {}
        for name in ("minigrad", "dann_from_scratch"):
            try:
                module = __import__(name)
                modules[name] = os.path.abspath(module.__file__)
            except BaseException as exc:  # a student's syntax error is an outcome, not a crash
                modules[name] = None
                modules[name + "_error"] = first_lines(exc)
        self.write({"kind": "session", "modules": modules, "pid": os.getpid()})

    def pytest_collectreport(self, report):
        if report.failed:
            self.write({"kind": "collect_error", "nodeid": report.nodeid,
                        "message": "\n".join(str(report.longrepr).splitlines()[-MESSAGE_LINES:])})

    def pytest_collection_finish(self, session):
        for item in session.items:
            marks = [m.args[0] for m in item.iter_markers("task") if m.args]
            self.write({"kind": "collected", "nodeid": item.nodeid, "task": task_of(item),
                        "n_task_marks": len(marks), "file": str(item.path)})

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        limit = self.limit_for(item)
        self.state[item.nodeid] = {"outcome": "passed", "message": None, "where": None,
                                   "start": time.perf_counter()}

        def on_alarm(signum, frame):
            raise TestTimeLimitExceeded(
                f"{task_of(item) or 'this test'}: the test ran past its time limit of "
                f"{limit:g} s (an infinite loop, or much slower than the reference?)")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            st = self.state.pop(item.nodeid)
            self.write({"kind": "test", "nodeid": item.nodeid, "task": task_of(item),
                        "outcome": st["outcome"], "message": st["message"],
                        "where": st["where"],
                        "duration_s": round(time.perf_counter() - st["start"], 4)})

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        st = self.state.get(item.nodeid)
        if st is None or st["outcome"] != "passed":
            return  # keep the first problem
        if report.skipped and call.when != "teardown":
            st["outcome"] = "skipped"
            st["message"] = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else None
            return
        if not report.failed:
            return
        exc = call.excinfo.value if call.excinfo is not None else None
        if isinstance(exc, TestTimeLimitExceeded):
            st["outcome"] = "timed out"
        else:
            st["outcome"] = "failed" if call.when == "call" else "error"
        if exc is not None:
            st["message"] = first_lines(exc)
            st["where"] = _where(call.excinfo)
        else:
            st["message"] = "\n".join(str(report.longrepr).splitlines()[:MESSAGE_LINES])

    def pytest_unconfigure(self, config):
        if self.out is not None:
            self.out.close()
            self.out = None


def pytest_configure(config):
    config.addinivalue_line("markers", "task(id): the assignment task a graded test belongs to, "
                                       "e.g. task('A3.1')")
    for wanted in config.getoption("--task", default=None) or []:
        if not _TASK_OR_ASSIGNMENT.fullmatch(wanted):
            raise pytest.UsageError(f"--task {wanted!r}: expected a task id such as A3.2 "
                                    "or an assignment such as A3")
    checks = config.getoption("--grader-checks", default=None)
    if checks:
        _install_checks(checks)
    modules = config.getoption("--grader-module", default=None)
    if modules:
        _install_modules(modules)
    if config.getoption("--grader-outcome", default=None) or \
            config.getoption("--grader-limits", default=None):
        config.pluginmanager.register(_Recorder(config), "dann-course-recorder")


def _selected(task: str | None, wanted: list[str]) -> bool:
    return task is not None and any(task == w or task.startswith(w + ".") for w in wanted)


def pytest_collection_modifyitems(config, items):
    """``--task A3.2`` keeps the tests of that task; ``--task A3`` those of the assignment."""
    wanted = config.getoption("--task", default=None)
    if not wanted:
        return
    keep, drop = [], []
    for item in items:
        (keep if _selected(task_of(item), wanted) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
