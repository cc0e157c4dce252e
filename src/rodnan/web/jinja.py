"""The Jinja2 environment of the web pages (decision 0007: Jinja2 compiles templates to Python
code, which rendered the subject page and list several times faster than Django's template language).

Globals: ``url(name, *args)`` (Django's ``reverse``, memoised per URL name: see :func:`url`) and
``static(path)``. Filters, besides Jinja2's own: ``date(format)`` in Django's format letters (aware
times in the site's time zone), ``utc_date(format)``, ``pluralize`` and the unit filters
of :mod:`rodnan.web.ui`. Undefined names print as nothing, as in Django's templates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import jinja2
from django.templatetags.static import static
from django.urls import reverse
from django.utils import dateformat, timezone

from rodnan.web.ui import get_item, pathway_labels, unit_label, units_in_text

_STRFTIME = {"Y-m-d": "%Y-%m-%d", "m-d": "%m-%d", "Y-m-d H:i": "%Y-%m-%d %H:%M", "Y-m-d H:i:s": "%Y-%m-%d %H:%M:%S"}
"""Django date formats the templates use, as strftime formats (several times faster than dateformat)."""


def _format(value: dt.date | dt.datetime, fmt: str) -> str:
    strftime = _STRFTIME.get(fmt)
    if strftime is not None and value.year >= 1000:
        return value.strftime(strftime)
    return dateformat.format(value, fmt)


def date(value: object, fmt: str = "Y-m-d") -> str:
    """``value`` in Django's format letters; an aware time is shown in the site's time zone; None gives ""."""
    if not isinstance(value, dt.date):
        return ""
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return _format(value, fmt)


def utc_date(value: object, fmt: str = "Y-m-d H:i:s") -> str:
    """An aware time in UTC, in Django's format letters (the audit trail's times)."""
    if not isinstance(value, dt.datetime):
        return ""
    return _format(value.astimezone(dt.UTC), fmt)


def pluralize(count: object, suffix: str = "s") -> str:
    """Django's ``pluralize``: "" for one, else the suffix; "y,ies" gives "y" for one and "ies" otherwise."""
    singular, _, plural = suffix.rpartition(",") if "," in suffix else ("", "", suffix)
    try:
        one = int(count) == 1  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return ""
    return singular if one else plural


_SENTINEL = 987654321987
_URLS: dict[tuple[str, int], str] = {}


def url(name: str, *args: object) -> str:
    """``reverse(name, args=args)``; memoised when every argument is an integer (a primary key): the URL is
    reversed once per name with a sentinel number, which is then replaced (``reverse`` costs ~50 µs, and
    the visit grid has dozens of links). The script prefix is that of the first call: one per deployment.
    Other arguments are reversed each time."""
    if not args or not all(type(a) is int for a in args):
        return reverse(name, args=list(args))
    key = (name, len(args))
    pattern = _URLS.get(key)
    if pattern is None:
        pattern = reverse(name, args=[_SENTINEL + i for i in range(len(args))])
        _URLS[key] = pattern
    for i, arg in enumerate(args):
        pattern = pattern.replace(str(_SENTINEL + i), str(arg), 1)
    return pattern


def environment(**options: Any) -> jinja2.Environment:
    """The environment Django's Jinja2 backend uses (settings ``TEMPLATES[...]["OPTIONS"]["environment"]``)."""
    env = jinja2.Environment(**(options | {"undefined": jinja2.ChainableUndefined}))
    env.globals |= {"url": url, "static": static}
    env.filters |= {
        "date": date, "utc_date": utc_date, "pluralize": pluralize, "unit_label": unit_label,
        "units_in_text": units_in_text, "get_item": get_item, "pathway_labels": pathway_labels,
    }  # fmt: skip
    return env
