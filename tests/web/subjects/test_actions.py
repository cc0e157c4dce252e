"""The write actions of a subject's lifecycle: screening, consent, enrolment, infusion, the end steps and missed
visits, and the audit entries each must leave.

Expected values are written out here by hand: visit days from the protocol (month m is day
round(m x 30.4375), windows ±7 days), doses from cells / kg, and the audit entries each action must leave.
"""

from __future__ import annotations

import datetime as dt

import pytest

from rodnan.core.lifecycle import Transition
from rodnan.errors import InputError
from rodnan.web.accounts.access import AccessDeniedError
from rodnan.web.audit.chain import verify_chain
from rodnan.web.crfs.models import FormRecord
from rodnan.web.subjects import actions
from rodnan.web.subjects.actions import EntryRejectedError, StaleSubjectError
from rodnan.web.subjects.models import Subject, Visit
from tests.candidates import LUNG_ELIGIBLE
from tests.web import factories as f

pytestmark = pytest.mark.django_db


# Follow-up visits placed from the infusion date: (code, day, window before, window after).
# Month m is day round(m x 30.4375): 30, 61 (60.875), 91 (91.3125), ... 365 (365.25).
FOLLOW_UP = [
    ("D0", 0, 0, 0), ("M1", 30, 7, 7), ("M2", 61, 7, 7), ("M3", 91, 7, 7), ("M4", 122, 7, 7), ("M5", 152, 7, 7),
    ("M6", 183, 7, 7), ("M7", 213, 7, 7), ("M8", 244, 7, 7), ("M9", 274, 7, 7), ("M10", 304, 7, 7), ("M11", 335, 7, 7),
    ("M12", 365, 7, 7),
]  # fmt: skip


def test_open_screening_allocates_numbers_and_places_the_screening_visit(site, coordinator):
    """Screening numbers run NJDT-S0001, NJDT-S0002; the SCR visit is centred on the screening date (-28/+7 days)."""
    start = f.last_seq()
    screened = f.days_ago(60)
    first = actions.check_open_screening(coordinator, site, site.study, screened)
    second = actions.check_open_screening(coordinator, site, site.study, f.days_ago(59))
    assert (first.screening_number, second.screening_number) == ("NJDT-S0001", "NJDT-S0002")
    assert (first.status, first.subject_code, first.version) == ("screening", None, 1)
    visit = first.visits.get()
    assert (visit.code, visit.day, visit.target_date) == ("SCR", -14, screened)
    assert (visit.window_start, visit.window_end) == (screened - dt.timedelta(days=28), screened + dt.timedelta(days=7))
    forms = sorted(FormRecord.objects.filter(visit=visit).values_list("form_code", flat=True))
    assert forms == sorted(
        [
            "demographics",
            "screening",
            "screening_details",
            "mrss",
            "ssc_haq",
            "sf36",
            "organ_function",
            "serology",
            "lymphocytes",
            "vital_signs",
        ]
    )
    assert set(FormRecord.objects.filter(visit=visit).values_list("status", "version")) == {("not_started", 0)}
    entries = f.audit_since(start)
    assert [
        (e.action, e.field, e.old_value, e.new_value, e.username, e.role, e.subject_id, e.site_id) for e in f.flat(entries[:1])
    ] == [
        ("subject.screen", "screening_number", "", "NJDT-S0001", "coord", "coordinator", first.pk, site.pk),
        ("subject.screen", "status", "", "screening", "coord", "coordinator", first.pk, site.pk),
        ("subject.screen", "screening_date", "", screened.isoformat(), "coord", "coordinator", first.pk, site.pk),
    ]
    assert len(entries) == 2  # one event per screening opened, with its three fields
    assert verify_chain().ok


