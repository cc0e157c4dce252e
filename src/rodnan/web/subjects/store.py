"""Between the database and the core's plans: rows read as snapshots, and a plan written as rows and audit entries.

This is the thin *apply* half of the write path (decision 0008): :func:`apply_plan` writes what a
``plan_*`` function of :mod:`rodnan.core.records` decided, in the caller's transaction, and appends
the plan's audit entries to the chain; it holds no rule of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils import timezone

from rodnan.core.records.model import (
    SCHEDULED_SEQ,
    AuditChange,
    Plan,
    RecordKey,
    RecordSnapshot,
    SubjectSnapshot,
    VisitSnapshot,
)
from rodnan.core.records.states import Flag, ItemFlag, RecordState, RecordStatus
from rodnan.core.schedule import PlannedVisit
from rodnan.web.audit.chain import Change, append
from rodnan.web.crfs.models import FormRecord
from rodnan.web.studies.models import Site, Study
from rodnan.web.subjects.models import Subject, Visit

SUBJECT_FIELDS = (
    "status", "version", "screening_number", "screening_date", "subject_code", "screen_fail_reason", "consent_version",
    "consent_date", "enrolment_date", "infusion_date", "end_date", "end_reason",
)  # fmt: skip
"""The subject's columns a plan sets (as the snapshot's attributes of the same names)."""


def subject_snapshot(subject: Subject) -> SubjectSnapshot:
    """A subject row as the core's snapshot."""
    return SubjectSnapshot(
        label=subject.label, status=subject.status, version=subject.version, screening_number=subject.screening_number,
        screening_date=subject.screening_date, subject_code=subject.subject_code, screen_fail_reason=subject.screen_fail_reason,
        consent_version=subject.consent_version, consent_date=subject.consent_date, enrolment_date=subject.enrolment_date,
        infusion_date=subject.infusion_date, end_date=subject.end_date, end_reason=subject.end_reason,
    )  # fmt: skip


def visit_snapshot(visit: Visit) -> VisitSnapshot:
    """A visit row as the core's snapshot."""
    return VisitSnapshot(visit.code, visit.label, visit.day, visit.target_date, visit.window_start, visit.window_end,
                         visit.done_on, visit.missed, visit.missed_reason)  # fmt: skip


def record_state(record: FormRecord) -> RecordState:
    """A record row's state."""
    return RecordState(
        RecordStatus(record.status),
        frozenset(Flag(f) for f in record.flags or ()),
        record.state_reason,
        {code: frozenset(ItemFlag(f) for f in flags) for code, flags in (record.item_flags or {}).items() if flags},
    )


def record_key(record: FormRecord, visit_code: str | None) -> RecordKey:
    """A record row's key: (visit code or None, form code, sequence number)."""
    return (visit_code if record.visit_id is not None else None, record.form_code, record.seq)


def record_snapshot(record: FormRecord, visit_code: str | None = None, linked_code: str | None = None) -> RecordSnapshot:
    """A record row as the core's snapshot (``visit_code``: its visit's code, read by the caller when needed)."""
    if visit_code is None and record.visit is not None:  # a null visit_id reads as None without a query
        visit_code = record.visit.code
    return RecordSnapshot(
        key=record_key(record, visit_code), values=dict(record.values or {}),
        confirmed_warnings=tuple(record.confirmed_warnings or ()),
        state=record_state(record), version=record.version, protocol_version=record.protocol_version,
        start_date=record.start_date, end_date=record.end_date, visit_code=linked_code,
    )  # fmt: skip


def record_fields(snapshot: RecordSnapshot, user_id: int | None, now: dt.datetime) -> dict[str, Any]:
    """A planned record's content as its row's column values (``protocol_version`` only when the plan sets one;
    ``updated_at``/``updated_by_id`` only once the record has been saved)."""
    state = snapshot.state.as_json()
    fields: dict[str, Any] = {
        "values": dict(snapshot.values), "confirmed_warnings": list(snapshot.confirmed_warnings),
        "status": snapshot.state.status.value, "flags": state["flags"], "state_reason": snapshot.state.reason,
        "item_flags": state["items"], "version": snapshot.version, "start_date": snapshot.start_date,
        "end_date": snapshot.end_date,
    }  # fmt: skip
    if snapshot.protocol_version:
        fields["protocol_version"] = snapshot.protocol_version
    if snapshot.version > 0:
        fields["updated_at"], fields["updated_by_id"] = now, user_id
    return fields


