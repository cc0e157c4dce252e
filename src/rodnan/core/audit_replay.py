"""Replay the audit trail into the state it describes, and reconcile that state with the stored rows.

No Django here: the web application (``rodnan audit verify``), an export or an offline tool folds the
entries of a trail read from anywhere, in ``seq`` order, into a :class:`Replay`, then compares it with
plain snapshots of the stored rows (:class:`StoredSubject`, :class:`StoredRecord`, :class:`StoredVisit`)
through :func:`reconcile`, which yields every :class:`Difference`. Decision 0014 explains the rules; in
short, the trail holds one entry per event (decision 0013), written by the core's plans:

- ``subject.*`` (``subject_id`` set): each item is a subject column's new value (text, dates ISO, or
  None); ``subject.screen`` opens the subject.
- ``record.save`` / ``record.add`` (``form_record_id`` set): each item is a form item's new stored
  value (``EnteredValue.as_json()``, None when emptied), and ``status`` when the status changed. A save
  also sets the flags the state machine derives (``signature_broken`` on a signed record,
  ``changed_since_verified`` on a verified record and on its verified items that changed:
  :func:`rodnan.core.records.states.apply_event`), which the entry does not list.
- any other ``record.<event>``: the items are the parts of the record's state that changed
  (``status``, ``flags``, ``reason``, ``items``); ``mark_not_done``, ``mark_not_expected`` and
  ``mark_entered_in_error`` without a ``reason`` item take the entry's reason as the state's reason
  (the end of a subject's participation marks its later records not expected that way).
  ``record.confirm_warning`` changes no value.
- ``visit.done`` sets the visit's ``done_on``; ``visit.missed`` marks it missed with the entry's reason;
  the visit is ``(subject_id, the code after the last "/" of object_id)``.
- every other action (``auth.*``, ``user.*``, ``membership.*``, ``visit.schedule``) holds no clinical data.

A row that holds values or a status other than not started, a visit done or missed, or a subject,
with no entry at all differs from the trail (the trail says "nothing"): an empty or truncated trail
under existing data fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

SUBJECT_FIELDS = (
    "status", "screening_number", "screening_date", "subject_code", "consent_version", "consent_date", "enrolment_date",
    "infusion_date", "end_date", "end_reason", "screen_fail_reason",
)  # fmt: skip
"""The subject's columns the trail accounts for (as text: dates ISO; empty text and None are the same)."""

NOT_STARTED = "not_started"
_SAVES = frozenset({"record.save", "record.add"})
_REASON_EVENTS = frozenset({"record.mark_not_done", "record.mark_not_expected", "record.mark_entered_in_error"})
_STATE_PARTS = ("status", "flags", "reason", "items")

# the columns of a plain entry row (rodnan.core.audit.ROW_FIELDS) the replay reads
_SUBJECT, _RECORD, _ACTION, _OBJECT, _REASON, _CHANGES = 7, 8, 9, 11, 12, 14


class _Item(msgspec.Struct, gc=False):
    """An item change as the replay reads a row's ``changes`` text: its field, and its new value left as JSON text.

    ``old`` is not read (msgspec checks its syntax and skips it); ``new`` stays undecoded (:class:`msgspec.Raw`,
    a slice of the text) until a value is needed: a record's values only at the end, when the last one of each
    item is compared (:meth:`Replay.settle`), so the values a later save overwrote are never decoded.
    """

    field: str
    new: msgspec.Raw


_read_items = msgspec.json.Decoder(list[_Item]).decode
_Undecodable = (msgspec.DecodeError, msgspec.ValidationError)


def _value(new: Any) -> Any:
    """A new value as Python data: undecoded JSON text decoded by the standard library's ``json`` (the values
    compared are then exactly what ``json.loads`` of the whole text would give), anything else as it is."""
    return json.loads(bytes(new)) if isinstance(new, msgspec.Raw) else new


