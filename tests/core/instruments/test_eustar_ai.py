"""Revised EUSTAR activity index: weights, strict thresholds, bounds with missing items.

Expected values: the worked example of shared/domain.md §5 and the item definitions of Valentini
et al., Ann Rheum Dis 2017;76:270-6 (abstract: weights, mRSS > 18, CRP > 1 mg/dL, DLCO < 70 %,
active if >= 2.5).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rodnan.core.instruments.eustar_ai import INSTRUMENT, score_eustar_ai
from rodnan.errors import InputError

EXAMPLE = {"delta_skin": True, "mrss": 26, "digital_ulcers": False, "tendon_friction_rubs": False, "crp": 15, "dlco_pct_pred": 65}
NOTHING = {"delta_skin": False, "mrss": 10, "digital_ulcers": False, "tendon_friction_rubs": False, "crp": 2, "dlco_pct_pred": 90}


def test_score_eustar_ai_worked_example() -> None:
    """domain.md §5: delta-skin, mRSS 26, CRP 1.5 mg/dL (15 mg/L), DLCO 65 %: 1.5+1.5+2.25+1.0 = 6.25, active."""
    score = INSTRUMENT.score_items(EXAMPLE)
    assert score.instrument == "eustar_ai"
    assert score.value == pytest.approx(6.25)
    assert score.verdict == "active"
    assert score.subscores["item_crp"] == 2.25
    assert score.subscores["item_digital_ulcers"] == 0.0


def test_score_eustar_ai_worked_example_with_crp_unknown() -> None:
    """domain.md §5: with CRP unknown the bounds are 4.0-6.25, active either way; the score is not computable."""
    score = INSTRUMENT.score_items({**EXAMPLE, "crp": None})
    assert score.value is None
    assert score.subscores["lower"] == pytest.approx(4.0)
    assert score.subscores["upper"] == pytest.approx(6.25)
    assert score.verdict == "active"
    assert score.missing == ("crp",)
    assert any("every item is needed" in note and "crp" in note for note in score.notes)


def test_score_eustar_ai_all_items_gives_10() -> None:
    """Valentini 2017: the weights add up to a 10-point index (1.5+1.5+1.5+2.25+2.25+1.0)."""
    result = score_eustar_ai(True, 30, True, True, 50, 40)
    assert result.score == pytest.approx(10.0)


def test_score_eustar_ai_nothing_present_gives_0_inactive() -> None:
    """Valentini 2017: no item present is 0, below 2.5: inactive."""
    score = INSTRUMENT.score_items(NOTHING)
    assert score.value == 0.0
    assert score.verdict == "inactive"


@pytest.mark.parametrize(
    ("code", "below", "above"),
    [("mrss", 18, 19), ("crp", 10, 10.1), ("dlco_pct_pred", 70, 69.9)],
)
def test_score_eustar_ai_thresholds_are_strict(code: str, below: float, above: float) -> None:
    """Valentini 2017 abstract: mRSS > 18, CRP > 1 mg/dL (10 mg/L), DLCO < 70 %; the boundary itself does not count."""
    assert INSTRUMENT.score_items({**NOTHING, code: below}).value == 0.0
    assert INSTRUMENT.score_items({**NOTHING, code: above}).value != 0.0


def test_score_eustar_ai_2_5_is_active() -> None:
    """Valentini 2017: active disease from 2.5 on (delta-skin 1.5 + DLCO < 70 % 1.0 = 2.5)."""
    score = INSTRUMENT.score_items({**NOTHING, "delta_skin": True, "dlco_pct_pred": 60})
    assert score.value == pytest.approx(2.5)
    assert score.verdict == "active"


def test_score_eustar_ai_2_25_is_inactive() -> None:
    """Valentini 2017: a score below 2.5 (tendon friction rubs alone, 2.25) is inactive."""
    score = INSTRUMENT.score_items({**NOTHING, "tendon_friction_rubs": True})
    assert score.value == pytest.approx(2.25)
    assert score.verdict == "inactive"


def test_bounds_below_2_5_decide_inactive() -> None:
    """domain.md §5 bounds rule: DLCO unknown, nothing else present: bounds 0-1.0, inactive either way."""
    score = INSTRUMENT.score_items({**NOTHING, "dlco_pct_pred": None})
    assert score.value is None
    assert (score.subscores["lower"], score.subscores["upper"]) == (0.0, 1.0)
    assert score.verdict == "inactive"


def test_bounds_straddling_2_5_give_no_verdict() -> None:
    """domain.md §5 bounds rule: delta-skin yes, DLCO unknown: bounds 1.5-2.5, undecided (2.5 would be active)."""
    score = INSTRUMENT.score_items({**NOTHING, "delta_skin": True, "dlco_pct_pred": None})
    assert score.value is None
    assert (score.subscores["lower"], score.subscores["upper"]) == (1.5, 2.5)
    assert score.verdict is None
    assert any("no verdict" in note for note in score.notes)


def test_all_items_missing_give_full_bounds() -> None:
    """domain.md §5 bounds rule: nothing known: bounds 0-10, no verdict, every item named."""
    result = score_eustar_ai(None, None, None, None, None, None)
    assert (result.lower, result.upper, result.verdict) == (0.0, 10.0, None)
    assert result.missing == ("delta_skin", "mrss", "digital_ulcers", "tendon_friction_rubs", "crp", "dlco_pct_pred")


# --- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ("mrss", 52),
        ("mrss", -1),
        ("mrss", "thick"),
        ("crp", -0.1),
        ("crp", 501),
        ("dlco_pct_pred", 4),
        ("dlco_pct_pred", True),
        ("delta_skin", "perhaps"),
        ("digital_ulcers", 2),
        ("tendon_friction_rubs", "x"),
    ],
)
def test_adapter_rejects_a_bad_value_naming_the_item(code: str, value: object) -> None:
    """mRSS 0-51, CRP 0-500 mg/L and DLCO 5-200 % (protocol ranges), yes/no items; errors name the item."""
    with pytest.raises(InputError) as info:
        INSTRUMENT.score_items({**NOTHING, code: value})
    assert info.value.field == code


def test_score_eustar_ai_rejects_a_non_boolean_flag() -> None:
    """score_eustar_ai takes yes/no items as booleans."""
    with pytest.raises(InputError) as info:
        score_eustar_ai("yes", 10, False, False, 1, 90)  # type: ignore[arg-type]
    assert info.value.field == "delta_skin"


def test_adapter_rejects_an_unknown_input() -> None:
    """The adapter refuses a code that is not an input (e.g. the 2003 index's ESR), naming it."""
    with pytest.raises(InputError) as info:
        INSTRUMENT.score_items({"esr": 40})
    assert info.value.field == "esr"


# --- properties ---------------------------------------------------------------------------------------

flags = st.one_of(st.none(), st.booleans())
records = st.fixed_dictionaries(
    {
        "delta_skin": flags,
        "mrss": st.one_of(st.none(), st.integers(0, 51)),
        "digital_ulcers": flags,
        "tendon_friction_rubs": flags,
        "crp": st.one_of(st.none(), st.floats(0, 500)),
        "dlco_pct_pred": st.one_of(st.none(), st.floats(5, 200)),
    }
)


@given(records)
def test_score_and_bounds_stay_in_0_to_10(record: dict[str, object]) -> None:
    """Valentini 2017: a 0-10 index; the bounds are ordered, and a verdict agrees with them."""
    score = INSTRUMENT.score_items(record)
    lower, upper = score.subscores["lower"], score.subscores["upper"]
    assert isinstance(lower, float)
    assert isinstance(upper, float)
    assert 0.0 <= lower <= upper <= 10.0
    if score.value is not None:
        assert lower == upper == score.value
        assert score.verdict == ("active" if score.value >= 2.5 else "inactive")
    if score.verdict == "active":
        assert lower >= 2.5
    if score.verdict == "inactive":
        assert upper < 2.5


ACTIVE_VALUES = {
    "delta_skin": True,
    "mrss": 30,
    "digital_ulcers": True,
    "tendon_friction_rubs": True,
    "crp": 40.0,
    "dlco_pct_pred": 50.0,
}


@given(records, st.sampled_from(list(ACTIVE_VALUES)))
def test_adding_an_active_item_never_lowers_the_score(record: dict[str, object], code: str) -> None:
    """A worse finding never gives a better score: making one item active never lowers the score or its bounds."""
    before = INSTRUMENT.score_items(record)
    after = INSTRUMENT.score_items({**record, code: ACTIVE_VALUES[code]})
    assert after.subscores["lower"] >= before.subscores["lower"]  # type: ignore[operator]
    if before.value is not None:
        assert after.value is not None
        assert after.value >= before.value
