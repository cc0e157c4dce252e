"""Data entry checks of one form: units, hard and soft ranges, missing items, derived scores, storage round trip.

Expected values are hand-computed from the bundled protocol's item definitions (ranges, units,
labels) and the instruments' worked examples: mRSS 26 (shared/domain.md §1), HAQ-DI 1.125 (§3.1 case A).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rodnan.core.entry import (
    ITEM_TYPES,
    TEXT_MAX_LENGTH,
    EnteredValue,
    EntryIssue,
    FormEntryResult,
    check_form_entry,
    soft_range_rule,
)
from rodnan.core.instruments import mrss
from rodnan.core.protocol import Study
from rodnan.errors import InputError

Entries = dict[str, tuple[str, str | None]]


def typed(**values: str) -> Entries:
    """Entries typed in each item's own unit."""
    return {code: (raw, None) for code, raw in values.items()}


def check(
    study: Study, form: str, entries: Mapping[str, tuple[str, str | None]], confirmed: tuple[str, ...] = ()
) -> FormEntryResult:
    return check_form_entry(study, form, entries, confirmed)


# domain.md §1 worked example: 1+2+1 +1+1 +2+2 +3+3 +3+3 +1+1 +1+1 +0+0 = 26
MRSS_AREAS = dict(
    zip([f"mrss_{code}" for code, _ in mrss.AREAS], [1, 2, 1, 1, 1, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 0, 0], strict=True)
)


# --- units and numbers ------------------------------------------------------------------------------


def test_value_in_an_accepted_unit_is_converted(study: Study) -> None:
    """Albumin 2.3 g/dL is stored as 23 g/L, flagged converted, and keeps what was typed."""
    result = check(study, "organ_function", {"albumin": ("2.3", "g/dL")})
    value = result.values["albumin"]
    assert value.value == pytest.approx(23.0)
    assert replace(value, value=23.0) == EnteredValue(
        item="albumin", type="number", raw="2.3", unit="g/dL", value=23.0, display="23 g/L", converted=True
    )
    assert result.errors == {}
    assert result.warnings == {}


def test_value_in_the_item_unit_is_not_converted(study: Study) -> None:
    """Albumin 23 with no unit, or with the item's own unit g/L, or a blank unit: 23 g/L, not converted."""
    for unit in (None, "g/L", " "):
        value = check(study, "organ_function", {"albumin": ("23", unit)}).values["albumin"]
        assert (value.value, value.converted, value.display) == (23.0, False, "23 g/L")


def test_creatinine_in_mg_dl_is_converted_with_its_molar_mass(study: Study) -> None:
    """Creatinine 1.0 mg/dL = 10 mg/L / 113.12 g/mol = 88.4 umol/L."""
    value = check(study, "organ_function", {"creatinine": ("1.0", "mg/dL")}).values["creatinine"]
    assert value.value == pytest.approx(88.40, abs=0.01)
    assert value.converted


def test_hard_range_violation_is_an_error_naming_label_and_rule(study: Study) -> None:
    """Albumin 80 g/L is above the hard maximum 70: an error, and the value is not kept."""
    result = check(study, "organ_function", {"albumin": ("80", None)})
    assert result.errors["albumin"] == EntryIssue(
        item="albumin",
        rule="must be within the plausible range 5 to 70 g/L",
        severity="error",
        message="Serum albumin: must be within the plausible range 5 to 70 g/L",
    )
    assert "albumin" not in result.values
    assert not result.ok


def test_hard_range_applies_after_conversion(study: Study) -> None:
    """Albumin 8 g/dL is 80 g/L: above the hard maximum although 8 is within 5..70."""
    assert "albumin" in check(study, "organ_function", {"albumin": ("8", "g/dL")}).errors


