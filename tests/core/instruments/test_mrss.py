"""mRSS: totals, missing areas, range errors and the EUSTAR change classification."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rodnan.core.instruments import mrss
from rodnan.errors import InputError

CODES = [code for code, _ in mrss.AREAS]
# shared/domain.md §1 worked example (hand-computed): total 26
EXAMPLE = dict(zip(CODES, [1, 2, 1, 1, 1, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 0, 0], strict=True))


def test_score_mrss_worked_example_totals_26() -> None:
    """domain.md §1 (hand-computed): face 1, chest 2, abdomen 1, arms 1/1, forearms 2/2, hands 3/3, fingers 3/3,
    thighs 1/1, legs 1/1, feet 0/0 = 26."""
    assert mrss.score_mrss(EXAMPLE).total == 26


def test_score_mrss_extremes() -> None:
    """All 0 is 0 and all 3 is 51 (17 areas x 3, Clements 1993)."""
    assert mrss.score_mrss(dict.fromkeys(CODES, 0)).total == 0
    assert mrss.score_mrss(dict.fromkeys(CODES, 3)).total == 51


def test_score_mrss_missing_area_is_not_computable_and_named() -> None:
    """No imputation: one missing area leaves the total not computable, naming the area."""
    result = mrss.score_mrss({**EXAMPLE, "foot_l": None})
    assert result.total is None
    assert result.missing == ("foot_l",)
    score = mrss.INSTRUMENT.score_items({f"mrss_{k}": v for k, v in EXAMPLE.items() if k != "face"})
    assert score.value is None
    assert score.missing == ("mrss_face",)
    assert "1 of 17 areas missing (face)" in score.notes[0]


@pytest.mark.parametrize("bad", [4, -1, 1.5, "two", True])
def test_score_mrss_rejects_a_value_outside_0_to_3_naming_the_area(bad: object) -> None:
    """An out-of-range or non-integer score is an error naming the area."""
    with pytest.raises(InputError) as caught:
        mrss.score_mrss({**EXAMPLE, "hand_r": bad})  # type: ignore[dict-item]
    assert caught.value.field == "hand_r"


@pytest.mark.parametrize(
    ("baseline", "follow_up", "expected"),
    [
        (26, 20, "stable"),  # -6 points but 6/26 = 23 % < 25 %
        (24, 18, "improvement"),  # -6 points, -25 %: both conditions (Dobrota 2016)
        (26, 21, "stable"),  # -5 points: not more than 5
        (20, 14, "improvement"),  # -6, -30 %
        (30, 24, "stable"),  # -6 points but -20 %
        (20, 26, "progression"),  # +6, +30 %
        (0, 6, "progression"),  # +6 from 0
    ],
)
def test_classify_mrss_change_follows_eustar(baseline: int, follow_up: int, expected: str) -> None:
    """EUSTAR (Dobrota 2016): change > 5 points AND >= 25 % of baseline; decrease improves, increase progresses."""
    assert mrss.classify_mrss_change(baseline, follow_up) == expected


@given(scores=st.lists(st.integers(0, 3), min_size=17, max_size=17), area=st.sampled_from(CODES))
def test_total_is_in_range_and_monotone(scores: list[int], area: str) -> None:
    """The total lies in 0-51 and never falls when one area's score rises."""
    base = dict(zip(CODES, scores, strict=True))
    total = mrss.score_mrss(base).total
    assert total is not None
    assert 0 <= total <= 51
    if base[area] < 3:
        higher = mrss.score_mrss({**base, area: base[area] + 1}).total
        assert higher == total + 1
