"""SSc-HAQ: HAQ-DI (standard and unadjusted), the SSc VAS and the CRISS globals.

Expected values are the worked examples of shared/domain.md §3.1 (cases A-E) and §3.2 (VAS), which
follow the Stanford HAQ scoring conventions and Steen & Medsger, Arthritis Rheum 1997;40:1984-91.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rodnan.core.instruments.haq_di import (
    CATEGORIES,
    INSTRUMENT,
    ITEM_LABELS,
    VAS_SCALES,
    compute_vas_0_3,
    compute_vas_0_100,
    score_haq_di,
)
from rodnan.errors import InputError

CATEGORY_ITEMS = {code: items for code, _, items, _ in CATEGORIES}
ORDER = [code for code, *_ in CATEGORIES]  # Dressing, Arising, Eating, Walking, Hygiene, Reach, Grip, Activities


def items_with_category_scores(scores: list[int | None]) -> dict[str, int | None]:
    """Answers giving these category scores: the first item of a category carries the score, the others 0."""
    items: dict[str, int | None] = {}
    for code, score in zip(ORDER, scores, strict=True):
        for i, item in enumerate(CATEGORY_ITEMS[code]):
            items[item] = None if score is None else (score if i == 0 else 0)
    return items


# --- worked examples (domain.md §3.1) ----------------------------------------------------------------


def test_score_haq_di_case_a_cane_raises_walking_to_2() -> None:
    """domain.md §3.1 case A: 1,0,2,1+cane,0,1,3,0 gives 9/8 = 1.125; without aids 8/8 = 1.000."""
    result = score_haq_di(items_with_category_scores([1, 0, 2, 1, 0, 1, 3, 0]), aids={"walking"})
    assert result.standard == pytest.approx(1.125)
    assert result.unadjusted == pytest.approx(1.0)
    assert result.categories["walking"] == 2
    assert result.categories_unadjusted["walking"] == 1


def test_score_haq_di_case_b_help_raises_hygiene_to_2() -> None:
    """domain.md §3.1 case B: all 0 with help from another person in Hygiene gives 2/8 = 0.25."""
    result = score_haq_di(items_with_category_scores([0] * 8), helped={"hygiene"})
    assert result.standard == pytest.approx(0.25)
    assert result.unadjusted == pytest.approx(0.0)


def test_score_haq_di_case_c_wheelchair_leaves_a_3_unchanged() -> None:
    """domain.md §3.1 case C: 3,2,2,3,3,2,3,3 with a wheelchair for Walking gives 21/8 = 2.625."""
    result = score_haq_di(items_with_category_scores([3, 2, 2, 3, 3, 2, 3, 3]), aids={"walking"})
    assert result.standard == pytest.approx(2.625)
    assert result.categories["walking"] == 3


def test_score_haq_di_case_d_divides_by_the_categories_answered() -> None:
    """domain.md §3.1 case D: Grip and Activities unanswered, the other six 1: 6/6 = 1.000."""
    result = score_haq_di(items_with_category_scores([1, 1, 1, 1, 1, 1, None, None]))
    assert result.standard == pytest.approx(1.0)
    assert result.answered == 6
    assert result.missing_categories == ("grip", "activities")


def test_score_haq_di_case_e_fewer_than_6_categories_is_not_computable() -> None:
    """domain.md §3.1 case E: 3 categories unanswered: not computable (at least 6 of 8 needed)."""
    result = score_haq_di(items_with_category_scores([1, 1, 1, 1, 1, None, None, None]))
    assert result.standard is None
    assert result.unadjusted is None
    assert not result.is_computable
    assert result.missing_categories == ("reach", "grip", "activities")


def test_adapter_case_e_names_the_missing_categories_and_the_rule() -> None:
    """domain.md §3.1 case E through the adapter: the note names the 6-of-8 rule and the unanswered categories."""
    answers = {k: v for k, v in items_with_category_scores([1, 1, 1, 1, 1, None, None, None]).items() if v is not None}
    score = INSTRUMENT.score_items(answers)
    assert score.value is None
    assert "haq_reach_object" in score.missing
    assert "haq_chores" in score.missing
    assert any("at least 6" in note and "reach, grip, activities" in note for note in score.notes)


def test_score_haq_di_category_is_the_highest_item() -> None:
    """Stanford HAQ convention (domain.md §3.1 step 1): a category score is its highest item score."""
    items = items_with_category_scores([0] * 8)
    items["haq_cut_meat"], items["haq_lift_cup"], items["haq_open_carton"] = 1, 3, 2
    result = score_haq_di(items)
    assert result.categories["eating"] == 3
    assert result.standard == pytest.approx(3 / 8)


def test_score_haq_di_category_with_one_item_answered_counts_as_answered() -> None:
    """Stanford HAQ convention (domain.md §3.1 step 3): a category is answered when any of its items is."""
    items = items_with_category_scores([2] * 8)
    items["haq_shampoo"] = None
    result = score_haq_di(items)
    assert result.answered == 8
    assert result.standard == pytest.approx(2.0)


def test_score_haq_di_aid_without_an_answered_item_does_not_answer_the_category() -> None:
    """Project rule (docs/instruments/haq_di.md): an aid checked for an unanswered category does not answer it."""
    result = score_haq_di(items_with_category_scores([1, 1, 1, 1, 1, 1, None, 1]), aids={"grip"})
    assert result.categories["grip"] is None
    assert result.answered == 7
    assert result.standard == pytest.approx(1.0)


# --- VAS (domain.md §3.2) -----------------------------------------------------------------------------


def test_compute_vas_mark_at_72_mm_on_150_mm_line() -> None:
    """domain.md §3.2: 150 mm line, mark at 72 mm: 3 x 72 / 150 = 1.44 (0-100: 48.0)."""
    assert compute_vas_0_3(72, 150) == pytest.approx(1.44)
    assert compute_vas_0_100(72, 150) == pytest.approx(48.0)


def test_compute_vas_other_line_length() -> None:
    """domain.md §3.2 formula 3 x distance / length: 50 mm on a 100 mm line is 1.5 (0-100: 50)."""
    assert compute_vas_0_3(50, 100) == pytest.approx(1.5)
    assert compute_vas_0_100(50, 100) == pytest.approx(50.0)


def test_adapter_scores_every_vas_and_passes_the_globals() -> None:
    """domain.md §3.2: each VAS scored 0-3 and 0-100 on a 150 mm line; CRISS globals kept on 0-10."""
    answers: dict[str, object] = {code: 72 for code, _ in VAS_SCALES}
    answers.update(patient_global=4, physician_global=3.5)
    score = INSTRUMENT.score_items(answers)
    for code, _ in VAS_SCALES:
        assert score.subscores[code] == pytest.approx(1.44)
        assert score.subscores[f"{code}_100"] == pytest.approx(48.0)
    assert score.subscores["patient_global"] == 4.0
    assert score.subscores["physician_global"] == 3.5


def test_adapter_uses_the_given_line_length() -> None:
    """domain.md §3.2 formula with the line length as an input: 72 mm on a 100 mm line is 2.16."""
    score = INSTRUMENT.score_items({"vas_raynaud": 72, "vas_line_length": 100})
    assert score.subscores["vas_raynaud"] == pytest.approx(2.16)


# --- the adapter: variants and aids -------------------------------------------------------------------


def case_a_answers() -> dict[str, object]:
    """Case A of domain.md §3.1 as a form record."""
    answers: dict[str, object] = dict(items_with_category_scores([1, 0, 2, 1, 0, 1, 3, 0]))
    answers["haq_aid_walking"] = "yes"
    return answers


def test_adapter_standard_is_the_default() -> None:
    """domain.md §3.1 case A through the adapter: value 1.125, Walking category 2."""
    score = INSTRUMENT.score_items(case_a_answers())
    assert score.instrument == "ssc_haq"
    assert score.value == pytest.approx(1.125)
    assert score.subscores["haq_walking"] == 2.0
    assert score.subscores["haq_di_unadjusted"] == pytest.approx(1.0)
    assert score.verdict is None


def test_adapter_unadjusted_variant() -> None:
    """domain.md §3.1 case A, alternative index without aids/devices: 8/8 = 1.000."""
    score = INSTRUMENT.score_items(case_a_answers(), {"variant": "unadjusted"})
    assert score.value == pytest.approx(1.0)
    assert "alternative" in score.version


def test_adapter_help_checkbox_for_activities() -> None:
    """domain.md §3.1 table: Activities has no device but has help ("errands and chores"): 0 raised to 2."""
    answers: dict[str, object] = dict(items_with_category_scores([0] * 8))
    answers["haq_help_activities"] = True
    score = INSTRUMENT.score_items(answers)
    assert score.value == pytest.approx(0.25)


# --- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [4, -1, 1.5, "much", True])
def test_score_haq_di_rejects_a_bad_answer_naming_the_item(value: object) -> None:
    """HAQ items are whole numbers 0-3 (Fries 1980); anything else names the item."""
    with pytest.raises(InputError) as info:
        INSTRUMENT.score_items({"haq_dress": value})
    assert info.value.field == "haq_dress"


def test_score_haq_di_rejects_an_unknown_item() -> None:
    """Only the 20 items of the Stanford HAQ are accepted."""
    with pytest.raises(InputError) as info:
        score_haq_di({"haq_sing": 1})
    assert info.value.field == "haq_sing"


def test_adapter_rejects_an_unknown_input() -> None:
    """The adapter refuses a code that is not an input, naming it."""
    with pytest.raises(InputError) as info:
        INSTRUMENT.score_items({"haq_aid_activities": True})
    assert info.value.field == "haq_aid_activities"


def test_score_haq_di_rejects_an_aid_for_activities() -> None:
    """Stanford HAQ: no aid or device counts for Activities (domain.md §3.1 table)."""
    with pytest.raises(InputError) as info:
        score_haq_di({}, aids={"activities"})
    assert info.value.field == "haq_aid_activities"


def test_adapter_rejects_a_bad_aid_answer() -> None:
    """Aid and help inputs are yes/no."""
    with pytest.raises(InputError) as info:
        INSTRUMENT.score_items({"haq_aid_grip": "sometimes"})
    assert info.value.field == "haq_aid_grip"


def test_adapter_rejects_a_vas_beyond_the_line() -> None:
    """A VAS mark lies on the line: 0 to the line length (150 mm by default)."""
    with pytest.raises(InputError) as info:
        INSTRUMENT.score_items({"vas_pain": 151})
    assert info.value.field == "vas_pain"


@pytest.mark.parametrize("value", [0, -10])
def test_adapter_rejects_a_line_length_not_above_zero(value: int) -> None:
    """The line length must be a positive length in mm."""
    with pytest.raises(InputError) as info:
        INSTRUMENT.score_items({"vas_pain": 0, "vas_line_length": value})
    assert info.value.field == "vas_line_length"


@pytest.mark.parametrize("code", ["patient_global", "physician_global"])
def test_adapter_rejects_a_global_above_10(code: str) -> None:
    """CRISS globals are on 0-10 (Khanna 2016)."""
    with pytest.raises(InputError) as info:
        INSTRUMENT.score_items({code: 10.5})
    assert info.value.field == code


def test_adapter_rejects_an_unknown_variant() -> None:
    """The variant option is standard or unadjusted."""
    with pytest.raises(InputError) as info:
        INSTRUMENT.score_items({}, {"variant": "modified"})
    assert info.value.field == "variant"


# --- properties ---------------------------------------------------------------------------------------

answer = st.one_of(st.none(), st.integers(min_value=0, max_value=3))
answer_sets = st.fixed_dictionaries(dict.fromkeys(ITEM_LABELS, answer))
aid_sets = st.sets(st.sampled_from(ORDER[:-1]))
help_sets = st.sets(st.sampled_from(ORDER))


@given(answer_sets, aid_sets, help_sets)
def test_haq_di_is_within_0_and_3_and_adjustment_never_lowers_it(
    items: dict[str, int | None], aids: set[str], helped: set[str]
) -> None:
    """HAQ-DI lies in 0-3 (Fries 1980) and the aids/help adjustment only raises category scores."""
    result = score_haq_di(items, aids, helped)
    if result.standard is None or result.unadjusted is None:
        assert result.answered < 6
        return
    assert 0 <= result.unadjusted <= result.standard <= 3


@given(answer_sets, aid_sets, help_sets, st.sampled_from(list(ITEM_LABELS)), st.sampled_from(["standard", "unadjusted"]))
def test_raising_one_item_never_lowers_haq_di(
    items: dict[str, int | None], aids: set[str], helped: set[str], item: str, variant: str
) -> None:
    """A worse answer never gives a better score: raising one answered item never lowers HAQ-DI."""
    current = items[item]
    if current is None or current == 3:
        return
    worse = {**items, item: current + 1}
    before = score_haq_di(items, aids, helped).index(variant)
    after = score_haq_di(worse, aids, helped).index(variant)
    if before is None:
        assert after is None
    else:
        assert after is not None
        assert after >= before


@given(st.floats(min_value=1, max_value=300), st.floats(min_value=0, max_value=1))
def test_vas_scores_stay_in_range(length: float, fraction: float) -> None:
    """A mark on the line scores 0-3 and 0-100 (Steen & Medsger 1997)."""
    distance = min(length * fraction, length)
    assert 0 <= compute_vas_0_3(distance, length) <= 3
    assert 0 <= compute_vas_0_100(distance, length) <= 100
