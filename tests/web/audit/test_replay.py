"""Replay and reconcile against the database: data entered through the screens' actions verify; a clinical
value, a subject's status or a record's state changed behind the application's back (raw SQL, no audit
entry) is found and named (issue 14, point 6: the three cases that need the replay). SQLite and PostgreSQL
(``RODNAN_TEST_DATABASE``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection

from rodnan.core.records.states import RecordEvent
from rodnan.web.audit.chain import write_checkpoint
from rodnan.web.audit.replay import VerifyReport, verify_and_reconcile
from rodnan.web.crfs.actions import check_record_event
from rodnan.web.crfs.models import FormRecord
from rodnan.web.subjects.actions import check_mark_visit_missed
from rodnan.web.subjects.models import Subject, Visit
from tests.candidates import LUNG_ELIGIBLE
from tests.web import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def entered(site: Any, investigator: Any) -> Subject:
    """A consented subject whose screening ESR is 14 mm/h and a screening record marked not done, a second
    subject screened, all through the actions; a checkpoint of the head; everything verifies."""
    subject = f.consented_subject(investigator, site, {**LUNG_ELIGIBLE, "esr": 14})
    check_record_event(investigator, f.scr_record(subject, "lymphocytes"), RecordEvent.MARK_NOT_DONE, reason="sample lost")
    f.screened_subject(investigator, site)
    write_checkpoint()
    assert verify_and_reconcile().ok
    return Subject.objects.get(pk=subject.pk)


def sql(statement: str, params: tuple[object, ...] = ()) -> None:
    """An UPDATE behind the application's back (no audit entry)."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def differences(expected: int) -> list[str]:
    report = verify_and_reconcile()
    assert report.chain.ok, report.chain.problem  # the chain itself is intact: only the replay can tell
    assert not report.ok
    assert report.difference_count == expected, [str(d) for d in report.differences]
    return [str(d) for d in report.differences]


def test_data_entered_through_the_actions_reconcile_with_the_trail(site: Any, investigator: Any) -> None:
    subject = f.consented_subject(investigator, site, {**LUNG_ELIGIBLE, "esr": 14})
    check_record_event(investigator, f.scr_record(subject, "lymphocytes"), RecordEvent.MARK_NOT_DONE, reason="sample lost")
    check_record_event(investigator, f.scr_record(subject, "lymphocytes"), RecordEvent.REOPEN)
    infused = f.infused_subject(investigator, site)
    check_mark_visit_missed(investigator, Visit.objects.get(subject=infused, code="M1"), "snowed in")
    report: VerifyReport = verify_and_reconcile()
    assert report.ok, [str(d) for d in report.differences]
    assert (report.subjects, report.records, report.visits) == (
        Subject.objects.count(),
        FormRecord.objects.count(),
        Visit.objects.count(),
    )
    assert report.clinical_entries > 10


def test_a_clinical_value_changed_with_no_entry(entered: Subject) -> None:
    record = f.scr_record(entered, "screening")
    assert record.values["esr"]["raw"] == "14"
    forged = {**record.values, "esr": {**record.values["esr"], "raw": "99", "value": 99.0, "display": "99 mm/h"}}
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    sql(f'UPDATE crfs_formrecord SET "values" = %s{cast} WHERE id = %s', (json.dumps(forged), record.pk))
    assert differences(1) == ["subject NJDT-S0001, NJDT-S0001/SCR/screening, esr: stored 99, trail 14"]  # typed without a unit


def test_a_subject_status_changed_with_no_entry(entered: Subject) -> None:
    assert entered.status == "consented"
    sql("UPDATE subjects_subject SET status = %s WHERE id = %s", ("withdrawn", entered.pk))
    assert differences(1) == ["subject NJDT-S0001, status: stored 'withdrawn', trail 'consented'"]


def test_a_record_state_changed_with_no_entry(entered: Subject) -> None:
    record = f.scr_record(entered, "lymphocytes")
    assert (record.status, record.state_reason) == ("not_done", "sample lost")
    sql("UPDATE crfs_formrecord SET status = %s, state_reason = %s WHERE id = %s", ("not_started", "", record.pk))
    assert differences(2) == [
        "subject NJDT-S0001, NJDT-S0001/SCR/lymphocytes, status: stored 'not_started', trail 'not_done'",
        "subject NJDT-S0001, NJDT-S0001/SCR/lymphocytes, reason: stored '', trail 'sample lost'",
    ]


def test_a_visit_date_and_a_value_in_an_untouched_record_with_no_entry(entered: Subject) -> None:
    """Beyond the three cases: a visit's date moved, and a value typed into a record that has no entry at all."""
    done = Visit.objects.get(subject=entered, code="SCR").done_on
    assert done is not None
    sql("UPDATE subjects_visit SET done_on = %s WHERE subject_id = %s AND code = %s", ("2020-01-01", entered.pk, "SCR"))
    untouched = FormRecord.objects.filter(subject=entered, status="not_started", values={}).order_by("id").first()
    assert untouched is not None
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    sql(f'UPDATE crfs_formrecord SET "values" = %s{cast} WHERE id = %s', (json.dumps({"x": {"raw": "1"}}), untouched.pk))
    where = f"NJDT-S0001/{untouched.visit.code}/{untouched.form_code}"
    assert differences(3) == [
        f"subject NJDT-S0001, {where}, entries: stored 'status not_started, 1 value(s)', trail 'no entry'",
        f"subject NJDT-S0001, {where}, x: stored 1, trail (none)",
        f"subject NJDT-S0001, NJDT-S0001/SCR, done_on: stored '2020-01-01', trail '{done.isoformat()}'",
    ]


def test_a_wiped_trail_under_existing_data_fails(entered: Subject, db_vendor: str) -> None:
    """Entries and head row deleted (and no checkpoint to compare with): the chain is an empty, intact chain,
    but every subject and every record holding values is named."""
    with connection.cursor() as cursor:
        if db_vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_entry_no_delete")
        cursor.execute("DELETE FROM audit_auditentry")
        cursor.execute("UPDATE audit_audithead SET seq = 0, last_hash = %s", ("0" * 64,))
    report = verify_and_reconcile(checkpoints=False)
    assert report.chain.ok
    assert report.chain.entries == 0
    assert not report.ok
    opened = [d for d in report.differences if d.item == "entries" and not d.where]
    assert [d.subject for d in opened] == ["NJDT-S0001", "NJDT-S0002"]
