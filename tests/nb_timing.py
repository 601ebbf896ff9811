"""pytest plugin (-p tests.nb_timing): print how long each notebook took under nbval.

nbval reports one test per cell; the budget that matters is per notebook, so this sums the
set-up, call and tear-down times of each notebook's cells (kernel start included).
"""

from __future__ import annotations

from collections import defaultdict

_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report) -> None:
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    if not _seconds:
        return
    terminalreporter.section("time per notebook (kernel start + all cells)")
    for path, seconds in sorted(_seconds.items()):
        terminalreporter.write_line(f"{seconds:6.1f} s  {path}")
