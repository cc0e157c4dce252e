"""Screens of the identity store: the identity page (each view audited), its edit form, and the search.

Only the site's own staff roles reach them (decision 0020). Names typed into the search are posted, never
put in a URL: URLs end up in access logs, browser histories and Referer headers.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters

from rodnan.core.identity import IDENTITY_FIELDS, LABELS, IdentityFields, changes_from_json
from rodnan.errors import InputError
from rodnan.web.accounts.access import AccessDeniedError, can
from rodnan.web.accounts.roles import Permission
from rodnan.web.identity.actions import check_save_identity
from rodnan.web.identity.models import Identity
from rodnan.web.identity.selectors import get_subject_for_identity, identity_site_ids, read_identity, search_identities


def _history(identity: Identity | None) -> list[tuple[Any, list[tuple[str, str, str]]]]:
    """Each history row (latest first) with its changes as (label, old, new) to show."""
    if identity is None:
        return []
    return [
        (row, [(LABELS.get(c.field, c.field), c.old or "", c.new or "") for c in changes_from_json(row.changes)])
        for row in identity.history.order_by("-version")
    ]


@login_required
def identity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A subject's identity and its change history (an ``identity.view`` audit entry for every view)."""
    subject = get_subject_for_identity(request.user, pk)
    identity = read_identity(request.user, subject, "identity page")
    fields = identity.as_fields() if identity else None
    return render(request, "rodnan/identity.html", {
        "subject": subject, "identity": identity, "labels": LABELS,
        "shown": [(LABELS[name], getattr(fields, name)) for name in IDENTITY_FIELDS] if fields else [],
        "history": _history(identity), "can_edit": can(request.user, Permission.EDIT_IDENTITY, subject.site_id),
    })  # fmt: skip


@login_required
@sensitive_post_parameters()
def identity_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Record or correct a subject's identity (GET: the form, an audited view; POST: save, with a reason once saved)."""
    subject = get_subject_for_identity(request.user, pk, Permission.EDIT_IDENTITY)
    context: dict[str, Any] = {"subject": subject, "labels": LABELS, "fields": IDENTITY_FIELDS, "errors": {},
                               "today": timezone.localdate()}  # fmt: skip
    if request.method == "POST":
        raw = {name: str(request.POST.get(name, "")) for name in IDENTITY_FIELDS}
        version = str(request.POST.get("version", ""))
        context.update(values=raw, version=version, saved=version not in ("", "0"), reason=request.POST.get("reason", ""))
        try:
            plan = check_save_identity(request.user, subject, raw, str(request.POST.get("reason", "")),
                                       int(version) if version.isdigit() else None)  # fmt: skip
        except AccessDeniedError as exc:
            raise PermissionDenied(str(exc)) from None
        except InputError as exc:
            label = {**LABELS, "reason": "Reason for change"}.get(exc.field, exc.field.replace("_", " ").capitalize())
            context["errors"] = {exc.field: f"{label}: {exc.rule}"}
            return render(request, "rodnan/identity_edit.html", context, status=422)
        messages.success(request, f"{subject.label}: identity saved." if not plan.empty else f"{subject.label}: nothing changed.")
        return redirect("identity_detail", pk=subject.pk)
    identity = read_identity(request.user, subject, "edit form")
    stored = identity.as_fields() if identity else IdentityFields()
    context.update(values={name: getattr(stored, name) for name in IDENTITY_FIELDS}, version=identity.version if identity else 0,
                   saved=identity is not None, reason="")  # fmt: skip
    return render(request, "rodnan/identity_edit.html", context)


@login_required
@sensitive_post_parameters()
def identity_search(request: HttpRequest) -> HttpResponse:
    """Find a subject of the user's sites by hospital record number or name (POST; each search audited)."""
    if not identity_site_ids(request.user):
        raise PermissionDenied("your role does not include the patient's identity")
    text, results = "", None
    if request.method == "POST":
        text = " ".join(str(request.POST.get("q", "")).split())
        results = search_identities(request.user, text)
    return render(request, "rodnan/identity_search.html", {"q": text, "results": results})
