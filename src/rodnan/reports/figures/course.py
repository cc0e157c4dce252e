"""Figures of the course of follow-up: change over time (spaghetti), organ function by visit, and the swimmer plot."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from scipy import stats

from rodnan.core.analysis.pipeline import ChangeAnalysis, TrialAnalysis
from rodnan.reports.figures.style import COLOURS, GRADE_COLOURS, MONTH_LABEL, STYLE, month_axis, new_figure

RULE_MARKERS = ("X", "^", "s", "D", "P", "*", "h")
"""Markers of the DFS rules, in the protocol's order (E1 death, E2 skin, ...)."""
SKEWED_PARAMETERS = frozenset({"PROT24H", "CREAT"})
"""Organ-function parameters summarised by median and interquartile range instead of mean and CI."""

# --- change over time -------------------------------------------------------------------------------


def visit_summary(long: pd.DataFrame, skewed: bool = False) -> pd.DataFrame:
    """Per scheduled month (AVISITN, baseline 0): n and mean with its 95 % t-interval, or median with IQR.

    Columns: month, n, centre, lower, upper.
    """
    scheduled = long[long["AVISITN"].notna() & (long["AVISITN"] >= 0)]
    rows = []
    visit_months = scheduled["AVISITN"].to_numpy(dtype=np.float64)
    observed = scheduled["AVAL"].to_numpy(dtype=np.float64)
    for month in np.unique(visit_months):
        values = observed[(visit_months == month) & ~np.isnan(observed)]
        n = len(values)
        if n == 0:
            continue
        if skewed:
            centre = float(np.median(values))
            lower, upper = (float(q) for q in np.percentile(values, [25, 75]))
        else:
            centre = float(values.mean())
            half = float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
            lower, upper = centre - half, centre + half
        rows.append({"month": float(month), "n": n, "centre": centre, "lower": lower, "upper": upper})
    return pd.DataFrame(rows, columns=["month", "n", "centre", "lower", "upper"])


def _draw_spaghetti(ax: Axes, change: ChangeAnalysis, colour: str) -> None:
    long = change.long
    for _subject, rows in long.sort_values("MONTH").groupby("USUBJID", sort=True):
        ax.plot(rows["MONTH"], rows["AVAL"], color=COLOURS["grey"], linewidth=0.5, alpha=0.55)
    summary = visit_summary(long)
    ax.fill_between(summary["month"], summary["lower"], summary["upper"], color=colour, alpha=0.25, linewidth=0)
    ax.plot(summary["month"], summary["centre"], color=colour, marker="o", markersize=3)
    model = change.mixed_model
    if model is not None:
        intercept = float(model.fixed_effects.loc[["Intercept"], "estimate"].to_numpy(dtype=np.float64)[0])
        months = np.array([0.0, float(long["MONTH"].max())])
        ax.plot(months, intercept + model.slope.estimate * months, color=COLOURS["black"], linestyle="--", linewidth=1.0)
        slope = model.slope
        subtitle = ax.text(
            0.0,
            1.02,
            f"slope {slope.estimate:+.3g}/month (95 % CI {slope.lower:.3g} to {slope.upper:.3g})",
            transform=ax.transAxes,
            fontsize=7.2,
            va="bottom",
        )
        subtitle.set_in_layout(False)
    unit = f" ({change.unit})" if change.unit else ""
    ax.set_ylabel(f"{change.short_label}{unit}")
    ax.set_title(change.short_label, loc="left", pad=14)
    month_axis(ax, float(long["MONTH"].max()))


