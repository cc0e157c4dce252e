"""What a person does on the screens, as small steps the browser tests share: log in and out,
open a form from a subject's visit grid, type a form's values, click a score."""

from __future__ import annotations

import re
from collections.abc import Mapping

from playwright.sync_api import Locator, Page, expect

PASSWORD = "browser-test-passphrase-2026"
"""The password of every browser-test user (the demo generates its own per user)."""


def log_in(page: Page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Log in through the login form; lands on the study page."""
    page.goto(f"{base_url}/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("header .who .user")).to_have_text(username)


def log_out(page: Page) -> None:
    """Log out with the header's button; lands on the login page."""
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def visit_row(page: Page, visit_code: str) -> Locator:
    """The row of one visit (by its code, e.g. SCR or M1) in the subject page's grid."""
    code = page.locator("th[scope=row] span").get_by_text(visit_code, exact=True)
    return page.locator("table.grid tbody tr").filter(has=code)


def open_form(page: Page, visit_code: str, heading: str) -> None:
    """Click the cell of form column ``heading`` (e.g. "Eligibility", "mRSS") in a visit's row."""
    headings = [t.strip() for t in page.locator("table.grid thead th").all_inner_texts()]
    column = headings.index(heading)
    cell = visit_row(page, visit_code).locator(":scope > th, :scope > td").nth(column)
    cell.get_by_role("link").click()
    expect(page.locator("form#crf")).to_be_visible()


def typed(value: object) -> str:
    """A value as a person types or picks it ("yes" for True)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def fill_items(page: Page, values: Mapping[str, object]) -> None:
    """Type (number, text, date) or pick (select, yes/no) each item's value in the open form."""
    for code, value in values.items():
        field = page.locator(f"#v_{code}")
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(typed(value))
        else:
            field.fill(typed(value))


def click_answer(page: Page, code: str, value: object) -> None:
    """Click the answer button ``value`` of item ``code`` (questionnaire radios and mRSS scores)."""
    page.locator("label").filter(has=page.locator(f'input[name="v_{code}"][value="{value}"]')).click()
    expect(page.locator(f'input[name="v_{code}"][value="{value}"]')).to_be_checked()


def save_form(page: Page) -> None:
    """Click "Save form" and wait for the next page."""
    page.get_by_role("button", name="Save form").click()


def flash(page: Page) -> Locator:
    """The messages shown at the top of a page after a save."""
    return page.locator(".messages")


def exact(text: str) -> re.Pattern[str]:
    """A pattern matching ``text`` alone (surrounding white space allowed)."""
    return re.compile(rf"^\s*{re.escape(text)}\s*$")
