"""Tablet mode (``?mode=patient``): the patient fills a questionnaire on a tablet, with no navigation,
large answer buttons and a "Thank you" page after submitting; staff then see the computed scores."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser.pages import click_answer, log_in, open_form

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),  # whitenoise: no collectstatic in tests
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),  # pytest-base-url's base_url
]

# SF-36 v1 answers; PF items Q3a-j (1..3) sum to 3+3+3+3+3+3+2+2+1+3 = 26: PF = (26 - 10) / 20 x 100 = 80.
SF36_V1 = {
    "sf36_q1": 3, "sf36_q2": 3,
    "sf36_q3a": 3, "sf36_q3b": 3, "sf36_q3c": 3, "sf36_q3d": 3, "sf36_q3e": 3, "sf36_q3f": 3, "sf36_q3g": 2, "sf36_q3h": 2,
    "sf36_q3i": 1, "sf36_q3j": 3,
    "sf36_q4a": 1, "sf36_q4b": 2, "sf36_q4c": 2, "sf36_q4d": 2, "sf36_q5a": 2, "sf36_q5b": 2, "sf36_q5c": 2,
    "sf36_q6": 1, "sf36_q7": 2, "sf36_q8": 1,
    "sf36_q9a": 2, "sf36_q9b": 5, "sf36_q9c": 6, "sf36_q9d": 2, "sf36_q9e": 3, "sf36_q9f": 6, "sf36_q9g": 4, "sf36_q9h": 2,
    "sf36_q9i": 5, "sf36_q10": 5, "sf36_q11a": 5, "sf36_q11b": 1, "sf36_q11c": 4, "sf36_q11d": 2,
}  # fmt: skip
SF36_PF = "80"


@pytest.fixture
def screening_subject(trial):
    """A candidate just opened for screening at NJDT (the screening visit carries SF-36 and SSc-HAQ)."""
    from rodnan.web.subjects import actions

    return actions.check_open_screening(trial.users["coordinator"], trial.site, trial.study, timezone.localdate())


def test_sf36_in_tablet_mode(page: Page, live_server, trial, screening_subject, screenshot) -> None:
    base = live_server.url
    log_in(page, base, "coordinator")
    page.goto(f"{base}/subjects/{screening_subject.pk}/")
    open_form(page, "SCR", "SF-36")
    page.get_by_role("link", name="open in tablet mode for the patient").click()

    # The patient sees the questionnaire only: no navigation bar, no staff links, large answer buttons.
    expect(page.locator("body")).to_have_class("patient")
    expect(page.locator("header")).to_have_count(0)
    expect(page.get_by_role("navigation")).to_have_count(0)
    expect(page.get_by_role("link", name="Subjects")).to_have_count(0)
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_have_text("SF-36 health survey")
    expect(page.get_by_text("Please answer every question")).to_be_visible()
    expect(page.get_by_label("Reason for change")).to_have_count(0)
    expect(page.get_by_label("Visit date")).to_have_count(0)
    expect(page.locator("#eligibility-panel")).to_have_count(0)  # no screening criteria (HIV, malignancy...) for the patient

    page.locator("#v_sf36_form").select_option("v1")
    for code, answer in SF36_V1.items():
        click_answer(page, code, answer)
    screenshot("sf36-tablet")
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(page.get_by_text("hand the tablet back")).to_be_visible()
    expect(page.locator("header")).to_have_count(0)

    # Back with the staff: the form is done and its scores are computed.
    page.get_by_role("link", name="Study staff: back to the subject").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(screening_subject.screening_number)
    open_form(page, "SCR", "SF-36")
    expect(page.locator(".form-head")).to_contain_text("Saved version 1 by coordinator")
    pf = page.locator("section.computed tr").filter(has_text="physical functioning").locator("td.num")
    expect(pf).to_have_text(SF36_PF)


def test_ssc_haq_in_tablet_mode(page: Page, live_server, trial, screening_subject) -> None:
    base = live_server.url
    log_in(page, base, "coordinator")
    page.goto(f"{base}/subjects/{screening_subject.pk}/")
    open_form(page, "SCR", "SSc-HAQ")
    page.get_by_role("link", name="open in tablet mode for the patient").click()
    expect(page.locator("header")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_have_text("Scleroderma Health Assessment Questionnaire")
    for code in ("haq_dress", "haq_shampoo", "haq_stand_chair", "haq_bed"):
        click_answer(page, code, 1)
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")


def test_patient_can_correct_a_saved_questionnaire_in_tablet_mode(page: Page, live_server, trial, screening_subject) -> None:
    base = live_server.url
    log_in(page, base, "coordinator")
    page.goto(f"{base}/subjects/{screening_subject.pk}/")
    open_form(page, "SCR", "SSc-HAQ")
    tablet = f"{page.url}?mode=patient"
    page.goto(tablet)
    click_answer(page, "haq_dress", 1)
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")

    page.goto(tablet)  # the patient (or the nurse, with the patient) changes an answer
    click_answer(page, "haq_dress", 2)
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.get_by_text("reason for change", exact=False)).to_have_count(0, timeout=2000)
