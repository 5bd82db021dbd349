"""Every chapter runs top to bottom in its quick mode (as a student would run it)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "chapters").glob("[0-9][0-9]_*.py"))


def test_there_are_chapters():
    assert len(CHAPTERS) >= 3


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_runs_in_quick_mode(chapter, tmp_path):
    env = dict(os.environ, CHAPTER_QUICK="1", CHAPTER_OUT=str(tmp_path), MPLBACKEND="Agg",
               DANN_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, str(chapter)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{chapter.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.stdout.strip(), f"{chapter.name} printed nothing"
