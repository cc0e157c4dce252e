"""Kidney function: Cockcroft-Gault creatinine clearance and CKD-EPI 2021 eGFR.

Cockcroft-Gault (Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum creatinine.
Nephron 1976;16:31-41):

    CrCl [mL/min] = (140 - age [years]) x weight [kg] / (72 x SCr [mg/dL])   (x 0.85 for women)

with actual body weight and no normalisation to 1.73 m2. It lets the exclusion "creatinine
clearance < 20 mL/min" be derived when clearance was not measured.

CKD-EPI 2021, race-free (Inker LA et al. New creatinine- and cystatin C-based equations to estimate
GFR without race. N Engl J Med 2021;385:1737-49):

    eGFR [mL/min/1.73 m2] = 142 x min(SCr/k, 1)^a x max(SCr/k, 1)^-1.200 x 0.9938^age x 1.012 [women]
    k = 0.7 (women), 0.9 (men); a = -0.241 (women), -0.302 (men); SCr in mg/dL (IDMS-traceable)

Creatinine in umol/L is converted with the molar mass 113.12 g/mol (1 mg/dL = 88.4 umol/L).

Missing data: every input is required; with one missing the result is not computable.

Worked examples (shared/domain.md §8, hand-computed): CrCl for a man of 60 years, 72 kg, SCr
1.0 mg/dL is 80.0 mL/min (68.0 for a woman); eGFR for a man of 55 years, SCr 1.2 mg/dL is
71.4 mL/min/1.73 m2 (the National Kidney Foundation calculator shows 71).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rodnan.core import units
from rodnan.core.instruments.base import FloatArray, InputDoc, InstrumentDef, Score, choice_input, number_input
from rodnan.errors import InputError

CREATININE_G_PER_MOL = 113.12  # C4H7N3O; 1 mg/dL = 88.40 umol/L
CG_SOURCE = "Cockcroft DW, Gault MH. Nephron 1976;16:31-41"
CG_CONSTANT = 72  # Cockcroft & Gault 1976
CG_FEMALE_FACTOR = 0.85  # Cockcroft & Gault 1976
CKD_EPI_SOURCE = "Inker LA et al. N Engl J Med 2021;385:1737-49 (CKD-EPI 2021, race-free)"
CKD_EPI_2021 = {  # sex: (kappa, alpha, sex factor); Inker 2021, Table/Supplement
    "female": (0.7, -0.241, 1.012),
    "male": (0.9, -0.302, 1.0),
}
CKD_EPI_BASE = 142.0
CKD_EPI_HIGH_EXPONENT = -1.200
CKD_EPI_AGE_BASE = 0.9938
SEXES = ("female", "male")


@dataclass(frozen=True)
class KidneyResult:
    """A creatinine clearance or eGFR with the equation and the creatinine used."""

    value: float
    unit: str
    equation: str
    creatinine_mg_dl: float


def _creatinine_mg_dl(creatinine: float, unit: str) -> float:
    if creatinine <= 0:
        raise InputError("creatinine", "must be above 0", creatinine)
    try:
        return units.convert(creatinine, unit, "mg/dL", CREATININE_G_PER_MOL)
    except InputError as exc:
        raise InputError("creatinine_unit", f"must be a creatinine concentration unit ({exc.rule})", unit) from None


def _check(age_years: float, sex: str, weight_kg: float | None = None) -> None:
    if not 18 <= age_years <= 120:
        raise InputError("age", "must be from 18 to 120 years (adult equations)", age_years)
    if sex not in SEXES:
        raise InputError("sex", "must be female or male", sex)
    if weight_kg is not None and not 20 <= weight_kg <= 300:
        raise InputError("weight", "must be from 20 to 300 kg", weight_kg)


def compute_crcl_cockcroft_gault(
    age_years: float, weight_kg: float, creatinine: float, sex: str, creatinine_unit: str = "umol/L"
) -> KidneyResult:
    """Creatinine clearance by Cockcroft-Gault, in mL/min (see the module docstring).

    Args:
        age_years: age in years (18-120).
        weight_kg: actual body weight in kg.
        creatinine: serum creatinine, in ``creatinine_unit``.
        sex: ``female`` or ``male``.
        creatinine_unit: UCUM unit of the creatinine (umol/L, mg/dL, mmol/L).

    Raises:
        InputError: a value outside its range or a unit that is not a creatinine concentration.
    """
    _check(age_years, sex, weight_kg)
    scr = _creatinine_mg_dl(creatinine, creatinine_unit)
    value = (140 - age_years) * weight_kg / (CG_CONSTANT * scr)
    if sex == "female":
        value *= CG_FEMALE_FACTOR
    return KidneyResult(value, "mL/min", "Cockcroft-Gault 1976", scr)


def compute_egfr_ckd_epi_2021(age_years: float, creatinine: float, sex: str, creatinine_unit: str = "umol/L") -> KidneyResult:
    """eGFR by the race-free CKD-EPI 2021 creatinine equation, in mL/min/1.73 m2.

    Raises:
        InputError: a value outside its range or a unit that is not a creatinine concentration.
    """
    _check(age_years, sex)
    scr = _creatinine_mg_dl(creatinine, creatinine_unit)
    kappa, alpha, sex_factor = CKD_EPI_2021[sex]
    ratio = scr / kappa
    value = (
        CKD_EPI_BASE * min(ratio, 1) ** alpha * max(ratio, 1) ** CKD_EPI_HIGH_EXPONENT * CKD_EPI_AGE_BASE**age_years * sex_factor
    )
    return KidneyResult(value, "mL/min/{1.73_m2}", "CKD-EPI 2021", scr)


def _inputs(answers: Mapping[str, object], names: tuple[str, ...]) -> tuple[dict[str, float | str], tuple[str, ...]]:
    values: dict[str, float | str] = {}
    for name in names:
        value = choice_input(answers, name, SEXES) if name == "sex" else number_input(answers, name)
        if value is not None:
            values[name] = value
    return values, tuple(n for n in names if n not in values)


def _score_cg(answers: Mapping[str, object], options: Mapping[str, str]) -> Score:
    values, missing = _inputs(answers, ("age", "weight", "creatinine", "sex"))
    if missing:
        notes = (f"not computable: {', '.join(missing)} missing (every input is required)",)
        return Score("cockcroft_gault", None, missing=missing, notes=notes, source=CG_SOURCE, version="Cockcroft-Gault 1976")
    result = compute_crcl_cockcroft_gault(
        float(values["age"]), float(values["weight"]), float(values["creatinine"]), str(values["sex"]), options["creatinine_unit"]
    )
    return Score(
        "cockcroft_gault", result.value, {"creatinine_mg_dl": result.creatinine_mg_dl}, result.equation, source=CG_SOURCE
    )


def _score_ckd_epi(answers: Mapping[str, object], options: Mapping[str, str]) -> Score:
    values, missing = _inputs(answers, ("age", "creatinine", "sex"))
    if missing:
        notes = (f"not computable: {', '.join(missing)} missing (every input is required)",)
        return Score("ckd_epi_2021", None, missing=missing, notes=notes, source=CKD_EPI_SOURCE, version="CKD-EPI 2021")
    result = compute_egfr_ckd_epi_2021(
        float(values["age"]), float(values["creatinine"]), str(values["sex"]), options["creatinine_unit"]
    )
    return Score(
        "ckd_epi_2021", result.value, {"creatinine_mg_dl": result.creatinine_mg_dl}, result.equation, source=CKD_EPI_SOURCE
    )


def _cg_columns(columns: Mapping[str, FloatArray], options: Mapping[str, str], n: int) -> FloatArray:
    nan = np.full(n, np.nan)
    age, weight, sex = columns.get("age", nan), columns.get("weight", nan), columns.get("sex", nan)
    scr = columns.get("creatinine", nan) * units.conversion_factor(options["creatinine_unit"], "mg/dL", CREATININE_G_PER_MOL)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = (140 - age) * weight / (CG_CONSTANT * scr) * np.where(sex == SEXES.index("female"), CG_FEMALE_FACTOR, 1.0)
        valid = (age >= 18) & (age <= 120) & (weight >= 20) & (weight <= 300) & (scr > 0) & ~np.isnan(sex)  # as the scalar form
    return np.where(valid, value, np.nan)


_CREATININE_UNITS = ("umol/L", "mg/dL", "mmol/L")
_COMMON = (
    InputDoc("age", "age in years", unit="a"),
    InputDoc("creatinine", "serum creatinine (unit: option creatinine_unit, default umol/L)", unit="umol/L"),
    InputDoc("sex", "female or male", kind="choice", choices=SEXES),
)

COCKCROFT_GAULT = InstrumentDef(
    code="cockcroft_gault",
    title="Creatinine clearance, Cockcroft-Gault (mL/min)",
    source=CG_SOURCE,
    inputs=(*_COMMON, InputDoc("weight", "actual body weight in kg", unit="kg")),
    score=_score_cg,
    options={"creatinine_unit": _CREATININE_UNITS},
    default_options={"creatinine_unit": "umol/L"},
    columns=_cg_columns,
)

CKD_EPI = InstrumentDef(
    code="ckd_epi_2021",
    title="eGFR, CKD-EPI 2021 race-free (mL/min/1.73 m2)",
    source=CKD_EPI_SOURCE,
    inputs=_COMMON,
    score=_score_ckd_epi,
    options={"creatinine_unit": _CREATININE_UNITS},
    default_options={"creatinine_unit": "umol/L"},
)

INSTRUMENTS = (COCKCROFT_GAULT, CKD_EPI)
