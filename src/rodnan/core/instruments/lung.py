"""Lung function: % predicted, z-score and lower limit of normal (LLN) by the GLI reference equations.

Sources:

* GLI-2012 spirometry, FEV1 and FVC, five ethnic groups, 3-95 years: Quanjer PH, Stanojevic S, Cole TJ,
  et al. Multi-ethnic reference values for spirometry for the 3-95-yr age range: the global lung function
  2012 equations. Eur Respir J 2012;40:1324-43.
* GLI Global 2022, race-neutral FEV1 and FVC, 3-95 years: Bowerman C, Bhakta NR, Brazzale D, et al. A
  race-neutral approach to the interpretation of lung function measurements. Am J Respir Crit Care Med
  2023;207:768-74.
* GLI-2017 transfer factor (TLCO = DLCO), Caucasians, 5-90 years in the lookup table: Stanojevic S,
  Graham BL, Cooper BG, et al. Eur Respir J 2017;50:1700010, with the erratum Eur Respir J
  2020;56:1750010.
* GLI-2021 static lung volumes, slow vital capacity (VC), European ancestry, 5-80 years: Hall GL,
  Filipow N, Ruppel G, et al. Eur Respir J 2021;57:2000289 (Table 3).

Formula (LMS method; every equation gives the median M, the skewness L and the coefficient of
variation S for a person's sex, age in years and height in cm):

    M = exp(a0 + a1*ln(height) + a2*ln(age) + ethnic term + Mspline(age))
    S = exp(p0 + p1*ln(age) + ethnic term + Sspline(age))
    L = q0 + q1*ln(age) + Lspline(age)
    (GLI-2021 VC: age enters M and S linearly, M = exp(a0 + a1*age + a2*ln(height) + Mspline),
     S = exp(p0 + p1*age), L constant.)

    % predicted = 100 * value / M
    z           = ((value / M)^L - 1) / (L * S)
    LLN         = M * (1 - 1.645 * L * S)^(1/L)      (5th percentile)

The splines are tabulated every 0.25 year and interpolated linearly between rows; at whole and quarter
ages the table row is used as is. The ethnic terms exist only in GLI-2012.

Data: the regression coefficients are the constants below (checked against the papers' tables as
reproduced in shared/domain.md §7, rspiro and pyspiro). The spline lookup tables are read from the CSV
files that the MIT-licensed pyspiro package ships (``pyspiro/data``): full-precision copies of the ERJ
online-supplement workbooks. Only the data are used, never pyspiro's code, and every file is checked
against a SHA-256 digest so a changed table fails loudly instead of changing results.

Units: FEV1, FVC and VC in L (mL accepted). DLCO in mmol/min/kPa (SI) or mL/min/mm[Hg]
(traditional). The GLI-2017 equation is computed in SI; a traditional value is divided by 2.987, and M
and LLN are reported back in the unit given. 2.987 is not a pure unit conversion: turning mmol of CO into
mL needs the molar volume of a gas at STPD (about 22.4 L/mol), and kPa into mmHg needs 7.5006. GLI's
own traditional-unit intercept encodes the factor: exp(-7.034920 + 8.129189) = 2.987.

Missing data: no imputation; value, unit, age, sex and height are all required, otherwise the result
is "not computable" and the missing inputs are named. Age outside the equation's range and height
outside 80-250 cm (a plausibility guard against unit errors; GLI publishes no height limit) are errors.

Worked example (shared/domain.md §7.2): a woman of 45 years, 160 cm, FVC 2.5 L. With GLI-2012 North-East
Asian: M = 3.3613 L, 74.38 % predicted, z = -2.437, LLN = 2.775 L. With South-East Asian the same
FVC is 84.3 % predicted: the ethnic group moves % predicted by about ten points.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path

from rodnan.core.instruments.base import InputDoc, InstrumentDef, Score, choice_input, is_missing, number_input
from rodnan.errors import InputError, UnitError

EQUATIONS = ("gli2012", "gli_global_2022", "gli2017", "gli2021")
MEASURES = ("fvc", "fev1", "vc", "dlco")
ETHNICITIES = ("caucasian", "african_american", "ne_asian", "se_asian", "other")  # GLI-2012 groups 1-5 (Quanjer 2012)
SEXES = ("female", "male")
VOLUME_UNITS = ("L", "mL")
DLCO_UNITS = ("mmol/min/kPa", "mL/min/mm[Hg]")
UNITS = (*VOLUME_UNITS, *DLCO_UNITS)

Z_LLN = 1.645  # the 5th percentile of the standard normal; GLI's LLN (Quanjer 2012)
SPLINE_STEP_YEARS = 0.25  # GLI lookup tables have one row every quarter year
ML_PER_L = 1000.0
# 1 mmol/min/kPa = 2.987 mL/min/mmHg: exp(a0 traditional - a0 SI) = exp(-7.034920 + 8.129189), Stanojevic 2017 (domain.md §7.4).
# Not a pure unit conversion: mmol -> mL uses the molar volume of a gas at STPD.
DLCO_TRADITIONAL_PER_SI = 2.987
HEIGHT_RANGE_CM = (80.0, 250.0)  # plausibility guard (catches metres and inches); GLI publishes no height limit

_ETHNIC_INDEX = {"african_american": 0, "ne_asian": 1, "se_asian": 2, "other": 3}  # Caucasian is the reference group
_GROUP_LABELS = {
    "race_neutral": "race-neutral",
    "european_ancestry": "European ancestry",
    "caucasian": "Caucasian",
    "african_american": "African-American",
    "ne_asian": "North-East Asian",
    "se_asian": "South-East Asian",
    "other": "other/mixed",
}


@dataclass(frozen=True)
class _Curve:
    """The LMS coefficients of one measure for one sex in one GLI equation."""

    a0: float
    a_height: float  # times ln(height in cm)
    a_age: float  # times ln(age), or times age when age_is_linear
    p0: float
    p_age: float  # times ln(age), or times age when age_is_linear
    q0: float
    q_age: float = 0.0  # times ln(age)
    m_ethnic: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # African-American, NE Asian, SE Asian, other
    s_ethnic: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    age_is_linear: bool = False
    has_s_spline: bool = True


# GLI-2012 (Quanjer 2012): a0-a6, p0-p5, q0-q1 as in domain.md §7.2, identical in rspiro data-raw/RLookupTable.csv
# and pyspiro data/gli_2012_coefficients.csv.
# fmt: off
GLI_2012_CURVES: Mapping[tuple[str, str], _Curve] = {
    # a0, a1 (ln height), a2 (ln age), p0, p1 (ln age), q0, q1 (ln age),
    # then a3-a6 and p2-p5 for African-American, NE Asian, SE Asian, other/mixed
    ("fvc", "male"):    _Curve(-11.2281, 2.4135, 0.0865, -2.2963, 0.0718, 0.9481, 0.0,
                               (-0.1684, -0.0405, -0.1177, -0.0825), (0.0794, -0.4600, 0.0325, -0.0503)),
    ("fvc", "female"):  _Curve(-10.4030, 2.2633, 0.0234, -2.3549, 0.1017, 0.8236, 0.0,
                               (-0.1555, -0.0262, -0.1516, -0.0833), (0.0810, -0.1809, 0.0459, -0.0503)),
    ("fev1", "male"):   _Curve(-10.3420, 2.2196, 0.0574, -2.3268, 0.0798, 0.8866, 0.085,
                               (-0.1589, -0.0351, -0.0881, -0.0708), (0.1096, -0.3973, 0.0327, 0.0114)),
    ("fev1", "female"): _Curve(-9.6987, 2.1211, -0.0270, -2.3765, 0.0972, 1.1540, 0.0,
                               (-0.1484, -0.0149, -0.1208, -0.0708), (0.1016, -0.0109, 0.0733, 0.0114)),
}
# fmt: on

# GLI Global 2022 (Bowerman 2023), race-neutral; L constant for FEV1 and FVC. domain.md §7.3 (official lookup
# workbook gli_global_lookuptables_dec6.xlsx), identical in pyspiro data/bowerman_2022_coefficients.csv.
GLI_GLOBAL_2022_CURVES: Mapping[tuple[str, str], _Curve] = {
    ("fvc", "male"): _Curve(-12.629131, 2.727421, 0.009174, -2.195595, 0.068466, 0.9346),
    ("fvc", "female"): _Curve(-12.055901, 2.621579, -0.035975, -2.310148, 0.120428, 0.899),
    ("fev1", "male"): _Curve(-11.399108, 2.462664, -0.011394, -2.256278, 0.080729, 1.22703),
    ("fev1", "female"): _Curve(-10.901689, 2.385928, -0.076386, -2.364047, 0.129402, 1.21388),
}

# GLI-2017 TLCO in SI units (Stanojevic 2017 with the 2020 erratum); L constant. domain.md §7.4, identical in
# rspiro R/getLMS_GLIdiff.R and pyspiro data/gli_2017_coefficients.csv.
GLI_2017_CURVES: Mapping[tuple[str, str], _Curve] = {
    ("dlco", "male"): _Curve(-8.129189, 2.018368, -0.012425, -1.98996, 0.03536, 0.39482),
    ("dlco", "female"): _Curve(-6.253720, 1.618697, -0.015390, -1.82905, -0.01815, 0.24160),
}

# GLI-2021 VC (Hall 2021, Table 3): age linear in M and S, no S spline, L constant. pyspiro
# data/gli_2021_coefficients.csv (a1 = age, a2 = ln height there).
GLI_2021_CURVES: Mapping[tuple[str, str], _Curve] = {
    ("vc", "male"): _Curve(
        -10.134371, 2.307980, -0.003532, -2.1367411, 0.0009367, 0.8611, age_is_linear=True, has_s_spline=False
    ),
    ("vc", "female"): _Curve(-9.230600, 2.116822, -0.005517, -2.220260, 0.002956, 1.038, age_is_linear=True, has_s_spline=False),
}


@dataclass(frozen=True)
class _EquationDef:
    """One GLI equation: its curves, spline table, age range and reference population."""

    label: str
    source: str
    curves: Mapping[tuple[str, str], _Curve]
    spline_file: str
    spline_sha256: str
    spline_names: Mapping[str, str]  # measure -> column prefix in the spline table
    age_range: tuple[float, float]
    population: str  # the group reported when the equation has no ethnic groups
    has_ethnic_groups: bool = False


EQUATION_DEFS: Mapping[str, _EquationDef] = {
    "gli2012": _EquationDef(
        label="GLI-2012",
        source="Quanjer PH et al. Eur Respir J 2012;40:1324-43 (GLI-2012)",
        curves=GLI_2012_CURVES,
        spline_file="gli_2012_splines.csv",
        spline_sha256="dc2de2a774fe0dfbcf354abaa15ee8054623d413a1153e8eb37fafb3a8f22389",  # pyspiro 1.0.0
        spline_names={"fvc": "FVC", "fev1": "FEV1"},
        age_range=(3.0, 95.0),  # Quanjer 2012
        population="",
        has_ethnic_groups=True,
    ),
    "gli_global_2022": _EquationDef(
        label="GLI Global 2022",
        source="Bowerman C et al. Am J Respir Crit Care Med 2023;207:768-74 (GLI Global 2022, race-neutral)",
        curves=GLI_GLOBAL_2022_CURVES,
        spline_file="bowerman_2022_splines.csv",
        spline_sha256="ab38d8933f090f84a402f9096dcd3dc73301b4200aff91635f17b8ab5e8faa7e",  # pyspiro 1.0.0
        spline_names={"fvc": "FVC", "fev1": "FEV1"},
        age_range=(3.0, 95.0),  # lookup workbook, domain.md §7.3
        population="race_neutral",
    ),
    "gli2017": _EquationDef(
        label="GLI-2017 TLCO",
        source="Stanojevic S et al. Eur Respir J 2017;50:1700010; erratum 2020;56:1750010 (GLI-2017 TLCO)",
        curves=GLI_2017_CURVES,
        spline_file="gli_2017_splines.csv",
        spline_sha256="48e7a15ae47847d99af86e5d48ac3cb5139196c17eed5cc0887c0b36e44d8788",  # pyspiro 1.0.0
        spline_names={"dlco": "TLCO"},
        age_range=(5.0, 90.0),  # the lookup table (rspiro and pyspiro accept 5-90; the paper's 5-85 is unverified)
        population="caucasian",
    ),
    "gli2021": _EquationDef(
        label="GLI-2021 static lung volumes",
        source="Hall GL et al. Eur Respir J 2021;57:2000289 (GLI-2021 static lung volumes, Table 3)",
        curves=GLI_2021_CURVES,
        spline_file="gli_2021_splines.csv",
        spline_sha256="0702e020a24202e8783ac8d2aa45b8f0563b6b286399052072883988932d3977",  # pyspiro 1.0.0
        spline_names={"vc": "VC"},
        age_range=(5.0, 80.0),  # Hall 2021
        population="european_ancestry",
    ),
}

SOURCE = "; ".join(d.source for d in EQUATION_DEFS.values()) + "; lookup tables as shipped in pyspiro 1.0.0 (MIT)"


@dataclass(frozen=True)
class LungResult:
    """A lung-function value against its GLI reference: % predicted, z-score and LLN, with the inputs.

    ``predicted`` (M) and ``lln`` are in ``unit``, the unit the value was given in. ``lms_l`` and
    ``lms_s`` are the LMS skewness L and coefficient of variation S.
    """

    percent_predicted: float
    predicted: float
    z: float
    lln: float
    lms_l: float
    lms_s: float
    equation: str
    group: str
    version: str
    measure: str
    value: float
    unit: str
    age_years: float
    sex: str
    height_cm: float


@dataclass(frozen=True)
class _SplineTable:
    first_age: float
    columns: Mapping[str, tuple[float | None, ...]]


def _data_dir() -> Path:
    """pyspiro's data folder, found without importing (running) pyspiro itself."""
    spec = find_spec("pyspiro")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("pyspiro is not installed: rodnan reads the GLI lookup tables it ships", name="pyspiro")
    return Path(spec.origin).parent / "data"


