"""Disease-free survival: the worked example of shared/domain.md §9.2, each event rule, censoring.

Expected values are worked by hand from the rule texts (the percentages in the comments), never taken
from the code under test.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from rodnan.core.endpoints import evaluate_endpoints
from rodnan.core.protocol import Study, bundled_protocol_path, load_protocol_text
from tests.core.endpoints.builder import ORGANS_NORMAL, Subject, build, day

# shared/domain.md §9.2 worked example: baseline mRSS 24, FVC 70 %, DLCO 60 %.
BASELINE = {**ORGANS_NORMAL, "mrss": 24, "fvc_pct_pred": 70, "dlco_pct_pred": 60}


def _example(subject_id: str, status: str = "completed", end_day: int | None = 372, death_day: int | None = None) -> Subject:
    """Baseline, and M3: mRSS 22, FVC 72, DLCO 58 (DLCO -3.3 %: no event)."""
    return (
        Subject(subject_id, status=status, end_day=end_day, death_day=death_day)
        .visit("SCR", -14, **BASELINE)
        .organs("M3", 91, mrss=22, fvc_pct_pred=72, dlco_pct_pred=58)
    )


def _dfs(
    study: Study, *subjects: Subject, events: tuple[tuple[str, str, int], ...] = (), cutoff: dt.date | None = None
) -> pd.DataFrame:
    result = evaluate_endpoints(build(study, list(subjects), events), cutoff=cutoff)
    return result.dfs.set_index("subject_id")


def _variant(old: str, new: str) -> Study:
    text = bundled_protocol_path().read_text(encoding="utf-8")
    assert old in text, old
    return load_protocol_text(text.replace(old, new, 1))


def test_worked_example_m3_is_no_event(study: Study) -> None:
    """M3 (mRSS 22, FVC +2.9 %, DLCO -3.3 %) rules nothing in: the subject is censored at M3, a complete assessment."""
    row = _dfs(study, _example("A")).loc["A"]
    assert not row["event"]
    assert row["date"] == pd.Timestamp(day(91))
    assert row["censor_reason"] == "completed"
    assert row["days"] == 91


def test_worked_example_skin_progression_at_m6(study: Study) -> None:
    """M6 mRSS 31: +7 points and +29.2 % -> E2 at M6, although the visit measured nothing else."""
    row = _dfs(study, _example("A").visit("M6", 183, mrss=31)).loc["A"]
    assert row["event"]
    assert (row["rule"], row["date"], row["days"], row["visit"]) == ("e2_skin", pd.Timestamp(day(183)), 183, "M6")
    assert row["status"] == ""  # E2 needs no confirmation


def test_worked_example_skin_below_threshold_is_no_event(study: Study) -> None:
    """mRSS 28 at M6 is +4 points and +16.7 %: neither part of E2 holds."""
    row = _dfs(study, _example("A").organs("M6", 183, mrss=28)).loc["A"]
    assert not row["event"]


def test_worked_example_lung_progression_at_m6_confirmed(study: Study) -> None:
    """M6 FVC 62 (-11.4 %), repeat FVC 63 two weeks later (-10.0 %): E3 at M6, dated M6, not the repeat."""
    subject = _example("A").organs("M6", 183, mrss=28, fvc_pct_pred=62, dlco_pct_pred=60).visit("M6R", 197, fvc_pct_pred=63)
    row = _dfs(study, subject).loc["A"]
    assert (row["rule"], row["date"], row["status"]) == ("e3_lung", pd.Timestamp(day(183)), "confirmed")


def test_worked_example_moderate_fvc_and_dlco_decline_is_no_event(study: Study) -> None:
    """M6 FVC 66 (-5.7 %) with DLCO 52 (-13.3 %): the 5-10 % clause needs DLCO >= 15 %: no event."""
    row = _dfs(study, _example("A").organs("M6", 183, mrss=23, fvc_pct_pred=66, dlco_pct_pred=52)).loc["A"]
    assert not row["event"]
    assert row["date"] == pd.Timestamp(day(183))  # censored at M6, the last complete assessment


def test_worked_example_dlco_decline_at_m9(study: Study) -> None:
    """Then M9 DLCO 50 (-16.7 %): E3 at M9; with no repeat test it is 'possible', which counts by default."""
    subject = (
        _example("A")
        .organs("M6", 183, mrss=23, fvc_pct_pred=66, dlco_pct_pred=52)
        .organs("M9", 274, mrss=23, fvc_pct_pred=66, dlco_pct_pred=50)
    )
    row = _dfs(study, subject).loc["A"]
    assert (row["rule"], row["date"], row["status"]) == ("e3_lung", pd.Timestamp(day(274)), "possible")
    confirmed = subject.visit("M9R", 290, dlco_pct_pred=49)  # DLCO -18.3 % sixteen days later
    assert _dfs(study, confirmed).loc["A", "status"] == "confirmed"


def test_possible_events_can_be_ignored(study: Study) -> None:
    """possible_events: ignore -> the unconfirmed M9 finding is no event; the subject is censored at M9."""
    variant = _variant("possible_events: count", "possible_events: ignore")
    subject = _example("A").organs("M9", 274, mrss=23, fvc_pct_pred=66, dlco_pct_pred=50)
    row = _dfs(variant, subject).loc["A"]
    assert not row["event"]
    assert row["date"] == pd.Timestamp(day(274))


def test_refuted_finding_is_no_event_and_a_later_one_counts(study: Study) -> None:
    """A repeat within 31 days that does not meet E3 refutes the finding; a later confirmed one is the event."""
    subject = (
        _example("A")
        .organs("M6", 183, mrss=23, fvc_pct_pred=62, dlco_pct_pred=60)
        .visit("M6R", 200, fvc_pct_pred=69, dlco_pct_pred=60)  # -1.4 % and 0 %: not met
        .organs("M9", 274, mrss=23, fvc_pct_pred=61, dlco_pct_pred=59)  # -12.9 %
        .visit("M9R", 280, fvc_pct_pred=60, dlco_pct_pred=59)
    )
    result = evaluate_endpoints(build(study, [subject]))
    findings = result.assessments.set_index("visit")["e3_lung"]
    assert findings["M6"] == "refuted"
    assert findings["M9"] == "confirmed"
    row = result.dfs.iloc[0]
    assert (row["rule"], row["date"]) == ("e3_lung", pd.Timestamp(day(274)))


def test_repeat_after_the_window_does_not_confirm(study: Study) -> None:
    """A repeat 32 days later is outside 'within 1 month' (31 days): the finding stays possible."""
    subject = _example("A").organs("M6", 183, fvc_pct_pred=62, dlco_pct_pred=60).visit("M6R", 215, fvc_pct_pred=62)
    result = evaluate_endpoints(build(study, [subject]))
    assert result.assessments.set_index("visit").loc["M6", "e3_lung"] == "possible"


def test_death_is_e1(study: Study) -> None:
    """Death on day 200 with no earlier event: E1 on the death date."""
    subject = _example("A", status="died", end_day=200, death_day=200)
    row = _dfs(study, subject).loc["A"]
    assert (row["event"], row["rule"], row["date"]) == (True, "e1_death", pd.Timestamp(day(200)))


def test_death_after_withdrawal_still_counts(study: Study) -> None:
    """Withdrawal is censored, unless death is known: a death reported after withdrawal, within follow-up, is E1."""
    subject = _example("A", status="withdrawn", end_day=120, death_day=240)
    row = _dfs(study, subject).loc["A"]
    assert (row["rule"], row["date"]) == ("e1_death", pd.Timestamp(day(240)))


def test_death_after_protocol_follow_up_is_not_a_dfs_event(study: Study) -> None:
    """A death on day 500, after the 12-month follow-up (M12 window ends on day 372): DFS censored, OS event."""
    subject = _example("A", end_day=365, death_day=500).organs("M12", 365, mrss=20, fvc_pct_pred=70, dlco_pct_pred=60)
    result = evaluate_endpoints(build(study, [subject]))
    dfs, os = result.dfs.iloc[0], result.os.iloc[0]
    assert (dfs["event"], dfs["date"], dfs["censor_reason"]) == (False, pd.Timestamp(day(365)), "completed")
    assert (os["event"], os["date"], os["days"]) == (True, pd.Timestamp(day(500)), 500)


def test_earlier_event_wins_over_death(study: Study) -> None:
    """E2 at M6 then death on day 250: the DFS event is E2 at M6."""
    subject = _example("A", status="died", end_day=250, death_day=250).visit("M6", 183, mrss=31)
    assert _dfs(study, subject).loc["A", "rule"] == "e2_skin"


@pytest.mark.parametrize(
    ("baseline", "visit", "expected"),
    [
        ({"mpap_echo": 38}, {"mpap_echo": 42}, "e4_cardiopulmonary_renal"),  # newly > 40 mmHg
        ({"mpap_echo": 42}, {"mpap_echo": 46}, None),  # > 40 already at baseline: not new
        ({"lvef": 60}, {"lvef": 45}, "e4_cardiopulmonary_renal"),  # LVEF <= 45 %, new
        ({"lvef": 60}, {"lvef": 46}, None),
        ({"albumin": 40}, {"albumin": 24}, "e5_new_organ"),  # new digestive involvement (< 25 g/L)
        ({"albumin": 22}, {"albumin": 20}, None),  # digestive involved at baseline: not new
        ({"creatinine": 80}, {"creatinine": 130}, "e5_new_organ"),  # new kidney involvement (> 120 umol/L)
        ({"urine_protein_24h": 0.2}, {"urine_protein_24h": 0.8}, "e5_new_organ"),  # > 0.5 g/24 h
        ({"vc_pct_pred": 86}, {"vc_pct_pred": 68}, "e5_new_organ"),  # new lung involvement by VC < 70 %
        ({"dlco_pct_pred": 80}, {"dlco_pct_pred": 68}, "e3_lung"),  # DLCO -15 % and < 70 %: E3 and E5 tie, E3 listed first
        ({"mpap_echo": 30}, {"mpap_echo": 41}, "e4_cardiopulmonary_renal"),  # E4 and E5 (lung by mPAP) tie: E4 first
    ],
)
def test_cardiopulmonary_renal_and_new_organ_rules(
    study: Study, baseline: dict[str, float], visit: dict[str, float], expected: str | None
) -> None:
    """E4 (new mPAP > 40 mmHg, new LVEF <= 45 %) and E5 (an organ's inclusion threshold newly met) at M3."""
    subject = Subject("A").visit("SCR", -14, **{**ORGANS_NORMAL, "mrss": 20, **baseline}).organs("M3", 91, mrss=20, **visit)
    row = _dfs(study, subject).loc["A"]
    assert row["event"] == (expected is not None)
    if expected is not None:
        assert (row["rule"], row["date"]) == (expected, pd.Timestamp(day(91)))


def test_renal_crisis_is_read_from_adverse_events(study: Study) -> None:
    """E4 includes scleroderma renal crisis, which has no item: an adverse event with that term (any case) on day 100."""
    subject = _example("A").organs("M6", 183, mrss=23)
    row = _dfs(study, subject, events=(("A", "scleroderma RENAL crisis", 100), ("A", "Fever", 50))).loc["A"]
    assert (row["rule"], row["date"], row["visit"]) == ("e4_cardiopulmonary_renal", pd.Timestamp(day(100)), "AE")


def test_rescue_therapy_rule_is_off(study: Study) -> None:
    """E6 is disabled in the bundled protocol: it is not evaluated (no column in the assessments)."""
    result = evaluate_endpoints(build(study, [_example("A")]))
    assert "e6_rescue" not in result.assessments.columns
    assert {"e2_skin", "e3_lung", "e4_cardiopulmonary_renal", "e5_new_organ"} <= set(result.assessments.columns)


def test_missing_components_censor_at_the_last_complete_assessment(study: Study) -> None:
    """M6 measures only mRSS (no event): it cannot rule out lung events, so censoring stays at M3."""
    row = _dfs(study, _example("A").visit("M6", 183, mrss=23)).loc["A"]
    assert (row["event"], row["date"], row["visit"]) == (False, pd.Timestamp(day(91)), "M3")
    assert row["censor_date_source"] == "Last complete assessment"


def test_censoring_at_the_last_assessment_is_an_option(study: Study) -> None:
    """censoring: last_assessment -> the incomplete M6 is the censoring date."""
    variant = _variant("censoring: last_complete_assessment", "censoring: last_assessment")
    row = _dfs(variant, _example("A").visit("M6", 183, mrss=23)).loc["A"]
    assert row["date"] == pd.Timestamp(day(183))


@pytest.mark.parametrize("status", ["lost_to_follow_up", "withdrawn"])
def test_lost_and_withdrawn_are_censored(study: Study, status: str) -> None:
    """Lost to follow-up or withdrawn after M7: censored at the last complete assessment (M6), reason = status."""
    subject = _example("A", status=status, end_day=240).organs("M6", 183, mrss=23).visit("M7", 213, mrss=22)
    row = _dfs(study, subject).loc["A"]
    assert (row["event"], row["date"], row["censor_reason"]) == (False, pd.Timestamp(day(183)), status)


def test_no_complete_assessment_censors_at_the_infusion(study: Study) -> None:
    """Only incomplete visits after the infusion: censored on day 0."""
    row = _dfs(study, Subject("A").visit("SCR", -14, **BASELINE).visit("M1", 30, mrss=24)).loc["A"]
    assert (row["event"], row["days"]) == (False, 0)
    assert row["censor_date_source"].startswith("Infusion date")


def test_data_cutoff_ignores_later_data(study: Study) -> None:
    """Cut-off on day 150: the M6 event (day 183) is not seen; the subject is ongoing, censored at M3."""
    subject = _example("A").visit("M6", 183, mrss=31)
    row = _dfs(study, subject, cutoff=day(150)).loc["A"]
    assert (row["event"], row["date"], row["censor_reason"]) == (False, pd.Timestamp(day(91)), "ongoing")


def test_subjects_never_infused_have_no_dfs_row(study: Study) -> None:
    """Time starts at the infusion: an enrolled subject who was never infused has no time-to-event row."""
    result = evaluate_endpoints(build(study, [_example("A"), Subject("B", status="withdrawn", end_day=-5, infused=False)]))
    assert list(result.dfs["subject_id"]) == ["A"]
    assert list(result.os["subject_id"]) == ["A"]
    assert list(result.involvement.index) == ["A", "B"]
