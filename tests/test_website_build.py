"""The website's and the slides' handling of deep dives and widgets (website/build.py).

The builds themselves run in CI (make book, make slides, make browser-check); these tests pin
the notebook rewriting they rely on, on small notebooks made here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SPEC = importlib.util.spec_from_file_location(
    "website_build", Path(__file__).resolve().parent.parent / "website" / "build.py"
)
build = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(build)


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


def test_the_slides_skip_optional_cells_and_keep_slide_starts():
    nb = {
        "cells": [
            cell("markdown", "a", slide="slide"),
            cell("markdown", "deep", tags=["optional"], slide="slide"),
            cell("code", "deep code", tags=["optional"]),
            cell("markdown", "b"),  # continued the optional slide: now it opens one
            cell("markdown", "c"),
        ]
    }
    kinds = [c["metadata"]["slideshow"]["slide_type"] for c in build.for_the_slides(nb)["cells"]]
    assert kinds == ["slide", "skip", "skip", "slide", "-"]


def test_slides_show_figures_alone_hide_code_and_split_long_text():
    figure = {"output_type": "display_data", "data": {"image/png": "x"}}
    printed = {"output_type": "stream", "name": "stdout", "text": "all checks passed"}
    long_text = "## 2 · A section\n\n" + "\n\n".join(["Word " * 60] * 3)
    nb = {
        "cells": [
            cell("markdown", long_text, slide="slide"),
            cell("markdown", "what to say " * 10, slide="notes"),
            cell("code", "assert True", outputs=[printed]),
            cell("code", "plt.show()", outputs=[figure, printed]),
            cell("markdown", "after the figure"),
            cell("code", "shown()", tags=["slide-code"], outputs=[printed]),
        ]
    }
    out = build.for_the_slides(nb)["cells"]
    kinds = [c["metadata"]["slideshow"]["slide_type"] for c in out]
    # The heading cell became three slides; its notes stay on the first one.
    assert kinds[:4] == ["slide", "notes", "subslide", "subslide"]
    assert out[0]["source"].startswith("## 2 · A section")
    assert all(len(c["source"].split()) <= build.SLIDE_WORDS for c in out[:4] if c is not out[1])
    # A check with nothing to show is skipped; a figure opens a slide without its printout;
    # the cell after a figure opens the next slide; a slide-code cell keeps code and output.
    assert kinds[4:] == ["skip", "subslide", "subslide", "-"]
    assert out[5]["outputs"] == [figure] and build.HIDE_INPUT in out[5]["metadata"]["tags"]
    assert out[7]["outputs"] == [printed] and build.HIDE_INPUT not in out[7]["metadata"]["tags"]


def test_the_slide_index_lists_the_syllabus():
    page = build.slide_index([{"name": "03_momentum", "title": "03 · Momentum"}])
    assert '<a href="03_momentum.slides.html">Momentum</a>' in page
    assert "<code>sgd_momentum</code>" in page  # the README's goals, with code spans
