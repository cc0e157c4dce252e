"""The MSC dose actually given, against the protocol's dose per kg body weight.

Formula: cells per kg = cells administered / body weight on the day of infusion (kg); relative
deviation = (cells per kg - protocol dose per kg) / protocol dose per kg, signed (positive above
the dose). The dose is within tolerance when the absolute relative deviation is at most the
protocol's ``intervention.dose_tolerance`` (both ends included).

Worked example (bundled protocol: 1 x 10^6 cells/kg, tolerance ±10 %): 60 x 10^6 cells at 60 kg is
exactly on dose; 70 x 10^6 cells at 60 kg is 1.1667 x 10^6 cells/kg, 16.7 % above, outside the
tolerance; 66 x 10^6 cells at 60 kg is 10 % above, on the edge and still within it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rodnan.core import units
from rodnan.core.protocol.model import Study
from rodnan.errors import InputError

DOSE_UNIT = "{cells}/kg"
"""The unit of cells per kg that every check reports in (the protocol's dose is converted to it)."""

_EDGE = 1e-9
"""Slack on the tolerance so that a deviation exactly on the edge (66e6 cells at 60 kg) is not lost to rounding."""


@dataclass(frozen=True)
class DoseCheck:
    """The administered dose compared with the protocol dose.

    Attributes:
        cells_administered: total viable cells given.
        weight_kg: body weight on the day of infusion, kg.
        cells_per_kg: the dose given, cells per kg.
        target_per_kg: the protocol dose, cells per kg.
        relative_deviation: (cells_per_kg - target_per_kg) / target_per_kg; positive above the dose.
        within_tolerance: True when |relative_deviation| is at most the protocol's tolerance.
        message: the result for people, e.g. "1.02 × 10⁶ cells/kg, 2.0 % above the protocol dose of
            1 × 10⁶ cells/kg (tolerance ±10 %)".
    """

    cells_administered: float
    weight_kg: float
    cells_per_kg: float
    target_per_kg: float
    relative_deviation: float
    within_tolerance: bool
    message: str


def format_cells(value: float) -> str:
    """A cell count in scientific notation with up to three significant digits: 1166666.7 -> '1.17 × 10⁶' (the power of
    ten written as :func:`rodnan.core.units.display_unit` writes one)."""
    mantissa, exponent = f"{value:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa} {units.display_unit(f'10*{int(exponent)}')}"


def _positive(field: str, value: float) -> float:
    """``value`` as a float, or InputError naming ``field`` when it is not a positive finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise InputError(field, "must be a positive number", value)
    return float(value)


def check_dose(study: Study, cells_administered: float, weight_kg: float) -> DoseCheck:
    """Compare the cells given per kg body weight with the protocol dose.

    Args:
        study: the protocol (its ``intervention.dose`` and ``dose_tolerance``).
        cells_administered: total viable cells given.
        weight_kg: body weight on the day of infusion, kg.

    Returns:
        The check, with the dose per kg, its signed relative deviation and a message.

    Raises:
        InputError: ``cells_administered`` or ``weight_kg`` is not a positive number (the field is the
            item code of the protocol's ``cells`` or ``weight`` intervention role).
    """
    roles = study.intervention_items
    cells = _positive(roles.cells, cells_administered)
    weight = _positive(roles.weight, weight_kg)
    intervention = study.intervention
    target = intervention.dose.value * units.conversion_factor(intervention.dose.unit, DOSE_UNIT)
    per_kg = cells / weight
    deviation = (per_kg - target) / target
    tolerance = intervention.dose_tolerance
    within = abs(deviation) <= tolerance + _EDGE
    percent = abs(deviation) * 100
    if round(percent, 1) == 0:
        where = "on the protocol dose"
    else:
        where = f"{percent:.1f} % {'above' if deviation > 0 else 'below'} the protocol dose"
    shown_tolerance = f"±{tolerance * 100:g} %"
    verdict = f"tolerance {shown_tolerance}" if within else f"outside the tolerance of {shown_tolerance}"
    per = units.display_unit(DOSE_UNIT)
    message = f"{format_cells(per_kg)} {per}, {where} of {format_cells(target)} {per} ({verdict})"
    return DoseCheck(cells, weight, per_kg, target, deviation, within, message)