@pytest.mark.parametrize(
    ("raw", "rule"), [("abc", "must be a number"), ("1,5", "use a decimal point: 1.5"), ("inf", "must be a finite number")]
)
def test_non_number_is_an_error(study: Study, raw: str, rule: str) -> None:
    """Text that is not a finite number is an error naming the item's label."""
    issue = check(study, "organ_function", {"crp": (raw, None)}).errors["crp"]
    assert issue.message == f"C-reactive protein: {rule}"


@pytest.mark.parametrize(
    ("raw", "rule"), [("1.5", "must be a whole number"), ("4", "must be within the plausible range 0 to 3 ")]
)
def test_integer_items_need_whole_numbers_in_range(study: Study, raw: str, rule: str) -> None:
    """An mRSS area score of 1.5 is not a whole number; 4 is above 3."""
    issue = check(study, "mrss", typed(mrss_face=raw)).errors["mrss_face"]
    assert issue.rule.startswith(rule.strip())
    assert issue.message.startswith("mRSS area 1: Face: ")


def test_unit_that_does_not_convert_is_an_error(study: Study) -> None:
    """Albumin in mmol/L has no molar mass to convert with: an error that names the target unit."""
    issue = check(study, "organ_function", {"albumin": ("0.5", "mmol/L")}).errors["albumin"]
    assert issue.rule.startswith("unit must convert to g/L")


# --- soft range -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "unit", "warned"),
    [
        ("19.9", None, True),
        ("20", None, False),  # soft_min itself is expected
        ("55", None, False),  # soft_max itself is expected
        ("55.1", None, True),
        ("1.8", "g/dL", True),  # 18 g/L after conversion
        ("4.0", "g/dL", False),
    ],
)
def test_soft_range_boundaries(study: Study, raw: str, unit: str | None, warned: bool) -> None:
    """Albumin's expected range is 20 to 55 g/L (both included); outside it is a warning, not an error."""
    result = check(study, "organ_function", {"albumin": (raw, unit)})
    assert ("albumin" in result.warnings) is warned
    assert "albumin" in result.values
    assert result.errors == {}


def test_soft_range_warning_until_confirmed(study: Study) -> None:
    """LVEF 25 % warns (expected 30 to 80 %); confirmed, the warning moves aside and the form is ok."""
    entries = {"lvef": ("25", None)}
    warning = EntryIssue(
        item="lvef",
        rule="outside the expected range 30 to 80 %; confirm it is correct",
        severity="warning",
        message="Left ventricular ejection fraction (echocardiography): outside the expected range 30 to 80 %; "
        "confirm it is correct",
    )
    unconfirmed = check(study, "organ_function", entries)
    assert unconfirmed.warnings == {"lvef": warning}
    assert unconfirmed.confirmed_warnings == {}
    assert not unconfirmed.ok
    confirmed = check(study, "organ_function", entries, confirmed=("lvef",))
    assert confirmed.warnings == {}
    assert confirmed.confirmed_warnings == {"lvef": warning}
    assert confirmed.ok
    assert confirmed.values["lvef"].value == 25.0


def test_confirming_an_item_without_a_warning_changes_nothing(study: Study) -> None:
    """Confirming LVEF 60 % (no warning) leaves both warning lists empty."""
    result = check(study, "organ_function", {"lvef": ("60", None)}, confirmed=("lvef",))
    assert (result.warnings, result.confirmed_warnings) == ({}, {})


def test_soft_range_with_one_soft_bound_uses_the_hard_bound_on_the_other_side(study: Study) -> None:
    """Age has soft_max 75 and hard min 18: 80 years reads 'outside the expected range 18 to 75 a'."""
    result = check(study, "demographics", typed(age="80"))
    assert result.warnings["age"].rule == "outside the expected range 18 to 75 years; confirm it is correct"
    assert soft_range_rule(study.item_by_code["age"], 75) is None
    assert soft_range_rule(study.item_by_code["mrss"], 51) is None  # no soft range at all


