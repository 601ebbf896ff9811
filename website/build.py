"""Build the course website (Jupyter Book 1.x) and the reveal.js slide decks, fully offline.

    python website/build.py book     ->  _build/book/_build/html/index.html (Chinese: .../zh/)
    python website/build.py slides   ->  _build/slides/index.html (Chinese: _build/slides/zh/)

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
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from website import decks

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "website"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BUILD = ROOT / "_build"
NODE = SITE / "node_modules"


@dataclass(frozen=True)
class Edition:
    """One language of the course: its sources, and the words its generated pages use."""

    language: decks.Language
    readme: Path
    intro: Path
    subdir: str  # where its site and decks go, under the English ones ("" for English)
    title: str
    search_text: str
    words: dict[str, str]  # the decks' index page: its title, lead text, column words

    @property
    def notebooks(self) -> list[Path]:
        return sorted(self.language.notebooks.glob("[0-9][0-9]_*.ipynb"))


ENGLISH = Edition(
    decks.ENGLISH,
    ROOT / "README.md",
    SITE / "intro.md",
    "",
    "Momentum, from scratch",
    "Search the course...",
    {
        "lectures": "Momentum, from scratch: lectures",
        "lead": "One lecture per chapter, 45-50 minutes each, with speaker notes on every slide. "
        "In a deck: arrow keys to move, <kbd>s</kbd> for the speaker view, <kbd>Esc</kbd> for "
        "the overview. Handouts print two slides to a page (<code>make handouts</code>).",
        "min": "min",
        "slides": "slides",
        "handout": "handout",
        "other": "<a href='zh/index.html' lang='zh-CN'>中文</a>",
    },
)
CHINESE = Edition(
    decks.CHINESE,
    ROOT / "README.zh.md",
    SITE / "intro.zh.md",
    "zh",
    "动量法，从零开始",
    "搜索课程……",
    {
        "lectures": "动量法，从零开始：讲义",
        "lead": "每章一讲，每讲 45-50 分钟，每张幻灯片都有讲稿。在幻灯片里：方向键翻页，"
        "<kbd>s</kbd> 打开讲者视图，<kbd>Esc</kbd> 打开总览。讲义 PDF 每页印两张幻灯片"
        "（<code>make handouts</code>）。",
        "min": "分钟",
        "slides": "张幻灯片",
        "handout": "讲义 PDF",
        "other": "<a href='../index.html' lang='en'>English</a>",
    },
)
EDITIONS = (ENGLISH, CHINESE)


def fail(message: str) -> NoReturn:
    print(f"build.py: {message}", file=sys.stderr)
    raise SystemExit(1)


def notebook_status(path: Path) -> dict:
    """What the builds need of a stored notebook: its title, whether it has maths, and its
    unexecuted cells and stored errors (a build refuses those)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    title = next((ln[2:].strip() for ln in markdown.splitlines() if ln.startswith("# ")), path.stem)
    return {
        "name": path.stem,
        "title": title,
        "math": bool(re.search(r"\$[^$\n]+\$", markdown)),  # inline or display maths
        "unexecuted": sum(c.get("execution_count") is None for c in code),
        "errors": sum(o.get("output_type") == "error" for c in code for o in c.get("outputs", [])),
    }


def check_notebooks(edition: Edition = ENGLISH) -> list[dict]:
    if not edition.notebooks:
        fail(f"no notebooks found in {edition.language.notebooks}")
    statuses = [notebook_status(p) for p in edition.notebooks]
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


SYLLABUS_MARKERS = ("<!-- syllabus -->", "<!-- /syllabus -->")


def syllabus_table(edition: Edition = ENGLISH) -> str:
    """The README's syllabus table, as written: the text between the two SYLLABUS_MARKERS.

    The site's intro pages include the same text with MyST's ``{include}`` directive.
    """
    readme = edition.readme.read_text(encoding="utf-8")
    start, end = SYLLABUS_MARKERS
    if start not in readme or end not in readme:
        fail(f"{edition.readme.name} has no syllabus between {start} and {end}")
    return readme.split(start, 1)[1].split(end, 1)[0].strip()


