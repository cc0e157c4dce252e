"""Derived items: computed when not measured, measured values win, and verdicts say which was used."""

from __future__ import annotations

import io

import numpy as np
import pytest

from rodnan.core.eligibility import ScreeningVerdict, evaluate_criteria
from rodnan.core.instruments import mrss
from rodnan.core.protocol import Study, bundled_protocol_path, load_protocol_text
from rodnan.core.screening import frame_of, results_of, screen_csv
from rodnan.core.values import Measurement
from rodnan.core.verdict import Verdict
from rodnan.errors import ProtocolError
from tests.candidates import LUNG_ELIGIBLE

# Cockcroft & Gault 1976, hand-computed (shared/domain.md §8.1): a woman of 45 years, 55 kg,
# creatinine 120 umol/L has a clearance of 45.44 mL/min; at 400 umol/L, 13.63 mL/min (< 20).
DEMOGRAPHICS = {"age": 45, "body_weight": 55, "sex": "female"}


def _without(facts: dict[str, object], *codes: str) -> dict[str, object]:
    return {k: v for k, v in facts.items() if k not in codes}


def test_clearance_is_derived_by_cockcroft_gault_when_not_measured(study: Study) -> None:
    """Without a measured clearance, the exclusion uses Cockcroft-Gault and says so."""
    facts = {**_without(LUNG_ELIGIBLE, "creatinine_clearance"), **DEMOGRAPHICS, "creatinine": 400}
    result = evaluate_criteria(study, facts)
    crcl = result.criterion("crcl_low")
    assert crcl.verdict is Verdict.MET
    value = next(v for v in crcl.values if v.item == "creatinine_clearance")
    assert value.value == pytest.approx(13.63, abs=0.01)  # (95*55)/(72*4.5249)*0.85
    assert value.derived_by == "cockcroft_gault from age, body_weight, creatinine, sex"
    how = "computed by Creatinine clearance, Cockcroft-Gault (mL/min) from Age at screening, Body weight, Serum creatinine, Sex"
    assert f"({how})" in crcl.reason


def test_measured_value_wins_over_derived(study: Study) -> None:
    """A measured clearance of 60 mL/min is used even though Cockcroft-Gault would give 13.6."""
    facts = {**LUNG_ELIGIBLE, **DEMOGRAPHICS, "creatinine": 400, "creatinine_clearance": 60}
    crcl = evaluate_criteria(study, facts).criterion("crcl_low")
    assert crcl.verdict is Verdict.NOT_MET
    value = next(v for v in crcl.values if v.item == "creatinine_clearance")
    assert (value.value, value.derived_by) == (60, None)


def test_not_derivable_item_stays_missing_with_the_reason(study: Study) -> None:
    """Without the weight, the clearance cannot be derived: unknown, and the reason names the missing input."""
    facts = {**_without(LUNG_ELIGIBLE, "creatinine_clearance"), "age": 45, "sex": "female"}
    result = evaluate_criteria(study, facts)
    assert result.verdict is ScreeningVerdict.INCOMPLETE
    assert "creatinine_clearance" in result.missing_items
    reason = result.criterion("crcl_low").reason
    why = "cannot be computed by Creatinine clearance, Cockcroft-Gault (mL/min): Body weight missing"
    assert f"Creatinine clearance missing ({why})" in reason


def test_mrss_total_and_acr_criteria_are_derived_from_their_parts(study: Study) -> None:
    """mRSS from the 17 areas (domain.md §1 example: 26 > 20) and ACR 1980 from two minor criteria (§6.2)."""
    areas = dict(
        zip(
            [f"mrss_{code}" for code, _ in mrss.AREAS],
            [1, 2, 1, 1, 1, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 0, 0],
            strict=True,
        )
    )  # fmt: skip
    facts = {**_without(LUNG_ELIGIBLE, "mrss", "acr_1980_met"), **areas, "disease_duration_months": 12, "esr": 40}
    facts |= {"ara_proximal_scleroderma": False, "ara_sclerodactyly": True, "ara_pitting_scars": True}
    result = evaluate_criteria(study, facts)
    assert result.criterion("rapidly_progressive").verdict is Verdict.MET
    reason = result.criterion("rapidly_progressive").reason
    assert "Modified Rodnan skin score, total 26 (computed by Modified Rodnan skin score from " in reason
    assert result.criterion("acr_1980").verdict is Verdict.MET


def test_weight_loss_is_derived_from_two_weights(study: Study) -> None:
    """60 kg a year ago, 53 kg now: 11.7 % > 10 % (domain.md §8.3): the digestive pathway qualifies."""
    facts = {**_without(LUNG_ELIGIBLE, "weight_loss_12m_pct"), "body_weight_12m_before": 60, "body_weight": Measurement(53, "kg")}
    assert evaluate_criteria(study, facts).criterion("digestive").verdict is Verdict.MET


