"""Records: the one model of scheduled records (a form at a visit) and log records (repeating entries of a log
form per subject, e.g. medical history), with their states."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from rodnan.core.records.states import RecordStatus


class FormRecord(models.Model):
    """One record: the values of a form at one visit of one subject, or one entry of a log form.

    A scheduled record has a ``visit`` and ``seq`` 0; a log record has no ``visit``, a sequence number
    (1, 2, ... per subject and form), its own ``start_date`` and ``end_date`` (ISO, possibly partial:
    "2019", "2019-03") and optionally a ``linked_visit``. ``values`` maps item code to
    :meth:`rodnan.core.entry.EnteredValue.as_json`. ``status``, ``flags``, ``state_reason`` and
    ``item_flags`` are :class:`rodnan.core.records.states.RecordState` (its rules live in the core);
    ``version`` increases with every write (optimistic locking). Every change is an audit entry.
    """

    Status = models.TextChoices("Status", [(s.value.upper(), (s.value, s.label)) for s in RecordStatus])  # type: ignore[call-overload]  # django-stubs lacks the functional API's (value, label) pairs

    subject = models.ForeignKey("subjects.Subject", on_delete=models.PROTECT, related_name="form_records")
    visit = models.ForeignKey("subjects.Visit", null=True, blank=True, on_delete=models.PROTECT, related_name="form_records")
    form_code = models.CharField(max_length=40)
    seq = models.PositiveIntegerField(default=0)
    start_date = models.CharField(max_length=10, null=True, blank=True)
    end_date = models.CharField(max_length=10, null=True, blank=True)
    # linked_visit and updated_by are never searched by (pages reach a record from its subject or visit): no index,
    # one less to maintain per record written (the bulk import writes half a million records; decision 0013)
    linked_visit = models.ForeignKey("subjects.Visit", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                     db_index=False)  # fmt: skip
    protocol_version = models.CharField(max_length=20)
    values = models.JSONField(default=dict)
    confirmed_warnings = models.JSONField(default=list)
    status = models.CharField(max_length=20, choices=Status.choices, default=RecordStatus.NOT_STARTED.value, db_index=True)
    flags = models.JSONField(default=list)
    state_reason = models.TextField(blank=True)
    item_flags = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                   db_index=False)  # fmt: skip

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["visit", "form_code"], condition=Q(visit__isnull=False),
                                    name="record_visit_form_unique"),
            models.UniqueConstraint(fields=["subject", "form_code", "seq"], condition=Q(visit__isnull=True),
                                    name="record_log_seq_unique"),
        ]  # fmt: skip
        ordering = ["visit", "id"]

    @property
    def is_log(self) -> bool:
        """True for an entry of a log form."""
        return self.visit_id is None

    def __str__(self) -> str:
        return f"{self.visit} {self.form_code}" if self.visit_id else f"{self.subject} {self.form_code}#{self.seq}"
