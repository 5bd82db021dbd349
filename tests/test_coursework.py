"""The coursework tooling: markers, student trees, the grader, the checks, the CLI.

Two parts.

* Unit tests on small fixtures built in ``tmp_path`` (a fake project with a marked
  ``minigrad``, two assignments, public and hidden tests): fast, and independent of the
  real assignments.
* The real coursework, driven by the rubrics (whatever tasks they define): for every
  assignment N the student tree N is generated once and checked — it collects, its
  assignment-N tests fail with the NotImplementedError naming a task of N, assignment
  N-1's tests pass there (and so do earlier ones: tree N keeps the solutions of every
  assignment < N, i.e. it has fewer stubs than tree N-1 + 1, and assignment k < N-1 is
  checked the same way in tree k+1), no solution line of an assignment >= N survives and
  the instructor-only folders are absent. The repository itself (the solution tree) gets
  full marks on all six assignments; a planted sign error gets partial marks and a
  message naming the op.

pytest subprocesses run with OPENBLAS_NUM_THREADS=1.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from coursework import COURSEWORK_DIR, REPO_ROOT, cli
from coursework.A1.support import Times
from coursework.checks import (CheckFailure, assert_adjoint_identity, assert_arrays_match,
                               assert_function_backward_matches, assert_gradients_match,
                               function_backward)
from coursework.grader import GradingError, format_grade, grade, grade_many, write_grade_json
from coursework.markers import MarkerError, marked_files, parse_regions, stub_source
from coursework.rubric import RubricError, load_rubric, load_rubrics
from coursework.student import STAMP_FILE, GeneratorError, check_regions, generate

# third-party pytest plugins are not needed here and cost seconds per subprocess
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
       "MPLBACKEND": "Agg", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # inherited by the grader's subprocesses


def _pytest(tree: Path, *args, timeout=300) -> subprocess.CompletedProcess:
    env = {**ENV, "PYTHONPATH": str(tree)}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)


# =================================================================================================
# markers
# =================================================================================================
SOURCE = '''\
def f(x):
    """Twice x."""
    # hint: a hint stays
    # BEGIN SOLUTION A1.2
    y = 2 * x
    return y
    # END SOLUTION


def g(x):
    # BEGIN SOLUTION A3.1
    return x + 1
    # END SOLUTION
'''


def test_parse_regions_finds_ids_lines_and_indent():
    regions = parse_regions(SOURCE, "m.py")
    assert [(r.task_id, r.begin, r.end, r.indent) for r in regions] == [
        ("A1.2", 4, 7, "    "), ("A3.1", 11, 13, "    ")]
    assert regions[0].assignment == 1
    assert regions[0].body(SOURCE.splitlines()) == ["    y = 2 * x", "    return y"]


@pytest.mark.parametrize("text, line, words", [
    ("# BEGIN SOLUTION A1.1\nx = 1\n", 1, "never closed"),
    ("# BEGIN SOLUTION A1.1\nx = 1\n# BEGIN SOLUTION A1.2\ny\n# END SOLUTION\n", 3, "do not nest"),
    ("x = 1\n# END SOLUTION\n", 2, "without a BEGIN"),
    ("# BEGIN SOLUTION A7.1\nx = 1\n# END SOLUTION\n", 1, "unknown task id 'A7.1'"),
    ("# BEGIN SOLUTION A1.0\nx = 1\n# END SOLUTION\n", 1, "unknown task id 'A1.0'"),
    ("# BEGIN SOLUTION a1.1\nx = 1\n# END SOLUTION\n", 1, "unknown task id"),
    ("x = 1\ny = 2  # BEGIN SOLUTION A1.1\n", 2, "malformed solution marker"),
    ("#BEGIN SOLUTION A1.1\nx = 1\n# END SOLUTION\n", 1, "malformed solution marker"),
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", 1, "malformed solution marker"),
    ("# begin solution A1.1\nx = 1\n# END SOLUTION\n", 1, "malformed solution marker"),
    ("def f():\n    # BEGIN SOLUTION A1.1\n    x = 1\n# END SOLUTION\n", 4, "indented differently"),
    ("# BEGIN SOLUTION A1.1\n# END SOLUTION\n", 2, "is empty"),
])
def test_malformed_markers_are_errors_naming_file_and_line(text, line, words):
    with pytest.raises(MarkerError) as info:
        parse_regions(text, "pkg/mod.py")
    assert str(info.value).startswith(f"pkg/mod.py:{line}:")
    assert words in str(info.value)


def test_stub_source_replaces_chosen_regions_and_keeps_hints():
    new, stubbed = stub_source(SOURCE, "m.py", stub=lambda t: t.startswith("A1."),
                               message=lambda t: f"{t}: do it")
    assert [r.task_id for r in stubbed] == ["A1.2"]
    assert "    # hint: a hint stays\n    raise NotImplementedError('A1.2: do it')\n" in new
    assert "y = 2 * x" not in new and "BEGIN SOLUTION A1.2" not in new
    assert "# BEGIN SOLUTION A3.1\n    return x + 1\n" in new  # not chosen: untouched
    namespace = {}
    exec(compile(new, "m.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="A1.2: do it"):
        namespace["f"](1)
    assert namespace["g"](1) == 2
    # nothing chosen: the text comes back unchanged
    assert stub_source(SOURCE, "m.py", lambda t: False, str) == (SOURCE, [])


def test_stub_source_keeps_crlf_and_rejects_a_marker_at_the_wrong_indentation():
    crlf = SOURCE.replace("\n", "\r\n")
    new, _ = stub_source(crlf, "m.py", lambda t: True, lambda t: t)
    assert "raise NotImplementedError('A1.2')\r\n" in new and "\n" not in new.replace("\r\n", "")
    bad = "def f():\n# BEGIN SOLUTION A1.1\n    return 1\n# END SOLUTION\n"
    with pytest.raises(MarkerError, match=r"m.py:2: the file is not valid Python"):
        stub_source(bad, "m.py", lambda t: True, lambda t: t)


# =================================================================================================
# checks
# =================================================================================================
class _BadMul(Times):
    """Mul with a sign error in the gradient of b."""

    def backward(self, grad):
        a, b = self.saved
        return grad * b, -grad * a


def test_assert_gradients_match_passes_a_correct_backward():
    rng = np.random.default_rng(0)
    assert_gradients_match("Mul", lambda a, b: a * b, rng.standard_normal((3, 4)),
                           rng.standard_normal((3, 4)))
    # an integer index array is an argument, not an input; a Tensor constant stays constant
    assert_gradients_match("getitem", lambda a, i: a[i], rng.standard_normal((4, 2)),
                           np.array([0, 0, 3]))
    assert_gradients_match("Mul", lambda a, c: a * c, rng.standard_normal(3),
                           mg.Tensor(rng.standard_normal(3)))


def test_assert_gradients_match_names_the_op_input_and_worst_element():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    with pytest.raises(CheckFailure) as info:
        assert_gradients_match("Mul", _BadMul.apply, a, b)
    msg = str(info.value)
    assert msg.startswith("Mul backward: gradient of input 1 (shape (2, 3)) is wrong at index (")
    assert "expected (numerical, float64)" in msg and "got (backward)" in msg
    assert "6 of 6 elements out of tolerance" in msg
    # the worst index is where |2 a v| is largest, and "got" is minus "expected" there
    index = tuple(int(i) for i in re.search(r"index \(([^)]*)\)", msg).group(1).split(","))
    got = float(re.search(r"got \(backward\) (\S+);", msg).group(1))
    expected = float(re.search(r"float64\) (\S+) but", msg).group(1))
    assert got == pytest.approx(-expected, rel=1e-4)
    v = np.random.default_rng(0).standard_normal((2, 3))
    assert index == np.unravel_index(np.argmax(np.abs(v * a)), a.shape)


def test_assert_gradients_match_requires_an_input():
    with pytest.raises(ValueError, match="no input to differentiate"):
        assert_gradients_match("f", lambda i: i, np.array([1, 2]))


def test_assert_arrays_match_messages():
    x = np.arange(12.0).reshape(3, 4)
    assert_arrays_match("same", mg.Tensor(x), x)
    assert_arrays_match("nan matches nan", np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))
    y = x.copy()
    y[2, 1] += 0.5
    with pytest.raises(CheckFailure, match=r"^conv2d forward: wrong at index \(2, 1\): expected "
                                           r"9 but got 9\.5; .*1 of 12 elements"):
        assert_arrays_match("conv2d forward", y, x)
    with pytest.raises(CheckFailure, match=r"^x: shape \(4, 3\) but expected shape \(3, 4\)"):
        assert_arrays_match("x", x.T, x)
    with pytest.raises(CheckFailure, match=r"dtype float64 but expected float32"):
        assert_arrays_match("x", x, x, dtype=np.float32)
    with pytest.raises(CheckFailure, match=r"loss: wrong \(a scalar\): expected 1 but got nan"):
        assert_arrays_match("loss", np.float32("nan"), 1.0)


def test_assert_adjoint_identity():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((4, 3))
    assert_adjoint_identity("transpose", lambda a: a.T, lambda b: b.T, x, y)
    with pytest.raises(CheckFailure, match="transpose: adjoint identity fails"):
        assert_adjoint_identity("transpose", lambda a: a.T, lambda b: 2 * b.T, x, y)


class _OneGradient(Times):
    def backward(self, grad):
        return grad * self.saved[1]


def test_function_backward_runs_one_node_without_the_tape():
    a, b = np.array([1.0, 2.0]), np.array([3.0, -4.0])
    ga, gb = function_backward(Times, [a, b], np.array([1.0, 10.0]))
    assert np.array_equal(ga, [3.0, -40.0]) and np.array_equal(gb, [1.0, 20.0])
    assert function_backward(_OneGradient, [a, b], np.ones(2))[0].shape == (2,)  # always a tuple


def test_assert_function_backward_matches():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    assert_function_backward_matches("Mul", Times, [a, b])
    with pytest.raises(CheckFailure) as info:
        assert_function_backward_matches("Mul", _BadMul, [a, b], seed=4)
    msg = str(info.value)
    assert msg.startswith("Mul backward: gradient of input 1 (shape (2, 3)): wrong at index (")
    assert "expected" in msg and "but got" in msg and "6 of 6 elements" in msg
    with pytest.raises(CheckFailure, match=r"^Mul backward returned 1 gradient\(s\) for 2 input"):
        assert_function_backward_matches("Mul", _OneGradient, [a, b])


# =================================================================================================
# a fake project: generator and grader on a small fixture
# =================================================================================================
FAKE_LIB = '''\
"""A fake library with three marked regions."""


def double(x):
    """Twice x."""
    # hint: multiply
    # BEGIN SOLUTION A1.1
    return 2 * x
    # END SOLUTION


def triple(x):
    # BEGIN SOLUTION A1.2
    return 3 * x
    # END SOLUTION


def square(x):
    # BEGIN SOLUTION A2.1
    y = x * x
    return y
    # END SOLUTION
'''

FAKE_TESTS = {
    "A1/tests/test_fx_a1.py": '''
        import numpy as np
        import pytest
        import minigrad
        from coursework.checks import assert_arrays_match

        @pytest.mark.task("A1.1")
        def test_double():
            assert_arrays_match("double", minigrad.double(np.arange(3.0)), np.arange(3.0) * 2)

        @pytest.mark.task("A1.2")
        @pytest.mark.parametrize("n", [1, 2])
        def test_triple(n):
            assert_arrays_match("triple", minigrad.triple(np.ones(n)), np.full(n, 3.0))
        ''',
    "A1/hidden/test_fx_a1_hidden.py": '''
        import numpy as np
        import pytest
        import minigrad
        from coursework.checks import assert_arrays_match

        @pytest.mark.task("A1.1")
        def test_double_negative():
            assert_arrays_match("double", minigrad.double(-np.ones(2)), -2 * np.ones(2))
        ''',
    "A2/tests/test_fx_a2.py": '''
        import pytest
        import minigrad

        @pytest.mark.task("A2.1")
        def test_square():
            assert minigrad.square(3.0) == 9.0
        ''',
}

FAKE_RUBRICS = {
    1: '''
        assignment = 1
        title = "Fake one"
        [[task]]
        id = "A1.1"
        title = "double"
        points = 60
        time_limit_s = 10
        [[task]]
        id = "A1.2"
        title = "triple"
        points = 40
        time_limit_s = 10
        ''',
    2: '''
        assignment = 2
        title = "Fake two"
        [[task]]
        id = "A2.1"
        title = "square"
        points = 10
        [[task]]
        id = "A2.2"
        title = "essay"
        points = 5
        written = true
        ''',
}


def make_fake_project(root: Path) -> Path:
    """A minimal project: marked minigrad, coursework tooling, two assignments."""
    (root / "minigrad").mkdir(parents=True)
    (root / "minigrad" / "__init__.py").write_text(FAKE_LIB)
    (root / "dann_from_scratch").mkdir()
    (root / "dann_from_scratch" / "__init__.py").write_text("")
    (root / "chapters").mkdir()
    (root / "chapters" / "01_fake.py").write_text("# %%\nprint('chapter')\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_library.py").write_text("def test_nothing():\n    pass\n")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "fake"\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    (root / "README.md").write_text("fake\n")
    cw = root / "coursework"
    cw.mkdir()
    for name in ("__init__.py", "conftest.py", "checks.py", "pytest_plugin.py"):
        shutil.copyfile(COURSEWORK_DIR / name, cw / name)
    for n, text in FAKE_RUBRICS.items():
        (cw / f"A{n}").mkdir()
        (cw / f"A{n}" / "rubric.toml").write_text(textwrap.dedent(text))
        (cw / f"A{n}" / "README.md").write_text(f"assignment {n}\n")
        (cw / f"A{n}" / "solutions").mkdir()
        (cw / f"A{n}" / "solutions" / "answers.md").write_text("secret\n")
    for rel, text in FAKE_TESTS.items():
        (cw / rel).parent.mkdir(parents=True, exist_ok=True)
        (cw / rel).write_text(textwrap.dedent(text))
    (cw / "A1" / "__pycache__").mkdir()
    (cw / "A1" / "__pycache__" / "junk.pyc").write_bytes(b"junk")
    return root


@pytest.fixture
def fake(tmp_path):
    return make_fake_project(tmp_path / "project")


def _tree_bytes(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_generator_on_fixture(fake, tmp_path):
    out = tmp_path / "week1"
    tree = generate(1, out, source_root=fake)
    lib = (out / "minigrad" / "__init__.py").read_text()
    assert "raise NotImplementedError('A1.1: double - see coursework/A1/README.md')" in lib
    assert "raise NotImplementedError('A2.1: square - see coursework/A2/README.md')" in lib
    assert "# hint: multiply" in lib and '"""Twice x."""' in lib
    assert "2 * x" not in lib and "x * x" not in lib and "SOLUTION" not in lib
    assert sorted(tree.stubbed) == ["A1.1", "A1.2", "A2.1"]
    assert not (out / "coursework" / "A1" / "hidden").exists()
    assert not (out / "coursework" / "A1" / "solutions").exists()
    assert not (out / "tests").exists()
    assert not list(out.rglob("__pycache__"))
    assert (out / "coursework" / "A1" / "tests" / "test_fx_a1.py").is_file()
    assert 'testpaths = ["coursework"]\naddopts = "-p coursework.pytest_plugin"' in (
        out / "pyproject.toml").read_text()
    assert (out / STAMP_FILE).is_file()
    # week 2 keeps the solutions of week 1 (markers included) and stubs week 2
    generate(2, tmp_path / "week2", source_root=fake)
    lib2 = (tmp_path / "week2" / "minigrad" / "__init__.py").read_text()
    assert "# BEGIN SOLUTION A1.1\n    return 2 * x\n" in lib2 and "x * x" not in lib2
    # importing the student tree runs no stubbed code
    subprocess.run([sys.executable, "-c", "import minigrad"], cwd=out, check=True, env=ENV)


def test_generator_is_deterministic_and_guards_its_output(fake, tmp_path):
    generate(1, tmp_path / "a", source_root=fake)
    generate(1, tmp_path / "b", source_root=fake)
    assert _tree_bytes(tmp_path / "a") == _tree_bytes(tmp_path / "b")
    with pytest.raises(GeneratorError, match="is not empty"):
        generate(1, tmp_path / "a", source_root=fake)
    generate(2, tmp_path / "a", source_root=fake, force=True)  # replaces the old tree
    assert "x * x" not in (tmp_path / "a" / "minigrad" / "__init__.py").read_text()
    assert "2 * x" in (tmp_path / "a" / "minigrad" / "__init__.py").read_text()
    other = tmp_path / "precious"
    other.mkdir()
    (other / "thesis.tex").write_text("do not delete")
    with pytest.raises(GeneratorError, match="refusing to delete"):
        generate(1, other, source_root=fake, force=True)
    assert (other / "thesis.tex").read_text() == "do not delete"
    with pytest.raises(GeneratorError, match="outside the project"):
        generate(1, fake / "out", source_root=fake)
    assert not list(tmp_path.glob(".*partial"))


def test_generator_refuses_regions_without_rubric_and_tasks_without_regions(fake, tmp_path):
    lib = fake / "minigrad" / "__init__.py"
    lib.write_text(FAKE_LIB + "\n\ndef h():\n    # BEGIN SOLUTION A1.9\n    pass\n    # END SOLUTION\n")
    with pytest.raises(GeneratorError, match=r"minigrad/__init__.py:\d+: region A1.9 is not a task"):
        generate(1, tmp_path / "x", source_root=fake)
    lib.write_text(FAKE_LIB.replace("# BEGIN SOLUTION A1.2", "# BEGIN SOLUTION A1.1"))
    with pytest.raises(GeneratorError, match="rubric tasks without any solution region: A1.2"):
        check_regions(fake)
    lib.write_text(FAKE_LIB.replace("    # END SOLUTION\n\n\ndef triple", "\n\ndef triple", 1))
    with pytest.raises(MarkerError, match=r"minigrad/__init__.py:\d+: BEGIN SOLUTION A1.2 inside"):
        generate(1, tmp_path / "x", source_root=fake)
    assert not (tmp_path / "x").exists()


def test_rubric_errors_name_the_file(fake):
    path = fake / "coursework" / "A1" / "rubric.toml"
    path.write_text(path.read_text().replace('id = "A1.2"', 'id = "A2.2"'))
    with pytest.raises(RubricError, match=r"rubric.toml: task #2: id 'A2.2' is not a task id of "
                                          r"assignment 1"):
        load_rubric(1, fake / "coursework")
    path.write_text("assignment = 1\ntitle = 'x'\n[[task]]\nid = 'A1.1'\ntitle = 't'\npoints = -1\n")
    with pytest.raises(RubricError, match="points must be a number >= 0"):
        load_rubric(1, fake / "coursework")


def test_grader_on_fixture(fake, tmp_path):
    course = fake / "coursework"
    full = grade(1, fake, course_dir=course)
    assert (full.total, full.max_total) == (100, 100)
    assert [(t.id, t.passed, t.tests) for t in full.tasks] == [("A1.1", 2, 2), ("A1.2", 2, 2)]
    assert full.hidden_present and any(o.hidden for o in full.tests)
    assert Path(full.minigrad_path).resolve().parent == (fake / "minigrad").resolve()

    generate(1, tmp_path / "week1", source_root=fake)
    zero = grade(1, tmp_path / "week1", course_dir=course)
    assert zero.total == 0
    for task in zero.tasks:
        assert task.passed == 0 and task.failures
        for o in task.failures:
            assert o.outcome == "failed"
            assert o.message.startswith(f"NotImplementedError: {task.id}: ")
    text = format_grade(zero)
    assert "A1.1" in text and "0 / 60" in text and "NotImplementedError: A1.2: triple" in text
    write_grade_json(zero, tmp_path / "grade.json")
    import json
    saved = json.loads((tmp_path / "grade.json").read_text())
    assert saved["total"] == 0 and saved["tasks"][0]["failures"][0]["hidden"] in (True, False)

    # the student's own test files do not matter: the instructor's copies are run
    (tmp_path / "week1" / "coursework" / "A1" / "tests" / "test_fx_a1.py").write_text(
        "import pytest\n@pytest.mark.task('A1.1')\ndef test_double():\n    pass\n")
    assert grade(1, tmp_path / "week1", course_dir=course, public_only=True).total == 0

    # week 2: assignment 1 in full, assignment 2 stubbed; the written task is by hand
    generate(2, tmp_path / "week2", source_root=fake)
    one, two = grade_many([1, 2], tmp_path / "week2", course_dir=course)
    assert one.total == 100
    assert two.total == 0 and two.max_total == 10 and two.written_points == 5
    assert two.task("A2.2").written and "by hand" in format_grade(two)
    assert not two.hidden_present and "public tests only" in " ".join(two.notes)


def test_grader_runs_the_instructors_support_module(fake, tmp_path):
    """coursework/A<n>/support.py ships to students, but the grader imports the instructor's
    copy (as it does coursework/checks.py): a fixture edited to agree with a wrong answer
    gains nothing."""
    course = fake / "coursework"
    (course / "A1" / "support.py").write_text("def doubled(x):\n    return 2 * x\n")
    (course / "A1" / "tests" / "test_fx_a1_support.py").write_text(textwrap.dedent('''
        import numpy as np
        import pytest
        import minigrad
        from coursework.A1.support import doubled
        from coursework.checks import assert_arrays_match

        @pytest.mark.task("A1.1")
        def test_double_against_support():
            x = np.arange(3.0)
            assert_arrays_match("double", minigrad.double(x), doubled(x))
        '''))
    generate(2, tmp_path / "t", source_root=fake)
    shipped = tmp_path / "t" / "coursework" / "A1" / "support.py"
    assert shipped.read_text() == (course / "A1" / "support.py").read_text()
    assert grade(1, tmp_path / "t", course_dir=course).total == 100
    lib = tmp_path / "t" / "minigrad" / "__init__.py"
    lib.write_text(lib.read_text().replace("return 2 * x", "return -2 * x"))
    shipped.write_text("import minigrad\n\ndef doubled(x):\n    return minigrad.double(x)\n")
    run = _pytest(tmp_path / "t", "-q", "coursework/A1/tests/test_fx_a1_support.py")
    assert run.returncode == 0, run.stdout + run.stderr   # the tree's own copy, when students run it
    g = grade(1, tmp_path / "t", course_dir=course)
    assert g.task("A1.1").passed == 0 and g.task("A1.1").tests == 3
    assert any("double: wrong" in (o.message or "") for o in g.task("A1.1").failures)


def test_grader_partial_marks_name_the_function(fake, tmp_path):
    generate(2, tmp_path / "t", source_root=fake)
    lib = tmp_path / "t" / "minigrad" / "__init__.py"
    lib.write_text(lib.read_text().replace("return 2 * x", "return -2 * x"))
    g = grade(1, tmp_path / "t", course_dir=fake / "coursework")
    assert 0 < g.total < g.max_total
    assert g.task("A1.1").points == 0 and g.task("A1.2").points == 40
    msg = g.task("A1.1").failures[0].message
    assert msg.startswith("CheckFailure: double: wrong at index (")
    assert "expected" in msg and "but got" in msg


def test_grader_stops_an_infinite_loop(fake, tmp_path):
    generate(2, tmp_path / "t", source_root=fake)
    lib = tmp_path / "t" / "minigrad" / "__init__.py"
    lib.write_text(lib.read_text().replace("return 3 * x", "while True:\n        pass", 1))
    g = grade(1, tmp_path / "t", course_dir=fake / "coursework", test_time_limit=1.0)
    triple = g.task("A1.2")
    assert triple.points == 0 and [o.outcome for o in triple.failures] == ["timed out"] * 2
    assert "time limit of 1 s" in triple.failures[0].message
    assert g.task("A1.1").points == 60  # the other task is not affected
    assert not g.backstop_timed_out


def test_grader_backstop_when_the_alarm_is_disabled(fake, tmp_path):
    generate(2, tmp_path / "t", source_root=fake)
    lib = tmp_path / "t" / "minigrad" / "__init__.py"
    lib.write_text(lib.read_text().replace(
        "return 3 * x", "import signal\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                        "    while True:\n        pass", 1))
    g = grade(1, tmp_path / "t", course_dir=fake / "coursework", timeout=6)
    assert g.backstop_timed_out
    assert g.task("A1.2").points == 0
    assert {o.outcome for o in g.task("A1.2").failures} == {"timed out"}


def test_grader_reports_a_tree_that_does_not_import(fake, tmp_path):
    generate(2, tmp_path / "t", source_root=fake)
    lib = tmp_path / "t" / "minigrad" / "__init__.py"
    lib.write_text(lib.read_text() + "\ndef broken(:\n")
    g = grade(1, tmp_path / "t", course_dir=fake / "coursework")
    assert g.total == 0 and g.minigrad_path is None
    assert all(o.outcome == "error" for o in g.tests) and len(g.tests) == 4
    assert "SyntaxError" in " ".join(g.notes)
    with pytest.raises(GradingError, match="not a project tree"):
        grade(1, tmp_path, course_dir=fake / "coursework")


def test_task_option_selects_one_task(fake, tmp_path):
    generate(2, tmp_path / "t", source_root=fake)
    run = _pytest(tmp_path / "t", "--task", "A1.2", "-q")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed, 2 deselected" in run.stdout
    run = _pytest(tmp_path / "t", "--task", "A1", "-q")
    assert "3 passed, 1 deselected" in run.stdout
    run = _pytest(tmp_path / "t", "--task", "B7", "-q")
    assert run.returncode != 0 and "expected a task id" in run.stderr


# =================================================================================================
# the real coursework
# =================================================================================================
ASSIGNMENTS = (1, 2, 3, 4, 5, 6)


@pytest.fixture(scope="module")
def rubrics():
    found = load_rubrics(COURSEWORK_DIR)
    assert sorted(found) == list(ASSIGNMENTS), f"rubrics present: {sorted(found)}"
    return found


@pytest.fixture(scope="module")
def regions():
    """{task id: ["file:line", ...]}; also checks every marker against the rubrics."""
    return check_regions(REPO_ROOT)


@pytest.fixture(scope="module")
def trees(tmp_path_factory, rubrics, regions):
    """The student tree of every week, written once for the module."""
    base = tmp_path_factory.mktemp("trees")
    return {n: generate(n, base / f"week{n}").path for n in ASSIGNMENTS}


def _marked_region_lines(n: int) -> dict[str, set[str]]:
    """{file: stripped lines of regions of assignments >= n that occur nowhere else in it}."""
    out = {}
    for full in marked_files(REPO_ROOT):
        path = full.relative_to(REPO_ROOT)
        text = full.read_text(encoding="utf-8")
        if "SOLUTION" not in text:
            continue
        lines = text.splitlines()
        inside = set()
        for r in parse_regions(text, path.as_posix()):
            if r.assignment >= n:
                inside.update(range(r.begin - 1, r.end))
        if not inside:
            continue
        outside = {lines[i].strip() for i in range(len(lines)) if i not in inside}
        unique = {lines[i].strip() for i in inside} - outside - {""}
        unique = {s for s in unique if not s.startswith("# BEGIN SOLUTION")
                  and s != "# END SOLUTION"}
        out[path.as_posix()] = unique
    return out


def test_every_marker_and_test_agrees_with_the_rubrics(rubrics, regions):
    tasks = {t.id: t for r in rubrics.values() for t in r.tasks}
    assert set(regions) == {i for i, t in tasks.items() if not t.written}
    for n in ASSIGNMENTS:
        for folder in ("tests", "hidden"):
            for f in sorted((COURSEWORK_DIR / f"A{n}" / folder).glob("test_*.py")):
                text = f.read_text()
                used = set(re.findall(r"mark\.task\(\s*['\"]([^'\"]+)['\"]", text))
                assert used, f"{f}: no @pytest.mark.task"
                assert used <= set(tasks), f"{f}: tasks not in a rubric: {used - set(tasks)}"
                assert all(u.startswith(f"A{n}.") for u in used), f"{f}: tasks of another week"
    names = [p.name for p in COURSEWORK_DIR.glob("A*/*/test_*.py")]
    assert len(names) == len(set(names)), "test file basenames must be unique"


def test_solution_tree_gets_full_marks(rubrics):
    grades = grade_many(ASSIGNMENTS, REPO_ROOT)
    for g in grades:
        failures = [f"{o.nodeid}: {o.outcome}: {o.message}" for o in g.tests if o.outcome != "passed"]
        assert not failures, "\n".join(failures)
        assert g.total == g.max_total == rubrics[g.assignment].auto_points
        assert g.hidden_present
        for t in g.tasks:
            assert t.written or t.tests > 0, f"{t.id} has no tests"


@pytest.mark.parametrize("n", ASSIGNMENTS)
def test_student_tree(n, trees, rubrics):
    tree = trees[n]
    # instructor-only material and the library's own suite are left out
    assert not list((tree / "coursework").glob("A*/hidden"))
    assert not list((tree / "coursework").glob("A*/solutions"))
    assert not (tree / "tests").exists() and not (tree / "benchmarks").exists()
    # no solution line of an assignment >= n survives; no marker of one either
    for rel, unique in _marked_region_lines(n).items():
        got = {ln.strip() for ln in (tree / rel).read_text(encoding="utf-8").splitlines()}
        leaked = unique & got
        assert not leaked, f"{rel}: solution lines of assignment >= {n} left: {sorted(leaked)[:5]}"
        assert not re.search(rf"# BEGIN SOLUTION A[{n}-6]\.", (tree / rel).read_text())
    # pytest collects cleanly; every module imports (no stubbed code runs at import time:
    # checked in tree 1 only, where every region of every week is stubbed)
    code = ("import importlib, pkgutil, sys, minigrad, dann_from_scratch, pytest\n"
            f"for pkg in ((minigrad, dann_from_scratch) if {n} == 1 else ()):\n"
            "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
            "        importlib.import_module(m.name)\n"
            "sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider']))\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True,
                         env={**ENV, "PYTHONPATH": str(tree)}, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = run.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ tests collected in .*", summary), summary

    # week n's tasks score 0 and fail with NotImplementedError naming a task of week n;
    # week n-1 (with the solutions kept in this tree) scores full marks
    weeks = [n - 1, n] if n > 1 else [n]
    grades = grade_many(weeks, tree)
    this = grades[-1]
    assert this.total == 0
    for t in this.tasks:
        if t.written:
            continue
        assert t.points == 0 and t.tests > 0 and len(t.failures) == t.tests
        for o in t.failures:
            assert o.outcome == "failed", f"{o.nodeid}: {o.outcome}: {o.message}"
            m = re.match(rf"NotImplementedError: A{n}\.(\d+): ", o.message or "")
            assert m, f"{o.nodeid}: expected NotImplementedError of week {n}, got {o.message}"
            # the task's own stub, or that of an earlier task of the week it builds on
            # (training the digits convnet needs the layers first)
            assert int(m.group(1)) <= int(t.id.split(".")[1]), \
                f"{o.nodeid} ({t.id}) stops at the stub of a later task: {o.message}"
    if n > 1:
        previous = grades[0]
        failures = [f"{o.nodeid}: {o.outcome}: {o.message}" for o in previous.tests
                    if o.outcome != "passed"]
        assert not failures, "\n".join(failures)
        assert previous.total == previous.max_total


def test_generator_is_deterministic_on_the_real_project(tmp_path, regions):
    first = _tree_bytes(generate(1, tmp_path / "first").path)
    assert first == _tree_bytes(generate(1, tmp_path / "again").path)


def test_planted_sign_error_gets_partial_marks_naming_the_op(tmp_path, trees):
    tree = tmp_path / "planted"
    shutil.copytree(trees[2], tree)
    arithmetic = tree / "minigrad" / "ops" / "arithmetic.py"
    text = arithmetic.read_text()
    # flip the sign of Mul's incoming gradient: both of its input gradients become wrong
    planted, count = re.subn(r"(class Mul\(Function\):.*?def backward\(self, grad\):\n)",
                             r"\1        grad = -grad\n", text, count=1, flags=re.S)
    assert count == 1
    arithmetic.write_text(planted)
    g = grade(1, tree)
    assert 0 < g.total < g.max_total
    messages = [o.message or "" for o in g.tests if o.outcome != "passed"]
    assert messages and any(re.search(r"\bmul\b", m, re.I) for m in messages), messages
    assert any("expected" in m and "got" in m for m in messages)


def test_cli_list_student_and_grade(tmp_path, capsys, rubrics):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for n, r in rubrics.items():
        assert f"A{n}  {r.title}" in out
        for t in r.tasks:
            assert t.id in out
    assert cli.main(["check"]) == 0
    assert "markers and rubrics agree" in capsys.readouterr().out
    assert cli.main(["student", "--assignment", "6", str(tmp_path / "w6")]) == 0
    assert "stubbed A6." in capsys.readouterr().out
    assert cli.main(["student", "--assignment", "6", str(tmp_path / "w6")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert cli.main(["grade", "--assignment", "6", str(tmp_path / "w6"), "--public-only",
                     "--json", str(tmp_path / "g.json")]) == 0
    out = capsys.readouterr().out
    assert "total" in out and "NotImplementedError: A6." in out
    assert (tmp_path / "g.json").is_file()


def test_an_infinite_loop_in_a_real_region_times_out(tmp_path, trees, rubrics, regions):
    """``while True: pass`` planted in a region of week 6's last task (a leaf: nothing
    else builds on it) ends that task's tests as "timed out", with the per-test limit
    lowered to 1 s to keep this fast."""
    task = [t for t in rubrics[6].tasks if not t.written][-1]
    tree = tmp_path / "looping"
    shutil.copytree(trees[6], tree)
    rel, line = regions[task.id][0].rsplit(":", 1)
    # trees[6] stubs week 6: start from the solution file and plant the loop in the region
    lines = (REPO_ROOT / rel).read_text(encoding="utf-8").splitlines(keepends=True)
    indent = re.match(r"[ \t]*", lines[int(line) - 1]).group(0)
    lines.insert(int(line), f"{indent}while True:\n{indent}    pass\n")
    (tree / rel).write_text("".join(lines), encoding="utf-8")
    g = grade(6, tree, public_only=True, test_time_limit=1.0)
    looping = g.task(task.id)
    assert looping.points == 0 and looping.failures
    assert {o.outcome for o in looping.failures} == {"timed out"}
    assert "time limit of 1 s" in looping.failures[0].message
    assert not g.backstop_timed_out
