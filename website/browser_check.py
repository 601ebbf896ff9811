"""Open every page of the built website and every slide deck in headless Chromium, and check them.

    python website/browser_check.py        (after `make book` and `make slides`)

For each page: the title is right; where the notebook has maths, MathJax has rendered at least
one equation; every image has loaded (naturalWidth > 0); the console shows no errors; and no
request goes to any host but the local test server (such requests are blocked and reported).
One screenshot per page lands in _build/screenshots/.

What a person sees (website/reading_check.py): every deck is stepped through slide by slide at
1280x720 and 1920x1080 (a screenshot of each slide at 1280x720); no slide's content is taller
than the slide, every figure is fully inside the window when its slide is shown, no slide has
more than about 120 words, every section slide has speaker notes, every figure has alt text. Every
chapter page is read at 1280 px wide: no TeX source left in its text, no code block wider than
its box, figure text at least 11 px high; and a screenshot at 1920 px.

Last, notebook 05 in a live JupyterLab (website/lab_check.py): Restart and Run All shows the
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

from build import notebook_status  # website/build.py: one reading of a notebook's title
from lab_check import check_explorer_in_lab  # website/lab_check.py: the live explorer
from reading_check import DECK_VIEWPORTS, check_deck, check_reading  # what a person sees

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
TOTALS: dict[str, list[int]] = {}  # per deck size: slides, overflowing, figures, hidden, notes


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
        result.append({**info, "url": f"slides/{path.stem}.slides.html", "title": short})
    book = "book/_build/html"
    result.append({"url": f"{book}/intro.html", "title": COURSE_TITLE, "math": True})
    result.append({"url": f"{book}/status.html", "title": "Execution status", "math": False})
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
    if page["url"].endswith(".slides.html"):
        for width, height in DECK_VIEWPORTS:
            tab.set_viewport_size({"width": width, "height": height})
            tab.wait_for_timeout(300)  # reveal.js re-lays out the deck on resize
            # A screenshot of every slide at the first size (the second only measures).
            first = (width, height) == DECK_VIEWPORTS[0]
            folder = SHOTS / "slides" / f"{name.removesuffix('.html')}-{width}x{height}"
            found, counts = check_deck(tab, screenshots=folder if first else None)
            problems.extend(f"{width}x{height} {p}" for p in found)
            before = TOTALS.get(f"{width}x{height}", [0] * len(counts))
            TOTALS[f"{width}x{height}"] = [
                a + b for a, b in zip(before, counts.values(), strict=True)
            ]
    elif page.get("reading"):
        problems.extend(check_reading(tab))
        tab.set_viewport_size({"width": 1920, "height": 1080})
        tab.wait_for_timeout(300)
        tab.screenshot(path=str(SHOTS / f"{name.removesuffix('.html')}-1920.png"))
    tab.close()
    print(
        f"{'ok  ' if not problems else 'FAIL'} {page['url']}: {equations} equations, "
        f"{images} images"
    )
    return problems


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
        problems = check_explorer_in_lab(context)
        for problem in problems:
            print(f"     {problem}")
        passed += not problems
        failed += bool(problems)
        context.close()
    server.shutdown()
    for size, (slides, overflowing, figures, hidden, notes) in TOTALS.items():
        print(
            f"decks at {size}: {slides} slides, {overflowing} overflowing, {figures} figures "
            f"({hidden} not fully visible), {notes} speaker notes"
        )
    print(f"screenshots in {SHOTS.relative_to(ROOT)}/")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
