"""Coursework: six graded assignments cut from the library itself.

The reference solutions are the library: regions of ``minigrad`` and ``dann_from_scratch``
between ``# BEGIN SOLUTION Ax.y`` and ``# END SOLUTION`` are what students write. This
package holds the tooling around them:

* :mod:`coursework.markers`  parse and validate the solution regions
* :mod:`coursework.student`  write a student tree (regions of week N and later stubbed)
* :mod:`coursework.grader`   grade a tree offline with public + hidden tests
* :mod:`coursework.checks`   assertion helpers the graded tests use
* :mod:`coursework.cli`      the ``dann-course`` command

and one folder per assignment (``A1`` ... ``A6``) with its README, rubric, starter
script, questions and tests. See ``coursework/README.md``.
"""
from pathlib import Path

#: the folder of this package (the instructor's copy of the assignments and their tests)
COURSEWORK_DIR = Path(__file__).resolve().parent
#: the repository root (a clone of the project, or a student tree)
REPO_ROOT = COURSEWORK_DIR.parent
#: the assignments, in order
ASSIGNMENTS = (1, 2, 3, 4, 5, 6)
