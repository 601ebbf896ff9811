"""What a person sees: measurements of a slide deck or a website page in a browser tab.

Used by browser_check.py. A check that an element exists proves little, so these measure what
a reader meets: a slide's content against the slide's height, each figure against the viewport
when its slide is shown, words per slide, speaker notes per section; on a page, TeX source left
unrendered, code blocks wider than their box, figure text size and alt text.
"""

from __future__ import annotations

import re
from pathlib import Path

from website import decks

# Deck sizes an instructor projects at: 720p and 1080p.
DECK_VIEWPORTS = ((1280, 720), (1920, 1080))
# A course figure's smallest text on a website page (helpers/plot.py stores it per figure).
MIN_READABLE_PX = 11
# TeX a reader should never see as source: a command or an inline-maths pair of dollars.
TEX_SOURCE = re.compile(
    r"\\(?:alpha|beta|eta|kappa|mu|lambda|rho|sigma|tilde|frac|sqrt|mathrm|text|cdot|le|ge)\b"
    r"|\$[^$\s][^$]*\$"
)

_SLIDES = """
() => {
  Reveal.configure({ transition: 'none', backgroundTransition: 'none' });
  return Reveal.getSlides().map(s => {
    const at = Reveal.getIndices(s);
    return { h: at.h, v: at.v || 0 };
  });
}
"""
# What a slide shows: its words (a typeset formula counts as one), its figures at their
# displayed size, and its notes as the speaker view shows them.
_MEASURE_SLIDE = """
async (at) => {
  Reveal.slide(at.h, at.v);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const slide = Reveal.getCurrentSlide();
  const copy = slide.cloneNode(true);
  copy.querySelectorAll('aside.notes').forEach(n => n.remove());
  copy.querySelectorAll('mjx-container').forEach(n => n.replaceWith(' FORMULA '));
  // A printed table from the notebook is the slide's exhibit, like a figure: not its words.
  copy.querySelectorAll('.exhibit').forEach(n => n.remove());
  const figures = Array.from(slide.querySelectorAll('img')).map(img => {
    const r = img.getBoundingClientRect();
    // The image is drawn inside its box at this scale (object-fit: contain), centred.
    const scale = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
    const w = img.naturalWidth * scale, h = img.naturalHeight * scale;
    const left = r.left + (r.width - w) / 2, top = r.top + (r.height - h) / 2;
    return { inside: img.complete && img.naturalWidth > 0 && w > 0 &&
                     top >= -1 && left >= -1 &&
                     top + h <= window.innerHeight + 1 && left + w <= window.innerWidth + 1,
             alt: img.getAttribute('alt') || '',
             textPx: +img.dataset.textPx * scale,
             src: img.getAttribute('src') };
  });
  const notes = slide.querySelector('aside.notes');
  return {
    index: `${at.h}.${at.v}`,
    title: (slide.querySelector('h1, h2, h3') || {}).textContent || '',
    backup: slide.classList.contains('backup'),
    overflow: slide.scrollHeight - Reveal.getConfig().height,
    text: copy.textContent,
    notes: notes ? notes.textContent : '',
    figures,
  };
}
"""


