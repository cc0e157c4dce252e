"""Template context: the user's memberships, for the header and the navigation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from rodnan.web.accounts.access import memberships_of
from rodnan.web.accounts.roles import ROLES, Permission
from rodnan.web.accounts.session import relogin_token


def membership(request: HttpRequest) -> dict[str, Any]:
    """``memberships`` (site code, role label), what the navigation may offer and the page's re-login token."""
    user = request.user
    if not user.is_authenticated:
        return {}
    rows = memberships_of(user)
    permissions = set().union(*(ROLES[m.role].permissions for m in rows)) if rows else set()
    return {
        "memberships": [(m.site_code, ROLES[m.role].label) for m in rows],
        "nav_clinical": Permission.VIEW_SUBJECTS in permissions,
        "nav_identity": Permission.VIEW_IDENTITY in permissions,  # "Find patient" (decision 0020)
        "nav_users": Permission.MANAGE_USERS in permissions,
        "nav_account_audit": Permission.VIEW_ACCOUNT_AUDIT in permissions,
        "relogin_token": relogin_token(user),  # static/rodnan/unsaved.js: re-login in place as this user only
    }
