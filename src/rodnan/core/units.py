"""Units of measure: UCUM strings parsed by ucumvert into one pint registry per process.

Lab units are written in UCUM (``g/L``, ``umol/L``, ``10*9/L``, ``mm[Hg]``). Plain pint misreads
several of them (``10*9/L`` becomes 90/L), so every unit string goes through :func:`parse_unit`.

Conversions used by rodnan are multiplicative (no offset units such as degrees Celsius), so a
conversion is a single factor, computed once per unit pair and cached. Conversion between a mass
concentration and a substance concentration (creatinine mg/dL and umol/L) needs the analyte's molar
mass, which the protocol file gives per item.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from typing import Any

import pint
from ucumvert import PintUcumRegistry

from rodnan.errors import UnitError

_REGISTRY: PintUcumRegistry | None = None


CACHE_ENV = "RODNAN_UNIT_CACHE"
"""Environment variable: the folder where pint keeps its parsed unit definitions ("off": none). Default: pint's
own per-user cache folder. With it a process builds the registry in about 0.4 s instead of 1.1 s."""


def get_registry() -> PintUcumRegistry:
    """Return the process-wide pint registry with UCUM parsing (built once per process; pint's definitions
    are read from its disk cache when there is one, see :data:`CACHE_ENV`)."""
    global _REGISTRY
    if _REGISTRY is None:
        folder = os.environ.get(CACHE_ENV, ":auto:").strip() or ":auto:"
        registry = None
        if folder.lower() != "off":
            try:
                registry = PintUcumRegistry(cache_folder=folder)
            except OSError:  # a cache folder that cannot be written: build without it
                registry = None
        _REGISTRY = registry if registry is not None else PintUcumRegistry()
    return _REGISTRY


@lru_cache(maxsize=512)
def parse_unit(text: str) -> Any:
    """Parse a UCUM unit string into a pint quantity of magnitude one unit.

    A pure annotation such as ``{score}`` and the unity ``1`` are dimensionless.

    Raises:
        UnitError: the text is not valid UCUM.
    """
    stripped = text.strip()
    if not stripped:
        raise UnitError("unit", "must not be empty", text)
    registry = get_registry()
    if stripped == "1" or (stripped.startswith("{") and stripped.endswith("}") and "}" not in stripped[1:-1]):
        return registry.from_ucum("1")
    try:
        quantity = registry.from_ucum(stripped)
    except Exception as exc:  # ucumvert raises several types for bad input
        raise UnitError("unit", "must be a valid UCUM unit", text) from exc
    if not isinstance(quantity, pint.Quantity):
        raise UnitError("unit", "must be a valid UCUM unit", text)
    return quantity


def is_compatible(from_unit: str, to_unit: str, molar_mass_g_per_mol: float | None = None) -> bool:
    """Tell whether values in ``from_unit`` can be converted to ``to_unit``."""
    try:
        conversion_factor(from_unit, to_unit, molar_mass_g_per_mol)
    except UnitError:
        return False
    return True


@lru_cache(maxsize=2048)
def conversion_factor(from_unit: str, to_unit: str, molar_mass_g_per_mol: float | None = None) -> float:
    """Return the factor f such that a value in ``from_unit`` times f is the value in ``to_unit``.

    Args:
        from_unit: UCUM unit of the value.
        to_unit: UCUM unit wanted.
        molar_mass_g_per_mol: the analyte's molar mass, allowing mass <-> substance conversion
            (for creatinine, 113.12 g/mol gives 1 mg/dL = 88.4 umol/L).

    Raises:
        UnitError: either unit is not UCUM, or the dimensions differ (and the molar mass does not
            bridge them), or the conversion has an offset.
    """
    source = parse_unit(from_unit)
    target = parse_unit(to_unit)
    candidates = [source]
    if molar_mass_g_per_mol is not None:
        molar_mass = parse_unit("g/mol") * molar_mass_g_per_mol
        candidates += [source / molar_mass, source * molar_mass]
    for candidate in candidates:
        try:
            factor = float((candidate / target).to("dimensionless").magnitude)
        except pint.DimensionalityError:
            continue
        if not math.isfinite(factor) or factor == 0:
            break
        return factor
    rule = f"unit {from_unit!r} cannot be converted to {to_unit!r}"
    if molar_mass_g_per_mol is None and _differs_by_substance(source, target):
        rule += " without a molar mass"
    raise UnitError("unit", rule, from_unit)


def _differs_by_substance(source: Any, target: Any) -> bool:
    dims = (source / target).dimensionality
    return set(dims) <= {"[mass]", "[substance]"} and bool(dims)


def convert(value: float, from_unit: str, to_unit: str, molar_mass_g_per_mol: float | None = None) -> float:
    """Convert ``value`` from ``from_unit`` to ``to_unit`` (see :func:`conversion_factor`)."""
    return value * conversion_factor(from_unit, to_unit, molar_mass_g_per_mol)


def format_quantity(value: float, unit: str | None) -> str:
    """A value with its unit for people: six significant digits; a pure number or ``{score}`` shows no unit."""
    shown = f"{value:.6g}"
    if unit is None or unit.strip() == "1" or (unit.startswith("{") and unit.endswith("}")):
        return shown
    return f"{shown} {unit}"
