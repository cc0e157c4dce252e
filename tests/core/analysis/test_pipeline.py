"""analyse_trial: every statistic agrees with the direct call on independently built inputs (simulated cohorts).

The simulator's mRSS falls from about 20 to about 14 over 12 months and SF-36 PCS rises
(rodnan.core.simulate.params), which fixes the sign of the mixed models' slopes. The other expectations
are recomputed here from the analysis datasets with the statistics functions, not read back from the result.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rodnan.core.analysis.cox import fit_cox
from rodnan.core.analysis.longitudinal import compare_paired_wilcoxon
from rodnan.core.analysis.pipeline import (
    AT_RISK_MONTHS,
    RATE_MONTHS,
    TrialAnalysis,
    analyse_trial,
    analysis_plan,
    derive_disposition,
)
from rodnan.core.analysis.summaries import summarise_responders
from rodnan.core.analysis.survival import fit_kaplan_meier
from rodnan.core.protocol import Study, load_protocol
from rodnan.core.simulate.cohort import simulate_cohort
from rodnan.core.trialdata import TrialData, from_frames
from rodnan.errors import InputError

_PLAN = analysis_plan(load_protocol())
"""The bundled protocol's analysis plan, whose choices these tests check."""
COX_COVARIATES = tuple(_PLAN.cox.covariates)
LONGITUDINAL_PARAMETERS = tuple(_PLAN.longitudinal)
MIN_EVENTS_PER_VARIABLE_MULTIVARIABLE = _PLAN.cox.min_events_per_covariate
MULTIVARIABLE_COVARIATES = tuple(_PLAN.cox.multivariable)


def _data(study: Study, n: int, seed: int) -> TrialData:
    cohort = simulate_cohort(study, n, seed)
    return from_frames(study, cohort.subjects, cohort.values_frame(), cohort.adverse_events, source="simulated")


@pytest.fixture(scope="module")
def data20(study: Study) -> TrialData:
    """The trial's size: 20 simulated subjects (seed 1, as rodnan simulate's default)."""
    return _data(study, 20, 1)


@pytest.fixture(scope="module")
def analysis20(data20: TrialData) -> TrialAnalysis:
    """Its analysis."""
    return analyse_trial(data20)


@pytest.fixture(scope="module")
def analysis200(study: Study) -> TrialAnalysis:
    """200 simulated subjects: enough events for a multivariable model, deaths and withdrawals."""
    return analyse_trial(_data(study, 200, 2026))


def _adtte(analysis: TrialAnalysis, paramcd: str) -> pd.DataFrame:
    tte = analysis.time_to_event
    return tte[tte["PARAMCD"] == paramcd]


@pytest.mark.parametrize("paramcd", ["DFS", "OS"])
def test_kaplan_meier_matches_a_direct_fit_on_the_adtte_rows(analysis20: TrialAnalysis, paramcd: str) -> None:
    """KM median, events, rates at 6/12 months and the at-risk table equal fit_kaplan_meier on AVALMO, 1 - CNSR."""
    rows = _adtte(analysis20, paramcd)
    direct = fit_kaplan_meier(rows["AVALMO"], 1 - rows["CNSR"], 0.95, "log-log")
    survival = analysis20.survival[paramcd]
    km = survival.kaplan_meier
    assert (km.n, km.events, km.conf_type) == (direct.n, direct.events, "log-log")
    assert km.n == int((analysis20.subject_level["SAFFL"] == "Y").sum()) == 20
    np.testing.assert_equal(
        [km.median.time, km.median.lower, km.median.upper], [direct.median.time, direct.median.lower, direct.median.upper]
    )
    pd.testing.assert_frame_equal(survival.rates, direct.survival_at(list(RATE_MONTHS)))
    pd.testing.assert_frame_equal(survival.at_risk, direct.at_risk(list(AT_RISK_MONTHS)))
    assert list(survival.at_risk["time"]) == [0, 3, 6, 9, 12]


