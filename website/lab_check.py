"""The notebooks as a learner meets them in a live JupyterLab.

``check_notebooks_in_lab`` opens every notebook (stored outputs, no kernel run) and asks
JupyterLab itself which cells it shows collapsed: every worked solution (input and output),
every cell tagged ``hide-input`` (plotting, verification, set-up), and no speaker notes. A
screenshot of each notebook's first screen lands in _build/screenshots/lab_NN_name.png.

Notebook 05's explorer (``check_explorer_in_lab``): Run All, sliders on screen.

nbval and the website see only stored outputs; whether the panel opens on Run All is decided in
a browser talking to a kernel. This starts JupyterLab on a scratch copy of the notebook (running
it there saves outputs, which must not touch the repository), opens it in the caller's headless
Chromium, runs Restart Kernel and Run All Cells, and checks that the sliders appear with the
tuned setting's rate, that moving a slider changes it, and that no fallback text is printed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "05_momentum_theory.ipynb"
SHOTS = ROOT / "_build" / "screenshots"
TOKEN = "course-lab-check"
# What the explorer shows before anyone touches it (the tuned setting for kappa = 25).
START_TEXT = "rate 0.667"
FALLBACK_TEXT = "no widget frontend"
READOUT = ".hb-explorer-rate"  # the explorer's rate readout (an ipywidgets.HTML)
READOUT_PANEL = ".jp-OutputArea-output"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A fresh user's settings, except: every cell stays in the page (JupyterLab 4 may leave cells
# far off screen out of the DOM, where no check can read them) and no news prompt.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}


def _start_lab(folder: Path, port: int) -> subprocess.Popen:
    settings = folder / ".lab-settings"
    for name, values in SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    lab = Path(sys.executable).parent / "jupyter"
    cmd = [
        str(lab) if lab.exists() else "jupyter",
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={folder}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands as menus do
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={folder / '.lab-workspaces'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(folder / "lab.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=folder)


def _wait_for_server(port: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    url = f"http://127.0.0.1:{port}/api/status?token={TOKEN}"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer on port {port} in {seconds:.0f} s")


NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# For each cell JupyterLab draws: its tags, whether it shows the input and the output collapsed.
_NOTEBOOK_PANEL = """
(name) => Array.from(window.jupyterapp.shell.widgets('main'))
  .find(w => w.context && w.context.path === name && w.content && w.content.widgets.length > 0)
