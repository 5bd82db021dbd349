"""``dann-course``: hand out, grade and list the coursework.

::

    dann-course list                                     assignments, tasks, points
    dann-course student --assignment 3 OUT [--force]     write the student tree for week 3
    dann-course grade --assignment 3 TREE [--json FILE] [--public-only] [--timeout S]
    dann-course check                                    validate markers and rubrics

Exit codes: 0 done (whatever the score), 2 a usage or input error (message on stderr).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import COURSEWORK_DIR, REPO_ROOT

__all__ = ["main"]


def _assignment(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an assignment number: {text!r}") from None
    if not 1 <= n <= 6:
        raise argparse.ArgumentTypeError(f"assignments are numbered 1 to 6, got {n}")
    return n


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dann-course", description="Coursework: hand out student "
                                "trees, grade them offline, list the assignments.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("student", help="write the student tree of one week")
    s.add_argument("--assignment", "-a", type=_assignment, required=True,
                   help="week N: regions of assignments N..6 are stubbed")
    s.add_argument("out", type=Path, help="an empty or missing folder")
    s.add_argument("--force", action="store_true",
                   help="replace a student tree already in OUT")

    g = sub.add_parser("grade", help="grade one assignment of a tree")
    g.add_argument("--assignment", "-a", type=_assignment, required=True)
    g.add_argument("tree", type=Path, help="the student's tree (or this project, for the reference)")
    g.add_argument("--json", type=Path, default=None, help="also write the grade as JSON here")
    g.add_argument("--public-only", action="store_true", help="skip the hidden tests")
    g.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="overall time limit in seconds (default: the per-test limits of the "
                        "rubric added up, plus a minute)")

    sub.add_parser("list", help="the assignments, their tasks and points")
    sub.add_parser("check", help="validate the solution markers against the rubrics")
    return p


def _cmd_student(args) -> int:
    from .student import generate
    start = time.perf_counter()
    tree = generate(args.assignment, args.out, force=args.force)
    print(f"wrote the student tree for assignment {args.assignment} to {tree.path} "
          f"({len(tree.files)} files) in {time.perf_counter() - start:.1f} s")
    for task_id in sorted(tree.stubbed, key=lambda t: (int(t[1]), int(t.split('.')[1]))):
        where = tree.stubbed[task_id]
        print(f"  stubbed {task_id}: {len(where)} region{'s' if len(where) != 1 else ''} "
              f"({', '.join(where)})")
    print(f"students start with: cd {tree.path} && pip install -e . && "
          f"dann-course grade --assignment {args.assignment} . --public-only")
    return 0


def _cmd_grade(args) -> int:
    from .grader import format_grade, grade, write_grade_json
    g = grade(args.assignment, args.tree, public_only=args.public_only, timeout=args.timeout)
    print(format_grade(g))
    if args.json is not None:
        write_grade_json(g, args.json)
        print(f"grade written to {args.json}")
    return 0


def _cmd_list(args) -> int:
    from .rubric import load_rubrics
    rubrics = load_rubrics(COURSEWORK_DIR)
    if not rubrics:
        print(f"no assignments in {COURSEWORK_DIR}")
        return 0
    for n, r in rubrics.items():
        written = sum(t.points for t in r.tasks if t.written)
        extra = f" + {written:g} written" if written else ""
        print(f"A{n}  {r.title}  ({r.auto_points:g} points{extra})")
        for t in r.tasks:
            kind = "written, graded by hand" if t.written else f"{t.time_limit_s:g} s per test"
            print(f"    {t.id:<6} {t.points:>5g}  {t.title}  [{kind}]")
    return 0


def _cmd_check(args) -> int:
    from .student import check_regions
    found = check_regions(REPO_ROOT)
    n_regions = sum(len(v) for v in found.values())
    print(f"{n_regions} solution regions for {len(found)} tasks; markers and rubrics agree")
    for task_id in sorted(found, key=lambda t: (int(t[1]), int(t.split('.')[1]))):
        print(f"  {task_id}: {', '.join(found[task_id])}")
    return 0


def main(argv=None) -> int:
    """Entry point of ``dann-course``; returns the exit code."""
    from .grader import GradingError
    from .markers import MarkerError
    from .rubric import RubricError
    from .student import GeneratorError
    args = _parser().parse_args(argv)
    commands = {"student": _cmd_student, "grade": _cmd_grade, "list": _cmd_list,
                "check": _cmd_check}
    try:
        return commands[args.command](args)
    except (GradingError, MarkerError, RubricError, GeneratorError) as exc:
        print(f"dann-course {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