def test_dfs_events_by_rule_count_the_event_rows(analysis20: TrialAnalysis) -> None:
    """The events per rule add up to the KM events, in the protocol's rule order; censoring reasons add up to the rest."""
    survival = analysis20.survival["DFS"]
    rows = _adtte(analysis20, "DFS")
    assert survival.events_by_rule["events"].sum() == (rows["CNSR"] == 0).sum() == survival.kaplan_meier.events
    order = [rule.code for rule in analysis20.study.endpoints.dfs.events]  # type: ignore[union-attr]
    positions = [order.index(code) for code in survival.events_by_rule["rule"]]
    assert positions == sorted(positions)
    assert survival.censoring["subjects"].sum() == (rows["CNSR"] == 1).sum()


def test_cox_univariable_has_one_row_per_covariate_matching_a_direct_fit(analysis20: TrialAnalysis) -> None:
    """Rows = COX_COVARIATES in order; the mRSS and ATA rows equal fit_cox on a frame built here from ADSL and ADTTE."""
    table = analysis20.survival["DFS"].cox_univariable.table
    assert list(table["covariate"]) == [c.column for c in COX_COVARIATES]
    rows = _adtte(analysis20, "DFS").merge(analysis20.subject_level, on="USUBJID")
    frame = pd.DataFrame(
        {
            "months": rows["AVALMO"].to_numpy(),
            "event": (rows["CNSR"] == 0).astype(float).to_numpy(),
            "mrss_per_5": rows["MRSSBL"].to_numpy(dtype=float) / 5,
            "ata_positive": np.where(rows["ATABL"] == "", np.nan, (rows["ATABL"] == "positive").astype(float)),
        }
    )
    for covariate, column in (("MRSSBL", "mrss_per_5"), ("ATABL", "ata_positive")):
        direct = fit_cox(frame, "months", "event", [column], penalizer="auto")
        row = table.set_index("covariate").loc[covariate]
        assert row["hr"] == pytest.approx(direct.coefficients.loc[column, "hr"], rel=1e-9)
        assert row["hr_lower"] == pytest.approx(direct.coefficients.loc[column, "hr_lower"], rel=1e-9)
        assert (row["events"], row["penalizer"]) == (direct.events, direct.penalizer)


def test_cox_with_few_events_uses_firth_and_no_multivariable_model(analysis20: TrialAnalysis) -> None:
    """20 subjects: EPV < 10, so every estimable univariable fit is Firth's; no multivariable model, with the reason."""
    survival = analysis20.survival["DFS"]
    events = survival.kaplan_meier.events
    assert 0 < events < 2 * MIN_EVENTS_PER_VARIABLE_MULTIVARIABLE
    fitted = survival.cox_univariable.table.dropna(subset=["hr"])
    assert len(fitted) > 10
    assert set(fitted["penalizer"]) == {"firth"}
    assert survival.cox_multivariable is None
    assert survival.multivariable_note.startswith(f"not fitted: {events} event(s)")


def test_cox_without_events_gives_notes_not_errors(analysis20: TrialAnalysis) -> None:
    """No deaths among 20: every OS Cox row has no estimate and says why."""
    survival = analysis20.survival["OS"]
    assert survival.kaplan_meier.events == 0
    table = survival.cox_univariable.table
    assert table["hr"].isna().all()
    assert table["note"].str.len().gt(0).all()
    assert survival.cox_multivariable is None


def test_multivariable_model_uses_prespecified_covariates_as_events_allow(analysis200: TrialAnalysis) -> None:
    """200 subjects: the prespecified covariates in priority order, one per 5 events, EPV reported."""
    survival = analysis200.survival["DFS"]
    model = survival.cox_multivariable
    assert model is not None
    chosen = list(model.coefficients.index)
    assert chosen == list(MULTIVARIABLE_COVARIATES[: len(chosen)])
    assert len(chosen) >= 2
    assert model.events / len(chosen) >= MIN_EVENTS_PER_VARIABLE_MULTIVARIABLE
    assert model.events_per_variable == pytest.approx(model.events / len(chosen))
    assert f"EPV {model.events_per_variable:.1f}" in survival.multivariable_note


