"""The one place tests read the notebooks: their files, their cells, and the functions they
derive, run outside the notebook so tests can compare them with helpers/.

``load_definitions("notebooks/03_momentum.ipynb", ["sgd_momentum"])`` executes every top-level
import of the notebook plus the (last) top-level ``def``/``class`` of each requested name, and
returns them in a dict. Nothing else of the notebook runs, so this is fast and side-effect free.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from IPython.core.inputtransformer2 import TransformerManager

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def notebook_paths() -> list[Path]:
    """The course's (English) notebooks, in order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _path(notebook: str | Path) -> Path:
    path = Path(notebook)
    if not path.is_absolute():
        path = NOTEBOOKS / path.name
    if not path.is_file():
        raise FileNotFoundError(f"no notebook {path.name} in {NOTEBOOKS.name}/ (renamed?)")
    return path


def load_notebook(notebook: str | Path) -> dict:
    """A notebook as stored: its JSON (by name, e.g. "03_momentum.ipynb", or by path)."""
    return json.loads(_path(notebook).read_text(encoding="utf-8"))


def cells(notebook: str | Path) -> list[dict]:
    return load_notebook(notebook)["cells"]


def _code_cells(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in cells(path) if c["cell_type"] == "code"]


def load_definitions(notebook: str | Path, names: list[str]) -> dict[str, Any]:
    """Execute the notebook's imports and its definitions of ``names``; return those objects."""
    path = _path(notebook)
    imports: list[ast.stmt] = []
    defs: dict[str, ast.stmt] = {}
    to_python = TransformerManager().transform_cell  # %magic / !shell lines -> plain Python
    for source in _code_cells(path):
        for node in ast.parse(to_python(source)).body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                imports.append(node)
            elif isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in names:
                defs[node.name] = node  # a later definition replaces an earlier one
    missing = sorted(set(names) - set(defs))
    if missing:
        raise LookupError(f"{path.name} defines no top-level {', '.join(missing)}")
    module = ast.Module(body=imports + list(defs.values()), type_ignores=[])
    namespace: dict[str, Any] = {"__name__": f"notebook_{path.stem}"}
    exec(compile(module, str(path), "exec"), namespace)
    return {name: namespace[name] for name in names}


def defined_names(source: str) -> set[str]:
    """Names a cell's code binds at top level: its functions, classes and assigned names."""
    names: set[str] = set()
    for node in ast.parse(TransformerManager().transform_cell(source)).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names
