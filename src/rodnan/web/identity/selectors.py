"""Reads of the identity store, always scoped and always audited.

A subject of a site where the user sees no subjects is "not found" (404, as everywhere:
:func:`rodnan.web.subjects.selectors.get_subject_for_user`); a subject the user sees but whose site does not
grant the user's role the identity is "forbidden" (403: the page exists for every subject, so nothing leaks).
Every function here that hands out identity values appends an audit entry first, in the same transaction
(who, when, which subject, why; never the values). The cell-product look-back and e-consent read identities
through :func:`read_identity` with their own ``purpose``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q

from rodnan.web.accounts.access import can, require, role_at, site_ids_with
from rodnan.web.accounts.roles import Permission
from rodnan.web.audit.chain import Change, ItemChange, append
from rodnan.web.identity.models import Identity
from rodnan.web.subjects.models import Subject
from rodnan.web.subjects.selectors import get_subject_for_user

VIEW_ACTION = "identity.view"
SEARCH_ACTION = "identity.search"
MAX_RESULTS = 50
"""A search shows at most this many subjects (a search is for finding one patient, not for listing them)."""


def identity_site_ids(user: Any, permission: Permission = Permission.VIEW_IDENTITY) -> list[int]:
    """The ids of the sites where the user's role grants ``permission`` on identities."""
    return site_ids_with(user, permission)


def may_view_identity(user: Any, subject: Subject) -> bool:
    """True when the user's role at the subject's site grants the identity (the subject page's link)."""
    return can(user, Permission.VIEW_IDENTITY, subject.site_id)


def get_subject_for_identity(user: Any, pk: int, permission: Permission = Permission.VIEW_IDENTITY) -> Subject:
    """The subject whose identity the user asks for.

    Raises:
        Http404: no such subject at the user's sites.
        PermissionDenied: the user's role at the subject's site does not grant ``permission``.
    """
    subject = get_subject_for_user(user, pk)
    if not can(user, permission, subject.site_id):
        raise PermissionDenied("your role does not include the patient's identity")
    return subject


def read_identity(user: Any, subject: Subject, purpose: str) -> Identity | None:
    """The subject's identity, with an ``identity.view`` audit entry when there is one to show.

    Args:
        user: the user who will see it (their role at the subject's site must grant the identity).
        subject: the subject.
        purpose: why it is read, in a few words ("identity page", "edit form", "cell-product look-back");
            the audit entry's reason.

    Returns:
        The identity, or None when none is recorded (nothing is shown, nothing audited).

    Raises:
        AccessDeniedError: the user's role at the subject's site does not grant the identity.
    """
    role = require(user, Permission.VIEW_IDENTITY, subject.site_id)
    with transaction.atomic():
        identity = Identity.objects.filter(subject_id=subject.pk).first()
        if identity is not None:
            append(user=user, role=role.code, changes=[Change(VIEW_ACTION, "identity", subject.label, purpose,
                                                              site_id=subject.site_id, subject_id=subject.pk)])  # fmt: skip
    return identity


def search_identities(user: Any, text: str) -> list[Subject]:
    """Subjects of the user's identity sites whose hospital record number, family name or given names match ``text``.

    The record number matches exactly (ignoring case and spaces); names match by their beginning or a whole
    name ("li" finds "Li Wei" and "Test-Li", not "Ali"). One ``identity.search`` audit entry per search, with
    the subjects found (pseudonymous labels) and never the text searched for.

    Returns:
        At most :data:`MAX_RESULTS` subjects, by site and screening number.
    """
    sites = identity_site_ids(user)
    words = " ".join(text.split())
    if not sites or len(words) < 2:
        return []
    number = words.replace(" ", "").upper()
    match = Q(hospital_record_number=number) | Q(family_name__istartswith=words) | Q(given_names__istartswith=words)
    match |= Q(family_name__icontains=f"-{words}") | Q(family_name__icontains=f" {words}") | Q(given_names__icontains=f" {words}")
    found = list(
        Subject.objects.filter(pk__in=Identity.objects.filter(match, site_id__in=sites).values("subject_id"))
        .select_related("site")
        .order_by("site__code", "screening_number")[:MAX_RESULTS]
    )
    roles = sorted({r.code for r in (role_at(user, s) for s in sites) if r is not None})
    with transaction.atomic():
        append(user=user, role=",".join(roles), changes=[Change(
            SEARCH_ACTION, "identity", "", "", items=(ItemChange("found", None, " ".join(s.label for s in found) or None),),
            site_id=sites[0] if len(sites) == 1 else None,
        )])  # fmt: skip
    return found
