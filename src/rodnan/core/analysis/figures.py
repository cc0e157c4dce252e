"""The report's figures, one function per figure, each returning a matplotlib :class:`~matplotlib.figure.Figure`.

Figures are built with ``matplotlib.figure.Figure`` directly, never through ``pyplot``: no backend is
selected, no window can open, and nothing is left in pyplot's registry of open figures (a figure is
freed when the last reference to it goes). :func:`render_svg` and :func:`render_png` turn a figure into
bytes; SVG output is deterministic (no date, fixed id salt), so the same analysis gives the same file.

Every figure is sized for the A4 text width (170 mm), uses one style (:data:`STYLE`: DejaVu Sans 8.5 pt,
no top/right spines) and the Okabe-Ito colour-blind-safe palette (:data:`COLOURS`).

* :func:`figure_kaplan_meier`: step curve with its confidence band, censoring ticks, and the number at
  risk under the axis.
* :func:`figure_spaghetti`: one thin grey line per subject, the mean by scheduled visit with its 95 %
  t-interval as a ribbon, and the mixed model's fitted mean line.
* :func:`figure_swimmer`: each infused subject's follow-up from the infusion, with DFS events (by rule),
  death, withdrawal, loss to follow-up and adverse events coloured by CTCAE grade.
* :func:`figure_forest`: univariable (and multivariable, if fitted) hazard ratios on a log axis.
* :func:`figure_organ_function`: organ-function parameters by scheduled visit (mean with 95 % CI, or
  median with interquartile range for skewed ones).
* :func:`figure_consort`: the CONSORT flow drawn with patches.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
from matplotlib.typing import RcKeyType
from scipy import stats

from rodnan.core.analysis.pipeline import (
    AT_RISK_MONTHS,
    COX_COVARIATES,
    ORGAN_PARAMETERS,
    ChangeAnalysis,
    CoxCovariateDef,
    Disposition,
    SurvivalAnalysis,
    TrialAnalysis,
)
from rodnan.core.analysis.survival import KaplanMeierResult

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
RULE_MARKERS = ("X", "^", "s", "D", "P", "*", "h")
"""Markers of the DFS rules, in the protocol's order (E1 death, E2 skin, ...)."""
SKEWED_PARAMETERS = frozenset({"PROT24H", "CREAT"})
"""Organ-function parameters summarised by median and interquartile range instead of mean and CI."""
MONTH_LABEL = "Months since MSC infusion"


def render_svg(figure: Figure) -> bytes:
    """The figure as SVG (text as paths, no date, fixed ids: the same figure gives the same bytes)."""
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


def _figure(height_in: float, width_in: float = A4_WIDTH_IN) -> Figure:
    return Figure(figsize=(width_in, height_in), dpi=100)


def _month_axis(ax: Axes, last: float) -> None:
    ticks = np.arange(0, max(last, 12.0) + 0.01, 3.0)
    ax.set_xticks(ticks)
    ax.set_xlim(-0.3, ticks[-1] + 0.6)
    ax.set_xlabel(MONTH_LABEL)


def _format_months(value: float) -> str:
    return "NR" if math.isnan(value) else f"{value:.1f}"


# --- Kaplan-Meier -----------------------------------------------------------------------------------


