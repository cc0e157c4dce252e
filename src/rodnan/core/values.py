"""Entered values of items: parse, convert to the item's unit, check the plausible range.

Every value that reaches the expression language goes through here (one value at a time) or
through the same rules applied to whole columns in :mod:`rodnan.core.screening`. Numbers become
floats in the item's own unit, yes/no answers 1.0 / 0.0, choices the index of the choice.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from dataclasses import dataclass

from rodnan.core import units
from rodnan.core.protocol.model import ItemDef
from rodnan.errors import InputError, UnitError

BOOLEAN_WORDS: dict[str, float] = {
    "true": 1.0, "yes": 1.0, "y": 1.0, "1": 1.0, "t": 1.0,
    "false": 0.0, "no": 0.0, "n": 0.0, "0": 0.0, "f": 0.0,
}  # fmt: skip
"""Accepted spellings of yes/no answers (compared in lower case)."""

PARTIAL_DATE_RULE = "must be a date YYYY, YYYY-MM or YYYY-MM-DD"
"""The rule a partial-date entry breaks when it is not one."""

_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


@dataclass(frozen=True)
class Measurement:
    """A value as entered, with the unit it was entered in (``None``: the item's own unit)."""

    value: object
    unit: str | None = None


@dataclass(frozen=True)
class ItemValue:
    """A value normalised for evaluation, and how it was entered.

    Attributes:
        item: the item code.
        value: float in the item's unit (yes/no 1.0/0.0, choice index), or None when missing.
        entered: the value as entered, with its unit ("2.3 g/dL"), or "" when missing.
        display: the value in the item's unit for people ("23 g/L", "yes", "female").
        converted: True when it was entered in another unit than the item's.
        derived_by: for a derived item, the instrument and items it came from (or why it could not
            be derived); None for a measured value.
    """

    item: str
    value: float | None
    entered: str
    display: str
    converted: bool = False
    derived_by: str | None = None

    @property
    def is_missing(self) -> bool:
        """True when no value was given."""
        return self.value is None


def unit_factor(item: ItemDef, unit: str | None) -> float:
    """Factor from ``unit`` to the item's unit.

    Raises:
        InputError: the item takes no unit, the unit is not UCUM, or it does not convert.
    """
    if unit is None or unit.strip() == "" or unit == item.unit:
        return 1.0
    if item.unit is None:
        raise InputError(item.code, f"a {item.type} item takes no unit", unit)
    try:
        return units.conversion_factor(unit, item.unit, item.molar_mass_g_per_mol)
    except UnitError as exc:
        raise InputError(item.code, f"unit must convert to {units.display_unit(item.unit)} ({exc.rule})", unit) from None


def format_number(value: float) -> str:
    """Up to six significant digits, no trailing zeros (23.000000000000004 -> '23')."""
    return f"{value:.6g}"


def display_value(item: ItemDef, value: float | None) -> str:
    """A normalised value as people read it, in the item's unit."""
    if value is None:
        return "missing"
    if item.type == "boolean":
        return "yes" if value == 1.0 else "no"
    if item.type == "choice":
        return item.choices[int(value)].code
    return units.format_quantity(value, item.unit)


def check_range(item: ItemDef, value: float) -> None:
    """Raise InputError when ``value`` (in the item's unit) is outside the hard plausible range."""
    bounds = item.range
    if bounds is None:
        return
    if (bounds.min is not None and value < bounds.min) or (bounds.max is not None and value > bounds.max):
        low = "-inf" if bounds.min is None else format_number(bounds.min)
        high = "inf" if bounds.max is None else format_number(bounds.max)
        raise InputError(
            item.code,
            f"must be within the plausible range {low} to {units.format_quantity(float(high), item.unit)}",
            units.format_quantity(value, item.unit),
        )


def normalize_value(item: ItemDef, raw: object, unit: str | None = None) -> ItemValue:
    """Parse one entered value of ``item`` and convert it to the item's unit.

    Args:
        item: the item definition.
        raw: None or "" (missing), a bool, a number, a string (number, yes/no word or choice
            code), or a :class:`Measurement` carrying its own unit.
        unit: the unit ``raw`` is in, when not the item's own.

    Raises:
        InputError: naming the item and the rule (not a number, not yes/no, not a choice, unit
            does not fit, outside the plausible range, not a whole number).
    """
    if isinstance(raw, Measurement):
        unit = raw.unit if raw.unit is not None else unit
        raw = raw.value
    if raw is None or (isinstance(raw, str) and raw.strip() == "") or (isinstance(raw, float) and math.isnan(raw)):
        return ItemValue(item.code, None, "", "missing")
    entered = str(raw).strip() if unit is None else f"{str(raw).strip()} {unit}"
    if item.type == "boolean":
        if unit is not None:
            raise InputError(item.code, "a yes/no item takes no unit", unit)
        value = _parse_boolean(item, raw)
    elif item.type == "choice":
        codes = [c.code for c in item.choices]
        text = str(raw).strip().lower()
        if text not in codes:
            raise InputError(item.code, f"must be one of {', '.join(codes)}", raw)
        value = float(codes.index(text))
    elif item.is_numeric:
        value = _parse_number(item, raw) * unit_factor(item, unit)
        check_range(item, value)
        if item.type == "integer" and not float(value).is_integer():
            raise InputError(item.code, "must be a whole number", raw)
    else:
        raise InputError(item.code, f"a {item.type} item is not used in criteria", raw)
    converted = item.is_numeric and unit is not None and unit.strip() not in ("", item.unit)
    return ItemValue(item.code, value, entered, display_value(item, value), converted)


def _parse_boolean(item: ItemDef, raw: object) -> float:
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float) and raw in (0, 1):
        return float(raw)
    word = BOOLEAN_WORDS.get(str(raw).strip().lower())
    if word is None:
        raise InputError(item.code, "must be yes/no (true/false, yes/no or 1/0)", raw)
    return word


