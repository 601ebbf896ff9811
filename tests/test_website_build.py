"""The website's and the slides' handling of deep dives and widgets (website/build.py).

The builds themselves run in CI (make book, make slides, make browser-check); these tests pin
the notebook rewriting they rely on, on small notebooks made here.
"""

from __future__ import annotations

import base64

import pytest

from website import build, decks


def cell(kind, text, tags=(), slide="-", outputs=None):
    c = {"cell_type": kind, "source": [text], "metadata": {"slideshow": {"slide_type": slide}}}
    if tags:
        c["metadata"]["tags"] = list(tags)
    if kind == "code":
        c["outputs"] = outputs or []
    return c


def test_optional_markdown_is_boxed_with_headings_outside():
    text = "**Going deeper (optional).** Ulps.\n\n### 6. Rounding\n\nMore $x$.\n"
    boxed = build.boxed_markdown(text)
    assert boxed.count("::::{container} going-deeper") == 2
    assert "\n### 6. Rounding\n" in boxed and boxed.count("\n::::\n") == 2
    # A heading-like line inside a code fence is not a heading.
    fenced = build.boxed_markdown("```\n# not a heading\n```\n")
    assert fenced.count("::::{container}") == 1


def test_the_site_boxes_only_optional_cells_and_drops_widget_views():
    widget = {"output_type": "display_data", "data": {build.WIDGET_VIEW: {}, "text/plain": "VBox"}}
    figure = {"output_type": "display_data", "data": {"image/png": "x"}}
    nb = {
        "cells": [
            cell("markdown", "core"),
            cell("markdown", "**Going deeper (optional).** x", tags=["optional"]),
            cell("code", "explorer()", outputs=[figure, widget]),
        ]
    }
    out = build.for_the_site(nb)
    assert out["cells"][0]["source"] == ["core"]
    assert out["cells"][1]["source"].startswith("::::{container} going-deeper")
    assert out["cells"][2]["outputs"] == [figure]


def test_site_images_carry_alt_text_and_their_text_size():
    figure = {
        "output_type": "display_data",
        "data": {"image/png": "x"},
        "metadata": {"image/png": {"width": 400, "text_px": 31.11}},
    }
    c = build.with_alt_text(cell("code", "plt.show()", outputs=[figure]))
    c["metadata"]["alt"] = "A sentence."
    options = build.with_alt_text(c)["metadata"]["mystnb"]["image"]
    assert options == {"alt": "A sentence.", "classes": "text-px-3111"}


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(16)).decode()
DECK = """# Title
Lecture 1

Note:
Say: Hello.
Minutes: 1

---

<!-- .slide: class="question" -->
## The claim, with $x_1 = 0.5$

![](figure:01-fig)

{{ output: 01-table }}

```python
after_the_table()
```

Note:
Say: Look.
Point at: the curve.
Minutes: 2

---

## Backup

Note:
Say: Extra.
Minutes: 0
"""


def test_a_deck_becomes_reveal_sections_with_figures_tables_and_notes(tmp_path, monkeypatch):
    pytest.importorskip("markdown_it")  # a website package (requirements-book.txt)
    figure = {"output_type": "display_data", "data": {"image/png": PNG}}
    figure["metadata"] = {"image/png": {"text_px": 31.11}}
    table = {"output_type": "display_data", "data": {"text/markdown": "| a |\n|---|\n| 7 |"}}
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"label": "01-fig", "alt": "Alt."},
                "outputs": [figure],
            },
            {"cell_type": "code", "metadata": {"label": "01-table"}, "outputs": [table]},
        ]
    }
    monkeypatch.setattr(decks, "load_notebook", lambda stem, language=None: nb)
    path = tmp_path / "01_x.md"
    path.write_text(DECK)
    figures = tmp_path / "figures"
    figures.mkdir()
    page = build.deck_html(decks.parse_deck(path), figures)
    assert page.count("<section") == 3 and page.count('<aside class="notes">') == 3
    assert '<section class="question">' in page and 'class="backup"' in page
    assert "\\(x_1 = 0.5\\)" in page  # TeX for MathJax, its underscore not emphasis
    assert '<img class="figure" src="figures/01-fig.png" alt="Alt." data-text-px="31.11">' in page
    assert (figures / "01-fig.png").read_bytes().startswith(b"\x89PNG")
    assert '<div class="exhibit">\n<table>' in page and "<td>7</td>" in page  # the printed table
    assert '<pre><code class="language-python">after_the_table()' in page  # a block after it
    assert "<strong>Point at:</strong> the curve." in page


def test_the_slide_index_lists_each_lecture_with_its_length(tmp_path):
    path = tmp_path / "03_momentum.md"
    path.write_text(DECK)
    page = build.slide_index([decks.parse_deck(path)])
    assert '<a href="03_momentum.html">Title</a>' in page and "3 min" in page
    assert "<code>sgd_momentum</code>" in page  # the README's goals, with code spans
    assert 'href="../handouts/03_momentum.pdf"' in page


def test_the_table_of_contents_lists_every_notebook_and_the_glossary():
    toc = (build.SITE / "_toc.yml").read_text(encoding="utf-8")
    files = [line.split("file:")[1].strip() for line in toc.splitlines() if "file:" in line]
    assert files == [p.stem for p in build.NOTEBOOKS] + ["glossary"]


def test_each_edition_gets_its_syllabus_config_and_index():
    """The Chinese site includes README.zh.md's syllabus, whose links go to its own notebooks,
    in a Sphinx configured for Chinese; the decks' index links each language to the other."""
    import yaml

    for edition in build.EDITIONS:
        rows = [row for row in build.syllabus_table(edition).splitlines() if row.startswith("| 0")]
        assert len(rows) == len(edition.notebooks) == 9
        for row, path in zip(rows, edition.notebooks, strict=True):
            assert f"]({path.relative_to(build.ROOT).as_posix()})" in row
        intro = edition.intro.read_text(encoding="utf-8")
        assert f"```{{include}} {'../' * (1 + bool(edition.subdir))}{edition.readme.name}" in intro
        assert all(marker in intro for marker in build.SYLLABUS_MARKERS)
    config = yaml.safe_load(build.book_config(build.CHINESE))
    assert config["title"] == "动量法，从零开始"
    assert config["sphinx"]["config"]["language"] == "zh_CN"
    assert "language" not in yaml.safe_load(build.book_config(build.ENGLISH))["sphinx"]["config"]
    zh_index = build.slide_index(decks.decks(decks.CHINESE), build.CHINESE)
    assert "<html lang='zh-CN'>" in zh_index and "../index.html" in zh_index
    assert "../../handouts/zh/03_momentum.pdf" in zh_index
    assert "zh/index.html" in build.slide_index(decks.decks(), build.ENGLISH)