def test_score_units_are_not_shown_in_the_rule(study: Study) -> None:
    """The SF-36 PCS range is in {score}: the rule shows bare numbers."""
    assert soft_range_rule(study.item_by_code["sf36_pcs"], 5) == "outside the expected range 10 to 75; confirm it is correct"


# --- yes/no, choices, text, dates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value", "display"), [("yes", 1.0, "yes"), ("No", 0.0, "no"), ("1", 1.0, "yes"), ("false", 0.0, "no")]
)
def test_boolean_values(study: Study, raw: str, value: float, display: str) -> None:
    """Yes/no answers are stored as 1.0 / 0.0."""
    entered = check(study, "screening", typed(hiv_positive=raw)).values["hiv_positive"]
    assert (entered.type, entered.value, entered.display) == ("boolean", value, display)


def test_choice_by_code(study: Study) -> None:
    """Sex typed as its code (any case) is stored as the code, shown with its label."""
    for raw in ("female", " FEMALE "):
        value = check(study, "demographics", typed(sex=raw)).values["sex"]
        assert (value.type, value.raw, value.value, value.display) == ("choice", raw, "female", "Female")


def test_unknown_choice_is_an_error(study: Study) -> None:
    """'woman' is not a choice of Sex; the rule lists the codes."""
    assert check(study, "demographics", typed(sex="woman")).errors["sex"].message == "Sex: must be one of female, male"


@pytest.mark.parametrize(("code", "unit"), [("sex", "kg"), ("hiv_positive", "%"), ("product_lot", "kg"), ("infusion_date", "d")])
def test_unit_on_an_item_without_unit_is_an_error(study: Study, code: str, unit: str) -> None:
    """Choice, yes/no, text and date items take no unit."""
    form = next(f.code for f in study.forms if code in f.items)
    raw = {"sex": "female", "hiv_positive": "no", "product_lot": "L1", "infusion_date": "2026-01-15"}[code]
    issue = check(study, form, {code: (raw, unit)}).errors[code]
    assert issue.rule == f"a {study.item_by_code[code].type} item takes no unit"


def test_text_is_stripped_and_limited(study: Study) -> None:
    """A lot number is stored stripped; 200 characters are accepted, 201 are an error."""
    result = check(study, "infusion", typed(product_lot="  LOT-2026-001 ", donor_code="D" * TEXT_MAX_LENGTH))
    assert result.values["product_lot"].value == "LOT-2026-001"
    assert result.values["product_lot"].raw == "  LOT-2026-001 "
    assert result.values["donor_code"].value == "D" * 200
    too_long = check(study, "infusion", typed(donor_code="D" * 201))
    assert too_long.errors["donor_code"].message == "Donor code (pseudonymous): must be at most 200 characters"


@pytest.mark.parametrize(
    "raw", ["2026-02-30", "2025-02-29", "15/01/2026", "20260115", "2026-1-15", "2026-01-15T10:00", "yesterday"]
)
def test_bad_date_is_an_error(study: Study, raw: str) -> None:
    """Only real dates written YYYY-MM-DD are accepted (2025 is not a leap year)."""
    issue = check(study, "infusion", typed(infusion_date=raw)).errors["infusion_date"]
    assert issue.message == "Date of MSC infusion: must be a date YYYY-MM-DD"


def test_good_date_is_stored_in_iso_form(study: Study) -> None:
    """2028-02-29 (a leap day) is accepted and stored as typed."""
    value = check(study, "infusion", typed(infusion_date=" 2028-02-29 ")).values["infusion_date"]
    assert (value.type, value.value, value.display) == ("date", "2028-02-29", "2028-02-29")


# --- the form as a whole --------------------------------------------------------------------------------


