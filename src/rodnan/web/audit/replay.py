"""``rodnan audit verify``'s second half: the stored rows read as plain data and reconciled with the replayed trail.

The chain is read once: :func:`verify_and_reconcile` verifies it (:func:`rodnan.web.audit.chain.verify_chain`)
while the same rows are folded into a :class:`rodnan.core.audit_replay.Replay`; then the subjects, records
and visits are read as plain tuples (``values_list``, in chunks) and compared with it by
:func:`rodnan.core.audit_replay.reconcile`, which holds every rule (decision 0014). Everything is read in
one transaction (on PostgreSQL at REPEATABLE READ when it is the outermost one), so a save committed
meanwhile is either wholly seen (rows and entries) or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction

from rodnan.core.audit import ChainReport
from rodnan.core.audit_replay import SUBJECT_FIELDS, Difference, Replay, StoredRecord, StoredSubject, StoredVisit, reconcile
from rodnan.web.crfs.models import FormRecord
from rodnan.web.subjects.models import Subject, Visit

CHUNK = 5000
"""Rows read per round trip."""


@dataclass(frozen=True)
class VerifyReport:
    """The chain's report, and (when the chain is intact) the reconciliation of the stored rows with the trail.

    Attributes:
        chain: the chain's verification.
        reconciled: False when the chain was broken (the rows were not compared).
        differences: the first ``limit`` differences.
        difference_count: how many differences there are in all.
        subjects, records, visits: how many rows were compared.
        clinical_entries: entries about clinical data (subjects, records, visits).
    """

    chain: ChainReport
    reconciled: bool = False
    differences: tuple[Difference, ...] = ()
    difference_count: int = 0
    subjects: int = 0
    records: int = 0
    visits: int = 0
    clinical_entries: int = 0

    @property
    def ok(self) -> bool:
        """True when the chain is intact and the stored data are what the trail says."""
        return self.chain.ok and self.reconciled and self.difference_count == 0


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def stored_subjects(counts: dict[str, int]) -> Iterator[StoredSubject]:
    """Every subject row as a :class:`StoredSubject` (dates as ISO text), read in chunks."""
    names = ("id", "screening_number", "subject_code", *SUBJECT_FIELDS)
    rows = Subject.objects.order_by().values_list(*names).iterator(chunk_size=CHUNK)
    for row in rows:
        counts["subjects"] += 1
        data = dict(zip(names, row, strict=True))
        fields = {name: _iso(v) if isinstance(v, dt.date) else v for name, v in data.items() if name in SUBJECT_FIELDS}
        yield StoredSubject(row[0], row[2] or row[1], fields)


def stored_records(labels: dict[int, str], counts: dict[str, int]) -> Iterator[StoredRecord]:
    """Every record row as a :class:`StoredRecord`, labelled as the audit trail labels it, read in chunks."""
    names = ("id", "subject_id", "visit__code", "form_code", "seq", "values", "status", "flags", "state_reason", "item_flags")
    rows = FormRecord.objects.order_by().values_list(*names).iterator(chunk_size=CHUNK)
    for pk, subject_id, visit_code, form, seq, values, status, flags, reason, item_flags in rows:
        counts["records"] += 1
        who = labels.get(subject_id, f"#{subject_id}")
        label = f"{who}/{visit_code}/{form}" if visit_code is not None else f"{who}/{form}#{seq}"
        yield StoredRecord(pk, subject_id, label, values or {}, status, flags or (), reason or "", item_flags or {})


def stored_visits(labels: dict[int, str], counts: dict[str, int]) -> Iterator[StoredVisit]:
    """Every visit row as a :class:`StoredVisit`, read in chunks."""
    rows = Visit.objects.order_by().values_list("subject_id", "code", "done_on", "missed", "missed_reason")
    for subject_id, code, done_on, missed, missed_reason in rows.iterator(chunk_size=CHUNK):
        counts["visits"] += 1
        label = f"{labels.get(subject_id, f'#{subject_id}')}/{code}"
        yield StoredVisit(subject_id, code, label, _iso(done_on), bool(missed), missed_reason or "")


def _labelled(subjects: Iterator[StoredSubject], labels: dict[int, str]) -> Iterator[StoredSubject]:
    for subject in subjects:
        labels[subject.id] = subject.label
        yield subject


def verify_and_reconcile(limit: int = 100, checkpoints: bool = True) -> VerifyReport:
    """Verify the chain, replaying it in the same pass, then reconcile the stored rows with the replay.

    Args:
        limit: how many differences to keep (all are counted).
        checkpoints: check the chain against the checkpoint file too.

    Returns:
        The report; the rows are compared only when the chain is intact (a broken chain proves nothing).
    """
    from rodnan.web.audit.chain import cyclic_gc_paused

    outermost = not connection.in_atomic_block
    with transaction.atomic(), cyclic_gc_paused():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        trail = Replay()
        # imported here so tests can patch the chain module's verify_chain
        from rodnan.web.audit.chain import verify_chain

        chain = verify_chain(checkpoints, feed=trail.feed_rows)
        if not chain.ok:
            return VerifyReport(chain)
        counts = {"subjects": 0, "records": 0, "visits": 0}
        labels: dict[int, str] = {}
        # subjects are read whole first (records and visits are named by their subject's label)
        subjects = list(_labelled(stored_subjects(counts), labels))
        kept: list[Difference] = []
        total = 0
        for difference in reconcile(trail, subjects, stored_records(labels, counts), stored_visits(labels, counts)):
            total += 1
            if len(kept) < limit:
                kept.append(difference)
    return VerifyReport(chain, True, tuple(kept), total, counts["subjects"], counts["records"], counts["visits"],
                        trail.clinical)  # fmt: skip
