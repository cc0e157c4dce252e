"""The dose check: cells per kg against the registry's 1 x 10^6 cells/kg, tolerance ±10 % (hand-computed)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rodnan.core.dose import DoseCheck, check_dose, format_cells
from rodnan.core.protocol import Study, bundled_protocol_path, load_protocol_text
from rodnan.errors import InputError


def test_bundled_protocol_states_its_tolerance_and_why(study: Study) -> None:
    """The protocol file sets ±10 % explicitly and says it is the project's default, not the record's."""
    assert study.intervention.dose_tolerance == 0.1
    assert study.intervention.dose_tolerance_source is not None
    assert "not stated in the registry record" in study.intervention.dose_tolerance_source


def test_check_dose_exactly_on_dose(study: Study) -> None:
    """60 x 10^6 cells at 60 kg is 1 x 10^6 cells/kg: the protocol dose, deviation 0."""
    assert check_dose(study, 60e6, 60) == DoseCheck(
        cells_administered=60e6,
        weight_kg=60.0,
        cells_per_kg=1e6,
        target_per_kg=1e6,
        relative_deviation=0.0,
        within_tolerance=True,
        message="1 × 10⁶ cells/kg, on the protocol dose of 1 × 10⁶ cells/kg (tolerance ±10 %)",
    )


def test_check_dose_above_tolerance(study: Study) -> None:
    """70 x 10^6 cells at 60 kg: 1.1667 x 10^6 cells/kg, 7/60 - 1 = 16.7 % above, outside ±10 %."""
    check = check_dose(study, 70e6, 60)
    assert check.cells_per_kg == pytest.approx(1_166_666.667)
    assert check.relative_deviation == pytest.approx(1 / 6)
    assert not check.within_tolerance
    assert (
        check.message
        == "1.17 × 10⁶ cells/kg, 16.7 % above the protocol dose of 1 × 10⁶ cells/kg (outside the tolerance of ±10 %)"
    )


def test_check_dose_slightly_above(study: Study) -> None:
    """61.2 x 10^6 cells at 60 kg: 1.02 x 10^6 cells/kg, 2.0 % above, within ±10 %."""
    check = check_dose(study, 61.2e6, 60)
    assert check.relative_deviation == pytest.approx(0.02)
    assert check.within_tolerance
    assert check.message == "1.02 × 10⁶ cells/kg, 2.0 % above the protocol dose of 1 × 10⁶ cells/kg (tolerance ±10 %)"


def test_check_dose_below(study: Study) -> None:
    """45 x 10^6 cells at 60 kg: 7.5 x 10^5 cells/kg, 25.0 % below, outside ±10 %."""
    check = check_dose(study, 45e6, 60)
    assert check.relative_deviation == pytest.approx(-0.25)
    assert not check.within_tolerance
    assert (
        check.message == "7.5 × 10⁵ cells/kg, 25.0 % below the protocol dose of 1 × 10⁶ cells/kg (outside the tolerance of ±10 %)"
    )


@pytest.mark.parametrize(
    ("cells", "weight", "within"),
    [
        (66e6, 60, True),  # 1.10 x 10^6 /kg: +10 %, on the edge, included
        (54e6, 60, True),  # 0.90 x 10^6 /kg: -10 %, on the edge, included
        (66.1e6, 60, False),  # +10.17 %
        (53.9e6, 60, False),  # -10.17 %
        (77e6, 70, True),  # 1.10 x 10^6 /kg at 70 kg
    ],
)
def test_check_dose_tolerance_edges(study: Study, cells: float, weight: float, within: bool) -> None:
    """A deviation of exactly ±10 % is within tolerance; just beyond is not."""
    assert check_dose(study, cells, weight).within_tolerance is within


@pytest.mark.parametrize(
    ("cells", "weight", "field"),
    [
        (0, 60, "cells_administered"),
        (-1e6, 60, "cells_administered"),
        (math.nan, 60, "cells_administered"),
        (math.inf, 60, "cells_administered"),
        (60e6, 0, "infusion_weight"),
        (60e6, -60, "infusion_weight"),
        (60e6, math.nan, "infusion_weight"),
    ],
)
def test_check_dose_rejects_non_positive_input(study: Study, cells: float, weight: float, field: str) -> None:
    """Zero, negative or non-finite cells or weight is an InputError naming the field."""
    with pytest.raises(InputError) as caught:
        check_dose(study, cells, weight)
    assert (caught.value.field, caught.value.rule) == (field, "must be a positive number")


def _with_intervention(old: str, new: str) -> Study:
    text = bundled_protocol_path().read_text(encoding="utf-8")
    changed = text.replace(old, new, 1)
    assert changed != text
    return load_protocol_text(changed, "changed.yaml")


def test_check_dose_converts_the_protocol_dose_unit() -> None:
    """A dose written as 1 x 10^6 cells per g is 1 x 10^9 cells/kg: 60 x 10^9 cells at 60 kg is on dose."""
    other = _with_intervention('  dose: {value: 1.0e+6, unit: "{cells}/kg"}', '  dose: {value: 1.0e+6, unit: "{cells}/g"}')
    check = check_dose(other, 60e9, 60)
    assert check.target_per_kg == pytest.approx(1e9)
    assert check.relative_deviation == pytest.approx(0.0, abs=1e-12)
    assert check.message == "1 × 10⁹ cells/kg, on the protocol dose of 1 × 10⁹ cells/kg (tolerance ±10 %)"


def test_check_dose_uses_the_protocol_tolerance() -> None:
    """With a tolerance of 0.2 in the file, 16.7 % above is within it, and the message says ±20 %."""
    other = _with_intervention("  dose_tolerance: 0.1 ", "  dose_tolerance: 0.2 ")
    check = check_dose(other, 70e6, 60)
    assert check.within_tolerance
    assert check.message.endswith("(tolerance ±20 %)")


@pytest.mark.parametrize("tolerance", ["0", "1", "-0.1", "1.5"])
def test_dose_tolerance_must_lie_between_0_and_1(tolerance: str) -> None:
    """The protocol model refuses a tolerance of 0, 1 or beyond."""
    with pytest.raises(ValueError, match="dose_tolerance"):
        _with_intervention("  dose_tolerance: 0.1 ", f"  dose_tolerance: {tolerance} ")


@pytest.mark.parametrize(
    ("value", "text"),
    [(1e6, "1 × 10⁶"), (1_166_666.7, "1.17 × 10⁶"), (750_000, "7.5 × 10⁵"), (999_600, "1 × 10⁶"), (42, "4.2 × 10¹")],
)
def test_format_cells(value: float, text: str) -> None:
    """Three significant digits in scientific notation, trailing zeros dropped, rounding carried into the exponent."""
    assert format_cells(value) == text


@given(
    st.floats(min_value=1e5, max_value=1e10, allow_nan=False, allow_infinity=False),
    st.floats(min_value=20, max_value=250, allow_nan=False, allow_infinity=False),
)
def test_check_dose_properties(study: Study, cells: float, weight: float) -> None:
    """cells_per_kg x weight = cells; deviation sign and tolerance follow from cells_per_kg against 10^6."""
    check = check_dose(study, cells, weight)
    assert check.cells_per_kg * weight == pytest.approx(cells)
    assert check.relative_deviation == pytest.approx(cells / weight / 1e6 - 1)
    assert check.within_tolerance is (abs(cells / weight / 1e6 - 1) <= 0.1 + 1e-9)
    assert ("above" in check.message) is (round(check.relative_deviation * 100, 1) > 0)
    assert ("below" in check.message) is (round(check.relative_deviation * 100, 1) < 0)
