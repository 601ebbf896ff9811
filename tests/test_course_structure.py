"""The course as a learner reads it: a lecture-length core, marked deep dives, one convention.

- The visible core of a notebook (what a learner sees without expanding anything or opening a
  deep dive) has at most 2,000 words of Markdown and 150 non-blank lines of code. Plotting,
  verification and set-up cells are collapsed (tag ``hide-input`` for the site, metadata
  ``jupyter.source_hidden`` for JupyterLab); worked solutions are collapsed input and output.
- No self-check hides an exception: notebooks catch no bare ``Exception``
  (``helpers.selfcheck.report`` shows the learner's traceback).
- Every deep dive (a run of consecutive ``optional`` cells) opens with a Markdown cell that says
  so, because JupyterLab shows cell tags only in the property inspector.
- An exercise's worked solution never redefines the learner's function (``foo`` ->
  ``foo_solution``), so running the solution cannot overwrite the learner's attempt.
- The course's simulator and its measurements (``helpers.quadratic``) mean the same in every
  notebook: a notebook that defines one of those names defines it with the helper's signature
  and it gives the helper's numbers; retired names of other simulators do not come back.
"""

from __future__ import annotations

import ast
import inspect
import math
import re
from pathlib import Path

import numpy as np
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from notebook_code import load_definitions, load_notebook, notebook_paths

from helpers import quadratic
from website import decks

NOTEBOOKS = notebook_paths()
CORE_WORDS = 2000
CORE_CODE_LINES = 150
OPENER = "**Going deeper (optional).**"
TO_PYTHON = TransformerManager().transform_cell


load = load_notebook


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def source(cell: dict) -> str:
    return "".join(cell["source"])


def is_notes(cell: dict) -> bool:
    """Speaker notes: shown when the lecturer presses ``s`` on a slide, not on the website."""
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type") == "notes"


def core_words(nb: dict) -> int:
    return sum(
        len(source(c).split())
        for c in nb["cells"]
        if c["cell_type"] == "markdown" and "optional" not in tags(c) and not is_notes(c)
    )


