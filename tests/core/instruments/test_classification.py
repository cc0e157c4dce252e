"""Classification criteria against the worked examples of shared/domain.md §6 (from the papers' rules)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rodnan.core.instruments import classification as c
from rodnan.errors import InputError

ITEMS = [item for items in c.ACR_EULAR_2013.values() for item in items]


def test_proximal_skin_thickening_alone_classifies() -> None:
    """van den Hoogen 2013: the sufficient criterion scores 9."""
    findings = dict.fromkeys(ITEMS, False) | {"skin_thickening_proximal_mcp": True}
    result = c.score_acr_eular_2013(findings)
    assert (result.score, result.classified) == (9, True)


def test_category_maxima_and_capped_antibodies() -> None:
    """domain.md §6.1: sclerodactyly 4 (puffy fingers ignored) + Raynaud 3 + two antibodies capped at 3 + ILD 2 = 12."""
    present = {"sclerodactyly", "puffy_fingers", "raynaud", "anti_scl70", "anticentromere", "ild"}
    result = c.score_acr_eular_2013({item: item in present for item in ITEMS})
    assert (result.score, result.classified) == (12, True)


def test_seven_points_do_not_classify() -> None:
    """domain.md §6.1: puffy fingers 2 + Raynaud 3 + abnormal capillaries 2 = 7 < 9."""
    present = {"puffy_fingers", "raynaud", "abnormal_nailfold_capillaries"}
    result = c.score_acr_eular_2013({item: item in present for item in ITEMS})
    assert (result.score, result.classified) == (7, False)


def test_unknown_findings_decide_only_when_they_cannot_matter() -> None:
    """Known 9 classifies whatever is unknown; 7 known with only telangiectasia unknown (max 2) stays undecided."""
    assert c.score_acr_eular_2013({"skin_thickening_proximal_mcp": True}).classified is True
    known = {
        item: item in {"puffy_fingers", "raynaud", "abnormal_nailfold_capillaries"} for item in ITEMS if item != "telangiectasia"
    }
    result = c.score_acr_eular_2013(known)
    assert result.classified is None
    assert (result.lower, result.upper) == (7, 9)
    nothing = {item: False for item in ITEMS if item != "telangiectasia"}
    assert c.score_acr_eular_2013(nothing).classified is False  # at most 2 < 9


@pytest.mark.parametrize(
    ("findings", "expected"),
    [
        ({"proximal_scleroderma": True}, True),  # major only
        (
            {
                "proximal_scleroderma": False,
                "sclerodactyly": True,
                "digital_pitting_scars": True,
                "bibasilar_pulmonary_fibrosis": False,
            },
            True,
        ),
        (
            {
                "proximal_scleroderma": False,
                "sclerodactyly": True,
                "digital_pitting_scars": False,
                "bibasilar_pulmonary_fibrosis": False,
            },
            False,
        ),
        ({"proximal_scleroderma": None, "sclerodactyly": True, "digital_pitting_scars": True}, True),  # two minors decide
        ({"proximal_scleroderma": False, "sclerodactyly": True}, None),  # one minor, two unknown
    ],
)
def test_ara_1980_examples(findings: dict[str, bool | None], expected: bool | None) -> None:
    """domain.md §6.2 examples of the 1980 rule: major, or at least 2 of 3 minors; unknown when undecided."""
    assert c.score_ara_1980(findings).classified is expected


def test_unknown_finding_names_are_errors() -> None:
    """A finding that is not an item of the criteria is refused, naming it."""
    with pytest.raises(InputError) as caught:
        c.score_ara_1980({"sclerosis": True})
    assert caught.value.field == "sclerosis"
    with pytest.raises(InputError, match="must be yes/no"):
        c.ARA_1980.score_items({"sclerodactyly": "perhaps"})


@given(findings=st.dictionaries(st.sampled_from(ITEMS), st.booleans()), item=st.sampled_from(ITEMS))
def test_a_new_finding_never_lowers_the_score(findings: dict[str, bool], item: str) -> None:
    """Monotonicity: turning a finding from absent to present never lowers the bounds or un-classifies."""
    complete = {i: findings.get(i, False) for i in ITEMS}
    before = c.score_acr_eular_2013({**complete, item: False})
    after = c.score_acr_eular_2013({**complete, item: True})
    assert after.lower >= before.lower
    assert 0 <= before.lower <= after.lower <= 9 + 4 + 3 + 2 + 2 + 2 + 3 + 3
    assert not (before.classified and not after.classified)
