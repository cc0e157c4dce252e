"""Issue 15, findings 3-5: answers checked against the chosen SF-36 version, completeness from the required items
and the record states, missing-data codes (answered for completeness, missing for scoring), clearing with a reason."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from rodnan.core import audit_replay
from rodnan.core.entry import EnteredValue, answer_labels, check_form_entry
from rodnan.core.instruments import haq_di
from rodnan.core.protocol import Study, load_protocol
from rodnan.core.protocol.load import bundled_protocol_path, load_protocol_text
from rodnan.core.records import record_plans, subject_plans
from rodnan.core.records.completeness import outstanding_forms, visit_complete
from rodnan.core.records.course import Course
from rodnan.core.records.errors import EntryRejectedError
from rodnan.core.records.states import RecordStatus
from rodnan.core.schedule import VisitState, plan_screening, visit_state
from rodnan.errors import ProtocolError

TODAY = dt.date(2026, 12, 1)
SCREENED = dt.date(2026, 11, 20)

# domain.md §1 worked example (sums to 26), in the protocol's area order
MRSS = dict(zip(
    ["mrss_face", "mrss_chest", "mrss_abdomen", "mrss_upper_arm_r", "mrss_upper_arm_l", "mrss_forearm_r", "mrss_forearm_l",
     "mrss_hand_r", "mrss_hand_l", "mrss_fingers_r", "mrss_fingers_l", "mrss_thigh_r", "mrss_thigh_l", "mrss_lower_leg_r",
     "mrss_lower_leg_l", "mrss_foot_r", "mrss_foot_l"],
    [1, 2, 1, 1, 1, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 0, 0], strict=True))  # fmt: skip

# 20 HAQ answers by hand; categories (max of their items): dressing 1, arising 2, eating 1, walking 3, hygiene 1,
# reach 2, grip 1, activities 3 -> HAQ-DI 14 / 8 = 1.75 (no aids, no help)
HAQ = {
    "haq_dress": 0, "haq_shampoo": 1, "haq_stand_chair": 0, "haq_bed": 2, "haq_cut_meat": 1, "haq_lift_cup": 0,
    "haq_open_carton": 1, "haq_walk_outdoors": 2, "haq_climb_steps": 3, "haq_wash_body": 0, "haq_tub_bath": 1,
    "haq_toilet": 0, "haq_reach_object": 1, "haq_pick_clothing": 2, "haq_car_doors": 0, "haq_open_jars": 1,
    "haq_faucets": 0, "haq_errands": 3, "haq_car_in_out": 1, "haq_chores": 2,
}  # fmt: skip


@pytest.fixture(scope="module")
def study() -> Study:
    return load_protocol(bundled_protocol_path())


def typed(values: dict[str, object]) -> dict[str, tuple[str, str | None]]:
    return {code: (str(value), None) for code, value in values.items()}


def _screening() -> tuple[Study, Course]:
    study = load_protocol(bundled_protocol_path())
    return study, Course(study.protocol.version).apply(subject_plans.plan_open_screening(study, "NJDT", 3, SCREENED, TODAY))


def _save(study: Study, course: Course, form: str, entries: dict[str, tuple[str, str | None]], **kwargs: object) -> Course:
    record = course.records[("SCR", form, 0)]
    assert course.subject is not None
    plan = record_plans.plan_save_record(study, course.subject, record, entries, today=TODAY, expected_version=record.version,
                                         visit=course.visits["SCR"], visit_date=SCREENED, **kwargs)  # type: ignore[arg-type]  # fmt: skip
    return course.apply(plan)


# --- finding 3: answers of the chosen version ------------------------------------------------------------------------


def test_sf36_v1_with_q4a_5_is_refused_naming_the_item_and_the_version_rule(study: Study) -> None:
    study_, course = _screening()
    with pytest.raises(EntryRejectedError) as caught:
        _save(study_, course, "sf36", typed({"sf36_form": "v1", "sf36_q1": 2, "sf36_q4a": 5}))
    issue = caught.value.entry.errors["sf36_q4a"]
    assert issue.rule == "must be 1 to 2 on SF-36 version 1, standard recall (v1): 1 Yes, 2 No"
    assert issue.message.startswith("Q4a Physical health")
    assert set(caught.value.entry.errors) == {"sf36_q4a"}
    assert course.records[("SCR", "sf36", 0)].version == 0  # nothing saved


def test_sf36_answers_fit_the_version_chosen(study: Study) -> None:
    """5 is a v2 answer to Q4a; 6 a v1 answer to Q9a (v1 has 'a good bit of the time') but not a v2 one."""
    assert check_form_entry(study, "sf36", typed({"sf36_form": "v2", "sf36_q4a": 5, "sf36_q9a": 5})).errors == {}
    assert check_form_entry(study, "sf36", typed({"sf36_form": "v1", "sf36_q4a": 2, "sf36_q9a": 6})).errors == {}
    refused = check_form_entry(study, "sf36", typed({"sf36_form": "v2", "sf36_q9a": 6}))
    assert refused.errors["sf36_q9a"].rule.startswith("must be 1 to 5 on SF-36v2, standard recall (v2)")


def test_v1_and_v2_answer_labels_are_each_versions_own(study: Study) -> None:
    q4a, q9a = study.item_by_code["sf36_q4a"], study.item_by_code["sf36_q9a"]
    assert answer_labels(study, q4a, "v1") == {1: "Yes", 2: "No"}
    assert answer_labels(study, q4a, "v2") == {
        1: "All of the time",
        2: "Most of the time",
        3: "Some of the time",
        4: "A little of the time",
        5: "None of the time",
    }
    assert answer_labels(study, q9a, "v1")[3] == "A good bit of the time"
    assert "A good bit of the time" not in answer_labels(study, q9a, "v2").values()  # type: ignore[union-attr]
    assert q4a.description is None or "v1" not in q4a.description  # no mixed wording left in the help text
    # no version chosen yet: each label says its version
    assert answer_labels(study, q4a, None) == {
        1: "Yes (v1) · All of the time (v2)", 2: "No (v1) · Most of the time (v2)", 3: "Some of the time (v2)",
        4: "A little of the time (v2)", 5: "None of the time (v2)",
    }  # fmt: skip


# --- finding 4: complete means every required item answered -------------------------------------------------------------


def test_sf36_with_2_of_36_answered_is_not_complete(study: Study) -> None:
    study_, course = _screening()
    course = _save(study_, course, "sf36", typed({"sf36_form": "v2", "sf36_q1": 2, "sf36_q2": 3}))
    record = course.records[("SCR", "sf36", 0)]
    assert record.state.status is RecordStatus.IN_PROGRESS
    assert len(check_form_entry(study, "sf36", typed({"sf36_form": "v2", "sf36_q1": 2, "sf36_q2": 3})).missing_required) == 34


def test_haq_with_10_of_20_is_not_complete_and_with_20_it_is(study: Study) -> None:
    ten = dict(list(HAQ.items())[:10])
    assert not check_form_entry(study, "ssc_haq", typed(ten)).complete
    assert check_form_entry(study, "ssc_haq", typed(ten)).missing_required == tuple(list(HAQ)[10:])
    assert check_form_entry(study, "ssc_haq", typed(HAQ)).complete  # aids, help and VAS may stay blank


def test_screening_visit_is_not_done_with_2_of_its_10_forms() -> None:
    """Issue 15 finding 4 (then 2 of 9 forms; the vital signs made them 10)."""
    study, course = _screening()
    demographics = {"sex": "female", "age": 40, "height": 165, "body_weight": 60, "childbearing_potential": "yes"}
    course = _save(study, course, "demographics", typed(demographics))
    course = _save(study, course, "mrss", typed(MRSS))
    forms = study.visit_by_code["SCR"].forms
    assert len(forms) == 10
    statuses = {form: course.records[("SCR", form, 0)].state.status for form in forms}
    assert [f for f in forms if statuses[f] is RecordStatus.COMPLETE] == ["demographics", "mrss"]
    assert not visit_complete(forms, statuses)
    assert len(outstanding_forms(forms, statuses)) == 8
    visit = course.visits["SCR"]
    assert visit.done_on == SCREENED  # it took place...
    planned = plan_screening(study, SCREENED)
    assert visit_state(planned, TODAY, visit.done_on, False, visit_complete(forms, statuses)) is VisitState.INCOMPLETE
    # ...and is done once every form is complete or not done
    settled = dict.fromkeys(forms, RecordStatus.NOT_DONE) | {"demographics": RecordStatus.COMPLETE}
    assert visit_state(planned, TODAY, visit.done_on, False, visit_complete(forms, settled)) is VisitState.DONE


# --- finding 5: missing-data codes -------------------------------------------------------------------------------------


def test_a_missing_code_on_a_lab_item_is_answered_audited_and_kept(study: Study) -> None:
    study_, course = _screening()
    labs = {"vc_pct_pred": 80, "fvc_pct_pred": 78, "dlco_pct_pred": 60, "creatinine": 70, "body_weight": 60}
    entries = typed(labs)
    assert check_form_entry(study, "organ_function", entries).missing_required == ("sample_date", "albumin")
    entries["sample_date"] = (SCREENED.isoformat(), None)  # required since the simulator writes it (decision 0019)
    assert check_form_entry(study, "organ_function", entries).missing_required == ("albumin",)
    course = _save(study_, course, "organ_function", entries, missing={"albumin": ("not_done", "sample haemolysed")})
    record = course.records[("SCR", "organ_function", 0)]
    assert record.state.status is RecordStatus.COMPLETE
    stored = record.values["albumin"]
    assert (stored["missing"], stored["missing_reason"], stored["value"], stored["raw"]) == (
        "not_done",
        "sample haemolysed",
        None,
        "",
    )
    assert stored["display"] == "Not done (ND)"
    save = next(a for a in course.audit if a.action == "record.save" and a.record == record.key)
    delta = next(d for d in save.items if d.field == "albumin")
    assert (delta.old, json.loads(json.dumps(delta.new))["missing"]) == (None, "not_done")
    assert EnteredValue.from_json(json.loads(json.dumps(stored))).missing == "not_done"  # round trip through JSON
    assert audit_replay.shown(stored) == "Not done (ND) [not_done: sample haemolysed]"  # as a replay difference names it
    assert record_plans.shown(stored) == "Not done (ND): sample haemolysed"  # as the audit page shows it


def test_a_value_stored_before_missing_codes_keeps_its_exact_json(study: Study) -> None:
    entry = check_form_entry(study, "organ_function", typed({"albumin": 38}))
    assert set(entry.values["albumin"].as_json()) == {"item", "type", "raw", "unit", "value", "display", "converted"}


def test_missing_code_rules_are_named(study: Study) -> None:
    refused = check_form_entry(
        study, "mrss", typed({"mrss_face": 1}),
        missing={"mrss_face": ("not_assessed", "x"), "mrss_chest": ("unknown", ""), "mrss_abdomen": ("not_done", "")},
    )  # fmt: skip
    assert refused.errors["mrss_face"].rule == "give either a value or a missing-data code, not both"
    assert (
        refused.errors["mrss_chest"].rule == "missing-data code 'unknown' is not allowed here (allowed: not_assessed, not_done)"
    )
    assert refused.errors["mrss_abdomen"].rule == "not done needs a reason"
    assert check_form_entry(study, "infusion", {}, missing={"product_lot": ("unknown", "")}).errors["product_lot"].rule == (
        "takes no missing-data code: enter a value"
    )


def test_an_mrss_area_not_assessed_completes_the_record_and_leaves_the_total_not_computable(study: Study) -> None:
    """mRSS (Clements 1993) sums all 17 areas: one area not assessed makes the total missing, never a guess."""
    areas = {k: v for k, v in MRSS.items() if k != "mrss_forearm_l"}
    entry = check_form_entry(study, "mrss", typed(areas), missing={"mrss_forearm_l": ("not_assessed", "dressing")})
    assert entry.complete
    assert entry.derived["mrss"].is_missing
    assert "mrss_forearm_l" not in [v for v in entry.values if entry.values[v].value is not None]
    assert check_form_entry(study, "mrss", typed(MRSS)).derived["mrss"].value == 26.0  # control: all 17 give 26


def test_haq_items_asked_but_unknown_are_missing_for_the_haq_di_by_its_rule(study: Study) -> None:
    """Stanford rule: a category scores its answered items; the index averages the answered categories (>= 6 of 8)."""
    one = check_form_entry(study, "ssc_haq", typed({k: v for k, v in HAQ.items() if k != "haq_shampoo"}),
                           missing={"haq_shampoo": ("asked_unknown", "")})  # fmt: skip
    assert one.complete
    assert one.derived["haq_di"].value == pytest.approx(13 / 8)  # dressing falls to 0 (haq_dress), 13 / 8
    both = check_form_entry(study, "ssc_haq", typed({k: v for k, v in HAQ.items() if k not in ("haq_dress", "haq_shampoo")}),
                            missing={"haq_dress": ("asked_unknown", ""), "haq_shampoo": ("asked_unknown", "")})  # fmt: skip
    assert both.complete
    assert both.derived["haq_di"].value == pytest.approx(13 / 7)  # dressing unanswered: 7 categories, sum 13
    assert haq_di.MIN_CATEGORIES == 6


# --- clearing a saved answer -------------------------------------------------------------------------------------------


def test_clearing_a_saved_mrss_area_needs_a_reason_and_is_audited() -> None:
    study, course = _screening()
    course = _save(study, course, "mrss", typed(MRSS))
    cleared = typed({k: v for k, v in MRSS.items() if k != "mrss_face"})
    with pytest.raises(EntryRejectedError) as caught:
        _save(study, course, "mrss", cleared)
    assert (caught.value.field, caught.value.rule) == ("reason", "a reason is required to clear a saved answer (mrss_face)")
    course = _save(study, course, "mrss", cleared, reason="scored on the wrong patient's sheet")
    record = course.records[("SCR", "mrss", 0)]
    assert "mrss_face" not in record.values
    assert record.state.status is RecordStatus.IN_PROGRESS
    change = [a for a in course.audit if a.action == "record.save" and a.record == record.key][-1]
    assert change.reason == "scored on the wrong patient's sheet"
    face = next(d for d in change.items if d.field == "mrss_face")
    assert face.new is None
    assert face.old is not None
    assert face.old["raw"] == "1"


# --- the protocol format ----------------------------------------------------------------------------------------------


def test_the_loader_refuses_unknown_missing_codes_and_required_items_off_the_form() -> None:
    text = bundled_protocol_path().read_text(encoding="utf-8")
    broken = text.replace("missing_codes: [not_assessed, not_done]", "missing_codes: [not_assessed, skipped]").replace(
        "required: [vc_pct_pred,", "required: [sf36_q1, vc_pct_pred,"
    )
    with pytest.raises(ProtocolError) as caught:
        load_protocol_text(broken)
    message = str(caught.value)
    assert "form 'mrss' allows missing-data code 'skipped', which is not in missing_codes" in message
    assert "form 'organ_function' requires item 'sf36_q1', which it does not list" in message
