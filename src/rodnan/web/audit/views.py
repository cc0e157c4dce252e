"""Audit views: per subject, per form, and the account events (logins, memberships)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from rodnan.core.units import display_unit
from rodnan.web.accounts.access import can, sites_with
from rodnan.web.accounts.models import Membership
from rodnan.web.accounts.roles import Permission
from rodnan.web.audit.models import AuditEntry
from rodnan.web.studies.protocol import study_definition
from rodnan.web.subjects.models import Subject
from rodnan.web.subjects.selectors import get_form_record_for_user, get_subject_for_user

ACCOUNT_ACTIONS = ("auth.login", "auth.logout", "auth.login_failed", "user.create", "membership.grant", "membership.revoke")


def _order(request: HttpRequest) -> str:
    return "desc" if request.GET.get("order") == "desc" else "asc"


def shown_value(value: Any) -> str:
    """An item's old or new value as the audit page shows it: a form value as entered with its unit (printed by
    :func:`rodnan.core.units.display_unit`: "70 µmol/L"), else its text."""
    if isinstance(value, dict):
        from rodnan.web.crfs.actions import shown

        raw, unit = value.get("raw"), value.get("unit")
        if isinstance(raw, str) and isinstance(unit, str) and unit:
            return f"{raw} {display_unit(unit)}".rstrip()
        return shown(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _rows(entries: Iterable[AuditEntry]) -> list[tuple[AuditEntry, list[dict[str, str]]]]:
    """Each entry with its item changes ready to show (one table row per item, grouped under the entry)."""
    return [
        (entry, [{"field": str(i.get("field", "")), "old": shown_value(i.get("old")), "new": shown_value(i.get("new"))}
                 for i in entry.items])
        for entry in entries
    ]  # fmt: skip


def _labels(subject: Subject) -> dict[str, str]:
    """Item labels by code, for the audit table (the code stays in the cell's title)."""
    return {item.code: item.label for item in study_definition(subject.study).items}


@login_required
def subject_audit(request: HttpRequest, pk: int) -> HttpResponse:
    """Every audit entry about one subject, oldest first."""
    subject = get_subject_for_user(request.user, pk)
    if not can(request.user, Permission.VIEW_AUDIT, subject.site_id):
        raise PermissionDenied("your role does not include the audit trail")
    order = _order(request)
    entries = AuditEntry.objects.filter(subject=subject).order_by("-seq" if order == "desc" else "seq")
    page = Paginator(entries, 200).get_page(request.GET.get("page"))
    context = {"title": f"Audit trail of {subject.label}", "subject": subject, "page": page, "rows": _rows(page), "order": order,
               "labels": _labels(subject)}  # fmt: skip
    return render(request, "rodnan/audit.html", context)


@login_required
def form_audit(request: HttpRequest, pk: int) -> HttpResponse:
    """Every audit entry about one form record."""
    record = get_form_record_for_user(request.user, pk)
    if not can(request.user, Permission.VIEW_AUDIT, record.subject.site_id):
        raise PermissionDenied("your role does not include the audit trail")
    order = _order(request)
    entries = AuditEntry.objects.filter(form_record=record).order_by("-seq" if order == "desc" else "seq")
    page = Paginator(entries, 200).get_page(request.GET.get("page"))
    form = study_definition(record.subject.study).form_by_code.get(record.form_code)
    where = record.visit.label if record.visit is not None else f"entry {record.seq}"  # a log record has no visit
    title = f"Audit trail of {record.subject.label}, {where}, {form.label if form else record.form_code}"
    context = {"title": title, "subject": record.subject, "record": record, "page": page, "rows": _rows(page), "order": order,
               "labels": _labels(record.subject)}  # fmt: skip
    return render(request, "rodnan/audit.html", context)


@login_required
def account_audit(request: HttpRequest) -> HttpResponse:
    """Logins, failed logins, logouts, user creation and membership changes (administrators)."""
    sites = sites_with(request.user, Permission.VIEW_ACCOUNT_AUDIT)
    if not sites.exists():
        raise PermissionDenied("your role does not include the account audit")
    # only the events of this administrator's sites: about their members, or recorded at those sites
    members = Membership.objects.filter(site__in=sites).values_list("user__username", flat=True)
    entries = (
        AuditEntry.objects.filter(action__in=ACCOUNT_ACTIONS)
        .filter(Q(site__in=sites) | Q(site__isnull=True, object_id__in=members))
        .order_by("-seq")
    )
    page = Paginator(entries, 200).get_page(request.GET.get("page"))
    return render(request, "rodnan/audit.html", {"title": "Account events", "page": page, "rows": _rows(page), "accounts": True,
                                                  "order": "desc"})  # fmt: skip
