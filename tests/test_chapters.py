"""The chapters: each runs top to bottom in its quick mode (as a student would run it), says
that quick-mode numbers mean nothing, ends with exercises, and shows its figures inline when
opened as a notebook."""
import ast
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "chapters").glob("[0-9][0-9]_*.py"))
IDS = [c.stem for c in CHAPTERS]
QUICK_NOTICE = "Quick mode (CHAPTER_QUICK=1):"
# the functions of the package that write a figure (a PNG) and return its path
FIGURE_WRITERS = {"save_figure", "save_grid", "plot_tsne", "plot_tsne_pair",
                  "plot_training_curves", "plot_decision_boundary", "plot_learning_curves"}


def test_there_are_chapters():
    assert len(CHAPTERS) >= 3


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_chapter_runs_in_quick_mode(chapter, tmp_path):
    env = dict(os.environ, CHAPTER_QUICK="1", CHAPTER_OUT=str(tmp_path), MPLBACKEND="Agg",
               DANN_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, str(chapter)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, \
        f"{chapter.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines, f"{chapter.name} printed nothing"
    # one line, first, says that the numbers of a quick run are not meaningful
    notices = [line for line in lines if line.startswith(QUICK_NOTICE)]
    assert len(notices) == 1 and lines[0] == notices[0], \
        f"{chapter.name}: expected one first line starting {QUICK_NOTICE!r}, got {lines[:3]}"
    assert "not meaningful" in notices[0]
    # every figure it reports was written
    for line in lines:
        if line.startswith("saved ") and line.endswith(".png"):
            assert Path(line[len("saved "):]).is_file(), f"{chapter.name}: {line} is missing"


# -- exercises ---------------------------------------------------------------------------
def cells(source: str) -> list[str]:
    """The ``# %%`` cells of a chapter, in order, each with its marker line."""
    parts = re.split(r"^(?=# %%)", source, flags=re.M)
    return [p for p in parts if p.startswith("# %%")]


def exercise_items(chapter: Path) -> list[str]:
    """The numbered items of the chapter's last cell, which must be an Exercises cell."""
    last = cells(chapter.read_text())[-1]
    head, *body = last.rstrip().splitlines()
    assert head.strip() == "# %% [markdown]", f"{chapter.name}: the last cell is not markdown"
    assert all(line.startswith("#") for line in body), \
        f"{chapter.name}: the Exercises cell must be comments only"
    text = "\n".join(line[1:].removeprefix(" ") for line in body)
    assert text.lstrip().startswith("## Exercises"), \
        f"{chapter.name}: the last cell must start with '## Exercises'"
    return re.split(r"^\d+\. ", text, flags=re.M)[1:]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_chapter_ends_with_exercises(chapter):
    items = exercise_items(chapter)
    assert 3 <= len(items) <= 5, f"{chapter.name}: {len(items)} exercises, want 3 to 5"
    numbers = [int(n) for n in re.findall(r"^# (\d+)\. ", chapter.read_text(), flags=re.M)]
    assert numbers[-len(items):] == list(range(1, len(items) + 1)), chapter.name
    for item in items:
        assert len(item.split()) >= 12, f"{chapter.name}: exercise too short: {item!r}"
    # ordered from easy to hard
    levels = [re.match(r"\*\((easy|medium|hard)\)\*", item) for item in items]
    assert all(levels), f"{chapter.name}: every exercise starts with *(easy|medium|hard)*"
    rank = {"easy": 0, "medium": 1, "hard": 2}
    order = [rank[m.group(1)] for m in levels]
    assert order == sorted(order) and order[0] == 0 and order[-1] == 2, \
        f"{chapter.name}: exercises must go from easy to hard, got {order}"


def test_exercises_point_at_every_assignment():
    """Every assignment A1..A6 is pointed at by some chapter's exercises, through the
    README path of its folder."""
    pointed = set()
    for chapter in CHAPTERS:
        text = " ".join(" ".join(exercise_items(chapter)).split())   # undo the line breaks
        refs = re.findall(r"assignment A(\d)\b.*?coursework/A(\d)/README\.md", text, flags=re.I)
        for n, folder in refs:
            assert n == folder, f"{chapter.name}: assignment A{n} points at coursework/A{folder}"
            pointed.add(int(n))
    assert pointed == {1, 2, 3, 4, 5, 6}


# -- figures inline in a notebook --------------------------------------------------------
@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_every_figure_goes_through_show_if_notebook(chapter):
    """Each call that writes a figure is matched by a show_if_notebook call (the chapters
    pass the returned path on), so a chapter opened as a notebook shows every figure."""
    tree = ast.parse(chapter.read_text())
    names = [node.func.id for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]
    writers = sum(name in FIGURE_WRITERS for name in names)
    assert names.count("show_if_notebook") == writers, \
        f"{chapter.name}: {writers} figure writers but {names.count('show_if_notebook')} " \
        "show_if_notebook calls"


@pytest.fixture
def png(tmp_path):
    import matplotlib.pyplot as plt

    from dann_from_scratch.plots import save_figure

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [1, 0])
    return save_figure(fig, tmp_path / "tiny.png")


def fake_ipython(monkeypatch, shell):
    """Install a stand-in ``IPython`` whose ``get_ipython()`` returns ``shell``; returns
    the list that records what ``IPython.display.display`` was given."""
    shown = []
    display = types.ModuleType("IPython.display")
    display.Image = lambda filename: ("Image", filename)
    display.display = shown.append
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    ipython.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    return shown


def test_show_if_notebook_displays_the_png_in_a_live_shell(monkeypatch, png):
    from dann_from_scratch.plots import show_if_notebook

    shown = fake_ipython(monkeypatch, shell=object())
    assert show_if_notebook(png) == png
    assert shown == [("Image", str(png))]
    assert show_if_notebook(str(png)) == png          # a str path works too, returns a Path


def test_show_if_notebook_does_nothing_without_a_shell(monkeypatch, png):
    from dann_from_scratch.plots import show_if_notebook

    shown = fake_ipython(monkeypatch, shell=None)     # IPython imported, no shell running
    assert show_if_notebook(png) == png
    assert shown == []
    monkeypatch.delitem(sys.modules, "IPython")       # a plain script: never imports IPython
    monkeypatch.delitem(sys.modules, "IPython.display")
    assert show_if_notebook(png) == png
    assert "IPython" not in sys.modules
