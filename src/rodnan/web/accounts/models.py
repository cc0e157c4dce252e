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
