"""Screening one candidate: every criterion of the registry record at its boundaries, in every unit.

Expected verdicts come from the registry record's thresholds (tests/data/NCT00962923.txt) and the
reading issue #2 fixes: "above"/">" and "below"/"<" are strict.
"""

from __future__ import annotations

import functools
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rodnan.core.eligibility import ScreeningVerdict, evaluate_criteria
from rodnan.core.protocol import Study, load_protocol
from rodnan.core.values import Measurement
from rodnan.core.verdict import Verdict
from rodnan.errors import InputError
from tests.candidates import LUNG_ELIGIBLE, NEUTRAL

M = Measurement


def verdict_of(study: Study, facts: dict[str, object], criterion: str) -> Verdict:
    return evaluate_criteria(study, facts).criterion(criterion).verdict


def test_neutral_candidate_is_ineligible_for_want_of_a_pathway(study: Study, neutral: dict[str, object]) -> None:
    """No pathway holds: the qualifying-pathway inclusion is not met; no exclusion holds."""
    result = evaluate_criteria(study, neutral)
    assert result.verdict is ScreeningVerdict.INELIGIBLE
    assert result.qualifying_pathways == ()
    assert result.criterion("qualifying_pathway").verdict is Verdict.NOT_MET
    assert all(c.verdict is Verdict.NOT_MET for c in result.criteria if c.kind == "exclusion")


@pytest.mark.parametrize(
    ("pathway", "changes"),
    [
        ("rapidly_progressive", {"disease_duration_months": 12, "mrss": 28, "esr": 40}),
        ("rapidly_progressive", {"disease_duration_months": 12, "mrss": 28, "hemoglobin": M(10.5, "g/dL")}),
        ("lung", {"vc_pct_pred": 65}),
        ("lung", {"fvc_pct_pred": 65}),
        ("lung", {"dlco_pct_pred": 65}),
        ("lung", {"mpap_echo": 45}),
        ("digestive", {"albumin": 22}),
        ("digestive", {"weight_loss_12m_pct": 12}),
        ("kidney", {"urine_protein_24h": 0.8}),
        ("kidney", {"creatinine": 150}),
    ],
)
def test_each_pathway_alone_makes_the_candidate_eligible(
    study: Study, neutral: dict[str, object], pathway: str, changes: dict[str, object]
) -> None:
    """One qualifying pathway suffices, and it is the only one reported."""
    result = evaluate_criteria(study, {**neutral, **changes})
    assert result.verdict is ScreeningVerdict.ELIGIBLE
    assert result.qualifying_pathways == (pathway,)
    assert "met: " + result.criterion(pathway).label + " met" in result.criterion("qualifying_pathway").reason


@pytest.mark.parametrize(
    ("item", "below", "at", "above", "criterion", "holds_above"),
    [
        # inclusion pathways: strict ">" thresholds
        ("mpap_echo", 39, 40, 41, "lung", True),
        ("weight_loss_12m_pct", 9.9, 10, 10.1, "digestive", True),
        ("urine_protein_24h", 0.49, 0.5, 0.51, "kidney", True),
        ("creatinine", 119, 120, 121, "kidney", True),
        # strict "<" thresholds
        ("vc_pct_pred", 69.9, 70, 70.1, "lung", False),
        ("fvc_pct_pred", 69.9, 70, 70.1, "lung", False),
        ("dlco_pct_pred", 69.9, 70, 70.1, "lung", False),
        ("albumin", 24.9, 25, 25.1, "digestive", False),
        # exclusions
        ("lvef", 49, 50, 51, "lvef_low", False),
        ("mpap_echo", 49, 50, 51, "mpap_high", True),
        ("dlco_pct_pred", 44, 45, 46, "dlco_very_low", False),
        ("creatinine_clearance", 19.9, 20, 20.1, "crcl_low", False),
        ("platelets", 79, 80, 81, "platelets_low", False),
    ],
)
def test_threshold_is_strict(
    study: Study, neutral: dict[str, object], item: str, below: float, at: float, above: float, criterion: str, holds_above: bool
) -> None:
    """A value equal to the threshold does not meet a strict criterion; one step past it does."""
    met_side, unmet_side = (above, below) if holds_above else (below, above)
    assert verdict_of(study, {**neutral, item: met_side}, criterion) is Verdict.MET
    assert verdict_of(study, {**neutral, item: at}, criterion) is Verdict.NOT_MET
    assert verdict_of(study, {**neutral, item: unmet_side}, criterion) is Verdict.NOT_MET


