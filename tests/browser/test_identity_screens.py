"""The identity screens in Chromium on a 390 px phone (decision 0020): a coordinator records a patient's identity from
the subject page, corrects it with a reason, finds the patient by name; no page scrolls sideways; a monitor sees no
link. Screenshots go to the screenshot folder (phone-identity-*.png)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.pages import log_in
from tests.browser.test_phone_layout import OVERFLOW, PHONE

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),  # whitenoise: no collectstatic in tests
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),  # pytest-base-url's base_url
]


@pytest.fixture
def handset(browser: Browser) -> Iterator[Page]:
    """A page in a phone's context (390 x 844 CSS pixels, touch)."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2,
                                  timezone_id="Asia/Shanghai", locale="en-GB")  # fmt: skip
    page = context.new_page()
    yield page
    context.close()


def _fits(page: Page, name: str) -> str | None:
    """None when the current page is no wider than the phone, else what sticks out; a screenshot as ``name``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"phone-identity-{name}.png"), full_page=True, animations="disabled")
    found = page.evaluate(OVERFLOW)
    return None if found["scroll"] <= PHONE["width"] else f"{name}: {found['scroll']} px wide: {', '.join(found['out'])}"


def test_coordinator_records_corrects_and_finds_an_identity_on_a_phone(handset: Page, live_server: Any, trial: Any) -> None:
    from tests.web import factories as f

    subject = f.screened_subject(trial.users["investigator"], trial.site)
    base, page = live_server.url, handset
    log_in(page, base, "coordinator")
    page.goto(f"{base}/subjects/{subject.pk}/")
    page.get_by_role("link", name="Identity", exact=True).click()
    problems = [_fits(page, "empty")]
    page.get_by_role("link", name="Record the identity").click()
    page.get_by_label("Family name").fill("Test-Zhou")
    page.get_by_label("Given name(s)").fill("Demo Ming")
    page.get_by_label("Date of birth").fill("1968-03-14")
    page.get_by_label("Hospital record number").fill("njdt 778899")
    page.get_by_label("Phone", exact=True).fill("+86 25 5550 7788")
    page.get_by_label("Address").fill("12 Example Road\nNanjing")
    problems.append(_fits(page, "record"))
    page.get_by_role("button", name="Save identity").click()
    expect(page.locator(".identity-facts")).to_contain_text("NJDT778899")
    expect(page.locator(".msg.success")).to_contain_text("identity saved")
    problems.append(_fits(page, "page"))

    page.get_by_role("link", name="Correct the identity").click()
    page.get_by_label("Family name").fill("Test-Zhu")
    page.get_by_role("button", name="Save identity").click()  # the browser asks for the reason first (the server refuses too)
    assert page.get_by_label("Reason for change").evaluate("e => e.validity.valueMissing") is True
    expect(page.get_by_label("Family name")).to_have_value("Test-Zhu")  # the typing is kept
    page.get_by_label("Reason for change").fill("spelling on the ID card")
    page.get_by_role("button", name="Save identity").click()
    expect(page.locator("table.identity-history")).to_contain_text("spelling on the ID card")
    expect(page.locator("table.identity-history")).to_contain_text("Test-Zhou")
    problems.append(_fits(page, "history"))

    page.get_by_role("link", name="Find patient").click()
    page.get_by_label("Record number or name").fill("zhu")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("table.list")).to_contain_text(subject.label)
    assert "zhu" not in page.url.lower()  # posted: the name never reaches a URL
    problems.append(_fits(page, "search"))
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)

    page.context.clear_cookies()
    log_in(page, base, "monitor")
    page.goto(f"{base}/subjects/{subject.pk}/")
    expect(page.get_by_role("heading", name=subject.label)).to_be_visible()
    expect(page.get_by_role("link", name="Identity", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="Find patient")).to_have_count(0)
