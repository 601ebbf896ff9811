"""Build the course website (Jupyter Book 1.x) and the reveal.js slide decks, fully offline.

    python website/build.py book     ->  _build/book/_build/html/index.html
    python website/build.py slides   ->  _build/slides/index.html (one deck per notebook)

Both read the committed notebooks as they are (their stored outputs; `make test` is what
re-executes and checks them) and refuse to build from a notebook with unexecuted cells or stored
errors. MathJax and reveal.js are copied from website/node_modules (`npm ci` in website/), so the
pages make no request to any other host.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import string
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from website import decks

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
    """A figure cell's ``alt`` metadata (a sentence: the figure's finding) on its images, and
    its smallest text size as a class ``text-px-N`` (N: hundredths of a PNG pixel) that the
    page check reads; myst-nb takes both from the cell's image options.
    """
    metadata = cell.get("metadata", {})
    if cell["cell_type"] != "code":
        return cell
    options = {}
    if metadata.get("alt"):
        options["alt"] = metadata["alt"]
    pngs = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    sizes = {o.get("metadata", {}).get("image/png", {}).get("text_px") for o in pngs}
    if len(sizes) == 1 and None not in sizes:
        options["classes"] = f"text-px-{round(100 * sizes.pop())}"
    if options:
        metadata.setdefault("mystnb", {}).setdefault("image", {}).update(options)
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


def book() -> None:
    check_notebooks()
    src = BUILD / "book-src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for path in NOTEBOOKS:
        nb = for_the_site(json.loads(path.read_text(encoding="utf-8")))
        (src / path.name).write_text(json.dumps(nb), encoding="utf-8")
    shutil.copy(SITE / "_config.yml", src / "_config.yml")
    # Jupyter Book links every .css and .js file in _static into every page.
    (src / "_static").mkdir()
    for name in ("course.css", "wide-figures.js"):
        shutil.copy(SITE / "static" / name, src / "_static" / name)
    intro = (SITE / "intro.md").read_text(encoding="utf-8")
    (src / "intro.md").write_text(intro.replace("{{ syllabus }}", syllabus_from_readme()))
    shutil.copy(ROOT / "notebooks" / "glossary.md", src / "glossary.md")
    shutil.copy(SITE / "_toc.yml", src / "_toc.yml")
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


def _math_html(renderer, tokens, idx, options, env) -> str:
    """TeX as MathJax reads it in the deck: \\( \\) inline, \\[ \\] displayed; a $ is text."""
    token = tokens[idx]
    inline = token.type == "math_inline"
    body = html.escape(token.content)
    return f"\\({body}\\)" if inline else f"<p class='display'>\\[{body}\\]</p>\n"


def _markdown():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    dollarmath_plugin(md, double_inline=False, allow_digits=True)
    md.add_render_rule("math_inline", _math_html)
    md.add_render_rule("math_block", _math_html)
    return md


def deck_html(deck: decks.Deck, figures: Path) -> str:
    """A deck's slides as reveal.js sections; each figure it shows is written into ``figures``.

    A figure's alt text and smallest text size (``data-text-px``, in the PNG's pixels) come
    from its notebook cell; a labelled cell's printed table replaces its ``{{ output: }}``.
    """
    md = _markdown()
    cells: dict[str, dict] = {}
    for stem in deck.chapters:
        cells.update(decks.labelled_cells(decks.load_notebook(stem)))

    def figure(match: re.Match) -> str:
        alt, label = match.groups()
        cell = cells[label]
        output = decks.figure_output(cell)
        if output is None:
            fail(f"{deck.name}: the cell labelled {label!r} has no single figure")
        (figures / f"{label}.png").write_bytes(base64.b64decode(output["data"]["image/png"]))
        text_px = output.get("metadata", {}).get("image/png", {}).get("text_px", "")
        alt = alt or cell["metadata"].get("alt", "")
        return (
            f'<img class="figure" src="figures/{label}.png" alt="{html.escape(alt)}" '
            f'data-text-px="{text_px}">'
        )

    def printed_table(match: re.Match) -> str:
        # A blank line after the closing tag, so Markdown after it is parsed as Markdown.
        return f'<div class="exhibit">\n\n{decks.output_text(cells[match.group(1)])}\n\n</div>\n'

    sections = []
    for slide in deck.slides:
        attrs = " ".join(a.strip() for a in decks.SLIDE_ATTRS.findall(slide.body))
        if slide.backup:
            attrs = (
                re.sub(r'class="', 'class="backup ', attrs)
                if "class=" in attrs
                else (attrs + ' class="backup"')
            )
        body = decks.COMMENT.sub("", slide.body)
        body = decks.OUTPUT.sub(printed_table, body)
        body = md.render(decks.FIGURE.sub(figure, body))
        # A figure fills its slide's column only as a direct child of the slide.
        body = re.sub(r"<p>(<img class=\"figure\"[^>]*>)</p>", r"\1", body)
        notes = re.sub(rf"^({'|'.join(decks.NOTE_FIELDS)}):", r"**\1:**", slide.notes, flags=re.M)
        # Each field on its own line in the speaker view.
        notes = md.render(re.sub(r"\n(?=\*\*)", "\n\n", notes))
        sections.append(
            f'<section {attrs}>\n{body}<aside class="notes">\n{notes}</aside>\n</section>'
        )
    return "\n".join(sections)


def slides() -> None:
    """One reveal.js deck per lecture (lectures/*.md), offline, with an index page."""
    check_notebooks()
    out = BUILD / "slides"
    shutil.rmtree(out, ignore_errors=True)
    (out / "figures").mkdir(parents=True)
    copy_tree(NODE / "reveal.js" / "dist", out / "reveal.js" / "dist")
    copy_tree(NODE / "reveal.js" / "plugin", out / "reveal.js" / "plugin")
    copy_tree(NODE / "mathjax" / "es5", out / "mathjax")
    for name in ("deck.css", "index.css"):
        shutil.copy(SITE / "static" / name, out / name)
    template = string.Template((SITE / "templates" / "deck.html").read_text(encoding="utf-8"))
    all_decks = decks.decks()
    if not all_decks:
        fail("no decks found in lectures/")
    for deck in all_decks:
        page = template.substitute(
            title=html.escape(deck.title), slides=deck_html(deck, out / "figures")
        )
        (out / f"{deck.name}.html").write_text(page, encoding="utf-8")
    (out / "index.html").write_text(slide_index(all_decks), encoding="utf-8")
    print(f"slides: {len(all_decks)} decks -> {out / 'index.html'}")


def _inline_html(text: str) -> str:
    """Markdown's `code` spans as <code>, everything else escaped."""
    parts = re.split(r"`([^`]*)`", text)
    return "".join(
        f"<code>{html.escape(part)}</code>" if i % 2 else html.escape(part)
        for i, part in enumerate(parts)
    )


def slide_index(all_decks: list[decks.Deck]) -> str:
    """The decks' start page: each lecture with its chapter's goal, length and handout."""
    goals = {}
    for row in syllabus_from_readme().splitlines()[2:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) >= 3:  # number | notebook | (time |) what the reader leaves able to do
            goals[cells[0]] = cells[-1]
    rows = []
    for deck in all_decks:
        minutes = sum(decks.minutes(s) or 0 for s in deck.lecture)
        rows.append(
            f'<tr><td class="number">{deck.name[:2]}</td><td class="deck">'
            f'<a href="{deck.name}.html">{_inline_html(deck.title)}</a>'
            f"<br>{_inline_html(goals.get(deck.name[:2], ''))}</td>"
            f"<td>{minutes:g} min<br>{len(deck.lecture)} slides</td>"
            f'<td><a href="../handouts/{deck.name}.pdf">handout</a></td></tr>'
        )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>Momentum, from scratch: lectures</title>"
        "<link rel='stylesheet' href='index.css'></head>\n"
        "<body><h1>Momentum, from scratch: lectures</h1>\n"
        "<p class='lead'>One lecture per chapter, 45-50 minutes each, with speaker notes on "
        "every slide. In a deck: arrow keys to move, <kbd>s</kbd> for the speaker view, "
        "<kbd>Esc</kbd> for the overview. Handouts print two slides to a page "
        "(<code>make handouts</code>).</p>\n<table>\n"
        + "\n".join(rows)
        + "\n</table></body></html>\n"
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
