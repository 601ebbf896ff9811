"""Notebook 05's slider panel: it starts exactly at the tuned setting and its readout follows it.

The panel is built outside a kernel (ipywidgets works without a frontend: its comms are inert),
so these tests see the same Python objects a live JupyterLab session would drive.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # the panel draws with plt.show(); no window here

import matplotlib.pyplot as plt  # noqa: E402
from notebook_code import cells as notebook_cells  # noqa: E402
from notebook_code import load_definitions  # noqa: E402

from helpers.quadratic import heavy_ball_optimal, heavy_ball_rate  # noqa: E402

pytest.importorskip("ipywidgets")

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "05_momentum_theory.ipynb"
DEFS = load_definitions(NOTEBOOK, ["explorer", "draw_setting", "valley_setting"])


def parts(panel):
    controls, readout, _ = panel.children
    eta, beta, kappa, button = controls.children
    return eta, beta, kappa, button, readout


@pytest.fixture
def panel():
    made = DEFS["explorer"]()
    yield made
    plt.close("all")


def test_starts_exactly_at_the_tuned_setting(panel):
    eta, beta, kappa, _, readout = parts(panel)
    assert kappa.value == 25.0
    assert (eta.value, beta.value) == heavy_ball_optimal(1 / 25, 1.0)  # exact, not rounded
    assert readout.value == "rate 0.667"
    assert readout.value == f"rate {heavy_ball_rate(eta.value, beta.value, [1 / 25, 1.0]):.3f}"
    assert "hb-explorer-rate" in readout._dom_classes  # how a browser test finds the readout


def test_readout_follows_the_sliders_and_the_button_retunes(panel):
    eta, beta, kappa, button, readout = parts(panel)
    beta.value = 0.9  # a grid value: every direction in the ripple band, rate sqrt(0.9)
    assert readout.value == f"rate {heavy_ball_rate(eta.value, 0.9, [1 / 25, 1.0]):.3f}"
    assert readout.value == "rate 0.949"
    kappa.value = 100.0
    button.click()
    assert (eta.value, beta.value) == heavy_ball_optimal(1 / 100, 1.0)
    assert readout.value == "rate 0.818"  # (sqrt(100) - 1) / (sqrt(100) + 1) = 9/11


def test_every_kappa_can_be_tuned_exactly(panel):
    eta, beta, kappa, button, _ = parts(panel)
    for _, value in kappa.options:
        for widget in (eta, beta, kappa):
            labels = [label for label, _ in widget.options]
            assert len(set(labels)) == len(labels), widget.description  # no two alike
        kappa.value = value
        button.click()
        assert (eta.value, beta.value) == heavy_ball_optimal(1 / value, 1.0)


def test_the_widget_cell_shows_the_panel_and_is_not_compared():
    cells = notebook_cells(NOTEBOOK)
    source = ["".join(c["source"]) for c in cells]
    assert not any("widget_frontend_connected" in s for s in source)
    shows = [c for c, s in zip(cells, source, strict=True) if "panel = explorer()" in s]
    assert len(shows) == 1
    assert "nbval-ignore-output" in shows[0]["metadata"].get("tags", [])
