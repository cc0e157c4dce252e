"""Plans of a record: save a form's values (scheduled or log), add a log record, change a record's state.

As for the subject plans, each function checks and computes, and returns a
:class:`rodnan.core.records.model.Plan` or refuses with a named error; the screens, the bulk import
and later the API call the same functions, so a rule exists once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import replace

from rodnan.core.entry import EnteredValue, FormEntryResult, check_form_entry
from rodnan.core.files import FileRef
from rodnan.core.protocol.model import Study
from rodnan.core.records.checks import VISIT_WINDOW, Finding, check_record
from rodnan.core.records.errors import EntryRejectedError
from rodnan.core.records.model import (
    JSON,
    AuditChange,
    ItemDelta,
    Plan,
    RecordSnapshot,
    RecordWrite,
    SubjectSnapshot,
    VisitSnapshot,
    VisitWrite,
)
from rodnan.core.records.states import RecordEvent, RecordStateError, apply_event, check_event
from rodnan.core.values import partial_date_bounds
from rodnan.errors import InputError, RodnanError


class RecordConflictError(RodnanError):
    """The record was saved by someone else after the user opened it (its version moved on)."""

    def __init__(self, record: RecordSnapshot, expected_version: int) -> None:
        super().__init__(f"the record is at version {record.version}, not {expected_version}: it was saved meanwhile")
        self.record = record
        self.expected_version = expected_version


def shown(data: Mapping[str, JSON] | EnteredValue | None) -> str:
    """A stored value (or one just entered) as entered, with its unit ("2.3 g/dL"), or "" when missing; a
    missing-data code as its label and reason ("Not done (ND): sample haemolysed"); an attached file as its name
    and hash ("lab.pdf (sha256 9f86d0…)", so that replacing a file by another of the same name is a change)."""
    if not data:
        return ""
    if isinstance(data, EnteredValue) and data.file is not None:
        return f"{data.raw} (sha256 {data.file.sha256})"
    if not isinstance(data, EnteredValue) and data.get("type") == "file" and not data.get("missing"):
        ref = EnteredValue.from_json(dict(data)).file
        if ref is not None:
            return f"{ref.name} (sha256 {ref.sha256})"
    if isinstance(data, EnteredValue) and data.missing:
        return f"{data.display}: {data.missing_reason}" if data.missing_reason else data.display
    if not isinstance(data, EnteredValue) and data.get("missing"):
        coded = EnteredValue.from_json(dict(data))
        return f"{coded.display}: {coded.missing_reason}" if coded.missing_reason else coded.display
    if isinstance(data, EnteredValue):
        raw, unit = data.raw, data.unit
    else:
        stored_raw, stored_unit = data.get("raw"), data.get("unit")
        if isinstance(stored_raw, str) and (stored_unit is None or isinstance(stored_unit, str)):
            raw, unit = stored_raw, stored_unit
        else:  # not as stored: from_json names the key
            value = EnteredValue.from_json(dict(data))
            raw, unit = value.raw, value.unit
    return f"{raw} {unit}" if unit else raw


def record_label(subject: SubjectSnapshot, record: RecordSnapshot) -> str:
    """Where a record is, for the audit trail: "NJDT-001/M3/mrss" or, for a log record, "NJDT-001/medical_history#2"."""
    visit, form, seq = record.key
    return f"{subject.label}/{visit}/{form}" if visit is not None else f"{subject.label}/{form}#{seq}"


def _log_dates(study: Study, form_code: str, entry: FormEntryResult) -> tuple[str | None, str | None]:
    """A log record's start and end from its items; refuses a missing start or an end before the start."""
    log = study.form_by_code[form_code].log
    if log is None:
        return None, None
    start_item, end_item = log.start, log.end
    start = entry.values.get(start_item)
    end = entry.values.get(end_item) if end_item else None
    if start is None or start.value is None:
        raise EntryRejectedError(entry, start_item, "is required: a log record needs its start date")
    start_text, end_text = str(start.value), (str(end.value) if end is not None and end.value is not None else None)
    if end_text is not None and end_item is not None and partial_date_bounds(end_text)[1] < partial_date_bounds(start_text)[0]:
        raise EntryRejectedError(entry, end_item, f"cannot be before the start ({start_text})")
    return start_text, end_text


