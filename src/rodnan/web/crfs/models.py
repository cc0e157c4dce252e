"""Form records: one per subject, visit and form, holding the item values as entered and normalised."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class FormRecord(models.Model):
    """The values of one form at one visit of one subject.

    ``values`` maps item code to :meth:`rodnan.core.entry.EnteredValue.as_json` (as typed, with its
    unit, and normalised to the item's unit). Every change of an item is also an audit entry.
    ``version`` increases with every save; a save that started from an older version is a conflict.
    """

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        INCOMPLETE = "incomplete", "Incomplete"
        COMPLETE = "complete", "Complete"

    subject = models.ForeignKey("subjects.Subject", on_delete=models.PROTECT, related_name="form_records")
    visit = models.ForeignKey("subjects.Visit", on_delete=models.PROTECT, related_name="form_records")
    form_code = models.CharField(max_length=40)
    protocol_version = models.CharField(max_length=20)
    values = models.JSONField(default=dict)
    confirmed_warnings = models.JSONField(default=list)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NOT_STARTED, db_index=True)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["visit", "form_code"], name="form_record_visit_form_unique")]
        ordering = ["visit", "id"]

    def __str__(self) -> str:
        return f"{self.visit} {self.form_code}"