@dataclass
class SubjectTrail:
    """A subject as the trail says: its columns (absent: empty), the label of its latest entry, whether it was opened."""

    label: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    opened: bool = False


@dataclass
class RecordTrail:
    """A record as the trail says: item values, status, flags, the state's reason, item flags.

    ``raw`` holds the last values saved that are still JSON text (read by :meth:`Replay.feed_row`); they
    join ``values`` when the replay is settled (:meth:`Replay.settle`), before any comparison.
    """

    subject_id: int | None = None
    label: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    status: str = NOT_STARTED
    flags: set[str] = field(default_factory=set)
    reason: str = ""
    item_flags: dict[str, set[str]] = field(default_factory=dict)
    raw: dict[str, msgspec.Raw] = field(default_factory=dict)


@dataclass
class VisitTrail:
    """A visit as the trail says: done on (ISO date) or missed with a reason."""

    label: str = ""
    done_on: str | None = None
    missed: bool = False
    missed_reason: str = ""


@dataclass(frozen=True)
class StoredSubject:
    """A subject row as stored: database id, label, and :data:`SUBJECT_FIELDS` as text (dates ISO) or None."""

    id: int
    label: str
    fields: Mapping[str, str | None]


@dataclass(frozen=True)
class StoredRecord:
    """A record row as stored: ids, its label ("NJDT-001/M3/mrss", "NJDT-001/medical_history#2"), values and state."""

    id: int
    subject_id: int
    label: str
    values: Mapping[str, Any]
    status: str = NOT_STARTED
    flags: Sequence[str] = ()
    reason: str = ""
    item_flags: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredVisit:
    """A visit row as stored: its subject's id, its code and label ("NJDT-001/M3"), done on (ISO) or missed."""

    subject_id: int
    code: str
    label: str
    done_on: str | None = None
    missed: bool = False
    missed_reason: str = ""


def shown(value: Any) -> str:
    """A value for a message: a form item's stored value as entered with its unit ("14 mm/h"), else its JSON."""
    if value is None:
        return "(none)"
    if isinstance(value, Mapping) and value.get("missing"):  # a missing-data code: its label, code and reason
        return f"{value.get('display') or value['missing']} [{value['missing']}: {value.get('missing_reason') or 'no reason'}]"
    if isinstance(value, Mapping) and "raw" in value:
        unit = value.get("unit")
        return f"{value['raw']} {unit}" if unit else str(value["raw"])
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class Difference:
    """One way the stored data differ from the trail: the subject, the record or visit, the item, both values.

    Attributes:
        subject: the subject's label ("NJDT-001"); "" for an entry that names none (``where`` is then "entry #<seq>").
        where: the record ("NJDT-001/M3/mrss", "NJDT-001/medical_history#2"), the visit ("NJDT-001/M3"),
            or "" for the subject's own fields.
        item: the form item, the state part (``status``, ``flags``, ``reason``, ``item_flags``), the visit's
            or the subject's field, or ``entries`` for a row the trail has no entry for.
        stored: the value stored (None: nothing stored).
        trail: the value the trail gives (None: nothing).
    """

    subject: str
    where: str
    item: str
    stored: Any
    trail: Any

    def __str__(self) -> str:
        place = f"subject {self.subject}" + (f", {self.where}" if self.where else "") if self.subject else self.where
        stored, trail = shown(self.stored), shown(self.trail)
        if stored == trail:  # the same as entered, different underneath (a converted value, a flag): show all of it
            stored = json.dumps(self.stored, sort_keys=True, ensure_ascii=False)
            trail = json.dumps(self.trail, sort_keys=True, ensure_ascii=False)
        return f"{place}, {self.item}: stored {stored}, trail {trail}"


