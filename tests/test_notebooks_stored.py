"""Checks on the notebooks as committed, which strict nbval alone does not make.

nbval compares fresh outputs with stored ones, so an error stored in both (a figure that failed
to draw, say) would pass, and a cell stored without execution is silently skipped. These tests
read the files and fail on such things, and on conventions the website and slides rely on.
"""

from __future__ import annotations

import re

import pytest
from notebook_code import load_notebook, notebook_paths

NOTEBOOKS = notebook_paths()
SLIDE_TYPES = {"slide", "subslide", "fragment", "-", "skip", "notes"}


load = load_notebook


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def text(output: dict) -> str:
    value = output.get("text", "")
    return value if isinstance(value, str) else "".join(value)


def test_the_course_has_its_notebooks():
    # The syllabus, in order: a renamed, missing or extra notebook shows up here.
    numbers = [p.name[:2] for p in NOTEBOOKS]
    assert numbers == [f"{k:02d}" for k in range(1, 10)], numbers


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_executed_in_order_without_errors(path):
    cells = code_cells(load(path))
    counts = [c["execution_count"] for c in cells]
    assert None not in counts, f"{path.name}: cells stored without execution (make execute)"
    assert counts == sorted(counts) and len(set(counts)) == len(counts), "out of order"
    for i, cell in enumerate(cells):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name}, code cell {i}: stored error"
            is_stderr = out["output_type"] == "stream" and out.get("name") == "stderr"
            assert not is_stderr, f"{path.name}, code cell {i}: stderr output {text(out)[:200]!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_conventions(path):
    nb = load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    first = "".join(nb["cells"][0]["source"])
    assert first.startswith("# "), f"{path.name} must open with its title"
    for i, cell in enumerate(nb["cells"]):
        slide_type = cell.get("metadata", {}).get("slideshow", {}).get("slide_type")
        assert slide_type in SLIDE_TYPES, f"{path.name}, cell {i}: slide_type {slide_type!r}"
    solutions = [c for c in code_cells(nb) if "solution" in c["metadata"].get("tags", [])]
    assert solutions, f"{path.name} has no exercise solutions"
    for cell in solutions:
        assert "hide-cell" in cell["metadata"]["tags"]
        assert cell["metadata"]["slideshow"]["slide_type"] == "skip"
    figures = sum("image/png" in o.get("data", {}) for c in code_cells(nb) for o in c["outputs"])
    assert figures >= 1, f"{path.name} stores no figure"


# An absolute path (/home/..., /tmp/..., C:\Users\...) or a climb out of the repository
# (../..): a learner's clone has neither. URLs ("https://...") are fine.
OUTSIDE = re.compile(
    r"(?<![\w.:/])(/(home|root|tmp|usr|opt|var|work|Users|mnt|srv)/)"
    r"|((?<![\w$\\])[A-Za-z]:\\[A-Za-z][\w .-]*\\)"
    r"|(\.\./\.\.)"
    r"|((?<![\w.])\.\./(?!helpers|data|tests|benchmarks|notebooks|README))"
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_self_contained(path):
    """No source or stored output names a path outside the repository."""
    nb = load(path)
    for i, cell in enumerate(nb["cells"]):
        texts = ["".join(cell["source"])]
        for out in cell.get("outputs", []):
            texts.append(text(out))
            texts += [
                v if isinstance(v, str) else "".join(v)
                for k, v in out.get("data", {}).items()
                if k.startswith("text/")
            ]
        for t in texts:
            match = OUTSIDE.search(t)
            assert match is None, f"{path.name}, cell {i}: {match.group(0)!r} leaves the repo"


def test_the_outside_path_check_can_fail():
    for bad in [
        "/home/ann/course",
        "see /tmp/x.csv",
        "../../elsewhere",
        "../outside/x",
        "C:\\Users\\a",
    ]:
        assert OUTSIDE.search(bad), bad
    for good in ["https://pytorch.org/docs/x", "data/README.md", "../helpers/optim.py", "a/b"]:
        assert OUTSIDE.search(good) is None, good
