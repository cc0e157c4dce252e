"""Login and the administrator's users page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.cache import never_cache

from rodnan.errors import InputError
from rodnan.web.accounts import actions
from rodnan.web.accounts.access import AccessDeniedError, any_role_code, sites_with
from rodnan.web.accounts.models import Membership, RoleRequest
from rodnan.web.accounts.roles import ROLES, Permission
from rodnan.web.audit.chain import Change, append


@login_required
def users(request: HttpRequest) -> HttpResponse:
    """Users with a role at the administrator's sites; create a user, grant or revoke a role."""
    sites = list(sites_with(request.user, Permission.MANAGE_USERS))
    if not sites:
        raise PermissionDenied("your role does not include managing users")
    if request.method == "POST":
        site = next((s for s in sites if str(s.pk) == request.POST.get("site")), None)
        try:
            if site is None:
                raise InputError("site", "choose a site you administer", request.POST.get("site"))
            op = request.POST.get("op")
            if op == "create":
                user, path = actions.check_create_user(request.user, site, str(request.POST.get("username", "")),
                                                       str(request.POST.get("role", "")))  # fmt: skip
                return _link_page(request, user, path, created=True)
            # only users with a role at one of the administrator's sites: no stepping through other sites' ids
            at_sites = Q(memberships__site__in=sites) | Q(role_requests__site__in=sites)
            user = get_user_model().objects.filter(at_sites, pk=_int(request.POST.get("user"))).distinct().first()
            if user is None:
                raise InputError("user", "no such user at your sites", request.POST.get("user"))
            if op == "grant":
                done = actions.check_grant_membership(request.user, user, site, str(request.POST.get("role", "")))
                label = ROLES[str(request.POST.get("role"))].label
                if isinstance(done, RoleRequest):
                    messages.info(request, f"{label} for {user.username} at {site.code} awaits another administrator's approval.")
                else:
                    messages.success(request, f"{user.username} is now {label} at {site.code}.")
            elif op in ("approve", "reject"):
                asked = RoleRequest.objects.filter(pk=_int(request.POST.get("request")), site=site, user=user).first()
                if asked is None:
                    raise InputError("request", "no such role request at your sites", request.POST.get("request"))
                actions.check_decide_request(request.user, asked, approve=op == "approve")
                messages.success(request, f"{asked.get_role_display()} for {user.username} at {site.code} {op}d.")
            elif op == "revoke":
                actions.check_revoke_membership(request.user, user, site)
                messages.success(request, f"{user.username} no longer has a role at {site.code}.")
            elif op == "link":
                return _link_page(request, user, actions.check_issue_password_link(request.user, user, site), created=False)
            else:
                raise InputError("op", "must be create, grant, revoke, link, approve or reject", op)
        except (InputError, AccessDeniedError) as exc:
            messages.error(request, str(exc))
        return redirect("users")
    memberships = (
        Membership.objects.filter(site__in=sites).select_related("user", "site").order_by("site__code", "user__username")
    )
    pending = RoleRequest.objects.filter(site__in=sites, decision="").select_related("user", "site", "requested_by")
    # not "memberships": that name is the header's (site, role) pairs from the context processor
    return render(request, "rodnan/users.html", {"site_memberships": memberships, "sites": sites, "roles": list(ROLES.values()),
                                                 "pending": pending})  # fmt: skip


def _int(value: Any) -> int:
    text = str(value or "")
    return int(text) if text.isdigit() else 0


def _link_page(request: HttpRequest, user: Any, path: str, created: bool) -> HttpResponse:
    """The one-time set-password link, shown this once (never stored in a message or a log)."""
    return render(request, "rodnan/password_link.html", {
        "new_user": user, "link": request.build_absolute_uri(path), "created": created,
        "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
    })  # fmt: skip


@never_cache
def set_password(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """A user sets its own password through its one-time link (a new account, or a forgotten password); audited.
    An expired or used link says so, and who can issue a new one."""
    try:
        user = get_user_model().objects.get(pk=int(force_str(urlsafe_base64_decode(uidb64))))
    except (ValueError, TypeError, OverflowError, get_user_model().DoesNotExist):
        user = None
    if user is None or not default_token_generator.check_token(user, token):
        return render(request, "rodnan/set_password.html", {"invalid": True}, status=410)
    form = SetPasswordForm(user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            append(user=user, role=any_role_code(user), changes=[Change("user.set_password", "user", user.username)])
        messages.success(request, "Your password is set. Log in with it.")
        return redirect("login")
    return render(request, "rodnan/set_password.html", {"form": form, "account": user}, status=422 if form.errors else 200)
