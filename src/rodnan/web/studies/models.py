"""The study as loaded from its protocol file, and its sites."""

from __future__ import annotations

from django.db import models


class Study(models.Model):
    """One version of a protocol file as loaded; records say which version they were entered under."""

    code = models.CharField(max_length=40)
    version = models.CharField(max_length=20)
    registry_number = models.CharField(max_length=20)
    title = models.TextField()
    target_enrolment = models.PositiveIntegerField()
    protocol_sha256 = models.CharField(max_length=64)
    protocol_text = models.TextField()
    loaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="study_code_version_unique")]

    def __str__(self) -> str:
        return f"{self.registry_number} protocol {self.version}"


class Site(models.Model):
    """A study site; every subject belongs to one, and staff see only the sites they are members of."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="sites")
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    city = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True)

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