def _parse_number(item: ItemDef, raw: object) -> float:
    if isinstance(raw, bool):
        raise InputError(item.code, "must be a number, not yes/no", raw)
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        try:
            value = float(str(raw).strip())
        except ValueError:
            raise InputError(item.code, "must be a number", raw) from None
    if not math.isfinite(value):
        raise InputError(item.code, "must be a finite number", raw)
    return value


def parse_partial_date(text: str) -> str:
    """An ISO 8601 date of reduced precision, checked and stripped: ``2019``, ``2019-03`` or ``2019-03-14``.

    Args:
        text: the date as entered.

    Returns:
        The date at its precision, as ISO text (surrounding blanks removed).

    Raises:
        ValueError: not one of the three forms, or a month or day that does not exist (``2019-13``,
            ``2019-02-29``, year 0000).
    """
    stripped = text.strip()
    match = _PARTIAL_DATE.match(stripped)
    if match is None:
        raise ValueError(PARTIAL_DATE_RULE)
    year, month, day = (int(part) if part else None for part in match.groups())
    assert year is not None  # the pattern requires it
    try:
        dt.date(year, 1 if month is None else month, 1 if day is None else day)
    except ValueError:  # year 0000, month 13, day 32, 2019-02-29
        raise ValueError(f"{PARTIAL_DATE_RULE} ({stripped} does not exist)") from None
    return stripped


def partial_date_bounds(text: str) -> tuple[dt.date, dt.date]:
    """The earliest and the latest day a partial date can mean.

    ``2019`` spans 2019-01-01 to 2019-12-31, ``2020-02`` spans 2020-02-01 to 2020-02-29 (a leap year),
    ``2019-03-14`` is that day. An end date is "not before" a start date when its latest day is on or
    after the start's earliest day (they may overlap).

    Args:
        text: a partial date (see :func:`parse_partial_date`).

    Returns:
        (first day, last day), both included.

    Raises:
        ValueError: ``text`` is not a partial date.
    """
    parts = [int(part) for part in parse_partial_date(text).split("-")]
    year = parts[0]
    if len(parts) == 1:
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    month = parts[1]
    if len(parts) == 2:
        return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    day = dt.date(year, month, parts[2])
    return day, day
