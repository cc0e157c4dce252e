"""The bulk import's courses as plain rows, and their writing: subjects, visits, records and audit entries.

:func:`course_rows` turns a batch of built courses (:class:`rodnan.core.records.course.Course`) into
plain tuples with every JSON value already encoded (the records' columns as the ``JSONField`` stores
them, the audit entries' item changes as :func:`rodnan.core.audit.changes_text` hashes them). It needs
no database, so the import runs it in its worker processes beside the plans: what travels back to the
writing process is strings, quick to unpickle. :func:`write_course_rows` then inserts the rows with
ids allocated up front (:func:`rodnan.web.bulk.insert_rows`) and appends the audit entries to the chain
in one batch, in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from rodnan.core.audit import canonical_json, change_item_text, changes_text_joined
from rodnan.core.records.course import Course
from rodnan.core.records.model import RecordKey
from rodnan.web.audit.chain import Change, append
from rodnan.web.bulk import insert_rows, json_text
from rodnan.web.crfs.models import FormRecord
from rodnan.web.studies.models import Study
from rodnan.web.subjects.models import Subject, Visit
from rodnan.web.subjects.store import SUBJECT_FIELDS, record_fields

SUBJECT_COLUMNS = ("study_id", "site_id", *SUBJECT_FIELDS, "created_at")
VISIT_COLUMNS = ("subject_id", "code", "label", "day", "target_date", "window_start", "window_end", "done_on", "missed",
                 "missed_reason")  # fmt: skip
RECORD_COLUMNS = ("subject_id", "visit_id", "form_code", "seq", "linked_visit_id", "protocol_version", "values",
                  "confirmed_warnings", "status", "flags", "state_reason", "item_flags", "version", "start_date", "end_date",
                  "updated_at", "updated_by_id")  # fmt: skip

SubjectRow = tuple[Any, ...]  # site id, then the SUBJECT_FIELDS
VisitRow = tuple[Any, ...]  # subject position, then VISIT_COLUMNS[1:]
RecordRow = tuple[Any, ...]  # subject position, visit code | None, form, seq, linked visit code | None, then the rest
AuditRow = tuple[int, str, str, str, str, str, RecordKey | None]  # subject position, action, type, id, reason, text, record


_WRITTEN_LATER = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""A stand-in for the time of writing, which :func:`write_course_rows` sets on saved records."""


@dataclass
class CourseRows:
    """A batch of courses as rows; subjects are referred to by their position in ``subjects``."""

    subjects: list[SubjectRow] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    visits: list[VisitRow] = field(default_factory=list)
    records: list[RecordRow] = field(default_factory=list)
    audit: list[AuditRow] = field(default_factory=list)


def course_rows(courses: list[tuple[int, Course]]) -> CourseRows:
    """The rows of ``courses`` (site id, course), JSON encoded; no database needed.

    Each stored value is encoded once (:func:`rodnan.core.audit.canonical_json`) for both the record's
    ``values`` column and the audit entry that carries it (:func:`rodnan.core.audit.change_item_text`), and
    once for all the records of the batch that store the same answer (the entry check gives them one
    dict, :meth:`rodnan.core.entry.EnteredValue.as_json`).

    Raises:
        InputError: naming ``changes`` when an audit item is not a JSON value.
    """
    rows = CourseRows()
    texts: dict[int, str] = {}  # id of a stored value -> its JSON text
    kept: list[object] = []  # the values of ``texts`` and ``pairs``, kept alive so their ids stay theirs
    pairs: dict[tuple[str, int], tuple[str, str]] = {}  # (item, id of a new value) -> ('"item":value', audit item)

    def encoded(value: object) -> str:
        if value is None:
            return "null"
        if not isinstance(value, dict):
            return canonical_json(value)
        text = texts.get(id(value))
        if text is None:
            kept.append(value)
            text = texts[id(value)] = canonical_json(value)
        return text

    def first_value(code: str, value: object) -> tuple[str, str]:
        """A value stored where there was none: its text in the record's column and as an audit item."""
        pair = pairs.get((code, id(value)))
        if pair is None:
            kept.append(value)
            text = encoded(value)
            pair = pairs[(code, id(value))] = (f"{canonical_json(code)}:{text}", change_item_text(code, "null", text))
        return pair

    for k, (site_id, course) in enumerate(courses):
        subject = course.subject
        assert subject is not None
        rows.subjects.append((site_id, *(getattr(subject, name) for name in SUBJECT_FIELDS)))
        rows.statuses.append(subject.status)
        for v in course.visits.values():
            rows.visits.append((k, v.code, v.label, v.day, v.target, v.window_start, v.window_end, v.done_on, v.missed,
                                v.missed_reason))  # fmt: skip
        for key, snapshot in course.records.items():
            f = record_fields(snapshot, None, _WRITTEN_LATER)
            values = "{" + ",".join([first_value(code, value)[0] for code, value in f["values"].items()]) + "}"
            rows.records.append((
                k, key[0], key[1], key[2], snapshot.visit_code, snapshot.protocol_version, values,
                json_text(f["confirmed_warnings"]), f["status"], json_text(f["flags"]), f["state_reason"],
                json_text(f["item_flags"]), f["version"], f["start_date"], f["end_date"],
            ))  # fmt: skip
        for a in course.audit:
            items = [
                first_value(d.field, d.new)[1]
                if d.old is None and isinstance(d.new, dict)
                else change_item_text(d.field, encoded(d.old), encoded(d.new))
                for d in a.items
            ]
            rows.audit.append((k, a.action, a.object_type, a.object_id, a.reason, changes_text_joined(items), a.record))
    return rows


@dataclass
class Written:
    """What :func:`write_course_rows` wrote, and the seconds it spent on the rows and on the audit append."""

    visits: int
    records: int
    audit_entries: int
    seconds_rows: float
    seconds_audit: float


def write_course_rows(rows: CourseRows, study: Study, user: Any, role_code: str) -> Written:
    """Insert the batch's subjects, visits and records, then append its audit entries (source ``import``)."""
    start = time.perf_counter()
    now = timezone.now()
    user_id = getattr(user, "pk", None)
    subject_ids = insert_rows(Subject, SUBJECT_COLUMNS, [(study.pk, *row, now) for row in rows.subjects])
    visit_ids = insert_rows(Visit, VISIT_COLUMNS, [(subject_ids[row[0]], *row[1:]) for row in rows.visits])
    visit_id = {(row[0], row[1]): pk for row, pk in zip(rows.visits, visit_ids, strict=True)}
    records = []
    for k, visit_code, form, seq, linked, *rest in rows.records:
        saved = rest[7] > 0  # version: the record has been saved
        records.append((
            subject_ids[k], visit_id[(k, visit_code)] if visit_code is not None else None, form, seq,
            visit_id[(k, linked)] if linked else None, *rest, now if saved else None, user_id if saved else None,
        ))  # fmt: skip
    record_ids = insert_rows(FormRecord, RECORD_COLUMNS, records, encoded=True)
    record_id = {(row[0], (row[1], row[2], row[3])): pk for row, pk in zip(rows.records, record_ids, strict=True)}
    middle = time.perf_counter()
    site_of = [row[0] for row in rows.subjects]
    changes = [
        Change(action, object_type, object_id, reason, site_id=site_of[k], subject_id=subject_ids[k],
               form_record_id=record_id.get((k, key)) if key is not None else None, items_text=text)
        for k, action, object_type, object_id, reason, text, key in rows.audit
    ]  # fmt: skip
    append(user=user, role=role_code, changes=changes, source="import")
    return Written(len(visit_ids), len(record_ids), len(changes), middle - start, time.perf_counter() - middle)