def test_open_screening_refuses_a_future_date(site, coordinator):
    """A screening date after today is refused, naming the field; nothing is created or audited."""
    start = f.last_seq()
    with pytest.raises(InputError) as caught:
        actions.check_open_screening(coordinator, site, site.study, f.today() + dt.timedelta(days=1))
    assert caught.value.field == "screening_date"
    assert "future" in caught.value.rule
    assert Subject.objects.count() == 0
    assert f.audit_since(start) == []


def test_full_lifecycle_through_actions(site, investigator):
    """Screen, consent, enrol (NJDT-001), infuse (D0 + M1..M12), complete: each step audited, chain valid."""
    subject = f.screened_subject(investigator, site)
    assert subject.status == "screening"

    start = f.last_seq()
    consent_date = f.days_ago(55)
    subject = actions.check_consent(investigator, subject, " 2.0 (2009-07-20) ", consent_date, expected_version=1)
    assert (subject.status, subject.consent_version, subject.consent_date, subject.version) == (
        "consented", "2.0 (2009-07-20)", consent_date, 2,
    )  # fmt: skip
    assert [(e.action, e.field, e.old_value, e.new_value) for e in f.flat(f.audit_since(start))] == [
        ("subject.consent", "status", "screening", "consented"),
        ("subject.consent", "consent_version", "", "2.0 (2009-07-20)"),
        ("subject.consent", "consent_date", "", consent_date.isoformat()),
    ]

    start = f.last_seq()
    enrolment_date = f.days_ago(50)
    subject = actions.check_enrol(investigator, subject, enrolment_date, expected_version=2)
    assert (subject.status, subject.subject_code, subject.enrolment_date, subject.version) == (
        "enrolled", "NJDT-001", enrolment_date, 3,
    )  # fmt: skip
    assert subject.label == "NJDT-001"
    entries = f.audit_since(start)
    assert [(e.action, e.field, e.old_value, e.new_value) for e in f.flat(entries)] == [
        ("subject.enrol", "status", "consented", "enrolled"),
        ("subject.enrol", "subject_code", "", "NJDT-001"),
        ("subject.enrol", "enrolment_date", "", enrolment_date.isoformat()),
    ]
    assert entries[0].reason == "eligible; qualifying pathway(s): lung"
    assert {(e.username, e.role, e.object_id) for e in entries} == {("inv", "investigator", "NJDT-001")}

    start = f.last_seq()
    infusion_date = f.days_ago(40)
    subject = actions.check_record_infusion(investigator, subject, f.infusion_entries(infusion_date), expected_version=3)
    assert (subject.status, subject.infusion_date, subject.version) == ("in_follow_up", infusion_date, 4)
    entries = f.audit_since(start)
    assert [(e.action, e.field, e.new_value) for e in f.flat(entries)] == [
        ("subject.infuse", "status", "in_follow_up"),
        ("subject.infuse", "infusion_date", infusion_date.isoformat()),
        ("visit.schedule", "visits", f"13 visits from {infusion_date.isoformat()}"),
        ("visit.done", "done_on", infusion_date.isoformat()),
        ("record.save", "infusion_date", infusion_date.isoformat()),
        ("record.save", "product_lot", "LOT-2026-001"),
        ("record.save", "donor_code", "DONOR-17"),
        ("record.save", "infusion_weight", "60"),
        ("record.save", "cells_administered", "60000000"),
        ("record.save", "status", "complete"),
    ]
    assert "on the protocol dose" in entries[0].reason

    start = f.last_seq()
    end_date = f.days_ago(1)
    # before Month 12: the rule early_completion wants a reason and a confirmation (issue 15)
    subject = actions.check_end_subject(investigator, subject, Transition.COMPLETE, end_date, "moved abroad", expected_version=4,
                                        confirmed={"early_completion"})  # fmt: skip
    assert (subject.status, subject.end_date, subject.version) == ("completed", end_date, 5)
    entries = f.audit_since(start)
    assert [(e.action, e.field, e.old_value, e.new_value) for e in f.flat(entries[:1])] == [
        ("subject.complete", "status", "in_follow_up", "completed"),
        ("subject.complete", "end_date", "", end_date.isoformat()),
        ("subject.complete", "end_reason", "", "moved abroad"),
    ]
    # the empty records of the visits after the end are no longer expected, one audited event each
    not_expected = FormRecord.objects.filter(subject=subject, status="not_expected")
    assert not_expected.exists()
    assert not not_expected.filter(visit__window_start__lte=end_date).exists()
    assert sorted(e.form_record_id for e in entries[1:] if e.action == "record.mark_not_expected") == sorted(
        not_expected.values_list("pk", flat=True)
    )
    report = verify_chain()
    assert report.ok, report.problem


