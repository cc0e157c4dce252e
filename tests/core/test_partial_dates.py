"""Partial dates (ISO 8601 of reduced precision): the entry check and the earliest/latest day they can mean."""

from __future__ import annotations

import datetime as dt

import pytest

from rodnan.core.entry import check_form_entry
from rodnan.core.protocol import Study
from rodnan.core.values import PARTIAL_DATE_RULE, parse_partial_date, partial_date_bounds

D = dt.date


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2019", D(2019, 1, 1), D(2019, 12, 31)),
        ("2020-02", D(2020, 2, 1), D(2020, 2, 29)),  # 2020 is a leap year (divisible by 4)
        ("2019-02", D(2019, 2, 1), D(2019, 2, 28)),
        ("1900-02", D(1900, 2, 1), D(1900, 2, 28)),  # divisible by 100, not by 400: not a leap year
        ("2000-02", D(2000, 2, 1), D(2000, 2, 29)),  # divisible by 400: a leap year
        ("2019-04", D(2019, 4, 1), D(2019, 4, 30)),
        ("2019-12", D(2019, 12, 1), D(2019, 12, 31)),
        ("2019-03-14", D(2019, 3, 14), D(2019, 3, 14)),
        ("2024-02-29", D(2024, 2, 29), D(2024, 2, 29)),
        (" 2019-03 ", D(2019, 3, 1), D(2019, 3, 31)),
    ],
)
def test_bounds_are_the_first_and_last_day_the_date_can_mean(text: str, first: dt.date, last: dt.date) -> None:
    assert partial_date_bounds(text) == (first, last)


@pytest.mark.parametrize(
    "text", ["", "19", "2019-3", "2019-03-4", "2019/03", "2019-13", "2019-00", "2019-02-29", "2019-04-31", "0000", "March 2019"]
)
def test_not_a_partial_date_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="must be a date YYYY, YYYY-MM or YYYY-MM-DD"):
        parse_partial_date(text)


def test_end_not_before_start_compares_latest_end_with_earliest_start() -> None:
    """A start of 2019-03 and an end of 2019 may be the same month: not 'before'; an end of 2018 is before."""
    start_first, _ = partial_date_bounds("2019-03")
    assert partial_date_bounds("2019")[1] >= start_first
    assert partial_date_bounds("2018-12")[1] < start_first


def test_entry_stores_the_iso_text_at_its_precision(study: Study) -> None:
    entries = {"mh_term": ("Raynaud's phenomenon", None), "mh_start": (" 2015-03 ", None), "mh_ongoing": ("yes", None),
               "mh_end": ("2019", None)}  # fmt: skip
    entry = check_form_entry(study, "medical_history", entries)
    assert entry.ok
    assert entry.complete
    assert entry.values["mh_start"].value == "2015-03"
    assert entry.values["mh_start"].type == "partial_date"
    assert entry.values["mh_end"].value == entry.values["mh_end"].display == "2019"


@pytest.mark.parametrize("raw", ["2015-13", "15-03", "2015-02-30"])
def test_entry_error_names_the_item_and_the_rule(study: Study, raw: str) -> None:
    entry = check_form_entry(study, "medical_history", {"mh_start": (raw, None)})
    issue = entry.errors["mh_start"]
    assert issue.rule.startswith(PARTIAL_DATE_RULE)
    assert issue.message.startswith("Onset date: must be a date YYYY, YYYY-MM or YYYY-MM-DD")


def test_partial_date_takes_no_unit(study: Study) -> None:
    entry = check_form_entry(study, "medical_history", {"mh_start": ("2015", "a")})
    assert entry.errors["mh_start"].rule == "a partial_date item takes no unit"
