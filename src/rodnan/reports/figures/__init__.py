"""The report's figures, one function per figure, each returning a matplotlib :class:`~matplotlib.figure.Figure`.

They live in the reports layer, not in the pure core: the core computes the numbers
(:func:`~rodnan.core.analysis.pipeline.analyse_trial`), the figures only draw them (decision 0010).

* :mod:`~rodnan.reports.figures.style`: size, fonts, palette, :func:`render_svg` and :func:`render_png`.
* :mod:`~rodnan.reports.figures.survival`: :func:`figure_kaplan_meier` (step curve with its confidence
  band, censoring ticks and the number at risk under the axis) and :func:`figure_forest` (univariable and,
  if fitted, multivariable hazard ratios on a log axis).
* :mod:`~rodnan.reports.figures.course`: :func:`figure_spaghetti` (a grey line per subject, the mean by
  visit with its 95 % t-interval and the mixed model's fitted mean), :func:`figure_organ_function` (mean
  with 95 % CI or median with IQR by visit) and :func:`figure_swimmer` (each infused subject's follow-up
  with DFS events by rule, death, withdrawal, loss to follow-up and adverse events by CTCAE grade).
* :mod:`~rodnan.reports.figures.flow`: :func:`figure_consort`, the CONSORT flow drawn with patches.

:func:`render_figures` draws every figure of the report as SVG bytes.
"""

from __future__ import annotations

from rodnan.core.analysis.pipeline import SurvivalAnalysis, TrialAnalysis
from rodnan.reports.figures.course import (
    RULE_MARKERS,
    SKEWED_PARAMETERS,
    figure_organ_function,
    figure_spaghetti,
    figure_swimmer,
    visit_summary,
)
from rodnan.reports.figures.flow import figure_consort
from rodnan.reports.figures.style import A4_WIDTH_IN, COLOURS, GRADE_COLOURS, MONTH_LABEL, STYLE, render_png, render_svg
from rodnan.reports.figures.survival import at_risk_counts, figure_forest, figure_kaplan_meier

__all__ = [
    "A4_WIDTH_IN",
    "COLOURS",
    "GRADE_COLOURS",
    "MONTH_LABEL",
    "RULE_MARKERS",
    "SKEWED_PARAMETERS",
    "STYLE",
    "at_risk_counts",
    "figure_consort",
    "figure_forest",
    "figure_kaplan_meier",
    "figure_organ_function",
    "figure_spaghetti",
    "figure_swimmer",
    "has_cox_estimate",
    "render_figures",
    "render_png",
    "render_svg",
    "visit_summary",
]


def has_cox_estimate(survival: SurvivalAnalysis) -> bool:
    """Whether at least one univariable Cox model of the endpoint has a hazard ratio (else no forest plot)."""
    return bool(survival.cox_univariable.table["hr"].notna().any())


def render_figures(analysis: TrialAnalysis) -> dict[str, bytes]:
    """Every figure of the report as SVG bytes, keyed by name.

    Args:
        analysis: the result of :func:`~rodnan.core.analysis.pipeline.analyse_trial`.

    Returns:
        ``consort``, ``km_dfs``, ``km_os``, ``spaghetti``, ``organs``, ``swimmer``, and
        ``forest_<endpoint>`` for each endpoint with at least one Cox estimate.
    """
    built = {
        "consort": figure_consort(analysis.disposition),
        "km_dfs": figure_kaplan_meier(analysis.survival["DFS"].kaplan_meier, analysis.survival["DFS"].label),
        "km_os": figure_kaplan_meier(
            analysis.survival["OS"].kaplan_meier, analysis.survival["OS"].label, colour=COLOURS["vermillion"]
        ),
        "spaghetti": figure_spaghetti([analysis.change[p] for p in analysis.plan.longitudinal if p in analysis.change]),
        "organs": figure_organ_function(analysis.change, analysis.plan.organ_parameters),
        "swimmer": figure_swimmer(analysis),
    }
    for paramcd, survival in analysis.survival.items():
        if has_cox_estimate(survival):
            built[f"forest_{paramcd.lower()}"] = figure_forest(survival, analysis.cox_covariates)
    return {name: render_svg(figure) for name, figure in built.items()}