def test_enrolment_numbers_count_per_site(site, investigator):
    """The second enrolment at a site is NJDT-002; a screening-only subject takes no subject ID."""
    first = f.enrolled_subject(investigator, site)
    f.screened_subject(investigator, site)
    second = f.enrolled_subject(investigator, site)
    assert (first.subject_code, second.subject_code) == ("NJDT-001", "NJDT-002")
    assert second.screening_number == "NJDT-S0003"


def test_infusion_places_the_follow_up_visits(site, investigator):
    """D0 is the infusion date (done); M1..M12 sit at infusion + 30, 61, 91, ..., 365 days with ±7-day windows."""
    infusion_date = f.days_ago(40)
    subject = f.infused_subject(investigator, site, infusion_date)
    visits = list(Visit.objects.filter(subject=subject).exclude(code="SCR").order_by("day"))
    got = [(v.code, v.day, v.target_date, v.window_start, v.window_end) for v in visits]
    want = [
        (code, day, infusion_date + dt.timedelta(days=day), infusion_date + dt.timedelta(days=day - before),
         infusion_date + dt.timedelta(days=day + after))
        for code, day, before, after in FOLLOW_UP
    ]  # fmt: skip
    assert got == want
    m1, m3, m12 = (Visit.objects.get(subject=subject, code=code) for code in ("M1", "M3", "M12"))
    assert m1.target_date - infusion_date == dt.timedelta(days=30)
    assert m3.target_date - infusion_date == dt.timedelta(days=91)
    assert m12.target_date - infusion_date == dt.timedelta(days=365)
    assert (m1.window_end - m1.window_start) == dt.timedelta(days=14)
    d0 = Visit.objects.get(subject=subject, code="D0")
    assert d0.done_on == infusion_date
    assert [v.done_on for v in visits[1:]] == [None] * 12
    # monthly forms every month, organ function / serology / lymphocytes every third month
    assert set(FormRecord.objects.filter(visit=m1).values_list("form_code", flat=True)) == {
        "mrss",
        "ssc_haq",
        "sf36",
        "vital_signs",
    }
    assert set(FormRecord.objects.filter(visit=m3).values_list("form_code", flat=True)) == {
        "mrss", "ssc_haq", "sf36", "organ_function", "serology", "lymphocytes", "vital_signs",
    }  # fmt: skip
    infusion = FormRecord.objects.get(visit=d0, form_code="infusion")
    assert (infusion.status, infusion.version, infusion.updated_by.username) == ("complete", 1, "inv")
    assert infusion.values["cells_administered"]["value"] == 60_000_000.0
    assert infusion.values["infusion_weight"]["value"] == 60.0


def test_infusion_dose_on_target_is_accepted(site, investigator):
    """60 x 10^6 cells at 60 kg is 1 x 10^6 cells/kg: exactly the protocol dose, no confirmation needed."""
    subject = f.enrolled_subject(investigator, site)
    subject = actions.check_record_infusion(investigator, subject, f.infusion_entries(f.days_ago(10), "60", "60000000"))
    assert subject.status == "in_follow_up"