@cache
def _spline_table(file_name: str, sha256: str) -> _SplineTable:
    """Read one lookup table (``;``-separated, a row every 0.25 year) after checking its digest."""
    raw = (_data_dir() / file_name).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise RuntimeError(f"pyspiro's {file_name} has SHA-256 {digest}, not the validated {sha256}: re-validate before use")
    rows = list(csv.DictReader(io.StringIO(raw.decode("ascii")), delimiter=";"))
    ages = [float(row["age"]) for row in rows]
    for index, age in enumerate(ages):
        if not math.isclose(age, ages[0] + index * SPLINE_STEP_YEARS):
            raise RuntimeError(f"pyspiro's {file_name}: age {age} breaks the 0.25-year steps")
    names = [name for name in rows[0] if name and name != "age"]
    columns = {name: tuple(float(row[name]) if row[name] else None for row in rows) for name in names}
    return _SplineTable(ages[0], columns)


def _spline(table: _SplineTable, column: str, age: float) -> float:
    """The spline value at ``age``, interpolated linearly between the quarter-year rows."""
    values = table.columns[column]
    position = (age - table.first_age) / SPLINE_STEP_YEARS
    lower = math.floor(round(position, 9))
    weight = position - lower
    low = values[lower]
    high = low if weight < 1e-9 else values[lower + 1]
    if low is None or high is None:
        raise RuntimeError(f"lookup table column {column} has no value at age {age}")
    return low + weight * (high - low)


