"""Survival figures: the Kaplan-Meier curve with its number-at-risk table, and the forest plot of the Cox models."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from rodnan.core.analysis.pipeline import AT_RISK_MONTHS, CoxCovariateDef, SurvivalAnalysis
from rodnan.core.analysis.survival import KaplanMeierResult
from rodnan.reports.figures.style import COLOURS, MONTH_LABEL, STYLE, format_months, new_figure


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
        figure = new_figure(3.5)
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
            f"median {format_months(median.time)} months ({level} % CI {format_months(median.lower)} to "
            f"{format_months(median.upper)})\n"
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


def at_risk_counts(figure: Figure) -> list[int]:
    """The numbers shown in a Kaplan-Meier figure's at-risk table (for tests and checks)."""
    for ax in figure.axes:
        if ax.get_label() == "number at risk":
            return [int(t.get_text()) for t in ax.texts]
    return []


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


def figure_forest(survival: SurvivalAnalysis, covariates: Sequence[CoxCovariateDef]) -> Figure:
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
        figure = new_figure(height)
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
