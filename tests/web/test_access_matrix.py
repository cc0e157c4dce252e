"""Issue 16: the access matrix, generated from the URL configuration so that a new route cannot escape it.

Every named route is declared below with what it reaches (a subject, visit or record of a site; the study; the
administrator's pages; or nothing, a public page) and the permission its GET and its POST need. For every route,
every role, at its own site and at the other site, and anonymously, with GET and POST:

- anonymous: a non-public route redirects to the login and changes nothing;
- another site's subject, visit or record: 404 for every role (never 403: nothing leaks) and nothing changes;
- own site, without the permission: never a 200 page of the route (403, 404, 409 or a redirect) and a POST
  changes nothing (no audit entry, no record, subject, visit or membership written);
- own site, with the permission: the GET answers 200 and the POST is not refused for access (not 403 or 404);
- a method the route does not offer changes nothing, for any role;
- never a server error.

A route added to the URL configuration fails :func:`test_every_route_is_declared` until it is declared here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from rodnan.web.accounts.models import Membership
from rodnan.web.accounts.roles import ROLES, Permission
from rodnan.web.audit.models import AuditEntry
from rodnan.web.crfs.models import FormRecord
from rodnan.web.subjects.models import Subject, Visit
from tests.web import factories as f

pytestmark = pytest.mark.django_db

P = Permission


@dataclass(frozen=True)
class Objects:
    """One site's things a route can name."""

    site: Any
    subject: Subject
    visit: Visit
    record: FormRecord


@dataclass(frozen=True)
class Route:
    """What a route reaches and needs.

    scope: "public" (no login), "study" (the user's sites, no object in the URL), "admin" (the administrator's
        pages), or "object" (names a subject, visit or record of one site: 404 at another site).
    get / post: the permission the GET / the POST needs; None: any logged-in user; "none": the method is not offered.
    url: the URL for one site's objects.
    """

    scope: str
    get: Permission | str | None
    post: Permission | str | None
    url: Callable[[Objects], str]


NOT_OFFERED = "none"

ROUTES: dict[str, Route] = {
    "login": Route("public", None, None, lambda o: reverse("login")),
    "logout": Route("public", NOT_OFFERED, None, lambda o: reverse("logout")),
    "session": Route("public", None, None, lambda o: reverse("session")),
    "set_password": Route("public", None, None, lambda o: reverse("set_password", args=["MQ", "not-a-token"])),
    "home": Route("study", P.VIEW_SUBJECTS, NOT_OFFERED, lambda o: reverse("home")),  # an administrator: to its users
    "subject_list": Route("study", P.VIEW_SUBJECTS, NOT_OFFERED, lambda o: reverse("subject_list")),
    "subject_new": Route("study", NOT_OFFERED, P.SCREEN, lambda o: reverse("subject_new")),
    "users": Route("admin", P.MANAGE_USERS, P.MANAGE_USERS, lambda o: reverse("users")),
    "account_audit": Route("admin", P.VIEW_ACCOUNT_AUDIT, NOT_OFFERED, lambda o: reverse("account_audit")),
    "subject_detail": Route("object", P.VIEW_SUBJECTS, NOT_OFFERED, lambda o: reverse("subject_detail", args=[o.subject.pk])),
    "subject_audit": Route("object", P.VIEW_AUDIT, NOT_OFFERED, lambda o: reverse("subject_audit", args=[o.subject.pk])),
    "subject_transition": Route("object", P.CONSENT, P.CONSENT,
                                lambda o: reverse("subject_transition", args=[o.subject.pk, "consent"])),
    "visit_missed": Route("object", NOT_OFFERED, P.MARK_VISIT, lambda o: reverse("visit_missed", args=[o.visit.pk])),
    "log_add": Route("object", P.ENTER_DATA, P.ENTER_DATA, lambda o: reverse("log_add", args=[o.subject.pk, "medical_history"])),
    "form_entry": Route("object", P.VIEW_SUBJECTS, P.ENTER_DATA, lambda o: reverse("form_entry", args=[o.record.pk])),
    "eligibility_preview": Route("object", NOT_OFFERED, P.VIEW_SUBJECTS,
                                 lambda o: reverse("eligibility_preview", args=[o.record.pk])),
    "record_state_change": Route("object", NOT_OFFERED, P.ENTER_DATA,
                                 lambda o: reverse("record_state_change", args=[o.record.pk])),
    "form_audit": Route("object", P.VIEW_AUDIT, NOT_OFFERED, lambda o: reverse("form_audit", args=[o.record.pk])),
    "record_file": Route("object", P.VIEW_SUBJECTS, NOT_OFFERED,
                         lambda o: reverse("record_file", args=[o.record.pk, "source_document"])),
    "identity_detail": Route("object", P.VIEW_IDENTITY, NOT_OFFERED, lambda o: reverse("identity_detail", args=[o.subject.pk])),
    "identity_edit": Route("object", P.EDIT_IDENTITY, P.EDIT_IDENTITY, lambda o: reverse("identity_edit", args=[o.subject.pk])),
    "identity_search": Route("study", P.VIEW_IDENTITY, P.VIEW_IDENTITY, lambda o: reverse("identity_search")),
}  # fmt: skip
"""Every named route of the web application (one entry per name in the URL configuration)."""