def fill_record(row: FormRecord, snapshot: RecordSnapshot, user: Any, now: dt.datetime) -> FormRecord:
    """Copy a planned record's content onto its row (not saved)."""
    for name, value in record_fields(snapshot, getattr(user, "pk", None), now).items():
        setattr(row, name, value)
    return row


def new_visit(subject: Subject, planned: PlannedVisit) -> Visit:
    """A visit row for a planned visit (not saved)."""
    return Visit(subject=subject, code=planned.code, label=planned.label, day=planned.day, target_date=planned.target,
                 window_start=planned.window_start, window_end=planned.window_end)  # fmt: skip


def audit_changes(audit: Iterable[AuditChange], site_id: int, subject_id: int, pks: Mapping[RecordKey, int]) -> list[Change]:
    """The chain's changes for a plan's audit entries (the record keys resolved to row ids)."""
    return [
        Change(a.action, a.object_type, a.object_id, a.reason, a.items, site_id=site_id, subject_id=subject_id,
               form_record_id=pks.get(a.record) if a.record else None)
        for a in audit
    ]  # fmt: skip


def apply_plan(
    plan: Plan, *, user: Any, role: str, subject: Subject | None = None, study: Study | None = None, site: Site | None = None,
    rows: Mapping[RecordKey, FormRecord] | None = None, source: str = "screen",
) -> Subject | None:  # fmt: skip
    """Write ``plan`` (in the caller's transaction) and append its audit entries; returns the subject row.

    Args:
        plan: what a core plan decided.
        user, role: who acts, and as what.
        subject: the subject row (locked by the caller); None when the plan creates the subject.
        study, site: the new subject's study and site (only when ``subject`` is None).
        rows: record rows the caller already holds, by key (others are looked up).
        source: where the change comes from (screen, import, api:<token>, patient, system).
    """
    now = timezone.now()
    if plan.subject is not None:
        if subject is None:
            assert study is not None
            assert site is not None
            subject = Subject(study=study, site=site)
        for name in SUBJECT_FIELDS:
            setattr(subject, name, getattr(plan.subject, name))
        subject.save()
    if subject is None:
        return None
    pks: dict[RecordKey, int] = {}
    held = dict(rows or {})
    planned = {w.record.key: w.record for w in plan.records}
    version = subject.study.version if plan.new_visits else ""
    for visit_plan in plan.new_visits:
        visit = new_visit(subject, visit_plan)
        visit.save()
        new_rows = []
        for form in visit_plan.forms:
            key: RecordKey = (visit_plan.code, form, SCHEDULED_SEQ)
            new_row = FormRecord(subject=subject, visit=visit, form_code=form, protocol_version=version)
            if key in planned:
                fill_record(new_row, planned.pop(key), user, now)
            new_rows.append(new_row)
        for created in FormRecord.objects.bulk_create(new_rows):
            pks[(visit_plan.code, created.form_code, SCHEDULED_SEQ)] = created.pk
    for write in plan.visits:
        Visit.objects.filter(subject=subject, code=write.code).update(done_on=write.done_on, missed=write.missed,
                                                                       missed_reason=write.missed_reason)  # fmt: skip
    for key, snapshot in planned.items():
        row = held.get(key)
        if row is None:
            visit_code, form, seq = key
            if visit_code is None:
                row = FormRecord.objects.filter(subject=subject, visit__isnull=True, form_code=form, seq=seq).first()
            else:
                row = FormRecord.objects.filter(subject=subject, visit__code=visit_code, form_code=form).first()
        if row is None:  # a new log record
            row = FormRecord(subject=subject, form_code=key[1], seq=key[2], protocol_version=snapshot.protocol_version)
        if snapshot.visit_code:
            row.linked_visit = Visit.objects.get(subject=subject, code=snapshot.visit_code)
        fill_record(row, snapshot, user, now).save()
        pks[key] = row.pk
    for change in plan.audit:
        if change.record is not None and change.record not in pks:
            found = held.get(change.record)
            if found is not None:
                pks[change.record] = found.pk
    append(user=user, role=role, changes=audit_changes(plan.audit, subject.site_id, subject.pk, pks), source=source)
    return subject
