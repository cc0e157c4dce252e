"""The infusion's requirement of a negative pregnancy test (protocol: ``intervention.requires``; decision 0019).

Hand-built cases around the bundled protocol's rule: a woman of child-bearing potential needs a negative test dated
from 7 days before the infusion up to its day; a man, or a woman not of child-bearing potential, needs none; a
positive test or one dated outside those days does not count. The infusion is on 2026-02-01, so the days that count
are 2026-01-25 to 2026-02-01 (counted by hand).
"""

from __future__ import annotations

import datetime as dt

import pytest

from rodnan.core.protocol import Study, load_protocol
from rodnan.core.records import record_plans, subject_plans
from rodnan.core.records.course import Course
from rodnan.core.records.requirements import unmet_requirements
from rodnan.core.records.states import RecordEvent
from rodnan.errors import InputError
from tests.candidates import LUNG_ELIGIBLE
from tests.core.records.test_plans import INFUSED, TODAY, _infusion, _screened

RULE = "negative_pregnancy_test"


@pytest.fixture(scope="module")
def study() -> Study:
    return load_protocol()


def _enrolled(study: Study, **demographics: object) -> Course:
    course = _screened(study, {**LUNG_ELIGIBLE, **demographics})
    assert course.subject is not None
    course.apply(subject_plans.plan_consent(course.subject, "2.0", dt.date(2026, 1, 10), TODAY))
    values = subject_plans.screening_values(course.records.values(), {"SCR"})
    assert course.subject is not None
    return course.apply(subject_plans.plan_enrol(study, course.subject, values, dt.date(2026, 1, 20), 1, "NJDT", TODAY))


def _tested(study: Study, course: Course, on: dt.date, result: str = "negative", kind: str = "urine") -> Course:
    assert course.subject is not None
    entries = {"pregnancy_test_date": (on.isoformat(), None), "pregnancy_test_kind": (kind, None),
               "pregnancy_test_result": (result, None)}  # fmt: skip
    confirmed = {"pregnancy_test_positive"} if result == "positive" else set()
    return course.apply(record_plans.plan_add_log_record(study, course.subject, "pregnancy_test",
                                                         course.next_seq("pregnancy_test"), entries, today=TODAY,
                                                         confirmed=confirmed))  # fmt: skip


def _infuse(study: Study, course: Course) -> None:
    assert course.subject is not None
    subject_plans.plan_infusion(study, course.subject, _infusion(), (), TODAY, records=course.records.values())


def test_a_woman_of_child_bearing_potential_without_a_test_is_refused_naming_the_rule(study: Study) -> None:
    """No test at all: refused, the field is the requirement's code and the rule names the days that count."""
    course = _enrolled(study, sex="female", childbearing_potential=True)
    with pytest.raises(InputError) as refused:
        _infuse(study, course)
    assert refused.value.field == RULE
    assert refused.value.rule.startswith(f"[{RULE}] A negative pregnancy test within 7 days before the infusion")
    assert "no Pregnancy test record dated 2026-01-25 to 2026-02-01 shows it" in refused.value.rule


@pytest.mark.parametrize(("days_before", "allowed"), [(0, True), (3, True), (7, True), (8, False), (-1, False)])
def test_a_negative_test_counts_only_from_7_days_before_up_to_the_infusion_day(study: Study, days_before: int,
                                                                                allowed: bool) -> None:  # fmt: skip
    """7 days before (2026-01-25) counts, 8 days before does not; a test after the infusion never does."""
    course = _tested(study, _enrolled(study, sex="female", childbearing_potential=True), INFUSED - dt.timedelta(days_before))
    if allowed:
        _infuse(study, course)
    else:
        with pytest.raises(InputError) as refused:
            _infuse(study, course)
        assert refused.value.field == RULE


def test_a_positive_test_does_not_allow_the_infusion(study: Study) -> None:
    """A positive test within the days is recorded (confirmed) but satisfies nothing."""
    course = _tested(study, _enrolled(study, sex="female", childbearing_potential=True), INFUSED - dt.timedelta(2), "positive")
    with pytest.raises(InputError) as refused:
        _infuse(study, course)
    assert refused.value.field == RULE


def test_a_positive_test_needs_a_confirmation_to_be_saved(study: Study) -> None:
    """The protocol's check pregnancy_test_positive: a warning naming the eligibility answer."""
    course = _enrolled(study, sex="female", childbearing_potential=True)
    assert course.subject is not None
    entries = {"pregnancy_test_date": ("2026-01-30", None), "pregnancy_test_kind": ("serum", None),
               "pregnancy_test_result": ("positive", None)}  # fmt: skip
    with pytest.raises(InputError) as refused:
        record_plans.plan_add_log_record(study, course.subject, "pregnancy_test", 1, entries, today=TODAY)
    assert "[pregnancy_test_positive]" in refused.value.rule
    assert "Pregnant: yes" in refused.value.rule


def test_a_man_needs_no_test(study: Study) -> None:
    """sex == "female" is false: the requirement does not apply, whatever the child-bearing answer."""
    _infuse(study, _enrolled(study, sex="male", childbearing_potential=False))
    _infuse(study, _enrolled(study, sex="male"))  # the answer left blank (a man): still false


def test_a_woman_not_of_child_bearing_potential_needs_no_test(study: Study) -> None:
    _infuse(study, _enrolled(study, sex="female", childbearing_potential=False))


def test_child_bearing_potential_not_recorded_applies_the_rule(study: Study) -> None:
    """Unknown is no reason to skip a safety rule: refused, saying why it applies."""
    course = _enrolled(study, sex="female")
    with pytest.raises(InputError) as refused:
        _infuse(study, course)
    assert "it applies: the values it depends on are not all recorded" in refused.value.rule


def test_a_test_entered_in_error_does_not_count(study: Study) -> None:
    course = _tested(study, _enrolled(study, sex="female", childbearing_potential=True), INFUSED - dt.timedelta(1))
    assert course.subject is not None
    record = course.records[(None, "pregnancy_test", 1)]
    course.apply(
        record_plans.plan_record_event(course.subject, record, RecordEvent.MARK_ENTERED_IN_ERROR, reason="wrong patient")
    )
    with pytest.raises(InputError):
        _infuse(study, course)


def test_the_page_asks_whether_any_date_from_enrolment_to_today_could_be_allowed(study: Study) -> None:
    """A test 10 days before today still allows an infusion dated up to 3 days after it: the page must not refuse."""
    course = _tested(study, _enrolled(study, sex="female", childbearing_potential=True), dt.date(2026, 1, 22))
    values = subject_plans.screening_values(course.records.values(), {"SCR"})
    enrolled = dt.date(2026, 1, 20)
    assert unmet_requirements(study, values, course.records.values(), enrolled, dt.date(2026, 2, 1)) == ()
    # from 2026-02-01 on (first day considered), the test of 2026-01-22 is 10 days too old
    [unmet] = unmet_requirements(study, values, course.records.values(), dt.date(2026, 2, 1), dt.date(2026, 2, 1))
    assert unmet.code == RULE
