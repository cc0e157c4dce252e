"""Lifecycle and cross-record checks (issue 15, findings 1 and 2): the plans refuse dates after the subject's
end, ask a reason and a confirmation for an early completion, and apply the protocol's ``checks:``."""

from __future__ import annotations

import datetime as dt

import pytest

from rodnan.core.lifecycle import Transition
from rodnan.core.protocol import Study, load_protocol
from rodnan.core.protocol.load import bundled_protocol_path
from rodnan.core.records import record_plans, subject_plans
from rodnan.core.records.checks import CheckWarningError, ConfirmationNeededError
from rodnan.core.records.course import Course
from rodnan.core.records.errors import EntryRejectedError
from rodnan.core.records.states import RecordStatus
from rodnan.core.schedule import VisitState, visit_state
from rodnan.errors import InputError
from tests.core.records.test_plans import INFUSED, SCREENED, TODAY, _infused, _screened
from tests.protocol_edits import broken, line_of, problems


@pytest.fixture(scope="module")
def study() -> Study:
    return load_protocol(bundled_protocol_path())


def _died(study: Study, died: dt.date) -> Course:
    course = _infused(study)
    assert course.subject is not None
    return course.apply(subject_plans.plan_end_subject(course.subject, Transition.DIE, died, "sepsis", TODAY,
                                                       course.visits.values(), course.records.values()))  # fmt: skip


# --- finding 1: data after death ----------------------------------------------------------------------------


def test_finding_1_a_visit_after_the_death_is_refused_with_the_rule_named(study: Study) -> None:
    # infusion 2026-02-01: M6 is day 183 (2026-08-03), window 2026-07-27 .. 2026-08-10; the death falls inside it,
    # so M6 stays expected (a visit held before the death may still be entered) but not on a date after the death
    died = dt.date(2026, 8, 5)
    course = _died(study, died)
    assert course.subject is not None
    m6 = course.visits["M6"]
    assert (m6.window_start, m6.window_end) == (dt.date(2026, 7, 27), dt.date(2026, 8, 10))
    record = course.records[("M6", "mrss", 0)]
    assert record.state.status is RecordStatus.NOT_STARTED
    with pytest.raises(EntryRejectedError) as refused:
        record_plans.plan_save_record(study, course.subject, record, {"mrss_face": ("1", None)}, today=TODAY,
                                      expected_version=record.version, visit=m6, visit_date=TODAY)  # fmt: skip
    assert refused.value.field == "visit_date"
    assert refused.value.rule == "[after_end] 2026-12-01 is after the subject's death on 2026-08-05"
    # held the day before the death: accepted, and the visit is done on that date
    plan = record_plans.plan_save_record(
        study,
        course.subject,
        record,
        {"mrss_face": ("1", None)},
        today=TODAY,
        expected_version=record.version,
        visit=m6,
        visit_date=dt.date(2026, 8, 4),
    )
    assert [(v.code, v.done_on) for v in plan.visits] == [("M6", dt.date(2026, 8, 4))]


def test_finding_1_a_date_value_after_the_death_is_refused(study: Study) -> None:
    course = _died(study, dt.date(2026, 8, 5))
    assert course.subject is not None
    record = course.records[("M6", "serology", 0)]
    with pytest.raises(EntryRejectedError) as refused:
        record_plans.plan_save_record(study, course.subject, record, {"sample_date": ("2026-08-06", None)}, today=TODAY,
                                      expected_version=0, visit=course.visits["M6"], visit_date=dt.date(2026, 8, 4))  # fmt: skip
    assert (refused.value.field, refused.value.rule) == ("sample_date", "[after_end] 2026-08-06 is after the subject's death "
                                                                        "on 2026-08-05")  # fmt: skip


