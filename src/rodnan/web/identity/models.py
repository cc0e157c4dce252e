"""The identity store: one :class:`Identity` per subject, and its append-only :class:`IdentityChange` history.

Nothing in the clinical code reaches an identity from a subject (no reverse relation); the only ways in are
:mod:`rodnan.web.identity.selectors`, scoped to the sites where the user's role grants the identity
permissions, and every read of values there writes an audit entry. The values of each change are kept in
:class:`IdentityChange` (read by the same staff roles only); the main audit trail holds the changed fields'
names and a commitment (:func:`rodnan.core.identity.commitment`), never a value (decision 0020).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from rodnan.core.identity import IdentityFields
from rodnan.errors import RodnanError


class Identity(models.Model):
    """Who a subject is: names, date of birth, the hospital's record number, contact details and next of kin.

    ``hospital_record_number`` is unique per site; ``version`` increases with every change (optimistic
    locking). Written only by :func:`rodnan.web.identity.actions.check_save_identity`.
    """

    subject = models.OneToOneField("subjects.Subject", on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey("studies.Site", on_delete=models.PROTECT, related_name="+")
    family_name = models.CharField(max_length=100)
    given_names = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField()
    hospital_record_number = models.CharField(max_length=40)
    phone = models.CharField(max_length=30, blank=True)
    email = models.CharField(max_length=254, blank=True)
    address = models.TextField(blank=True)
    next_of_kin_name = models.CharField(max_length=200, blank=True)
    next_of_kin_relation = models.CharField(max_length=50, blank=True)
    next_of_kin_phone = models.CharField(max_length=30, blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "hospital_record_number"], name="identity_site_record_number_unique")
        ]

    def as_fields(self) -> IdentityFields:
        """The identity as the core's plain :class:`~rodnan.core.identity.IdentityFields` (date ISO)."""
        return IdentityFields(
            family_name=self.family_name, given_names=self.given_names, date_of_birth=self.date_of_birth.isoformat(),
            hospital_record_number=self.hospital_record_number, phone=self.phone, email=self.email, address=self.address,
            next_of_kin_name=self.next_of_kin_name, next_of_kin_relation=self.next_of_kin_relation,
            next_of_kin_phone=self.next_of_kin_phone,
        )  # fmt: skip

    def __str__(self) -> str:  # never the values: a str() may reach a log or an error page
        return f"identity of subject #{self.subject_id}"


class AppendOnlyError(RodnanError):
    """An attempt to change or delete an identity history row."""


class _HistoryQuerySet(models.QuerySet["IdentityChange"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("the identity history is append-only: rows cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("the identity history is append-only: rows cannot be deleted")


class IdentityChange(models.Model):
    """One change of an identity with its old and new values (append-only; triggers refuse UPDATE and DELETE).

    ``audit_seq`` is the main audit trail's entry of the same change, whose ``values_sha256`` item is
    :func:`rodnan.core.identity.commitment` of ``salt``, ``changes`` and ``reason``
    (:func:`rodnan.web.identity.verify.verify_identity_history` checks every row against it).
    """

    identity = models.ForeignKey(Identity, on_delete=models.PROTECT, related_name="history")
    version = models.PositiveIntegerField()  # the identity's version after this change
    at = models.DateTimeField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    username = models.CharField(max_length=150)
    role = models.CharField(max_length=30)
    reason = models.TextField(blank=True)
    changes = models.TextField()  # canonical JSON [{"field", "old", "new"}, ...] (rodnan.core.identity.changes_to_json)
    salt = models.CharField(max_length=64)
    audit_seq = models.PositiveBigIntegerField(unique=True)

    objects = _HistoryQuerySet.as_manager()

    class Meta:
        ordering = ["identity", "version"]
        constraints = [models.UniqueConstraint(fields=["identity", "version"], name="identity_change_version_unique")]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("the identity history is append-only: a row cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("the identity history is append-only: a row cannot be deleted")

    def __str__(self) -> str:
        return f"identity change v{self.version} of identity #{self.identity_id}"