def test_bulk_derivation_equals_single_candidate_derivation(study: Study) -> None:
    """Column derivation (vectorised Cockcroft-Gault, mRSS, weight loss, ARA) gives evaluate_criteria's verdicts."""
    rng = np.random.default_rng(5)
    codes = [
        "subject_id",
        "sex",
        "age",
        "body_weight",
        "creatinine",
        "body_weight_12m_before",
        "ara_sclerodactyly",
        "ara_pitting_scars",
    ]
    base = _without(LUNG_ELIGIBLE, "creatinine_clearance", "weight_loss_12m_pct", "acr_1980_met", "creatinine")
    lines = [",".join(codes + list(base))]
    candidates = []
    for i in range(120):
        row = {
            "sex": rng.choice(["female", "male", ""]),
            "age": rng.integers(20, 80),
            "body_weight": rng.integers(40, 90),
            "creatinine": rng.choice([60, 150, 300, 500, 700, ""]),
            "body_weight_12m_before": rng.choice([45, 60, 80, 100, ""]),
            "ara_sclerodactyly": rng.choice(["yes", "no", ""]),
            "ara_pitting_scars": rng.choice(["yes", "no", ""]),
        }
        lines.append(",".join([f"S{i}", *[str(row[c]) for c in codes[1:]], *[str(v).lower() for v in base.values()]]))
        candidates.append({**base, **{k: v for k, v in row.items() if v != ""}})
    [(screened, issues)] = list(screen_csv(study, io.StringIO("\n".join(lines) + "\n")))
    assert issues == []
    rows = frame_of(study, screened).to_dict("records")
    reasons = dict(results_of(study, screened))
    for i, (facts, row) in enumerate(zip(candidates, rows, strict=True)):
        expected = evaluate_criteria(study, facts)
        assert row["verdict"] == expected.verdict.value
        for criterion in expected.criteria:
            assert row[criterion.code] == criterion.verdict.value
            assert reasons[f"S{i}"].criterion(criterion.code).reason == criterion.reason
    assert {r["crcl_low"] for r in rows} >= {"met", "not_met", "unknown"}


def _broken(old: str, new: str) -> str:
    text = bundled_protocol_path().read_text(encoding="utf-8")
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "path", "rule"),
    [
        (
            "instrument: cockcroft_gault",
            "instrument: cockroft_gault",
            "derived_items[3].instrument",
            "unknown instrument 'cockroft_gault'",
        ),
        (
            "inputs: {age: age, weight: body_weight",
            "inputs: {years: age, weight: body_weight",
            "derived_items[3].inputs.years",
            "not an input",
        ),
        (
            "creatinine: creatinine, sex: sex}",
            "creatinine: albumin, sex: sex}",
            "derived_items[3].inputs.creatinine",
            "does not convert to umol/L",
        ),
        (
            "creatinine: creatinine, sex: sex}",
            "creatinine: creatinine, sex: pregnant}",
            "derived_items[3].inputs.sex",
            "needs a choice item",
        ),
        (
            "outputs: {value: creatinine_clearance}",
            "outputs: {value: product_lot}",
            "derived_items[3].outputs.value",
            "only number and yes/no",
        ),
    ],
)
def test_derived_item_problems_are_reported_with_path(old: str, new: str, path: str, rule: str) -> None:
    """A derived item naming an unknown instrument, input, or an item that does not fit is a load-time error."""
    with pytest.raises(ProtocolError) as caught:
        load_protocol_text(_broken(old, new))
    assert [(p.dotted_path, rule in p.rule) for p in caught.value.problems] == [(path, True)]


# SF36HealthSurvey.jl test/runtests.jl input (questionnaire order); expected v1 PCS 44.4027962318693,
# MCS 32.31104541346562 (the package's own expectations, tolerance 1e-6).
JULIA = [1, 2, 3, 2, 3, 2, 3, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 3, 3, 2, 3, 2, 1, 2, 1, 2, 1, 2, 3, 2, 1, 1, 2, 3]
QUESTIONS = [
    "q1",
    "q2",
    *[f"q3{c}" for c in "abcdefghij"],
    *[f"q4{c}" for c in "abcd"],
    *[f"q5{c}" for c in "abc"],
    "q6",
    "q7",
    "q8",
]
QUESTIONS += [*[f"q9{c}" for c in "abcdefghi"], "q10", *[f"q11{c}" for c in "abcd"]]


