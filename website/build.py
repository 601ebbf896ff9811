"""Build the course website (Jupyter Book 1.x) and the reveal.js slide decks, fully offline.

    python website/build.py book     ->  _build/book/_build/html/index.html
    python website/build.py slides   ->  _build/slides/index.html (one deck per notebook)

Both read the committed notebooks as they are (their stored outputs; `make test` is what
re-executes and checks them) and refuse to build from a notebook with unexecuted cells or stored
errors. MathJax and reveal.js are copied from website/node_modules (`npm ci` in website/), so the
pages make no request to any other host.
"""

from __future__ import annotations

import html
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
SITE_CSS = """\
/* Deep dives (cells tagged `optional`): one boxed "Going deeper" block on the page. */
.going-deeper, .cell.tag_optional {
  border-left: 4px solid #5b8c5a;
  background: #f3f7f2;
  padding: 0.2rem 1rem;
  margin: 0;
}
/* Code wraps at the box's edge instead of hiding its end behind a sideways scroll. */
div.highlight pre, div.cell_output pre { white-space: pre-wrap; overflow-wrap: anywhere; }
/* A figure wider than the text column spans the window (wide-figures.js); click to zoom. */
img.course-wide { max-width: none !important; position: relative; z-index: 5;
  background: white; cursor: zoom-in; }
.course-zoom { position: fixed; inset: 0; z-index: 1000; background: rgba(0, 0, 0, 0.8);
  overflow: auto; cursor: zoom-out; display: flex; }
.course-zoom img { margin: auto; max-width: none; background: white; }
/* The handout (make pdf): the core path only, the page without its navigation. */
@media print {
  .going-deeper, .cell.tag_optional, .bd-sidebar-primary, .bd-sidebar-secondary,
  .bd-header, .bd-footer, .prev-next-area, .header-article, .bd-footer-article,
  #pst-back-to-top { display: none !important; }
  img.course-wide { width: 100% !important; margin-left: 0 !important; }
  img, div.cell_output { break-inside: avoid; }
  /* A scrolling box prints only its first screenful, then empty pages: let it grow. */
  div.highlight, div.cell_input, div.cell_output, pre { overflow: visible !important;
    max-height: none !important; }
  /* A code block kept whole would leave the rest of a page empty when it does not fit. */
  div[class*="highlight"], div.cell_input, pre { break-inside: auto !important;
    display: block !important; }
  .bd-main .bd-content .bd-article-container { max-width: 100%; }
}
"""
WIDE_FIGURES_JS = """\
// A course figure is drawn large for the lecture hall; squeezed into the text column its
// labels would be a few pixels high. Let a figure wider than its column span the window
// (centred, 16 px from each edge) and open at full size on a click.
function courseWidenFigures() {
  document.querySelectorAll("div.cell_output img").forEach((img) => {
    if (!img.complete || !img.naturalWidth) {
      img.addEventListener("load", courseWidenFigures, { once: true });
      return;
    }
    img.classList.remove("course-wide");
    img.style.width = "";
    img.style.marginLeft = "";
    const box = img.parentElement.getBoundingClientRect();
    if (img.naturalWidth <= box.width + 1) return;
    const width = Math.min(img.naturalWidth, window.innerWidth - 32);
    img.classList.add("course-wide");
    img.style.width = width + "px";
    img.style.marginLeft = (window.innerWidth - width) / 2 - box.left + "px";
  });
}
window.addEventListener("load", courseWidenFigures);
window.addEventListener("resize", courseWidenFigures);
document.addEventListener("click", (event) => {
  const zoom = document.querySelector(".course-zoom");
  if (zoom) return zoom.remove();
  if (!event.target.matches("img.course-wide")) return;
  const layer = document.createElement("div");
  layer.className = "course-zoom";
  const big = document.createElement("img");
  big.src = event.target.src;
  big.alt = event.target.alt;
  layer.appendChild(big);
  document.body.appendChild(layer);
});
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


def slide_type(cell: dict) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def with_alt_text(cell: dict) -> dict:
    """A figure cell's ``alt`` metadata (a sentence: the figure's finding) on its images.

    nbconvert reads the alt text from the output's metadata, myst-nb from its image options.
    """
    alt = cell.get("metadata", {}).get("alt")
    if cell["cell_type"] == "code" and alt:
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                output.setdefault("metadata", {}).setdefault("image/png", {})["alt"] = alt
        cell["metadata"].setdefault("mystnb", {}).setdefault("image", {})["alt"] = alt
    return cell


def for_the_site(nb: dict) -> dict:
    """Optional Markdown boxed (code cells get the box from their ``tag_optional`` class).

    Speaker notes (slide type ``notes``) are for the lecturer, not body text: they stay out.
    """
    cells = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown" and slide_type(cell) == "notes":
            continue
        with_alt_text(without_widget_views(cell))
        if cell["cell_type"] == "markdown" and OPTIONAL in tags(cell):
            cell["source"] = boxed_markdown("".join(cell["source"]))
        cells.append(cell)
    nb["cells"] = cells
    return nb


SHOW_CODE = "slide-code"  # a code cell whose code an instructor wants on the slide
HIDE_INPUT = "slide-hidden-input"  # added here; nbconvert's TagRemovePreprocessor drops it
SLIDE_WORDS = 110  # a long Markdown cell is split into slides of at most about this many words


def _smaller_blocks(block: str, limit: int) -> list[str]:
    """A block over ``limit`` words cut between list items, or else between sentences."""
    if len(block.split()) <= limit or block.lstrip().startswith(("$$", "```", "~~~")):
        return [block]
    lines = block.splitlines()
    if lines[0].startswith("|"):  # a table: its rows in chunks, each under the header again
        head, rows = lines[:2], lines[2:]
        per_row = max(1, len(" ".join(rows).split()) // max(1, len(rows)))
        step = max(1, (limit - len(" ".join(head).split())) // per_row)
        return ["\n".join(head + rows[i : i + step]) for i in range(0, len(rows), step)]
    item = re.compile(r"(?:[-*+]|\d+\.) ")
    if item.match(lines[0]):
        items: list[list[str]] = []
        for line in lines:
            if item.match(line) or not items:
                items.append([line])
            else:
                items[-1].append(line)
        return ["\n".join(i) for i in items]
    # Sentences: a full stop, question or exclamation mark, then a space, outside maths.
    text, pieces, start, maths = block, [], 0, False
    for i, char in enumerate(text):
        if char == "$":
            maths = not maths
        elif not maths and char in ".?!" and text[i + 1 : i + 2] in (" ", "\n"):
            pieces.append(text[start : i + 1].strip())
            start = i + 1
    pieces.append(text[start:].strip())
    return [" ".join(pieces)] if len(pieces) == 1 else [p for p in pieces if p]


def _is_lead_in(block: str) -> bool:
    """A heading, a bold label ("**You will learn**") or a line ending in a colon."""
    last = block.rstrip().splitlines()[-1] if block.strip() else ""
    return bool(
        re.match(r"#{1,6} ", last) or re.fullmatch(r"\*\*[^*]+\*\*:?", last) or last.endswith(":")
    )


def _belong_together(before: str, after: str) -> bool:
    """Two blocks a slide break must not separate: a lead-in and what it introduces, or a
    sentence that runs on after a displayed equation."""
    runs_on = before.rstrip().endswith(",") or bool(re.match(r"[a-z(]", after.lstrip()))
    return _is_lead_in(before) or runs_on


def split_for_slides(source: str, limit: int = SLIDE_WORDS) -> list[str]:
    """A Markdown cell cut into pieces of at most ``limit`` words where possible.

    Cuts fall at blank lines, then between list items, then between sentences; a displayed
    equation, a table or a fenced block stays whole, and a heading stays with what follows.
    """
    blocks, current, fence, maths = [], [], False, False
    for line in source.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        if line.strip() == "$$" or (line.strip().startswith("$$") != line.strip().endswith("$$")):
            maths = not maths
        current.append(line)
        if not line.strip() and not fence and not maths:
            blocks.append("\n".join(current).strip("\n"))
            current = []
    blocks.append("\n".join(current).strip("\n"))
    blocks = [small for b in blocks if b.strip() for small in _smaller_blocks(b, limit)]
    pieces: list[list[str]] = []
    for block in blocks:
        size = sum(len(b.split()) for b in pieces[-1]) if pieces else 0
        if not pieces:
            pieces.append([block])
        elif size + len(block.split()) <= limit:
            pieces[-1].append(block)
        elif _belong_together(pieces[-1][-1], block):
            if len(pieces[-1]) > 1 and _is_lead_in(pieces[-1][-1]):
                pieces.append([pieces[-1].pop(), block])  # the lead-in moves with its block
            else:
                pieces[-1].append(block)
        else:
            pieces.append([block])
    return ["\n\n".join(p) for p in pieces] or [source]


def for_the_slides(nb: dict) -> dict:
    """The core path as slides: figures and short text, speaker notes, no deep dives.

    - Optional cells and solutions are skipped; a skipped cell that opened a slide hands that
      on to the next shown cell.
    - A code cell shows its figures only (its code and printed checks stay in the notebook)
      unless it is tagged ``slide-code``; with nothing left to show it is skipped.
    - Each figure opens a slide of its own, and the cell after it opens the next one.
    - A long Markdown cell becomes several slides.
    """
    cells: list[dict] = []
    carry = None  # "slide" or "subslide" from a skipped cell, for the next shown cell
    anchor: int | None = None  # where notes go when a heading cell became several slides
    slide_words = 0  # words of Markdown on the slide being filled
    after_figure = False
    for cell in nb["cells"]:
        with_alt_text(without_widget_views(cell))
        show = cell.setdefault("metadata", {}).setdefault("slideshow", {})
        kind = show.get("slide_type", "-")
        if cell["cell_type"] == "code" and SHOW_CODE not in tags(cell):
            cell["metadata"]["tags"] = [*tags(cell), HIDE_INPUT]
            cell["outputs"] = [o for o in cell["outputs"] if "image/png" in o.get("data", {})]
            if not cell["outputs"]:
                kind = "skip"
        if OPTIONAL in tags(cell) or kind == "skip":
            original = show.get("slide_type", "-")
            if original in ("slide", "subslide") and carry != "slide":
                carry = original
            show["slide_type"] = "skip"
            cells.append(cell)
            continue
        if kind == "notes":
            # Notes after a heading cell that was split belong to its first slide.
            if anchor is None:
                cells.append(cell)
            else:
                cells.insert(anchor, cell)
            anchor = None
            continue
        anchor = None
        has_figure = cell["cell_type"] == "code" and any(
            "image/png" in o.get("data", {}) for o in cell["outputs"]
        )
        if kind in ("-", "fragment"):
            if carry:
                kind = carry
            elif has_figure or after_figure:
                kind = "subslide"
        carry, after_figure = None, has_figure
        if cell["cell_type"] != "markdown":
            show["slide_type"] = kind
            slide_words = 0 if kind in ("slide", "subslide") else slide_words
            cells.append(cell)
            continue
        pieces = split_for_slides("".join(cell["source"]))
        if len(pieces) > 1 and re.match(r"#{1,2} ", pieces[0]):
            anchor = len(cells) + 1  # just after the first piece
        for i, piece in enumerate(pieces):
            part = json.loads(json.dumps(cell))
            part["source"] = piece
            words = len(piece.split())
            # A piece opens a slide of its own when the slide it would join is full.
            if i or (kind in ("-", "fragment") and slide_words + words > SLIDE_WORDS):
                kind = "subslide"
            if i:
                part["id"] = f"{cell.get('id', 'cell')}-{i}"
            part["metadata"]["slideshow"]["slide_type"] = kind
            slide_words = words if kind in ("slide", "subslide") else slide_words + words
            cells.append(part)
    nb["cells"] = cells
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
    # Jupyter Book links every .css and .js file in _static into every page.
    (src / "_static").mkdir()
    (src / "_static" / "course.css").write_text(SITE_CSS, encoding="utf-8")
    (src / "_static" / "wide-figures.js").write_text(WIDE_FIGURES_JS, encoding="utf-8")
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
        "--TagRemovePreprocessor.enabled=True",
        f"--TagRemovePreprocessor.remove_input_tags={HIDE_INPUT}",
        "--output-dir",
        str(out),
        *(str(src / p.name) for p in NOTEBOOKS),
    ]
    result = subprocess.run(_venv(cmd), cwd=ROOT)
    if result.returncode != 0:
        fail(f"nbconvert failed (exit {result.returncode})")
    (out / "index.html").write_text(slide_index(statuses), encoding="utf-8")
    print(f"slides: {len(NOTEBOOKS)} decks -> {out / 'index.html'}")


INDEX_CSS = """
body { font: 18px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
  color: #222; }
h1 { font-size: 2rem; margin-bottom: 0.2rem; }
p.lead { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; }
td { border-top: 1px solid #ddd; padding: 0.6rem 0.5rem; vertical-align: top; }
td.number { font-weight: 600; color: #0072B2; width: 2.5rem; }
td.deck a { font-weight: 600; color: #0072B2; text-decoration: none; }
td.deck a:hover { text-decoration: underline; }
code { background: #f2f2f2; padding: 0 0.2em; border-radius: 3px; font-size: 0.9em; }
"""


def _inline_html(text: str) -> str:
    """Markdown's `code` spans as <code>, everything else escaped."""
    parts = re.split(r"`([^`]*)`", text)
    return "".join(
        f"<code>{html.escape(part)}</code>" if i % 2 else html.escape(part)
        for i, part in enumerate(parts)
    )


def slide_index(statuses: list[dict]) -> str:
    """The decks' start page: the syllabus, each chapter linked to its deck."""
    goals = {}
    for row in syllabus_from_readme().splitlines()[2:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) == 3:
            goals[cells[0]] = cells[2]
    rows = "\n".join(
        f'<tr><td class="number">{s["name"][:2]}</td><td class="deck">'
        f'<a href="{s["name"]}.slides.html">{_inline_html(s["title"].split("·")[-1].strip())}</a>'
        f"<br>{_inline_html(goals.get(s['name'][:2], ''))}</td></tr>"
        for s in statuses
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Momentum, from scratch: slides</title><style>{INDEX_CSS}</style></head>\n"
        "<body><h1>Momentum, from scratch: slides</h1>\n"
        "<p class='lead'>One deck per chapter, the core path of each notebook. In a deck: "
        "arrow keys to move, <kbd>s</kbd> for the speaker notes, <kbd>Esc</kbd> for the "
        f"overview.</p>\n<table>\n{rows}\n</table></body></html>\n"
    )


def _venv(cmd: list[str]) -> list[str]:
    """Run a console script from the same environment as this interpreter."""
    exe = Path(sys.executable).parent / cmd[0]
    return [str(exe), *cmd[1:]] if exe.exists() else cmd


if __name__ == "__main__":
    targets = {"book": book, "slides": slides}
    if len(sys.argv) != 2 or sys.argv[1] not in targets:
        fail(f"usage: python website/build.py {{{'|'.join(targets)}}}")
    targets[sys.argv[1]]()