def test_mrss_20_is_not_above_20_and_21_is(study: Study, neutral: dict[str, object]) -> None:
    """'mRSS above 20': 20 does not qualify, 21 does (with duration < 24 months and ESR > 25)."""
    base = {**neutral, "disease_duration_months": 12, "esr": 40}
    assert verdict_of(study, {**base, "mrss": 20}, "rapidly_progressive") is Verdict.NOT_MET
    assert verdict_of(study, {**base, "mrss": 21}, "rapidly_progressive") is Verdict.MET


def test_rapid_progression_needs_every_part(study: Study, neutral: dict[str, object]) -> None:
    """Duration < 24 months AND mRSS > 20 AND (ESR > 25 mm/h OR Hb < 11 g/dL)."""
    base = {**neutral, "disease_duration_months": 12, "mrss": 28, "esr": 40}
    assert verdict_of(study, base, "rapidly_progressive") is Verdict.MET
    assert verdict_of(study, {**base, "disease_duration_months": 24}, "rapidly_progressive") is Verdict.NOT_MET
    assert verdict_of(study, {**base, "disease_duration_months": M(2, "a")}, "rapidly_progressive") is Verdict.NOT_MET
    assert verdict_of(study, {**base, "disease_duration_months": M(1.9, "a")}, "rapidly_progressive") is Verdict.MET
    assert verdict_of(study, {**base, "esr": 25}, "rapidly_progressive") is Verdict.NOT_MET
    assert verdict_of(study, {**base, "esr": 25, "hemoglobin": M(10.9, "g/dL")}, "rapidly_progressive") is Verdict.MET
    assert verdict_of(study, {**base, "esr": 25, "hemoglobin": M(11, "g/dL")}, "rapidly_progressive") is Verdict.NOT_MET


@pytest.mark.parametrize(
    ("item", "value", "criterion", "expected"),
    [
        # haemoglobin < 11 g/dL = 110 g/L = 6.83 mmol/L
        ("hemoglobin", M(110, "g/L"), "rapidly_progressive", Verdict.NOT_MET),
        ("hemoglobin", M(109, "g/L"), "rapidly_progressive", Verdict.MET),
        ("hemoglobin", M(10.99, "g/dL"), "rapidly_progressive", Verdict.MET),
        ("hemoglobin", M(6.9, "mmol/L"), "rapidly_progressive", Verdict.NOT_MET),  # 11.12 g/dL
        ("hemoglobin", M(6.7, "mmol/L"), "rapidly_progressive", Verdict.MET),  # 10.80 g/dL
        # albumin < 25 g/L: the record's ',25 g/L' typo read as '<'
        ("albumin", M(2.5, "g/dL"), "digestive", Verdict.NOT_MET),
        ("albumin", M(2.3, "g/dL"), "digestive", Verdict.MET),
        # creatinine > 120 umol/L (= 1.3575 mg/dL): the record's '120 mmol/L' read as umol/L
        ("creatinine", M(1.36, "mg/dL"), "kidney", Verdict.MET),  # 120.2 umol/L
        ("creatinine", M(1.35, "mg/dL"), "kidney", Verdict.NOT_MET),  # 119.3 umol/L
        ("creatinine", M(0.121, "mmol/L"), "kidney", Verdict.MET),
        ("creatinine", M(0.12, "mmol/L"), "kidney", Verdict.NOT_MET),
        # proteinuria > 0.5 g/24 h
        ("urine_protein_24h", M(500, "mg/(24.h)"), "kidney", Verdict.NOT_MET),
        ("urine_protein_24h", M(510, "mg/d"), "kidney", Verdict.MET),
        # mean PAP > 40 mmHg; 40 mmHg = 5.333 kPa
        ("mpap_echo", M(5.3, "kPa"), "lung", Verdict.NOT_MET),
        ("mpap_echo", M(5.4, "kPa"), "lung", Verdict.MET),
        # platelets < 80 000 /mm3 = 80 x 10^9/L: 80 x 10^9/L is not below
        ("platelets", M(80000, "/mm3"), "platelets_low", Verdict.NOT_MET),
        ("platelets", M(79999, "/mm3"), "platelets_low", Verdict.MET),
        ("platelets", M(80, "10*3/uL"), "platelets_low", Verdict.NOT_MET),
        ("platelets", M(79, "10*9/L"), "platelets_low", Verdict.MET),
        ("platelets", M(80000, "/uL"), "platelets_low", Verdict.NOT_MET),
        # creatinine clearance < 20 mL/min; 20 mL/min = 0.3333 mL/s = 1.2 L/h
        ("creatinine_clearance", M(1.2, "L/h"), "crcl_low", Verdict.NOT_MET),
        ("creatinine_clearance", M(0.3, "mL/s"), "crcl_low", Verdict.MET),
    ],
)
def test_thresholds_hold_in_every_accepted_unit(
    study: Study, neutral: dict[str, object], item: str, value: Measurement, criterion: str, expected: Verdict
) -> None:
    """Entered in another unit, a value is converted before the comparison."""
    facts = {**neutral, "disease_duration_months": 12, "mrss": 28, "esr": 20} if criterion == "rapidly_progressive" else neutral
    assert verdict_of(study, {**facts, item: value}, criterion) is expected


