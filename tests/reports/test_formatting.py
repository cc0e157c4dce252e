"""How the report prints numbers: each helper against values worked out by hand."""

from __future__ import annotations

import math
import re

import pytest

from rodnan.reports import formatting

NAN = math.nan


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [(1.23456, 2, "1.23"), (0.125, 2, "0.12"), (-2.0, 2, "-2.00"), (NAN, 2, "–"), (None, 2, "–"), (99999.0, 2, "99999.00"),
     (123456789012345678.0, 2, "1.23 × 10¹⁷"), (-250000.0, 1, "-2.5 × 10⁵"), (0.004, 2, "4.00 × 10⁻³"), (0.005, 2, "0.01"),
     (0.0, 2, "0.00"), (math.inf, 2, "∞")],
)  # fmt: skip
def test_number(value: float | None, digits: int, expected: str) -> None:
    """Fixed decimals (round half to even: 0.125, exact in binary, gives 0.12); a dash when missing; a power of ten
    from 10⁵ on (a Firth interval's upper limit printed 18 digits before) or where the decimals would show zero."""
    assert formatting.number(value, digits) == expected


@pytest.mark.parametrize(("value", "expected"), [(0.0004, "< 0.001"), (0.001, "0.001"), (0.04449, "0.044"), (NAN, "–")])
def test_p_value(value: float, expected: str) -> None:
    """Three decimals; below 0.001 as "< 0.001"."""
    assert formatting.p_value(value) == expected


def test_ci_with_missing_limits() -> None:
    """Lower missing: a dash; upper missing: infinity (no finite limit); the separator as given."""
    assert formatting.ci(0.5, 2.25) == "0.50 to 2.25"
    assert formatting.ci(0.5, NAN, separator="–") == "0.50–∞"
    assert formatting.ci(NAN, 3.0, digits=1) == "– to 3.0"


def test_percent_and_months() -> None:
    """A rate 9/20 = 45 % with its interval in whole percent; a median not reached."""
    assert formatting.percent(9 / 20, 0.2306, 0.6847) == "45 % (23–68)"
    assert formatting.percent(NAN, NAN, NAN) == "–"
    assert formatting.median_ci(NAN, 11.04) == "NR to 11.0"
    assert formatting.months(NAN) == "not reached"
    assert formatting.months(6.0) == "6.0"


def test_clean_note_and_organ() -> None:
    """numpy reprs become plain numbers; the organ's label loses its definition."""
    assert formatting.clean_note("skipped: constant (np.float64(1.0) in every row, np.int64(3) rows)") == (
        "constant (1.0 in every row, 3 rows)"
    )
    assert formatting.organ("Lung remission (VC, FVC and DLCO)") == "Lung"


def test_css_string_escapes_everything_but_plain_characters() -> None:
    """Markup and quotes become CSS escapes (6 hex digits and a space); the result is inert inside <style>."""
    text = '</style><script>"x"·'
    literal = formatting.css_string(text)
    assert literal.startswith('"')
    assert literal.endswith('"')
    inner = literal[1:-1]
    assert "<" not in inner
    assert '"' not in inner
    assert inner.startswith("\\00003c \\00002f style\\00003e ")
    # decoding the escapes gives the text back
    assert re.sub(r"\\([0-9a-f]{6}) ", lambda m: chr(int(m.group(1), 16)), inner) == text
