"""The Jinja2 environment of the pages: its URL helper against Django's reverse, its date and plural
filters against Django's own filters, and every template compiling."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.template import engines
from django.template.defaultfilters import date as django_date
from django.template.defaultfilters import pluralize as django_pluralize
from django.urls import URLPattern, get_resolver, reverse
from django.utils import timezone

from rodnan.web import jinja
from rodnan.web.settings import PACKAGE_DIR

INT_URLS = sorted(
    p.name for p in get_resolver().url_patterns if isinstance(p, URLPattern) and p.name and "<int:pk>" in str(p.pattern)
)


@pytest.mark.parametrize("name", INT_URLS)
@pytest.mark.parametrize("pk", [1, 7, 40, 987654321, 2**40])
def test_url_is_reverse_for_every_primary_key_url(name: str, pk: int) -> None:
    if "<slug:" in str(next(p.pattern for p in get_resolver().url_patterns if getattr(p, "name", "") == name)):
        assert jinja.url(name, pk, "consent") == reverse(name, args=[pk, "consent"])
    else:
        assert jinja.url(name, pk) == reverse(name, args=[pk])
        assert jinja.url(name, pk) == reverse(name, args=[pk])  # the memoised pattern, twice


def test_url_without_arguments_and_with_text_arguments_is_reverse() -> None:
    assert INT_URLS, "the URL map has primary-key URLs"
    assert jinja.url("subject_list") == reverse("subject_list") == "/subjects/"
    assert jinja.url("subject_transition", 12, "lose_to_follow_up") == "/subjects/12/lose_to_follow_up/"


@pytest.mark.parametrize("fmt", ["Y-m-d", "m-d", "Y-m-d H:i", "Y-m-d H:i:s", "j N Y"])
def test_date_filter_prints_what_djangos_date_filter_prints(fmt: str) -> None:
    aware = dt.datetime(2026, 11, 26, 19, 5, 9, tzinfo=dt.UTC)  # 03:05 on the 27th in Nanjing (UTC+8)
    day = dt.date(2009, 8, 3)
    assert jinja.date(aware, fmt) == django_date(timezone.localtime(aware), fmt)
    assert jinja.date(day, fmt if "H" not in fmt else "Y-m-d") == django_date(day, fmt if "H" not in fmt else "Y-m-d")
    assert jinja.date(None, fmt) == ""


def test_date_shows_the_site_time_and_utc_date_utc() -> None:
    aware = dt.datetime(2026, 11, 26, 19, 5, 9, tzinfo=dt.UTC)
    assert jinja.date(aware, "Y-m-d H:i") == "2026-11-27 03:05"  # settings.TIME_ZONE Asia/Shanghai, UTC+8
    assert jinja.utc_date(aware) == "2026-11-26 19:05:09"
    assert jinja.utc_date(aware.astimezone(dt.timezone(dt.timedelta(hours=8)))) == "2026-11-26 19:05:09"


@pytest.mark.parametrize("count", [0, 1, 2, 11, "1", "x", None])
@pytest.mark.parametrize("suffix", ["s", "es", "y,ies", "s,"])
def test_pluralize_is_djangos_pluralize(count: object, suffix: str) -> None:
    assert jinja.pluralize(count, suffix) == django_pluralize(count, suffix)


def test_every_template_compiles() -> None:
    env = engines["jinja2"].env
    names = sorted(p.relative_to(PACKAGE_DIR / "templates").as_posix() for p in Path(PACKAGE_DIR / "templates").rglob("*.html"))
    assert len(names) >= 15
    for name in names:
        env.get_template(name)  # raises TemplateSyntaxError naming the template and line
