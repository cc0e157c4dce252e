"""Who may do what where: the user's role at a site, and the checks every view and action makes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from rodnan.errors import RodnanError
from rodnan.web.accounts.models import Membership
from rodnan.web.accounts.roles import ROLES, Permission, Role
from rodnan.web.studies.models import Site


class AccessDeniedError(RodnanError):
    """The user's role at the site does not grant the permission (or the user is not a member)."""


def role_at(user: Any, site: Site | int) -> Role | None:
    """The user's role at a site, or None when the user is not a member there."""
    if not getattr(user, "is_authenticated", False):
        return None
    site_id = site if isinstance(site, int) else site.pk
    for held in memberships_of(user):
        if held.site_id == site_id:
            return ROLES.get(held.role)
    return None


@dataclass(frozen=True)
class Held:
    """One membership of the user: a role at a site."""

    site_id: int
    site_code: str
    role: str


def memberships_of(user: Any) -> list[Held]:
    """The user's memberships ordered by site code, read once per request (kept on the user object,
    which Django loads afresh for every request)."""
    if not getattr(user, "is_authenticated", False):
        return []
    held: list[Held] | None = getattr(user, "_rodnan_roles", None)
    if held is None:
        rows = Membership.objects.filter(user=user).order_by("site__code").values_list("site_id", "site__code", "role")
        held = [Held(*row) for row in rows]
        user._rodnan_roles = held
    return held


def forget_roles(user: Any) -> None:
    """Drop the per-request cache of the user's roles (after a membership change)."""
    if hasattr(user, "_rodnan_roles"):
        del user._rodnan_roles


def site_ids_with(user: Any, permission: Permission) -> list[int]:
    """The ids of the sites where the user's role grants ``permission``."""
    return [h.site_id for h in memberships_of(user) if permission in ROLES[h.role].permissions]


def sites_with(user: Any, permission: Permission) -> QuerySet[Site]:
    """The sites where the user's role grants ``permission``."""
    return Site.objects.filter(pk__in=site_ids_with(user, permission))


def can(user: Any, permission: Permission, site: Site | int) -> bool:
    """True when the user's role at ``site`` grants ``permission``."""
    role = role_at(user, site)
    return role is not None and permission in role.permissions


def require(user: Any, permission: Permission, site: Site | int) -> Role:
    """The user's role at ``site`` when it grants ``permission``.

    Raises:
        AccessDeniedError: naming the permission.
    """
    role = role_at(user, site)
    if role is None or permission not in role.permissions:
        held = role.label if role else "no role"
        raise AccessDeniedError(f"not allowed: {permission.value.replace('_', ' ')} needs a role that grants it ({held} here)")
    return role


def any_role_code(user: Any) -> str:
    """The user's role codes, comma-separated (for audit entries of events without a site)."""
    if not getattr(user, "is_authenticated", False):
        return ""
    return ",".join(sorted({h.role for h in memberships_of(user)}))