def test_finding_1_the_later_visits_are_not_expected(study: Study) -> None:
    died = dt.date(2026, 8, 5)
    course = _died(study, died)
    later = [v for v in course.visits.values() if v.window_start > died]
    assert [v.code for v in later] == ["M7", "M8", "M9", "M10", "M11", "M12"]
    for visit in later:  # on TODAY M7 .. M9 are past their windows: without the end they would read overdue
        assert visit_state(visit.planned, TODAY, None, False, end=died) is VisitState.NOT_EXPECTED
    assert visit_state(course.visits["M7"].planned, TODAY, None, False) is VisitState.OVERDUE
    assert all(r.state.status is RecordStatus.NOT_EXPECTED for k, r in course.records.items() if k[0] in {v.code for v in later})


def test_an_end_before_a_visit_that_took_place_is_refused(study: Study) -> None:
    course = _infused(study)
    assert course.subject is not None
    record = course.records[("M1", "mrss", 0)]
    held = course.visits["M1"].target
    course.apply(record_plans.plan_save_record(study, course.subject, record, {"mrss_face": ("1", None)}, today=TODAY,
                                               expected_version=0, visit=course.visits["M1"], visit_date=held))  # fmt: skip
    with pytest.raises(InputError) as refused:
        subject_plans.plan_end_subject(course.subject, Transition.WITHDRAW, held - dt.timedelta(days=1), "moved", TODAY,
                                       course.visits.values(), course.records.values())  # fmt: skip
    assert refused.value.field == "end_date"
    assert refused.value.rule.startswith("[after_end] Month 1 took place on 2026-03-03")


# --- finding 2: follow-up completed on day 0 ----------------------------------------------------------------


def test_finding_2_completion_on_the_infusion_day_needs_a_reason_and_a_confirmation(study: Study) -> None:
    course = _infused(study)
    assert course.subject is not None
    args = (course.subject, Transition.COMPLETE, INFUSED)
    rest = (course.visits.values(), course.records.values())
    with pytest.raises(InputError) as no_reason:
        subject_plans.plan_end_subject(*args, "", TODAY, *rest)
    assert no_reason.value.field == "reason"
    assert (
        "[early_completion] follow-up completed on 2026-02-01, before the last scheduled visit Month 12" in no_reason.value.rule
    )
    with pytest.raises(ConfirmationNeededError) as unconfirmed:
        subject_plans.plan_end_subject(*args, "moved abroad, followed elsewhere", TODAY, *rest)
    assert unconfirmed.value.finding.code == "early_completion"
    plan = subject_plans.plan_end_subject(*args, "moved abroad, followed elsewhere", TODAY, *rest, confirmed={"early_completion"})
    assert plan.subject is not None
    assert plan.subject.status == "completed"
    assert [f.code for f in plan.findings] == ["early_completion"]
    assert "[early_completion]" in plan.audit[0].reason  # the audit entry records the confirmed warning
    assert sum(1 for w in plan.records if w.record.state.status is RecordStatus.NOT_EXPECTED) > 0


def test_completion_after_the_last_visit_needs_no_confirmation(study: Study) -> None:
    course = _infused(study)
    assert course.subject is not None
    m12 = course.visits["M12"]
    plan = subject_plans.plan_end_subject(course.subject, Transition.COMPLETE, m12.target, "", m12.target,
                                          course.visits.values(), course.records.values())  # fmt: skip
    assert plan.findings == ()


# --- dates against screening, consent, infusion and the window ---------------------------------------------


def test_a_screening_visit_before_screening_is_refused(study: Study) -> None:
    course = _screened(study)
    assert course.subject is not None
    record = course.records[("SCR", "mrss", 0)]
    before = SCREENED - dt.timedelta(days=1)
    fresh = Course(study.protocol.version).apply(subject_plans.plan_open_screening(study, "NJDT", 4, SCREENED, TODAY))
    assert fresh.subject is not None
    with pytest.raises(EntryRejectedError) as refused:
        record_plans.plan_save_record(study, fresh.subject, fresh.records[record.key], {"mrss_face": ("1", None)}, today=TODAY,
                                      expected_version=0, visit=fresh.visits["SCR"], visit_date=before)  # fmt: skip
    assert refused.value.rule == "[before_screening] 2026-01-04 is before screening (2026-01-05)"