def book_config(edition: Edition) -> str:
    """_config.yml, in the edition's language (title, search box, Sphinx's language)."""
    import yaml

    config = yaml.safe_load((SITE / "_config.yml").read_text(encoding="utf-8"))
    config["title"] = edition.title
    sphinx = config["sphinx"]["config"]
    sphinx["html_theme_options"]["search_bar_text"] = edition.search_text
    if edition.language is not decks.ENGLISH:
        sphinx["language"] = "zh_CN"
        # myst-nb's fold labels are not translated by Sphinx's language setting.
        sphinx["nb_code_prompt_show"] = "显示代码"
        sphinx["nb_code_prompt_hide"] = "隐藏代码"
    return yaml.safe_dump(config, allow_unicode=True, sort_keys=False)


def book_edition(edition: Edition, out: Path) -> None:
    check_notebooks(edition)
    # The sources mirror the repository's layout (the README beside notebooks/), so the intro
    # page's {include} of README's syllabus resolves its notebooks/ links (:relative-docs:).
    root = BUILD / f"book-src{'-' + edition.subdir if edition.subdir else ''}"
    shutil.rmtree(root, ignore_errors=True)
    src = root / edition.language.notebooks.relative_to(ROOT)
    src.mkdir(parents=True)
    shutil.copy(edition.readme, root / edition.readme.name)
    for path in edition.notebooks:
        nb = for_the_site(json.loads(path.read_text(encoding="utf-8")))
        (src / path.name).write_text(json.dumps(nb), encoding="utf-8")
    (src / "_config.yml").write_text(book_config(edition), encoding="utf-8")
    # Jupyter Book links every .css and .js file in _static into every page.
    (src / "_static").mkdir()
    for name in ("course.css", "wide-figures.js", "language-switch.js"):
        shutil.copy(SITE / "static" / name, src / "_static" / name)
    shutil.copy(edition.intro, src / "intro.md")
    shutil.copy(ROOT / "notebooks" / "glossary.md", src / "glossary.md")
    shutil.copy(SITE / "_toc.yml", src / "_toc.yml")
    # An "extra path" is copied to the site's root as is; files in _static would each be
    # added to every page as a <script>.
    copy_tree(NODE / "mathjax" / "es5", src / "_assets" / "mathjax")
    shutil.rmtree(out, ignore_errors=True)
    # -W: any Sphinx warning fails the build; -n: nitpicky (broken references are warnings).
    cmd = ["jupyter-book", "build", str(src), "--path-output", str(out), "-W", "-n", "--keep-going"]
    result = subprocess.run(_venv(cmd), cwd=ROOT)
    if result.returncode != 0:
        fail(f"jupyter-book failed (exit {result.returncode})")


def book() -> None:
    """The English site, and the Chinese one in its zh/ folder (a link on every page switches)."""
    html = BUILD / "book" / "_build" / "html"
    book_edition(ENGLISH, BUILD / "book")
    chinese = BUILD / "book-zh"
    book_edition(CHINESE, chinese)
    shutil.copytree(chinese / "_build" / "html", html / CHINESE.subdir)
    print(f"book: {len(NOTEBOOKS)} notebooks in 2 languages -> {html / 'index.html'}")


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


def bold_label(match: re.Match) -> str:
    """A notes field's label in bold, keeping its colon (``Say:``, ``讲述：``)."""
    return f"**{match[1]}{match[2]}** {match[3]}"


