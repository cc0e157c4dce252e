"""The report's figures: each returns a Figure with the artists it promises, built from the analysis's numbers."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from rodnan.core.analysis.pipeline import (
    AT_RISK_MONTHS,
    Disposition,
    TrialAnalysis,
    analyse_trial,
    analysis_plan,
)
from rodnan.core.protocol import Study, load_protocol
from rodnan.core.simulate.cohort import simulate_cohort
from rodnan.core.trialdata import from_frames
from rodnan.reports import figures

_PLAN = analysis_plan(load_protocol())
"""The bundled protocol's analysis plan, whose choices these tests check."""
COX_COVARIATES = tuple(_PLAN.cox.covariates)
LONGITUDINAL_PARAMETERS = tuple(_PLAN.longitudinal)
ORGAN_PARAMETERS = tuple(_PLAN.organ_parameters)


@pytest.fixture(scope="module")
def analysis(study: Study) -> TrialAnalysis:
    """20 simulated subjects, analysed."""
    cohort = simulate_cohort(study, 20, 1)
    return analyse_trial(from_frames(study, cohort.subjects, cohort.values_frame(), cohort.adverse_events))


def _texts(figure: Figure) -> list[str]:
    found = [t.get_text() for t in figure.texts]
    for ax in figure.axes:
        found += [t.get_text() for t in ax.texts] + [ax.get_title(loc) for loc in ("left", "center", "right")]
    return found


@pytest.mark.parametrize("paramcd", ["DFS", "OS"])
def test_kaplan_meier_has_the_number_at_risk_of_the_fit(analysis: TrialAnalysis, paramcd: str) -> None:
    """The at-risk table under the axis shows km.at_risk at 0, 3, 6, 9 and 12 months, the ticks are those months."""
    km = analysis.survival[paramcd].kaplan_meier
    figure = figures.figure_kaplan_meier(km, analysis.survival[paramcd].label)
    assert isinstance(figure, Figure)
    assert figures.at_risk_counts(figure) == list(km.at_risk(list(AT_RISK_MONTHS))["n_risk"])
    curve = figure.axes[0]
    assert list(curve.get_xticks()) == list(AT_RISK_MONTHS)
    assert curve.get_ylim()[0] == 0


def test_kaplan_meier_draws_the_band_the_step_and_censor_ticks(analysis: TrialAnalysis) -> None:
    """A confidence band (fill_between, step post), the step curve, one censor tick per censoring time, the median."""
    km = analysis.survival["DFS"].kaplan_meier
    ax = figures.figure_kaplan_meier(km, "DFS").axes[0]
    assert any(isinstance(c, PolyCollection) for c in ax.collections)
    ticks = [line for line in ax.lines if line.get_marker() == "|"]
    assert len(ticks) == 1
    assert len(ticks[0].get_xdata()) == int((km.table["n_censor"] > 0).sum())
    steps = [line for line in ax.lines if line.get_drawstyle() == "steps-post"]
    assert len(steps) == 1
    assert steps[0].get_ydata()[0] == 1.0
    assert any("median" in text and "log-log" in text for text in _texts(ax.figure))


def test_spaghetti_has_a_line_per_subject_and_the_mean(analysis: TrialAnalysis) -> None:
    """One grey line per subject in each panel, a mean line, a CI ribbon, and the model's dashed line."""
    changes = [analysis.change[p] for p in LONGITUDINAL_PARAMETERS]
    figure = figures.figure_spaghetti(changes)
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert len(panels) == 4
    for ax, change in zip(panels, changes, strict=True):
        grey = [line for line in ax.lines if line.get_color() == figures.COLOURS["grey"]]
        assert len(grey) == change.long["USUBJID"].nunique()
        assert any(line.get_linestyle() == "--" for line in ax.lines)
        assert any(isinstance(c, PolyCollection) for c in ax.collections)
        assert ax.get_title(loc="left") == change.short_label