def test_unknown_key_is_an_error_naming_the_key(study: Study) -> None:
    """Albumin is not on the mRSS form: an error keyed and worded by the key."""
    result = check(study, "mrss", {"albumin": ("40", None), "nonsense": ("1", None)})
    assert result.errors["albumin"] == EntryIssue(
        "albumin", "not an item of form mrss", "error", "albumin: not an item of form mrss"
    )
    assert result.errors["nonsense"].message == "nonsense: not an item of form mrss"
    assert not result.ok


def test_unknown_form_is_an_input_error(study: Study) -> None:
    """A form code the protocol does not have is refused."""
    with pytest.raises(InputError) as caught:
        check(study, "vitals", {})
    assert (caught.value.field, caught.value.value) == ("form", "vitals")


def test_missing_required_items_in_form_order(study: Study) -> None:
    """Demographics with only sex: age, height, body weight and child-bearing potential are missing (blank counts as missing)."""
    result = check(study, "demographics", {"sex": ("male", None), "height": ("  ", "cm")})
    assert result.missing_required == ("age", "height", "body_weight", "childbearing_potential")
    assert result.ok
    assert not result.complete
    assert set(result.values) == {"sex"}


def test_complete_form(study: Study) -> None:
    """All five demographics in range: ok and complete, one of them converted (1.70 m = 170 cm)."""
    entries: Entries = {"sex": ("female", None), "age": ("45", None), "height": ("1.70", "m"), "body_weight": ("55", None),
                        "childbearing_potential": ("no", None)}  # fmt: skip
    result = check(study, "demographics", entries)
    assert result.complete
    assert result.values["height"].value == pytest.approx(170.0)
    assert result.derived == {}


def test_optional_items_are_not_missing(study: Study) -> None:
    """The serology form requires only its sample date (decision 0019): with it alone, it is complete."""
    result = check(study, "serology", {"sample_date": ("2026-03-02", None)})
    assert (result.missing_required, result.complete) == ((), True)
    assert check(study, "serology", {}).missing_required == ("sample_date",)


def test_error_makes_the_form_not_ok_even_if_complete_otherwise(study: Study) -> None:
    """A bad age with the rest filled: not ok, hence not complete; age is in error, not missing."""
    entries = typed(sex="female", age="17", height="165", body_weight="55", childbearing_potential="yes")
    result = check(study, "demographics", entries)
    assert set(result.errors) == {"age"}
    assert result.missing_required == ()
    assert (result.ok, result.complete) == (False, False)


# --- derived items ----------------------------------------------------------------------------------------


def test_mrss_areas_give_the_derived_total(study: Study) -> None:
    """The 17 area scores of the worked example sum to 26; the required total counts as present."""
    result = check(study, "mrss", typed(**{code: str(score) for code, score in MRSS_AREAS.items()}))
    total = result.derived["mrss"]
    assert total.value == 26.0
    assert total.derived_by == "mrss from mrss_face ... mrss_foot_l (17 items)"
    assert set(result.derived) == {"mrss"}
    assert result.missing_required == ()
    assert result.complete


def test_mrss_total_not_derivable_with_an_area_missing(study: Study) -> None:
    """Without the face score the total cannot be computed (the reason is given) and the record is incomplete: the
    form requires its 17 areas (``required: all``), not the total it computes."""
    areas = {code: str(score) for code, score in MRSS_AREAS.items() if code != "mrss_face"}
    result = check(study, "mrss", typed(**areas))
    assert result.derived["mrss"].is_missing
    assert (result.derived["mrss"].derived_by or "").startswith("not derivable by mrss")
    assert result.missing_required == ("mrss_face",)
    assert not result.complete


def test_entered_total_is_not_derived(study: Study) -> None:
    """A total typed by hand wins: it is a value, not a derived item."""
    result = check(study, "mrss", typed(**{code: str(score) for code, score in MRSS_AREAS.items()}, mrss="26"))
    assert result.derived == {}
    assert result.values["mrss"].value == 26.0


