"""One figure style for the whole course, readable on a laptop and from the back of a lecture hall.

Call ``use_course_style()`` once at the top of a notebook. The two drawing helpers cover the
figures every chapter needs: optimizer paths over the contours of a 2-D function, and loss
curves. Anything used by a single notebook lives in that notebook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler

# Colour-blind-safe palette (Okabe & Ito 2008), in the order lines are drawn.
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")

_STYLE: dict[str, Any] = {
    "figure.figsize": (8, 5),
    "figure.dpi": 80,
    "savefig.dpi": 120,
    "font.size": 14,
    "axes.titlesize": 15,
    "axes.labelsize": 14,
    "legend.fontsize": 12,
    "lines.linewidth": 2.5,
    "lines.markersize": 6,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=COLORS),
    "figure.constrained_layout.use": True,
}


def use_course_style() -> None:
    """Set matplotlib's rcParams to the course style (large fonts, thick lines, safe colours)."""
    mpl.rcParams.update(_STYLE)  # type: ignore[arg-type]  # keys are rcParams names


def plot_contour_paths(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray],
    paths: Mapping[str, Sequence[Sequence[float]]],
    *,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    ax: plt.Axes | None = None,
    title: str | None = None,
    levels: int = 20,
    legend: bool = True,
) -> plt.Axes:
    """Contours of ``f(x1, x2)`` (vectorised over grids) with one optimizer path per entry.

    ``paths`` maps a legend label to the iterates, an array-like of shape (steps + 1, 2).
    The minimiser is not marked: mark it in the notebook where it is known. ``legend=False``
    leaves the legend out (small multiples share one).
    """
    ax = ax or plt.gca()
    x1, x2 = np.meshgrid(np.linspace(*xlim, 300), np.linspace(*ylim, 300))
    ax.contour(x1, x2, f(x1, x2), levels=levels, colors="0.6", linewidths=1.0)
    for i, (label, path) in enumerate(paths.items()):
        xy = np.asarray(path, dtype=float)
        # Past the seven colours, the colours repeat with another line style: no path is lost.
        color, style = COLORS[i % len(COLORS)], ("-", "--", ":")[i // len(COLORS) % 3]
        ax.plot(xy[:, 0], xy[:, 1], style, marker="o", color=color, label=label, markersize=4)
    ax.set(xlim=xlim, ylim=ylim, xlabel="$x_1$", ylabel="$x_2$")
    ax.set_aspect("equal", adjustable="box")
    if title:
        ax.set_title(title)
    if paths and legend:
        ax.legend(loc="upper right")
    return ax


def plot_curves(
    curves: Mapping[str, Sequence[float]],
    *,
    ax: plt.Axes | None = None,
    xlabel: str = "step",
    ylabel: str = "loss",
    title: str | None = None,
    logy: bool = True,
) -> plt.Axes:
    """One line per entry of ``curves`` (label -> values per step), log scale by default."""
    ax = ax or plt.gca()
    for label, values in curves.items():
        ax.plot(np.arange(len(values)), np.asarray(values, dtype=float), label=label)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    if curves:
        ax.legend()
    return ax
