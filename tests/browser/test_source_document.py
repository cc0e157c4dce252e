"""A coordinator attaches a PDF to the screening form through the real form and opens it (decision 0021)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser.pages import log_in, open_form

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),  # whitenoise: no collectstatic in tests
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),  # pytest-base-url's base_url
]


def test_upload_a_pdf_through_the_form_and_open_it(page: Page, live_server, trial, settings, tmp_path: Path) -> None:
    """Choose a PDF in the file input, save; the form shows its name, type and size; its link opens it in a new tab, with
    the same bytes, the stored type, nosniff and a sandbox; a PNG named .pdf is refused on the page naming the item."""
    from rodnan.web.demo import source_document_pdf
    from rodnan.web.subjects import actions

    settings.RODNAN_FILES_DIR = tmp_path / "files"
    subject = actions.check_open_screening(trial.users["coordinator"], trial.site, trial.study, timezone.localdate())
    data = source_document_pdf("Laboratory report", ["Serum albumin: 38 g/L", "Serum creatinine: 70 µmol/L"])
    log_in(page, live_server.url, "coordinator")
    page.goto(f"{live_server.url}/subjects/{subject.pk}/")
    open_form(page, "SCR", "Eligibility")
    field = page.locator("#f_source_document")
    field.locator("input[type=file]").set_input_files({"name": "lab report.pdf", "mimeType": "application/pdf", "buffer": data})
    page.get_by_role("button", name="Save form").click()
    expect(page.locator(".msg").first).to_contain_text("Eligibility screening at SCR saved")
    open_form(page, "SCR", "Eligibility")
    link = page.locator("#f_source_document a[data-file]")
    expect(link).to_have_text("lab report.pdf")
    expect(page.locator("#f_source_document .attached")).to_contain_text(f"PDF · {len(data)} bytes")
    served = page.request.get(live_server.url + (link.get_attribute("href") or ""))  # the browser's own session
    assert served.status == 200
    assert served.body() == data
    assert hashlib.sha256(served.body()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"].startswith("sandbox")

    with page.expect_popup() as popup_info:
        link.click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert popup.url == live_server.url + (link.get_attribute("href") or "")  # Chromium shows it in its PDF viewer
    popup.close()
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    page.locator("#f_source_document input[type=file]").set_input_files(
        {"name": "other.pdf", "mimeType": "application/pdf", "buffer": png}
    )
    page.locator("#reason").fill("a better scan")
    page.get_by_role("button", name="Save form").click()
    expect(page.locator("#f_source_document .field-error")).to_contain_text(
        "Scanned source document: the name says PDF (.pdf) but the content is a PNG image"
    )
    expect(page.locator("#f_source_document a[data-file]")).to_have_text("lab report.pdf")  # the saved file stays
