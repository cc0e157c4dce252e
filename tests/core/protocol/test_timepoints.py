"""Forms with timepoints (the vital signs around the infusion) and the intervention's requirements, as loaded and as
`rodnan protocol check` refuses them (decision 0019)."""

from __future__ import annotations

import pytest

from rodnan.core.entry import check_form_entry
from rodnan.core.protocol import Study, load_protocol
from rodnan.core.protocol.model import timepoint_code
from tests.protocol_edits import broken, line_of, problems

TIMES = ("pre", "during", "end", "after_1h")
VITALS = ("systolic_bp", "diastolic_bp", "heart_rate", "body_temperature", "respiratory_rate", "spo2")


@pytest.fixture(scope="module")
def study() -> Study:
    return load_protocol()


def test_each_item_is_recorded_at_each_time_as_an_item_of_its_own(study: Study) -> None:
    """6 vital signs x 4 times = 24 items, time by time, each a copy of its item with the time in its label."""
    form = study.form_by_code["infusion_vitals"]
    assert [tp.code for tp in form.timepoints] == list(TIMES)
    assert form.timepoint_items == list(VITALS)
    assert form.items == [f"{item}__{time}" for time in TIMES for item in VITALS]
    assert timepoint_code("spo2", "end") == "spo2__end"
    item = study.item_by_code["systolic_bp__during"]
    base = study.item_by_code["systolic_bp"]
    assert item.label == "Systolic blood pressure, during the infusion (15 min after the start)"
    assert (item.unit, item.range, item.codes, item.accepted_units) == (base.unit, base.range, base.codes, base.accepted_units)
    assert item.codes[0].code == "8480-6"
    assert form.at_timepoints()[3][1][0] == "systolic_bp__after_1h"


def test_every_time_is_required_for_the_record_to_be_complete(study: Study) -> None:
    """required: all covers the 24 items: 23 entered leave the record in progress, the last one completes it."""
    form = study.form_by_code["infusion_vitals"]
    assert study.required_items(form.code) == tuple(form.items)
    typed = {code: ("98", None) for code in form.items if code.startswith("spo2")}
    typed.update({code: ("36.8", None) for code in form.items if code.startswith("body_temperature")})
    typed.update({code: ("16", None) for code in form.items if code.startswith("respiratory_rate")})
    typed.update({code: ("80", None) for code in form.items if code.startswith(("heart_rate", "diastolic_bp"))})
    typed.update({code: ("120", None) for code in form.items if code.startswith("systolic_bp")})
    assert check_form_entry(study, form.code, typed).complete
    del typed["heart_rate__end"]
    entry = check_form_entry(study, form.code, typed)
    assert entry.missing_required == ("heart_rate__end",)
    # a missing-data code answers one time, as for any item
    coded = check_form_entry(study, form.code, typed, missing={"heart_rate__end": ("not_done", "monitor disconnected")})
    assert coded.complete


def test_a_value_at_one_time_is_checked_against_its_items_range(study: Study) -> None:
    entry = check_form_entry(study, "infusion_vitals", {"body_temperature__end": ("38.6", None)})
    assert entry.warnings["body_temperature__end"].message.startswith("Body temperature, at the end of the infusion: outside")


def test_a_timepoint_listed_twice_is_refused() -> None:
    text = broken("      - {code: end, label: At the end of the infusion}\n",
                  "      - {code: during, label: At the end of the infusion}\n")  # fmt: skip
    found = problems(text)
    assert any(path.endswith("].timepoints") and "form 'infusion_vitals': timepoint 'during' is listed more than once" in rule
               for _, path, rule in found), found  # fmt: skip


def test_an_unknown_item_repeated_at_timepoints_is_refused_at_its_line() -> None:
    text = broken("    items: [systolic_bp, diastolic_bp, heart_rate, body_temperature, respiratory_rate, spo2]\n\n  # Pregnancy",
                  "    items: [systolic_bp, diastolic_pressure, heart_rate, body_temperature, respiratory_rate, spo2]\n\n"
                  "  # Pregnancy")  # fmt: skip
    found = problems(text)
    rules = [rule for _, _, rule in found]
    assert "form 'infusion_vitals' lists item 'diastolic_pressure', which is not in items" in rules
    line = next(line for line, _, rule in found if "'diastolic_pressure'" in rule)
    assert line == line_of(text, "items: [systolic_bp, diastolic_pressure")


