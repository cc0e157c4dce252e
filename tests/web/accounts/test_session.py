"""No lost typing (decision 0018), server side: the session check, the in-place re-login (same user only,
django-axes still counting and locking, session and CSRF token new) and the plain CSRF failure page."""

from __future__ import annotations

import re

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from rodnan.web.accounts.session import relogin_token
from rodnan.web.audit.models import AuditEntry
from tests.web import factories as f

pytestmark = pytest.mark.django_db

WRONG = "not-the-password-0000"


def _token_on_page(client: Client) -> str:
    """The re-login token the pages carry (as unsaved.js reads it)."""
    page = client.get("/subjects/").content.decode()
    match = re.search(r'<meta name="rodnan-session" content="/session/" data-user="([^"]+)" data-token="([^"]+)">', page)
    assert match is not None, "pages carry the re-login meta"
    return match.group(2)


def _expired(client: Client) -> None:
    """Ends the client's session on the server, as the 30-minute timeout does."""
    Session.objects.filter(session_key=client.session.session_key).delete()
    assert client.get("/subjects/").status_code == 302


def test_session_check_names_the_user_and_none_once_the_session_ended(client, investigator):
    client.force_login(investigator)
    body = client.get("/session/").json()
    assert body["user"] == "inv"
    assert body["csrf"]
    _expired(client)
    assert client.get("/session/").json()["user"] is None


def test_relogin_as_the_same_user_logs_in_with_new_session_and_csrf_token(investigator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(investigator)
    token = _token_on_page(client)
    csrf_before = client.get("/session/").json()["csrf"]
    secret_before = client.cookies["csrftoken"].value
    _expired(client)
    start = f.last_seq()
    response = client.post("/session/", {"username": "inv", "password": f.PASSWORD, "token": token}, HTTP_X_CSRFTOKEN=csrf_before)
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == "inv"
    assert client.cookies["csrftoken"].value != secret_before  # Django's login rotated the CSRF secret
    assert client.get("/subjects/").status_code == 200  # logged in again
    assert [(e.action, e.username) for e in f.audit_since(start)] == [("auth.login", "inv")]
    # the old page's token is refused now, the new one is accepted
    subject = f.open_screening(investigator, investigator.memberships.get().site)
    record = f.scr_record(subject, "screening")
    old = client.post(f"/forms/{record.pk}/", {"version": "0", "v_albumin": "40"}, HTTP_X_CSRFTOKEN=csrf_before)
    assert old.status_code == 403
    new = client.post(f"/forms/{record.pk}/", {"version": "0", "v_albumin": "40"}, HTTP_X_CSRFTOKEN=body["csrf"])
    assert new.status_code in (200, 302)


def test_relogin_refuses_another_user_name(client, investigator, site):
    f.make_user("coord", "coordinator", site)
    client.force_login(investigator)
    token = _token_on_page(client)
    _expired(client)
    start = f.last_seq()
    response = client.post("/session/", {"username": "coord", "password": f.PASSWORD, "token": token})
    assert response.status_code == 403
    assert "only inv can log in here" in response.json()["error"]
    assert client.get("/session/").json()["user"] is None  # nobody logged in
    assert f.audit_since(start) == []


def test_relogin_refuses_a_forged_or_missing_token(client, investigator):
    for token in ("", relogin_token(investigator) + "x", "1:forged"):
        response = client.post("/session/", {"username": "inv", "password": f.PASSWORD, "token": token})
        assert response.status_code == 400
    assert client.get("/session/").json()["user"] is None


def test_relogin_wrong_password_is_refused_counted_and_locks_after_five(client, investigator):
    client.force_login(investigator)
    token = _token_on_page(client)
    _expired(client)
    start = f.last_seq()
    for _ in range(4):
        response = client.post("/session/", {"username": "inv", "password": WRONG, "token": token})
        assert response.status_code == 401
        assert "did not match" in response.json()["error"]
    assert client.post("/session/", {"username": "inv", "password": WRONG, "token": token}).status_code == 429
    response = client.post("/session/", {"username": "inv", "password": f.PASSWORD, "token": token})
    assert response.status_code == 429  # django-axes' lockout applies to the re-login as to the login page
    assert client.get("/session/").json()["user"] is None
    actions = [e.action for e in f.audit_since(start)]
    assert actions == ["auth.login_failed"] * 6  # each refusal audited, no login
    assert AuditEntry.objects.filter(action="auth.login_failed", object_id="inv").count() == 6


def test_csrf_failure_is_a_plain_page_with_the_way_back(investigator, site):
    client = Client(enforce_csrf_checks=True)
    client.force_login(investigator)
    subject = f.open_screening(investigator, site)
    record = f.scr_record(subject, "screening")
    response = client.post(
        f"/forms/{record.pk}/", {"version": "0", "v_albumin": "40"}, HTTP_REFERER=f"http://testserver/forms/{record.pk}/"
    )
    assert response.status_code == 403
    page = response.content.decode()
    assert "<h1>Page expired</h1>" in page
    assert "security cookie" in page
    assert f'href="http://testserver/forms/{record.pk}/">Back to the page you were on' in page
    assert "CSRF verification failed" not in page
    assert "Forbidden" not in page
    assert 'class="top"' in page  # the application's own layout


def test_csrf_failure_logged_out_offers_to_log_in_again_and_ignores_foreign_referers():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "inv", "password": "x"}, HTTP_REFERER="https://evil.example/")
    assert response.status_code == 403
    page = response.content.decode()
    assert 'href="/login/">Back to the page you were on' in page  # not the foreign address
    assert "evil.example" not in page
    assert 'href="/login/?next=%2Flogin%2F">Log in again' in page