def plan_save_record(
    study: Study,
    subject: SubjectSnapshot,
    record: RecordSnapshot,
    entries: Mapping[str, tuple[str, str | None]],
    *,
    today: dt.date,
    expected_version: int,
    confirmed: Collection[str] = (),
    reason: str = "",
    visit: VisitSnapshot | None = None,
    visit_date: dt.date | None = None,
    created: bool = False,
    missing: Mapping[str, tuple[str, str]] | None = None,
    files: Mapping[str, FileRef] | None = None,
) -> Plan:
    """Check and save one record's values: the changed items (old and new), the record's new state, the
    visit marked done by its first values, the confirmed warnings.

    Args:
        study: the protocol.
        subject: the record's subject.
        record: the record as stored (for a new log record: its key and an empty state).
        entries: item code -> (text as typed, unit typed or None).
        today: the site's date.
        expected_version: the version the user started from.
        confirmed: item codes whose soft-range warning the user confirmed, and codes of the warning rules
            confirmed (:mod:`rodnan.core.records.checks`, e.g. ``visit_window``).
        reason: the reason for change (required when a saved value changes).
        visit: the scheduled record's visit (None for a log record).
        visit_date: the date the visit took place (default today), used when the visit is not yet done.
        created: True when the record is new (a log record being added).
        missing: item code -> (missing-data code, reason) for items answered with a code instead of a value.
        files: file item code -> the attached file's metadata (the web stored the bytes after the core's content
            check; a file kept from before is passed again). Replacing a saved file needs a reason, like any change;
            the old file stays in the store and the audit entry holds both hashes.

    Returns:
        The plan; empty when nothing changed.

    Raises:
        RecordConflictError: the record's version is not ``expected_version``.
        RecordStateError: the record's state refuses values (locked, frozen, entered in error,
            not done, not expected).
        EntryRejectedError: errors or unconfirmed warnings, a change without a reason, a missing or
            wrong visit date or log date, or the intervention form (recorded by its own step); a
            lifecycle or protocol check broken (:func:`rodnan.core.records.checks.check_record`: the rule's
            code in the error, e.g. ``[after_end]``), or a warning rule not confirmed (``CheckWarningError``).
    """
    if record.version != expected_version:
        raise RecordConflictError(record, expected_version)
    check_event(record.state, RecordEvent.SAVE)
    entry = check_form_entry(study, record.form_code, entries, confirmed, missing, files)
    if record.form_code == study.intervention_form.code:
        raise EntryRejectedError(entry, "form", "the MSC infusion is recorded by the infusion step and cannot be changed here")
    if not entry.ok:
        raise EntryRejectedError(entry)
    start_date, end_date = _log_dates(study, record.form_code, entry)
    old = record.values
    entered = entry.values
    new = {code: value.as_json() for code, value in entered.items()}
    form_items = study.form_by_code[record.form_code].items
    if old:
        changed = tuple(
            code for code in form_items if (code in old or code in entered) and shown(old.get(code)) != shown(entered.get(code))
        )
    else:  # nothing stored yet: every value entered is a change (an entered value is never blank)
        changed = tuple(code for code in form_items if code in entered)
    reason = reason.strip()
    cleared = [code for code in changed if old.get(code) and code not in entered]
    if cleared and not reason:
        raise EntryRejectedError(entry, "reason", f"a reason is required to clear a saved answer ({', '.join(cleared)})")
    if any(old.get(code) for code in changed) and not reason:
        raise EntryRejectedError(entry, "reason", "a reason for change is required when a saved value is changed")
    where = record_label(subject, record)
    audit: list[AuditChange] = []
    visits: tuple[VisitWrite, ...] = ()
    findings: tuple[Finding, ...] = ()
    if changed or created:  # the lifecycle and cross-record checks: a separate step (rodnan.core.records.checks)
        when = (visit.done_on or visit_date or today) if visit is not None else None
        if visit is not None and visit.done_on is None and when is not None and when > today:
            raise EntryRejectedError(entry, "visit_date", "cannot be in the future")
        already = {VISIT_WINDOW} if visit is not None and visit.done_on is not None else set()  # confirmed when it was set
        findings = check_record(study, record.form_code, entry, subject, visit, when, {*confirmed, *already})
        findings = tuple(f for f in findings if f.code not in already)  # recorded when the visit date was set
    if visit is not None and visit.done_on is None and changed:
        when = visit_date or today
        visits = (VisitWrite(visit.code, when, False),)
        audit.append(AuditChange("visit.done", "visit", f"{subject.label}/{visit.code}", "",
                                 (ItemDelta("done_on", None, when.isoformat()),)))  # fmt: skip
    old_confirmed = set(record.confirmed_warnings)
    newly_confirmed = sorted(code for code in entry.confirmed_warnings if code not in old_confirmed or code in changed)
    if not changed and not newly_confirmed and set(entry.confirmed_warnings) == old_confirmed and not created:
        return Plan(entry=entry)
    state = apply_event(record.state, RecordEvent.SAVE, complete=entry.complete, changed_items=changed)
    saved = replace(
        record, values=new, confirmed_warnings=tuple(sorted(entry.confirmed_warnings)), state=state, version=record.version + 1,
        protocol_version=record.protocol_version or study.protocol.version, start_date=start_date or record.start_date,
        end_date=end_date,
    )  # fmt: skip
    items = [ItemDelta(code, old.get(code), new.get(code)) for code in changed]
    if state.status is not record.state.status:
        items.append(ItemDelta("status", record.state.status.value, state.status.value))
    action = "record.add" if created else "record.save"
    if items or created:
        audit.append(AuditChange(action, "record", where, reason if any(old.get(c) for c in changed) else "", tuple(items),
                                 record.key))  # fmt: skip
    if newly_confirmed:
        audit.append(AuditChange("record.confirm_warning", "record", where, reason,
                                 tuple(ItemDelta(code, None, entry.confirmed_warnings[code].rule) for code in newly_confirmed),
                                 record.key))  # fmt: skip
    if findings:
        noted = tuple(ItemDelta(f.field, None, f"{f.severity}: {f.rule}") for f in findings)
        audit.append(AuditChange("record.findings", "record", where, "", noted, record.key))
    return Plan(visits=visits, records=(RecordWrite(saved, created=created),), audit=tuple(audit), entry=entry,
                findings=findings)  # fmt: skip


