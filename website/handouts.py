"""Print each lecture deck as a handout: its slides, two to an A4 page, then check the PDF.

    python -m website.handouts        (after `make slides`)  ->  _build/handouts/NN_name.pdf
                                                               (Chinese: _build/handouts/zh/)

Headless Chromium prints the deck with reveal.js's print layout (``?print-pdf``: one slide a
page, at the slide's 1280x720 size, after MathJax has typeset). pypdf then places two slides
on each portrait A4 page, top and bottom, and reads the result back: one slide page per slide
of the deck (backup included; Chromium's trailing empty page is dropped), and no blank page.
The notes stay out: a handout is for the audience. Offline: the decks are served from _build
on localhost.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from website import decks
from website.browser_check import BUILD, CHROMIUM_FLAGS, serve
from website.pdf import read_back

OUT = BUILD / "handouts"
A4 = (595.28, 841.89)  # points
MARGIN = 36  # points (half an inch) around and between the slides


def folder(deck: decks.Deck) -> str:
    """The deck's language folder under slides/ and handouts/: "" (English) or "zh/"."""
    return "" if deck.language is decks.ENGLISH else f"{deck.language.code}/"


def print_deck(context, base: str, deck: decks.Deck, target: Path) -> None:
    """The deck as a PDF of one slide a page, as reveal.js lays it out for print."""
    tab = context.new_page()
    tab.goto(f"{base}slides/{folder(deck)}{deck.name}.html?print-pdf", wait_until="networkidle")
    tab.evaluate(
        "() => window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => 1) : 1"
    )
    tab.wait_for_timeout(500)  # reveal.js lays the print pages out after typesetting
    width, height = decks.SLIDE_SIZE
    tab.pdf(path=str(target), width=f"{width}px", height=f"{height}px", print_background=True)
    tab.close()


def two_up(source: Path, target: Path) -> int:
    """Two slide pages on each A4 page, scaled to the page's width; returns the page count."""
    from pypdf import PdfReader, PdfWriter, Transformation

    slides = list(PdfReader(source).pages)
    # Chromium's print ends with an empty page after the last slide: leave it out.
    while slides and not slides[-1].extract_text().strip() and not slides[-1].images:
        slides.pop()
    writer = PdfWriter()
    page_width, page_height = A4
    for first in range(0, len(slides), 2):
        sheet = writer.add_blank_page(width=page_width, height=page_height)
        for row, slide in enumerate(slides[first : first + 2]):
            box = slide.mediabox
            scale = (page_width - 2 * MARGIN) / float(box.width)
            slide_height = float(box.height) * scale
            top = page_height - MARGIN - row * (slide_height + MARGIN)
            place = Transformation().scale(scale).translate(MARGIN, top - slide_height)
            sheet.merge_transformed_page(slide, place)
    with target.open("wb") as file:
        writer.write(file)
    return len(writer.pages)


def chinese_text(path: Path) -> int:
    """Chinese characters a PDF's text layer holds: a Chinese deck printed without a CJK font
    would hold boxes, not text. (Chromium embeds Noto CJK as Type 3 fonts, without a name, so
    the fonts' names cannot tell; the browser check compares each glyph with the empty box.)"""
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(path).pages)
    return len(decks.CJK_CHAR.findall(text))


def chinese_font_missing() -> bool:
    """No font on this machine covers Chinese (fontconfig's view, which Chromium prints with)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False  # not a fontconfig system: Chromium finds its fonts another way
    found = subprocess.run([fc_list, ":lang=zh"], capture_output=True, text=True).stdout
    return not found.strip()


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("no Chromium installed (Debian: apt-get install chromium)", file=sys.stderr)
        return 1
    if not (BUILD / "slides" / "index.html").exists():
        print("_build/slides is missing: run `make slides` first", file=sys.stderr)
        return 1
    if chinese_font_missing():
        print(
            "no Chinese font installed: the Chinese handouts would print empty boxes "
            "(Debian/Ubuntu: apt-get install fonts-noto-cjk)",
            file=sys.stderr,
        )
        return 1
    from playwright.sync_api import sync_playwright

    server, base = serve(BUILD)
    failed = 0
    all_decks = [deck for language in decks.LANGUAGES for deck in decks.decks(language)]
    with (
        tempfile.TemporaryDirectory() as scratch,
        sync_playwright() as pw,
    ):
        context = pw.chromium.launch_persistent_context(
            scratch, executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
        )
        for deck in all_decks:
            one_up = Path(scratch) / f"{deck.name}-slides.pdf"
            print_deck(context, base, deck, one_up)
            target = OUT / f"{folder(deck)}{deck.name}.pdf"
            target.parent.mkdir(parents=True, exist_ok=True)
            sheets = two_up(one_up, target)
            problems = read_back(target)[1]
            if sheets != (len(deck.slides) + 1) // 2:
                problems.append(f"{sheets} pages for {len(deck.slides)} slides, two a page")
            if deck.language is not decks.ENGLISH and chinese_text(target) < 5 * len(deck.slides):
                problems.append("the printed Chinese deck holds (almost) no Chinese text")
            failed += bool(problems)
            note = f": {'; '.join(problems)}" if problems else ""
            print(
                f"{'ok  ' if not problems else 'FAIL'} {target.relative_to(BUILD.parent)}: "
                f"{len(deck.slides)} slides on {sheets} pages{note}"
            )
        context.close()
    server.shutdown()
    print(f"{len(all_decks)} handouts, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