class Replay:
    """The state the trail describes, built entry by entry (:meth:`feed_row` or :meth:`feed`), in seq order.

    Attributes:
        subjects: subject id -> :class:`SubjectTrail`.
        records: record id -> :class:`RecordTrail`.
        visits: (subject id, visit code) -> :class:`VisitTrail`.
        entries: how many entries were fed; ``clinical``: how many of them concern clinical data.
        unplaced: clinical entries without the subject or record id they need (they explain nothing).
        undecodable: the seq of each row whose ``changes`` is not a list of ``{"field", "new", …}`` (the chain
            check rejects such a row unless it was written so; :func:`reconcile` reports each).
    """

    def __init__(self) -> None:
        self.subjects: dict[int, SubjectTrail] = {}
        self.records: dict[int, RecordTrail] = {}
        self.visits: dict[tuple[int, str], VisitTrail] = {}
        self.entries = 0
        self.clinical = 0
        self.unplaced = 0
        self.undecodable: list[int] = []

    def feed_row(self, row: Sequence[Any]) -> None:
        """Fold one plain row (the columns of :data:`rodnan.core.audit.ROW_FIELDS`, ``changes`` as its JSON text)."""
        self.entries += 1
        action = row[_ACTION]
        if action.startswith(("record.", "subject.", "visit.")):
            try:
                items = [(item.field, item.new) for item in _read_items(row[_CHANGES])]
            except _Undecodable:
                self.undecodable.append(row[0])
                return
            self._fold(action, row[_SUBJECT], row[_RECORD], row[_OBJECT], row[_REASON], items)

    def feed_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Fold plain rows in seq order, as :meth:`feed_row` does one by one (the chain check hands a page at a time).

        A save to a record already seen, most of a long trail, takes the short way here: its items' names
        are read and their new values kept as JSON text (:class:`_Item`).
        """
        records, read, undecodable = self.records, _read_items, self.undecodable
        for row in rows:
            record = records.get(row[_RECORD]) if row[_ACTION] in _SAVES else None
            if record is None:
                self.feed_row(row)
                continue
            self.entries += 1
            self.clinical += 1
            try:
                items = read(row[_CHANGES])
            except _Undecodable:
                undecodable.append(row[0])
                continue
            record.label = row[_OBJECT]
            _save_read(record, items)

    def feed(self, entry: Mapping[str, Any]) -> None:
        """Fold one entry given as a mapping: ``action``, ``subject_id``, ``form_record_id``, ``object_id``,
        ``reason`` and ``items`` (a list of ``{"field", "old", "new"}``) or ``changes`` (its JSON text)."""
        self.entries += 1
        action = str(entry["action"])
        if not action.startswith(("record.", "subject.", "visit.")):
            return
        items = entry.get("items")
        if items is None:
            items = json.loads(entry.get("changes") or "[]")
        self._fold(action, entry.get("subject_id"), entry.get("form_record_id"), str(entry.get("object_id") or ""),
                   str(entry.get("reason") or ""), [(item["field"], item["new"]) for item in items])  # fmt: skip

    def settle(self) -> Replay:
        """Decode the records' values still held as JSON text (the last value saved of each item); returns the replay.

        :func:`reconcile` settles the replay itself; call this before reading ``records[…].values`` after
        :meth:`feed_row`. An item whose last value is null is removed.
        """
        for record in self.records.values():
            if record.raw:
                for name, new in record.raw.items():
                    value = _value(new)
                    if value is None:
                        record.values.pop(name, None)
                    else:
                        record.values[name] = value
                record.raw.clear()
        return self

    def _fold(self, action: str, subject_id: int | None, record_id: int | None, object_id: str, reason: str,
              items: Sequence[tuple[str, Any]]) -> None:  # fmt: skip
        self.clinical += 1
        if action.startswith("record."):
            if record_id is None:
                self.unplaced += 1
                return
            record = self.records.get(record_id)
            if record is None:
                record = self.records[record_id] = RecordTrail(subject_id)
            record.label = object_id
            if action in _SAVES:
                _save(record, items)
            elif action != "record.confirm_warning":
                _state_event(record, action, reason, items)
            return
        if subject_id is None:
            self.unplaced += 1
            return
        if action.startswith("subject."):
            subject = self.subjects.get(subject_id)
            if subject is None:
                subject = self.subjects[subject_id] = SubjectTrail()
            subject.label = object_id
            subject.opened = subject.opened or action == "subject.screen"
            for name, new in items:
                subject.fields[name] = _value(new)
        elif action in ("visit.done", "visit.missed"):
            key = (subject_id, object_id.rpartition("/")[2])
            visit = self.visits.get(key)
            if visit is None:
                visit = self.visits[key] = VisitTrail()
            visit.label = object_id
            if action == "visit.done":
                for name, new in items:
                    if name == "done_on":
                        visit.done_on = _value(new)
            else:
                visit.missed, visit.missed_reason = True, reason


def _save(record: RecordTrail, items: Sequence[tuple[str, Any]]) -> None:
    """Values saved: the items' new values, the status when it changed, the flags a save derives (states.apply_event).

    A value given as JSON text waits in ``record.raw`` (decoded by :meth:`Replay.settle`); a decoded one goes
    to ``record.values`` at once (None removes the item).
    """
    changed = False
    for name, new in items:
        if name == "status":
            record.status = _value(new)
            continue
        changed = True
        if isinstance(new, msgspec.Raw):
            record.raw[name] = new
        else:
            record.raw.pop(name, None)
            if new is None:
                record.values.pop(name, None)
            else:
                record.values[name] = new
        flags = record.item_flags.get(name)
        if flags is not None and "verified" in flags:
            flags.add("changed_since_verified")
    if changed:
        if "signed" in record.flags:
            record.flags.add("signature_broken")
        if "verified" in record.flags:
            record.flags.add("changed_since_verified")


def _save_read(record: RecordTrail, items: Sequence[_Item]) -> None:
    """:func:`_save` for items read from a row's text (the new values kept as JSON text until the replay is settled)."""
    changed = False
    raw, item_flags = record.raw, record.item_flags
    for item in items:
        name = item.field
        if name == "status":
            record.status = _value(item.new)
            continue
        changed = True
        raw[name] = item.new
        if item_flags:
            flags = item_flags.get(name)
            if flags is not None and "verified" in flags:
                flags.add("changed_since_verified")
    if changed and record.flags:
        if "signed" in record.flags:
            record.flags.add("signature_broken")
        if "verified" in record.flags:
            record.flags.add("changed_since_verified")