def test_total_entered_in_error_is_neither_derived_nor_missing(study: Study) -> None:
    """A total typed as 'x' is an error to fix, not replaced by the sum of the areas nor listed as missing."""
    result = check(study, "mrss", typed(**{code: str(score) for code, score in MRSS_AREAS.items()}, mrss="x"))
    assert result.errors["mrss"].message == "Modified Rodnan skin score, total: must be a number"
    assert result.derived == {}
    assert result.missing_required == ()


def test_ssc_haq_gives_haq_di(study: Study) -> None:
    """HAQ-DI worked example (domain.md §3.1 case A): category maxima 1,0,2,1,0,1,3,0, a cane raises
    Walking from 1 to 2: (1+0+2+2+0+1+3+0)/8 = 1.125."""
    answers = dict.fromkeys(
        ["haq_shampoo", "haq_stand_chair", "haq_bed", "haq_lift_cup", "haq_open_carton", "haq_climb_steps", "haq_wash_body",
         "haq_tub_bath", "haq_toilet", "haq_pick_clothing", "haq_open_jars", "haq_faucets", "haq_errands", "haq_car_in_out",
         "haq_chores"],
        "0",
    )  # fmt: skip
    answers |= {"haq_dress": "1", "haq_cut_meat": "2", "haq_walk_outdoors": "1", "haq_reach_object": "1", "haq_car_doors": "3"}
    result = check(study, "ssc_haq", typed(**answers, haq_aid_walking="yes"))
    assert result.derived["haq_di"].value == pytest.approx(1.125)
    assert set(result.derived) == {"haq_di"}


def test_sf36_form_derives_the_declared_scales(study: Study) -> None:
    """Ten physical-functioning answers 'not limited at all' (3) on form v1 give PF (30-10)/20 x 100 = 100;
    the other declared scales are listed as not derivable, with the reason."""
    answers = {f"sf36_q3{letter}": "3" for letter in "abcdefghij"}
    result = check(study, "sf36", typed(sf36_form="v1", **answers))
    declared = {"sf36_pf", "sf36_rp", "sf36_bp", "sf36_gh", "sf36_vt", "sf36_sf", "sf36_re", "sf36_mh", "sf36_pcs", "sf36_mcs"}
    assert set(result.derived) == declared
    assert result.derived["sf36_pf"].value == 100.0
    assert all(result.derived[code].is_missing for code in declared - {"sf36_pf"})
    assert "RP not computable" in (result.derived["sf36_rp"].derived_by or "")


def test_form_without_derivations_has_no_derived_items(study: Study) -> None:
    """The infusion form has no derived item."""
    assert check(study, "infusion", typed(cells_administered="6e7")).derived == {}


# --- storage round trip -------------------------------------------------------------------------------------

_VALUES: dict[str, st.SearchStrategy[float | str | None]] = {
    "number": st.none() | st.floats(allow_nan=False, allow_infinity=False),
    "integer": st.none() | st.integers(-(10**6), 10**6).map(float),
    "boolean": st.none() | st.sampled_from([0.0, 1.0]),
    "choice": st.none() | st.text(max_size=20),
    "text": st.none() | st.text(max_size=200),
    "date": st.none() | st.dates().map(lambda d: d.isoformat()),
    "partial_date": st.none() | st.tuples(st.dates(), st.sampled_from([4, 7, 10])).map(lambda p: p[0].isoformat()[: p[1]]),
    "file": st.none() | st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
}


@st.composite
def entered_values(draw: st.DrawFn) -> EnteredValue:
    kind = draw(st.sampled_from(ITEM_TYPES))
    return EnteredValue(
        item=draw(st.from_regex(r"[a-z][a-z0-9_]{0,39}", fullmatch=True)),
        type=kind,
        raw=draw(st.text(max_size=30)),
        unit=draw(st.none() | st.text(max_size=10)),
        value=draw(_VALUES[kind]),
        display=draw(st.text(max_size=30)),
        converted=draw(st.booleans()),
    )


