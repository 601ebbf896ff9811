"""Fixtures of the browser tests (website/test_browser.py): the built site on a local server,
Debian's Chromium for pytest-playwright, and a summary of what each deck measured."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from website.browser_check import BOOK, BUILD, CHROMIUM_FLAGS, SLIDES, serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MEASURED: list[str] = []  # one line per deck and window size, printed at the end


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """The base URL of _build served on 127.0.0.1 (the built website, decks and handouts)."""
    if CHROMIUM is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium)")
    for folder, target in ((BOOK, "make book"), (SLIDES, "make slides")):
        if not folder.is_dir():
            pytest.fail(f"{folder} is missing: run `{target}` first")
    server, base = serve(BUILD)
    yield base
    server.shutdown()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright launches the system's Chromium: nothing is downloaded."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


def pytest_terminal_summary(terminalreporter) -> None:
    if MEASURED:
        terminalreporter.section("the decks as an instructor sees them")
        for line in MEASURED:
            terminalreporter.write_line(line)
