"""Audit views: per subject, per form, and the account events (logins, memberships)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from rodnan.web.accounts.access import can, sites_with
from rodnan.web.accounts.roles import Permission
from rodnan.web.audit.models import AuditEntry
from rodnan.web.subjects.selectors import get_form_record_for_user, get_subject_for_user

ACCOUNT_ACTIONS = ("auth.login", "auth.logout", "auth.login_failed", "user.create", "membership.grant", "membership.revoke")


@login_required
def subject_audit(request: HttpRequest, pk: int) -> HttpResponse:
    """Every audit entry about one subject, oldest first."""
    subject = get_subject_for_user(request.user, pk)
    if not can(request.user, Permission.VIEW_AUDIT, subject.site_id):
        raise PermissionDenied("your role does not include the audit trail")
    entries = AuditEntry.objects.filter(subject=subject).order_by("seq")
    page = Paginator(entries, 200).get_page(request.GET.get("page"))
    return render(request, "rodnan/audit.html", {"title": f"Audit trail of {subject.label}", "subject": subject, "page": page})


@login_required
def form_audit(request: HttpRequest, pk: int) -> HttpResponse:
    """Every audit entry about one form record."""
    record = get_form_record_for_user(request.user, pk)
    if not can(request.user, Permission.VIEW_AUDIT, record.subject.site_id):
        raise PermissionDenied("your role does not include the audit trail")
    entries = AuditEntry.objects.filter(form_record=record).order_by("seq")
    page = Paginator(entries, 200).get_page(request.GET.get("page"))
    title = f"Audit trail of {record.subject.label}, {record.visit.code}, {record.form_code}"
    return render(request, "rodnan/audit.html", {"title": title, "subject": record.subject, "record": record, "page": page})


@login_required
def account_audit(request: HttpRequest) -> HttpResponse:
    """Logins, failed logins, logouts, user creation and membership changes (administrators)."""
    if not sites_with(request.user, Permission.VIEW_ACCOUNT_AUDIT).exists():
        raise PermissionDenied("your role does not include the account audit")
    entries = AuditEntry.objects.filter(action__in=ACCOUNT_ACTIONS).order_by("-seq")
    page = Paginator(entries, 200).get_page(request.GET.get("page"))
    return render(request, "rodnan/audit.html", {"title": "Account events", "page": page, "accounts": True})
