"""UCUM unit parsing and conversion, against published conversion factors (shared/domain.md §8.3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rodnan.core import units
from rodnan.errors import UnitError

CREATININE_G_PER_MOL = 113.12  # creatinine C4H7N3O, molar mass 113.12 g/mol
HEMOGLOBIN_G_PER_MOL = 16114.5  # haemoglobin monomer


@pytest.mark.parametrize(
    ("value", "source", "target", "molar_mass", "expected", "tol"),
    [
        # creatinine: mg/dL x 88.4 = umol/L (domain.md §8.3; 10 x 1000 / 113.12 = 88.40)
        (1.0, "mg/dL", "umol/L", CREATININE_G_PER_MOL, 88.40, 0.01),
        (120.0, "umol/L", "mg/dL", CREATININE_G_PER_MOL, 1.3575, 0.0005),
        (0.12, "mmol/L", "umol/L", None, 120.0, 1e-9),
        # haemoglobin: 11 g/dL = 110 g/L = 6.83 mmol/L (g/dL x 0.6206); CTCAE 10.0 g/dL = 6.2 mmol/L
        (11.0, "g/dL", "g/L", None, 110.0, 1e-9),
        (11.0, "g/dL", "mmol/L", HEMOGLOBIN_G_PER_MOL, 6.83, 0.005),
        (10.0, "g/dL", "mmol/L", HEMOGLOBIN_G_PER_MOL, 6.2, 0.01),
        # platelets: 80,000 /mm3 = 80 x 10^9/L (CTCAE v5.0 "75,000/mm3; 75.0 x 10e9 /L")
        (80000.0, "/mm3", "10*9/L", None, 80.0, 1e-9),
        (75.0, "10*3/uL", "10*9/L", None, 75.0, 1e-9),
        (80000.0, "/uL", "10*9/L", None, 80.0, 1e-9),
        # albumin: 2.5 g/dL = 25 g/L; CRP 1 mg/dL = 10 mg/L
        (2.5, "g/dL", "g/L", None, 25.0, 1e-9),
        (1.0, "mg/dL", "mg/L", None, 10.0, 1e-9),
        # proteinuria: 0.5 g/24 h = 500 mg/24 h
        (0.5, "g/(24.h)", "mg/(24.h)", None, 500.0, 1e-9),
        (0.5, "g/d", "g/(24.h)", None, 0.5, 1e-9),
        # pressure: 40 mmHg = 5.33 kPa (1 mmHg = 133.322 Pa)
        (40.0, "mm[Hg]", "kPa", None, 5.3329, 0.0001),
        # time: 2 years = 24 months (UCUM a = 12 mo)
        (2.0, "a", "mo", None, 24.0, 1e-9),
    ],
)
def test_convert_matches_published_factor(
    value: float, source: str, target: str, molar_mass: float | None, expected: float, tol: float
) -> None:
    """Each conversion reproduces the factor printed in domain.md §8.3 or CTCAE v5.0."""
    assert units.convert(value, source, target, molar_mass) == pytest.approx(expected, abs=tol)


def test_parse_unit_reads_ucum_powers_of_ten_correctly() -> None:
    """10*9/L is a count per litre times 10^9, not 90 per litre (plain pint's misreading)."""
    assert units.convert(1.0, "10*9/L", "/L") == pytest.approx(1e9)


def test_parse_unit_accepts_annotations_as_dimensionless() -> None:
    """{score} and 1 are pure numbers."""
    assert units.conversion_factor("{score}", "1") == 1.0


@pytest.mark.parametrize("bad", ["", "foo/bar", "g//L"])
def test_parse_unit_rejects_text_that_is_not_ucum(bad: str) -> None:
    """A malformed unit raises UnitError naming the unit."""
    with pytest.raises(UnitError):
        units.parse_unit(bad)


def test_conversion_factor_rejects_incompatible_dimensions() -> None:
    """g/L cannot become mm[Hg]; the error says which units."""
    with pytest.raises(UnitError, match=r"'g/L' cannot be converted to 'mm\[Hg\]'"):
        units.conversion_factor("g/L", "mm[Hg]")


def test_mass_to_substance_needs_a_molar_mass() -> None:
    """mg/dL to umol/L without the analyte's molar mass is refused, saying why."""
    with pytest.raises(UnitError, match="without a molar mass"):
        units.conversion_factor("mg/dL", "umol/L")


def test_format_quantity_hides_pure_number_units() -> None:
    """Scores show no unit; rounding noise from conversions is not shown."""
    assert units.format_quantity(28.0, "{score}") == "28"
    assert units.format_quantity(23.000000000000004, "g/L") == "23 g/L"


def test_the_registry_keeps_its_definitions_in_the_cache_folder_and_converts_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rodnan.core import units

    folder = tmp_path / "pint"
    for setting in (str(folder), str(folder), "off"):  # written, then read back; then no cache at all
        monkeypatch.setattr(units, "_REGISTRY", None)
        monkeypatch.setenv(units.CACHE_ENV, setting)
        registry = units.get_registry()
        assert registry.from_ucum("mg/dL").to(registry.from_ucum("g/L")).magnitude == pytest.approx(0.01)
        assert registry.from_ucum("10*9/L").to(registry.from_ucum("/uL")).magnitude == pytest.approx(1000.0)
    assert any(folder.glob("*.pickle"))


# --- units for people (issue 15, finding 8) ---------------------------------------------------------------------

PRINTED = {
    "%": "%", "/mm3": "/mm³", "/uL": "/µL", "1": "", "10*3/uL": "× 10³/µL", "10*6/L": "× 10⁶/L", "10*9/L": "× 10⁹/L",
    "L": "L", "L/h": "L/h", "[IU]/mL": "IU/mL", "[arb'U]/mL": "arb. U/mL", "[in_i]": "in", "[lb_av]": "lb", "a": "years",
    "cm": "cm", "d": "days", "g": "g", "g/(24.h)": "g/24 h", "g/L": "g/L", "g/d": "g/d", "g/dL": "g/dL", "kPa": "kPa",
    "kg": "kg", "m": "m", "mL": "mL", "mL/min": "mL/min", "mL/min/mm[Hg]": "mL/min/mmHg", "mL/s": "mL/s",
    "mg/(24.h)": "mg/24 h", "mg/L": "mg/L", "mg/d": "mg/d", "mg/dL": "mg/dL", "mm": "mm", "mm/h": "mm/h",
    "mm[Hg]": "mmHg", "mmol/L": "mmol/L", "mo": "months", "umol/L": "µmol/L", "wk": "weeks", "{cells}": "cells",
    "{cells}/kg": "cells/kg", "{score}": "", "/min": "/min", "Cel": "°C",
}  # fmt: skip
"""Every unit the bundled protocol uses (items' units, accepted units, the dose), as a lab report prints it."""


def _protocol_units() -> set[str]:
    from rodnan.core.protocol import load_protocol

    study = load_protocol()
    used = {unit for item in study.items for unit in (item.unit, *item.accepted_units) if unit}
    return used | {study.intervention.dose.unit}


def test_every_unit_of_the_bundled_protocol_is_printed_for_people() -> None:
    """The list above covers the protocol, and each unit prints as written there by hand."""
    used = _protocol_units()
    assert used <= set(PRINTED), sorted(used - set(PRINTED))
    assert {unit: units.display_unit(unit) for unit in used} == {unit: PRINTED[unit] for unit in used}


@pytest.mark.parametrize(
    ("ucum", "printed"),
    [("10*6{cells}/kg", "× 10⁶ cells/kg"), ("10*6/kg", "× 10⁶/kg"), ("10^12/L", "× 10¹²/L"), ("ug/L", "µg/L"),
     ("mL/min/{1.73_m2}", "mL/min/1.73 m²"), ("mL/(min.kg)", "mL/(min·kg)"), ("Cel", "°C"), ("s-1", "s⁻¹"),
     ("[iU]/L", "IU/L"), (None, ""), ("", ""), ("{ratio}", "ratio")],
)  # fmt: skip
def test_display_unit_rules_beyond_the_protocol(ucum: str | None, printed: str) -> None:
    """The rules, not a table: powers of ten, annotations, micro, products and exponents in units the protocol lacks."""
    assert units.display_unit(ucum) == printed


def test_display_unit_is_idempotent_and_keys_match() -> None:
    """Printing a printed unit changes nothing; a unit and its printed form, and its usual spellings, match as typed."""
    for unit in PRINTED:
        shown = units.display_unit(unit)
        assert units.display_unit(shown) == shown
        assert units.unit_key(shown) == units.unit_key(unit)
    for typed, ucum in [("µmol/l", "umol/L"), ("μmol/L", "umol/L"), ("x10^9/L", "10*9/L"), ("g/24h", "g/(24.h)"),
                        ("mmHg", "mm[Hg]"), ("MG/DL", "mg/dL"), ("/mm3", "/mm3")]:  # fmt: skip
        assert units.unit_key(typed) == units.unit_key(ucum), typed


def test_units_of_one_item_have_distinct_keys() -> None:
    """A unit typed after a number must name one of the item's units, never two."""
    from rodnan.core.protocol import load_protocol

    for item in load_protocol().items:
        offered = [u for u in (item.unit, *item.accepted_units) if u]
        keys = [units.unit_key(u) for u in offered]
        assert len(set(keys)) == len(keys), (item.code, offered)


def test_format_quantity_prints_the_unit_for_people() -> None:
    """70 umol/L reads 70 µmol/L; a score has no unit."""
    assert units.format_quantity(70, "umol/L") == "70 µmol/L"
    assert units.format_quantity(72, "10*9/L") == "72 × 10⁹/L"
    assert units.format_quantity(0.5, "g/(24.h)") == "0.5 g/24 h"
    assert units.format_quantity(28, "{score}") == "28"