@pytest.mark.parametrize(
    ("item", "value", "criterion"),
    [
        ("uncontrolled_arrhythmia", True, "arrhythmia"),
        ("hemorrhagic_cystitis", True, "cystitis"),
        ("hiv_positive", True, "hiv"),
        ("htlv1_positive", True, "htlv1"),
        ("malignancy", True, "cancer"),
        ("pregnant", True, "pregnancy"),
        ("prosthesis", True, "prosthesis_present"),
        ("vascular_access", False, "no_vascular_access"),
        ("lvef", 45, "lvef_low"),
        ("mpap_echo", 55, "mpap_high"),
        ("dlco_pct_pred", 40, "dlco_very_low"),
        ("creatinine_clearance", 15, "crcl_low"),
        ("platelets", 60, "platelets_low"),
    ],
)
def test_each_exclusion_alone_makes_an_eligible_candidate_ineligible(
    study: Study, lung_eligible: dict[str, object], item: str, value: object, criterion: str
) -> None:
    """Every exclusion line of the record is its own criterion and excludes on its own."""
    assert evaluate_criteria(study, lung_eligible).verdict is ScreeningVerdict.ELIGIBLE
    result = evaluate_criteria(study, {**lung_eligible, item: value})
    assert result.verdict is ScreeningVerdict.INELIGIBLE
    assert [c.code for c in result.criteria if c.kind == "exclusion" and c.verdict is Verdict.MET] == [criterion]


def test_acr_criteria_not_met_is_ineligible(study: Study, lung_eligible: dict[str, object]) -> None:
    """Without the 1980 ARA classification a qualifying pathway is not enough."""
    result = evaluate_criteria(study, {**lung_eligible, "acr_1980_met": False})
    assert result.verdict is ScreeningVerdict.INELIGIBLE
    assert result.criterion("acr_1980").verdict is Verdict.NOT_MET


def test_missing_exclusion_item_leaves_the_verdict_incomplete_and_names_it(
    study: Study, lung_eligible: dict[str, object]
) -> None:
    """An unknown exclusion could still exclude: incomplete, and the item is listed."""
    facts = {k: v for k, v in lung_eligible.items() if k != "hiv_positive"}
    result = evaluate_criteria(study, facts)
    assert result.verdict is ScreeningVerdict.INCOMPLETE
    assert result.missing_items == ("hiv_positive",)
    assert result.criterion("hiv").verdict is Verdict.UNKNOWN
    assert result.criterion("hiv").reason == "unknown: HIV seropositive missing"


def test_missing_values_of_other_pathways_do_not_matter_once_one_qualifies(
    study: Study, lung_eligible: dict[str, object]
) -> None:
    """unknown or true is true: the lung pathway decides although the kidney values are missing."""
    facts = {k: v for k, v in lung_eligible.items() if k not in ("urine_protein_24h", "creatinine", "esr")}
    result = evaluate_criteria(study, facts)
    assert result.verdict is ScreeningVerdict.ELIGIBLE
    assert result.criterion("kidney").verdict is Verdict.UNKNOWN
    assert result.missing_items == ()