@given(entered_values())
def test_as_json_from_json_round_trip(value: EnteredValue) -> None:
    """Any entered value survives as_json -> JSON text -> from_json unchanged."""
    assert EnteredValue.from_json(json.loads(json.dumps(value.as_json()))) == value


def test_as_json_of_a_converted_value(study: Study) -> None:
    """The stored form of albumin 2.3 g/dL, written out."""
    value = check(study, "organ_function", {"albumin": ("2.3", "g/dL")}).values["albumin"]
    assert value.as_json() == {
        "item": "albumin", "type": "number", "raw": "2.3", "unit": "g/dL",
        "value": pytest.approx(23.0), "display": "23 g/L", "converted": True,
    }  # fmt: skip


def test_from_json_reads_an_integer_value_as_float() -> None:
    """JSON written elsewhere may hold 23 rather than 23.0: it is read as a float."""
    data = {"item": "albumin", "type": "number", "raw": "23", "unit": None, "value": 23, "display": "23 g/L", "converted": False}
    value = EnteredValue.from_json(data)
    assert isinstance(value.value, float)
    assert value.value == 23.0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"item": None}, "item"),
        ({"type": "float"}, "type"),
        ({"raw": 2.3}, "raw"),
        ({"unit": 5}, "unit"),
        ({"value": "23"}, "value"),  # a number item needs a number
        ({"value": True}, "value"),
        ({"type": "text", "value": 23.0}, "value"),  # a text item needs a string
        ({"converted": "yes"}, "converted"),
        ({"display": None}, "display"),
    ],
)
def test_from_json_rejects_malformed_data(change: dict[str, object], field: str) -> None:
    """Each malformed key is an InputError naming it."""
    data: dict[str, object] = {
        "item": "albumin", "type": "number", "raw": "23", "unit": None, "value": 23.0, "display": "23 g/L", "converted": False,
    }  # fmt: skip
    with pytest.raises(InputError) as caught:
        EnteredValue.from_json({**data, **change})
    assert caught.value.field == field


# --- facts for eligibility ----------------------------------------------------------------------------------


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def test_a_stored_value_dict_is_made_once_and_refuses_changes() -> None:
    import pickle

    from rodnan.core.entry import EnteredValue, ReadOnlyDict

    value = EnteredValue("creatinine", "number", "1.2", "mg/dL", 106.08, "106.08 µmol/L", True)
    stored = value.as_json()
    assert stored is value.as_json()
    assert stored == {"item": "creatinine", "type": "number", "raw": "1.2", "unit": "mg/dL", "value": 106.08,
                      "display": "106.08 µmol/L", "converted": True}  # fmt: skip
    assert EnteredValue.from_json(stored) == value
    for change in (lambda d: d.__setitem__("raw", "9"), lambda d: d.update(raw="9"), lambda d: d.pop("raw"), lambda d: d.clear()):
        with pytest.raises(TypeError):
            change(stored)
    assert stored["raw"] == "1.2"
    copied = pickle.loads(pickle.dumps(stored))
    assert isinstance(copied, ReadOnlyDict)
    assert copied == stored
    assert dict(stored) | {"raw": "9"} == {**stored, "raw": "9"}


# --- numbers as people type them (issue 15, finding 8) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "rule"), [("10,5", "use a decimal point: 10.5"), ("0,9 mg/dL", "use a decimal point: 0.9 mg/dL")]
)
def test_a_decimal_comma_gets_the_way_to_write_it(study: Study, raw: str, rule: str) -> None:
    """ "10,5" is refused, and the error shows the number written with a decimal point."""
    issue = check(study, "organ_function", typed(creatinine=raw)).errors["creatinine"]
    assert (issue.rule, issue.message) == (rule, f"Serum creatinine: {rule}")


