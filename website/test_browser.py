"""Every page of the built website, every lecture deck and every notebook in a live JupyterLab,
opened in headless Chromium and checked as its reader meets it.

    make browser-check      (after `make book` and `make slides`; runs this file under pytest)

- Every page: the title is right; maths is typeset where there is maths; every image loads;
  no console error; no request leaves the machine. A screenshot of each lands in
  _build/screenshots/ (and pytest-playwright keeps one of any failing test).
- A chapter page, as a learner reads it at 1280 px: no TeX source left in the text, no code
  wider than its box, figure text at least 11 px high, alt text on every figure, no worked
  solution shown unfolded; plus a screenshot at 1920 px.
- A lecture deck, as an instructor needs it, at 1280x720 and 1920x1080 with transitions off,
  slide by slide (a screenshot of each): the rules of lectures/README.md measured on screen:
  content no taller than the slide, at most 40 words, notes with Say: and Minutes: on every
  slide (adding up to 45-50 minutes), no pointer to a notebook cell or unseen output, every
  figure whole in the window with alt text and its smallest text at least 18 px at 1280x720.
- JupyterLab: each notebook opens with its solutions, plots and checks collapsed and no notes;
  in notebook 05, Restart Kernel and Run All shows the explorer at the tuned setting and it
  responds to a slider.
"""

from __future__ import annotations

import pytest

from website import decks
from website.browser_check import SHOTS, check_page, open_page, pages, shot_name
from website.conftest import MEASURED
from website.lab_check import check_explorer_in_lab, check_notebooks_in_lab
from website.reading_check import DECK_VIEWPORTS, check_deck, check_reading, missing_glyphs

PAGES = pages()
DECKS = [deck for language in decks.LANGUAGES for deck in decks.decks(language)]
DECK_IDS = [f"{d.language.code}-{d.name}" for d in DECKS]


@pytest.mark.parametrize("page", PAGES, ids=[p["url"] for p in PAGES])
def test_page_opens_offline_with_its_maths_and_figures(context, site, page) -> None:
    problems: list[str] = []
    tab = open_page(context, site, page["url"], problems)
    problems += check_page(tab, page)
    if page.get("reading"):
        problems += check_reading(tab)
        tab.set_viewport_size({"width": 1920, "height": 1080})
        tab.wait_for_timeout(300)
        tab.screenshot(path=str(SHOTS / f"{shot_name(page['url'])}-1920.png"))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("size", DECK_VIEWPORTS, ids=[f"{w}x{h}" for w, h in DECK_VIEWPORTS])
@pytest.mark.parametrize("deck", DECKS, ids=DECK_IDS)
def test_deck_as_an_instructor_needs_it(context, site, deck, size) -> None:
    problems: list[str] = []
    folder = "" if deck.language is decks.ENGLISH else f"{deck.language.code}/"
    url = f"slides/{folder}{deck.name}.html"
    tab = open_page(context, site, url, problems)
    width, height = size
    tab.set_viewport_size({"width": width, "height": height})
    tab.wait_for_timeout(300)  # reveal.js lays the deck out again after a resize
    shots = SHOTS / "slides" / f"{shot_name(url)}-{width}x{height}"
    found, m = check_deck(tab, screenshots=shots, language=deck.language)
    if deck.language is not decks.ENGLISH:
        notes = " ".join(s.notes for s in deck.slides)  # the speaker view's text too
        found += [f"no font has a glyph for {c!r}" for c in missing_glyphs(tab, notes)]
    MEASURED.append(
        f"{deck.language.code} {deck.name} at {width}x{height}: {m['slides']} slides, "
        f"{m['minutes']:g} minutes, "
        f"words per slide median {m['median_words']} max {m['max_words']}, {m['figures']} "
        f"figures, smallest figure text {m['smallest_figure_text_px_at_1280'] or 0:.1f} px "
        f"at 1280x720, {m['overflowing']} overflowing, {m['without_notes']} without notes"
    )
    assert not problems + found, "\n".join(problems + found)


def test_the_glyph_check_finds_a_character_no_font_has(context, site):
    """The tofu check can fail: a Tangut character (U+17000) is in no installed font, a
    Chinese character and a Latin letter are."""
    tab = context.new_page()
    tab.set_content("<html lang='zh-CN'><body><p>动量法 momentum \U00017000</p></body></html>")
    assert missing_glyphs(tab) == ["\U00017000"]


def test_notebooks_open_in_jupyterlab_as_a_learner_reads_them(context, site):
    problems = check_notebooks_in_lab(context)
    assert not problems, "\n".join(problems)


def test_the_explorer_runs_in_jupyterlab(context, site):
    problems = check_explorer_in_lab(context)
    assert not problems, "\n".join(problems)
