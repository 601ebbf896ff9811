"""Open every page of the built website and every lecture deck in headless Chromium, and check them.

    python -m website.browser_check        (after `make book` and `make slides`)

For each page: the title is right; where there is maths, MathJax has rendered at least one
equation; every image has loaded (naturalWidth > 0); the console shows no errors; and no
request goes to any host but the local test server (such requests are blocked and reported).
One screenshot per page lands in _build/screenshots/.

What an instructor needs (website/reading_check.py): every deck is stepped through slide by
slide, transitions off, at 1280x720 and 1920x1080, with a screenshot of each slide at both
sizes. Per slide: content no taller than the slide, at most 40 words, speaker notes with Say:
and Minutes:, no pointer to a notebook cell or unseen output, every figure fully in the window
with alt text and its smallest text at least 18 px (at 1280x720; scaled at 1920x1080). Per deck:
the minutes add up to 45-50. A summary line per deck gives slides, minutes, words per slide
and the smallest figure text.

What a learner sees: every chapter page is read at 1280 px wide: no TeX source left in its
text, no code block wider than its box, figure text at least 11 px high, no worked solution
shown unfolded; and a screenshot at 1920 px.

Last, JupyterLab (website/lab_check.py): every notebook opens with its solutions, plots and
checks collapsed and no notes; in notebook 05, Restart and Run All shows the
explorer at the tuned setting, and it responds to a slider. Skips, with a message, when no
Chromium is installed. Ends with a line "N passed, N failed" and exits 1 on any failure.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlparse

from website import decks
from website.build import notebook_status  # one reading of a notebook's title
from website.lab_check import check_explorer_in_lab, check_notebooks_in_lab
from website.reading_check import DECK_VIEWPORTS, check_deck, check_reading  # what a person sees

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
BOOK = BUILD / "book" / "_build" / "html"
SLIDES = BUILD / "slides"
SHOTS = BUILD / "screenshots"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
COURSE_TITLE = "Momentum, from scratch"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
MEASURED: list[tuple[str, dict]] = []  # (deck at a size, what check_deck measured)


def pages() -> list[dict]:
    """Every page to open, with what its title must contain and whether it must show maths."""
    result = []
    for path in NOTEBOOKS:
        status = notebook_status(path)
        info = {"title": status["title"], "math": status["math"]}
        # The title's first words are enough: Sphinx may rewrite punctuation and inline code.
        short = re.sub(r"[`*]", "", info["title"]).split("·")[-1].strip()[:20]
        page = {**info, "url": f"book/_build/html/{path.stem}.html", "title": short}
        result.append({**page, "reading": True})
    for deck in decks.decks():
        title = re.sub(r"[`*$]", "", deck.title)[:20]
        result.append({"url": f"slides/{deck.name}.html", "title": title, "math": True})
    book = "book/_build/html"
    result.append({"url": f"{book}/intro.html", "title": COURSE_TITLE, "math": True})
    result.append({"url": f"{book}/glossary.html", "title": "Glossary", "math": True})
    result.append({"url": "slides/index.html", "title": "slides", "math": False})
    for extra in ("genindex.html", "search.html"):
        if (BOOK / extra).exists():
            result.append({"url": f"{book}/{extra}", "title": COURSE_TITLE, "math": False})
    return result


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the check's output readable
        pass


def check_page(context, base: str, page: dict) -> list[str]:
    problems: list[str] = []
    tab = context.new_page()
    tab.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))

    def route(r):
        if urlparse(r.request.url).hostname in LOCAL_HOSTS:
            r.continue_()
        else:
            problems.append(f"request to a non-local host: {r.request.url}")
            r.abort()

    tab.route(re.compile(r"^(https?|wss?)://"), route)
    response = tab.goto(base + page["url"], wait_until="networkidle")
    if response is None or response.status != 200:
        problems.append(f"HTTP status {response.status if response else 'none'}")
    # MathJax 3 typesets asynchronously: wait for it when the page loaded it.
    tab.evaluate(
        "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
        " ? MathJax.startup.promise.then(() => true) : true"
    )
    title = tab.title()
    if page["title"].lower() not in title.lower():
        problems.append(f"title {title!r} does not contain {page['title']!r}")
    equations = tab.locator("mjx-container").count()
    if page["math"] and equations == 0:
        problems.append("the notebook has maths but no equation was rendered")
    broken = tab.evaluate(
        "() => Array.from(document.images)"
        ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80))"
    )
    problems.extend(f"image not loaded: {src}" for src in broken)
    images = tab.evaluate("() => document.images.length")
    name = page["url"].replace("/_build/html", "").replace("/", "_")
    tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)
    if page["url"].startswith("slides/") and page["url"] != "slides/index.html":
        for width, height in DECK_VIEWPORTS:
            tab.set_viewport_size({"width": width, "height": height})
            tab.wait_for_timeout(300)  # reveal.js re-lays out the deck on resize
            folder = SHOTS / "slides" / f"{name.removesuffix('.html')}-{width}x{height}"
            found, measured = check_deck(tab, screenshots=folder)
            problems.extend(f"{width}x{height} {p}" for p in found)
            MEASURED.append((f"{page['url']} at {width}x{height}", measured))
    elif page.get("reading"):
        problems.extend(check_reading(tab))
        problems.extend(unfolded_solutions(tab))
        tab.set_viewport_size({"width": 1920, "height": 1080})
        tab.wait_for_timeout(300)
        tab.screenshot(path=str(SHOTS / f"{name.removesuffix('.html')}-1920.png"))
    tab.close()
    print(
        f"{'ok  ' if not problems else 'FAIL'} {page['url']}: {equations} equations, "
        f"{images} images"
    )
    return problems


# A worked solution (a `def name_solution(`) is folded until the learner opens it.
_VISIBLE_SOLUTIONS = """
() => Array.from(document.querySelectorAll('pre'))
  .filter(p => /def \\w+_solution\\(/.test(p.textContent) && p.checkVisibility())
  .map(p => p.textContent.match(/def (\\w+_solution)/)[1])
"""


def unfolded_solutions(tab) -> list[str]:
    return [f"solution shown unfolded: {name}" for name in tab.evaluate(_VISIBLE_SOLUTIONS)]


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("SKIPPED: no Chromium installed (Debian: apt-get install chromium); nothing checked")
        return 0
    for folder, target in ((BOOK, "make book"), (SLIDES, "make slides")):
        if not folder.is_dir():
            print(f"{folder} is missing: run `{target}` first", file=sys.stderr)
            return 1
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    server, base = serve(BUILD)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 800},
        )
        for page in pages():
            problems = check_page(context, base, page)
            for problem in problems:
                print(f"     {problem}")
            passed += not problems
            failed += bool(problems)
        for lab_check in (check_notebooks_in_lab, check_explorer_in_lab):
            problems = lab_check(context)
            for problem in problems:
                print(f"     {problem}")
            passed += not problems
            failed += bool(problems)
        context.close()
    server.shutdown()
    for where, m in MEASURED:
        print(
            f"{where}: {m['slides']} slides, {m['minutes']:g} minutes, words per slide median "
            f"{m['median_words']} max {m['max_words']}, {m['figures']} figures, smallest figure "
            f"text {m['smallest_figure_text_px_at_1280'] or 0:.1f} px at 1280x720, "
            f"{m['overflowing']} overflowing, {m['without_notes']} without notes"
        )
    print(f"screenshots in {SHOTS.relative_to(ROOT)}/")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
