"""No lost typing (issue 15, finding 6; decision 0018): leaving a changed form asks first; a save after the
session ended asks for the password in place and saves what was typed; a CSRF failure is a plain page
with the way back; nothing typed is kept in the browser's storage."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from tests.browser.pages import PASSWORD, click_answer, fill_items, flash, log_in, log_out, open_form, save_form

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),  # whitenoise: no collectstatic in tests
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),  # pytest-base-url's base_url
]

DEMOGRAPHICS = {"sex": "female", "age": 45, "height": 160, "body_weight": 55}


@pytest.fixture
def subject(trial):
    """A candidate just opened for screening at NJDT by the coordinator."""
    from rodnan.web.subjects import actions

    return actions.check_open_screening(trial.users["coordinator"], trial.site, trial.study, timezone.localdate())


def _dialogs(page: Page) -> list[str]:
    """The types of the dialogs the page raises from now on; each is dismissed (the user stays)."""
    seen: list[str] = []

    def on_dialog(dialog) -> None:
        seen.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return seen


def _storage(page: Page) -> list[int]:
    return page.evaluate("[sessionStorage.length, localStorage.length]")


def _reload(page: Page) -> None:
    """Asks the browser to reload the page (as the reload button does), without waiting for a load that a
    dismissed leave question cancels."""
    page.evaluate("() => { setTimeout(() => location.reload(), 0); }")


def test_leaving_a_changed_form_asks_first_but_not_after_saving(page: Page, live_server, trial, subject) -> None:
    base = live_server.url
    log_in(page, base, "coordinator")
    dialogs = _dialogs(page)
    subject_url = f"{base}/subjects/{subject.pk}/"
    subjects_link = page.get_by_role("navigation").get_by_role("link", name="Subjects")

    # Nothing changed, or typed and cleared again: leaving is silent.
    page.goto(subject_url)
    open_form(page, "SCR", "Demographics")
    page.locator("#v_age").fill("45")
    page.locator("#v_age").fill("")
    subjects_link.click()
    expect(page.get_by_role("heading", name="Subjects", exact=True)).to_be_visible()
    assert dialogs == []

    # Typed and not saved: leaving asks; staying keeps the typing.
    page.goto(subject_url)
    open_form(page, "SCR", "Demographics")
    form_url = page.url
    fill_items(page, DEMOGRAPHICS)
    assert _storage(page) == [0, 0]  # nothing typed goes to the browser's storage
    with page.expect_event("dialog"):
        subjects_link.click(no_wait_after=True)
    assert dialogs == ["beforeunload"]
    assert page.url == form_url
    expect(page.locator("#v_age")).to_have_value("45")

    # Saved: leaving the next page is silent, and nothing typed was kept in the browser.
    save_form(page)
    expect(flash(page)).to_contain_text("Demographics at SCR saved: 4 values changed")
    assert _storage(page) == [0, 0]
    subjects_link.click()
    expect(page.get_by_role("heading", name="Subjects", exact=True)).to_be_visible()
    assert dialogs == ["beforeunload"]
    log_out(page)
    assert _storage(page) == [0, 0]


def test_transition_page_and_patient_tablet_ask_before_leaving(page: Page, live_server, trial, subject) -> None:
    base = live_server.url
    log_in(page, base, "coordinator")
    dialogs = _dialogs(page)

    page.goto(f"{base}/subjects/{subject.pk}/consent/")  # a step coordinators may take (screen failure is investigators')
    page.get_by_label("Consent form version").fill("2.1 of 2009-08-01")
    with page.expect_event("dialog"):
        _reload(page)
    assert dialogs == ["beforeunload"]
    expect(page.get_by_label("Consent form version")).to_have_value("2.1 of 2009-08-01")
    page.get_by_label("Consent form version").fill("")  # as it was: leaving is silent again

    page.goto(f"{base}/subjects/{subject.pk}/")
    open_form(page, "SCR", "SF-36")
    page.get_by_role("link", name="open in tablet mode for the patient").click()
    page.locator("#v_sf36_form").select_option("v1")
    click_answer(page, "sf36_q1", 3)
    with page.expect_event("dialog"):
        _reload(page)
    assert dialogs == ["beforeunload", "beforeunload"]
    expect(page.locator('input[name="v_sf36_q1"][value="3"]')).to_be_checked()


def _expire_sessions() -> None:
    """Ends every session on the server, as the 30-minute idle timeout does."""
    from django.contrib.sessions.models import Session

    Session.objects.all().delete()


def _events_since(seq: int) -> list[tuple[str, str]]:
    from rodnan.web.audit.models import AuditEntry

    return [(e.action, e.username) for e in AuditEntry.objects.filter(seq__gt=seq).order_by("seq")]


def _last_seq() -> int:
    from rodnan.web.audit.models import AuditEntry

    last = AuditEntry.objects.order_by("-seq").first()
    return last.seq if last else 0


def test_save_after_the_session_ended_asks_for_the_password_in_place_and_saves(page: Page, live_server, trial, subject) -> None:
    base = live_server.url
    log_in(page, base, "coordinator")
    page.goto(f"{base}/subjects/{subject.pk}/")
    open_form(page, "SCR", "Demographics")
    form_url = page.url
    fill_items(page, DEMOGRAPHICS)
    _expire_sessions()
    start = _last_seq()

    # Save: the page stays, with what was typed, and asks for the password.
    save_form(page)
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Log in again to save")
    expect(dialog.get_by_label("User name")).to_have_value("coordinator")
    assert page.url == form_url
    dialog.get_by_role("button", name="Cancel").click()  # changing one's mind keeps the typing too
    expect(dialog).to_have_count(0)
    expect(page.locator("#v_age")).to_have_value("45")

    # Another user's name is refused, even with that user's right password.
    save_form(page)
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("User name").fill("investigator")
    dialog.get_by_label("Password").fill(PASSWORD)
    dialog.get_by_role("button", name="Log in and save").click()
    expect(dialog.get_by_role("alert")).to_contain_text("only coordinator can log in here")
    expect(dialog.get_by_label("Password")).to_have_value("")

    # The page's own user: logged in again, and the form saved as typed.
    dialog.get_by_label("User name").fill("coordinator")
    dialog.get_by_label("Password").fill(PASSWORD)
    dialog.get_by_role("button", name="Log in and save").click()
    expect(flash(page)).to_contain_text("Demographics at SCR saved: 4 values changed")
    events = _events_since(start)
    assert events[0] == ("auth.login", "coordinator")
    assert [e for e in events if e[0] == "record.save"] == [("record.save", "coordinator")]  # one save, as the typing's user
    assert {who for _, who in events} == {"coordinator"}
    assert _storage(page) == [0, 0]
    open_form(page, "SCR", "Demographics")
    expect(page.locator(".form-head")).to_contain_text("Saved version 1 by coordinator")
    for code, value in DEMOGRAPHICS.items():
        expect(page.locator(f"#v_{code}")).to_have_value(str(value))


def test_save_with_the_csrf_cookie_cleared_is_repaired_before_sending(page: Page, live_server, trial, subject) -> None:
    base = live_server.url
    log_in(page, base, "coordinator")
    page.goto(f"{base}/subjects/{subject.pk}/")
    open_form(page, "SCR", "Demographics")
    fill_items(page, DEMOGRAPHICS)
    page.context.clear_cookies(name="csrftoken")
    save_form(page)
    expect(flash(page)).to_contain_text("Demographics at SCR saved: 4 values changed")


def test_csrf_failure_without_javascript_is_a_plain_page_with_the_way_back(browser: Browser, live_server, trial, subject) -> None:
    base = live_server.url
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    log_in(page, base, "coordinator")
    page.goto(f"{base}/subjects/{subject.pk}/")
    open_form(page, "SCR", "Demographics")
    form_url = page.url
    fill_items(page, DEMOGRAPHICS)
    context.clear_cookies(name="csrftoken")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        save_form(page)
    assert answer.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Page expired")
    expect(page.locator("main")).to_contain_text("security cookie for rodnan was missing")
    expect(page.locator("main")).not_to_contain_text("CSRF verification failed")
    expect(page.locator("header .who .user")).to_have_text("coordinator")  # the application's own layout
    page.get_by_role("link", name="Back to the page you were on").click()
    assert page.url == form_url
    fill_items(page, DEMOGRAPHICS)
    save_form(page)
    expect(flash(page)).to_contain_text("Demographics at SCR saved: 4 values changed")
    context.close()
