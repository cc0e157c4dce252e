"""Property (issue 15): no sequence of lifecycle actions and saves, with arbitrary dates, applied through the
plans, ever leaves a visit or a stored date dated after the subject's end."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rodnan.core.lifecycle import Transition
from rodnan.core.protocol import load_protocol
from rodnan.core.protocol.load import bundled_protocol_path
from rodnan.core.records import record_plans, subject_plans
from rodnan.core.records.checks import EARLY_COMPLETION, VISIT_WINDOW, earliest_date
from rodnan.core.records.course import Course
from rodnan.errors import InputError
from tests.candidates import LUNG_ELIGIBLE
from tests.core.records.test_plans import TODAY, _infusion, _screened

STUDY = load_protocol(bundled_protocol_path())
START = _screened(
    STUDY, {**LUNG_ELIGIBLE, "childbearing_potential": False}
)  # a screened, eligible candidate: every example starts from a copy
ENDS = (Transition.DIE, Transition.WITHDRAW, Transition.COMPLETE, Transition.LOSE_TO_FOLLOW_UP)
FORMS = ("mrss", "serology", "medical_history")

LIFECYCLE = ("consent", "enrol", "infuse")

# Dates are drawn as offsets in days from the subject's own dates (so that most chains reach follow-up), both
# ways: a lifecycle step from the latest date so far, an end from the start of participation, a visit date
# and a sample date from the visit's target.
lifecycle = st.tuples(st.sampled_from(LIFECYCLE), st.integers(-5, 40))
ends = st.tuples(st.sampled_from(ENDS), st.integers(-10, 330), st.booleans())  # the boolean: reason given and confirmed
saves = st.tuples(st.just("save"), st.integers(-12, 60), st.sampled_from(FORMS), st.integers(0, 13), st.integers(-20, 80),
                  st.booleans())  # fmt: skip
scenarios = st.tuples(st.lists(st.integers(-3, 30), min_size=3, max_size=3),
                      st.lists(st.one_of(saves, saves, ends, lifecycle), min_size=1, max_size=12))  # fmt: skip


def _latest(course: Course) -> dt.date:
    subject = course.subject
    assert subject is not None
    known = [subject.screening_date, subject.consent_date, subject.enrolment_date, subject.infusion_date]
    return max(d for d in known if d is not None)


def _apply(course: Course, action: tuple[object, ...]) -> None:
    subject = course.subject
    assert subject is not None
    kind, offset = action[0], action[1]
    assert isinstance(offset, int)
    days = dt.timedelta(days=offset)
    if kind == "consent":
        course.apply(subject_plans.plan_consent(subject, "2.0", _latest(course) + days, TODAY))
    elif kind == "enrol":
        values = subject_plans.screening_values(course.records.values(), {"SCR"})
        course.apply(subject_plans.plan_enrol(STUDY, subject, values, _latest(course) + days, 1, "NJDT", TODAY))
    elif kind == "infuse":
        entries = {**_infusion(), "infusion_date": ((_latest(course) + days).isoformat(), None)}
        course.apply(subject_plans.plan_infusion(STUDY, subject, entries, (), TODAY, records=course.records.values()))
    elif isinstance(kind, Transition):
        sure = bool(action[2])
        when = (subject.infusion_date or subject.enrolment_date or subject.consent_date or subject.screening_date) + days
        course.apply(subject_plans.plan_end_subject(subject, kind, when, "the reason" if sure else "", TODAY,
                                                    course.visits.values(), course.records.values(),
                                                    confirmed={EARLY_COMPLETION} if sure else ()))  # fmt: skip
    else:
        _, _, form, n, value_offset, confirm = action
        assert isinstance(value_offset, int)
        confirmed = {VISIT_WINDOW, "lab_sample_in_window"} if confirm else set()
        if form == "medical_history":
            onset = (subject.end_date or _latest(course)) + dt.timedelta(days=value_offset)
            entries = {"mh_term": ("asthma", None), "mh_start": (onset.isoformat(), None), "mh_ongoing": ("yes", None)}
            course.apply(record_plans.plan_add_log_record(STUDY, subject, "medical_history", course.next_seq("medical_history"),
                                                          entries, today=TODAY))  # fmt: skip
            return
        visits = [v for v in course.visits.values() if (v.code, form, 0) in course.records]
        visit = visits[int(str(n)) % len(visits)]
        record = course.records[(visit.code, str(form), 0)]
        sample = visit.target + dt.timedelta(days=value_offset)
        entries = {"mrss_face": ("1", None)} if form == "mrss" else {"sample_date": (sample.isoformat(), None)}
        plan = record_plans.plan_save_record(
            STUDY,
            subject,
            record,
            entries,
            today=TODAY,
            expected_version=record.version,
            confirmed=confirmed,
            reason="correction",
            visit=visit,
            visit_date=visit.target + days,
        )
        course.apply(plan)


def _dated_after_end(course: Course) -> list[str]:
    subject = course.subject
    assert subject is not None
    end = subject.end_date
    if end is None:
        return []
    late = [f"visit {v.code} on {v.done_on}" for v in course.visits.values() if v.done_on is not None and v.done_on > end]
    for key, record in course.records.items():
        for code, data in record.values.items():
            when = earliest_date(data.get("type"), data.get("value"))
            if when is not None and when > end:
                late.append(f"{key} {code} = {when}")
    return late


@settings(max_examples=150)
@given(scenarios)
def test_nothing_is_ever_dated_after_the_subjects_end(scenario: tuple[list[int], list[tuple[object, ...]]]) -> None:
    prefix, steps = scenario
    course = copy.deepcopy(START)
    for step in [*zip(LIFECYCLE, prefix, strict=True), *steps]:
        try:
            _apply(course, step)
        except InputError:
            continue  # refused by a rule: nothing was written
        assert _dated_after_end(course) == [], (step, course.subject)


def test_the_property_reaches_ended_subjects_with_data() -> None:
    """The strategy can build what the property guards: a subject in follow-up with data who then dies."""
    course = copy.deepcopy(START)
    infused = dt.date(2026, 2, 1)
    m1 = infused + dt.timedelta(days=30)
    for step in [("consent", 5), ("enrol", 10), ("infuse", 12), ("save", 0, "mrss", 1, 0, True), (Transition.DIE, 33, True)]:
        _apply(course, step)
    assert course.subject is not None
    assert (course.subject.status, course.subject.end_date) == ("died", dt.date(2026, 3, 6))
    assert course.visits["M1"].done_on == m1
    with pytest.raises(InputError, match=r"\[after_end\]"):
        _apply(course, ("save", 0, "serology", 0, 70, True))  # a sample dated after the death, at screening
