"""Who may do what where: the user's role at a site, and the checks every view and action makes."""

from __future__ import annotations

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
    cache: dict[int, str] = getattr(user, "_rodnan_roles", None) or _load_roles(user)
    code = cache.get(site_id)
    return ROLES.get(code) if code else None


def _load_roles(user: Any) -> dict[int, str]:
    roles = dict(Membership.objects.filter(user=user).values_list("site_id", "role"))
    user._rodnan_roles = roles
    return roles


def forget_roles(user: Any) -> None:
    """Drop the per-request cache of the user's roles (after a membership change)."""
    if hasattr(user, "_rodnan_roles"):
        del user._rodnan_roles


def sites_with(user: Any, permission: Permission) -> QuerySet[Site]:
    """The sites where the user's role grants ``permission``."""
    if not getattr(user, "is_authenticated", False):
        return Site.objects.none()
    codes = [code for code, role in ROLES.items() if permission in role.permissions]
    return Site.objects.filter(memberships__user=user, memberships__role__in=codes)


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
    roles = getattr(user, "_rodnan_roles", None) or _load_roles(user)
    return ",".join(sorted(set(roles.values())))