def test_visit_summary_is_the_mean_and_t_interval_by_visit(analysis: TrialAnalysis) -> None:
    """The mean by scheduled month with mean +- t(0.975, n-1) s / sqrt(n), recomputed here for baseline."""
    long = analysis.change["MRSS"].long
    summary = figures.visit_summary(long).set_index("month")
    values = long.loc[long["AVISITN"] == 0, "AVAL"].to_numpy()
    from scipy import stats

    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    assert summary.loc[0.0, "centre"] == pytest.approx(values.mean())
    assert summary.loc[0.0, "upper"] - summary.loc[0.0, "centre"] == pytest.approx(half)
    skewed = figures.visit_summary(long, skewed=True).set_index("month")
    assert skewed.loc[0.0, "centre"] == pytest.approx(np.median(values))


def test_swimmer_has_a_row_per_infused_subject_and_marks_events(analysis: TrialAnalysis) -> None:
    """One bar and y label per infused subject; a marker per DFS event; AE markers for every adverse event."""
    figure = figures.figure_swimmer(analysis)
    ax = figure.axes[0]
    labels = {t.get_text() for t in ax.get_yticklabels()}
    assert labels == set(analysis.subject_level.loc[analysis.subject_level["SAFFL"] == "Y", "SUBJID"])
    assert len(ax.patches) == analysis.disposition.infused
    dfs = analysis.time_to_event[(analysis.time_to_event["PARAMCD"] == "DFS") & (analysis.time_to_event["CNSR"] == 0)]
    offsets = sum(len(c.get_offsets()) for c in ax.collections)
    assert offsets >= len(dfs) + len(analysis.adverse_event_records)
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "AE grade 1" in legend
    assert "serious AE" in legend


def test_swimmer_of_a_large_cohort_drops_the_subject_labels(study: Study) -> None:
    """More than 40 subjects: no y labels (unreadable), a count instead; deaths and withdrawals in the legend."""
    cohort = simulate_cohort(study, 120, 7)
    big = analyse_trial(from_frames(study, cohort.subjects, cohort.values_frame(), cohort.adverse_events))
    figure = figures.figure_swimmer(big)
    ax = figure.axes[0]
    assert len(ax.get_yticks()) == 0
    assert ax.get_ylabel().startswith(f"{big.disposition.infused} subjects")
    legend = {t.get_text() for t in figure.legends[0].get_texts()}
    reasons = set(big.subject_level["DCSREAS"])
    if "WITHDRAWAL BY SUBJECT" in reasons:
        assert "withdrawn" in legend
    if "DEATH" in reasons:
        assert "death" in legend


def test_forest_has_a_row_per_covariate_with_events_and_reasons(analysis: TrialAnalysis) -> None:
    """Rows = a header + one per covariate; each covariate's label and events/n written; no-estimate rows give the reason."""
    survival = analysis.survival["DFS"]
    figure = figures.figure_forest(survival, analysis.cox_covariates)
    ax = next(a for a in figure.axes if a.get_label() == "forest")
    assert len(ax.get_yticks()) == 1 + len(COX_COVARIATES)
    assert ax.get_xscale() == "log"
    assert any(isinstance(line, Line2D) and list(line.get_xdata()) == [1.0, 1.0] for line in ax.lines)
    texts = _texts(figure)
    table = survival.cox_univariable.table
    for definition, (_, row) in zip(COX_COVARIATES, table.iterrows(), strict=True):
        assert f"{definition.label} ({definition.per_label})" in texts
        assert f"{row['events']}/{row['n']}" in texts
    missing = table["hr"].isna().sum()
    assert sum(text.startswith("no estimate") for text in texts) == missing
    markers = sum(len(c.get_offsets()) for c in ax.collections)
    assert markers == int((table["hr"].between(0.05, 20)).sum())


def test_forest_without_events_lists_every_covariate_without_estimate(analysis: TrialAnalysis) -> None:
    """OS with no deaths: every row says 'no estimate', no marker is drawn."""
    figure = figures.figure_forest(analysis.survival["OS"], analysis.cox_covariates)
    texts = _texts(figure)
    assert sum(text.startswith("no estimate") for text in texts) == len(COX_COVARIATES)
    ax = next(a for a in figure.axes if a.get_label() == "forest")
    assert not ax.collections


