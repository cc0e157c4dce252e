"""Saving a form: validate with the core, detect edit conflicts, write the values and one audit
entry per changed item (old value, new value, reason) in one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from rodnan.core.entry import EnteredValue, FormEntryResult, check_form_entry
from rodnan.core.protocol import Study as StudyDef
from rodnan.errors import RodnanError
from rodnan.web.accounts.access import require
from rodnan.web.accounts.roles import Permission
from rodnan.web.audit.chain import Change, ItemChange, append
from rodnan.web.crfs.models import FormRecord
from rodnan.web.studies.protocol import study_definition
from rodnan.web.subjects.actions import EntryRejectedError
from rodnan.web.subjects.models import Visit


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


def shown(data: Mapping[str, Any] | EnteredValue | None) -> str:
    """A stored value (or one just entered) as entered, with its unit ("2.3 g/dL"), or "" when missing."""
    if not data:
        return ""
    value = data if isinstance(data, EnteredValue) else EnteredValue.from_json(dict(data))
    return value.raw + (f" {value.unit}" if value.unit else "")


@dataclass(frozen=True)
class SaveResult:
    """A saved form: the record, the items that changed, the core's entry result (derived scores)."""

    record: FormRecord
    changed: tuple[str, ...]
    entry: FormEntryResult
    visit: Visit  # as saved (done_on set by the first save of a value)


def check_save_form(
    user: Any,
    record: FormRecord,
    entries: Mapping[str, tuple[str, str | None]],
    *,
    expected_version: int,
    confirmed: Collection[str] = (),
    reason: str = "",
    visit_date: dt.date | None = None,
) -> SaveResult:
    """Validate and save one form.

    Raises:
        AccessDeniedError: the user may not enter data at the subject's site.
        EditConflictError: the record changed since ``expected_version``.
        EntryRejectedError: errors or unconfirmed warnings (all of them, in ``entry``), a change of a
            saved value without a reason, a missing or future visit date, or the infusion form
            (which only :func:`rodnan.web.subjects.actions.check_record_infusion` writes).
    """
    role = require(user, Permission.ENTER_DATA, record.subject.site_id)
    if record.version != expected_version:  # stale already when read: the conflict comes first, as below
        raise EditConflictError(FormRecord.objects.select_related("updated_by").get(pk=record.pk), expected_version)
    # The entry checks need no database: done before the transaction, so the write lock is held only
    # for the version check, the writes and the audit entries (SQLite has one writer at a time).
    definition = study_definition(record.subject.study)  # the record's study, read without its protocol text
    entry = check_form_entry(definition, record.form_code, entries, confirmed)
    if record.form_code == "infusion":  # only check_record_infusion writes it: it checks the dose and plans the visits
        raise EntryRejectedError(entry, "form", "the MSC infusion is recorded by the infusion step and cannot be changed here")
    if not entry.ok:
        raise EntryRejectedError(entry)
    with transaction.atomic():
        return _write_form(user, role.code, record, entry, definition, expected_version, reason, visit_date)


def _write_form(user: Any, role_code: str, record: FormRecord, entry: FormEntryResult, definition: StudyDef,
                expected_version: int, reason: str, visit_date: dt.date | None) -> SaveResult:  # fmt: skip
    # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the outer join to updated_by
    current = FormRecord.objects.select_for_update(of=("self",)).select_related("updated_by", "subject").get(pk=record.pk)
    if current.version != expected_version:
        raise EditConflictError(current, expected_version)
    old: dict[str, Any] = dict(current.values or {})
    new = {code: value.as_json() for code, value in entry.values.items()}
    old_shown = {code: shown(data) for code, data in old.items()}
    new_shown = {code: shown(value) for code, value in entry.values.items()}
    changed = tuple(
        code for code in definition.form_by_code[current.form_code].items if old_shown.get(code, "") != new_shown.get(code, "")
    )
    reason = reason.strip()
    if any(old.get(code) for code in changed) and not reason:
        raise EntryRejectedError(entry, "reason", "a reason for change is required when a saved value is changed")
    visit = Visit.objects.select_for_update().get(pk=current.visit_id)
    visit_changes: list[Change] = []
    subject = current.subject
    if visit.done_on is None and changed:
        when = visit_date or timezone.localdate()
        if when > timezone.localdate():
            raise EntryRejectedError(entry, "visit_date", "cannot be in the future")
        if subject.screening_date and visit.day >= 0 and subject.infusion_date and when < subject.infusion_date:
            raise EntryRejectedError(entry, "visit_date", f"cannot be before the infusion ({subject.infusion_date.isoformat()})")
        visit.done_on, visit.missed = when, False
        visit.save(update_fields=["done_on", "missed"])
        visit_changes.append(Change("visit.done", "visit", f"{subject.label}/{visit.code}",
                                    items=(ItemChange("done_on", "", when.isoformat()),),
                                    site_id=subject.site_id, subject_id=subject.pk))  # fmt: skip
    old_confirmed = set(current.confirmed_warnings or [])
    newly_confirmed = sorted(code for code in entry.confirmed_warnings if code not in old_confirmed or code in changed)
    if not changed and not newly_confirmed and set(entry.confirmed_warnings) == old_confirmed:
        return SaveResult(current, (), entry, visit)
    current.values = new
    current.confirmed_warnings = sorted(entry.confirmed_warnings)
    current.status = FormRecord.Status.COMPLETE if entry.complete else FormRecord.Status.INCOMPLETE
    current.version += 1
    current.updated_at, current.updated_by = timezone.now(), user
    current.save()
    where = f"{subject.label}/{visit.code}/{current.form_code}"
    append(user=user, role=role_code, changes=[
        *visit_changes,
        *(Change("form.save", "form", where, reason if old.get(code) else "",
                 (ItemChange(code, old_shown.get(code, ""), new_shown.get(code, "")),),
                 site_id=subject.site_id, subject_id=subject.pk, form_record_id=current.pk)
          for code in changed),
        *(Change("form.confirm_warning", "form", where, reason, (ItemChange(code, "", entry.confirmed_warnings[code].rule),),
                 site_id=subject.site_id, subject_id=subject.pk, form_record_id=current.pk)
          for code in newly_confirmed),
    ])  # fmt: skip
    return SaveResult(current, changed, entry, visit)