def figure_spaghetti(changes: Sequence[ChangeAnalysis], columns: int = 2) -> Figure:
    """One panel per parameter: a thin grey line per subject, the mean by visit with its 95 % CI, the model line.

    The mean is over the subjects assessed at each scheduled visit (baseline at month 0) with its
    t-interval; the dashed line is the mixed model's fitted mean (intercept + slope x month), its slope
    in the panel's title. One legend for all panels, under them.

    Args:
        changes: the parameters to draw (one panel each; a single one fills the width).
        columns: panels per row when there are several.
    """
    count = len(changes)
    ncols = 1 if count == 1 else columns
    nrows = math.ceil(count / ncols)
    with mpl.rc_context(STYLE):
        figure = new_figure(3.3 if count == 1 else 2.5 * nrows + 0.35)
        axes = figure.subplots(nrows, ncols, squeeze=False)
        palette = (COLOURS["blue"], COLOURS["vermillion"], COLOURS["green"], COLOURS["purple"])
        for k, change in enumerate(changes):
            _draw_spaghetti(axes[k // ncols][k % ncols], change, palette[k % len(palette)])
        for k in range(count, nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        handles: list[Any] = [
            Line2D([], [], color=COLOURS["grey"], linewidth=0.8, label="one subject"),
            (Patch(color="#555555", alpha=0.25, linewidth=0), Line2D([], [], color="#555555", marker="o", markersize=3)),
            Line2D([], [], color=COLOURS["black"], linestyle="--", linewidth=1.0, label="mixed model, fitted mean"),
        ]
        labels = ["one subject", "mean by visit (95 % CI)", "mixed model, fitted mean"]
        figure.legend(handles, labels, loc="lower center", ncols=3, bbox_to_anchor=(0.5, 0.0))
        height = figure.get_figheight()
        figure.subplots_adjust(left=0.09, right=0.985, top=1 - 0.42 / height, bottom=0.85 / height, hspace=0.62, wspace=0.28)
    return figure


def figure_organ_function(changes: Mapping[str, ChangeAnalysis], paramcds: Sequence[str]) -> Figure:
    """Organ function by scheduled visit: mean with 95 % CI (median with IQR for :data:`SKEWED_PARAMETERS`).

    One panel per parameter the data have, with the number of subjects under each point.
    """
    present = [changes[p] for p in paramcds if p in changes]
    ncols = 2
    nrows = max(math.ceil(len(present) / ncols), 1)
    with mpl.rc_context(STYLE):
        figure = new_figure(1.95 * nrows + 0.3)
        axes = figure.subplots(nrows, ncols, squeeze=False, sharex=True)
        for k, change in enumerate(present):
            ax = axes[k // ncols][k % ncols]
            skewed = change.paramcd in SKEWED_PARAMETERS
            summary = visit_summary(change.long, skewed)
            colour = COLOURS["vermillion"] if skewed else COLOURS["blue"]
            ax.errorbar(
                summary["month"],
                summary["centre"],
                yerr=[summary["centre"] - summary["lower"], summary["upper"] - summary["centre"]],
                color=colour,
                marker="o",
                markersize=3.5,
                capsize=2.5,
                linewidth=1.2,
            )
            unit = f" ({change.unit})" if change.unit and change.unit != "%" else ""
            what = "median (IQR)" if skewed else "mean (95 % CI)"
            ax.set_title(f"{change.short_label}{unit}: {what}", loc="left", fontsize=8)
            low = float(np.nanmin(summary["lower"])) if len(summary) else 0.0
            high = float(np.nanmax(summary["upper"])) if len(summary) else 1.0
            span = (high - low) or 1.0
            ax.set_ylim(low - 0.32 * span, high + 0.12 * span)
            for month, n in zip(summary["month"], summary["n"], strict=True):
                ax.text(
                    float(month),
                    0.03,
                    f"n={int(n)}",
                    transform=ax.get_xaxis_transform(),
                    ha="center",
                    fontsize=6.5,
                    color=COLOURS["grey"],
                )
            month_axis(ax, 12.0)
            ax.set_xlim(-1.0, 13.0)
            if k // ncols != nrows - 1:
                ax.set_xlabel("")
        for k in range(len(present), nrows * ncols):
            axes[k // ncols][k % ncols].set_visible(False)
        height = figure.get_figheight()
        figure.subplots_adjust(left=0.08, right=0.985, top=1 - 0.3 / height, bottom=0.5 / height, hspace=0.42, wspace=0.22)
    return figure


# --- swimmer ----------------------------------------------------------------------------------------


def figure_swimmer(analysis: TrialAnalysis) -> Figure:
    """Each infused subject's follow-up: a bar from the infusion (month 0) to the last contact or death.

    Markers: the DFS event at its time, shaped by rule (the protocol's E1-E6); death; withdrawal and
    loss to follow-up at the end of the bar; an arrow for a subject still in follow-up; adverse events at
    their onset, coloured by CTCAE grade, serious ones ringed in black. Subjects are sorted by follow-up.
    """
    tte = analysis.time_to_event
    adsl = analysis.subject_level.set_index("USUBJID")
    os_rows = tte[tte["PARAMCD"] == "OS"].set_index("USUBJID")
    dfs_rows = tte[tte["PARAMCD"] == "DFS"].set_index("USUBJID")
    order = os_rows.sort_values(["AVALMO"], kind="stable").index.tolist()
    n = len(order)
    position = {subject: k for k, subject in enumerate(order)}
    rules = analysis.study.endpoints.dfs.events if analysis.study.endpoints is not None else []
    rule_style = {rule.code: (RULE_MARKERS[k % len(RULE_MARKERS)], rule.label.split(" ", 1)[0]) for k, rule in enumerate(rules)}
    events = analysis.adverse_event_records
    start = min(-0.5, float(events["MONTH"].min()) - 0.3) if len(events) else -0.5
    scale = 1.0 if n <= 30 else 30 / n
    height = min(1.9 + 0.2 * n, 9.2)
    with mpl.rc_context(STYLE):
        figure = new_figure(height)
        bottom, top = 1.35 / height, 1 - 0.3 / height
        ax = figure.add_axes((0.1, bottom, 0.87, top - bottom))
        status = adsl["EOSSTT"].reindex(order).to_numpy(dtype=object)
        reason = adsl["DCSREAS"].reindex(order).to_numpy(dtype=object)
        ends = os_rows["AVALMO"].reindex(order).to_numpy(dtype=np.float64)
        bar_colours = ["#BFDDF2" if s == "COMPLETED" else COLOURS["light"] for s in status]
        ax.barh(np.arange(n), ends, left=0, height=0.5, color=bar_colours, edgecolor="none", zorder=1)
        ax.axvline(0, color=COLOURS["black"], linewidth=0.6, zorder=0)
        used_rules: dict[str, tuple[str, str]] = {}
        dfs_events = dfs_rows[dfs_rows["CNSR"] == 0].reindex([s for s in order if s in dfs_rows.index]).dropna(subset=["AVALMO"])
        dfs_events = dfs_events[dfs_events["CNSR"] == 0]
        rule_order = {rule.code: k for k, rule in enumerate(rules)}
        for subject, row in dfs_events.sort_values("SRCRULE", key=lambda c: c.map(rule_order)).iterrows():
            marker, short = rule_style.get(str(row["SRCRULE"]), ("o", str(row["SRCRULE"])))
            used_rules[str(row["SRCRULE"])] = (marker, short)
            possible = row["EVNTSTAT"] == "POSSIBLE"
            ax.scatter(
                [row["AVALMO"]],
                [position[str(subject)]],
                marker=marker,
                s=52 * scale,
                facecolor="white" if possible else COLOURS["blue"],
                edgecolor=COLOURS["blue"],
                linewidth=1.0,
                zorder=4,
            )
        ends_marker = {
            "DEATH": ("X", COLOURS["black"], "death"),
            "WITHDRAWAL BY SUBJECT": ("|", COLOURS["purple"], "withdrawn"),
            "LOST TO FOLLOW-UP": ("$?$", COLOURS["purple"], "lost to follow-up"),
        }
        used_ends: set[str] = set()
        for k in range(n):
            if reason[k] in ends_marker:
                marker, colour, _label = ends_marker[str(reason[k])]
                ax.scatter([ends[k]], [k], marker=marker, s=70 * scale, color=colour, linewidth=1.8, zorder=5)
                used_ends.add(str(reason[k]))
            elif status[k] == "ONGOING":
                ax.annotate("", xy=(ends[k] + 0.45, k), xytext=(ends[k], k), arrowprops={"arrowstyle": "->", "lw": 1.0})
                used_ends.add("ONGOING")
        if len(events):
            rows = events[events["USUBJID"].isin(position)]
            grades = pd.to_numeric(rows["grade"], errors="coerce") if "grade" in rows else pd.Series(np.nan, index=rows.index)
            serious = rows["serious"].astype(str).str.lower().isin(["true", "1", "yes", "y"]) if "serious" in rows else None
            ys = rows["USUBJID"].map(position).to_numpy(dtype=np.float64)
            months = rows["MONTH"].to_numpy(dtype=np.float64)
            is_serious = serious.to_numpy(dtype=bool) if serious is not None else np.zeros(len(rows), dtype=bool)
            colours = np.array(
                [GRADE_COLOURS.get(int(g), COLOURS["grey"]) if not math.isnan(g) else COLOURS["grey"] for g in grades],
                dtype=object,
            )
            for flag, marker, size in ((False, "o", 18), (True, "D", 30)):
                chosen = is_serious == flag
                if chosen.any():
                    ax.scatter(
                        months[chosen],
                        ys[chosen],
                        marker=marker,
                        s=size * scale,
                        c=list(colours[chosen]),
                        edgecolors="#4D4D4D",
                        linewidths=0.6,
                        zorder=3,
                    )
        ids = adsl["SUBJID"].reindex(order).to_numpy(dtype=object)
        if n <= 40:
            ax.set_yticks(np.arange(n))
            ax.set_yticklabels([str(s) for s in ids], fontsize=7)
        else:  # too many to label: the order is the information
            ax.set_yticks([])
            ax.set_ylabel(f"{n} subjects, by length of follow-up")
        ax.set_ylim(-0.7, n - 0.3)
        last = float(np.nanmax(ends)) if n else 12.0
        ticks = np.arange(0, max(last, 12.0) + 0.01, 3.0)
        ax.set_xticks(ticks)
        ax.set_xlim(start, ticks[-1] + 0.9)
        ax.set_xlabel(MONTH_LABEL + " (the conditioning regimen precedes month 0)")
        ax.set_title("Follow-up of each infused subject", loc="left")
        handles: list[Any] = [
            Patch(color="#BFDDF2", label="follow-up, completed"),
            Patch(color=COLOURS["light"], label="follow-up, discontinued or ongoing"),
        ]
        for marker, short in used_rules.values():
            handles.append(
                Line2D([], [], linestyle="none", marker=marker, color=COLOURS["blue"], markersize=6, label=f"DFS event {short}")
            )
        if (dfs_events["EVNTSTAT"] == "POSSIBLE").any():
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker="o",
                    markerfacecolor="white",
                    markeredgecolor=COLOURS["blue"],
                    markersize=6,
                    label="open marker: possible event",
                )
            )
        for key in ("DEATH", "WITHDRAWAL BY SUBJECT", "LOST TO FOLLOW-UP"):
            if key in used_ends:
                marker, colour, label = ends_marker[key]
                handles.append(Line2D([], [], linestyle="none", marker=marker, color=colour, markersize=7, label=label))
        if "ONGOING" in used_ends:
            handles.append(Line2D([], [], color=COLOURS["black"], marker=">", markersize=5, label="in follow-up"))
        if len(events):
            for grade, colour in GRADE_COLOURS.items():
                handles.append(
                    Line2D(
                        [],
                        [],
                        linestyle="none",
                        marker="o",
                        markerfacecolor=colour,
                        markeredgecolor="#4D4D4D",
                        markersize=5,
                        label=f"AE grade {grade}",
                    )
                )
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker="D",
                    markerfacecolor="white",
                    markeredgecolor="#4D4D4D",
                    markersize=5,
                    label="serious AE",
                )
            )
        figure.legend(handles=handles, loc="lower center", ncols=4, bbox_to_anchor=(0.5, 0.0), fontsize=7, handlelength=1.4)
    return figure