def deck_html(deck: decks.Deck, figures: Path) -> str:
    """A deck's slides as reveal.js sections; each figure it shows is written into ``figures``.

    A figure's alt text and smallest text size (``data-text-px``, in the PNG's pixels) come
    from its notebook cell; a labelled cell's printed table replaces its ``{{ output: }}``.
    """
    md = _markdown()
    cells: dict[str, dict] = {}
    for stem in deck.chapters:
        cells.update(decks.labelled_cells(decks.load_notebook(stem, deck.language)))

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
        notes = decks.field_label(deck.language).sub(bold_label, slide.notes)
        # Each field on its own line in the speaker view.
        notes = md.render(re.sub(r"\n(?=\*\*)", "\n\n", notes))
        sections.append(
            f'<section {attrs}>\n{body}<aside class="notes">\n{notes}</aside>\n</section>'
        )
    return "\n".join(sections)


def slides() -> None:
    """One reveal.js deck per lecture (lectures/*.md), offline, with an index page; the
    Chinese decks (lectures/zh/) in slides/zh/, sharing reveal.js and MathJax."""
    root = BUILD / "slides"
    shutil.rmtree(root, ignore_errors=True)
    copy_tree(NODE / "reveal.js" / "dist", root / "reveal.js" / "dist")
    copy_tree(NODE / "reveal.js" / "plugin", root / "reveal.js" / "plugin")
    copy_tree(NODE / "mathjax" / "es5", root / "mathjax")
    template = string.Template((SITE / "templates" / "deck.html").read_text(encoding="utf-8"))
    for edition in EDITIONS:
        check_notebooks(edition)
        out = root / edition.subdir
        (out / "figures").mkdir(parents=True)
        for name in ("deck.css", "index.css"):
            shutil.copy(SITE / "static" / name, out / name)
        all_decks = decks.decks(edition.language)
        if not all_decks:
            fail(f"no decks found in {edition.language.lectures}")
        for deck in all_decks:
            page = template.substitute(
                title=html.escape(deck.title),
                slides=deck_html(deck, out / "figures"),
                lang=_html_lang(edition),
                root="../" if edition.subdir else "",
            )
            (out / f"{deck.name}.html").write_text(page, encoding="utf-8")
        (out / "index.html").write_text(slide_index(all_decks, edition), encoding="utf-8")
        print(f"slides: {len(all_decks)} decks -> {out / 'index.html'}")


def _html_lang(edition: Edition) -> str:
    return "en" if edition.language is decks.ENGLISH else "zh-CN"


def _inline_html(text: str) -> str:
    """Markdown's `code` spans as <code>, everything else escaped."""
    parts = re.split(r"`([^`]*)`", text)
    return "".join(
        f"<code>{html.escape(part)}</code>" if i % 2 else html.escape(part)
        for i, part in enumerate(parts)
    )


def slide_index(all_decks: list[decks.Deck], edition: Edition = ENGLISH) -> str:
    """The decks' start page: each lecture with its chapter's goal, length and handout."""
    words = edition.words
    handouts = (
        "../" * (2 if edition.subdir else 1)
        + "handouts/"
        + (edition.subdir + "/" if edition.subdir else "")
    )
    goals = {}
    for row in syllabus_table(edition).splitlines()[2:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) >= 3:  # number | notebook | (time |) what the reader leaves able to do
            goals[cells[0]] = cells[-1]
    rows = []
    for deck in all_decks:
        minutes = sum(decks.minutes(s, deck.language) or 0 for s in deck.lecture)
        rows.append(
            f'<tr><td class="number">{deck.name[:2]}</td><td class="deck">'
            f'<a href="{deck.name}.html">{_inline_html(deck.title)}</a>'
            f"<br>{_inline_html(goals.get(deck.name[:2], ''))}</td>"
            f"<td>{minutes:g} {words['min']}<br>{len(deck.lecture)} {words['slides']}</td>"
            f'<td><a href="{handouts}{deck.name}.pdf">{words["handout"]}</a></td></tr>'
        )
    return (
        f"<!DOCTYPE html>\n<html lang='{_html_lang(edition)}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{words['lectures']}</title>"
        "<link rel='stylesheet' href='index.css'></head>\n"
        f"<body><p class='language-switch'>{words['other']}</p>\n"
        f"<h1>{words['lectures']}</h1>\n"
        f"<p class='lead'>{words['lead']}</p>\n<table>\n"
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