def test_infusion_dose_off_target_needs_confirmation(site, investigator):
    """90 x 10^6 cells at 60 kg is 1.5 x 10^6 cells/kg, 50 % above the dose: refused, then recorded when confirmed."""
    subject = f.enrolled_subject(investigator, site)
    entries = f.infusion_entries(f.days_ago(10), "60", "90000000")
    start = f.last_seq()
    with pytest.raises(EntryRejectedError) as caught:
        actions.check_record_infusion(investigator, subject, entries)
    assert caught.value.field == "cells_administered"
    assert "50.0 % above" in caught.value.rule
    assert "outside the tolerance of ±10 %" in caught.value.rule
    subject.refresh_from_db()
    assert (subject.status, subject.infusion_date, subject.version) == ("enrolled", None, 3)
    assert not Visit.objects.filter(subject=subject, day__gte=0).exists()
    assert f.audit_since(start) == []

    subject = actions.check_record_infusion(investigator, subject, entries, confirmed={"cells_administered"})
    assert subject.status == "in_follow_up"
    transition = f.audit_since(start)[0]
    assert transition.action == "subject.infuse"
    assert transition.reason.startswith("1.5 × 10⁶ cells/kg, 50.0 % above the protocol dose")


def test_infusion_refuses_missing_items_and_a_date_before_enrolment(site, investigator):
    """Every infusion item is required; the infusion cannot precede enrolment. Nothing changes."""
    subject = f.enrolled_subject(investigator, site)  # enrolled 50 days ago
    entries = f.infusion_entries(f.days_ago(10))
    del entries["donor_code"]
    with pytest.raises(EntryRejectedError) as caught:
        actions.check_record_infusion(investigator, subject, entries)
    assert caught.value.field == "donor_code"
    with pytest.raises(InputError) as caught:
        actions.check_record_infusion(investigator, subject, f.infusion_entries(f.days_ago(51)))
    assert caught.value.field == "infusion_date"
    assert "before the enrolment date" in caught.value.rule
    subject.refresh_from_db()
    assert subject.status == "enrolled"


# Transitions the state machine forbids: (how far to take the subject, the refused step).
FORBIDDEN = [
    ("screening", "enrol"), ("screening", "infuse"), ("screening", "complete"), ("screening", "withdraw"),
    ("consented", "consent"), ("consented", "infuse"), ("consented", "die"),
    ("enrolled", "consent"), ("enrolled", "enrol"), ("enrolled", "screen_fail"), ("enrolled", "complete"),
    ("in_follow_up", "infuse"), ("in_follow_up", "enrol"), ("in_follow_up", "screen_fail"),
    ("screen_failed", "consent"), ("completed", "withdraw"),
]  # fmt: skip


def _subject_in(status: str, site, user) -> Subject:
    if status == "screening":
        return f.screened_subject(user, site)
    if status == "consented":
        return f.consented_subject(user, site)
    if status == "enrolled":
        return f.enrolled_subject(user, site)
    if status == "screen_failed":
        return actions.check_screen_fail(user, f.screened_subject(user, site), "not eligible")
    subject = f.infused_subject(user, site)
    if status == "completed":
        subject = actions.check_end_subject(user, subject, Transition.COMPLETE, f.days_ago(1), "moved abroad",
                                            confirmed={"early_completion"})  # fmt: skip
    return subject


def _do(step: str, user, subject: Subject) -> None:
    if step == "consent":
        actions.check_consent(user, subject, "2.0", f.days_ago(5))
    elif step == "screen_fail":
        actions.check_screen_fail(user, subject, "changed mind")
    elif step == "enrol":
        actions.check_enrol(user, subject, f.days_ago(5))
    elif step == "infuse":
        actions.check_record_infusion(user, subject, f.infusion_entries(f.days_ago(2)))
    else:
        actions.check_end_subject(user, subject, Transition(step), f.days_ago(1), "a reason")