POSTED = {"reason": "access matrix", "version": "1", "event": "mark_not_done", "v_mh_term": "Gout", "v_mh_start": "2020",
          "v_mh_ongoing": "no", "consent_date": "2026-01-01", "consent_version": "v1", "op": "grant", "role": "monitor",
          "user": "1", "site": "1", "screening_date": "2026-01-01", "v_esr": "20"}  # fmt: skip
"""One body for every POST: enough fields that a permitted POST gets past the access check to the rules."""


def _names(patterns: list[Any]) -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names |= _names(pattern.url_patterns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(pattern.name)
    return names


def test_every_route_is_declared():
    """A new route must say here what it reaches and needs, or this fails."""
    assert _names(get_resolver().url_patterns) == set(ROUTES)


def _objects(site: Any, username: str) -> Objects:
    user = f.make_user(username, "investigator", site)
    subject = f.screened_subject(user, site)
    visit = Visit.objects.filter(subject=subject).order_by("day").first()
    record = FormRecord.objects.filter(subject=subject, form_code="serology").first()
    assert visit is not None
    assert record is not None
    _attach_pdf(user, record)  # the record_file route serves it
    return Objects(site, subject, visit, record)


def _attach_pdf(user: Any, record: FormRecord) -> None:
    """A one-page PDF attached to the record's source document (decision 0021)."""
    from rodnan.core.files import FileRef, check_file_content
    from rodnan.web.crfs.actions import check_save_form
    from rodnan.web.crfs.storage import store_file
    from rodnan.web.demo import source_document_pdf
    from rodnan.web.studies.protocol import study_definition

    definition = study_definition(record.subject.study)
    item = definition.item_by_code["source_document"]
    data = source_document_pdf("Serology", [record.subject.label])
    checked = check_file_content(item, data, "serology.pdf", definition.file_limit(item))
    store_file(data, checked.sha256)
    ref = FileRef(checked.sha256, checked.name, checked.media_type, checked.size, "2026-01-01T00:00:00.000000Z", "inv")
    check_save_form(user, record, {}, expected_version=record.version, files={item.code: ref})
    record.refresh_from_db()


def _state() -> tuple[object, ...]:
    """What a refused request must leave as it was."""
    return (
        AuditEntry.objects.count(),
        FormRecord.objects.count(), FormRecord.objects.aggregate(v=Sum("version"))["v"],
        Subject.objects.count(), Subject.objects.aggregate(v=Sum("version"))["v"],
        Visit.objects.filter(missed=True).count(),
        sorted(Membership.objects.values_list("user_id", "site_id", "role")), get_user_model().objects.count(),
    )  # fmt: skip


def _allowed(role: str, need: Permission | str | None) -> bool:
    return need is None or (need != NOT_OFFERED and Permission(need) in ROLES[role].permissions)


def _request(client: Client, method: str, url: str) -> Any:
    return client.get(url) if method == "GET" else client.post(url, POSTED)


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_the_access_matrix(name: str) -> None:
    route = ROUTES[name]
    study = f.make_study()
    own, other = _objects(f.site_a(study), "owner_a"), _objects(f.make_site_b(study), "owner_b")
    problems: list[str] = []

    def check(who: str, method: str, url: str, client: Client, ok: Callable[[int, Any], bool], must_not_change: bool) -> None:
        before = _state()
        response = _request(client, method, url)
        status = response.status_code
        if status >= 500 or not ok(status, response):
            problems.append(f"{who} {method} {url}: HTTP {status}")
        if must_not_change and _state() != before:
            problems.append(f"{who} {method} {url}: changed the database (HTTP {status})")

    for method in ("GET", "POST"):
        need = route.get if method == "GET" else route.post
        if need == NOT_OFFERED:  # a method the route does not offer changes nothing for anyone
            for role in ROLES:
                client = Client()
                client.force_login(f.make_user(f"{role}-{method}-x", role, own.site))  # short: audit object ids hold 40
                check(role, method, route.url(own), client, lambda s, r: True, True)
            continue
        if route.scope != "public":
            check("anonymous", method, route.url(own), Client(),
                  lambda s, r: s == 302 and r["Location"].startswith("/login/"), True)  # fmt: skip
        for role in ROLES:
            client = Client()
            client.force_login(f.make_user(f"{role}-{method}", role, own.site))
            allowed = _allowed(role, need)
            if route.scope == "object":
                check(f"{role} of the other site", method, route.url(other), client, lambda s, r: s == 404, True)
            if route.scope == "public":
                continue
            if allowed and method == "GET":
                check(role, method, route.url(own), client, lambda s, r: s == 200, False)
            elif allowed:
                check(role, method, route.url(own), client, lambda s, r: s not in (403, 404), False)
            else:
                # a refused GET is no page of the route; a refused POST may answer anything that changes nothing
                refused: Callable[[int, Any], bool] = (lambda s, r: s != 200) if method == "GET" else (lambda s, r: True)
                check(role, method, route.url(own), client, refused, True)
    assert problems == []