"""
_CELLS_AS_SHOWN = f"""
(name) => ({_NOTEBOOK_PANEL})(name).content.widgets.map(w => ({{
  id: w.model.id,
  type: w.model.type,
  tags: w.model.getMetadata('tags') || [],
  notes: (w.model.getMetadata('slideshow') || {{}}).slide_type === 'notes',
  inputHidden: w.inputHidden,
  outputHidden: w.model.type === 'code' ? w.outputHidden : false,
}}))
"""


def _collapse_problems(cells: list[dict]) -> tuple[list[str], dict]:
    problems = []
    for cell in cells:
        where = f"cell {cell['id']}"
        if cell["notes"]:
            problems.append(f"{where}: speaker notes in a learner's notebook")
        if "solution" in cell["tags"] and not (cell["inputHidden"] and cell["outputHidden"]):
            problems.append(f"{where}: a worked solution is not collapsed")
        if "hide-input" in cell["tags"] and not cell["inputHidden"]:
            problems.append(f"{where}: tagged hide-input but its code is shown")
    code = [c for c in cells if c["type"] == "code"]
    counts = {"code cells": len(code), "collapsed": sum(c["inputHidden"] for c in code)}
    return problems, counts


def check_notebooks_in_lab(context) -> list[str]:
    """Problems seen across every notebook; prints one line per notebook."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for notebook in NOTEBOOKS:
            shutil.copy(notebook, folder / notebook.name)
        port = _free_port()
        lab = _start_lab(folder, port)
        try:
            _wait_for_server(port)
            for notebook in NOTEBOOKS:
                tab = context.new_page()
                tab.set_default_timeout(60_000)
                tab.set_viewport_size({"width": 1280, "height": 800})
                try:
                    # ?reset: a fresh workspace, so the one notebook asked for is the one shown.
                    url = f"http://127.0.0.1:{port}/lab/tree/{notebook.name}?reset&token={TOKEN}"
                    tab.goto(url)
                    tab.wait_for_function(
                        f"(name) => window.jupyterapp && !!({_NOTEBOOK_PANEL})(name)",
                        arg=notebook.name,
                    )
                    tab.wait_for_timeout(1000)  # let the first screen render its outputs
                    cells = tab.evaluate(_CELLS_AS_SHOWN, notebook.name)
                    found, counts = _collapse_problems(cells)
                    SHOTS.mkdir(parents=True, exist_ok=True)
                    tab.screenshot(path=str(SHOTS / f"lab_{notebook.stem}.png"))
                except Exception as error:  # a timeout: say which notebook, keep going
                    found = [f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"]
                    counts = {}
                finally:
                    tab.close()
                problems += [f"{notebook.stem}: {p}" for p in found]
                status = "ok  " if not found else "FAIL"
                print(f"{status} JupyterLab: {notebook.stem} as a learner opens it {counts}")
        finally:
            lab.terminate()
            try:
                lab.wait(timeout=20)
            except subprocess.TimeoutExpired:
                lab.kill()
    return problems


def check_explorer_in_lab(context) -> list[str]:
    """Problems seen (empty when the explorer works); prints one line like the page checks."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        shutil.copy(NOTEBOOK, folder / NOTEBOOK.name)
        port = _free_port()
        lab = _start_lab(folder, port)
        tab = None
        try:
            _wait_for_server(port)
            tab = context.new_page()
            tab.set_default_timeout(60_000)
            tab.goto(f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={TOKEN}")
            tab.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell")
            tab.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")
            # The kernel must be up before the command, as a learner would see "Idle".
            tab.wait_for_function(
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " return w && w.sessionContext && w.sessionContext.session &&"
                " w.sessionContext.session.kernel &&"
                " w.sessionContext.session.kernel.status === 'idle'; }"
            )
            # Not awaited: the command waits for the dialog's answer, given just below.
            tab.evaluate("() => { jupyterapp.commands.execute('notebook:restart-run-all'); }")
            tab.locator(".jp-Dialog .jp-mod-accept").click()  # "Restart Kernel?"
            readout = tab.locator(READOUT)
            readout.wait_for(state="attached", timeout=240_000)
            readout.scroll_into_view_if_needed()
            # JupyterLab leaves off-screen text unrendered, so read textContent, not innerText.
            text_of = "(selector) => document.querySelector(selector).textContent.trim()"
            tab.wait_for_function(f"() => ({text_of})({READOUT!r}) !== ''")
            shown = tab.evaluate(text_of, READOUT)
            if shown != START_TEXT:
                problems.append(f"the explorer starts at {shown!r}, not {START_TEXT!r}")
            sliders = tab.locator(f"{READOUT_PANEL} .widget-slider")
            if sliders.count() < 3:
                problems.append(f"expected the explorer's three sliders, found {sliders.count()}")
            SHOTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(SHOTS / "lab_05_explorer.png"))
            # Moving a slider must redraw: the readout changes.
            handle = sliders.first.locator(".noUi-handle").first
            handle.focus()
            for _ in range(3):
                handle.press("ArrowRight")
            tab.wait_for_function(f"(start) => ({text_of})({READOUT!r}) !== start", arg=START_TEXT)
            # Wait until every cell has run, then look for the fallback text.
            tab.wait_for_function(
                "() => window.jupyterapp.shell.currentWidget.sessionContext.session"
                ".kernel.status === 'idle'"
            )
            if FALLBACK_TEXT in tab.evaluate(text_of, ".jp-Notebook"):
                problems.append(f"the notebook printed the fallback {FALLBACK_TEXT!r}")
        except Exception as error:  # a timeout is the usual way this fails: say where
            problems.append(f"{type(error).__name__}: {str(error).splitlines()[0][:300]}")
            if tab is not None:
                SHOTS.mkdir(parents=True, exist_ok=True)
                tab.screenshot(path=str(SHOTS / "lab_05_explorer_failed.png"), full_page=True)
        finally:
            if tab is not None:
                tab.close()
            lab.terminate()
            try:
                lab.wait(timeout=20)
            except subprocess.TimeoutExpired:
                lab.kill()
    status = "ok  " if not problems else "FAIL"
    print(f"{status} JupyterLab: notebook 05, Restart and Run All shows the explorer")
    return problems
