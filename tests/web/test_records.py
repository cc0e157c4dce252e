"""Records through the web: log records (medical history), record states, visits after a subject's end, and one rule
for the screens and the import."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

from rodnan.core.lifecycle import Transition
from rodnan.core.records.errors import EntryRejectedError
from rodnan.core.records.states import RecordEvent, RecordStateError
from rodnan.core.simulate.cohort import SimulatedCohort, simulate_cohort
from rodnan.web.audit.chain import verify_chain
from rodnan.web.audit.models import AuditEntry
from rodnan.web.crfs.actions import check_add_log_record, check_record_event, check_save_form, shown
from rodnan.web.crfs.models import FormRecord
from rodnan.web.imports import check_import_cohort
from rodnan.web.studies.protocol import study_definition
from rodnan.web.subjects import actions
from rodnan.web.subjects.models import Subject, Visit
from tests.web import factories as f

pytestmark = pytest.mark.django_db

HISTORY = {"mh_term": ("Raynaud's phenomenon", None), "mh_start": ("2019-03", None), "mh_ongoing": ("yes", None)}


def test_log_records_are_numbered_per_subject_and_carry_their_partial_dates(site, coordinator):
    subject = f.open_screening(coordinator, site)
    start = f.last_seq()
    first = check_add_log_record(coordinator, subject, "medical_history", HISTORY)
    appendix = {
        "mh_term": ("Appendicectomy", None),
        "mh_start": ("1998", None),
        "mh_ongoing": ("no", None),
        "mh_end": ("1998", None),
    }
    second = check_add_log_record(coordinator, subject, "medical_history", appendix)
    assert [(r.seq, r.visit_id, r.start_date, r.end_date, r.status) for r in (first, second)] == [
        (1, None, "2019-03", None, "complete"),
        (2, None, "1998", "1998", "complete"),
    ]
    entries = f.audit_since(start)
    assert [(e.action, e.object_id, e.form_record_id) for e in entries] == [
        ("record.add", "NJDT-S0001/medical_history#1", first.pk),
        ("record.add", "NJDT-S0001/medical_history#2", second.pk),
    ]
    assert [(i["field"], shown(i["new"]) if isinstance(i["new"], dict) else i["new"]) for i in entries[0].items] == [
        ("mh_term", "Raynaud's phenomenon"), ("mh_start", "2019-03"), ("mh_ongoing", "yes"), ("status", "complete"),
    ]  # fmt: skip
    assert verify_chain().ok


@pytest.mark.parametrize(
    ("entries", "field", "rule"),
    [
        ({**HISTORY, "mh_start": ("2019-13", None)}, "mh_start", "must be a date"),
        (
            {"mh_term": ("Raynaud's phenomenon", None), "mh_ongoing": ("yes", None)},
            "mh_start",
            "a log record needs its start date",
        ),
        ({**HISTORY, "mh_ongoing": ("no", None), "mh_end": ("2019-02", None)}, "mh_end", "cannot be before the start (2019-03)"),
    ],
)
def test_a_log_record_with_a_bad_date_is_refused_by_name_and_nothing_is_stored(site, coordinator, entries, field, rule):
    subject = f.open_screening(coordinator, site)
    start = f.last_seq()
    with pytest.raises(EntryRejectedError) as refused:
        check_add_log_record(coordinator, subject, "medical_history", entries)
    issue = refused.value.entry.errors.get(field)
    assert rule in (issue.rule if issue else refused.value.rule)
    assert (refused.value.field if not issue else field) == field
    assert FormRecord.objects.filter(subject=subject, visit__isnull=True).count() == 0
    assert f.audit_since(start) == []


def test_the_subject_page_lists_the_log_and_adds_an_entry(client, site, coordinator):
    subject = f.open_screening(coordinator, site)
    check_add_log_record(coordinator, subject, "medical_history", HISTORY)
    client.force_login(coordinator)
    page = client.get(f"/subjects/{subject.pk}/").content.decode()
    assert "Medical history" in page
    assert "Raynaud&#39;s phenomenon" in page
    assert f"/subjects/{subject.pk}/log/medical_history/add/" in page
    form = client.get(f"/subjects/{subject.pk}/log/medical_history/add/")
    assert form.status_code == 200
    response = client.post(f"/subjects/{subject.pk}/log/medical_history/add/", {
        "v_mh_term": "Hypertension", "v_mh_start": "2021", "v_mh_ongoing": "yes"})  # fmt: skip
    assert response.status_code == 302
    added = FormRecord.objects.get(subject=subject, form_code="medical_history", seq=2)
    assert (added.values["mh_term"]["value"], added.start_date) == ("Hypertension", "2021")
    bad = client.post(
        f"/subjects/{subject.pk}/log/medical_history/add/", {"v_mh_term": "Gout", "v_mh_start": "21", "v_mh_ongoing": "no"}
    )
    assert bad.status_code == 422
    assert FormRecord.objects.filter(subject=subject, form_code="medical_history").count() == 2


def test_a_monitor_sees_the_log_but_cannot_add_to_it(client, site, coordinator):
    subject = f.open_screening(coordinator, site)
    monitor = f.make_user("mon", "monitor", site)
    client.force_login(monitor)
    assert "log/medical_history/add/" not in client.get(f"/subjects/{subject.pk}/").content.decode()
    client.post(
        f"/subjects/{subject.pk}/log/medical_history/add/", {"v_mh_term": "Gout", "v_mh_start": "2020", "v_mh_ongoing": "no"}
    )
    assert FormRecord.objects.filter(subject=subject, visit__isnull=True).count() == 0


def test_a_record_marked_not_done_refuses_values_until_reopened(site, coordinator):
    subject = f.open_screening(coordinator, site)
    record = f.scr_record(subject, "serology")
    marked = check_record_event(coordinator, record, RecordEvent.MARK_NOT_DONE, reason="sample haemolysed")
    assert (marked.status, marked.state_reason, marked.version) == ("not_done", "sample haemolysed", 1)
    with pytest.raises(RecordStateError, match="reopen it"):
        check_save_form(coordinator, marked, {"igg": ("12", None)}, expected_version=1)
    entry = AuditEntry.objects.get(action="record.mark_not_done")
    assert (entry.reason, entry.form_record_id) == ("sample haemolysed", record.pk)
    reopened = check_record_event(coordinator, marked, RecordEvent.REOPEN)
    check_save_form(coordinator, reopened, {"igg": ("12", None)}, expected_version=2, visit_date=subject.screening_date)
    assert FormRecord.objects.get(pk=record.pk).status in ("in_progress", "complete")


def test_after_a_death_later_visits_are_not_expected_on_the_page_and_refuse_values(client, site, investigator):
    subject = f.infused_subject(investigator, site, f.days_ago(45))
    died = f.days_ago(10)  # day 35: month 1's window (days 23-37) opened before it, month 2's (from day 54) after
    subject = actions.check_end_subject(investigator, subject, Transition.DIE, died, "sepsis")
    later = Visit.objects.filter(subject=subject, window_start__gt=died)
    assert later.exists()
    statuses = set(FormRecord.objects.filter(visit__in=later).values_list("status", "state_reason"))
    assert statuses == {("not_expected", f"died on {died.isoformat()}: sepsis")}
    record = FormRecord.objects.filter(visit__in=later, form_code="mrss").order_by("visit__day").first()
    with pytest.raises(RecordStateError, match="not expected"):
        check_save_form(investigator, record, {"mrss_face": ("1", None)}, expected_version=record.version)
    client.force_login(investigator)
    page = client.get(f"/subjects/{subject.pk}/").content.decode()
    assert "Not expected" in page
    entry_page = client.get(f"/forms/{record.pk}/").content.decode()
    assert "this record takes no values" in entry_page


def test_the_screen_and_the_import_refuse_the_same_input_with_the_same_named_error(site, investigator, monkeypatch):
    """A visit dated before the infusion: the same field and rule through the form save and through the bulk import."""
    # through the screen
    infused = f.infused_subject(investigator, site, f.days_ago(40))
    record = FormRecord.objects.get(subject=infused, visit__code="M1", form_code="mrss")
    before = infused.infusion_date - dt.timedelta(days=3)
    with pytest.raises(EntryRejectedError) as screen:
        check_save_form(investigator, record, {"mrss_face": ("1", None)}, expected_version=0, visit_date=before)
    screen_error = (screen.value.field, screen.value.rule.replace(infused.infusion_date.isoformat(), "<infusion>")
                    .replace(before.isoformat(), "<before>"))  # fmt: skip
    # through the import: the first simulated subject's month-1 values dated three days before its infusion
    cohort = simulate_cohort(study_definition(site.study), 1, seed=3)
    infusion = dt.date.fromisoformat(str(cohort.subjects["infusion_date"].iloc[0]))
    original = SimulatedCohort.value_columns

    def moved(self: SimulatedCohort, first: int = 0, stop: int | None = None, subjects: Sequence[int] | None = None
              ) -> dict[str, list[str]]:  # fmt: skip
        table = original(self, first, stop, subjects)
        table["date"] = [(infusion - dt.timedelta(days=3)).isoformat() if visit == "M1" else date
                         for visit, date in zip(table["visit"], table["date"], strict=True)]  # fmt: skip
        return table

    monkeypatch.setattr(SimulatedCohort, "value_columns", moved)
    today = dt.date.fromisoformat(str(cohort.subjects["end_date"].iloc[0] or infusion.isoformat())) + dt.timedelta(days=400)
    report = check_import_cohort(investigator, [site], cohort, today=today, as_simulated=True)
    imported = Subject.objects.exclude(pk=infused.pk).get()
    early = (infusion - dt.timedelta(days=3)).isoformat()
    rejected = {(field, rule.replace(infusion.isoformat(), "<infusion>").replace(early, "<before>"))
                for _, visit, _, field, rule in report.rejected if visit == "M1"}  # fmt: skip
    assert screen_error == ("visit_date", "[before_infusion] <before> is before the infusion (<infusion>)")
    assert screen_error in rejected
    assert not FormRecord.objects.filter(subject=imported, visit__code="M1").exclude(values={}).exists()
    assert verify_chain().ok