def test_organ_function_has_a_panel_per_parameter(analysis: TrialAnalysis) -> None:
    """One visible panel per organ-function parameter; proteinuria and creatinine as median (IQR)."""
    figure = figures.figure_organ_function(analysis.change, analysis.plan.organ_parameters)
    panels = [ax for ax in figure.axes if ax.get_visible()]
    present = [p for p in ORGAN_PARAMETERS if p in analysis.change]
    assert len(panels) == len(present) == 8
    titles = [ax.get_title(loc="left") for ax in panels]
    assert titles[present.index("PROT24H")].endswith("median (IQR)")
    assert titles[present.index("FVCPP")] == "FVC % predicted: mean (95 % CI)"


def test_consort_says_not_recorded_when_screening_is_missing(analysis: TrialAnalysis) -> None:
    """Simulated data hold enrolled subjects only: 'not recorded' for screened and eligible, counts for the rest."""
    texts = " | ".join(_texts(figures.figure_consort(analysis.disposition)))
    assert "Screened\nnot recorded" in texts
    assert "Eligible\nnot recorded" in texts
    assert "Enrolled\nn = 20" in texts
    assert "Infused (MSC)\nn = 20" in texts
    assert f"Completed follow-up\nn = {analysis.disposition.completed}" in texts


def test_consort_with_screening_shows_counts_and_reasons() -> None:
    """A recorded screening log: screened and eligible counts, screen-failure and discontinuation reasons."""
    disposition = Disposition(
        screened=30,
        screening_recorded=True,
        screen_failed=8,
        screen_fail_reasons=(("mPAP > 50 mmHg", 5), ("reason not recorded", 3)),
        in_screening=2,
        eligible=20,
        enrolled=20,
        not_infused=1,
        not_infused_reasons=(("withdrawn", 1),),
        infused=19,
        discontinued=2,
        discontinued_reasons=(("died", 1), ("lost to follow-up", 1)),
        in_follow_up=0,
        completed=17,
    )
    figure = figures.figure_consort(disposition)
    texts = " | ".join(_texts(figure))
    for expected in ("Screened\nn = 30", "Eligible\nn = 20", "• mPAP > 50 mmHg: 5", "Not infused: n = 1", "• died: 1"):
        assert expected in texts
    assert len(figure.axes[0].patches) >= 9  # 6 boxes, 3 side boxes, plus the arrows


def test_render_svg_is_deterministic_and_self_contained(analysis: TrialAnalysis) -> None:
    """Two builds of the same figure give the same SVG bytes (no date, fixed ids), with no external reference."""
    first = figures.render_svg(figures.figure_consort(analysis.disposition))
    second = figures.render_svg(figures.figure_consort(analysis.disposition))
    assert first == second
    assert first.startswith(b"<?xml")
    assert b"<dc:date>" not in first
    assert b'href="http' not in first


def test_render_png_is_a_png(analysis: TrialAnalysis) -> None:
    """render_png gives PNG bytes."""
    png = figures.render_png(figures.figure_kaplan_meier(analysis.survival["OS"].kaplan_meier, "OS"), dpi=50)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_figures_do_not_use_pyplot(analysis: TrialAnalysis) -> None:
    """Figures are built without pyplot: no figure is registered with pyplot's figure manager."""
    figures.figure_swimmer(analysis)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        assert pyplot.get_fignums() == []


def test_figures_drawn_in_two_processes_are_the_bytes_one_process_draws(
    analysis: TrialAnalysis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """render_figures(processes=2) forks a child for the heaviest figures: same names, order and bytes; and when the
    child fails, this process draws its figures itself."""
    alone = figures.render_figures(analysis)
    assert list(alone)[:7] == ["consort", "km_dfs", "km_os", "spaghetti", "organs", "swimmer", "forest_dfs"]
    shared = figures.render_figures(analysis, processes=2)
    assert list(shared) == list(alone)
    assert shared == alone
    monkeypatch.setattr(figures, "_draw_in_child", lambda makers, names, out: out.close())  # the child sends nothing
    assert figures.render_figures(analysis, processes=2) == alone
