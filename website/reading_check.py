"""What a person sees: measurements of a slide deck or a website page in a browser tab.

Used by browser_check.py. A check that an element exists proves little, so these measure what
a reader meets: a slide's content against the slide's height, each figure against the viewport
when its slide is shown, words per slide, speaker notes per section; on a page, TeX source left
unrendered, code blocks wider than their box, figure text size and alt text.
"""

from __future__ import annotations

import re
from pathlib import Path

# Deck sizes an instructor projects at: 720p and 1080p.
DECK_VIEWPORTS = ((1280, 720), (1920, 1080))
MAX_SLIDE_WORDS = 130  # "about 120": the build aims at 110
# The smallest text in a course figure is the legend: 12 pt at the inline backend's 80 dpi
# (helpers/plot.py), 13.3 px in the PNG. Shown at 1280 px wide, it must be >= 11 px high.
FIGURE_MIN_FONT_PX = 12 * 80 / 72
MIN_READABLE_PX = 11
# TeX a reader should never see as source: a command or an inline-maths pair of dollars.
TEX_SOURCE = re.compile(
    r"\\(?:alpha|beta|eta|kappa|mu|lambda|rho|sigma|tilde|frac|sqrt|mathrm|text|cdot|le|ge)\b"
    r"|\$[^$\s][^$]*\$"
)

_SLIDES = """
() => {
  Reveal.configure({ transition: 'none', backgroundTransition: 'none' });
  return Reveal.getSlides().map(s => Reveal.getIndices(s));
}
"""
_MEASURE_SLIDE = """
async (at) => {
  Reveal.slide(at.h, at.v);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const slide = Reveal.getCurrentSlide();
  const copy = slide.cloneNode(true);
  copy.querySelectorAll('aside.notes, mjx-container, pre').forEach(n => n.remove());
  const figures = Array.from(slide.querySelectorAll('img')).map(img => {
    const r = img.getBoundingClientRect();
    return { inside: img.complete && img.naturalWidth > 0 && r.width > 0 &&
                     r.top >= -1 && r.left >= -1 &&
                     r.bottom <= window.innerHeight + 1 && r.right <= window.innerWidth + 1,
             alt: img.getAttribute('alt') || '' };
  });
  return {
    index: `${at.h}.${at.v}`,
    title: (slide.querySelector('h1, h2, h3') || {}).textContent || '',
    section: !!slide.querySelector('h1, h2'),
    overflow: slide.scrollHeight - Reveal.getConfig().height,
    words: copy.textContent.split(/\\s+/).filter(Boolean).length,
    notes: slide.querySelectorAll('aside.notes').length,
    figures,
  };
}
"""


def check_deck(tab, screenshots: Path | None = None) -> tuple[list[str], dict]:
    """Problems of the deck open in ``tab`` at its current viewport, and counts for the summary.

    Shows every slide in turn (a screenshot of each into ``screenshots``, when given) and
    measures it: content height against the slide's, each figure against the viewport, words,
    alt text; a slide with a section heading must carry speaker notes.
    """
    rows = []
    for at in tab.evaluate(_SLIDES):
        rows.append(tab.evaluate(_MEASURE_SLIDE, at))
        if screenshots is not None:
            screenshots.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(screenshots / f"slide-{at['h']:02d}-{at['v']:02d}.png"))
    problems = []
    for row in rows:
        where = f"slide {row['index']} ({row['title'][:40].strip()!r})"
        if row["overflow"] > 1:
            problems.append(f"{where}: content {row['overflow']} px taller than the slide")
        if row["words"] > MAX_SLIDE_WORDS:
            problems.append(f"{where}: {row['words']} words (at most {MAX_SLIDE_WORDS})")
        for figure in row["figures"]:
            if not figure["inside"]:
                problems.append(f"{where}: a figure is not fully visible")
            if not _good_alt(figure["alt"]):
                problems.append(f"{where}: figure alt text {figure['alt'][:40]!r}")
        if row["section"] and not row["notes"]:
            problems.append(f"{where}: a section slide without speaker notes")
    counts = {
        "slides": len(rows),
        "overflowing": sum(r["overflow"] > 1 for r in rows),
        "figures": sum(len(r["figures"]) for r in rows),
        "figures_hidden": sum(not f["inside"] for r in rows for f in r["figures"]),
        "notes": sum(r["notes"] for r in rows),
    }
    return problems, counts


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
                   alt: i.getAttribute('alt') || '', src: i.src.split('/').pop() }));
  return { text: copy.innerText, wideCode, figures };
}
"""


def check_reading(tab, *, figures_are_course_plots: bool = True) -> list[str]:
    """Problems of the website page open in ``tab``: TeX source, wide code, small figure text."""
    seen = tab.evaluate(_MEASURE_PAGE)
    problems = []
    for match in list(TEX_SOURCE.finditer(seen["text"]))[:5]:
        context = seen["text"][max(0, match.start() - 30) : match.end() + 10].replace("\n", " ")
        problems.append(f"TeX source in the text: ...{context}...")
    problems.extend(f"code wider than its box: {line!r}" for line in seen["wideCode"][:5])
    for figure in seen["figures"]:
        px = FIGURE_MIN_FONT_PX * figure["scale"]
        if figures_are_course_plots and px < MIN_READABLE_PX:
            problems.append(f"figure {figure['src'][:30]}: its text renders {px:.1f} px high")
        if not _good_alt(figure["alt"]):
            problems.append(f"figure {figure['src'][:30]}: alt text {figure['alt'][:40]!r}")
    return problems


def _good_alt(alt: str) -> bool:
    """A sentence about the figure: not empty, not a file name, not nbconvert's placeholder."""
    alt = alt.strip()
    placeholder = "no description has been provided" in alt.lower()
    looks_like_path = bool(re.search(r"\.(png|jpe?g|svg)$", alt)) or "/" in alt
    return len(alt.split()) >= 4 and not placeholder and not looks_like_path
