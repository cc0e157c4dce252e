"""The audit trail as the staff read it: its times are in the zone the page names."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser.pages import log_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),  # whitenoise: no collectstatic in tests
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),  # pytest-base-url's base_url
]


def test_audit_times_are_in_the_zone_the_page_names(page: Page, live_server, trial) -> None:
    from rodnan.web.subjects import actions

    subject = actions.check_open_screening(trial.users["coordinator"], trial.site, trial.study, timezone.localdate())
    log_in(page, live_server.url, "coordinator")
    page.goto(f"{live_server.url}/subjects/{subject.pk}/audit/")
    header = page.locator("table.audit thead th").nth(1).inner_text()
    zone = dt.UTC if "UTC" in header.upper() else ZoneInfo(settings.TIME_ZONE)
    shown = page.locator("table.audit tbody tr").first.locator("td").nth(1).inner_text().strip()
    at = dt.datetime.strptime(shown, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
    assert abs(dt.datetime.now(dt.UTC) - at) < dt.timedelta(minutes=5), f"{header}: {shown}"
    expect(page.locator("table.audit tbody tr").first).to_contain_text("subject.screen")
