"""Security: logins in the audit trail, lockout after five failures, session cookies, CSRF, redirects that stay
on the site, and no clinical value in any log record."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from rodnan.web.audit.chain import verify_chain
from rodnan.web.audit.models import AuditEntry
from tests.candidates import LUNG_ELIGIBLE
from tests.web import factories as f

pytestmark = pytest.mark.django_db


WRONG = "not-the-password-0000"


def _login(client: Client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


def _account_events(start: int) -> list[tuple[str, str, str, str]]:
    return [(e.action, e.username, e.role, e.object_id) for e in f.audit_since(start)]


def test_login_and_logout_are_audited(client, investigator):
    """A login and a logout each leave one entry with the user name and role."""
    start = f.last_seq()
    response = _login(client, "inv", f.PASSWORD)
    assert (response.status_code, response["Location"]) == (302, "/")
    assert client.get("/").status_code == 200
    response = client.post("/logout/")
    assert response.status_code == 302
    assert _account_events(start) == [
        ("auth.login", "inv", "investigator", "inv"),
        ("auth.logout", "inv", "investigator", "inv"),
    ]
    assert client.get("/").status_code == 302  # logged out


def test_failed_login_is_audited_without_the_password(client, investigator):
    """A wrong password: the page says so, an anonymous entry names the user name tried, never the password."""
    start = f.last_seq()
    response = _login(client, "inv", WRONG)
    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    assert _account_events(start) == [("auth.login_failed", "", "", "inv")]
    (entry,) = f.flat(f.audit_since(start)[:1])
    assert entry.user_id is None
    fields = (entry.object_id, entry.field, entry.old_value, entry.new_value, entry.reason)
    assert all(WRONG not in value for value in fields)
    assert verify_chain().ok


def test_account_events_page_lists_logins(client, investigator, admin):
    """The administrator's account events page shows the login and the failed login."""
    _login(Client(), "inv", f.PASSWORD)
    _login(Client(), "inv", WRONG)
    client.force_login(admin)
    page = client.get("/account-events/").content.decode()
    assert "auth.login_failed" in page
    assert "auth.login" in page


def test_five_failed_logins_lock_the_user_out(client, investigator):
    """After 5 wrong passwords, the 6th attempt with the right password is refused and nobody is logged in."""
    for _ in range(4):
        assert _login(client, "inv", WRONG).status_code == 200
    assert _login(client, "inv", WRONG).status_code == 429  # the fifth failure locks
    response = _login(client, "inv", f.PASSWORD)
    assert response.status_code == 429
    assert "Account locked" in response.content.decode()
    assert client.get("/").status_code == 302  # still anonymous
    assert not AuditEntry.objects.filter(action="auth.login").exists()
    assert AuditEntry.objects.filter(action="auth.login_failed", object_id="inv").count() == 6
    # another user name is not locked by inv's failures
    f.make_user("coord", "coordinator", investigator.memberships.get().site)
    assert _login(Client(), "coord", f.PASSWORD).status_code == 302


def test_four_failures_then_the_right_password_logs_in(client, investigator):
    """The limit is five: four failures still let the right password in."""
    for _ in range(4):
        _login(client, "inv", WRONG)
    response = _login(client, "inv", f.PASSWORD)
    assert (response.status_code, response["Location"]) == (302, "/")


def test_session_cookie_is_http_only_and_same_site(client, investigator):
    """The session cookie set at login is HttpOnly and SameSite=Lax."""
    response = _login(client, "inv", f.PASSWORD)
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_login_never_redirects_off_site(client, investigator):
    """A ``next`` pointing at another host is ignored: the user lands on the study page."""
    response = client.post("/login/", {"username": "inv", "password": f.PASSWORD, "next": "https://evil.example/steal"})
    assert (response.status_code, response["Location"]) == (302, "/")


def test_post_without_csrf_token_is_refused(site, investigator):
    """A form save without the CSRF token is refused (403) and stores nothing."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(investigator)
    subject = f.open_screening(investigator, site)
    record = f.scr_record(subject, "screening")
    response = client.post(f"/forms/{record.pk}/", {"version": "0", "v_albumin": "40"})
    assert response.status_code == 403
    record.refresh_from_db()
    assert record.version == 0


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines():
    """Every line the application logs: the root logger at its configured level, and the request,
    security, axes and rodnan loggers opened down to DEBUG (stricter than the settings)."""
    handler = _Collect()
    loggers = [logging.getLogger(name) for name in ("", "django.request", "django.security", "rodnan", "axes")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        if logger.name != "root":
            logger.setLevel(logging.DEBUG)
    yield handler.lines
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_no_clinical_values_in_logs(client, site, investigator, log_lines):
    """A form save with an error, a conflict and a good save: the typed values appear in no log record."""
    subject = f.open_screening(investigator, site)
    record = f.scr_record(subject, "screening")
    client.force_login(investigator)
    typed = {f"v_{code}": ("yes" if v is True else "no" if v is False else str(v)) for code, v in LUNG_ELIGIBLE.items()}
    rejected = client.post(f"/forms/{record.pk}/", {**typed, "v_albumin": "69.8765", "v_esr": "187.345", "version": "0",
                                                    "u_albumin": "g/dL"})  # fmt: skip
    assert rejected.status_code == 422
    conflict = client.post(f"/forms/{record.pk}/", {**typed, "v_esr": "23.4567", "version": "7"})
    assert conflict.status_code == 409
    saved = client.post(f"/forms/{record.pk}/", {**typed, "v_esr": "24.6813", "version": "0"})
    assert saved.status_code == 302
    assert any("/forms/" in line for line in log_lines)  # the 4xx responses were logged, by path
    for value in ("69.8765", "187.345", "23.4567", "24.6813"):
        assert not [line for line in log_lines if value in line], value


def test_failed_login_password_is_not_logged(client, investigator, log_lines):
    """Neither a wrong nor the right password shows up in a log record."""
    _login(client, "inv", WRONG)
    _login(client, "inv", f.PASSWORD)
    assert not [line for line in log_lines if WRONG in line or f.PASSWORD in line]


@pytest.mark.parametrize("logged_in", [False, True])
def test_a_404_page_shows_a_plain_sentence_never_the_url_patterns(client, investigator, logged_in):
    """Issue 16: every 404 printed Django's resolver dump (all URL patterns) to anyone."""
    if logged_in:
        client.force_login(investigator)
    response = client.get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "URLPattern" not in page
    assert "subjects/&lt;int:pk&gt;" not in page
    assert "tried" not in page
    assert "not found" in page


def test_a_404_raised_by_the_application_keeps_its_own_sentence(client, investigator):
    client.force_login(investigator)
    response = client.get("/forms/999999/")
    assert response.status_code == 404
    assert "no such form at your sites" in response.content.decode()
