"""Every page: the login page, login required everywhere else, and the security headers the browser gets."""

from __future__ import annotations

import pytest
from django.test import Client

from rodnan.web.identity.models import Identity
from tests.web import factories as f
from tests.web.pages import posted, text

pytestmark = pytest.mark.django_db


def test_login_page_renders(client):
    """The login page has the user name and password fields."""
    response = client.get("/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="username"' in body
    assert 'name="password"' in body
    assert "Log in" in text(response)


@pytest.mark.parametrize("path", ["/", "/subjects/", "/users/", "/account-events/", "/identity/search/"])
def test_pages_require_login(client, path):
    """Anonymous requests are sent to the login page, with the page asked for as next."""
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_subject_and_form_pages_require_login(client, site, investigator):
    """Subject, form, audit and transition URLs redirect an anonymous visitor to the login page."""
    subject = f.screened_subject(investigator, site)
    record = f.scr_record(subject, "screening")
    for path in [f"/subjects/{subject.pk}/", f"/subjects/{subject.pk}/audit/", f"/subjects/{subject.pk}/consent/",
                 f"/forms/{record.pk}/", f"/forms/{record.pk}/audit/", f"/subjects/{subject.pk}/identity/",
                 f"/subjects/{subject.pk}/identity/edit/"]:  # fmt: skip
        response = client.get(path)
        assert (response.status_code, response["Location"]) == (302, f"/login/?next={path}")
    response = client.post(f"/forms/{record.pk}/", posted({"albumin": 41}, version="1"))
    assert response.status_code == 302
    assert f.scr_record(subject, "screening").version == 1
    typed = {"family_name": "Anonymous", "date_of_birth": "1970-01-01", "hospital_record_number": "A1", "version": "0"}
    response = client.post(f"/subjects/{subject.pk}/identity/edit/", typed)
    assert response.status_code == 302
    assert not Identity.objects.exists()


def test_security_headers_on_pages(inv_client, client, site, investigator):
    """Pages carry a strict CSP, DENY framing, nosniff and no-store caching (also the login page and a 404)."""
    subject = f.screened_subject(investigator, site)
    anonymous = Client()
    for response in (inv_client.get("/"), inv_client.get(f"/subjects/{subject.pk}/"), inv_client.get("/subjects/999999/"),
                     anonymous.get("/login/")):  # fmt: skip
        assert "default-src 'self'" in response["Content-Security-Policy"]
        assert "script-src 'self'" in response["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in response["Cache-Control"]
