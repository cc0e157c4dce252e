"""Site membership: which user holds which role at which site."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from rodnan.web.accounts.roles import ROLES


class Membership(models.Model):
    """A user's role at a site. One role per user and site; no membership, no access."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships")
    site = models.ForeignKey("studies.Site", on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=30, choices=[(code, role.label) for code, role in ROLES.items()])
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "site"], name="membership_user_site_unique")]

    def __str__(self) -> str:
        return f"{self.user} {self.role} at {self.site.code}"


class RoleRequest(models.Model):
    """A role that sees clinical data, asked for by one administrator and waiting for another's approval
    (``settings.ROLE_APPROVAL``; decision 0023). Decided once: approved (the membership is granted) or rejected."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="role_requests")
    site = models.ForeignKey("studies.Site", on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=30, choices=[(code, role.label) for code, role in ROLES.items()])
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decision = models.CharField(max_length=10, blank=True, choices=[("approved", "Approved"), ("rejected", "Rejected")])
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "id"]

    def __str__(self) -> str:
        return f"{self.role} for {self.user} at {self.site.code} ({self.decision or 'pending'})"