def test_missing_value_cannot_rescue_an_excluded_candidate(study: Study, lung_eligible: dict[str, object]) -> None:
    """unknown and false is false: a met exclusion decides whatever else is missing."""
    facts = {"acr_1980_met": True, "hiv_positive": True}
    result = evaluate_criteria(study, facts)
    assert result.verdict is ScreeningVerdict.INELIGIBLE
    assert result.missing_items == ()


def test_incomplete_lists_only_items_that_could_change_the_verdict(study: Study, neutral: dict[str, object]) -> None:
    """With every lung value missing and no other pathway, the lung items are what is missing."""
    facts = {k: v for k, v in neutral.items() if k not in ("vc_pct_pred", "fvc_pct_pred", "dlco_pct_pred", "mpap_echo")}
    result = evaluate_criteria(study, facts)
    assert result.verdict is ScreeningVerdict.INCOMPLETE
    assert result.missing_items == ("vc_pct_pred", "fvc_pct_pred", "dlco_pct_pred", "mpap_echo")


def test_empty_candidate_is_incomplete(study: Study) -> None:
    """Nothing known: every criterion unknown."""
    result = evaluate_criteria(study, {})
    assert result.verdict is ScreeningVerdict.INCOMPLETE
    assert all(c.verdict is Verdict.UNKNOWN for c in result.criteria)


def test_result_keeps_values_as_entered_and_converted(study: Study, neutral: dict[str, object]) -> None:
    """The values used are shown as entered (2.3 g/dL) and in the item's unit (23 g/L)."""
    result = evaluate_criteria(study, {**neutral, "albumin": M(2.3, "g/dL")})
    digestive = result.criterion("digestive")
    albumin = next(v for v in digestive.values if v.item == "albumin")
    assert albumin.entered == "2.3 g/dL"
    assert albumin.value == pytest.approx(23.0)
    assert albumin.display == "23 g/L"
    assert digestive.reason == "met: Serum albumin 23 g/L (entered 2.3 g/dL) < 25 g/L"


def test_reason_of_a_not_met_exclusion_names_the_value(study: Study, neutral: dict[str, object]) -> None:
    """The reason says what was measured and the threshold."""
    result = evaluate_criteria(study, {**neutral, "platelets": M(80000, "/mm3")})
    assert result.criterion("platelets_low").reason == "not met: Platelet count 80 × 10⁹/L (entered 80000 /mm³), not < 80000 /mm³"


@pytest.mark.parametrize(
    ("facts", "field", "rule"),
    [
        ({"albumn": 20}, "albumn", "is not an item of the protocol"),
        ({"albumin": "low"}, "albumin", "must be a number"),
        ({"albumin": M(2.3, "mm[Hg]")}, "albumin", "unit must convert to g/L"),
        ({"hiv_positive": "maybe"}, "hiv_positive", "must be yes/no"),
        ({"mrss": 20.5}, "mrss", "must be a whole number"),
        ({"mrss": 60}, "mrss", "plausible range 0 to 51"),
        ({"platelets": 80000}, "platelets", "plausible range 0 to 2000 × 10⁹/L"),
    ],
)
def test_bad_input_names_the_item_and_rule(study: Study, facts: dict[str, object], field: str, rule: str) -> None:
    """Bad values raise InputError naming the field and the rule, never a traceback from deep inside."""
    with pytest.raises(InputError, match=rule) as caught:
        evaluate_criteria(study, facts)
    assert caught.value.field == field


def test_boolean_spellings_are_accepted(study: Study, lung_eligible: dict[str, object]) -> None:
    """true/false, yes/no and 1/0 all work, in any case."""
    for no in (False, "no", "NO", "false", "0", 0):
        assert evaluate_criteria(study, {**lung_eligible, "hiv_positive": no}).verdict is ScreeningVerdict.ELIGIBLE
    for yes in (True, "Yes", "true", "1", 1):
        assert evaluate_criteria(study, {**lung_eligible, "hiv_positive": yes}).verdict is ScreeningVerdict.INELIGIBLE


