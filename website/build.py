"""Build the course website (Jupyter Book 1.x) and the reveal.js slide decks, fully offline.

    python website/build.py book     ->  _build/book/_build/html/index.html
    python website/build.py slides   ->  _build/slides/index.html (one deck per notebook)

Both read the committed notebooks as they are (their stored outputs; `make test` is what
re-executes and checks them) and refuse to build from a notebook with unexecuted cells or stored
errors. MathJax and reveal.js are copied from website/node_modules (`npm ci` in website/), so the
pages make no request to any other host.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "website"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BUILD = ROOT / "_build"
NODE = SITE / "node_modules"


def fail(message: str) -> None:
    print(f"build.py: {message}", file=sys.stderr)
    raise SystemExit(1)


def notebook_status(path: Path) -> dict:
    """Counts from a stored notebook: cells, unexecuted, errors, figures, exercises, run time."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    outputs = [o for c in code for o in c.get("outputs", [])]
    # nbclient records when each cell started and finished; the span is the last run's time.
    stamps = [
        datetime.fromisoformat(c["metadata"]["execution"][key].replace("Z", "+00:00"))
        for c in code
        for key in ("iopub.execute_input", "shell.execute_reply")
        if key in c.get("metadata", {}).get("execution", {})
    ]
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    title = next((ln[2:].strip() for ln in markdown.splitlines() if ln.startswith("# ")), path.stem)
    return {
        "math": bool(re.search(r"\$[^$\n]+\$", markdown)),  # inline or display maths
        "name": path.stem,
        "title": title,
        "code_cells": len(code),
        "unexecuted": sum(c.get("execution_count") is None for c in code),
        "errors": sum(o.get("output_type") == "error" for o in outputs),
        "figures": sum("image/png" in o.get("data", {}) for o in outputs),
        "exercises": sum("solution" in c.get("metadata", {}).get("tags", []) for c in code),
        "seconds": (max(stamps) - min(stamps)).total_seconds() if stamps else None,
        "executed_on": max(stamps).date().isoformat() if stamps else None,
    }


def check_notebooks() -> list[dict]:
    if not NOTEBOOKS:
        fail("no notebooks found in notebooks/")
    statuses = [notebook_status(p) for p in NOTEBOOKS]
    bad = [s for s in statuses if s["unexecuted"] or s["errors"]]
    for s in bad:
        print(
            f"build.py: {s['name']}: {s['unexecuted']} unexecuted cells, {s['errors']} errors",
            file=sys.stderr,
        )
    if bad:
        fail("re-execute the notebooks (make execute) before building")
    return statuses


OPTIONAL = "optional"  # the cell tag of a deep dive: boxed on the site, left out of the slides
# A live widget's output; the site and slides store no widget state, so they drop it and show
# the static figure the notebook draws next to it.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
GOING_DEEPER_CSS = """\
/* Deep dives (cells tagged `optional`): one boxed "Going deeper" block on the page. */
.going-deeper, .cell.tag_optional {
  border-left: 4px solid #5b8c5a;
  background: #f3f7f2;
  padding: 0.2rem 1rem;
  margin: 0;
}
.going-deeper + .going-deeper, .going-deeper + .cell.tag_optional,
.cell.tag_optional + .going-deeper, .cell.tag_optional + .cell.tag_optional {
  margin-top: 0;
}
"""


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def without_widget_views(cell: dict) -> dict:
    """A code cell without live-widget outputs: a static page can only show their text stub."""
    if cell["cell_type"] == "code":
        outputs = cell.get("outputs", [])
        cell["outputs"] = [o for o in outputs if WIDGET_VIEW not in o.get("data", {})]
    return cell


def boxed_markdown(source: str) -> str:
    """An optional Markdown cell wrapped in a ``going-deeper`` container.

    Section headings stay outside the container (docutils allows no section inside one), so a
    heading in a deep dive starts a new box below it.
    """
    parts: list[str] = []
    body: list[str] = []

    def close() -> None:
        if "".join(body).strip():
            parts.append("::::{container} going-deeper\n" + "".join(body).strip("\n") + "\n::::\n")
        body.clear()

    fence = False
    for line in source.splitlines(keepends=True):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        if not fence and re.match(r"#{1,6} ", line):
            close()
            parts.append(line if line.endswith("\n") else line + "\n")
        else:
            body.append(line)
    close()
    return "\n".join(parts)


def for_the_site(nb: dict) -> dict:
    """Optional Markdown boxed (code cells get the box from their ``tag_optional`` class)."""
    for cell in nb["cells"]:
        without_widget_views(cell)
        if cell["cell_type"] == "markdown" and OPTIONAL in tags(cell):
            cell["source"] = boxed_markdown("".join(cell["source"]))
    return nb


def for_the_slides(nb: dict) -> dict:
    """Optional cells skipped; a skipped cell that opened a slide hands that on to the next."""
    carry = None
    for cell in nb["cells"]:
        without_widget_views(cell)
        show = cell.setdefault("metadata", {}).setdefault("slideshow", {})
        kind = show.get("slide_type", "-")
        if OPTIONAL in tags(cell):
            if kind in ("slide", "subslide"):
                carry = carry or kind
            show["slide_type"] = "skip"
        elif kind != "skip" and carry:
            if kind in ("-", "fragment"):
                show["slide_type"] = carry
            carry = None
    return nb


def copy_tree(src: Path, dst: Path) -> None:
    if not src.is_dir():
        fail(f"{src} is missing: run `npm ci` in website/ (make book does this)")
    shutil.copytree(src, dst, dirs_exist_ok=True)


