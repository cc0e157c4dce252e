"""The write path's plans, followed through an in-memory course: a subject from screening to death, and every refusal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pytest

from rodnan.core.lifecycle import Transition
from rodnan.core.protocol import Study, load_protocol
from rodnan.core.protocol.load import bundled_protocol_path
from rodnan.core.records import record_plans, subject_plans
from rodnan.core.records.course import Course
from rodnan.core.records.errors import EntryRejectedError
from rodnan.core.records.model import RecordKey
from rodnan.core.records.record_plans import RecordConflictError
from rodnan.core.records.states import RecordEvent, RecordStateError, RecordStatus
from rodnan.errors import InputError
from tests.candidates import LUNG_ELIGIBLE

TODAY = dt.date(2026, 12, 1)
SCREENED = dt.date(2026, 1, 5)
INFUSED = dt.date(2026, 2, 1)


@pytest.fixture(scope="module")
def study() -> Study:
    return load_protocol(bundled_protocol_path())


def _typed(value: object) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else str(value)


def _screening_forms(study: Study, values: Mapping[str, object]) -> dict[str, dict[str, tuple[str, str | None]]]:
    forms = list(study.schedule.visits[0].forms)
    out: dict[str, dict[str, tuple[str, str | None]]] = {}
    for code, value in values.items():
        form = next(f for f in forms if code in study.form_by_code[f].items)
        out.setdefault(form, {})[code] = (_typed(value), None)
    return out


def _screened(study: Study, values: Mapping[str, object] = LUNG_ELIGIBLE) -> Course:
    course = Course(study.protocol.version).apply(subject_plans.plan_open_screening(study, "NJDT", 3, SCREENED, TODAY))
    for form, entries in _screening_forms(study, values).items():
        record = course.records[("SCR", form, 0)]
        assert course.subject is not None
        course.apply(record_plans.plan_save_record(study, course.subject, record, entries, today=TODAY, expected_version=0,
                                                   visit=course.visits["SCR"], visit_date=SCREENED))  # fmt: skip
    return course


def _infusion(weight: str = "60", cells: str = "60000000") -> dict[str, tuple[str, str | None]]:
    return {"infusion_date": (INFUSED.isoformat(), None), "product_lot": ("LOT-1", None), "donor_code": ("D-17", None),
            "infusion_weight": (weight, None), "cells_administered": (cells, None)}  # fmt: skip


def _infused(study: Study) -> Course:
    course = _screened(study, {**LUNG_ELIGIBLE, "childbearing_potential": False})  # no pregnancy test needed
    assert course.subject is not None
    course.apply(subject_plans.plan_consent(course.subject, "2.0", dt.date(2026, 1, 10), TODAY))
    values = subject_plans.screening_values(course.records.values(), {"SCR"})
    course.apply(subject_plans.plan_enrol(study, course.subject, values, dt.date(2026, 1, 20), 7, "NJDT", TODAY))
    return course.apply(
        subject_plans.plan_infusion(study, course.subject, _infusion(), (), TODAY, records=course.records.values())
    )


def test_a_subject_from_screening_to_follow_up(study: Study) -> None:
    course = _infused(study)
    subject = course.subject
    assert subject is not None
    # numbering by the site's counters, the label following the subject ID from enrolment on
    assert (subject.screening_number, subject.subject_code, subject.label) == ("NJDT-S0003", "NJDT-007", "NJDT-007")
    assert (subject.status, subject.version) == ("in_follow_up", 4)
    # the schedule from the infusion: D0 done on the infusion date, month 3 is day 91 (schedule's worked example)
    assert course.visits["D0"].done_on == INFUSED
    assert course.visits["M3"].target == INFUSED + dt.timedelta(days=91)
    infusion = course.records[("D0", "infusion", 0)]
    assert infusion.state.status is RecordStatus.COMPLETE
    assert infusion.values["cells_administered"]["value"] == 60_000_000.0
    # one audit entry per event: screen, 1 visit.done + one record.save per screening form, consent, enrol, infusion (4)
    actions = [a.action for a in course.audit]
    forms = len(_screening_forms(study, {**LUNG_ELIGIBLE, "childbearing_potential": False}))
    assert actions.count("record.save") == forms + 1
    assert actions[:2] == ["subject.screen", "visit.done"]
    assert actions[-6:] == ["subject.consent", "subject.enrol", "subject.infuse", "visit.schedule", "visit.done", "record.save"]


def test_a_save_records_old_and_new_values_and_a_change_needs_a_reason(study: Study) -> None:
    course = _infused(study)
    assert course.subject is not None
    m1: RecordKey = ("M1", "mrss", 0)
    first = record_plans.plan_save_record(study, course.subject, course.records[m1], {"mrss_face": ("2", None)},
                                          today=TODAY, expected_version=0, visit=course.visits["M1"],
                                          visit_date=dt.date(2026, 3, 3))  # fmt: skip
    course.apply(first)
    saved = course.records[m1]
    assert (saved.version, saved.state.status) == (1, RecordStatus.IN_PROGRESS)
    assert course.visits["M1"].done_on == dt.date(2026, 3, 3)
    entry = first.audit[-1]
    assert (entry.action, entry.items[0].field, entry.items[0].old, entry.items[0].new["raw"]) == (
        "record.save",
        "mrss_face",
        None,
        "2",
    )
    with pytest.raises(EntryRejectedError) as refused:
        record_plans.plan_save_record(study, course.subject, saved, {"mrss_face": ("3", None)}, today=TODAY, expected_version=1,
                                      visit=course.visits["M1"])  # fmt: skip
    assert refused.value.field == "reason"
    with pytest.raises(RecordConflictError):
        record_plans.plan_save_record(study, course.subject, saved, {"mrss_face": ("3", None)}, today=TODAY, expected_version=0,
                                      reason="typo", visit=course.visits["M1"])  # fmt: skip
    same = record_plans.plan_save_record(study, course.subject, saved, {"mrss_face": ("2", None)}, today=TODAY,
                                         expected_version=1, visit=course.visits["M1"])  # fmt: skip
    assert same.empty


def test_the_infusion_form_is_only_written_by_the_infusion_step(study: Study) -> None:
    course = _infused(study)
    assert course.subject is not None
    record = course.records[("D0", "infusion", 0)]
    with pytest.raises(EntryRejectedError, match="infusion step"):
        record_plans.plan_save_record(study, course.subject, record, _infusion("61"), today=TODAY, expected_version=1,
                                      reason="x", visit=course.visits["D0"])  # fmt: skip


def test_a_dose_outside_the_tolerance_needs_confirmation(study: Study) -> None:
    course = _infused(study)
    other = _screened(study, {**LUNG_ELIGIBLE, "childbearing_potential": False})
    assert other.subject is not None
    other.apply(subject_plans.plan_consent(other.subject, "2.0", dt.date(2026, 1, 10), TODAY))
    values = subject_plans.screening_values(other.records.values(), {"SCR"})
    other.apply(subject_plans.plan_enrol(study, other.subject, values, dt.date(2026, 1, 20), 8, "NJDT", TODAY))
    # 90 x 10^6 cells at 60 kg = 1.5 x 10^6/kg: 50 % above the dose (tolerance ±10 %)
    with pytest.raises(EntryRejectedError) as refused:
        subject_plans.plan_infusion(study, other.subject, _infusion(cells="90000000"), (), TODAY, records=other.records.values())
    assert refused.value.field == "cells_administered"
    assert "50.0 % above" in refused.value.rule
    plan = subject_plans.plan_infusion(
        study, other.subject, _infusion(cells="90000000"), {"cells_administered"}, TODAY, records=other.records.values()
    )
    assert plan.subject is not None
    assert plan.subject.status == "in_follow_up"
    assert course.subject is not None


def test_an_ineligible_subject_is_not_enrolled_and_the_criteria_are_named(study: Study) -> None:
    values = dict(LUNG_ELIGIBLE)
    values["hiv_positive"] = True
    course = _screened(study, values)
    assert course.subject is not None
    course.apply(subject_plans.plan_consent(course.subject, "2.0", dt.date(2026, 1, 10), TODAY))
    screening = subject_plans.screening_values(course.records.values(), {"SCR"})
    with pytest.raises(InputError) as refused:
        subject_plans.plan_enrol(study, course.subject, screening, dt.date(2026, 1, 20), 1, "NJDT", TODAY)
    assert refused.value.field == "eligibility"
    assert "HIV" in refused.value.rule


def test_after_a_death_later_visits_are_not_expected_and_refuse_values(study: Study) -> None:
    course = _infused(study)
    assert course.subject is not None
    died = dt.date(2026, 6, 10)  # day 129: M5 (day 152) and later open after the death; M4 (day 122) does not
    course.apply(subject_plans.plan_end_subject(course.subject, Transition.DIE, died, "sepsis", TODAY,
                                                course.visits.values(), course.records.values()))  # fmt: skip
    assert course.subject is not None
    assert course.subject.status == "died"
    assert course.records[("M4", "mrss", 0)].state.status is RecordStatus.NOT_STARTED
    after = course.records[("M5", "mrss", 0)]
    assert after.state.status is RecordStatus.NOT_EXPECTED
    assert after.state.reason == "died on 2026-06-10: sepsis"
    with pytest.raises(RecordStateError, match="not expected"):
        record_plans.plan_save_record(study, course.subject, after, {"mrss_face": ("1", None)}, today=TODAY,
                                      expected_version=after.version, visit=course.visits["M5"])  # fmt: skip
    not_expected = [a for a in course.audit if a.action == "record.mark_not_expected"]
    assert len(not_expected) == sum(1 for r in course.records.values() if r.state.status is RecordStatus.NOT_EXPECTED)


def test_a_record_state_change_is_audited_with_its_before_and_after(study: Study) -> None:
    course = _infused(study)
    assert course.subject is not None
    record = course.records[("M3", "serology", 0)]
    plan = record_plans.plan_record_event(course.subject, record, RecordEvent.MARK_NOT_DONE, reason="sample haemolysed")
    change = plan.audit[0]
    assert (change.action, change.object_id, change.reason) == (
        "record.mark_not_done",
        "NJDT-007/M3/serology",
        "sample haemolysed",
    )
    assert [(d.field, d.old, d.new) for d in change.items] == [
        ("status", "not_started", "not_done"),
        ("reason", "", "sample haemolysed"),
    ]
    assert plan.records[0].record.version == record.version + 1


def test_dates_in_the_future_or_out_of_order_are_refused_by_field(study: Study) -> None:
    with pytest.raises(InputError) as future:
        subject_plans.plan_open_screening(study, "NJDT", 1, TODAY + dt.timedelta(days=1), TODAY)
    assert future.value.field == "screening_date"
    course = _screened(study)
    assert course.subject is not None
    with pytest.raises(InputError) as early:
        subject_plans.plan_consent(course.subject, "2.0", SCREENED - dt.timedelta(days=1), TODAY)
    assert early.value.field == "consent_date"