def source_hidden(cell: dict) -> bool:
    return bool(cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"))


def core_code_lines(nb: dict) -> int:
    """Non-blank code lines a learner sees: code cells outside deep dives, not collapsed."""
    return sum(
        1
        for c in nb["cells"]
        if c["cell_type"] == "code" and "optional" not in tags(c) and not source_hidden(c)
        for line in source(c).splitlines()
        if line.strip()
    )


def optional_blocks(nb: dict) -> list[list[int]]:
    """Indices of each maximal run of consecutive cells tagged ``optional``."""
    blocks: list[list[int]] = []
    for i, cell in enumerate(nb["cells"]):
        if "optional" not in tags(cell):
            continue
        if blocks and blocks[-1][-1] == i - 1:
            blocks[-1].append(i)
        else:
            blocks.append([i])
    return blocks


def top_level_defs(cell: dict) -> list[ast.FunctionDef | ast.ClassDef]:
    tree = ast.parse(TO_PYTHON(source(cell)))
    return [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_visible_core_is_lecture_length(path):
    nb = load(path)
    words, lines = core_words(nb), core_code_lines(nb)
    assert words <= CORE_WORDS, f"{path.name}: {words} core words (limit {CORE_WORDS})"
    assert lines <= CORE_CODE_LINES, f"{path.name}: {lines} visible code lines ({CORE_CODE_LINES})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_collapsed_cells_are_collapsed_on_the_site_and_in_jupyterlab(path):
    """One rule, two readers: ``hide-input`` (site) goes with ``source_hidden`` (JupyterLab);
    a solution hides its input and its output in both."""
    for i, cell in enumerate(load(path)["cells"]):
        if cell["cell_type"] != "code":
            continue
        where = f"{path.name}, cell {i} ({cell.get('id')})"
        shown = cell.get("metadata", {}).get("jupyter", {})
        if "solution" in tags(cell):
            assert "hide-cell" in tags(cell), f"{where}: a solution without hide-cell"
            assert shown.get("source_hidden") and shown.get("outputs_hidden"), (
                f"{where}: a solution must be collapsed in JupyterLab (input and output)"
            )
        else:
            assert ("hide-input" in tags(cell)) == source_hidden(cell), (
                f"{where}: tag hide-input and jupyter.source_hidden must go together"
            )


GLOSSARY = NOTEBOOKS[0].parent / "glossary.md"


def test_the_glossary_points_at_sections_that_exist():
    """Each "defined in" link names a notebook and a section number it has."""
    text = GLOSSARY.read_text(encoding="utf-8")
    links = re.findall(r"\[(\d\d) §(\d+)\]\(([\w.]+\.ipynb)\)", text)
    assert len(links) > 30
    for number, section, name in links:
        path = GLOSSARY.parent / name
        assert path.exists() and name.startswith(number), f"glossary: no notebook {name}"
        headings = [source(c) for c in load(path)["cells"] if c["cell_type"] == "markdown"]
        assert any(re.search(rf"^## {section} · ", h, re.M) for h in headings), (
            f"glossary: {name} has no section {section}"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_links_the_glossary(path):
    header = "\n".join(source(c) for c in load(path)["cells"][:4])
    assert "](glossary.md)" in header, f"{path.name}: no glossary link in its header"


STATED_TIME = re.compile(r"\babout (\d+) minutes\b", re.I)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_stated_time_is_in_the_header_and_the_readme(path):
    """A learner plans by it: the notebook's header and README's syllabus give one time."""
    header = "\n".join(source(c) for c in load(path)["cells"][:4] if c["cell_type"] == "markdown")
    stated = STATED_TIME.search(header)
    assert stated, f"{path.name}: its header states no time ('About N minutes: ...')"
    readme = (path.parent.parent / "README.md").read_text(encoding="utf-8")
    row = next((ln for ln in readme.splitlines() if ln.startswith(f"| {path.stem[:2]} |")), "")
    assert f"| {stated.group(1)} min |" in row, f"README's syllabus row for {path.stem}: {row[:60]}"


SWALLOW = re.compile(r"^\s*except\s*(?:\(?\s*(?:Exception|BaseException)\b[^:]*)?:", re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_self_check_can_hide_an_exception(path):
    """A check that catches every exception turns a learner's NameError into "not yet"."""
    found = [
        f"cell {i} ({cell.get('id')})"
        for i, cell in enumerate(load(path)["cells"])
        if cell["cell_type"] == "code" and SWALLOW.search(source(cell))
    ]
    assert not found, f"{path.name}: catches every exception in {found}; use helpers.selfcheck"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_deep_dive_is_marked_and_announced(path):
    nb = load(path)
    blocks = optional_blocks(nb)
    assert blocks, f"{path.name} has no optional deep dive"
    for block in blocks:
        first = nb["cells"][block[0]]
        assert first["cell_type"] == "markdown", f"{path.name}, cell {block[0]}: opener is code"
        assert source(first).lstrip().startswith(OPENER), (
            f"{path.name}, cell {block[0]}: a deep dive must open with {OPENER!r}"
        )
    # The announcement means what it says: no core cell starts like a deep dive.
    for i, cell in enumerate(nb["cells"]):
        if OPENER in source(cell):
            assert "optional" in tags(cell), f"{path.name}, cell {i}: announced but not tagged"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_core_cell_needs_an_optional_one(path):
    """A name the core uses is defined in the core (skipping the deep dives cannot break it)."""
    nb = load(path)
    defined_in = {"core": set(), "optional": set()}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse(TO_PYTHON(source(cell)))
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        names |= {
            t.id
            for n in tree.body
            if isinstance(n, ast.Assign | ast.AugAssign | ast.AnnAssign)
            for t in ast.walk(n)
            if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)
        }
        defined_in["optional" if "optional" in tags(cell) else "core"] |= names
    only_optional = defined_in["optional"] - defined_in["core"]
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or "optional" in tags(cell):
            continue
        tree = ast.parse(TO_PYTHON(source(cell)))
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        # Minus what the cell binds itself: loop and comprehension variables, arguments, imports.
        used -= {
            n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        used -= {
            a.arg
            for n in ast.walk(tree)
            if isinstance(n, ast.arguments)
            for a in n.args + n.kwonlyargs
        }
        used -= {
            (a.asname or a.name).split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.Import | ast.ImportFrom)
            for a in n.names
        }
        assert not used & only_optional, (
            f"{path.name}, cell {i} (core) uses {sorted(used & only_optional)}, "
            "defined only in optional cells"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_worked_solution_is_folded(path):
    """A cell that defines a ``*_solution`` (a function or a value) is tagged ``solution`` and
    folded (``hide-cell``): the site and the PDF show it only when the learner opens it."""
    unfolded = [
        f"cell {i} ({cell.get('id')})"
        for i, cell in enumerate(load(path)["cells"])
        if cell["cell_type"] == "code"
        and re.search(r"^(?:def )?\w+_solution\b\s*[(=]", source(cell), re.M)
        and not {"solution", "hide-cell"} <= set(tags(cell))
    ]
    assert not unfolded, f"{path.name}: worked solutions not folded: {unfolded}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_solution_never_redefines_the_learners_function(path):
    nb = load(path)
    learner: set[str] = set()
    solution: dict[str, int] = {}
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        names = {d.name for d in top_level_defs(cell)}
        if "solution" in tags(cell):
            solution |= dict.fromkeys(names, i)
        else:
            learner |= names
    clashes = {name: i for name, i in solution.items() if name in learner}
    assert not clashes, f"{path.name}: solution cells redefine {clashes}; name them *_solution"
    assert any(name.endswith("_solution") for name in solution), (
        f"{path.name}: no *_solution function"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_says_what_it_shows(path):
    """A figure's alt text is a sentence about its finding (cell metadata ``alt``)."""
    for i, cell in enumerate(load(path)["cells"]):
        images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        if not images:
            continue
        alt = cell["metadata"].get("alt", "")
        assert len(alt.split()) >= decks.MIN_ALT_WORDS, f"{path.name}, cell {i}: no alt text"
        assert not re.search(r"\.(png|jpe?g|svg)\b|/", alt), f"{path.name}, cell {i}: {alt!r}"


# --- one name, one meaning -------------------------------------------------------------------

CONVENTIONS = ["heavy_ball_path", "steps_to_tol", "measured_rate", "heavy_ball_rate", "gd_rate"]
RETIRED = ["heavy_ball", "run_momentum", "run_heavy_ball", "iterations_to"]


def _sample_calls(name: str):
    """Arguments for the helper and the notebook's version of ``name``, and how to compare."""
    eigvals = np.array([0.2, 4.0])
    errors = np.abs(0.9 ** np.arange(60) * np.cos(0.8 * np.arange(60)))
    return {
        "heavy_ball_path": [
            ((lambda x: eigvals * x, np.array([-9.0, 1.5]), 0.4, 0.5, 40), {}),
            ((lambda x: eigvals * x, np.array([-9.0, 1.5]), 0.3, 0.9, 40), {"nesterov": True}),
            ((lambda x: eigvals * x, np.array([1.0, 1.0]), 1.0, 0.0, 400), {"blow_up": 1e6}),
        ],
        "steps_to_tol": [((errors, 1e-2), {}), ((errors, 1e-9), {}), (([1.0, 0.1, 0.3], 0.2), {})],
        "measured_rate": [((errors, 20, 50), {"window": 8}), ((0.5 ** np.arange(9), 2, 8), {})],
        "heavy_ball_rate": [((0.4, 0.5, eigvals), {}), ((0.1, 0.9, [1.0, 10.0]), {})],
        "gd_rate": [((0.4, eigvals), {}), ((0.1, [1.0, 10.0]), {})],
    }[name]


def _definitions() -> list[tuple[Path, str]]:
    found = []
    for path in NOTEBOOKS:
        for cell in load(path)["cells"]:
            if cell["cell_type"] == "code":
                found += [(path, d.name) for d in top_level_defs(cell) if d.name in CONVENTIONS]
    return sorted(set(found))


@pytest.mark.parametrize(
    ("path", "name"), _definitions(), ids=lambda x: x.stem if isinstance(x, Path) else x
)
def test_a_notebook_definition_means_what_the_helper_means(path, name):
    mine = load_definitions(path, [name])[name]
    helper = getattr(quadratic, name)
    assert list(inspect.signature(mine).parameters) == list(inspect.signature(helper).parameters), (
        f"{path.name}: {name} must take the helper's parameters"
    )
    for args, kwargs in _sample_calls(name):
        expected, got = helper(*args, **kwargs), mine(*args, **kwargs)
        if expected is None or isinstance(expected, int):
            assert got == expected, (name, args, kwargs)
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0, err_msg=name)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_retired_simulator_names_stay_retired(path):
    for i, cell in enumerate(load(path)["cells"]):
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse(TO_PYTHON(source(cell)))
        defined = {d.name for d in tree.body if isinstance(d, ast.FunctionDef)}
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        used |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        assert not (defined | used) & set(RETIRED), (
            f"{path.name}, cell {i}: {sorted((defined | used) & set(RETIRED))}; "
            "use helpers.quadratic.heavy_ball_path (one simulator, one meaning)"
        )


def test_the_checks_can_fail():
    # A tiny notebook that breaks every rule above.
    bad = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["word " * (CORE_WORDS + 1)]},
            {"cell_type": "markdown", "metadata": {"tags": ["optional"]}, "source": ["FMA"]},
            {"cell_type": "code", "metadata": {}, "source": ["def f(x):\n    return x\n"]},
            {"cell_type": "code", "metadata": {"tags": ["solution"]}, "source": ["def f(x): 1"]},
        ]
    }
    assert core_words(bad) > CORE_WORDS
    assert core_code_lines({"cells": [bad["cells"][2]] * 76}) > CORE_CODE_LINES
    assert SWALLOW.search("try:\n    f()\nexcept Exception:\n    pass")
    assert SWALLOW.search("try:\n    f()\nexcept:\n    pass")
    assert not SWALLOW.search("try:\n    f()\nexcept ValueError as e:\n    print(e)")
    first = bad["cells"][optional_blocks(bad)[0][0]]
    assert not source(first).startswith(OPENER)
    names = [d.name for c in bad["cells"][2:] for d in top_level_defs(c)]
    assert names == ["f", "f"]
    assert math.isclose(quadratic.measured_rate(0.5 ** np.arange(9), 2, 8), 0.5)