def _consented_before_the_visit(study: Study) -> Course:
    """A subject screened on 2026-01-05 who consented on 2026-01-10, before any screening value was entered."""
    course = Course(study.protocol.version).apply(subject_plans.plan_open_screening(study, "NJDT", 5, SCREENED, TODAY))
    assert course.subject is not None
    return course.apply(subject_plans.plan_consent(course.subject, "2.0", dt.date(2026, 1, 10), TODAY))


def test_a_screening_visit_dated_before_consent_is_a_warning_to_confirm(study: Study) -> None:
    """Item 4 of the vitals brief: study procedures need consent first, standard-of-care results taken before it are
    legitimate; so at the screening visit a date before consent is confirmed, not refused (from day 0 on: refused)."""
    course = _consented_before_the_visit(study)
    assert course.subject is not None
    record, scr = course.records[("SCR", "mrss", 0)], course.visits["SCR"]
    with pytest.raises(CheckWarningError) as asked:
        record_plans.plan_save_record(study, course.subject, record, {"mrss_face": ("1", None)}, today=TODAY,
                                      expected_version=0, visit=scr, visit_date=dt.date(2026, 1, 8))  # fmt: skip
    assert asked.value.field == "visit_date"
    assert asked.value.finding.code == "before_consent"
    assert asked.value.rule.startswith("[before_consent] 2026-01-08 is before consent (2026-01-10): a study procedure needs")
    plan = record_plans.plan_save_record(study, course.subject, record, {"mrss_face": ("1", None)}, today=TODAY,
                                         expected_version=0, visit=scr, visit_date=dt.date(2026, 1, 8),
                                         confirmed={"before_consent"})  # fmt: skip
    assert [(f.code, f.severity) for f in plan.findings] == [("before_consent", "warning")]
    assert any(a.action == "record.findings" for a in plan.audit)  # the confirmation is in the audit trail
    # on the consent day itself: nothing to confirm
    plan = record_plans.plan_save_record(study, course.subject, record, {"mrss_face": ("1", None)}, today=TODAY,
                                         expected_version=0, visit=scr, visit_date=dt.date(2026, 1, 10))  # fmt: skip
    assert plan.findings == ()


def test_a_screening_date_item_before_consent_is_a_warning_to_confirm(study: Study) -> None:
    """A laboratory sample of the screening visit taken before consent (e.g. the referring hospital's): confirmed."""
    course = _consented_before_the_visit(study)
    assert course.subject is not None
    record, scr = course.records[("SCR", "serology", 0)], course.visits["SCR"]
    entries = {"sample_date": ("2026-01-07", None), "c3": ("1.1", None)}
    with pytest.raises(CheckWarningError) as asked:
        record_plans.plan_save_record(study, course.subject, record, entries, today=TODAY, expected_version=0, visit=scr,
                                      visit_date=dt.date(2026, 1, 12))  # fmt: skip
    assert asked.value.field == "sample_date"
    assert asked.value.finding.code == "before_consent"
    record_plans.plan_save_record(study, course.subject, record, entries, today=TODAY, expected_version=0, visit=scr,
                                  visit_date=dt.date(2026, 1, 12), confirmed={"before_consent"})  # fmt: skip


def test_a_visit_outside_its_window_is_a_warning_to_confirm(study: Study) -> None:
    course = _infused(study)
    assert course.subject is not None
    m1 = course.visits["M1"]  # window 2026-02-24 .. 2026-03-10
    late = m1.window_end + dt.timedelta(days=1)
    record = course.records[("M1", "mrss", 0)]
    with pytest.raises(CheckWarningError) as warned:
        record_plans.plan_save_record(study, course.subject, record, {"mrss_face": ("1", None)}, today=TODAY,
                                      expected_version=0, visit=m1, visit_date=late)  # fmt: skip
    assert warned.value.finding.code == "visit_window"
    assert (
        warned.value.rule
        == "[visit_window] Month 1 on 2026-03-11 is outside its window 2026-02-24 to 2026-03-10; confirm to save"
    )
    plan = record_plans.plan_save_record(
        study,
        course.subject,
        record,
        {"mrss_face": ("1", None)},
        today=TODAY,
        expected_version=0,
        visit=m1,
        visit_date=late,
        confirmed={"visit_window"},
    )
    assert [f.code for f in plan.findings] == ["visit_window"]
    assert any(a.action == "record.findings" for a in plan.audit)
    course.apply(plan)  # a later change of the same record does not ask again: the visit date is settled
    saved = course.records[record.key]
    again = record_plans.plan_save_record(
        study,
        course.subject,
        saved,
        {"mrss_face": ("2", None)},
        today=TODAY,
        expected_version=saved.version,
        visit=course.visits["M1"],
        reason="re-examined",
    )
    assert again.records
    assert again.findings == ()  # recorded once, when the visit date was set


