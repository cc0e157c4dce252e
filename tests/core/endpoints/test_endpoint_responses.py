"""Overall survival, responses at month 12 (EUSTAR skin, ACR-CRISS) and organ remission, on hand-built subjects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rodnan.core.endpoints import evaluate_endpoints
from rodnan.core.instruments.acr_criss import score_acr_criss
from rodnan.core.protocol import Study
from rodnan.core.simulate.cohort import simulate_cohort
from rodnan.core.trialdata import from_frames
from tests.core.endpoints.builder import ORGANS_NORMAL, Subject, build, day

CORE_BASELINE = {"mrss": 24, "fvc_pct_pred": 84, "patient_global": 5, "physician_global": 5, "haq_di": 1.25}


def _responses(study: Study, *subjects: Subject, events: tuple[tuple[str, str, int], ...] = ()) -> pd.DataFrame:
    result = evaluate_endpoints(build(study, list(subjects), events))
    return result.responses.set_index(["subject_id", "response"])


# --- overall survival ---------------------------------------------------------------------------


def test_os_death_is_the_event(study: Study) -> None:
    """Death on day 200: OS event on day 200."""
    subject = Subject("A", status="died", end_day=200, death_day=200).visit("SCR", -14, mrss=20).visit("M1", 30, mrss=20)
    row = evaluate_endpoints(build(study, [subject])).os.iloc[0]
    assert (row["event"], row["date"], row["days"], row["censor_reason"]) == (True, pd.Timestamp(day(200)), 200, "")


def test_os_censors_at_the_last_contact(study: Study) -> None:
    """Completed on day 372 (the end date is a contact), lost after a visit on day 150 (the loss date is not),
    withdrawn on day 100 after an adverse event on day 120 reported later (the later date counts)."""
    completed = Subject("A", status="completed", end_day=372).visit("SCR", -14, mrss=20).visit("M12", 365, mrss=18)
    lost = Subject("B", status="lost_to_follow_up", end_day=300).visit("SCR", -14, mrss=20).visit("M5", 150, mrss=18)
    withdrawn = Subject("C", status="withdrawn", end_day=100).visit("SCR", -14, mrss=20).visit("M3", 91, mrss=18)
    result = evaluate_endpoints(build(study, [completed, lost, withdrawn], (("C", "Fever", 120),)))
    os = result.os.set_index("subject_id")
    assert not os["event"].any()
    assert os["days"].to_dict() == {"A": 372, "B": 150, "C": 120}
    assert os["censor_reason"].to_dict() == {"A": "completed", "B": "lost_to_follow_up", "C": "withdrawn"}


# --- responses at month 12 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("m12", "expected"),
    [
        (18, 2),  # -6 points and -25.0 %: improved (decrease > 5 and >= 25 %)
        (19, 0),  # -5 points: not > 5
        (17, 2),  # -7 points, -29.2 %
        (None, 1),  # no M12 visit: unknown
    ],
)
def test_eustar_skin_improvement_at_m12(study: Study, m12: float | None, expected: int) -> None:
    """EUSTAR skin improvement (Dobrota 2016): mRSS decrease > 5 points and >= 25 % from a baseline of 24."""
    subject = Subject("A").visit("SCR", -14, mrss=24).visit("M6", 183, mrss=20)
    if m12 is not None:
        subject.visit("M12", 365, mrss=m12)
    rows = _responses(study, subject)
    assert rows.loc[("A", "eustarsk"), "truth"] == expected


def _criss_subject(subject_id: str, **m12: float) -> Subject:
    """Baseline core items; M12 as domain.md §4.1 worked example row 3 unless overridden."""
    follow = {"mrss": 18, "fvc_pct_pred": 85, "patient_global": 4.5, "physician_global": 4, "haq_di": 1.125, **m12}
    return (
        Subject(subject_id)
        .visit("SCR", -14, **{**ORGANS_NORMAL, "fvc_pct_pred": 84, **CORE_BASELINE})
        .organs("M6", 183, mrss=20)
        .visit("M12", 365, **{**ORGANS_NORMAL, **follow})
    )


def test_criss_worked_example(study: Study) -> None:
    """domain.md §4.1: changes -6, +1, -0.5, -1, -0.125 and no step-1 event -> lin 0.5963, p 0.644798, improved."""
    row = _responses(study, _criss_subject("A")).loc[("A", "criss")]
    assert row["truth"] == 2
    assert row["value"] == pytest.approx(0.644798, abs=1e-6)
    assert row["date"] == pd.Timestamp(day(365))


def test_criss_below_threshold(study: Study) -> None:
    """domain.md §4.1 row 4: -5, 0, -1, -1, -0.25 -> p 0.550453 < 0.60: not improved."""
    subject = _criss_subject("A", mrss=19, fvc_pct_pred=84, patient_global=4, physician_global=4, haq_di=1.0)
    row = _responses(study, subject).loc[("A", "criss")]
    assert (row["truth"], row["value"]) == (0, pytest.approx(0.550453, abs=1e-6))


def test_criss_step1_new_lv_failure(study: Study) -> None:
    """LVEF 44 % at M6 (60 % at baseline): new LV failure, CRISS 0.0, not improved, whatever the core items."""
    subject = _criss_subject("A")
    subject.visits[1] = ("M6", 183, {**ORGANS_NORMAL, "mrss": 20, "lvef": 44})
    row = _responses(study, subject).loc[("A", "criss")]
    assert (row["truth"], row["value"]) == (0, 0.0)


def test_criss_step1_renal_crisis_before_m12_only(study: Study) -> None:
    """A scleroderma renal crisis reported on day 200 makes CRISS 0.0; one on day 400 (after M12) does not count."""
    before = _responses(study, _criss_subject("A"), events=(("A", "Scleroderma renal crisis", 200),))
    after = _responses(study, _criss_subject("A"), events=(("A", "Scleroderma renal crisis", 400),))
    assert before.loc[("A", "criss"), "value"] == 0.0
    assert after.loc[("A", "criss"), "truth"] == 2


def test_criss_missing_core_item_is_unknown(study: Study) -> None:
    """No HAQ-DI at M12: the probability is not computable; with step 2 undecided the verdict is unknown."""
    subject = _criss_subject("A")
    code, on_day, values = subject.visits[2]
    subject.visits[2] = (code, on_day, {k: v for k, v in values.items() if k != "haq_di"})
    row = _responses(study, subject).loc[("A", "criss")]
    assert row["truth"] == 1
    assert np.isnan(row["value"])


def test_criss_matches_the_instrument_on_a_simulated_cohort(study: Study) -> None:
    """The vectorised CRISS equals score_acr_criss subject by subject (no renal crisis, LV failure or PAH simulated)."""
    cohort = simulate_cohort(study, 150, seed=41)
    data = from_frames(study, cohort.subjects, cohort.values_frame(), cohort.adverse_events)
    result = evaluate_endpoints(data)
    criss = result.responses[result.responses["response"] == "criss"].set_index("subject_id")
    values = data.values
    items = ["mrss", "fvc_pct_pred", "patient_global", "physician_global", "haq_di"]
    base = result.baseline[result.baseline["item"].isin(items)].pivot(index="subject_id", columns="item", values="value")
    m12 = values[(values["visit"] == "M12") & values["item"].isin(items)]
    follow = m12.pivot_table(index="subject_id", columns="item", values="value", observed=True)
    checked = 0
    for subject_id, row in criss.iterrows():
        if subject_id not in follow.index:
            assert row["truth"] == 1
            continue

        def get(frame: pd.DataFrame, code: str, who: str = str(subject_id)) -> float | None:
            value = frame.loc[who].get(code, np.nan) if who in frame.index else np.nan
            return None if pd.isna(value) else float(value)

        expected = score_acr_criss(
            {code: get(base, code) for code in items},
            {code: get(follow, code) for code in items},
            {"new_renal_crisis": False, "new_lv_failure": False, "new_pah": False},
        )
        verdict = {"improved": 2, "not improved": 0, None: 1}[expected.verdict]
        assert row["truth"] == verdict, subject_id
        if expected.probability is None:
            assert np.isnan(row["value"])
        else:
            assert row["value"] == pytest.approx(expected.probability, rel=1e-12)
        checked += 1
    assert checked > 100


# --- organ remission ----------------------------------------------------------------------------


def test_remission_and_sustained_remission(study: Study) -> None:
    """Digestive involvement (albumin 22 g/L) at baseline; remission at M3 and M6 (albumin >= 25, weight not below
    baseline) is sustained from M3; M9 missed; M12 albumin 24: no remission."""
    subject = (
        Subject("A")
        .visit("SCR", -14, **{**ORGANS_NORMAL, "albumin": 22, "body_weight": 60})
        .organs("M3", 91, albumin=26, body_weight=60.5)
        .organs("M6", 183, albumin=27, body_weight=61)
        .organs("M12", 365, albumin=24, body_weight=61)
    )
    other = (  # M3 yes, M6 no (weight below baseline), M9 yes, M12 missed: sustained is unknown
        Subject("B")
        .visit("SCR", -14, **{**ORGANS_NORMAL, "albumin": 22, "body_weight": 60})
        .organs("M3", 91, albumin=26, body_weight=60)
        .organs("M6", 183, albumin=27, body_weight=59.5)
        .organs("M9", 274, albumin=27, body_weight=60)
    )
    result = evaluate_endpoints(build(study, [subject, other, Subject("C").visit("SCR", -14, **ORGANS_NORMAL)]))
    gi = result.remission[result.remission["organ"] == "gi"].set_index(["subject_id", "visit"])["truth"]
    assert gi.loc["A"].to_dict() == {"M3": 2, "M6": 2, "M9": 1, "M12": 0}
    assert gi.loc["B"].to_dict() == {"M3": 2, "M6": 0, "M9": 2, "M12": 1}
    summary = result.remission_summary.set_index(["subject_id", "organ"])
    assert summary.loc[("A", "gi"), "sustained"] == 2
    assert summary.loc[("A", "gi"), "sustained_date"] == pd.Timestamp(day(91))
    assert summary.loc[("A", "gi"), "remission_date"] == pd.Timestamp(day(91))
    assert summary.loc[("B", "gi"), "sustained"] == 1
    assert pd.isna(summary.loc[("C", "gi"), "sustained"])  # not involved at baseline: not applicable
    assert summary.loc[("C", "gi"), "involved"] == 0
    assert set(result.remission["subject_id"]) == {"A", "B"}


def test_lung_remission_needs_every_threshold(study: Study) -> None:
    """Lung involvement by DLCO 60 %; at M3 DLCO 72 % but FVC 68 %: no remission; at M6 all >= 70 %: remission."""
    subject = (
        Subject("A")
        .visit("SCR", -14, **{**ORGANS_NORMAL, "dlco_pct_pred": 60})
        .organs("M3", 91, dlco_pct_pred=72, fvc_pct_pred=68)
        .organs("M6", 183, dlco_pct_pred=72)
    )
    result = evaluate_endpoints(build(study, [subject]))
    lung = result.remission[result.remission["organ"] == "lung"].set_index("visit")["truth"]
    assert (lung["M3"], lung["M6"]) == (0, 2)