def syllabus_from_readme() -> str:
    """The README's syllabus table, with links rewritten for the website's flat layout."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"## Syllabus\n(.*?)\n## ", readme, flags=re.S)
    if not match:
        fail("README.md has no '## Syllabus' section")
    return match.group(1).replace("](notebooks/", "](").strip()


def status_page(statuses: list[dict]) -> str:
    rows = [
        "| notebook | code cells | stored errors | figures | exercises | last run | run time |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in statuses:
        seconds = f"{s['seconds']:.1f} s" if s["seconds"] is not None else "n/a"
        rows.append(
            f"| [{s['title']}]({s['name']}.ipynb) | {s['code_cells']} | {s['errors']} | "
            f"{s['figures']} | {s['exercises']} | {s['executed_on'] or 'n/a'} | {seconds} |"
        )
    return (
        "# Execution status\n\n"
        "Every notebook on this site is shown with the outputs stored in the repository. The "
        "build refuses a notebook with an unexecuted cell or a stored error, and `make test` "
        "re-executes every notebook and compares each fresh text output with the stored one "
        "(strict nbval), so what you read is what the code prints today.\n\n"
        "Run time is the span of the last stored execution, on the machine that ran "
        "`make execute`.\n\n" + "\n".join(rows) + "\n"
    )


def book() -> None:
    statuses = check_notebooks()
    src = BUILD / "book-src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for path in NOTEBOOKS:
        nb = for_the_site(json.loads(path.read_text(encoding="utf-8")))
        (src / path.name).write_text(json.dumps(nb), encoding="utf-8")
    shutil.copy(SITE / "_config.yml", src / "_config.yml")
    # Jupyter Book links every .css file in _static into every page.
    (src / "_static").mkdir()
    (src / "_static" / "going-deeper.css").write_text(GOING_DEEPER_CSS, encoding="utf-8")
    intro = (SITE / "intro.md").read_text(encoding="utf-8")
    (src / "intro.md").write_text(intro.replace("{{ syllabus }}", syllabus_from_readme()))
    (src / "status.md").write_text(status_page(statuses), encoding="utf-8")
    chapters = "".join(f"  - file: {p.stem}\n" for p in NOTEBOOKS)
    (src / "_toc.yml").write_text(
        f"format: jb-book\nroot: intro\nchapters:\n{chapters}  - file: status\n", encoding="utf-8"
    )
    # An "extra path" is copied to the site's root as is; files in _static would each be
    # added to every page as a <script>.
    copy_tree(NODE / "mathjax" / "es5", src / "_assets" / "mathjax")
    out = BUILD / "book"
    shutil.rmtree(out, ignore_errors=True)
    # -W: any Sphinx warning fails the build; -n: nitpicky (broken references are warnings).
    cmd = ["jupyter-book", "build", str(src), "--path-output", str(out), "-W", "-n", "--keep-going"]
    result = subprocess.run(_venv(cmd), cwd=ROOT)
    if result.returncode != 0:
        fail(f"jupyter-book failed (exit {result.returncode})")
    print(f"book: {len(NOTEBOOKS)} notebooks -> {out / '_build' / 'html' / 'index.html'}")


def slides() -> None:
    statuses = check_notebooks()
    out = BUILD / "slides"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    copy_tree(NODE / "reveal.js" / "dist", out / "reveal.js" / "dist")
    copy_tree(NODE / "reveal.js" / "plugin", out / "reveal.js" / "plugin")
    copy_tree(NODE / "mathjax" / "es5", out / "mathjax")
    # nbconvert titles a deck with the notebook's metadata title: give it the chapter's title.
    src = BUILD / "slides-src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for path, status in zip(NOTEBOOKS, statuses, strict=True):
        nb = for_the_slides(json.loads(path.read_text(encoding="utf-8")))
        nb["metadata"]["title"] = status["title"]
        (src / path.name).write_text(json.dumps(nb), encoding="utf-8")
    cmd = [
        "jupyter",
        "nbconvert",
        "--to",
        "slides",
        f"--TemplateExporter.extra_template_basedirs={SITE / 'templates'}",
        "--template",
        "slides_offline",
        "--SlidesExporter.reveal_url_prefix=reveal.js",
        "--SlidesExporter.reveal_theme=white",
        "--SlidesExporter.mathjax_url=mathjax/tex-chtml.js",
        "--output-dir",
        str(out),
        *(str(src / p.name) for p in NOTEBOOKS),
    ]
    result = subprocess.run(_venv(cmd), cwd=ROOT)
    if result.returncode != 0:
        fail(f"nbconvert failed (exit {result.returncode})")
    links = "\n".join(
        f'<li><a href="{s["name"]}.slides.html">{s["title"]}</a></li>' for s in statuses
    )
    (out / "index.html").write_text(
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<title>Momentum, from scratch: slides</title></head>\n"
        f"<body><h1>Momentum, from scratch: slides</h1>\n<ul>\n{links}\n</ul></body></html>\n",
        encoding="utf-8",
    )
    print(f"slides: {len(NOTEBOOKS)} decks -> {out / 'index.html'}")


def _venv(cmd: list[str]) -> list[str]:
    """Run a console script from the same environment as this interpreter."""
    exe = Path(sys.executable).parent / cmd[0]
    return [str(exe), *cmd[1:]] if exe.exists() else cmd


if __name__ == "__main__":
    targets = {"book": book, "slides": slides}
    if len(sys.argv) != 2 or sys.argv[1] not in targets:
        fail(f"usage: python website/build.py {{{'|'.join(targets)}}}")
    targets[sys.argv[1]]()