# --- the protocol's checks ----------------------------------------------------------------------------------


def test_the_protocols_lab_sample_checks_warn_and_query(study: Study) -> None:
    course = _infused(study)
    assert course.subject is not None
    m3 = course.visits["M3"]  # day 91: 2026-05-03, window 2026-04-26 .. 2026-05-10
    record = course.records[("M3", "serology", 0)]
    outside = {"sample_date": ("2026-04-20", None)}
    with pytest.raises(CheckWarningError) as warned:
        record_plans.plan_save_record(study, course.subject, record, outside, today=TODAY, expected_version=0, visit=m3,
                                      visit_date=m3.target)  # fmt: skip
    assert (warned.value.finding.code, warned.value.field) == ("lab_sample_in_window", "sample_date")
    # inside the window but after the visit date: saved, with the query finding (and its audit entry)
    plan = record_plans.plan_save_record(study, course.subject, record, {"sample_date": ("2026-05-05", None)}, today=TODAY,
                                         expected_version=0, visit=m3, visit_date=m3.target)  # fmt: skip
    assert [(f.code, f.severity) for f in plan.findings] == [("lab_sample_not_after_visit", "query")]
    findings = next(a for a in plan.audit if a.action == "record.findings")
    assert findings.items[0].new == "query: [lab_sample_not_after_visit] The sample was taken on or before the visit date"
    # no sample date: nothing to check (the expression is unknown)
    plan = record_plans.plan_save_record(study, course.subject, record, {"c3": ("1.0", None)}, today=TODAY,
                                         expected_version=0, visit=m3, visit_date=m3.target)  # fmt: skip
    assert plan.findings == ()


CHECK = """  - code: lab_sample_not_after_visit
    label: The sample was taken on or before the visit date
    severity: query
    forms: [organ_function, serology, lymphocytes]
    expression: sample_date <= visit_day"""


@pytest.mark.parametrize(
    ("old", "new", "path", "rule"),
    [
        ("severity: query", "severity: fatal", "checks[1].severity", "Input should be 'error', 'warning' or 'query'"),
        ("sample_date <= visit_day", "sample_dat <= visit_day", "checks[1].expression",
         "check 'lab_sample_not_after_visit': unknown item or pathway 'sample_dat' at column 1"),
        ("sample_date <= visit_day", "sample_date <=", "checks[1].expression", "check 'lab_sample_not_after_visit':"),
        ("sample_date <= visit_day", "mrss_face > 1", "checks[1].expression",
         "check 'lab_sample_not_after_visit' reads item 'mrss_face', which is not on its form(s)"),
        ("forms: [organ_function, serology, lymphocytes]\n    expression: sample_date <= visit_day",
         "forms: [organ_function, serology, lymphos]\n    expression: sample_date <= visit_day", "checks[1].forms[2]",
         "check 'lab_sample_not_after_visit' applies to form 'lymphos', which is not in forms"),
        ("code: lab_sample_not_after_visit", "code: after_end", "checks[1].code",
         "check code 'after_end' is the name of a general rule"),
    ],
)  # fmt: skip
def test_protocol_check_reports_bad_checks_with_path_and_line(old: str, new: str, path: str, rule: str) -> None:
    text = broken(CHECK, CHECK.replace(old, new))
    found = problems(text)
    assert len(found) == 1, found
    [(line, where, message)] = found
    assert where == path
    assert message.startswith(rule), message
    assert line is not None
    assert line >= line_of(text, "code: lab_sample_in_window")