def _state_event(record: RecordTrail, action: str, reason: str, items: Sequence[tuple[str, Any]]) -> None:
    """A state change: the parts of the state that changed, as the entry lists them."""
    named = set()
    for name, raw in items:
        new = _value(raw)
        named.add(name)
        if name == "status":
            record.status = new
        elif name == "flags":
            record.flags = set(new or ())
        elif name == "reason":
            record.reason = new or ""
        elif name == "items":
            record.item_flags = {code: set(flags) for code, flags in (new or {}).items() if flags}
    if action in _REASON_EVENTS and "reason" not in named:
        record.reason = reason.strip()


def replay(entries: Iterable[Mapping[str, Any]]) -> Replay:
    """The state the entries describe (mappings as :meth:`Replay.feed` takes them, in seq order)."""
    folded = Replay()
    for entry in entries:
        folded.feed(entry)
    return folded


def _empty(value: Any) -> Any:
    return None if value in (None, "") else value


def reconcile(
    trail: Replay,
    subjects: Iterable[StoredSubject],
    records: Iterable[StoredRecord],
    visits: Iterable[StoredVisit],
) -> Iterator[Difference]:
    """Every difference between the stored rows and the replayed trail, subjects first, then records, then visits.

    The rows may come in any order and in chunks (each is compared once and forgotten); rows the trail
    names that are not stored come last. ``trail`` is consumed (its entries are removed as they are matched).

    Args:
        trail: the replayed trail.
        subjects, records, visits: the stored rows.

    Yields:
        One :class:`Difference` per item that differs (a row without any entry differs in every item
        that is not empty, and once more as ``entries``).
    """
    trail.settle()
    for seq in trail.undecodable:
        yield Difference("", f"entry #{seq}", "changes", None, "not a list of item changes: the entry explains nothing")
    labels: dict[int, str] = {}
    for subject in subjects:
        labels[subject.id] = subject.label
        told = trail.subjects.pop(subject.id, None)
        if told is None or not told.opened:
            yield Difference(subject.label, "", "entries", "subject stored", "no subject.screen entry opens it")
        said = told.fields if told is not None else {}
        for name in SUBJECT_FIELDS:
            stored, given = _empty(subject.fields.get(name)), _empty(said.get(name))
            if stored != given:
                yield Difference(subject.label, "", name, stored, given)
    for record in records:
        yield from _record_differences(record, trail.records.pop(record.id, None), labels)
    for visit in visits:
        told_visit = trail.visits.pop((visit.subject_id, visit.code), None) or VisitTrail()
        who = labels.get(visit.subject_id, visit.label.partition("/")[0])
        if _empty(visit.done_on) != _empty(told_visit.done_on):
            yield Difference(who, visit.label, "done_on", _empty(visit.done_on), _empty(told_visit.done_on))
        if bool(visit.missed) != told_visit.missed:
            yield Difference(who, visit.label, "missed", "yes" if visit.missed else "no", "yes" if told_visit.missed else "no")
        elif visit.missed and visit.missed_reason.strip() != told_visit.missed_reason.strip():
            yield Difference(who, visit.label, "missed_reason", visit.missed_reason, told_visit.missed_reason)
    for subject_id, told in trail.subjects.items():
        yield Difference(told.label or f"#{subject_id}", "", "entries", None, f"subject #{subject_id} in the trail, not stored")
    for record_id, told_record in trail.records.items():
        who = labels.get(told_record.subject_id or -1, told_record.label.partition("/")[0])
        yield Difference(who, told_record.label, "entries", None, f"record #{record_id} in the trail, not stored")
    for (subject_id, code), told_visit in trail.visits.items():
        who = labels.get(subject_id, told_visit.label.partition("/")[0])
        told_text = f"visit {code} of subject #{subject_id} in the trail, not stored"
        yield Difference(who, told_visit.label, "entries", None, told_text)