def test_mixed_model_slopes_have_the_simulated_signs(analysis20: TrialAnalysis) -> None:
    """mRSS falls (about 20 to 14 over 12 months) and SF-36 PCS rises: slope signs and a plausible 12-month change."""
    mrss = analysis20.change["MRSS"].mixed_model
    pcs = analysis20.change["SF36PCS"].mixed_model
    assert mrss is not None
    assert pcs is not None
    assert mrss.slope.estimate < 0
    assert mrss.slope.upper < 0
    assert -12 < 12 * mrss.slope.estimate < -2
    assert pcs.slope.estimate > 0
    assert mrss.n_subjects == 20
    for paramcd in LONGITUDINAL_PARAMETERS:
        assert analysis20.change[paramcd].mixed_model is not None


def test_mixed_models_fitted_in_two_processes_equal_those_fitted_in_one(data20: TrialData) -> None:
    """With processes=2 a forked process fits some of the models while survival is analysed here: the
    models, and everything else, are the numbers of the serial analysis, exactly."""
    serial = analyse_trial(data20, processes=1)
    shared = analyse_trial(data20, processes=2)
    assert list(shared.change) == list(serial.change)
    for paramcd, change in serial.change.items():
        other = shared.change[paramcd]
        assert other.mixed_model_note == change.mixed_model_note
        if change.mixed_model is None:
            assert other.mixed_model is None
            continue
        assert other.mixed_model is not None
        pd.testing.assert_frame_equal(other.mixed_model.fixed_effects, change.mixed_model.fixed_effects, check_exact=True)
        pd.testing.assert_frame_equal(
            other.mixed_model.variance_components, change.mixed_model.variance_components, check_exact=True
        )
        assert (other.mixed_model.slope, other.mixed_model.log_likelihood) == (
            change.mixed_model.slope,
            change.mixed_model.log_likelihood,
        )
        pd.testing.assert_frame_equal(other.long, change.long, check_exact=True)
    assert shared.survival["DFS"].rates.equals(serial.survival["DFS"].rates)


def test_mixed_model_data_start_at_baseline_month_zero(analysis20: TrialAnalysis) -> None:
    """The modelled records: each subject's baseline at month 0 and post-infusion records at their months."""
    long = analysis20.change["MRSS"].long
    baseline = long[long["MONTH"] == 0]
    assert baseline["USUBJID"].is_unique
    assert len(baseline) == 20
    assert (long["MONTH"] >= 0).all()
    assert long["MONTH"].max() < 13


def test_wilcoxon_matches_a_direct_test_on_baseline_and_month_12(analysis20: TrialAnalysis) -> None:
    """The mRSS Wilcoxon equals compare_paired_wilcoxon on BASE and the M12 AVAL of the BDS rows."""
    bds = analysis20.parameter_visits
    mrss = bds[bds["PARAMCD"] == "MRSS"]
    base = mrss[mrss["ABLFL"] == "Y"].set_index("USUBJID")["AVAL"]
    month12 = mrss[mrss["AVISIT"] == "M12"].set_index("USUBJID")["AVAL"].reindex(base.index)
    direct = compare_paired_wilcoxon(base, month12)
    assert analysis20.change["MRSS"].wilcoxon == direct
    assert analysis20.change["MRSS"].followup_median < analysis20.change["MRSS"].baseline_median


def test_responder_rates_count_the_response_rows(analysis20: TrialAnalysis) -> None:
    """CRISS and EUSTAR skin rates equal summarise_responders on the AVAL of their rows."""
    responses = analysis20.responses
    table = analysis20.responders.set_index("code")
    for code in ("criss", "eustarsk"):
        flags = responses.loc[responses["PARAMCD"] == code.upper(), "AVAL"]
        direct = summarise_responders([None if math.isnan(v) else bool(v) for v in flags])
        row = table.loc[code]
        assert (row["n"], row["responders"]) == (direct.n, direct.responders)
        assert row["lower"] == pytest.approx(direct.lower)


