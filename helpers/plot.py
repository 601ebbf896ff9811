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
from matplotlib.figure import Figure
from matplotlib.text import Text

# Colour-blind-safe palette (Okabe & Ito 2008), in the order lines are drawn.
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")

_STYLE: dict[str, Any] = {
    "figure.figsize": (8, 5),
    "figure.dpi": 80,
    "savefig.dpi": 120,
    "font.size": 14,
    "axes.titlesize": 15,
    "axes.labelsize": 14,
    "legend.fontsize": 14,
    "xtick.labelsize": 14,
    "ytick.labelsize": 14,
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
    """Set matplotlib's rcParams to the course style (large fonts, thick lines, safe colours).

    In a notebook, figures are also stored as pixel-doubled PNGs (sharp on a projector at
    1920x1080) that record their smallest text size; see ``figure_png``.
    """
    mpl.rcParams.update(_STYLE)  # type: ignore[arg-type]  # keys are rcParams names
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to display into
        return
    shell = get_ipython()
    if shell is not None:
        from matplotlib.figure import Figure

        shell.display_formatter.formatters["image/png"].for_type(Figure, figure_png)


def smallest_text_pt(fig: Figure) -> float | None:
    """The font size, in points, of the smallest visible non-empty text in ``fig``."""
    fig.canvas.draw()  # tick labels exist only once the figure is drawn
    sizes = [
        float(text.get_fontsize())
        for text in fig.findobj(Text)
        if text.get_visible() and text.get_text().strip() and _inside(text, fig)
    ]
    return min(sizes) if sizes else None


def _inside(text: Text, fig: Figure) -> bool:
    """False for a text outside its figure (a tick label beyond the axis limits is kept out)."""
    box = text.get_window_extent()
    return box.x1 > 0 and box.y1 > 0 and box.x0 < fig.bbox.width and box.y0 < fig.bbox.height


def figure_png(fig: Figure) -> tuple[str, dict[str, float]] | None:
    """A figure as a base64 PNG at twice its pixel size, with the metadata a page needs.

    ``width`` and ``height`` are the display size (half the pixels, as IPython's "retina"
    format). ``text_px`` is the smallest text height in the PNG's own pixels:
    points x dpi / 72 x 2. A page that shows the image ``w`` pixels wide shows that text
    ``text_px x w / png_width`` pixels high, which the slide and page checks measure.
    """
    from IPython.core.pylabtools import retina_figure

    smallest = smallest_text_pt(fig)
    result = retina_figure(fig, base64=True, bbox_inches="tight")
    if result is None:
        return None
    data, metadata = result
    if smallest is not None:
        metadata["text_px"] = round(smallest * fig.dpi / 72 * 2, 2)
    return data, metadata


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
