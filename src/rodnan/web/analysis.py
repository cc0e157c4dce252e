"""The web database as a provider of the analysis interface (:mod:`rodnan.core.trialdata`).

Builds the three frames of the contract from the stored subjects and form records, values as
entered (raw text and unit), and hands them to :func:`~rodnan.core.trialdata.from_frames`, which
converts and checks them exactly as it does the simulator's CSV files. The web application has no
adverse-event module yet, so the adverse-event frame is empty (and says so in ``source``). Log records
(the protocol's medical history) are not passed: the contract's values hold one value per subject, visit
and item, which repeating entries without a visit do not fit, and no analysis reads them.

:func:`read_for_report` gives what ``rodnan report --data`` needs: the data, and where they came from (the
audit head read in the same transaction as the data, and the database lock: None, no lock is recorded
yet) as plain values; the command passes them to :mod:`rodnan.reports` (which never imports Django, and
which the web layer does not import either).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.db import connection, transaction
from django.db.models import Count

from rodnan.core.analysis.datasets import SUBJECT_CELLS, SUBJECT_INFUSION_DATE
from rodnan.core.entry import EnteredValue
from rodnan.core.records.states import RecordStatus
from rodnan.core.trialdata import TrialData, from_frames
from rodnan.web.audit.chain import head
from rodnan.web.crfs.models import FormRecord
from rodnan.web.studies.models import Study
from rodnan.web.studies.protocol import current_study, study_definition
from rodnan.web.subjects.models import Subject
from rodnan.web.subjects.records import infusion_values, screening_result

VALUE_COLUMNS = ("subject_id", "visit", "item", "value", "unit", "date")


def _iso(value: Any) -> str:
    return value.isoformat() if value is not None else ""


def subject_rows(subjects: Iterable[Subject]) -> list[dict[str, object]]:
    """One row of the subjects contract per subject (the subject ID once enrolled, else the screening number)."""
    rows: list[dict[str, object]] = []
    for subject in subjects:
        given = infusion_values(subject)
        roles = study_definition(subject.study).intervention_items
        weight, cells = given.get(roles.weight), given.get(roles.cells)
        pathways = screening_result(subject).qualifying_pathways if subject.enrolment_date else ()
        rows.append({
            "subject_id": subject.label, "site": subject.site.code, "status": subject.status,
            "screening_date": _iso(subject.screening_date), "consent_date": _iso(subject.consent_date),
            "enrolment_date": _iso(subject.enrolment_date), SUBJECT_INFUSION_DATE: _iso(subject.infusion_date),
            "end_date": _iso(subject.end_date), "death_date": _iso(subject.end_date) if subject.status == "died" else "",
            "end_reason": subject.end_reason or subject.screen_fail_reason, "pathway": ";".join(pathways),
            "infusion_weight_kg": weight.value if weight else None, SUBJECT_CELLS: cells.value if cells else None,
        })  # fmt: skip
    return rows


def value_rows(records: Iterable[FormRecord], labels: dict[int, str]) -> list[tuple[object, ...]]:
    """One row of the values contract per stored item value, as entered, dated by its visit; items holding a
    missing-data code give no row (the contract reads them as missing; the code stays in the record for exports)."""
    rows: list[tuple[object, ...]] = []
    seen: set[tuple[str, str, str]] = set()
    for record in records:
        subject, visit = labels[record.subject_id], record.visit
        if visit is None:  # a log record: no visit to date it (the caller selects visit records only)
            continue
        for code, data in (record.values or {}).items():
            key = (subject, visit.code, code)
            if key in seen:  # an item two forms of a visit share is one value (the first form's value)
                continue
            value = EnteredValue.from_json(data)
            if value.missing:  # a missing-data code is missing for the analysis (NaN), never a code in a number column
                continue
            seen.add(key)
            rows.append((subject, visit.code, code, value.raw, value.unit or "", _iso(visit.done_on)))
    return rows


def trial_data_from_database(study: Study | None = None, derive: bool = True) -> TrialData:
    """Every subject of ``study`` (default: the current protocol version) as the analysis reads it.

    The adverse-event frame is empty: the web application does not record adverse events yet.
    """
    study = study or current_study()
    subjects = list(Subject.objects.filter(study=study).select_related("site", "study").order_by("id"))
    labels = {s.pk: s.label for s in subjects}
    records = (
        FormRecord.objects.filter(subject__in=subjects, visit__done_on__isnull=False)
        .exclude(values={})
        .select_related("visit")
        .order_by("subject_id", "visit__day", "id")
    )
    subjects_frame = pd.DataFrame(subject_rows(subjects))
    values_frame = pd.DataFrame(value_rows(records, labels), columns=list(VALUE_COLUMNS))
    source = f"web database ({study}; no adverse events recorded in the web application yet)"
    return from_frames(study_definition(study), subjects_frame, values_frame, None, source=source, derive=derive)


def database_name() -> str:
    """The database for a report's footer: "SQLite <file name>" or "PostgreSQL <name>" (no folder, no password)."""
    name = str(connection.settings_dict.get("NAME") or "")
    if connection.vendor == "sqlite":
        return f"SQLite {name.replace(chr(92), '/').rsplit('/', 1)[-1]}"
    return f"PostgreSQL {name}"


def record_counts(study: Study) -> tuple[tuple[str, int], ...]:
    """The records of the visits that took place by their state (:class:`~rodnan.core.records.states.RecordStatus`
    values, in the enum's order, only those present): how complete the data the report reads are."""
    rows = (
        FormRecord.objects.filter(subject__study=study, visit__done_on__isnull=False)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = dict(rows)
    return tuple((status.value, counts[status.value]) for status in RecordStatus if counts.get(status.value))


def database_locked(study: Study) -> bool | None:
    """Whether ``study``'s database is locked for analysis: None, as no lock is recorded yet (data management adds it)."""
    return None


@dataclass(frozen=True)
class DatabaseSnapshot:
    """The data of one protocol version and the state of the database they were read in.

    Attributes:
        data: the trial data (:func:`trial_data_from_database`).
        database: which database, for people (:func:`database_name`).
        audit_head: the audit chain's head (seq, hash), None when the head row is missing.
        locked: the database lock (None: no lock recorded; see :func:`database_locked`).
        protocol_sha256: SHA-256 of the protocol text stored with the study.
        records: the records of the visits that took place by state (:func:`record_counts`).
    """

    data: TrialData
    database: str
    audit_head: tuple[int, str] | None
    locked: bool | None
    protocol_sha256: str
    records: tuple[tuple[str, int], ...] = ()


def read_for_report(study: Study | None = None) -> DatabaseSnapshot:
    """The data of ``study`` (default: the current protocol version) with the audit head and the lock, read
    in one transaction (on PostgreSQL a repeatable-read snapshot: an entry written meanwhile is in neither;
    called inside a transaction, that transaction's isolation level holds).

    Args:
        study: the protocol version whose subjects are reported.

    Returns:
        A :class:`DatabaseSnapshot`.
    """
    outermost = not connection.in_atomic_block  # inside a caller's transaction, the caller's isolation holds
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        study = study or current_study()
        audit = head()
        data = trial_data_from_database(study)
        locked = database_locked(study)
        records = record_counts(study)
    return DatabaseSnapshot(data, database_name(), audit, locked, study.protocol_sha256, records)
