"""Login and the administrator's users page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from rodnan.errors import InputError
from rodnan.web.accounts import actions
from rodnan.web.accounts.access import AccessDeniedError, sites_with
from rodnan.web.accounts.models import Membership
from rodnan.web.accounts.roles import ROLES, Permission


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
                actions.check_create_user(request.user, site, str(request.POST.get("username", "")),
                                          str(request.POST.get("password", "")), str(request.POST.get("role", "")))  # fmt: skip
                messages.success(request, f"User {request.POST.get('username')} created.")
            else:
                user = get_user_model().objects.filter(pk=request.POST.get("user") or 0).first()
                if user is None:
                    raise InputError("user", "no such user", request.POST.get("user"))
                if op == "grant":
                    actions.check_grant_membership(request.user, user, site, str(request.POST.get("role", "")))
                    messages.success(
                        request, f"{user.username} is now {ROLES[str(request.POST.get('role'))].label} at {site.code}."
                    )
                elif op == "revoke":
                    actions.check_revoke_membership(request.user, user, site)
                    messages.success(request, f"{user.username} no longer has a role at {site.code}.")
                else:
                    raise InputError("op", "must be create, grant or revoke", op)
        except (InputError, AccessDeniedError) as exc:
            messages.error(request, str(exc))
        return redirect("users")
    memberships = (
        Membership.objects.filter(site__in=sites).select_related("user", "site").order_by("site__code", "user__username")
    )
    # not "memberships": that name is the header's (site, role) pairs from the context processor
    return render(request, "rodnan/users.html", {"site_memberships": memberships, "sites": sites, "roles": list(ROLES.values())})