UNIT_PAIRS = [
    # item, unit A, unit B, B per A (independent: shared/domain.md §8.3), plausible range in A, threshold in A
    ("albumin", "g/L", "g/dL", 0.1, (10, 60), 25),
    ("hemoglobin", "g/L", "g/dL", 0.1, (60, 200), 110),
    ("hemoglobin", "g/dL", "mmol/L", 0.6206, (6, 20), 11),
    ("creatinine", "umol/L", "mg/dL", 1 / 88.4, (40, 400), 120),
    ("platelets", "10*9/L", "/mm3", 1000.0, (20, 600), 80),
    ("urine_protein_24h", "g/(24.h)", "mg/(24.h)", 1000.0, (0.05, 5), 0.5),
]


@functools.cache
def _bundled() -> Study:
    return load_protocol()


@given(pair=st.sampled_from(UNIT_PAIRS), fraction=st.floats(min_value=0, max_value=1))
def test_verdicts_do_not_depend_on_the_unit_a_value_is_entered_in(pair: tuple, fraction: float) -> None:  # type: ignore[type-arg]
    """The same quantity entered in either unit of a pair gives the same verdict on every criterion
    (away from the threshold by more than the rounding of the published conversion factors)."""
    item, unit_a, unit_b, factor, (low, high), threshold = pair
    value = low + fraction * (high - low)
    assume(abs(value - threshold) > 0.01 * threshold)
    study = _bundled()
    result_a = evaluate_criteria(study, {**LUNG_ELIGIBLE, item: M(value, unit_a)})
    result_b = evaluate_criteria(study, {**LUNG_ELIGIBLE, item: M(value * factor, unit_b)})
    assert [c.verdict for c in result_a.criteria] == [c.verdict for c in result_b.criteria]


# --- reasons in the protocol's words (issue 15, finding 8) -------------------------------------------------------


def _without_labels(study: Study, text: str) -> str:
    """The text with every item and criterion label taken out (a label may hold a word that is also a code)."""
    labels = [item.label for item in study.items] + [c.definition.label for c in study.criteria]
    for label in sorted(labels, key=len, reverse=True):
        text = text.replace(label, "¦")
    return text


@pytest.mark.parametrize(
    "facts",
    [{}, NEUTRAL, LUNG_ELIGIBLE, {**LUNG_ELIGIBLE, "platelets": M(72000, "/mm3"), "hemoglobin": M(10.4, "g/dL")},
     {"age": 45, "sex": "female", "creatinine": 400, "body_weight": 55}],
    ids=["nothing", "neutral", "lung", "converted", "derived"],
)  # fmt: skip
def test_reasons_name_items_by_their_labels_never_by_their_codes(study: Study, facts: dict[str, object]) -> None:
    """Over every criterion of the bundled protocol: each item it reads appears by its label when its value decides or
    is missing, and no item or criterion code appears as a word of the reason (the codes stay in the result's fields)."""
    result = evaluate_criteria(study, facts)
    codes = [item.code for item in study.items] + [c.code for c in study.criteria]
    for criterion, compiled in zip(result.criteria, study.criteria, strict=True):
        rest = _without_labels(study, criterion.reason)
        leaked = [code for code in codes if re.search(rf"(?<![\w.]){re.escape(code)}(?![\w])", rest)]
        assert leaked == [], (criterion.code, criterion.reason)
        if not facts:  # nothing known: every item read is named, as missing
            for code in compiled.expression.item_codes:
                assert f"{study.item_by_code[code].label} missing" in criterion.reason, (criterion.code, code)
        assert criterion.item_labels == tuple(study.item_by_code[v.item].label for v in criterion.values)


def test_a_reason_reads_as_the_protocol_writes_it(study: Study, neutral: dict[str, object]) -> None:
    """Hand-written: the label, the value in the unit as printed, the threshold converted back to the unit entered."""
    facts = {**neutral, "creatinine": Measurement(1.5, "mg/dL"), "mpap_echo": 55}
    result = evaluate_criteria(study, facts)
    # 1.5 mg/dL = 15 mg/L / 113.12 g/mol = 0.132603 mmol/L = 132.603 umol/L
    assert result.criterion("kidney").reason == ("met: Serum creatinine 132.603 µmol/L (entered 1.5 mg/dL) > 120 µmol/L")
    assert result.criterion("mpap_high").reason == "met: Mean pulmonary artery pressure by echocardiography 55 mmHg > 50 mmHg"
    assert result.missing_labels == tuple(study.item_by_code[code].label for code in result.missing_items)