def _check_inputs(measure: str, equation: str, ethnicity: str | None) -> _EquationDef:
    if equation not in EQUATION_DEFS:
        raise InputError("equation", f"must be one of {', '.join(EQUATIONS)}", equation)
    definition = EQUATION_DEFS[equation]
    if measure not in MEASURES:
        raise InputError("measure", f"must be one of {', '.join(MEASURES)}", measure)
    if measure not in definition.spline_names:
        raise InputError("measure", f"{definition.label} covers {', '.join(definition.spline_names)} only", measure)
    if ethnicity is not None and ethnicity not in ETHNICITIES:
        raise InputError("ethnicity", f"must be one of {', '.join(ETHNICITIES)}", ethnicity)
    if definition.has_ethnic_groups and ethnicity is None:
        raise InputError("ethnicity", f"is required by {definition.label} (one of {', '.join(ETHNICITIES)})")
    if not definition.has_ethnic_groups and ethnicity is not None:
        raise InputError("ethnicity", f"only GLI-2012 has ethnic groups; {definition.label} has none", ethnicity)
    return definition


def _version(definition: _EquationDef, measure: str, group: str) -> str:
    shown = _GROUP_LABELS.get(group, group)
    return f"{definition.label}, {shown}, {measure.upper()}"


def _unit_factor(measure: str, unit: str) -> float:
    """How many ``unit`` make one of the equation's unit (L, or mmol/min/kPa for DLCO)."""
    allowed = DLCO_UNITS if measure == "dlco" else VOLUME_UNITS
    if unit not in allowed:
        raise UnitError("unit", f"{measure} must be in {' or '.join(allowed)}", unit)
    return {"mL": ML_PER_L, "mL/min/mm[Hg]": DLCO_TRADITIONAL_PER_SI}.get(unit, 1.0)


