"""Print each chapter's website page to a PDF handout, then open every PDF and check it.

    python -m website.pdf        (after `make book`)  ->  _build/pdf/NN_name.pdf

Headless Chromium prints the page with its print style (website/build.py: the core path only,
without navigation; solutions stay folded), A4, after MathJax has typeset. Each PDF is then
read back with pypdf: it must have pages, no page may be blank (every page carries text or
an image), and no worked solution may show. Offline: the pages are served from _build on localhost.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from website.browser_check import BOOK, BUILD, CHROMIUM_FLAGS, NOTEBOOKS, serve

OUT = BUILD / "pdf"


def print_pages(context, base: str) -> list[Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    for notebook in NOTEBOOKS:
        tab = context.new_page()
        tab.goto(f"{base}book/_build/html/{notebook.stem}.html", wait_until="networkidle")
        tab.evaluate(
            "() => window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => 1) : 1"
        )
        # Lazy images far down the page would print as empty boxes: load them all first.
        tab.evaluate(
            "() => Promise.all(Array.from(document.images).map(i => { i.loading = 'eager';"
            " return i.complete ? 1 : new Promise(r => { i.onload = i.onerror = r; }); }))"
        )
        tab.emulate_media(media="print")
        target = OUT / f"{notebook.stem}.pdf"
        tab.pdf(
            path=str(target),
            format="A4",
            print_background=True,
            margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"},
        )
        tab.close()
        written.append(target)
    return written


def read_back(path: Path) -> tuple[int, list[str]]:
    """A printed PDF's page count and its problems: blank pages, worked solutions shown.

    A page is blank with neither text nor an image. A solution (``def name_solution(`` or
    ``name_solution = ...``) must stay folded in print, as on the page.
    """
    from pypdf import PdfReader

    reader = PdfReader(path)
    problems = []
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        if not text.strip() and not page.images:
            problems.append(f"page {number} is blank")
        shown = re.findall(r"def \w+_solution|^\w+_solution\s*=", text, flags=re.M)
        problems += [f"page {number} shows {m}" for m in shown]
    return len(reader.pages), problems


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("no Chromium installed (Debian: apt-get install chromium)", file=sys.stderr)
        return 1
    if not BOOK.is_dir():
        print(f"{BOOK} is missing: run `make book` first", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    server, base = serve(BUILD)
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
        )
        written = print_pages(context, base)
        context.close()
    server.shutdown()
    failed = 0
    for path in written:
        pages, problems = read_back(path)
        ok = pages > 0 and not problems
        failed += not ok
        note = f": {'; '.join(problems)}" if problems else ""
        print(f"{'ok  ' if ok else 'FAIL'} {path.relative_to(BUILD.parent)}: {pages} pages{note}")
    print(f"{len(written)} PDFs in {time.monotonic() - started:.0f} s, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