@pytest.mark.parametrize(("status", "step"), FORBIDDEN)
def test_forbidden_transition_is_refused_naming_status(site, investigator, status, step):
    """A step the state machine does not allow is refused with InputError on 'status'; nothing is written."""
    subject = _subject_in(status, site, investigator)
    assert subject.status == status
    version, start, visits = subject.version, f.last_seq(), Visit.objects.filter(subject=subject).count()
    with pytest.raises(InputError) as caught:
        _do(step, investigator, subject)
    assert caught.value.field == "status"
    assert "is not allowed for a subject who is" in caught.value.rule
    subject.refresh_from_db()
    assert (subject.status, subject.version) == (status, version)
    assert Visit.objects.filter(subject=subject).count() == visits
    assert f.audit_since(start) == []


def test_terminal_status_allows_nothing(site, investigator):
    """After a screen failure the rule says the status is final."""
    subject = _subject_in("screen_failed", site, investigator)
    assert subject.screen_fail_reason == "not eligible"
    with pytest.raises(InputError) as caught:
        actions.check_consent(investigator, subject, "2.0", f.days_ago(5))
    assert "none (the status is final)" in caught.value.rule


def test_enrol_refused_when_ineligible_names_the_exclusion(site, investigator):
    """A pregnant candidate is ineligible: enrolment is refused and the reason names Pregnancy (and no passing criterion)."""
    subject = f.consented_subject(investigator, site, {**LUNG_ELIGIBLE, "pregnant": True})
    start = f.last_seq()
    with pytest.raises(InputError) as caught:
        actions.check_enrol(investigator, subject, f.days_ago(5))
    assert caught.value.field == "eligibility"
    assert "ineligible" in caught.value.rule
    assert "Pregnancy" in caught.value.rule
    assert "Uncontrolled arrhythmia" not in caught.value.rule  # an exclusion that does not hold is no reason
    subject.refresh_from_db()
    assert (subject.status, subject.subject_code) == ("consented", None)
    assert f.audit_since(start) == []


def test_enrol_refused_when_inclusion_not_met(site, investigator):
    """Without a qualifying pathway (DLCO 80 %) the inclusion criterion is the reason."""
    values = {**LUNG_ELIGIBLE, "dlco_pct_pred": 80}
    subject = f.consented_subject(investigator, site, values)
    with pytest.raises(InputError) as caught:
        actions.check_enrol(investigator, subject, f.days_ago(5))
    assert "ineligible" in caught.value.rule
    assert "At least one qualifying pathway" in caught.value.rule


def test_enrol_refused_when_screening_is_incomplete(site, investigator):
    """Without the vascular access answer the verdict is incomplete, and the reason names the open criterion."""
    values = {k: v for k, v in LUNG_ELIGIBLE.items() if k != "vascular_access"}
    subject = f.consented_subject(investigator, site, values)
    with pytest.raises(InputError) as caught:
        actions.check_enrol(investigator, subject, f.days_ago(5))
    assert caught.value.field == "eligibility"
    assert "incomplete" in caught.value.rule
    assert "No vascular access" in caught.value.rule
    subject.refresh_from_db()
    assert subject.status == "consented"


def test_enrol_refused_with_no_screening_values(site, investigator):
    """A consented subject with empty screening forms cannot be enrolled."""
    subject = f.open_screening(investigator, site)
    subject = actions.check_consent(investigator, subject, "2.0", f.days_ago(5))
    with pytest.raises(InputError) as caught:
        actions.check_enrol(investigator, subject, f.days_ago(1))
    assert "incomplete" in caught.value.rule


def test_subject_action_with_stale_version_is_refused(site, investigator):
    """Optimistic locking of the subject: a step started from an older version is refused, nothing saved."""
    subject = f.screened_subject(investigator, site)
    actions.check_consent(investigator, subject, "2.0", f.days_ago(5), expected_version=1)
    start = f.last_seq()
    with pytest.raises(StaleSubjectError):
        actions.check_screen_fail(investigator, subject, "late", expected_version=1)
    subject.refresh_from_db()
    assert (subject.status, subject.version) == ("consented", 2)
    assert f.audit_since(start) == []


