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

import multiprocessing as mp
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection

from matplotlib.figure import Figure

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


_SECOND_PROCESS = ("organs", "spaghetti")
"""The figures a second process draws (about half of the drawing time: the most points and markers)."""


def _makers(analysis: TrialAnalysis) -> dict[str, Callable[[], Figure]]:
    """Every figure of the report as a function that builds it, in the report's order."""
    makers: dict[str, Callable[[], Figure]] = {
        "consort": lambda: figure_consort(analysis.disposition),
        "km_dfs": lambda: figure_kaplan_meier(analysis.survival["DFS"].kaplan_meier, analysis.survival["DFS"].label),
        "km_os": lambda: figure_kaplan_meier(
            analysis.survival["OS"].kaplan_meier, analysis.survival["OS"].label, colour=COLOURS["vermillion"]
        ),
        "spaghetti": lambda: figure_spaghetti([analysis.change[p] for p in analysis.plan.longitudinal if p in analysis.change]),
        "organs": lambda: figure_organ_function(analysis.change, analysis.plan.organ_parameters),
        "swimmer": lambda: figure_swimmer(analysis),
    }
    for paramcd, survival in analysis.survival.items():
        if has_cox_estimate(survival):
            makers[f"forest_{paramcd.lower()}"] = lambda survival=survival: figure_forest(survival, analysis.cox_covariates)  # type: ignore[misc]
    return makers


def _draw(makers: Mapping[str, Callable[[], Figure]], names: Sequence[str]) -> dict[str, bytes]:
    return {name: render_svg(makers[name]()) for name in names}


def _draw_in_child(makers: Mapping[str, Callable[[], Figure]], names: Sequence[str], out: Connection) -> None:
    try:
        out.send(_draw(makers, names))
    except BaseException:  # the parent draws them itself
        out.send(None)
    finally:
        out.close()


def render_figures(analysis: TrialAnalysis, processes: int = 1) -> dict[str, bytes]:
    """Every figure of the report as SVG bytes, keyed by name.

    Args:
        analysis: the result of :func:`~rodnan.core.analysis.pipeline.analyse_trial`.
        processes: 2 draws :data:`_SECOND_PROCESS` in a forked process meanwhile (where ``fork`` exists;
            the child only draws and sends the bytes back; if it fails, this process draws them too).
            The bytes are the same either way.

    Returns:
        ``consort``, ``km_dfs``, ``km_os``, ``spaghetti``, ``organs``, ``swimmer``, and
        ``forest_<endpoint>`` for each endpoint with at least one Cox estimate, in that order.
    """
    makers = _makers(analysis)
    names = list(makers)
    if processes < 2 or "fork" not in mp.get_all_start_methods():
        return _draw(makers, names)
    second = [name for name in names if name in _SECOND_PROCESS]
    context = mp.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_draw_in_child, args=(makers, second, send), name="report-figures", daemon=True)
    child.start()
    send.close()
    drawn = _draw(makers, [name for name in names if name not in _SECOND_PROCESS])
    try:
        theirs = receive.recv()
    except EOFError:
        theirs = None
    finally:
        receive.close()
        child.join()
    drawn.update(theirs if isinstance(theirs, dict) else _draw(makers, second))
    return {name: drawn[name] for name in names}
