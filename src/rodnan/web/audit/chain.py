"""Appending to the audit hash chain and verifying it.

Each entry's hash is SHA-256 over the previous entry's hash and a canonical JSON of the entry's
fields (sequence number, UTC time, user, role, site, subject, form record, action, object, field,
old value, new value, reason). Appends lock the single :class:`AuditHead` row, so concurrent
writers queue and the chain never forks; the entry is written in the caller's transaction, so a
change and its audit entry land together or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from rodnan.web.audit.models import AuditEntry, AuditHead

GENESIS = "0" * 64
"""The previous hash of the first entry."""

HASHED_FIELDS = (
    "seq", "at", "username", "role", "site_id", "subject_id", "form_record_id", "action", "object_type", "object_id",
    "field", "old_value", "new_value", "reason",
)  # fmt: skip


def _canonical(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return value


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The hash of an entry with these field values following ``prev_hash``."""
    payload = json.dumps({name: _canonical(fields[name]) for name in HASHED_FIELDS}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Change:
    """What one audit entry records (the chain adds sequence, time and hashes)."""

    action: str
    object_type: str = ""
    object_id: str = ""
    field: str = ""
    old_value: str = ""
    new_value: str = ""
    reason: str = ""
    site_id: int | None = None
    subject_id: int | None = None
    form_record_id: int | None = None


def append(*, user: Any, role: str, changes: Iterable[Change], at: dt.datetime | None = None) -> list[AuditEntry]:
    """Append entries for ``changes`` by ``user`` acting as ``role``; returns them in chain order.

    ``user`` is a user object, or None for an anonymous event (a failed login names the user
    name tried in ``object_id``).
    """
    changes = list(changes)
    if not changes:
        return []
    at = (at or timezone.now()).astimezone(dt.UTC)
    with transaction.atomic():
        # get_or_create: a flushed database (Django's transactional tests, ``manage.py flush``) has lost
        # the head row that migration 0002 wrote; an empty chain starts again from GENESIS.
        head, _ = AuditHead.objects.select_for_update().get_or_create(pk=1, defaults={"seq": 0, "last_hash": GENESIS})
        entries: list[AuditEntry] = []
        prev = head.last_hash
        seq = head.seq
        for change in changes:
            seq += 1
            fields: dict[str, Any] = {
                "seq": seq,
                "at": at,
                "username": getattr(user, "username", "") if user is not None else "",
                "role": role,
                "site_id": change.site_id,
                "subject_id": change.subject_id,
                "form_record_id": change.form_record_id,
                "action": change.action,
                "object_type": change.object_type,
                "object_id": change.object_id,
                "field": change.field,
                "old_value": change.old_value,
                "new_value": change.new_value,
                "reason": change.reason,
            }
            digest = entry_hash(prev, fields)
            entries.append(AuditEntry(user=user, prev_hash=prev, hash=digest, **fields))
            prev = digest
        AuditEntry.objects.bulk_create(entries)
        AuditHead.objects.filter(pk=1).update(seq=seq, last_hash=prev)
    return entries


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying the chain."""

    entries: int
    ok: bool
    first_broken_seq: int | None = None
    problem: str = ""


def _rows(chunk: int = 5000) -> Iterator[dict[str, Any]]:
    names = [*HASHED_FIELDS, "prev_hash", "hash"]
    yield from AuditEntry.objects.order_by("seq").values(*names).iterator(chunk_size=chunk)


def verify_chain() -> ChainReport:
    """Recompute every hash in order; report the first entry whose link or content does not match."""
    prev = GENESIS
    count = 0
    for row in _rows():
        count += 1
        seq = row["seq"]
        if seq != count:
            return ChainReport(count - 1, False, count, f"entry #{count} is missing (the next entry is #{seq})")
        if row["prev_hash"] != prev:
            return ChainReport(count - 1, False, seq, f"entry #{seq} does not link to entry #{seq - 1} (previous hash differs)")
        if entry_hash(prev, row) != row["hash"]:
            return ChainReport(count - 1, False, seq, f"entry #{seq} was changed after it was written (its hash does not match)")
        prev = row["hash"]
    head = AuditHead.objects.filter(pk=1).first() or AuditHead(pk=1, seq=0, last_hash=GENESIS)
    if head.seq != count or head.last_hash != prev:
        problem = f"the chain ends at entry #{count} but its head records #{head.seq}: entries were removed from the end"
        return ChainReport(count, False, count + 1 if head.seq > count else head.seq, problem)
    return ChainReport(count, True)
