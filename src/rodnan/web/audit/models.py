"""The append-only audit trail.

Every event (a change of clinical data, a state change of a subject, a login, failed login or
logout, a role or membership change) is one :class:`AuditEntry` carrying the list of its item
changes, written by :func:`rodnan.web.audit.chain.append` in the same transaction as the change
itself. Entries form a keyed hash chain (each hash is an HMAC over the entry and the previous hash,
under a key kept outside the database), so an edited, removed or inserted entry breaks the chain at
that point (``rodnan audit verify``; decision 0011). There is no update or delete path in the code
(the model and its querysets refuse both); on both databases triggers refuse UPDATE and DELETE on
the table (and TRUNCATE on PostgreSQL).
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db import models

from rodnan.errors import RodnanError


class AppendOnlyError(RodnanError):
    """An attempt to change or delete an audit entry."""


class AppendOnlyQuerySet(models.QuerySet["AuditEntry"]):
    """Audit entries in bulk: read and created, never updated or deleted (on either database)."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit entries are append-only: entries cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit entries are append-only: entries cannot be deleted")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise AppendOnlyError("audit entries are append-only: entries cannot be updated")

    def update_or_create(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("audit entries are append-only: entries are appended by rodnan.web.audit.chain.append")


class AuditEntry(models.Model):
    """One audited event: who (user, role, source), what (action, object, item changes), when (UTC), why, and its hash."""

    seq = models.PositiveBigIntegerField(unique=True)
    # Indexes: seq (the chain), (subject, seq) and (form_record, seq) (the audit pages) and no other: every index
    # is written for each of the import's 600,000 entries (decision 0011); the foreign keys get none of their own.
    at = models.DateTimeField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    username = models.CharField(max_length=150)
    role = models.CharField(max_length=30, blank=True)
    site = models.ForeignKey("studies.Site", null=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    subject = models.ForeignKey("subjects.Subject", null=True, on_delete=models.PROTECT, related_name="audit_entries",
                                db_index=False)  # fmt: skip
    form_record = models.ForeignKey("crfs.FormRecord", null=True, on_delete=models.PROTECT, related_name="audit_entries",
                                    db_index=False)  # fmt: skip
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True)
    source = models.CharField(max_length=100, default="screen")  # screen, import, api:<token name>, patient, system
    changes = models.TextField(default="[]")  # canonical JSON text of the items: [{"field", "old", "new"}, ...]
    key_id = models.CharField(max_length=20)  # the audit key whose HMAC is ``hash``
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)  # no index: seq orders the chain; verification recomputes every hash

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["subject", "seq"]), models.Index(fields=["form_record", "seq"])]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("audit entries are append-only: an entry cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit entries are append-only: an entry cannot be deleted")

    @cached_property
    def items(self) -> list[dict[str, Any]]:
        """The item changes: ``{"field", "old", "new"}`` dicts, in the order written."""
        return list(json.loads(self.changes or "[]"))

    def __str__(self) -> str:
        return f"#{self.seq} {self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.object_type}:{self.object_id}"


class AuditHead(models.Model):
    """The end of the chain: one row, locked while an entry is appended, so appends never fork it."""

    seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)
