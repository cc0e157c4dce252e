"""Browser tests: Debian's Chromium driven by pytest-playwright against pytest-django's live server.

Never ``playwright install``: the tests launch /usr/bin/chromium. Without it they are skipped, except
on CI (env CI=true), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip
# RODNAN_SCREENSHOTS=docs/screenshots refreshes the documentation's pictures; by default they go to a
# folder of the test run, so a test run never changes tracked files.
SCREENSHOTS = Path(os.environ.get("RODNAN_SCREENSHOTS") or tempfile.mkdtemp(prefix="rodnan-screenshots-"))
VIEWPORT = {"width": 1366, "height": 900}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this folder's tests when Chromium is missing (fail instead on CI)."""
    if CHROMIUM.exists() or os.environ.get("CI", "").lower() == "true":
        return
    skip = pytest.mark.skip(
        reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run the browser tests"
    )
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's Chromium headless (the first ARG is the launch's own ``headless``)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found and CI=true: the browser tests must run on CI")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": ARGS[1:]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """Every page at the screenshot size, in the application's time zone (dates typed are its today)."""
    return {**browser_context_args, "viewport": VIEWPORT, "timezone_id": "Asia/Shanghai", "locale": "en-GB"}


@pytest.fixture
def screenshot(page: Any) -> Callable[[str], Path]:
    """``screenshot("login")`` saves a full-page PNG of the current page to SCREENSHOTS/login.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        assert re.fullmatch(r"[a-z0-9-]+", name), name
        path = SCREENSHOTS / f"{name}.png"
        page.evaluate("window.scrollTo(0, 0)")  # sticky panels at their place on the full-page image
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path

    return take


@dataclass(frozen=True)
class Trial:
    """What the browser tests start from: the study, its site with one user per role, a second site
    (SITEB) with its own coordinator and one subject."""

    study: Any
    site: Any
    users: dict[str, Any]
    site_b: Any
    coordinator_b: Any
    subject_b: Any


@pytest.fixture
def trial(transactional_db: None) -> Trial:
    """The study loaded, demo users per role at NJDT (password pages.PASSWORD) and a second site."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from rodnan.web.accounts.actions import do_grant_membership
    from rodnan.web.accounts.roles import ROLES
    from rodnan.web.demo import ensure_users
    from rodnan.web.studies.models import Site
    from rodnan.web.studies.protocol import load_study
    from rodnan.web.subjects import actions
    from tests.browser.pages import PASSWORD

    study = load_study()
    site = Site.objects.get(study=study, code="NJDT")
    users = ensure_users(site, dict.fromkeys(ROLES, PASSWORD))
    site_b = Site.objects.create(study=study, code="SITEB", name="Second test site", city="Shanghai", country="CN")
    coordinator_b = get_user_model().objects.create_user(username="coordinator_b", password=PASSWORD)
    do_grant_membership(users["administrator"], "administrator", coordinator_b, site_b, "coordinator")
    subject_b = actions.check_open_screening(coordinator_b, site_b, study, timezone.localdate())
    return Trial(study, site, users, site_b, coordinator_b, subject_b)
