"""What the browser tests share: the pages to open, a local server, and one page's checks.

The tests are website/test_browser.py (`make browser-check` runs them under pytest, with a
screenshot on failure); pdf.py and handouts.py print pages from the same local server.
Offline: every page is served from _build on 127.0.0.1, and a request to any other host is
blocked and reported.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
from pathlib import Path
from urllib.parse import urlparse

from website import decks
from website.build import EDITIONS, notebook_status  # one reading of a notebook's title

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


def pages() -> list[dict]:
    """Every page to open, in both languages, with what its title must contain, whether it
    must show maths, and its language ("en" or "zh")."""
    result = []
    for edition in EDITIONS:
        lang = edition.language.code
        book = "book/_build/html" + (f"/{edition.subdir}" if edition.subdir else "")
        slides = "slides" + (f"/{edition.subdir}" if edition.subdir else "")
        for path in edition.notebooks:
            status = notebook_status(path)
            # The title's first words are enough: Sphinx may rewrite punctuation and code.
            short = re.sub(r"[`*]", "", status["title"]).split("·")[-1].strip()[:20]
            url = f"{book}/{path.stem}.html"
            result.append({"url": url, "title": short, "math": status["math"], "lang": lang})
            result[-1]["reading"] = True
        for deck in decks.decks(edition.language):
            title = re.sub(r"[`*$]", "", deck.title)[:20]
            result.append(
                {"url": f"{slides}/{deck.name}.html", "title": title, "math": True, "lang": lang}
            )
        result.append({"url": f"{book}/intro.html", "title": edition.title, "math": True})
        result.append({"url": f"{book}/glossary.html", "title": "Glossary", "math": True})
        result.append({"url": f"{slides}/index.html", "title": edition.words["lectures"]})
        for extra in ("genindex.html", "search.html"):
            if (BUILD / book / extra).exists():
                result.append({"url": f"{book}/{extra}", "title": edition.title})
        for page in result:
            page.setdefault("math", False)
            page.setdefault("lang", lang)
    return result


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the check's output readable
        pass


def open_page(context, base: str, url: str, problems: list[str]):
    """A new tab at ``base + url``, MathJax typeset; console errors, failed requests and
    requests to other hosts are added to ``problems``."""
    tab = context.new_page()

    def console(message) -> None:
        if message.type == "error":
            problems.append(f"console error: {message.text}")

    def failed_request(reply) -> None:
        if reply.status >= 400:
            problems.append(f"HTTP {reply.status}: {reply.url}")

    tab.on("console", console)
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.on("response", failed_request)

    def route(r):
        if urlparse(r.request.url).hostname in LOCAL_HOSTS:
            r.continue_()
        else:
            problems.append(f"request to a non-local host: {r.request.url}")
            r.abort()

    tab.route(re.compile(r"^(https?|wss?)://"), route)
    response = tab.goto(base + url, wait_until="networkidle")
    if response is None or response.status != 200:
        problems.append(f"HTTP status {response.status if response else 'none'}")
    # MathJax 3 typesets asynchronously: wait for it when the page loaded it.
    tab.evaluate(
        "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
        " ? MathJax.startup.promise.then(() => true) : true"
    )
    return tab


def shot_name(url: str) -> str:
    return url.replace("/_build/html", "").replace("/", "_").removesuffix(".html")


# The other language's version of a site page or deck index, and whether it loads.
_LANGUAGE_SWITCH = """
async () => {
  const link = document.querySelector('a.language-switch, .language-switch a');
  if (!link) return null;
  const response = await fetch(link.href);
  return { href: link.getAttribute('href'), status: response.status, text: link.textContent };
}
"""


def check_page(tab, page: dict) -> list[str]:
    """A page's title, rendered maths, loaded images, its link to the other language and, on a
    Chinese page, a glyph for every character; a screenshot of its first screen."""
    problems = []
    if not page["url"].startswith("slides/") or page["url"].endswith("index.html"):
        switch = tab.evaluate(_LANGUAGE_SWITCH)
        if switch is None:
            problems.append("no link to the page in the other language")
        elif switch["status"] != 200:
            problems.append(f"the language link {switch['href']!r} gives HTTP {switch['status']}")
    if page["lang"] == "zh":
        from website.reading_check import missing_glyphs

        problems += [f"no font has a glyph for {c!r} (U+{ord(c):04X})" for c in missing_glyphs(tab)]
    title = tab.title()
    if page["title"].lower() not in title.lower():
        problems.append(f"title {title!r} does not contain {page['title']!r}")
    if page["math"] and tab.locator("mjx-container").count() == 0:
        problems.append("the page has maths but no equation was rendered")
    broken = tab.evaluate(
        "() => Array.from(document.images)"
        ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80))"
    )
    problems.extend(f"image not loaded: {src}" for src in broken)
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SHOTS / f"{shot_name(page['url'])}.png"))
    return problems