def test_remission_rows_per_organ_count_involved_subjects(analysis20: TrialAnalysis) -> None:
    """Three measures per organ; the denominator is the subjects involved at baseline (decided + undecided)."""
    remission = analysis20.remission
    summary = analysis20.endpoints.remission_summary
    assert len(remission) == 3 * remission["organ"].nunique()
    for _, row in remission.iterrows():
        involved = int(((summary["organ"] == row["organ"]) & (summary["involved"] == 2)).sum())
        assert row["involved"] == involved == row["n"] + row["n_missing"]


def test_adverse_event_table_is_over_the_infused_subjects(analysis20: TrialAnalysis, data20: TrialData) -> None:
    """Denominator = infused subjects; the 'any' row counts every AE of the infused and its subjects."""
    summary = analysis20.adverse_events
    assert summary.n_subjects == analysis20.disposition.infused
    events = data20.adverse_events
    first = summary.table.iloc[0]
    assert (first["events"], first["subjects"]) == (len(events), events["subject_id"].nunique())
    assert len(analysis20.adverse_event_records) == len(events)
    assert analysis20.adverse_events_before_infusion == int((analysis20.adverse_event_records["MONTH"] < 0).sum())


def test_disposition_of_simulated_data_says_screening_was_not_recorded(analysis20: TrialAnalysis) -> None:
    """The simulator writes enrolled subjects only: screening not recorded, 20 enrolled and infused."""
    d = analysis20.disposition
    assert not d.screening_recorded
    assert (d.screened, d.enrolled, d.infused) == (20, 20, 20)
    assert d.completed + d.discontinued + d.in_follow_up == d.infused


def test_disposition_counts_screen_failures_and_reasons() -> None:
    """A hand-built subjects table: 6 screened, 2 screen failures (reasons), 1 in screening, 1 enrolled not infused."""
    day = pd.Timestamp("2010-01-01")
    nat = pd.NaT
    subjects = pd.DataFrame(
        {
            "subject_id": ["A", "B", "C", "D", "E", "F"],
            "status": ["screen_failed", "screen_failed", "screening", "withdrawn", "completed", "died"],
            "enrolment_date": [nat, nat, nat, day, day, day],
            "infusion_date": [nat, nat, nat, nat, day, day],
            "end_reason": ["mPAP 55 mmHg", "", "", "consent withdrawn", "", ""],
        }
    )
    d = derive_disposition(subjects)
    assert d.screening_recorded
    assert (d.screened, d.screen_failed, d.in_screening, d.eligible) == (6, 2, 1, 3)
    assert set(d.screen_fail_reasons) == {("mPAP 55 mmHg", 1), ("reason not recorded", 1)}
    assert (d.enrolled, d.not_infused, d.infused) == (3, 1, 2)
    assert d.not_infused_reasons == (("withdrawn", 1),)
    assert (d.discontinued, d.discontinued_reasons, d.completed) == (1, (("died", 1),), 1)


def test_analysis_of_nobody_infused_is_an_input_error(study: Study, data20: TrialData) -> None:
    """Without an infusion there is nothing to analyse: InputError naming the subjects."""
    subjects = data20.subjects.assign(infusion_date=pd.NaT)
    empty = TrialData(study, subjects, data20.values, data20.adverse_events, "test")
    with pytest.raises(InputError, match="no subject has an infusion date"):
        analyse_trial(empty)


@pytest.mark.parametrize(
    ("param", "split"),
    [("24-hour urinary protein (g/(24.h))", ("24-hour urinary protein", "g/24 h")), ("mRSS ({score})", ("mRSS", "")),
     ("Serum creatinine (umol/L)", ("Serum creatinine", "µmol/L")), ("Platelet count (10*9/L)", ("Platelet count", "× 10⁹/L")),
     ("DLCO (single breath) (mL/min/mm[Hg])", ("DLCO (single breath)", "mL/min/mmHg")), ("Age (a)", ("Age", "years"))],
)  # fmt: skip
def test_outcome_units_are_printed_by_the_core_formatter(param: str, split: tuple[str, str]) -> None:
    """A change outcome's PARAM "label (UCUM)" gives its label and the unit as :func:`rodnan.core.units.display_unit`
    prints it (the report has no unit formatter of its own)."""
    from rodnan.core.analysis.pipeline import _split_label

    assert _split_label(param) == split