@pytest.mark.parametrize("raw", ["0.9 mg/dL", "0.9mg/dL", " 0.9 mg/dl ", "0.9 MG/DL"])
def test_a_number_typed_with_an_accepted_unit_is_read_in_that_unit(study: Study, raw: str) -> None:
    """Creatinine "0.9 mg/dL": 0.9 mg/dL = 9 mg/L / 113.12 g/mol = 0.0795615 mmol/L = 79.5615 µmol/L, stored exactly as
    when 0.9 is typed and mg/dL chosen in the unit selector (the unit entered kept for the audit trail)."""
    result = check(study, "organ_function", typed(creatinine=raw))
    assert result.errors == {}
    value = result.values["creatinine"]
    assert value.value == pytest.approx(9 / 113.12 * 1000, rel=1e-12)
    assert value.display == "79.5615 µmol/L"
    assert (value.raw, value.unit, value.converted) == ("0.9", "mg/dL", True)
    chosen = check(study, "organ_function", {"creatinine": ("0.9", "mg/dL")}).values["creatinine"]
    assert value == chosen


def test_a_unit_typed_with_the_selector_at_the_items_own_unit_wins(study: Study) -> None:
    """The web form sends the item's own unit when the selector was left alone: the unit typed decides."""
    value = check(study, "organ_function", {"creatinine": ("0.9 mg/dL", "umol/L")}).values["creatinine"]
    assert value.value == pytest.approx(9 / 113.12 * 1000, rel=1e-12)
    own = check(study, "organ_function", {"creatinine": ("70 µmol/L", "umol/L")}).values["creatinine"]
    assert (own.raw, own.unit, own.value, own.converted) == ("70", "umol/L", 70.0, False)
    issue = check(study, "organ_function", {"creatinine": ("0.9 mg/dL", "mmol/L")}).errors["creatinine"]
    assert issue.rule == "the unit typed (mg/dL) differs from the unit chosen (mmol/L)"


def test_a_unit_the_item_does_not_accept_is_named_with_those_it_does(study: Study) -> None:
    """g/L is a mass concentration like mg/dL, but creatinine accepts µmol/L, mg/dL and mmol/L only."""
    issue = check(study, "organ_function", typed(creatinine="0.9 g/L")).errors["creatinine"]
    assert issue.message == "Serum creatinine: g/L is not a unit this item accepts (µmol/L, mg/dL, mmol/L)"
    assert "creatinine" not in check(study, "organ_function", typed(creatinine="0.9 g/L")).values


@pytest.mark.parametrize(
    ("raw", "rule"),
    [("abc", "must be a number"), ("mg/dL", "must be a number"),
     ("1 000", "must be a number written without spaces or thousands separators"),
     ("1,000.5", "must be a number written without thousands separators, with a decimal point"),
     ("12 apples", "apples is not a unit this item accepts (µmol/L, mg/dL, mmol/L)")],
)  # fmt: skip
def test_garbage_in_a_number_field_says_what_is_wrong(study: Study, raw: str, rule: str) -> None:
    """Text that is no number, or a number with words after it, is an error naming the rule."""
    assert check(study, "organ_function", typed(creatinine=raw)).errors["creatinine"].rule == rule


def test_an_item_without_a_printed_unit_takes_none(study: Study) -> None:
    """The mRSS total is a score: "20 points" is refused, saying the item takes no unit."""
    issue = check(study, "mrss", typed(mrss="20 points")).errors["mrss"]
    assert issue.rule == "points is not a unit this item accepts (it takes no unit)"


def test_range_errors_print_the_unit_for_people(study: Study) -> None:
    """The hard range of 24-hour protein and of creatinine read in g/24 h and µmol/L, never in UCUM."""
    protein = check(study, "organ_function", typed(urine_protein_24h="50")).errors["urine_protein_24h"]
    assert protein.rule.endswith(" g/24 h")
    creatinine = check(study, "organ_function", typed(creatinine="99999")).errors["creatinine"]
    assert creatinine.rule.endswith(" µmol/L")
