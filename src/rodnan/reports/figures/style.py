"""The figures' shared style: size, fonts, the colour-blind-safe palette, and rendering to SVG and PNG.

Figures are built with ``matplotlib.figure.Figure`` directly, never through ``pyplot``: no backend is
selected, no window can open, and nothing is left in pyplot's registry of open figures (a figure is
freed when the last reference to it goes). :func:`render_svg` and :func:`render_png` turn a figure into
bytes; SVG output is deterministic (no date, fixed id salt), so the same analysis gives the same file.

Every figure is sized for the A4 text width (170 mm), uses one style (:data:`STYLE`: DejaVu Sans 8.5 pt,
no top/right spines) and the Okabe-Ito colour-blind-safe palette (:data:`COLOURS`).
"""

from __future__ import annotations

import io
import math
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

A4_WIDTH_IN = 6.7
"""Figure width in inches: the text width of an A4 page with 20 mm margins (170 mm)."""
STYLE: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.titleweight": "bold",
    "axes.labelsize": 8.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 7.5,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.4,
    "svg.fonttype": "none",
    "svg.hashsalt": "rodnan",
    "savefig.bbox": None,
}
COLOURS = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
    "grey": "#8C8C8C",
    "light": "#D9D9D9",
}
"""Okabe & Ito's colour-blind-safe palette, plus two greys."""
GRADE_COLOURS = {1: "#F0E442", 2: "#E69F00", 3: "#D55E00", 4: "#8E1A0E", 5: "#000000"}
"""CTCAE grade 1 to 5, light to dark."""
MONTH_LABEL = "Months since MSC infusion"


def render_svg(figure: Figure) -> bytes:
    """The figure as SVG (text as text elements, no date, fixed ids: the same figure gives the same bytes)."""
    buffer = io.BytesIO()
    with mpl.rc_context(STYLE):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()


def render_png(figure: Figure, dpi: int = 150) -> bytes:
    """The figure as PNG at ``dpi`` (no timestamp in the file)."""
    buffer = io.BytesIO()
    with mpl.rc_context(STYLE):
        figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def new_figure(height_in: float, width_in: float = A4_WIDTH_IN) -> Figure:
    """An empty figure of the A4 text width (or ``width_in``) and ``height_in`` inches, at 100 dpi."""
    return Figure(figsize=(width_in, height_in), dpi=100)


def month_axis(ax: Axes, last: float) -> None:
    """An x axis in months since the infusion, ticks every 3 months up to ``last`` (at least 12)."""
    ticks = np.arange(0, max(last, 12.0) + 0.01, 3.0)
    ax.set_xticks(ticks)
    ax.set_xlim(-0.3, ticks[-1] + 0.6)
    ax.set_xlabel(MONTH_LABEL)


def format_months(value: float) -> str:
    """Months with one decimal, or "NR" (not reached) for NaN."""
    return "NR" if math.isnan(value) else f"{value:.1f}"
