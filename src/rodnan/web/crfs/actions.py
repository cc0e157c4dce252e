"""Saving records from the screens: a form's values (scheduled or log), a new log record, a record's state.

Each ``check_*`` checks the user's role, reads the rows as snapshots, asks the core's plan
(:mod:`rodnan.core.records.record_plans`: entry checks, the state's rules, the changed items, the
visit done, the audit entries) and writes it in one transaction. The bulk import calls the same plans.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from rodnan.core.entry import FormEntryResult
from rodnan.core.records import record_plans as plans
from rodnan.core.records.errors import EntryRejectedError
from rodnan.core.records.record_plans import RecordConflictError, shown
from rodnan.core.records.states import RecordEvent
from rodnan.errors import RodnanError
from rodnan.web.accounts.access import require
from rodnan.web.accounts.roles import Permission
from rodnan.web.crfs.models import FormRecord
from rodnan.web.studies.protocol import study_definition
from rodnan.web.subjects.models import Subject, Visit
from rodnan.web.subjects.store import apply_plan, record_snapshot, subject_snapshot, visit_snapshot

__all__ = ["EditConflictError", "EntryRejectedError", "SaveResult", "check_add_log_record", "check_record_event",
           "check_save_form", "shown"]  # fmt: skip


class EditConflictError(RodnanError):
    """Someone saved the form after this user opened it: the save is refused and nothing is lost.

    ``current`` is the record as now stored; the view shows it beside the values the user typed.
    """

    def __init__(self, current: FormRecord, expected_version: int) -> None:
        who = current.updated_by.username if current.updated_by else "someone"
        when = timezone.localtime(current.updated_at).strftime("%Y-%m-%d %H:%M") if current.updated_at else "meanwhile"
        super().__init__(
            f"this form was saved by {who} at {when} (version {current.version}) after you opened it "
            f"(version {expected_version}); compare both versions and save again"
        )
        self.current = current


@dataclass(frozen=True)
class SaveResult:
    """A saved record: the row, the items that changed, the core's entry result (derived scores), its visit."""

    record: FormRecord
    changed: tuple[str, ...]
    entry: FormEntryResult
    visit: Visit | None  # as saved (done_on set by the first save of a value); None for a log record


def _conflict(record: FormRecord, expected_version: int) -> EditConflictError:
    return EditConflictError(FormRecord.objects.select_related("updated_by").get(pk=record.pk), expected_version)


def check_save_form(
    user: Any,
    record: FormRecord,
    entries: Mapping[str, tuple[str, str | None]],
    *,
    expected_version: int,
    confirmed: Collection[str] = (),
    reason: str = "",
    visit_date: dt.date | None = None,
    source: str = "screen",
    missing: Mapping[str, tuple[str, str]] | None = None,
) -> SaveResult:
    """Validate and save one record's values (and missing-data codes: item -> (code, reason)).

    Raises:
        AccessDeniedError: the user may not enter data at the subject's site.
        EditConflictError: the record changed since ``expected_version``.
        RecordStateError: the record's state refuses values (locked, frozen, not done, not expected, ...).
        EntryRejectedError: errors or unconfirmed warnings (all of them, in ``entry``), a change of a
            saved value without a reason, a missing or future visit date, or the infusion form
            (which only :func:`rodnan.web.subjects.actions.check_record_infusion` writes).
    """
    role = require(user, Permission.ENTER_DATA, record.subject.site_id)
    if record.version != expected_version:  # stale already when read: the conflict comes first
        raise _conflict(record, expected_version)
    definition = study_definition(record.subject.study)
    with transaction.atomic():
        # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the outer join to updated_by
        current = FormRecord.objects.select_for_update(of=("self",)).select_related("subject", "visit").get(pk=record.pk)
        visit = Visit.objects.select_for_update().get(pk=current.visit_id) if current.visit_id else None
        subject = current.subject
        snapshot = record_snapshot(current, visit.code if visit else None)
        try:
            plan = plans.plan_save_record(
                definition, subject_snapshot(subject), snapshot, entries, today=timezone.localdate(),
                expected_version=expected_version, confirmed=confirmed, reason=reason,
                visit=visit_snapshot(visit) if visit else None, visit_date=visit_date, missing=missing,
            )  # fmt: skip
        except RecordConflictError:
            raise _conflict(record, expected_version) from None
        entry = plan.entry
        assert entry is not None
        if plan.empty:
            return SaveResult(current, (), entry, visit)
        apply_plan(plan, user=user, role=role.code, subject=subject, rows={snapshot.key: current}, source=source)
        changed = tuple(d.field for a in plan.audit if a.action in ("record.save", "record.add") for d in a.items
                        if d.field != "status")  # fmt: skip
        if visit is not None:
            visit.refresh_from_db()
        return SaveResult(current, changed, entry, visit)


def check_add_log_record(
    user: Any,
    subject: Subject,
    form_code: str,
    entries: Mapping[str, tuple[str, str | None]],
    *,
    confirmed: Collection[str] = (),
    source: str = "screen",
    missing: Mapping[str, tuple[str, str]] | None = None,
) -> FormRecord:
    """Add one entry of a log form (e.g. a medical-history condition) to a subject: the next sequence number.

    Raises:
        AccessDeniedError: the user may not enter data at the subject's site.
        InputError: not a log form; EntryRejectedError: as :func:`check_save_form` (a start date is required).
    """
    role = require(user, Permission.ENTER_DATA, subject.site_id)
    definition = study_definition(subject.study)
    with transaction.atomic():
        locked = Subject.objects.select_for_update().select_related("study").get(pk=subject.pk)
        last = FormRecord.objects.filter(subject=locked, visit__isnull=True, form_code=form_code).aggregate(n=Max("seq"))["n"]
        plan = plans.plan_add_log_record(definition, subject_snapshot(locked), form_code, (last or 0) + 1, entries,
                                         today=timezone.localdate(), confirmed=confirmed, missing=missing)  # fmt: skip
        apply_plan(plan, user=user, role=role.code, subject=locked, source=source)
        key = plan.records[0].record.key
        return FormRecord.objects.get(subject=locked, visit__isnull=True, form_code=key[1], seq=key[2])


def check_record_event(
    user: Any, record: FormRecord, event: RecordEvent, *, reason: str = "", items: Collection[str] = (),
    permission: Permission = Permission.ENTER_DATA, source: str = "screen", expected_version: int | None = None,
) -> FormRecord:  # fmt: skip
    """Change a record's state (not done, reopen, not expected, ...; later: query, verify, sign, freeze, lock).

    ``permission`` is what the event needs (data management steps come with their own permissions);
    ``expected_version``, when given, is the version the user saw (a screen passes it).

    Raises:
        AccessDeniedError: the user lacks ``permission`` at the subject's site.
        EditConflictError: the record changed since ``expected_version``.
        RecordStateError: the record's state does not allow the event; InputError: a reason is missing.
    """
    role = require(user, permission, record.subject.site_id)
    with transaction.atomic():
        current = FormRecord.objects.select_for_update(of=("self",)).select_related("subject", "visit").get(pk=record.pk)
        if expected_version is not None and current.version != expected_version:
            raise _conflict(current, expected_version)
        snapshot = record_snapshot(current, current.visit.code if current.visit is not None else None)
        plan = plans.plan_record_event(subject_snapshot(current.subject), snapshot, event, reason=reason, items=items)
        apply_plan(plan, user=user, role=role.code, subject=current.subject, rows={snapshot.key: current}, source=source)
        return current
