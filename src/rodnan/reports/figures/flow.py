"""The flow figure: subjects from screening to analysis, CONSORT style, drawn with patches."""

from __future__ import annotations

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from rodnan.core.analysis.pipeline import Disposition
from rodnan.reports.figures.style import COLOURS, STYLE, new_figure

# --- CONSORT ----------------------------------------------------------------------------------------


def _box(ax: Axes, x: float, y: float, width: float, height: float, text: str, main: bool = True) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2),
            width,
            height,
            boxstyle="round,pad=0.4,rounding_size=1.2",
            facecolor="#EAF3FA" if main else "#F5F5F5",
            edgecolor=COLOURS["blue"] if main else COLOURS["grey"],
            linewidth=0.9,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=7.8, linespacing=1.35)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, linewidth=0.9, color=COLOURS["black"]))


def _reasons(reasons: tuple[tuple[str, int], ...]) -> str:
    return "\n".join(f"• {name}: {count}" for name, count in reasons)


def figure_consort(disposition: Disposition) -> Figure:
    """CONSORT-style flow: screened, eligible, enrolled, infused, completed, with the exclusions and reasons.

    When the screening log is not in the data (:attr:`Disposition.screening_recorded` is False) the
    screened and eligible boxes say "not recorded" instead of repeating the enrolled count.
    """
    d = disposition
    with mpl.rc_context(STYLE):
        figure = new_figure(5.6)
        ax = figure.add_axes((0.0, 0.0, 1.0, 1.0))
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.axis("off")
        main_x, side_x, width, side_width, height = 31.0, 75.0, 40.0, 38.0, 8.5
        levels = (90.0, 74.0, 58.0, 42.0, 26.0, 9.0)
        if d.screening_recorded:
            screened = f"Screened\nn = {d.screened}"
            eligible = f"Eligible\nn = {d.eligible}"
            failed = f"Not eligible (screen failures): n = {d.screen_failed}"
            if d.screen_fail_reasons:
                failed += "\n" + _reasons(d.screen_fail_reasons)
            if d.in_screening:
                failed += f"\nStill in screening or awaiting enrolment: n = {d.in_screening}"
        else:
            screened = f"Screened\nnot recorded\n({d.screened} registered subjects in the data)"
            eligible = "Eligible\nnot recorded"
            failed = "Screen failures: not recorded\n(the data hold enrolled subjects only)"
        completed = f"Completed follow-up\nn = {d.completed}"
        if d.in_follow_up:
            completed += f"\nstill in follow-up: n = {d.in_follow_up}"
        texts = (
            screened,
            eligible,
            f"Enrolled\nn = {d.enrolled}",
            f"Infused (MSC)\nn = {d.infused}",
            completed,
            f"Analysed (DFS, OS, safety)\nn = {d.infused} (all infused subjects)",
        )
        heights = [height + (3.0 if text.count("\n") >= 2 else 0.0) for text in texts]
        for level, text, box_height in zip(levels, texts, heights, strict=True):
            _box(ax, main_x, level, width, box_height, text)
        for k in range(len(levels) - 1):
            _arrow(ax, (main_x, levels[k] - heights[k] / 2 - 1.2), (main_x, levels[k + 1] + heights[k + 1] / 2 + 1.2))
        not_infused = f"Not infused: n = {d.not_infused}"
        if d.not_infused_reasons:
            not_infused += "\n" + _reasons(d.not_infused_reasons)
        stopped = f"Discontinued follow-up: n = {d.discontinued}"
        if d.discontinued_reasons:
            stopped += "\n" + _reasons(d.discontinued_reasons)
        for k, text in ((0, failed), (2, not_infused), (3, stopped)):
            side_y = (levels[k] + levels[k + 1]) / 2
            _box(ax, side_x, side_y, side_width, 3.2 + 2.6 * (text.count("\n") + 1), text, main=False)
            _arrow(ax, (main_x, side_y), (side_x - side_width / 2 - 1.2, side_y))
    return figure