def check_deck(
    tab, screenshots: Path | None = None, language: decks.Language = decks.ENGLISH
) -> tuple[list[str], dict]:
    """Problems of the deck open in ``tab`` at its current viewport, and what was measured.

    Shows every slide in turn, transitions off (a screenshot of each into ``screenshots``,
    when given), and measures what an instructor needs: content height against the slide's,
    words, notes and their minutes, each figure's smallest text in screen pixels and its place
    in the window, alt text, and no pointer to a notebook cell or unseen output.
    """
    rows = []
    for at in tab.evaluate(_SLIDES):
        row = tab.evaluate(_MEASURE_SLIDE, at)
        row["words"] = decks.count_words(row["text"])  # one count for both languages
        rows.append(row)
        if screenshots is not None:
            screenshots.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(screenshots / f"slide-{at['h']:02d}-{at['v']:02d}.png"))
    width = tab.viewport_size["width"]
    # Figure text must be 18 px at 1280x720; a larger window scales the whole slide.
    min_text = decks.MIN_FIGURE_TEXT_PX * width / decks.SLIDE_SIZE[0]
    problems = []
    for row in rows:
        where = f"slide {row['index']} ({row['title'][:40].strip()!r})"
        if row["overflow"] > 1:
            problems.append(f"{where}: content {row['overflow']} px taller than the slide")
        if row["words"] > decks.MAX_SLIDE_WORDS:
            problems.append(f"{where}: {row['words']} words (at most {decks.MAX_SLIDE_WORDS})")
        fields, _ = decks.note_fields(row["notes"], language)
        if not fields.get("Say") or not fields.get("Minutes"):
            problems.append(f"{where}: no speaker notes with Say: and Minutes:")
        if "```" in row["text"] or TEX_SOURCE.search(row["text"]):
            problems.append(f"{where}: Markdown or TeX source shown as text")
        if found := language.unseen.search(row["text"] + " " + row["notes"]):
            problems.append(f"{where}: refers to what the deck does not show: {found[0]!r}")
        for figure in row["figures"]:
            if not figure["inside"]:
                problems.append(f"{where}: a figure is not fully visible")
            if not _good_alt(figure["alt"]):
                problems.append(f"{where}: figure alt text {figure['alt'][:40]!r}")
            if not figure["textPx"] >= min_text:
                problems.append(
                    f"{where}: {figure['src']} text {figure['textPx']:.1f} px (< {min_text:g})"
                )
    minutes = sum(_minutes(r["notes"], language) for r in rows if not r["backup"])
    low, high = decks.LECTURE_MINUTES
    if not low <= minutes <= high:
        problems.append(f"the notes' minutes add up to {minutes:g} (want {low}-{high})")
    words = sorted(r["words"] for r in rows)
    text_px = [f["textPx"] * decks.SLIDE_SIZE[0] / width for r in rows for f in r["figures"]]
    measured = {
        "slides": len(rows),
        "minutes": minutes,
        "median_words": words[len(words) // 2] if words else 0,
        "max_words": words[-1] if words else 0,
        "figures": sum(len(r["figures"]) for r in rows),
        "smallest_figure_text_px_at_1280": min(text_px) if text_px else None,
        "overflowing": sum(r["overflow"] > 1 for r in rows),
        "without_notes": sum(not r["notes"].strip() for r in rows),
    }
    return problems, measured


def _minutes(notes: str, language: decks.Language) -> float:
    value = decks.note_fields(notes, language)[0].get("Minutes", "")
    return float(value) if re.fullmatch(r"\d+(?:\.\d+)?", value) else 0.0


_MEASURE_PAGE = """
() => {
  const main = document.querySelector('main, article, body');
  const copy = main.cloneNode(true);
  copy.querySelectorAll('.cell_input, mjx-container, script, style, .MathJax, nav, .toggle-hidden')
      .forEach(n => n.remove());
  const wideCode = Array.from(main.querySelectorAll('pre'))
      .filter(p => p.offsetParent !== null && p.scrollWidth > p.clientWidth + 1)
      .map(p => p.textContent.split('\\n').sort((a, b) => b.length - a.length)[0].slice(0, 60));
  const figures = Array.from(main.querySelectorAll('img'))
      .filter(i => i.offsetParent !== null && i.naturalWidth > 0)
      .map(i => ({ scale: i.getBoundingClientRect().width / i.naturalWidth,
                   textPx: +((Array.from(i.classList).find(c => /^text-px-\\d+$/.test(c)) ||
                             'text-px-0').slice(8)) / 100,
                   alt: i.getAttribute('alt') || '', src: i.src.split('/').pop() }));
  return { text: copy.innerText, wideCode, figures };
}
"""


# A worked solution (`def name_solution(` or `name_solution = ...`) stays folded until the
# learner opens it.
_VISIBLE_SOLUTIONS = """
() => Array.from(document.querySelectorAll('pre'))
  .filter(p => /(def \\w+_solution\\(|^\\w+_solution\\s*=)/m.test(p.textContent)
               && p.checkVisibility())
  .map(p => p.textContent.match(/(\\w+_solution)/)[1])
"""


def check_reading(tab) -> list[str]:
    """Problems of the website page open in ``tab``: TeX source, wide code, small figure text,
    missing alt text, a worked solution shown unfolded."""
    seen = tab.evaluate(_MEASURE_PAGE)
    problems = [f"solution shown unfolded: {name}" for name in tab.evaluate(_VISIBLE_SOLUTIONS)]
    for match in list(TEX_SOURCE.finditer(seen["text"]))[:5]:
        context = seen["text"][max(0, match.start() - 30) : match.end() + 10].replace("\n", " ")
        problems.append(f"TeX source in the text: ...{context}...")
    problems.extend(f"code wider than its box: {line!r}" for line in seen["wideCode"][:5])
    for figure in seen["figures"]:
        px = figure["textPx"] * figure["scale"]
        if px < MIN_READABLE_PX:
            problems.append(f"figure {figure['src'][:30]}: its text renders {px:.1f} px high")
        if not _good_alt(figure["alt"]):
            problems.append(f"figure {figure['src'][:30]}: alt text {figure['alt'][:40]!r}")
    return problems


def _good_alt(alt: str) -> bool:
    """A sentence about the figure: not empty, not a file name, not nbconvert's placeholder."""
    alt = alt.strip()
    placeholder = "no description has been provided" in alt.lower()
    looks_like_path = bool(re.fullmatch(r"\S*(?:/\S*|\.(?:png|jpe?g|svg))", alt))
    long_enough = decks.count_words(alt) >= decks.MIN_ALT_WORDS
    return long_enough and not placeholder and not looks_like_path


# Characters no installed font can draw come out as the same empty box ("tofu") as a code
# point no font has. Each distinct non-ASCII character of the page is drawn on a canvas in the
# page's own font and compared with that box.
_MISSING_GLYPHS = """
(extra) => {
  const font = getComputedStyle(document.body).fontFamily;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 40;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const draw = (ch) => {
    ctx.clearRect(0, 0, 40, 40);
    ctx.font = `28px ${font}`;
    ctx.fillText(ch, 4, 32);
    return ctx.getImageData(0, 0, 40, 40).data.join(',');
  };
  // A private-use code point: no font has a glyph for it.
  const box = draw(String.fromCodePoint(0x10fffd));
  const text = document.body.innerText + (extra || '');
  const chars = Array.from(new Set(Array.from(text))).filter(c => c.codePointAt(0) > 0x2e7f);
  return chars.filter(c => draw(c) === box);
}
"""


def missing_glyphs(tab, extra: str = "") -> list[str]:
    """The page's characters (and ``extra``'s) that render as tofu: no installed font has them."""
    return tab.evaluate(_MISSING_GLYPHS, extra)