def _record_differences(record: StoredRecord, told: RecordTrail | None, labels: Mapping[int, str]) -> Iterator[Difference]:
    who = labels.get(record.subject_id, record.label.partition("/")[0])
    if told is None:
        if not record.values and record.status == NOT_STARTED and not record.flags and not record.reason:
            return  # a record placed on the calendar and never touched: nothing to explain
        yield Difference(who, record.label, "entries", f"status {record.status}, {len(record.values)} value(s)", "no entry")
        told = RecordTrail(record.subject_id, record.label)
    values = record.values or {}
    if values != told.values:
        for code in sorted(set(values) | set(told.values)):
            stored, given = values.get(code), told.values.get(code)
            if stored != given:
                yield Difference(who, record.label, code, stored, given)
    if record.status != told.status:
        yield Difference(who, record.label, "status", record.status, told.status)
    if set(record.flags or ()) != told.flags:
        yield Difference(who, record.label, "flags", sorted(record.flags or ()), sorted(told.flags))
    if (record.reason or "") != told.reason:
        yield Difference(who, record.label, "reason", record.reason or "", told.reason)
    stored_items = {code: sorted(flags) for code, flags in (record.item_flags or {}).items() if flags}
    told_items = {code: sorted(flags) for code, flags in told.item_flags.items() if flags}
    if stored_items != told_items:
        yield Difference(who, record.label, "item_flags", stored_items, told_items)


__all__ = [
    "SUBJECT_FIELDS",
    "Difference",
    "RecordTrail",
    "Replay",
    "StoredRecord",
    "StoredSubject",
    "StoredVisit",
    "SubjectTrail",
    "VisitTrail",
    "reconcile",
    "replay",
    "shown",
]
