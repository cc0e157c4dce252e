"""What a plan reads and what it writes: snapshots of a subject's rows, and the plan of one action.

The web layer (and the bulk import, and later the API) reads a subject, its visits and its records
into these plain snapshots, asks a ``plan_*`` function of :mod:`rodnan.core.records.subject_plans` or
:mod:`rodnan.core.records.record_plans` what an action would do, and writes the :class:`Plan` it gets:
the subject's new fields, visits placed on the calendar, visit and record rows, and the audit
entries, in one transaction. A plan that refuses raises a named error before anything is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from rodnan.core.entry import FormEntryResult
from rodnan.core.records.states import RecordState
from rodnan.core.schedule import PlannedVisit

JSON = Any
"""A JSON-ready value: str, number, bool, None, or a dict or list of them."""

RecordKey = tuple[str | None, str, int]
"""A record's identity within its subject: (visit code or None for a log record, form code, sequence number).

Scheduled records have sequence 0; the entries of a log form are numbered 1, 2, ... per subject and form."""

SCHEDULED_SEQ = 0
"""The sequence number of a scheduled record (one per visit and form)."""


@dataclass(frozen=True)
class SubjectSnapshot:
    """A subject's fields as stored (the web's subject row, without database ids)."""

    label: str
    status: str
    version: int
    screening_number: str
    screening_date: dt.date
    subject_code: str | None = None
    screen_fail_reason: str = ""
    consent_version: str = ""
    consent_date: dt.date | None = None
    enrolment_date: dt.date | None = None
    infusion_date: dt.date | None = None
    end_date: dt.date | None = None
    end_reason: str = ""


@dataclass(frozen=True)
class VisitSnapshot:
    """A visit of one subject as placed on the calendar, with what happened to it."""

    code: str
    label: str
    day: int
    target: dt.date
    window_start: dt.date
    window_end: dt.date
    done_on: dt.date | None = None
    missed: bool = False
    missed_reason: str = ""

    @property
    def planned(self) -> PlannedVisit:
        """The visit as the schedule's planned visit (without its forms)."""
        return PlannedVisit(self.code, self.label, self.day, self.target, self.window_start, self.window_end, ())


@dataclass(frozen=True)
class RecordSnapshot:
    """One record (a scheduled form at a visit, or one entry of a log form) as stored.

    Attributes:
        key: (visit code or None, form code, sequence number).
        values: item code -> :meth:`rodnan.core.entry.EnteredValue.as_json`.
        confirmed_warnings: item codes whose soft-range warning was confirmed.
        state: status and data-management flags.
        version: increases with every save (optimistic locking).
        protocol_version: the protocol version the record was entered under.
        start_date: a log record's start (ISO date, possibly partial); None for scheduled records.
        end_date: a log record's end (ISO date, possibly partial), or None.
        visit_code: the visit a log record is linked to, or None.
    """

    key: RecordKey
    values: Mapping[str, Mapping[str, JSON]] = field(default_factory=dict)
    confirmed_warnings: tuple[str, ...] = ()
    state: RecordState = field(default_factory=RecordState)
    version: int = 0
    protocol_version: str = ""
    start_date: str | None = None
    end_date: str | None = None
    visit_code: str | None = None

    @property
    def form_code(self) -> str:
        """The record's form."""
        return self.key[1]


class ItemDelta(NamedTuple):
    """One field's change within an audit entry: old and new as JSON values (None: empty).

    A named tuple rather than a frozen dataclass: the bulk import makes one per value entered
    (millions), and a tuple is made several times faster.
    """

    field: str
    old: JSON = None
    new: JSON = None


@dataclass(frozen=True)
class AuditChange:
    """One audit entry a plan asks for: an action on one object, with its field changes and reason.

    ``record`` names the record the entry concerns (its key), so the writer can link the entry to
    the record's row, which may be created by the same plan.
    """

    action: str
    object_type: str
    object_id: str
    reason: str = ""
    items: tuple[ItemDelta, ...] = ()
    record: RecordKey | None = None


@dataclass(frozen=True)
class VisitWrite:
    """A visit row's new done date and missed mark."""

    code: str
    done_on: dt.date | None
    missed: bool
    missed_reason: str = ""


@dataclass(frozen=True)
class RecordWrite:
    """A record row to insert (``created``) or update, as it will be stored."""

    record: RecordSnapshot
    created: bool = False


@dataclass(frozen=True)
class Plan:
    """What one action writes; empty tuples and ``subject=None`` mean nothing of that kind.

    Attributes:
        subject: the subject's fields after the action (its version increased), or None when unchanged.
        new_visits: visits to place on the calendar, each with one not-started record per form.
        visits: visit rows whose done date or missed mark change.
        records: record rows to insert or update.
        audit: the audit entries, in order.
        entry: for a form's values, the core's entry result (derived scores, missing items), else None.
        findings: the rules the action breaks without being refused (confirmed warnings, queries), each
            also in the audit entry (:class:`rodnan.core.records.checks.Finding`).
    """

    subject: SubjectSnapshot | None = None
    new_visits: tuple[PlannedVisit, ...] = ()
    visits: tuple[VisitWrite, ...] = ()
    records: tuple[RecordWrite, ...] = ()
    audit: tuple[AuditChange, ...] = ()
    entry: FormEntryResult | None = field(default=None, compare=False)
    findings: tuple[Any, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the action changes nothing (e.g. a form saved again without changes)."""
        return self.subject is None and not (self.new_visits or self.visits or self.records or self.audit)