def _lms(
    definition: _EquationDef, curve: _Curve, column: str, age: float, height_cm: float, ethnicity: str | None
) -> tuple[float, float, float]:
    table = _spline_table(definition.spline_file, definition.spline_sha256)
    age_term = age if curve.age_is_linear else math.log(age)
    m_ethnic = s_ethnic = 0.0
    if ethnicity in _ETHNIC_INDEX:
        m_ethnic = curve.m_ethnic[_ETHNIC_INDEX[ethnicity]]
        s_ethnic = curve.s_ethnic[_ETHNIC_INDEX[ethnicity]]
    m = math.exp(
        curve.a0
        + curve.a_height * math.log(height_cm)
        + curve.a_age * age_term
        + m_ethnic
        + _spline(table, f"{column}_Mspline", age)
    )
    s_spline = _spline(table, f"{column}_Sspline", age) if curve.has_s_spline else 0.0
    s = math.exp(curve.p0 + curve.p_age * age_term + s_ethnic + s_spline)
    lms_l = curve.q0 + curve.q_age * math.log(age) + _spline(table, f"{column}_Lspline", age)
    return lms_l, m, s


def compute_lung_pct_predicted(
    measure: str,
    value: float,
    unit: str,
    age_years: float,
    sex: str,
    height_cm: float,
    equation: str,
    ethnicity: str | None = None,
) -> LungResult:
    """% predicted, z-score and LLN of one lung-function value by a GLI equation (see the module docstring).

    Args:
        measure: ``fvc``, ``fev1`` (gli2012, gli_global_2022), ``vc`` (gli2021) or ``dlco`` (gli2017).
        value: the measured value, above 0, in ``unit``.
        unit: UCUM unit: ``L`` or ``mL`` for volumes; ``mmol/min/kPa`` or ``mL/min/mm[Hg]`` for DLCO.
        age_years: age in years, within the equation's range (gli2012 and gli_global_2022 3-95,
            gli2017 5-90, gli2021 5-80).
        sex: ``female`` or ``male``.
        height_cm: standing height in cm (80-250).
        equation: ``gli2012``, ``gli_global_2022``, ``gli2017`` or ``gli2021``.
        ethnicity: the GLI-2012 group (``caucasian``, ``african_american``, ``ne_asian``, ``se_asian``,
            ``other``); required for gli2012 and refused by the others, which have no groups.

    Returns:
        The % predicted, predicted (M) and LLN in ``unit``, z-score, L and S, and the inputs.

    Raises:
        InputError: an unknown equation, measure or ethnic group, a measure the equation does not cover,
            a missing or superfluous ethnic group, a value not above 0, an unknown sex, or age or height
            outside the range (the message gives the range).
        UnitError: a unit that is not one of the accepted units for the measure.
    """
    definition = _check_inputs(measure, equation, ethnicity)
    if sex not in SEXES:
        raise InputError("sex", "must be female or male", sex)
    if not value > 0:
        raise InputError("value", "must be above 0", value)
    factor = _unit_factor(measure, unit)
    reference_value = value / factor
    low_age, high_age = definition.age_range
    if not low_age <= age_years <= high_age:
        raise InputError("age", f"must be from {low_age:g} to {high_age:g} years for {definition.label}", age_years)
    low_height, high_height = HEIGHT_RANGE_CM
    if not low_height <= height_cm <= high_height:
        raise InputError("height", f"must be from {low_height:g} to {high_height:g} cm", height_cm)

    curve = definition.curves[(measure, sex)]
    column = f"{definition.spline_names[measure]}_{sex}s"
    lms_l, m, s = _lms(definition, curve, column, age_years, height_cm, ethnicity)
    z = ((reference_value / m) ** lms_l - 1) / (lms_l * s)
    lln = m * (1 - Z_LLN * lms_l * s) ** (1 / lms_l)
    group = ethnicity if ethnicity is not None else definition.population
    return LungResult(
        percent_predicted=100 * reference_value / m,
        predicted=m * factor,
        z=z,
        lln=lln * factor,
        lms_l=lms_l,
        lms_s=s,
        equation=equation,
        group=group,
        version=_version(definition, measure, group),
        measure=measure,
        value=value,
        unit=unit,
        age_years=age_years,
        sex=sex,
        height_cm=height_cm,
    )