def test_only_investigators_enrol_and_infuse(site, investigator, coordinator):
    """A coordinator may consent but not enrol or infuse (AccessDeniedError naming the permission)."""
    subject = f.consented_subject(coordinator, site)
    with pytest.raises(AccessDeniedError, match="enrol"):
        actions.check_enrol(coordinator, subject, f.days_ago(5))
    subject = actions.check_enrol(investigator, subject, f.days_ago(5))
    with pytest.raises(AccessDeniedError, match="infuse"):
        actions.check_record_infusion(coordinator, subject, f.infusion_entries(f.days_ago(2)))


def test_screen_fail_and_end_steps_need_a_reason(site, investigator):
    """Screen failure, withdrawal, death need a reason; completion does not."""
    subject = f.screened_subject(investigator, site)
    with pytest.raises(InputError) as caught:
        actions.check_screen_fail(investigator, subject, "   ")
    assert caught.value.field == "reason"
    start = f.last_seq()
    failed = actions.check_screen_fail(investigator, subject, " DLCO repeat 40 % ")
    assert (failed.status, failed.screen_fail_reason, failed.end_date) == ("screen_failed", "DLCO repeat 40 %", f.today())
    assert [(e.action, e.field, e.old_value, e.new_value, e.reason, e.role) for e in f.flat(f.audit_since(start))] == [
        ("subject.screen_fail", "status", "screening", "screen_failed", "DLCO repeat 40 %", "investigator"),
        ("subject.screen_fail", "screen_fail_reason", "", "DLCO repeat 40 %", "DLCO repeat 40 %", "investigator"),
        ("subject.screen_fail", "end_date", "", f.today().isoformat(), "DLCO repeat 40 %", "investigator"),
    ]
    infused = f.infused_subject(investigator, site)
    with pytest.raises(InputError) as caught:
        actions.check_end_subject(investigator, infused, Transition.WITHDRAW, f.days_ago(1), "")
    assert caught.value.field == "reason"
    start = f.last_seq()
    ended = actions.check_end_subject(investigator, infused, Transition.DIE, f.days_ago(1), "sepsis")
    assert ended.status == "died"
    entries = [(e.action, e.reason) for e in f.audit_since(start)]
    assert entries[0] == ("subject.die", "sepsis")
    assert set(entries[1:]) == {("record.mark_not_expected", f"died on {f.days_ago(1).isoformat()}: sepsis")}


def test_mark_visit_missed(site, investigator):
    """A missed visit keeps its reason and is audited once; marking it again or a done visit is refused."""
    subject = f.infused_subject(investigator, site)
    m1 = Visit.objects.get(subject=subject, code="M1")
    start = f.last_seq()
    actions.check_mark_visit_missed(investigator, m1, "patient in hospital")
    m1.refresh_from_db()
    assert (m1.missed, m1.missed_reason) == (True, "patient in hospital")
    entries = f.audit_since(start)
    assert [(e.action, e.object_id, e.old_value, e.new_value, e.reason) for e in f.flat(entries)] == [
        ("visit.missed", "NJDT-001/M1", "no", "yes", "patient in hospital")
    ]
    with pytest.raises(InputError, match="already marked missed"):
        actions.check_mark_visit_missed(investigator, m1, "again")
    d0 = Visit.objects.get(subject=subject, code="D0")
    with pytest.raises(InputError, match="cannot be missed"):
        actions.check_mark_visit_missed(investigator, d0, "no")


def test_audit_chain_verifies_after_a_busy_course(site, investigator, coordinator):
    """Many actions by two users: the hash chain is intact and its entry count is the number of entries."""
    f.infused_subject(investigator, site)
    f.screened_subject(coordinator, site)
    report = verify_chain()
    assert report.ok, report.problem
    assert report.entries == f.last_seq()
