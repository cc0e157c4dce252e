"""Writes of users and memberships, each audited (role and membership changes are audit events)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from rodnan.errors import InputError
from rodnan.web.accounts.access import forget_roles, require
from rodnan.web.accounts.models import Membership, RoleRequest
from rodnan.web.accounts.roles import ROLES, Permission, Role
from rodnan.web.audit.chain import Change, ItemChange, append
from rodnan.web.studies.models import Site

ADMINISTRATOR = "administrator"


def _sees_clinical_data(role: Role) -> bool:
    return Permission.VIEW_SUBJECTS in role.permissions


def set_password_path(user: Any) -> str:
    """The one-time link (path) by which ``user`` sets its own password: valid until the password is set (the
    token covers the password's hash) and for ``PASSWORD_RESET_TIMEOUT`` seconds at most."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("set_password", args=[uid, default_token_generator.make_token(user)])


def check_separation(admin: Any, user: Any, site: Site, role: str) -> None:
    """Segregation of duties: an administrator never grants itself a role, and never holds a role that sees clinical
    data (nor a user who holds one becomes an administrator), at any site.

    Raises:
        InputError: on ``role`` naming the rule broken.
    """
    if role not in ROLES:
        raise InputError("role", f"must be one of {', '.join(ROLES)}", role)
    if admin is not None and user.pk is not None and user.pk == admin.pk:
        raise InputError("role", "administrators cannot grant a role to themselves (another administrator must)", role)
    others = [m.role for m in Membership.objects.filter(user=user).exclude(site=site)] if user.pk is not None else []
    if role == ADMINISTRATOR and any(_sees_clinical_data(ROLES[r]) for r in others if r in ROLES):
        raise InputError("role", f"{user.username} holds a clinical role; an administrator never does", role)
    if _sees_clinical_data(ROLES[role]) and ADMINISTRATOR in others:
        raise InputError("role", f"{user.username} is an administrator; an administrator never holds a clinical role", role)


@transaction.atomic
def check_create_user(admin: Any, site: Site, username: str, role: str) -> tuple[Any, str]:
    """Create a user with a role at ``site`` (the administrator must manage users there), without a password: the
    user sets its own through the one-time link returned (nobody else ever knows it).

    Returns:
        The user and the path of its set-password link (:func:`set_password_path`), to be shown once.
    """
    admin_role = require(admin, Permission.MANAGE_USERS, site)
    username = username.strip()
    user_model = get_user_model()
    if not username or len(username) > 150:
        raise InputError("username", "is required (at most 150 characters)", username)
    if user_model.objects.filter(username=username).exists():
        raise InputError("username", "is taken", username)
    check_separation(admin, user_model(username=username), site, role)
    user = user_model.objects.create_user(username=username, password=None)  # an unusable password until the link is used
    append(user=admin, role=admin_role.code, changes=[Change("user.create", "user", username, site_id=site.pk)])
    _grant_or_request(admin, admin_role.code, user, site, role)
    return user, set_password_path(user)


@transaction.atomic
def check_issue_password_link(admin: Any, user: Any, site: Site) -> str:
    """A new one-time set-password link for a user of the administrator's site (a forgotten password); the user's
    current password stops working, so the administrator never holds a working one. Audited.

    Raises:
        AccessDeniedError: the administrator does not manage users at ``site``; InputError: no role there, or itself.
    """
    admin_role = require(admin, Permission.MANAGE_USERS, site)
    if not Membership.objects.filter(user=user, site=site).exists():
        raise InputError("user", f"{user.username} has no role at {site.code}", None)
    if user.pk == admin.pk:
        raise InputError("user", "administrators cannot issue a link for themselves (another administrator must)", None)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    append(user=admin, role=admin_role.code, changes=[Change("user.password_link", "user", user.username, site_id=site.pk)])
    return set_password_path(user)


def do_grant_membership(admin: Any, admin_role: str, user: Any, site: Site, role: str) -> Membership:
    """Give ``user`` ``role`` at ``site`` (replacing a role held there), audited."""
    old = Membership.objects.filter(user=user, site=site).first()
    if old is not None and old.role == role:
        return old
    membership, _ = Membership.objects.update_or_create(user=user, site=site, defaults={"role": role})
    forget_roles(user)
    append(user=admin, role=admin_role, changes=[
        Change("membership.grant", "user", user.username, items=(ItemChange("role", old.role if old else "", role),),
               site_id=site.pk),
    ])  # fmt: skip
    return membership


def needs_approval(role: str) -> bool:
    """True when granting ``role`` waits for a second administrator (``settings.ROLE_APPROVAL`` and a role that sees
    clinical data)."""
    return bool(settings.ROLE_APPROVAL) and _sees_clinical_data(ROLES[role])


def _grant_or_request(admin: Any, admin_role: str, user: Any, site: Site, role: str) -> Membership | RoleRequest:
    if not needs_approval(role):
        return do_grant_membership(admin, admin_role, user, site, role)
    pending = RoleRequest.objects.filter(user=user, site=site, role=role, decision="").first()
    if pending is not None:
        return pending
    request = RoleRequest.objects.create(user=user, site=site, role=role, requested_by=admin)
    append(user=admin, role=admin_role, changes=[
        Change("membership.request", "user", user.username, items=(ItemChange("role", "", role),), site_id=site.pk),
    ])  # fmt: skip
    return request


@transaction.atomic
def check_grant_membership(admin: Any, user: Any, site: Site, role: str) -> Membership | RoleRequest:
    """Give a role at a site, checked: the administrator manages users there, the role exists and segregation of duties
    holds (:func:`check_separation`). A role that sees clinical data is only requested (a :class:`RoleRequest`, audited)
    when ``settings.ROLE_APPROVAL`` is on: another administrator of the site approves it (:func:`check_decide_request`).
    """
    admin_role = require(admin, Permission.MANAGE_USERS, site)
    check_separation(admin, user, site, role)
    return _grant_or_request(admin, admin_role.code, user, site, role)


@transaction.atomic
def check_decide_request(admin: Any, request: RoleRequest, approve: bool) -> Membership | None:
    """Approve (the membership is granted) or reject a pending role request; audited. The administrator deciding is
    neither the one who asked nor the user concerned.

    Raises:
        AccessDeniedError: the administrator does not manage users at the request's site.
        InputError: ("request") decided already, or the administrator asked for it; the separation rules on approval.
    """
    admin_role = require(admin, Permission.MANAGE_USERS, request.site)
    current = RoleRequest.objects.select_for_update().get(pk=request.pk)
    if current.decision:
        raise InputError("request", f"was {current.decision} already", None)
    if current.requested_by_id == admin.pk:
        raise InputError("request", "another administrator must approve or reject a role you asked for", None)
    if approve:
        check_separation(admin, current.user, current.site, current.role)
    current.decision, current.decided_by, current.decided_at = ("approved" if approve else "rejected"), admin, timezone.now()
    current.save(update_fields=["decision", "decided_by", "decided_at"])
    append(user=admin, role=admin_role.code, changes=[
        Change(f"membership.{'approve' if approve else 'reject'}", "user", current.user.username,
               items=(ItemChange("role", "", current.role),), site_id=current.site_id),
    ])  # fmt: skip
    return do_grant_membership(admin, admin_role.code, current.user, current.site, current.role) if approve else None


@transaction.atomic
def check_revoke_membership(admin: Any, user: Any, site: Site) -> None:
    """Remove a user's role at a site, audited (the membership row goes; the audit entry stays)."""
    admin_role = require(admin, Permission.MANAGE_USERS, site)
    membership = Membership.objects.filter(user=user, site=site).first()
    if membership is None:
        raise InputError("membership", f"{user.username} has no role at {site.code}", None)
    if user.pk == admin.pk and membership.role == "administrator":
        raise InputError("membership", "administrators cannot revoke their own administrator role", None)
    old = membership.role
    membership.delete()
    forget_roles(user)
    append(user=admin, role=admin_role.code, changes=[
        Change("membership.revoke", "user", user.username, items=(ItemChange("role", old, ""),), site_id=site.pk),
    ])  # fmt: skip
