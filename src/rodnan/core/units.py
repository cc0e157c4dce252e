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
import re
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
    """A value with its unit for people: six significant digits and the unit as :func:`display_unit` prints it
    (``70 µmol/L``, ``72 × 10⁹/L``); a pure number or ``{score}`` shows no unit."""
    shown = f"{value:.6g}"
    printed = display_unit(unit)
    if not printed:
        return shown
    return f"{shown} {printed}"


# --- units for people ---------------------------------------------------------------------------------------------

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_WHOLE_UNIT_WORDS = {"a": "years", "mo": "months", "wk": "weeks", "d": "days"}
"""A time unit that is the whole unit reads as a word ("14 months"); inside a compound it keeps its symbol (g/d)."""
_ATOM_WORDS = {"iU": "IU", "arb'U": "arb. U", "Cel": "°C"}
"""UCUM atoms whose printed symbol is not the code without its brackets (others: ``[in_i]`` -> ``in``)."""
_ONLY_ANNOTATION = re.compile(r"^\{([^{}]*)\}$")
_PURE_NUMBER_ANNOTATIONS = frozenset({"score", "points"})
"""Annotations that mark a pure number: shown as nothing ("mRSS 28", not "28 score")."""
_POWER_OF_TEN = re.compile(r"10[*^](-?\d+)")
_BRACKETED = re.compile(r"\[([^\[\]]*)\]")
_ANNOTATION = re.compile(r"\{([^{}]*)\}")
_MICRO = re.compile(r"(?<![A-Za-zµ])u(?=(?:g|L|l|mol|m|s|kat|eq|IU|U)(?![A-Za-z]))")
_CEL = re.compile(r"(?<![A-Za-z])Cel(?![A-Za-z])")
_NUMBER_TIMES_UNIT = re.compile(r"(?<=\d)\.(?=[A-Za-zµ])")
_UNIT_TIMES_UNIT = re.compile(r"(?<=[A-Za-zµ])\.(?=[A-Za-zµ])")
_PARENTHESISED_NUMBER = re.compile(r"\((\d[\d.]* [^()]*)\)")
_EXPONENT = re.compile(r"(?<=[A-Za-zµ])(-?\d+)(?![\d.])")


def _power_of_ten(match: re.Match[str]) -> str:
    end = match.end()
    rest = match.string[end : end + 1]
    return "× 10" + match[1].translate(_SUPERSCRIPT) + (" " if rest and rest not in "/)" else "")


def _bracketed_atom(match: re.Match[str]) -> str:
    atom = match[1]
    if atom in _ATOM_WORDS:
        return _ATOM_WORDS[atom]
    return atom.split("_", 1)[0].replace("'", "")


@lru_cache(maxsize=512)
def display_unit(ucum: str | None) -> str:
    """A UCUM unit as people read it on a lab report, derived by rules (the unit stored and converted stays UCUM).

    The rules, applied in this order (docs/decisions/0017-plain-language-and-units.md):

    1. no unit, the unity ``1`` or a unit that is only a pure-number annotation (``{score}``) shows nothing; a unit
       that is only another annotation shows its text (``{cells}`` -> ``cells``);
    2. a time unit that is the whole unit reads as a word: ``a`` years, ``mo`` months, ``wk`` weeks, ``d`` days;
    3. a power of ten ``10*9`` or ``10^9`` becomes ``× 10⁹`` (a space before the unit it multiplies);
    4. an annotation inside a unit keeps its text (``{cells}/kg`` -> ``cells/kg``; ``_`` reads as a space);
    5. a bracketed atom loses its brackets and its ``_`` qualifier (``mm[Hg]`` -> ``mmHg``, ``[in_i]`` -> ``in``;
       ``[iU]`` -> ``IU``, ``[arb'U]`` -> ``arb. U``); ``Cel`` -> ``°C``;
    6. the prefix ``u`` is the micro sign (``umol/L`` -> ``µmol/L``, ``/uL`` -> ``/µL``);
    7. a number times a unit is written with a space and without its parentheses (``g/(24.h)`` -> ``g/24 h``); a
       product of units with a middle dot (``mL/(min.kg)`` -> ``mL/(min·kg)``);
    8. an exponent after a unit is a superscript (``/mm3`` -> ``/mm³``, ``m2`` -> ``m²``).

    Applied to its own result it changes nothing.

    Args:
        ucum: the UCUM unit (or None).

    Returns:
        The unit for people ("" when it shows nothing).
    """
    text = (ucum or "").strip()
    if text in ("", "1"):
        return ""
    annotation = _ONLY_ANNOTATION.match(text)
    if annotation is not None:
        return "" if annotation[1].lower() in _PURE_NUMBER_ANNOTATIONS else annotation[1].replace("_", " ")
    if text in _WHOLE_UNIT_WORDS:
        return _WHOLE_UNIT_WORDS[text]
    text = _POWER_OF_TEN.sub(_power_of_ten, text)
    text = _ANNOTATION.sub(lambda m: m[1].replace("_", " "), text)
    text = _BRACKETED.sub(_bracketed_atom, text)
    text = _CEL.sub("°C", text)
    text = _MICRO.sub("µ", text)
    text = _NUMBER_TIMES_UNIT.sub(" ", text)
    text = _UNIT_TIMES_UNIT.sub("·", text)
    text = _PARENTHESISED_NUMBER.sub(r"\1", text)
    return _EXPONENT.sub(lambda m: m[1].translate(_SUPERSCRIPT), text)


def unit_key(text: str) -> str:
    """A unit as typed, reduced for matching against an item's units: its display form without blanks, ``×``, ``·``
    or a leading ``x``, in lower case, the Greek mu read as the micro sign ("x10^9/l" and "10*9/L" give one key)."""
    shown = display_unit(text.strip().replace("μ", "µ"))
    shown = re.sub(r"^[xX](?=\s*10|\s*×)", "", shown)
    return re.sub(r"[\s×·*]", "", shown).lower()