def test_sf36_scores_are_derived_with_the_form_read_from_the_record(study: Study) -> None:
    """The protocol derives PCS/MCS from the 36 answers with the form the record states (v1 here)."""
    from rodnan.core.derivation import derive_items
    from rodnan.core.eligibility import normalize_facts

    facts: dict[str, object] = {f"sf36_{q}": a for q, a in zip(QUESTIONS, JULIA, strict=True)}
    values = derive_items(study, normalize_facts(study, {**facts, "sf36_form": "v1"}))
    assert values["sf36_pcs"].value == pytest.approx(44.4027962318693, abs=1e-6)
    assert values["sf36_mcs"].value == pytest.approx(32.31104541346562, abs=1e-6)
    assert values["sf36_pcs"].derived_by == "sf36 from sf36_q1 ... sf36_q11d (36 items)"
    without_form = derive_items(study, normalize_facts(study, facts))
    assert without_form["sf36_pcs"].value is None
    assert without_form["sf36_pcs"].derived_by == "not derivable by sf36: sf36_form missing"


def test_option_item_must_be_a_choice_of_option_values() -> None:
    """option_items naming a non-choice item is a load-time error."""
    with pytest.raises(ProtocolError) as caught:
        load_protocol_text(_broken("option_items: {form: sf36_form}", "option_items: {form: sex}"))
    [problem] = caught.value.problems
    assert problem.dotted_path.startswith("derived_items[")
    assert problem.dotted_path.endswith("].option_items.form")


def test_fvc_percent_predicted_is_derived_with_the_protocol_equation(study: Study) -> None:
    """GLI-2012 North-East Asian, woman 45 y 160 cm, FVC 2.5 L: 74.38 % (domain.md §7.2, matched by rspiro and
    pyspiro), below 70 %? no; the lung pathway then depends on the other values."""
    facts = {**_without(LUNG_ELIGIBLE, "fvc_pct_pred"), "fvc_l": 2.5, "age": 45, "sex": "female", "height": 160}
    lung = evaluate_criteria(study, facts).criterion("lung")
    value = next(v for v in lung.values if v.item == "fvc_pct_pred")
    assert value.value == pytest.approx(74.38, abs=0.01)
    assert value.derived_by == "lung from fvc_l, age, sex, height"


def test_haq_di_is_derived_from_the_answers(study: Study) -> None:
    """domain.md §3.1 case A: category maxima 1, 0, 2, 1 (+ cane: 2), 0, 1, 3, 0 -> 9 / 8 = 1.125."""
    from rodnan.core.derivation import derive_items
    from rodnan.core.eligibility import normalize_facts

    answers = {
        "haq_dress": 1, "haq_shampoo": 0, "haq_stand_chair": 0, "haq_bed": 0, "haq_cut_meat": 2, "haq_lift_cup": 1,
        "haq_open_carton": 0, "haq_walk_outdoors": 1, "haq_climb_steps": 0, "haq_wash_body": 0, "haq_tub_bath": 0,
        "haq_toilet": 0, "haq_reach_object": 1, "haq_pick_clothing": 0, "haq_car_doors": 3, "haq_open_jars": 0,
        "haq_faucets": 0, "haq_errands": 0, "haq_car_in_out": 0, "haq_chores": 0, "haq_aid_walking": True,
    }  # fmt: skip
    values = derive_items(study, normalize_facts(study, answers))
    assert values["haq_di"].value == pytest.approx(1.125)


def test_bulk_lung_derivation_skips_rows_without_the_raw_value(study: Study) -> None:
    """Rows lacking fvc_l are not derived (a required input), rows with it are; both agree with evaluate_criteria."""
    base = _without(LUNG_ELIGIBLE, "fvc_pct_pred", "dlco_pct_pred")
    header = ["subject_id", "age", "sex", "height", "fvc_l", *base]
    rows = [["A", "45", "female", "160", "2.5"], ["B", "45", "female", "160", ""], ["C", "35", "male", "172", "3.2"]]
    text = "\n".join([",".join(header), *[",".join(r + [str(v).lower() for v in base.values()]) for r in rows]]) + "\n"
    [(screened, issues)] = list(screen_csv(study, io.StringIO(text)))
    assert issues == []
    frame = frame_of(study, screened).set_index("subject_id")
    reasons = dict(results_of(study, screened))
    for row in rows:
        facts = {**base, "age": row[1], "sex": row[2], "height": row[3]} | ({"fvc_l": row[4]} if row[4] else {})
        expected = evaluate_criteria(study, facts)
        assert frame.loc[row[0], "lung"] == expected.criterion("lung").verdict.value
        assert reasons[row[0]].criterion("lung").reason == expected.criterion("lung").reason
    assert frame.loc["C", "lung"] == "met"  # 67.45 % predicted (domain.md §7.2, NE Asian man)