def test_a_bad_timepoint_code_is_refused() -> None:
    text = broken("      - {code: after_1h, label:", "      - {code: After-1h, label:")
    found = problems(text)
    assert any("forms" in path and "timepoints" in path for _, path, _ in found), found


def test_a_generated_code_taken_by_another_item_is_refused() -> None:
    """An item already called spo2__end would silently stand in for 'spo2 at the end': refused instead."""
    clash = "  - {code: spo2__end, label: Something else, type: boolean}\n"
    text = broken("  # --- pregnancy ---\n", clash + "  # --- pregnancy ---\n")
    found = problems(text)
    assert any("'spo2__end' names 'spo2' at 'end', but another item already has that code" in rule for _, _, rule in found), found


def test_timepoints_on_the_intervention_form_are_refused() -> None:
    text = broken("    missing_codes: []           # recorded by the infusion step, every item given\n",
                  "    missing_codes: []\n    timepoints: [{code: pre, label: Before}]\n")  # fmt: skip
    found = problems(text)
    assert any("the intervention form 'infusion' is recorded in one step: it takes no timepoints" in rule
               for _, _, rule in found), found  # fmt: skip


# --- the intervention's requirements --------------------------------------------------------------------------------


def test_the_requirement_as_loaded(study: Study) -> None:
    [requirement] = study.intervention.requires
    assert (requirement.code, requirement.forms, requirement.date, requirement.within_days) == (
        "negative_pregnancy_test", ["pregnancy_test"], "pregnancy_test_date", 7,
    )  # fmt: skip
    assert "to be confirmed by the PI" in (requirement.within_days_source or "")
    [compiled] = study.requirements
    assert compiled.applies.item_codes == {"sex", "childbearing_potential"}


@pytest.mark.parametrize(
    ("old", "new", "path", "rule"),
    [
        (
            "      forms: [pregnancy_test]\n",
            "      forms: [pregnancy_tests]\n",
            "intervention.requires[0].forms[0]",
            "requirement 'negative_pregnancy_test' reads form 'pregnancy_tests', which is not in forms",
        ),
        (
            "      date: pregnancy_test_date\n",
            "      date: pregnancy_test_kind\n",
            "intervention.requires[0].date",
            "requirement 'negative_pregnancy_test': item 'pregnancy_test_kind' is a choice item; this role needs a date item",
        ),
        (
            '      record: pregnancy_test_result == "negative"\n',
            '      record: pregnancy_test_result == "negatve"\n',
            "intervention.requires[0].record",
            "requirement 'negative_pregnancy_test': ",
        ),
        (
            '      record: pregnancy_test_result == "negative"\n',
            "      record: not pregnant\n",
            "intervention.requires[0].record",
            "requirement 'negative_pregnancy_test' reads item 'pregnant', which is not on its form(s) pregnancy_test",
        ),
        (
            '      applies: sex == "female" and childbearing_potential',
            '      applies: sex == "female" and fertile',
            "intervention.requires[0].applies",
            "requirement 'negative_pregnancy_test': ",
        ),
        (
            "      within_days: 7\n",
            "      within_days: -1\n",
            "intervention.requires.0.within_days",
            "greater than or equal to 0",
        ),
        (
            "    - code: negative_pregnancy_test\n",
            "    - code: lab_sample_in_window\n",
            "intervention.requires[0].code",
            "requirement code 'lab_sample_in_window' is already the code of a check or a general rule",
        ),
    ],
)
def test_a_bad_requirement_gets_a_named_error(old: str, new: str, path: str, rule: str) -> None:
    """Each broken part of the requirement is reported with its path and what is wrong."""
    found = problems(broken(old, new))
    assert any(p.replace(".0.", "[0].").startswith(path.replace(".0.", "[0].")) and rule in r for _, p, r in found), found
