"""Numbers as the report prints them: estimates, p-values, intervals, rates, months; and CSS string literals.

Each returns text; the templates escape it (autoescaping) like any other value.
"""

from __future__ import annotations

import math

NOTHING = "–"
"""What a table shows for a missing number."""


LARGE = 1e5
"""From here on a number prints as a power of ten (a Firth interval's upper limit can reach 10¹⁷)."""

_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def number(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals; "–" for None or NaN; as "1.23 × 10¹⁷" (``digits`` decimals of the
    mantissa) when it is 10⁵ or more in size, or when it is not zero but would print as zero."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NOTHING
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if abs(value) >= LARGE or (value != 0 and abs(value) < 0.5 * 10**-digits):
        mantissa, exponent = f"{value:.{digits}e}".split("e")
        return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPTS)}"
    return f"{value:.{digits}f}"


def p_value(value: float) -> str:
    """A p-value with 3 decimals, "< 0.001" below 0.001, "–" for NaN."""
    if math.isnan(value):
        return NOTHING
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def ci(lower: float, upper: float, digits: int = 2, infinite: str = "∞", separator: str = " to ") -> str:
    """A confidence interval; ``separator`` "–" for positive quantities (hazard ratios), " to " where signs vary.

    A missing lower limit prints as "–", a missing upper limit as ``infinite`` (no finite limit).
    """
    low = number(lower, digits) if not math.isnan(lower) else NOTHING
    high = number(upper, digits) if not math.isnan(upper) else infinite
    return f"{low}{separator}{high}"


def percent(rate: float, lower: float, upper: float) -> str:
    """A rate and its interval in whole percent: "45 % (23–68)"; "–" for NaN."""
    if math.isnan(rate):
        return NOTHING
    return f"{100 * rate:.0f} % ({100 * lower:.0f}–{100 * upper:.0f})"


def median_ci(lower: float, upper: float) -> str:
    """A median's interval in months; NR where the confidence curve never reaches 0.5 (not reached)."""
    return f"{'NR' if math.isnan(lower) else f'{lower:.1f}'} to {'NR' if math.isnan(upper) else f'{upper:.1f}'}"


def months(value: float) -> str:
    """Months with one decimal, or "not reached" for NaN."""
    return "not reached" if math.isnan(value) else f"{value:.1f}"


def clean_note(note: str) -> str:
    """A fit's note for readers: numpy scalar reprs (np.float64(1.0)) shown as plain numbers, no "skipped: "."""
    for prefix in ("np.float64(", "np.int64("):
        while prefix in note:
            head, _, tail = note.partition(prefix)
            note = head + tail.replace(")", "", 1)
    return note.removeprefix("skipped: ")


def organ(label: str) -> str:
    """ "Lung remission (VC, FVC ...)" -> "Lung": the organ's label without its definition."""
    return label.split(" (")[0].removesuffix(" remission")


_CSS_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-")


def css_string(text: str) -> str:
    """A CSS string literal holding ``text``: every character outside [A-Za-z0-9 .,:;-] as a 6-digit CSS escape.

    The space after each escape ends it and is consumed by the CSS parser, as the CSS syntax specifies.
    Besides its two delimiting quotes it holds only those characters and escapes (no ``<``, ``&`` or quote), so it is
    safe inside a ``<style>`` element as it is.
    """
    return '"' + "".join(c if c in _CSS_PLAIN else f"\\{ord(c):06x} " for c in text) + '"'