def figure_kaplan_meier(
    km: KaplanMeierResult,
    title: str,
    at_risk_times: Sequence[float] = AT_RISK_MONTHS,
    colour: str = COLOURS["blue"],
) -> Figure:
    """Kaplan-Meier curve (step, post) with its pointwise confidence band, censoring ticks and number at risk.

    Args:
        km: a fit whose times are in months (AVALMO).
        title: the endpoint's name.
        at_risk_times: the months of the number-at-risk table under the axis (also the x ticks).
        colour: colour of the curve and band.

    The at-risk table is a second axes labelled ``"number at risk"`` holding one text per time (the
    counts of ``km.at_risk(at_risk_times)``); the median and the interval transform are written in the plot.
    """
    with mpl.rc_context(STYLE):
        figure = _figure(3.5)
        grid = figure.add_gridspec(2, 1, height_ratios=[6, 0.7], hspace=0.62, left=0.11, right=0.97, top=0.92, bottom=0.04)
        ax = figure.add_subplot(grid[0])
        table = km.table
        times = np.concatenate([[0.0], table["time"].to_numpy()])
        survival = np.concatenate([[1.0], table["survival"].to_numpy()])
        lower = np.concatenate([[1.0], table["lower"].to_numpy()])
        upper = np.concatenate([[1.0], table["upper"].to_numpy()])
        ax.fill_between(times, lower, upper, step="post", color=colour, alpha=0.18, linewidth=0, label="95 % CI")
        ax.step(times, survival, where="post", color=colour, label="Kaplan-Meier estimate")
        censored = table[table["n_censor"] > 0]
        ax.plot(
            censored["time"], censored["survival"], linestyle="none", marker="|", markersize=7, color=colour, label="censored"
        )
        last = max(float(times[-1]), max(at_risk_times))
        ax.set_xticks(list(at_risk_times))
        ax.set_xlim(-0.25, last * 1.03)
        ax.set_ylim(0, 1.14)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_yticklabels([f"{int(v * 100)}" for v in np.linspace(0, 1, 6)])
        ax.spines["left"].set_bounds(0, 1)
        ax.set_ylabel(f"{title} (%)")
        ax.set_xlabel(MONTH_LABEL)
        ax.set_title(title, loc="left")
        median = km.median
        level = round(km.conf_level * 100)
        text = (
            f"n = {km.n}, events = {km.events}\n"
            f"median {_format_months(median.time)} months ({level} % CI {_format_months(median.lower)} to "
            f"{_format_months(median.upper)})\n"
            f"{level} % CI: {km.conf_type} transform, Greenwood variance; NR = not reached"
        )
        ax.text(0.02, 0.04, text, transform=ax.transAxes, fontsize=7.5, va="bottom", ha="left")
        ax.legend(loc="upper right", ncols=3, handlelength=1.6)
        risk = figure.add_subplot(grid[1], sharex=ax)
        risk.set_label("number at risk")
        counts = km.at_risk(list(at_risk_times))
        for time, n_risk in zip(counts["time"], counts["n_risk"], strict=True):
            risk.text(float(time), 0.5, str(int(n_risk)), ha="center", va="center", fontsize=8)
        risk.set_ylim(0, 1)
        risk.set_yticks([])
        risk.tick_params(axis="x", labelbottom=False, length=0)
        for side in ("left", "bottom"):
            risk.spines[side].set_visible(False)
        risk.set_title("Number at risk", loc="left", fontsize=8, fontweight="normal", pad=2)
    return figure


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
    _month_axis(ax, float(long["MONTH"].max()))


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
        figure = _figure(3.3 if count == 1 else 2.5 * nrows + 0.35)
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


def figure_organ_function(changes: Mapping[str, ChangeAnalysis], paramcds: Sequence[str] = ORGAN_PARAMETERS) -> Figure:
    """Organ function by scheduled visit: mean with 95 % CI (median with IQR for :data:`SKEWED_PARAMETERS`).

    One panel per parameter the data have, with the number of subjects under each point.
    """
    present = [changes[p] for p in paramcds if p in changes]
    ncols = 2
    nrows = max(math.ceil(len(present) / ncols), 1)
    with mpl.rc_context(STYLE):
        figure = _figure(1.95 * nrows + 0.3)
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
            _month_axis(ax, 12.0)
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
        figure = _figure(height)
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


# --- forest -----------------------------------------------------------------------------------------

_HR_LIMITS = (0.05, 20.0)


def _hr_text(hr: float, lower: float, upper: float) -> str:
    def number(value: float) -> str:
        if math.isnan(value):
            return "∞"
        return f"{value:.2f}" if value < 100 else f"{value:.0f}"

    return f"{number(hr)} ({number(lower)}–{number(upper)})"


def _forest_rows(survival: SurvivalAnalysis, covariates: Sequence[CoxCovariateDef]) -> list[dict[str, Any]]:
    definitions = {c.column: c for c in covariates}
    rows: list[dict[str, Any]] = [{"header": "Univariable"}]
    table = survival.cox_univariable.table.set_index("covariate")
    for definition in covariates:
        if definition.column not in table.index:
            continue
        row = table.loc[definition.column]
        note = str(row["note"])
        estimable = not math.isnan(float(row["hr"]))
        rows.append(
            {
                "label": definition.label,
                "per": definition.per_label,
                "events": int(row["events"]),
                "n": int(row["n"]),
                "hr": float(row["hr"]),
                "lower": float(row["hr_lower"]),
                "upper": float(row["hr_upper"]),
                "firth": row["penalizer"] == "firth",
                "reason": "" if estimable else _reason(note),
            }
        )
    model = survival.cox_multivariable
    if model is not None:
        rows.append({"header": f"Multivariable (n = {model.n}, {model.events} events, EPV {model.events_per_variable:.1f})"})
        for column, row in model.coefficients.iterrows():
            definition = definitions[str(column)]
            rows.append(
                {
                    "label": definition.label,
                    "per": definition.per_label,
                    "events": model.events,
                    "n": model.n,
                    "hr": float(row["hr"]),
                    "lower": float(row["hr_lower"]),
                    "upper": float(row["hr_upper"]),
                    "firth": model.penalizer == "firth",
                    "reason": "",
                }
            )
    return rows


def _reason(note: str) -> str:
    """A short reason for a covariate without an estimate, from the note of its fit."""
    if "no events" in note:
        return "no estimate: no events"
    if "no subject has a value" in note:
        return "no estimate: not recorded"
    if "constant" in note:
        return "no estimate: constant"
    if "not numeric" in note:
        return "not numeric"
    text = note.removeprefix("skipped: ").split(";")[0]
    return text if len(text) <= 45 else text[:44] + "…"


