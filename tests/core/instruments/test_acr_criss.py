"""ACR provisional CRISS: step 1 events, the step-2 logistic model, the 0.60 threshold, missing data.

Expected values: the table of shared/domain.md §4.1 (computed from the published equation, Khanna
et al., Arthritis Rheumatol 2016;68:299-311 / Arthritis Care Res 2016;68:167-78 Table 4) and the
step-1 rules of that Table 4.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rodnan.core.instruments.acr_criss import INSTRUMENT, compute_criss_probability, score_acr_criss
from rodnan.core.verdict import Truth
from rodnan.errors import InputError

NO_EVENTS = {
    "new_renal_crisis": False,
    "fvc_decline_repeat_confirmed": False,
    "ild_confirmed_hrct": False,
    "new_lv_failure": False,
    "new_pah": False,
}
BASELINE = {"mrss": 20.0, "fvc_pct_pred": 70.0, "patient_global": 5.0, "physician_global": 5.0, "haq_di": 1.5}


def follow_up(d_mrss: float, d_fvc: float, d_pt: float, d_md: float, d_haq: float) -> dict[str, float | None]:
    """Follow-up values giving these changes from BASELINE."""
    return {
        "mrss": BASELINE["mrss"] + d_mrss,
        "fvc_pct_pred": BASELINE["fvc_pct_pred"] + d_fvc,
        "patient_global": BASELINE["patient_global"] + d_pt,
        "physician_global": BASELINE["physician_global"] + d_md,
        "haq_di": BASELINE["haq_di"] + d_haq,
    }


def adapter_answers(followup: Mapping[str, float | None], events: Mapping[str, object] | None = None) -> dict[str, object]:
    """A form record for the adapter."""
    answers: dict[str, object] = {f"{k}_baseline": v for k, v in BASELINE.items()}
    answers.update({f"{k}_followup": v for k, v in followup.items()})
    answers.update(NO_EVENTS if events is None else events)
    return answers


# domain.md §4.1 worked examples: changes, linear predictor, probability, verdict.
TABLE = [
    ((0, 0, 0, 0, 0), -5.5400, 0.003911, "not improved"),
    ((-10, 5, -2, -2, -0.5), 6.9950, 0.999084, "improved"),
    ((-6, 1, -0.5, -1, -0.125), 0.5963, 0.644798, "improved"),
    ((-5, 0, -1, -1, -0.25), 0.2025, 0.550453, "not improved"),
    ((2, -3, 1, 1, 0.25), -9.4825, 0.000076, "not improved"),
]


@pytest.mark.parametrize(("changes", "lin", "probability", "verdict"), TABLE)
def test_score_acr_criss_matches_the_worked_examples(
    changes: tuple[float, ...], lin: float, probability: float, verdict: str
) -> None:
    """domain.md §4.1 table (Khanna 2016 equation): linear predictor, probability and verdict."""
    result = score_acr_criss(BASELINE, follow_up(*changes), NO_EVENTS)
    assert result.step1 is Truth.FALSE
    assert result.linear_predictor == pytest.approx(lin, abs=5e-5)
    assert result.probability == pytest.approx(probability, abs=5e-7)
    assert result.verdict == verdict
    assert result.missing == ()


@pytest.mark.parametrize(("changes", "lin", "probability", "verdict"), TABLE)
def test_adapter_matches_the_worked_examples(changes: tuple[float, ...], lin: float, probability: float, verdict: str) -> None:
    """domain.md §4.1 table through the adapter: Score.value is the probability, Score.verdict the reading."""
    score = INSTRUMENT.score_items(adapter_answers(follow_up(*changes)))
    assert score.instrument == "acr_criss"
    assert score.value == pytest.approx(probability, abs=5e-7)
    assert score.verdict == verdict
    assert score.subscores["delta_mrss"] == pytest.approx(changes[0])
    assert score.subscores["step1"] == "no"


def test_compute_criss_probability_without_change_is_low() -> None:
    """Khanna 2016 equation, signs as published: no change at all gives p = 0.003911 (domain.md §4.1 row 1)."""
    assert compute_criss_probability(0, 0, 0, 0, 0) == pytest.approx(0.003911, abs=5e-7)


def test_compute_criss_probability_signs_follow_improvement() -> None:
    """Khanna 2016: lower mRSS, globals and HAQ-DI and higher FVC raise the probability of improvement."""
    base = compute_criss_probability(-5, 0, -1, -1, -0.25)
    assert compute_criss_probability(-6, 0, -1, -1, -0.25) > base
    assert compute_criss_probability(-5, 1, -1, -1, -0.25) > base
    assert compute_criss_probability(-5, 0, -2, -1, -0.25) > base
    assert compute_criss_probability(-5, 0, -1, -2, -0.25) > base
    assert compute_criss_probability(-5, 0, -1, -1, -0.5) > base


# --- step 1 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["new_renal_crisis", "new_lv_failure", "new_pah"])
def test_step1_event_gives_zero_whatever_is_missing(event: str) -> None:
    """Khanna 2016 Table 4 step 1: a new SRC, LV failure or PAH gives probability 0.0, not improved."""
    result = score_acr_criss({}, {}, {event: True})
    assert result.probability == 0.0
    assert result.verdict == "not improved"
    assert result.missing == ()


def test_step1_overrides_a_large_improvement() -> None:
    """Khanna 2016 Table 4 step 1: not improved irrespective of improvement in the other core items."""
    score = INSTRUMENT.score_items(adapter_answers(follow_up(-10, 5, -2, -2, -0.5), {**NO_EVENTS, "new_renal_crisis": "yes"}))
    assert score.value == 0.0
    assert score.verdict == "not improved"
    assert score.subscores["step2_probability"] == pytest.approx(0.999084, abs=5e-7)
    assert any("renal_crisis" in note for note in score.notes)


def test_step1_fvc_decline_of_15_percent_relative_below_80_confirmed() -> None:
    """Khanna 2016 Table 4: FVC 80 -> 68 % pred (15 % relative, < 80 %), repeat and HRCT confirmed: 0.0."""
    base = {**BASELINE, "fvc_pct_pred": 80.0}
    follow = {**follow_up(-10, 0, -2, -2, -0.5), "fvc_pct_pred": 68.0}
    events = {**NO_EVENTS, "fvc_decline_repeat_confirmed": True, "ild_confirmed_hrct": True}
    result = score_acr_criss(base, follow, events)
    assert result.step1_events["fvc_decline"] is Truth.TRUE
    assert result.probability == 0.0
    assert result.verdict == "not improved"


def test_step1_fvc_decline_under_15_percent_is_no_event() -> None:
    """Khanna 2016 Table 4: the decline must be >= 15 % relative; 80 -> 68.5 (14.4 %) is no event."""
    base = {**BASELINE, "fvc_pct_pred": 80.0}
    follow = {**follow_up(-10, 0, -2, -2, -0.5), "fvc_pct_pred": 68.5}
    events = {**NO_EVENTS, "fvc_decline_repeat_confirmed": True, "ild_confirmed_hrct": True}
    result = score_acr_criss(base, follow, events)
    assert result.step1_events["fvc_decline"] is Truth.FALSE
    assert result.probability is not None
    assert result.probability > 0.6


def test_step1_fvc_decline_staying_at_or_above_80_is_no_event() -> None:
    """Khanna 2016 Table 4: FVC must fall below 80 % predicted; 100 -> 80 (20 % relative) is no event."""
    base = {**BASELINE, "fvc_pct_pred": 100.0}
    follow = {**follow_up(0, 0, 0, 0, 0), "fvc_pct_pred": 80.0}
    events = {**NO_EVENTS, "fvc_decline_repeat_confirmed": True, "ild_confirmed_hrct": True}
    assert score_acr_criss(base, follow, events).step1_events["fvc_decline"] is Truth.FALSE


def test_step1_fvc_decline_without_repeat_confirmation_is_no_event() -> None:
    """Khanna 2016 Table 4: an unconfirmed FVC decline (no repeat FVC within a month) is no step-1 event."""
    base = {**BASELINE, "fvc_pct_pred": 80.0}
    follow = {**follow_up(0, 0, 0, 0, 0), "fvc_pct_pred": 60.0}
    events = {**NO_EVENTS, "fvc_decline_repeat_confirmed": False, "ild_confirmed_hrct": True}
    assert score_acr_criss(base, follow, events).step1_events["fvc_decline"] is Truth.FALSE


def test_step1_fvc_decline_with_unanswered_confirmations_is_not_computable() -> None:
    """Khanna 2016 Table 4: a qualifying FVC decline with unanswered confirmations leaves step 1 undecided."""
    base = {**BASELINE, "fvc_pct_pred": 80.0}
    follow = {**follow_up(-10, 0, -2, -2, -0.5), "fvc_pct_pred": 60.0}
    events = {**NO_EVENTS, "fvc_decline_repeat_confirmed": None, "ild_confirmed_hrct": None}
    result = score_acr_criss(base, follow, events)
    assert result.step1 is Truth.UNKNOWN
    assert result.probability is None
    assert result.verdict is None
    assert result.missing == ("fvc_decline_repeat_confirmed", "ild_confirmed_hrct")


# --- missing data -------------------------------------------------------------------------------------


def test_missing_core_item_is_not_computable_and_named() -> None:
    """Khanna 2016: step 2 needs all five changes; a missing follow-up mRSS is named, with the rule."""
    answers = adapter_answers(follow_up(-6, 1, -0.5, -1, -0.125))
    answers["mrss_followup"] = None
    score = INSTRUMENT.score_items(answers)
    assert score.value is None
    assert score.verdict is None
    assert score.missing == ("mrss_followup",)
    assert any("five core items" in note and "mrss_followup" in note for note in score.notes)


def test_unanswered_step1_event_is_not_computable_and_named() -> None:
    """Khanna 2016: without step 1 decided the probability is not computable; the unanswered event is named."""
    events = {**NO_EVENTS, "new_pah": None}
    result = score_acr_criss(BASELINE, follow_up(-6, 1, -0.5, -1, -0.125), events)
    assert result.probability is None
    assert result.verdict is None
    assert result.step2_probability == pytest.approx(0.644798, abs=5e-7)
    assert result.missing == ("new_pah",)


def test_unanswered_step1_event_with_low_step2_is_still_not_improved() -> None:
    """Khanna 2016 rules: step 2 below 0.60 and step 1 either way both read 'not improved' (domain.md §4.1 row 4)."""
    events = {**NO_EVENTS, "new_lv_failure": None}
    score = INSTRUMENT.score_items(adapter_answers(follow_up(-5, 0, -1, -1, -0.25), events))
    assert score.value is None
    assert score.verdict == "not improved"
    assert score.missing == ("new_lv_failure",)


# --- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ("mrss_baseline", 52),
        ("mrss_followup", -1),
        ("fvc_pct_pred_baseline", 250),
        ("patient_global_followup", 11),
        ("physician_global_baseline", -0.5),
        ("haq_di_followup", 3.5),
        ("haq_di_baseline", "bad"),
        ("mrss_followup", True),
    ],
)
def test_adapter_rejects_a_bad_core_value_naming_it(code: str, value: object) -> None:
    """Core items: mRSS 0-51, FVC 5-200 % pred (protocol range), globals 0-10, HAQ-DI 0-3, numbers only."""
    answers = adapter_answers(follow_up(0, 0, 0, 0, 0))
    answers[code] = value
    with pytest.raises(InputError) as info:
        INSTRUMENT.score_items(answers)
    assert info.value.field == code


def test_adapter_rejects_a_bad_event_answer() -> None:
    """Step-1 events are yes/no."""
    with pytest.raises(InputError) as info:
        INSTRUMENT.score_items({"new_pah": "maybe"})
    assert info.value.field == "new_pah"


def test_adapter_rejects_an_unknown_input() -> None:
    """The adapter refuses a code that is not an input, naming it."""
    with pytest.raises(InputError) as info:
        INSTRUMENT.score_items({"dlco_baseline": 60})
    assert info.value.field == "dlco_baseline"


def test_score_acr_criss_rejects_an_unknown_item_or_event() -> None:
    """score_acr_criss names an unknown core item or step-1 event."""
    with pytest.raises(InputError) as info:
        score_acr_criss({"dlco": 60}, {}, {})
    assert info.value.field == "dlco_baseline"
    with pytest.raises(InputError) as info:
        score_acr_criss({}, {}, {"death": True})
    assert info.value.field == "death"


# --- properties ---------------------------------------------------------------------------------------

core_values = st.fixed_dictionaries(
    {
        "mrss": st.integers(0, 51).map(float),
        "fvc_pct_pred": st.floats(5, 200),
        "patient_global": st.floats(0, 10),
        "physician_global": st.floats(0, 10),
        "haq_di": st.integers(0, 24).map(lambda n: n / 8),
    }
)


@given(core_values, core_values)
def test_probability_is_within_0_and_1(base: dict[str, float], follow: dict[str, float]) -> None:
    """A CRISS value is a probability, 0-1 (Khanna 2016)."""
    result = score_acr_criss(base, follow, NO_EVENTS)
    assert result.probability is not None
    assert 0.0 <= result.probability <= 1.0
    assert result.verdict == ("improved" if result.probability >= 0.60 else "not improved")


@given(core_values, core_values, st.integers(1, 51))
def test_larger_mrss_decrease_never_lowers_the_probability(base: dict[str, float], follow: dict[str, float], extra: int) -> None:
    """A worse answer never gives a better score: a larger mRSS decrease never lowers the CRISS probability."""
    lower_mrss = max(0.0, follow["mrss"] - extra)
    before = score_acr_criss(base, follow, NO_EVENTS).probability
    after = score_acr_criss(base, {**follow, "mrss": lower_mrss}, NO_EVENTS).probability
    assert before is not None
    assert after is not None
    assert after >= before


@given(core_values, core_values, st.sampled_from(["new_renal_crisis", "new_lv_failure", "new_pah"]))
def test_any_step1_event_gives_zero(base: dict[str, float], follow: dict[str, float], event: str) -> None:
    """Khanna 2016 step 1: any new renal, cardiac or PAH event gives 0.0 irrespective of the core items."""
    result = score_acr_criss(base, follow, {**NO_EVENTS, event: True})
    assert result.probability == 0.0
    assert result.verdict == "not improved"