def _unit_input(answers: Mapping[str, object]) -> str | None:
    """The unit answer (UCUM is case-sensitive: ``mL``, not ``ML``), or None when missing."""
    value = answers.get("unit")
    if is_missing(value):
        return None
    text = str(value).strip()
    if text not in UNITS:
        raise UnitError("unit", f"must be one of {', '.join(UNITS)}", value)
    return text


def _score(answers: Mapping[str, object], options: Mapping[str, str]) -> Score:
    equation, measure = options["equation"], options["measure"]
    ethnicity = options["ethnicity"] if equation == "gli2012" else None  # the other equations have no groups
    definition = _check_inputs(measure, equation, ethnicity)
    value = number_input(answers, "value")
    unit = _unit_input(answers)
    age = number_input(answers, "age")
    sex = choice_input(answers, "sex", SEXES)
    height = number_input(answers, "height")
    if value is None or unit is None or age is None or sex is None or height is None:
        given = {"value": value, "unit": unit, "age": age, "sex": sex, "height": height}
        missing = tuple(code for code, v in given.items() if v is None)
        group = ethnicity if ethnicity is not None else definition.population
        notes = (f"not computable: {', '.join(missing)} missing (every input is required)",)
        return Score(
            "lung", None, missing=missing, notes=notes, version=_version(definition, measure, group), source=definition.source
        )
    result = compute_lung_pct_predicted(measure, value, unit, age, sex, height, equation, ethnicity)
    subscores: dict[str, float | str | None] = {
        "predicted": result.predicted,
        "z": result.z,
        "lln": result.lln,
        "L": result.lms_l,
        "S": result.lms_s,
        "unit": result.unit,
    }
    return Score("lung", result.percent_predicted, subscores, version=result.version, source=definition.source)


INSTRUMENT = InstrumentDef(
    code="lung",
    title="Lung function % predicted, z-score and LLN (GLI)",
    source=SOURCE,
    inputs=(
        InputDoc("value", "measured FVC, FEV1 or VC (L or mL), or DLCO (mmol/min/kPa or mL/min/mm[Hg])", required=True),
        InputDoc("unit", "UCUM unit of the value", kind="choice", choices=UNITS, required=True),
        InputDoc("age", "age in years", unit="a", required=True),
        InputDoc("sex", "female or male", kind="choice", choices=SEXES, required=True),
        InputDoc("height", "standing height in cm", unit="cm", required=True),
    ),
    score=_score,
    options={"equation": EQUATIONS, "measure": MEASURES, "ethnicity": ETHNICITIES},
    default_options={"equation": "gli2012", "measure": "fvc", "ethnicity": "ne_asian"},
)