def figure_forest(survival: SurvivalAnalysis, covariates: Sequence[CoxCovariateDef] = COX_COVARIATES) -> Figure:
    """Hazard ratios with their confidence intervals on a log axis, a row per covariate, a line at 1.

    Left: the covariate, what its hazard ratio is per, events/n of its model. Right: HR (CI). Covariates
    without an estimate keep their row, with the reason instead of a marker. Open squares are Firth fits.
    Intervals beyond the axis (0.05 to 20) end in an arrow. The axes is labelled ``"forest"`` and has one
    y tick per row (headers included).
    """
    rows = _forest_rows(survival, covariates)
    n = len(rows)
    height = 1.35 + 0.19 * n
    with mpl.rc_context(STYLE):
        figure = _figure(height)
        bottom, top = 0.75 / height, 1 - 0.62 / height
        ax = figure.add_axes((0.45, bottom, 0.3, top - bottom))
        ax.set_label("forest")
        ax.set_xscale("log")
        ax.set_xlim(*_HR_LIMITS)
        ax.set_ylim(n - 0.5, -0.5)
        ax.axvline(1.0, color=COLOURS["black"], linewidth=0.7)
        ax.set_yticks(np.arange(n))
        ax.set_yticklabels([""] * n)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        ax.set_xticks([0.1, 0.3, 1, 3, 10])
        ax.set_xticklabels(["0.1", "0.3", "1", "3", "10"])
        ax.minorticks_off()
        ax.set_xlabel("Hazard ratio (log scale)")
        to_figure = ax.get_yaxis_transform()
        label_x, events_x, hr_x = -1.48, -0.04, 1.04
        ax.text(label_x, -1.05, "Covariate (hazard ratio per)", transform=to_figure, fontweight="bold", fontsize=7.5)
        ax.text(events_x, -1.05, "events/n", transform=to_figure, ha="right", fontweight="bold", fontsize=7.5)
        ax.text(hr_x, -1.05, "HR (95 % CI)", transform=to_figure, fontweight="bold", fontsize=7.5)
        for y, row in enumerate(rows):
            if "header" in row:
                ax.text(label_x, y, str(row["header"]), transform=to_figure, va="center", fontstyle="italic", fontsize=7.5)
                continue
            ax.text(label_x, y, f"{row['label']} ({row['per']})", transform=to_figure, va="center", fontsize=7.5)
            ax.text(events_x, y, f"{row['events']}/{row['n']}", transform=to_figure, va="center", ha="right", fontsize=7.5)
            if row["reason"]:
                ax.text(
                    0.5,
                    y,
                    row["reason"],
                    transform=to_figure,
                    va="center",
                    ha="center",
                    fontsize=6.8,
                    color="#555555",
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
                )
                ax.text(hr_x, y, "–", transform=to_figure, va="center", fontsize=7.5)
                continue
            hr, lower, upper = row["hr"], row["lower"], row["upper"]
            lo = _HR_LIMITS[0] if math.isnan(lower) else max(lower, _HR_LIMITS[0])
            hi = _HR_LIMITS[1] if math.isnan(upper) else min(upper, _HR_LIMITS[1])
            ax.plot([lo, hi], [y, y], color=COLOURS["black"], linewidth=1.0)
            for beyond, edge, direction in ((math.isnan(lower) or lower < lo, lo, -1), (math.isnan(upper) or upper > hi, hi, 1)):
                if beyond:
                    ax.annotate(
                        "",
                        xy=(edge, y),
                        xytext=(edge * (0.75 if direction > 0 else 1.33), y),
                        arrowprops={"arrowstyle": "->", "lw": 1.0},
                    )
            if _HR_LIMITS[0] <= hr <= _HR_LIMITS[1]:
                ax.scatter(
                    [hr],
                    [y],
                    marker="s",
                    s=22,
                    facecolor="white" if row["firth"] else COLOURS["blue"],
                    edgecolor=COLOURS["blue"],
                    linewidth=1.1,
                    zorder=3,
                )
            ax.text(hr_x, y, _hr_text(hr, lower, upper), transform=to_figure, va="center", fontsize=7.5)
        figure.text(0.012, 1 - 0.12 / height, f"{survival.label}: Cox models", va="top", fontweight="bold", fontsize=9.5)
        figure.text(
            0.012,
            0.1 / height,
            "Open squares: Firth's penalised likelihood, profile-likelihood CI (few events or separation); "
            "filled: partial likelihood with Wald CI.\nAn arrow: the interval goes beyond the axis (∞: no finite limit).",
            fontsize=6.8,
            color="#555555",
            va="bottom",
        )
    return figure


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
        figure = _figure(5.6)
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


def at_risk_counts(figure: Figure) -> list[int]:
    """The numbers shown in a Kaplan-Meier figure's at-risk table (for tests and checks)."""
    for ax in figure.axes:
        if ax.get_label() == "number at risk":
            return [int(t.get_text()) for t in ax.texts]
    return []
