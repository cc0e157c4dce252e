"""Who reaches a patient's identity: the site's own investigators and coordinators, and nobody else (decision 0020)."""

from __future__ import annotations

import pytest

from rodnan.web.accounts.roles import ROLES, Permission
from rodnan.web.audit.models import AuditEntry
from rodnan.web.identity.models import Identity
from tests.web import factories as f
from tests.web.identity.helpers import DISTINCT, leaks, login, with_identity

pytestmark = pytest.mark.django_db

STAFF = ("investigator", "coordinator")
NOT_STAFF = ("monitor", "data_manager", "statistician", "safety_reviewer")


@pytest.fixture
def subject(site):
    """A screened subject of site NJDT with the distinctive identity recorded."""
    investigator = f.make_user("inv_njdt", "investigator", site)
    return with_identity(investigator, f.screened_subject(investigator, site))


def test_only_investigators_and_coordinators_hold_the_identity_permissions():
    """The roles table grants view and edit of identities to the two site staff roles only."""
    for permission in (Permission.VIEW_IDENTITY, Permission.EDIT_IDENTITY):
        assert sorted(code for code, role in ROLES.items() if permission in role.permissions) == ["coordinator", "investigator"]


@pytest.mark.parametrize("role", STAFF)
def test_staff_see_the_link_the_identity_and_the_search(role, site, subject):
    """Investigators and coordinators: an "Identity" link on the subject page, the identity page, the edit form, the search."""
    client = login(role, site)
    page = client.get(f"/subjects/{subject.pk}/").content.decode()
    assert f'href="/subjects/{subject.pk}/identity/"' in page
    assert 'href="/identity/search/"' in page
    assert not leaks(page)  # the subject page itself shows no identity value
    identity_page = client.get(f"/subjects/{subject.pk}/identity/")
    assert identity_page.status_code == 200
    assert "Zyxquorva" in identity_page.content.decode()
    assert client.get(f"/subjects/{subject.pk}/identity/edit/").status_code == 200
    assert client.get("/identity/search/").status_code == 200


@pytest.mark.parametrize("role", NOT_STAFF)
def test_other_clinical_roles_get_403_and_see_nothing_of_it(role, site, subject):
    """Monitors, data managers, statisticians and safety reviewers: 403 everywhere, no link, no value, nothing audited."""
    client = login(role, site)
    page = client.get(f"/subjects/{subject.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "/identity/" not in body
    assert ">Identity<" not in body
    assert "Find patient" not in body
    before = AuditEntry.objects.filter(action__startswith="identity.").count()
    for url in (f"/subjects/{subject.pk}/identity/", f"/subjects/{subject.pk}/identity/edit/", "/identity/search/"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert not leaks(response.content.decode()), url
    response = client.post(f"/subjects/{subject.pk}/identity/edit/", {**DISTINCT, "family_name": "Changed", "version": "1",
                                                                      "reason": "monitor edit"})  # fmt: skip
    assert response.status_code == 403
    assert client.post("/identity/search/", {"q": "Zyxquorva"}).status_code == 403
    assert Identity.objects.get(subject=subject).family_name == "Zyxquorva"
    assert AuditEntry.objects.filter(action__startswith="identity.").count() == before


def test_administrator_gets_404_for_the_subject_and_403_for_the_search(site, subject):
    """The administrator sees no subject at all: the identity URLs answer 404 like every subject URL."""
    client = login("administrator", site)
    assert client.get(f"/subjects/{subject.pk}/identity/").status_code == 404
    assert client.get(f"/subjects/{subject.pk}/identity/edit/").status_code == 404
    assert client.post(f"/subjects/{subject.pk}/identity/edit/", {**DISTINCT, "version": "1"}).status_code == 404
    assert client.get("/identity/search/").status_code == 403
    assert "Find patient" not in client.get("/users/").content.decode()


@pytest.mark.parametrize("role", STAFF)
def test_other_site_is_not_found_and_not_found_by_search(role, site, subject):
    """Staff of site B get 404 for site A's identity (view, edit form, save) and find nothing of site A by search."""
    site_b = f.make_site_b(f.make_study())
    client = login(role, site_b)
    for url in (f"/subjects/{subject.pk}/identity/", f"/subjects/{subject.pk}/identity/edit/"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert not leaks(response.content.decode())
    response = client.post(f"/subjects/{subject.pk}/identity/edit/", {**DISTINCT, "family_name": "Other", "version": "1",
                                                                      "reason": "x"})  # fmt: skip
    assert response.status_code == 404
    assert Identity.objects.get(subject=subject).family_name == "Zyxquorva"
    for term in ("Zyxquorva", "HRN-9876543", "Qelvinth"):
        found = client.post("/identity/search/", {"q": term}).content.decode()
        assert subject.label not in found
        assert "No patient of your sites matches." in found
