"""Every screen usable on a 390 px phone (issue 15, finding 9): no page scrolls sideways at 390 x 844, the
mRSS body grid stacks its areas with each area's right and left scores readable; a screenshot of the mRSS
form goes to the screenshot folder the test prints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.pages import log_in

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:No directory at:UserWarning"),  # whitenoise: no collectstatic in tests
    pytest.mark.filterwarnings("ignore:Session-scoped fixtures defined as instance methods"),  # pytest-base-url's base_url
]

PHONE = {"width": 390, "height": 844}

# What sticks out of the page: the document's width, and the elements whose right edge passes the viewport
# (inside a scrolling box such as the visit grid's is fine: the page itself does not move sideways).
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (e) => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
  const inScroller = (e) => {
    for (let p = e.parentElement; p; p = p.parentElement) { if (scrolls(p)) return true; }
    return false;
  };
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
  const out = [...document.body.querySelectorAll('*')]
    .filter(e => e.getBoundingClientRect().right > width + 0.5 && !inScroller(e))
    .slice(0, 5).map(e => name(e) + ' ' + Math.round(e.getBoundingClientRect().right));
  return {scroll: document.documentElement.scrollWidth, out};
}"""


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A page in a phone's context: 390 x 844 CSS pixels, touch, the device's viewport meta honoured."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2,
                                  timezone_id="Asia/Shanghai", locale="en-GB")  # fmt: skip
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def subjects(trial: Any) -> dict[str, Any]:
    """A subject in screening (its screening forms entered) and one infused 40 days ago, at NJDT."""
    from tests.web import factories as f

    investigator = trial.users["investigator"]
    return {"screening": f.screened_subject(investigator, trial.site), "infused": f.infused_subject(investigator, trial.site)}


def _records(subject: Any, visit: str) -> list[Any]:
    from rodnan.web.crfs.models import FormRecord

    return list(FormRecord.objects.filter(subject=subject, visit__code=visit).order_by("form_code"))


def _overflow(page: Page, url: str, name: str) -> str | None:
    """What makes the page at ``url`` wider than the phone (None when nothing does); a screenshot as ``name``."""
    response = page.goto(url)
    assert response is not None, url
    assert response.status < 500, (url, response.status)
    page.screenshot(path=str(SCREENSHOTS / f"phone-{name}.png"), full_page=True, animations="disabled")
    found = page.evaluate(OVERFLOW)
    if found["scroll"] <= PHONE["width"]:
        return None
    return f"{url}: page {found['scroll']} px wide; sticking out: {', '.join(found['out'])}"


def test_every_screen_fits_a_390_px_phone(phone: Page, live_server, trial, subjects) -> None:
    base = live_server.url
    screening, infused = subjects["screening"], subjects["infused"]
    mrss = next(r for r in _records(infused, "M1") if r.form_code == "mrss")
    sf36 = next(r for r in _records(infused, "M1") if r.form_code == "sf36")

    log_in(phone, base, "investigator")
    phone.goto(f"{base}/forms/{mrss.pk}/")
    grid = phone.locator("table.mrss-grid")
    expect(grid).to_be_visible()
    path = SCREENSHOTS / "phone-mrss.png"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(path), full_page=True, animations="disabled")
    print(f"\nphone screenshot of the mRSS form: {path}")
    # each paired area shows its sides' names and both sides' four scores within the screen
    expect(grid.locator("tbody tr").filter(has_text="Forearm").locator("td[data-side]")).to_have_count(2)
    forearm = grid.locator("tbody tr").filter(has_text="Forearm")
    boxes = {(side, score): forearm.locator(f"input[name=v_{side}][value='{score}'] + span").bounding_box()
             for side in ("mrss_forearm_r", "mrss_forearm_l") for score in range(4)}  # fmt: skip
    outside = {key: box for key, box in boxes.items() if box is None or box["x"] < 0 or box["x"] + box["width"] > PHONE["width"]}

    pages = {
        "study": "/", "subject-list": "/subjects/", "subject-screening": f"/subjects/{screening.pk}/",
        "subject-follow-up": f"/subjects/{infused.pk}/", "subject-audit": f"/subjects/{infused.pk}/audit/",
        "form-audit": f"/forms/{mrss.pk}/audit/", "patient-tablet": f"/forms/{sf36.pk}/?mode=patient",
        "consent": f"/subjects/{screening.pk}/consent/", "death": f"/subjects/{infused.pk}/die/",
        "enrol-refused": f"/subjects/{screening.pk}/enrol/",
        **{f"form-m1-{r.form_code}": f"/forms/{r.pk}/" for r in _records(infused, "M1")},
        **{f"form-d0-{r.form_code}": f"/forms/{r.pk}/" for r in _records(infused, "D0")},  # the vitals' table of times
        **{f"form-scr-{r.form_code}": f"/forms/{r.pk}/" for r in _records(screening, "SCR")},
    }  # fmt: skip
    problems = [_overflow(phone, base + url, name) for name, url in pages.items()]
    phone.context.clear_cookies()
    log_in(phone, base, "administrator")
    problems += [
        _overflow(phone, base + url, name) for name, url in {"users": "/users/", "account-events": "/account-events/"}.items()
    ]
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)
    assert not outside, f"mRSS scores outside the screen: {outside}"
