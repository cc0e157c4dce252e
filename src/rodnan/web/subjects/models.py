"""Subjects (pseudonymous: screening number and subject ID, never a name) and their planned visits."""

from __future__ import annotations

from django.db import models

from rodnan.core.lifecycle import SubjectStatus


class Subject(models.Model):
    """A person from first screening on, identified only by pseudonymous numbers.

    ``status`` moves only through :mod:`rodnan.core.lifecycle`; ``version`` increases with every
    change, for optimistic locking.
    """

    study = models.ForeignKey("studies.Study", on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey("studies.Site", on_delete=models.PROTECT, related_name="subjects")
    screening_number = models.CharField(max_length=30, unique=True)
    subject_code = models.CharField(max_length=30, unique=True, null=True, blank=True)
    status = models.CharField(max_length=30, choices=[(s.value, s.label) for s in SubjectStatus], db_index=True)
    screening_date = models.DateField()
    screen_fail_reason = models.TextField(blank=True)
    consent_version = models.CharField(max_length=40, blank=True)
    consent_date = models.DateField(null=True, blank=True)
    enrolment_date = models.DateField(null=True, blank=True)
    infusion_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    end_reason = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["site", "status"])]
        ordering = ["screening_number"]

    @property
    def label(self) -> str:
        """The subject ID once enrolled, else the screening number."""
        return self.subject_code or self.screening_number

    def __str__(self) -> str:
        return self.label


class Visit(models.Model):
    """A protocol visit placed on the calendar for one subject."""

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="visits")
    code = models.CharField(max_length=20)
    label = models.CharField(max_length=100)
    day = models.IntegerField()
    target_date = models.DateField()
    window_start = models.DateField(db_index=True)
    window_end = models.DateField(db_index=True)
    done_on = models.DateField(null=True, blank=True)
    missed = models.BooleanField(default=False)
    missed_reason = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "code"], name="visit_subject_code_unique")]
        ordering = ["subject", "day"]

    def __str__(self) -> str:
        return f"{self.subject} {self.code}"
