"""Sessions end 30 idle minutes after the last request; the expiry is renewed at most once a minute."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session

from rodnan.web import security
from tests.web.factories import make_study, make_user, site_a

pytestmark = pytest.mark.django_db


def _expiry(client) -> object:
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_a_request_renews_the_idle_timeout_at_most_once_a_minute(client, monkeypatch) -> None:
    user = make_user("coord", "coordinator", site_a(make_study()))
    client.force_login(user)
    clock = [1_000_000.0]
    monkeypatch.setattr(security.time, "time", lambda: clock[0])
    client.get("/subjects/")
    first = _expiry(client)
    clock[0] += 30  # half a minute later: no write
    client.get("/subjects/")
    assert _expiry(client) == first
    clock[0] += 31  # over a minute since the last renewal: renewed
    client.get("/subjects/")
    assert _expiry(client) > first
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is False