def plan_add_log_record(
    study: Study,
    subject: SubjectSnapshot,
    form_code: str,
    seq: int,
    entries: Mapping[str, tuple[str, str | None]],
    *,
    today: dt.date,
    confirmed: Collection[str] = (),
    visit_code: str | None = None,
    missing: Mapping[str, tuple[str, str]] | None = None,
    files: Mapping[str, FileRef] | None = None,
) -> Plan:
    """Add the ``seq``-th entry of a log form (e.g. one medical-history condition) for a subject.

    Raises:
        InputError: ``form_code`` is not a log form of the protocol.
        EntryRejectedError: as :func:`plan_save_record` (a log record needs its start date).
    """
    form = study.form_by_code.get(form_code)
    if form is None or form.log is None:
        raise InputError("form", "is not a log form of the protocol", form_code)
    record = RecordSnapshot((None, form_code, seq), protocol_version=study.protocol.version, visit_code=visit_code)
    return plan_save_record(
        study,
        subject,
        record,
        entries,
        today=today,
        expected_version=0,
        confirmed=confirmed,
        created=True,
        missing=missing,
        files=files,
    )


def plan_record_event(
    subject: SubjectSnapshot, record: RecordSnapshot, event: RecordEvent, *, reason: str = "", items: Collection[str] = ()
) -> Plan:
    """Change a record's state (not done, not expected, query, verify, sign, freeze, lock, entered in error, ...).

    Raises:
        RecordStateError: the state does not allow ``event``.
        InputError: a reason is required and missing; ``save`` is not a state change (use plan_save_record).
    """
    if event is RecordEvent.SAVE:
        raise InputError("event", "values are saved by plan_save_record, not as a state change", event.value)
    state = apply_event(record.state, event, reason=reason, items=items)
    saved = replace(record, state=state, version=record.version + 1)
    before, after = record.state.as_json(), state.as_json()
    deltas = tuple(ItemDelta(name, before[name], after[name]) for name in ("status", "flags", "reason", "items")
                   if before[name] != after[name])  # fmt: skip
    change = AuditChange(f"record.{event.value}", "record", record_label(subject, record), reason.strip(), deltas, record.key)
    return Plan(records=(RecordWrite(saved),), audit=(change,))


__all__ = [
    "RecordConflictError",
    "RecordStateError",
    "plan_add_log_record",
    "plan_record_event",
    "plan_save_record",
    "record_label",
    "shown",
]
