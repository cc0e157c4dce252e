"""Writes of users and memberships, each audited (role and membership changes are audit events)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from rodnan.errors import InputError
from rodnan.web.accounts.access import forget_roles, require
from rodnan.web.accounts.models import Membership
from rodnan.web.accounts.roles import ROLES, Permission
from rodnan.web.audit.chain import Change, ItemChange, append
from rodnan.web.studies.models import Site


@transaction.atomic
def check_create_user(admin: Any, site: Site, username: str, password: str, role: str) -> Any:
    """Create a user with a role at ``site`` (the administrator must manage users there)."""
    admin_role = require(admin, Permission.MANAGE_USERS, site)
    username = username.strip()
    user_model = get_user_model()
    if not username or len(username) > 150:
        raise InputError("username", "is required (at most 150 characters)", username)
    if user_model.objects.filter(username=username).exists():
        raise InputError("username", "is taken", username)
    if role not in ROLES:
        raise InputError("role", f"must be one of {', '.join(ROLES)}", role)
    candidate = user_model(username=username)
    try:
        validate_password(password, candidate)
    except ValidationError as exc:
        raise InputError("password", " ".join(exc.messages), None) from None
    user = user_model.objects.create_user(username=username, password=password)
    append(user=admin, role=admin_role.code, changes=[Change("user.create", "user", username, site_id=site.pk)])
    do_grant_membership(admin, admin_role.code, user, site, role)
    return user


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


@transaction.atomic
def check_grant_membership(admin: Any, user: Any, site: Site, role: str) -> Membership:
    """Give a role at a site, checked: the administrator manages users there and the role exists."""
    admin_role = require(admin, Permission.MANAGE_USERS, site)
    if role not in ROLES:
        raise InputError("role", f"must be one of {', '.join(ROLES)}", role)
    return do_grant_membership(admin, admin_role.code, user, site, role)


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
