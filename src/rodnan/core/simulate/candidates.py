"""Simulated screening pools: made-up candidates, each with the verdict its generator intended.

Every candidate is built for one scenario, and the scenario fixes the verdict ``rodnan screen`` must
give (issue #4):

* ``pathway:P``: eligible through exactly the pathway P (ACR criteria met, the other pathways
  clearly not met, no exclusion);
* ``exclusion:E``: ineligible by exactly the exclusion E, with one qualifying pathway;
* ``no_pathway``: ineligible, ACR criteria met but every pathway clearly not met;
* ``acr_not_met``: ineligible, one pathway met but the ACR (1980 ARA) criteria not fulfilled;
* ``missing:ITEM``: incomplete, and ITEM is the one value that keeps the verdict open (an item read by
  an exclusion or the ACR criterion for an otherwise eligible candidate; a pathway item on which its
  pathway hinges for a candidate with no other pathway).

The thresholds are the protocol's: they are read from the criteria's expressions and converted to
the item's unit; every value on the deciding side of a threshold keeps :data:`MARGIN` (2 % of the
threshold) from it, so rounding and unit conversion cannot flip a verdict. Units and plausible
ranges come from the items. Which item a scenario pushes across which threshold is this module's
table (:data:`STATES`, :data:`EXCLUSION_STATE`), written for the four pathways of NCT00962923.

Values are those of an SSc screening population at a Chinese hospital, in the units its laboratory
reports (haemoglobin and albumin in g/L, creatinine in µmol/L, platelets in 10^9/L). A wide CSV has
one unit per column, so the alternative units are exercised by writing a few whole columns in the
item's first accepted unit (``hemoglobin [g/dL]``, ``creatinine [mg/dL]``), chosen at random at the
rate the parameters give. Values are left empty at random only where that cannot change the verdict.

Everything is drawn with numpy (``default_rng(seed)``), whole columns at a time, and written with a
fixed number of decimals, so the same seed and parameters give the same bytes.

Example::

    pool = simulate_candidates(load_protocol(), n=1000, seed=7)
    Path("pool.csv").write_text(candidates_csv_text(pool))   # then: rodnan screen pool.csv
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core.expr.parse import And, Call, Compare, Name, Node, Not, Number, Or, parse_expression
from rodnan.core.protocol.model import ItemDef, Study
from rodnan.core.units import conversion_factor
from rodnan.core.values import unit_factor
from rodnan.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]

# --- parameters -----------------------------------------------------------------------------------

ELIGIBLE_PREFIX = "eligible_"
EXCLUDED_PREFIX = "excluded_"


@dataclass(frozen=True)
class CandidateParams:
    """The mix of a simulated screening pool, as fractions of the candidates, and two rates.

    ``eligible_<pathway>`` and ``excluded_<exclusion>`` are named after the protocol's criterion
    codes. The fractions must sum to 1. The defaults are project estimates for the candidates a
    tertiary rheumatology centre in China would screen for a transplant trial in severe SSc; rare
    exclusions are over-represented on purpose so that every criterion is exercised.

    Raises:
        InputError: a fraction or rate outside [0, 1] or not a finite number, or fractions that do
            not sum to 1 (field, rule, value).
    """

    # eligible, through exactly one pathway
    eligible_rapidly_progressive: float = 0.08  # early diffuse disease with active inflammation (project estimate)
    eligible_lung: float = 0.18  # ILD, the commonest severe organ involvement, affects about half of dcSSc (approximate)
    eligible_digestive: float = 0.06  # severe GI involvement (weight loss, malnutrition) in under 10 % of SSc (approximate)
    eligible_kidney: float = 0.03  # renal involvement is uncommon outside scleroderma renal crisis (about 5 %, approximate)
    # ineligible by exactly one exclusion, each with one qualifying pathway
    excluded_arrhythmia: float = 0.01  # uncontrolled arrhythmia: rare in a screened population (project estimate)
    excluded_lvef_low: float = 0.01  # LVEF < 50 % in a few % of SSc, primary myocardial disease (approximate)
    excluded_mpap_high: float = 0.02  # severe PAH is a referral reason but excludes (project estimate)
    excluded_dlco_very_low: float = 0.04  # advanced ILD: the commonest screen failure among lung candidates
    excluded_crcl_low: float = 0.01  # advanced renal failure (project estimate)
    excluded_platelets_low: float = 0.01  # thrombocytopenia is uncommon in SSc (project estimate)
    excluded_cystitis: float = 0.005  # over-represented so it is exercised (follows cyclophosphamide only)
    excluded_hiv: float = 0.005  # over-represented so it is exercised (HIV prevalence in China is about 0.1 %)
    excluded_htlv1: float = 0.005  # over-represented so it is exercised (HTLV-1 is rare outside endemic areas)
    excluded_cancer: float = 0.02  # malignancy risk is raised in SSc (project estimate)
    excluded_pregnancy: float = 0.01  # women of child-bearing age are most SSc patients (project estimate)
    excluded_prosthesis_present: float = 0.01  # valve or vascular prosthesis (project estimate)
    excluded_no_vascular_access: float = 0.005  # digital ischaemia and failed lines (project estimate)
    # ineligible without an exclusion
    no_pathway: float = 0.30  # referred for severe SSc but no pathway threshold reached (project estimate)
    acr_not_met: float = 0.06  # early or limited SSc not fulfilling the 1980 ARA criteria (project estimate)
    # incomplete: one deciding value missing; the item is drawn uniformly among the screening form's items
    incomplete: float = 0.13  # a lab result or test still pending at screening (project estimate)
    # rates
    missing_rate: float = 0.05  # chance that a value which cannot change the verdict is left empty (project estimate)
    alternative_unit_rate: float = 0.3  # share of the columns with an alternative unit written in it (about 3 of 9)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise InputError(f.name, "must be a finite number", value)
            if not 0 <= value <= 1:
                raise InputError(f.name, "must be between 0 and 1", value)
        total = sum(self.fractions.values())
        if abs(total - 1) > 1e-9:
            raise InputError("fractions", "the scenario fractions must sum to 1", round(total, 12))

    @property
    def fractions(self) -> dict[str, float]:
        """The scenario fractions by field name (every field but the two rates)."""
        return {
            f.name: float(getattr(self, f.name)) for f in fields(self) if f.name not in ("missing_rate", "alternative_unit_rate")
        }


# --- the pool -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidatePool:
    """A simulated screening pool.

    Attributes:
        frame: one row per candidate, ready to be written as a wide screening CSV: ``subject_id``
            (``SIM-0000001``), then one column per item headed ``item [unit]`` (numbers) or ``item``
            (yes/no and choices). Every value is a string ('' when missing, 'yes'/'no'); each item
            column is a pandas Categorical of strings, so a million candidates take about 60 MB.
        intended_verdict: 'eligible', 'ineligible' or 'incomplete' for each row.
        intended_reason: the scenario of each row: 'pathway:lung', 'exclusion:platelets_low',
            'no_pathway', 'acr_not_met' or 'missing:hiv_positive'.
    """

    frame: pd.DataFrame
    intended_verdict: ObjectArray
    intended_reason: ObjectArray


# --- how values are drawn -------------------------------------------------------------------------

MARGIN = 0.02
"""Least distance of a deciding value from its threshold, as a fraction of the threshold (issue #4)."""

SUBJECT_PREFIX = "SIM-"
SUBJECT_DIGITS = 7
SCREENING_FORM = "screening"
DEMOGRAPHIC_ITEMS = ("sex", "age", "body_weight")  # feed the Cockcroft-Gault clearance and the pregnancy check

FEMALE_FRACTION = 0.80  # SSc affects women about 4-5 times as often as men (as SimulationParams.female_fraction)
AGE_YEARS = (45.0, 12.0, 18.0, 70.0)  # mean, sd, min, max: SSc screened in China is mostly 30-60 (project estimate)
CHILD_BEARING_AGE = (20.0, 42.0)  # age of the pregnant and of those whose pregnancy test is pending (project choice)
WEIGHT_KG = ((54.0, 64.0), 8.5, 35.0, 110.0)  # (female, male) mean, sd, min, max: Chinese adults, SSc a little lighter

# Cockcroft-Gault in SI units (domain.md §8.1): CrCl = (140 - age) x weight x 88.4/72 / SCr(umol/L), x 0.85 if female
CG_CONSTANT = 88.4 / 72
CG_FEMALE = 0.85
CLEARANCE_NOISE = (0.10, 0.25)  # sd and bound of log(measured / Cockcroft-Gault): a 24-h clearance scatters ~10 %
CREATININE_FOR_CLEARANCE = 25.0  # a kidney candidate's creatinine keeps its estimated clearance above this (mL/min)

DECIMALS: dict[str, int] = {
    "age": 0, "body_weight": 1, "disease_duration_months": 1, "mrss": 0, "esr": 0, "hemoglobin": 0,
    "vc_pct_pred": 0, "fvc_pct_pred": 0, "dlco_pct_pred": 0, "mpap_echo": 0, "albumin": 1, "weight_loss_12m_pct": 1,
    "urine_protein_24h": 2, "creatinine": 0, "lvef": 0, "creatinine_clearance": 1, "platelets": 0,
}  # fmt: skip
"""Decimals of each item in its own unit, as Chinese hospital reports print them (Hb g/L, creatinine umol/L
and platelets 10^9/L whole, albumin g/L to 0.1). A column in another unit gets as many more decimals as
the unit is larger, so it keeps the same precision."""

REJECTION_ROUNDS = 40
"""Redraws of a truncated normal before the last few values are taken uniform in their interval."""


@dataclass(frozen=True)
class _State:
    """A way an item's value is drawn: a normal truncated to an interval.

    ``sides`` are (criterion code, whether the criterion's comparison on this item holds); each one
    bounds the interval at the criterion's threshold, :data:`MARGIN` away on the chosen side. ``low``
    and ``high`` narrow the item's plausible range to what is realistic for this state.
    """

    sides: tuple[tuple[str, bool], ...]
    mean: float | tuple[float, float]  # (female, male) where the sexes differ
    sd: float
    low: float | None = None
    high: float | None = None


RP, LUNG, DIGESTIVE, KIDNEY = "rapidly_progressive", "lung", "digestive", "kidney"
PATHWAYS = (RP, LUNG, DIGESTIVE, KIDNEY)

# The first state of each item is its default (the side where no criterion is met). Means and sds are
# project estimates for SSc patients; Chinese adult reference intervals (WS/T 404-2012, WS/T 405-2012):
# Hb 115-150 (F) / 130-175 (M) g/L, albumin 40-55 g/L, creatinine about 41-81 (F) / 57-111 (M) umol/L,
# platelets 125-350 10^9/L.
STATES: dict[str, dict[str, _State]] = {
    "disease_duration_months": {
        "long": _State(((RP, False),), 70, 45, high=360),
        "short": _State(((RP, True),), 12, 6, low=1),
        "free": _State((), 45, 40, low=1, high=360),
    },
    "mrss": {
        "low": _State(((RP, False),), 11, 5, low=2),
        "high": _State(((RP, True),), 27, 5, high=45),
        "free": _State((), 16, 8, low=2, high=45),
    },
    "esr": {
        "low": _State(((RP, False),), 13, 6, low=2),
        "high": _State(((RP, True),), 45, 18, high=120),
        "free": _State((), 20, 14, low=2, high=120),
    },
    "hemoglobin": {
        "normal": _State(((RP, False),), (124, 138), 10, high=175),
        "low": _State(((RP, True),), (98, 101), 7, low=70),
        "free": _State((), (119, 132), 14, low=70, high=175),
    },
    "fvc_pct_pred": {
        "normal": _State(((LUNG, False),), 92, 12, high=135),
        "low": _State(((LUNG, True),), 56, 8, low=30),
    },
    "vc_pct_pred": {  # drawn around the same candidate's FVC + 3 (slow VC is a little larger than FVC)
        "normal": _State(((LUNG, False),), 95, 3, high=140),
        "free": _State((), 60, 3, low=30, high=140),
    },
    "dlco_pct_pred": {
        "normal": _State(((LUNG, False),), 85, 12, high=130),
        "low": _State(((LUNG, True), ("dlco_very_low", False)), 60, 6),
        "reduced": _State((("dlco_very_low", False),), 62, 10, high=110),
        "very_low": _State((("dlco_very_low", True),), 37, 5, low=15),
    },
    "mpap_echo": {
        "normal": _State(((LUNG, False),), 22, 5, low=10),
        "ph": _State(((LUNG, True), ("mpap_high", False)), 44.5, 2.5),
        "high": _State((("mpap_high", True),), 57, 6, high=80),
    },
    "albumin": {
        "normal": _State(((DIGESTIVE, False),), 38, 4.5, high=50),
        "low": _State(((DIGESTIVE, True),), 22.5, 1.5, low=18),
    },
    "weight_loss_12m_pct": {
        "normal": _State(((DIGESTIVE, False),), 1.5, 3.5, low=-10),
        "high": _State(((DIGESTIVE, True),), 14, 3.5, high=30),
    },
    "urine_protein_24h": {
        "normal": _State(((KIDNEY, False),), 0.12, 0.08, low=0.02),
        "high": _State(((KIDNEY, True),), 1.3, 0.9, high=6),
    },
    "creatinine": {
        "normal": _State(((KIDNEY, False),), (58, 75), 12, low=35),
        "high": _State(((KIDNEY, True),), 170, 45, high=1500),
    },
    "lvef": {
        "normal": _State((("lvef_low", False),), 63, 5, high=78),
        "low": _State((("lvef_low", True),), 43, 4, low=25),
    },
    "platelets": {
        "normal": _State((("platelets_low", False),), 230, 65, high=500),
        "low": _State((("platelets_low", True),), 64, 9, low=30),
    },
    "creatinine_clearance": {  # measured clearance: Cockcroft-Gault x noise (normal), or a drawn low value
        "normal": _State((("crcl_low", False),), 90, 25, high=250),
        "low": _State((("crcl_low", True),), 13, 3.5, low=6),
    },
}

EXCLUSION_STATE: dict[str, tuple[str, str]] = {
    "lvef_low": ("lvef", "low"),
    "mpap_high": ("mpap_echo", "high"),
    "dlco_very_low": ("dlco_pct_pred", "very_low"),
    "crcl_low": ("creatinine_clearance", "low"),
    "platelets_low": ("platelets", "low"),
}
"""The state that meets each numeric exclusion (the yes/no exclusions are read from their expressions)."""

FORCED_PATHWAY: dict[str, str] = {"mpap_high": LUNG, "dlco_very_low": LUNG, "crcl_low": KIDNEY}
"""Exclusions that imply a pathway: mPAP > 50 is > 40, DLCO < 45 % is < 70 %, and a clearance below
20 mL/min goes with a creatinine far above 120 umol/L."""

# How a met or failed pathway comes about (project estimates)
RP_MET_MODES = (0.55, 0.15, 0.30)  # ESR > 25, Hb < 11 g/dL, both
RP_FAIL_MODES = (0.60, 0.25, 0.15)  # disease too long, skin score too low, no inflammation
LUNG_MET_MODES = (0.55, 0.30, 0.15)  # ILD with low FVC, isolated low DLCO, pulmonary hypertension
DIGESTIVE_MET_MODES = (0.60, 0.25, 0.15)  # weight loss, low albumin, both
KIDNEY_MET_MODES = (0.60, 0.25, 0.15)  # proteinuria, raised creatinine, both

_ELIGIBLE, _EXCLUDED, _NO_PATHWAY, _ACR_NOT_MET, _INCOMPLETE = range(5)
_VERDICT_OF_KIND = ("eligible", "ineligible", "ineligible", "ineligible", "incomplete")


@dataclass(frozen=True)
class _Model:
    """What the simulator needs from the protocol, checked once."""

    items: dict[str, ItemDef]
    screening_items: tuple[str, ...]
    thresholds: dict[tuple[str, str], tuple[str, float]]  # (criterion, item) -> (op, threshold in the item's unit)
    acr_item: str
    exclusions: tuple[str, ...]
    exclusion_items: dict[str, frozenset[str]]
    boolean_exclusions: dict[str, tuple[str, bool]]  # code -> (item, the answer that meets it)
    pathway_items: dict[str, frozenset[str]]


@dataclass(frozen=True)
class _Scenario:
    reason: str
    kind: int
    pathway: int  # forced or intended pathway index, -1 for none / random
    exclusion: int  # index in _Model.exclusions, -1 for none
    missing: str  # item left empty, '' for none
    hinge: int  # pathway that the missing item keeps open, -1 for none
    fraction: float


# --- reading the protocol -------------------------------------------------------------------------


def _comparisons(node: Node, out: list[tuple[str, str, Number]], booleans: list[tuple[str, bool]], negated: bool = False) -> None:
    """Collect ``item op number`` comparisons and bare yes/no items of an expression tree."""
    if isinstance(node, Compare):
        left, op, right = node.left, node.op, node.right
        if isinstance(right, Name) and isinstance(left, Number):
            left, right, op = right, left, {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
        if isinstance(left, Name) and isinstance(right, Number):
            out.append((left.name, op, right))
    elif isinstance(node, Name):
        booleans.append((node.name, not negated))
    elif isinstance(node, Not):
        _comparisons(node.operand, out, booleans, not negated)
    elif isinstance(node, And | Or):
        for operand in node.operands:
            _comparisons(operand, out, booleans, negated)
    elif isinstance(node, Call):
        for arg in node.args:
            _comparisons(arg, out, booleans, negated)


def _read_model(study: Study) -> _Model:
    """Thresholds, items and criteria of the study, checked against what the simulator knows."""
    items = study.item_by_code
    form = study.form_by_code.get(SCREENING_FORM)
    if form is None:
        raise InputError("study", f"has no {SCREENING_FORM!r} form, which lists the items of a screening pool")
    thresholds: dict[tuple[str, str], tuple[str, float]] = {}
    boolean_exclusions: dict[str, tuple[str, bool]] = {}
    definitions = [*study.eligibility.pathways, *study.eligibility.exclusion]
    for definition in definitions:
        found: list[tuple[str, str, Number]] = []
        booleans: list[tuple[str, bool]] = []
        _comparisons(parse_expression(definition.expression), found, booleans)
        for code, op, number in found:
            item = items[code]
            assert item.unit is not None  # the loader allows comparisons with numbers only for numeric items
            factor = conversion_factor(number.unit or item.unit, item.unit, item.molar_mass_g_per_mol)
            thresholds[(definition.code, code)] = (op, number.value * factor)
        if definition in study.eligibility.exclusion and not found and len(booleans) == 1:
            boolean_exclusions[definition.code] = booleans[0]
    criteria = {c.code: c for c in study.criteria}
    pathway_items = {c.code: frozenset(c.expression.item_codes) for c in study.criteria if c.kind == "pathway"}
    if tuple(pathway_items) != PATHWAYS:
        raise InputError("study", f"the candidate simulator knows the pathways {', '.join(PATHWAYS)}", ", ".join(pathway_items))
    exclusions = tuple(d.code for d in study.eligibility.exclusion)
    for code in exclusions:
        if code not in EXCLUSION_STATE and code not in boolean_exclusions:
            raise InputError("study", "the candidate simulator has no recipe for this exclusion", code)
    for item_code, states in STATES.items():
        for state in states.values():
            for criterion, _ in state.sides:
                if (criterion, item_code) not in thresholds:
                    raise InputError("study", f"criterion {criterion!r} has no threshold on {item_code!r}", item_code)
    pathway_union = frozenset().union(*pathway_items.values())
    direct = [c for c in study.criteria if c.kind == "inclusion" and not c.expression.item_codes <= pathway_union]
    if len(direct) != 1 or len(direct[0].expression.item_codes) != 1:
        raise InputError(
            "study", "the candidate simulator expects one inclusion criterion on one yes/no item besides the pathways"
        )
    [acr_item] = direct[0].expression.item_codes
    screening_items = tuple(form.items)
    for code in (*DEMOGRAPHIC_ITEMS, *screening_items):
        if code not in items:
            raise InputError("study", "has no such item", code)
        if items[code].is_numeric and code not in DECIMALS:
            raise InputError("study", "the candidate simulator does not know how to draw this item", code)
    return _Model(
        items=items,
        screening_items=screening_items,
        thresholds=thresholds,
        acr_item=acr_item,
        exclusions=exclusions,
        exclusion_items={code: frozenset(criteria[code].expression.item_codes) for code in exclusions},
        boolean_exclusions=boolean_exclusions,
        pathway_items=pathway_items,
    )


def _scenarios(model: _Model, params: CandidateParams) -> list[_Scenario]:
    """Every scenario with its fraction of the pool."""
    scenarios: list[_Scenario] = []
    fractions = params.fractions
    for name, fraction in fractions.items():
        if name.startswith(ELIGIBLE_PREFIX):
            code = name.removeprefix(ELIGIBLE_PREFIX)
            if code not in PATHWAYS:
                raise InputError(name, "names no pathway of the protocol", code)
            scenarios.append(_Scenario(f"pathway:{code}", _ELIGIBLE, PATHWAYS.index(code), -1, "", -1, fraction))
        elif name.startswith(EXCLUDED_PREFIX):
            code = name.removeprefix(EXCLUDED_PREFIX)
            if code not in model.exclusions:
                raise InputError(name, "names no exclusion of the protocol", code)
            forced = PATHWAYS.index(FORCED_PATHWAY[code]) if code in FORCED_PATHWAY else -1
            scenarios.append(_Scenario(f"exclusion:{code}", _EXCLUDED, forced, model.exclusions.index(code), "", -1, fraction))
    named = {s.reason.split(":")[1] for s in scenarios if s.kind == _EXCLUDED}
    unknown = [code for code in model.exclusions if code not in named]
    if unknown:
        raise InputError("params", "has no fraction for these exclusions of the protocol", ", ".join(unknown))
    scenarios.append(_Scenario("no_pathway", _NO_PATHWAY, -1, -1, "", -1, fractions["no_pathway"]))
    scenarios.append(_Scenario("acr_not_met", _ACR_NOT_MET, -1, -1, "", -1, fractions["acr_not_met"]))
    direct = {model.acr_item}.union(*model.exclusion_items.values())
    each = fractions["incomplete"] / len(model.screening_items)
    for code in model.screening_items:
        readers = [j for j, p in enumerate(PATHWAYS) if code in model.pathway_items[p]]
        if code not in direct and not readers:
            raise InputError("study", "no criterion reads this item of the screening form", code)
        hinge = -1 if code in direct else readers[0]
        scenarios.append(_Scenario(f"missing:{code}", _INCOMPLETE, -1, -1, code, hinge, each))
    return scenarios


# --- drawing --------------------------------------------------------------------------------------


def _truncated_normal(
    rng: np.random.Generator, mean: FloatArray, sd: FloatArray, low: FloatArray, high: FloatArray
) -> FloatArray:
    """Normal draws kept within [low, high] by redrawing (all arguments are arrays of one length)."""
    out = rng.normal(mean, sd)
    bad = (out < low) | (out > high)
    for _ in range(REJECTION_ROUNDS):
        redo = np.flatnonzero(bad)
        if redo.size == 0:
            break
        out[redo] = rng.normal(mean[redo], sd[redo])
        bad[redo] = (out[redo] < low[redo]) | (out[redo] > high[redo])
    redo = np.flatnonzero(bad)
    if redo.size:
        out[redo] = rng.uniform(low[redo], high[redo])
    return out


def _pick(rng: np.random.Generator, n: int, probabilities: tuple[float, ...]) -> IntArray:
    """Category index of each of ``n`` draws."""
    cumulative = np.cumsum(probabilities)
    return np.minimum(np.searchsorted(cumulative / cumulative[-1], rng.random(n), side="right"), len(probabilities) - 1)


def _interval(model: _Model, code: str, state: _State) -> tuple[float, float]:
    """The interval of a state in the item's unit: the plausible range, the state's bounds, and each
    threshold side with its margin, rounded inwards to the item's decimals."""
    item = model.items[code]
    step = 10.0 ** -DECIMALS[code]
    low = item.range.min if item.range is not None and item.range.min is not None else -math.inf
    high = item.range.max if item.range is not None and item.range.max is not None else math.inf
    low = max(low, state.low if state.low is not None else -math.inf)
    high = min(high, state.high if state.high is not None else math.inf)
    for criterion, holds in state.sides:
        op, threshold = model.thresholds[(criterion, code)]
        above = (op in (">", ">=")) == holds  # the values that meet "> t" lie above t, those that fail it below
        if above:
            low = max(low, threshold * (1 + MARGIN) if threshold >= 0 else threshold * (1 - MARGIN))
        else:
            high = min(high, threshold * (1 - MARGIN) if threshold >= 0 else threshold * (1 + MARGIN))
    low, high = math.ceil(low / step - 1e-9) * step, math.floor(high / step + 1e-9) * step
    if not low < high:
        raise InputError(code, f"no room for the simulated values between {low} and {high} {item.unit}")
    return low, high


class _Draw:
    """Values of one pool, drawn item by item from the states the scenarios ask for."""

    def __init__(self, model: _Model, rng: np.random.Generator, female: BoolArray) -> None:
        self.model = model
        self.rng = rng
        self.female = female
        self.n = len(female)
        self.states: dict[str, IntArray] = {code: np.zeros(self.n, np.int64) for code in STATES}
        self.values: dict[str, FloatArray] = {}

    def set(self, code: str, state: str, mask: BoolArray) -> None:
        """Ask for ``state`` of item ``code`` where ``mask`` holds."""
        self.states[code][mask] = list(STATES[code]).index(state)

    def draw(self, code: str, mean: FloatArray | None = None, high: FloatArray | None = None) -> FloatArray:
        """Draw the item for every candidate from its state, rounded to its decimals.

        ``mean`` and ``high`` override the state's mean and upper bound per candidate.
        """
        low_all, high_all = np.empty(self.n), np.empty(self.n)
        mean_all, sd_all = np.empty(self.n), np.empty(self.n)
        for index, state in enumerate(STATES[code].values()):
            mask = self.states[code] == index
            low, top = _interval(self.model, code, state)
            low_all[mask], high_all[mask], sd_all[mask] = low, top, state.sd
            centre = state.mean
            mean_all[mask] = np.where(self.female, centre[0], centre[1])[mask] if isinstance(centre, tuple) else centre
        if mean is not None:
            mean_all = mean
        if high is not None:
            high_all = np.maximum(np.minimum(high_all, high), low_all)
        values = _truncated_normal(self.rng, mean_all, sd_all, low_all, high_all)
        step = 10.0 ** DECIMALS[code]
        self.values[code] = np.round(values * step) / step
        return self.values[code]


def _choose_pathways(rng: np.random.Generator, weights: FloatArray, allowed: npt.NDArray[np.bool_]) -> IntArray:
    """One pathway per row, drawn with ``weights`` among the ``allowed`` ones (rows x pathways)."""
    w = np.where(allowed, weights, 0.0)
    w = np.where(w.sum(axis=1, keepdims=True) > 0, w, allowed.astype(float))
    cumulative = np.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True)
    chosen: IntArray = np.minimum((rng.random(len(w))[:, None] >= cumulative).sum(axis=1), w.shape[1] - 1).astype(np.int64)
    return chosen


@dataclass(frozen=True)
class _Plan:
    """What each candidate's scenario asks for, as integer columns (-1: none)."""

    scenario: IntArray  # index in the scenario list
    kind: IntArray
    pathway: IntArray  # the qualifying pathway (index in PATHWAYS)
    exclusion: IntArray  # the exclusion met (index in _Model.exclusions)
    hinge: IntArray  # the pathway the missing item keeps open
    missing: IntArray  # the missing item (index in _Model.screening_items)
    screening_items: tuple[str, ...]
    exclusions: tuple[str, ...]

    def missing_is(self, code: str) -> BoolArray:
        """Where ``code`` is the item the scenario leaves empty."""
        mask: BoolArray = self.missing == (self.screening_items.index(code) if code in self.screening_items else -2)
        return mask

    def excluded(self, code: str) -> BoolArray:
        """Where the scenario meets exclusion ``code``."""
        mask: BoolArray = self.exclusion == (self.exclusions.index(code) if code in self.exclusions else -2)
        return mask


def _plan(model: _Model, scenarios: list[_Scenario], params: CandidateParams, rng: np.random.Generator, n: int) -> _Plan:
    """Draw each candidate's scenario, and a qualifying pathway where the scenario needs one but does
    not fix it, avoiding the pathway that reads the missing item (an empty DLCO or mPAP must not leave
    the qualifying pathway open)."""
    p = np.array([s.fraction for s in scenarios])
    pick = _pick(rng, n, tuple(p / p.sum()))
    table = {
        "kind": [s.kind for s in scenarios],
        "pathway": [s.pathway for s in scenarios],
        "exclusion": [s.exclusion for s in scenarios],
        "hinge": [s.hinge for s in scenarios],
        "missing": [model.screening_items.index(s.missing) if s.missing else -1 for s in scenarios],
    }
    kind, pathway, exclusion, hinge, missing = (np.array(table[name], dtype=np.int64)[pick] for name in table)
    needs = np.array([s.pathway < 0 and s.kind in (_EXCLUDED, _ACR_NOT_MET, _INCOMPLETE) and s.hinge < 0 for s in scenarios])
    allowed = np.array([[s.missing not in model.pathway_items[code] for code in PATHWAYS] for s in scenarios])
    weights = np.array([getattr(params, ELIGIBLE_PREFIX + code) for code in PATHWAYS])
    pathway = np.where(needs[pick], _choose_pathways(rng, weights, allowed[pick]), pathway)
    return _Plan(pick, kind, pathway, exclusion, hinge, missing, model.screening_items, model.exclusions)


def _draw_rapidly_progressive(draw: _Draw, plan: _Plan, met: BoolArray, hinge: BoolArray) -> None:
    """Duration < 24 mo and mRSS > 20 and (ESR > 25 mm/h or Hb < 11 g/dL)."""
    mode, fail = _pick(draw.rng, draw.n, RP_MET_MODES), _pick(draw.rng, draw.n, RP_FAIL_MODES)
    failed = ~met & ~hinge
    draw.set("disease_duration_months", "free", failed & (fail != 0))  # fail 0 keeps the default: too long
    draw.set("mrss", "free", failed & (fail != 1))
    draw.set("mrss", "low", failed & (fail == 1))
    draw.set("esr", "free", failed & (fail != 2))  # fail 2 keeps the defaults: ESR low, Hb normal
    draw.set("hemoglobin", "free", failed & (fail != 2))
    draw.set("disease_duration_months", "short", met | hinge)
    draw.set("mrss", "high", met | hinge)
    draw.set("esr", "high", met & (mode != 1))
    draw.set("esr", "free", met & (mode == 1))
    draw.set("hemoglobin", "low", met & (mode != 0))
    draw.set("hemoglobin", "free", met & (mode == 0))
    # open on one missing item: the others make the pathway true exactly when it holds
    for code, esr, hemoglobin in (("disease_duration_months", "high", "free"), ("mrss", "high", "free"),
                                  ("esr", "free", "normal"), ("hemoglobin", "low", "normal")):  # fmt: skip
        on = hinge & plan.missing_is(code)
        draw.set("esr", esr, on)
        draw.set("hemoglobin", hemoglobin, on)
    for code in ("disease_duration_months", "mrss", "esr", "hemoglobin"):
        draw.draw(code)


def _draw_lung(draw: _Draw, plan: _Plan, met: BoolArray) -> None:
    """VC, FVC or DLCO < 70 % predicted, or mPAP > 40 mmHg; and the DLCO and mPAP exclusions."""
    mode = _pick(draw.rng, draw.n, LUNG_MET_MODES)
    draw.set("fvc_pct_pred", "low", met & (mode == 0))
    draw.set("vc_pct_pred", "free", met & (mode == 0))
    draw.set("dlco_pct_pred", "reduced", met & (mode != 1))
    draw.set("dlco_pct_pred", "low", met & (mode == 1))
    draw.set("mpap_echo", "ph", met & (mode == 2))
    draw.set("dlco_pct_pred", "very_low", plan.excluded("dlco_very_low"))
    draw.set("mpap_echo", "high", plan.excluded("mpap_high"))
    fvc = draw.draw("fvc_pct_pred")
    draw.draw("vc_pct_pred", mean=fvc + 3)
    draw.draw("dlco_pct_pred")
    draw.draw("mpap_echo")


def _draw_digestive(draw: _Draw, met: BoolArray) -> None:
    """Albumin < 25 g/L or weight loss > 10 %."""
    mode = _pick(draw.rng, draw.n, DIGESTIVE_MET_MODES)
    draw.set("weight_loss_12m_pct", "high", met & (mode != 1))
    draw.set("albumin", "low", met & (mode != 0))
    draw.draw("albumin")
    draw.draw("weight_loss_12m_pct")


def _draw_kidney(draw: _Draw, plan: _Plan, met: BoolArray, cg_k: FloatArray) -> None:
    """Proteinuria > 0.5 g/24 h or creatinine > 120 umol/L, with a measured clearance that agrees with
    Cockcroft-Gault within :data:`CLEARANCE_NOISE`; and the clearance exclusion (< 20 mL/min)."""
    mode = _pick(draw.rng, draw.n, KIDNEY_MET_MODES)
    creatinine_low, _ = _interval(draw.model, "creatinine", STATES["creatinine"]["high"])
    low_clearance = plan.excluded("crcl_low")
    room = cg_k / CREATININE_FOR_CLEARANCE >= creatinine_low + 5  # a raised creatinine that keeps clearance >= 25
    mode = np.where(room | low_clearance, mode, 0)
    draw.set("urine_protein_24h", "high", met & (mode != 1))
    draw.set("creatinine", "high", (met & (mode != 0)) | low_clearance)
    draw.draw("urine_protein_24h")
    creatinine = draw.draw("creatinine", high=np.where(low_clearance, np.inf, cg_k / CREATININE_FOR_CLEARANCE))
    draw.set("creatinine_clearance", "low", low_clearance)
    target = draw.draw("creatinine_clearance")  # the low ones are kept; the others follow Cockcroft-Gault
    noise_sd, noise_bound = CLEARANCE_NOISE
    ones = np.ones(draw.n)
    noise = np.exp(_truncated_normal(draw.rng, 0 * ones, noise_sd * ones, -noise_bound * ones, noise_bound * ones))
    bounds = draw.model.items["creatinine"].range
    top = bounds.max if bounds is not None and bounds.max is not None else np.inf
    creatinine = np.where(low_clearance, np.clip(np.round(cg_k / target / noise), creatinine_low, top), creatinine)
    low, high = _interval(draw.model, "creatinine_clearance", STATES["creatinine_clearance"]["normal"])
    clearance = np.clip(np.round(cg_k / creatinine * noise * 10) / 10, low, high)
    draw.values["creatinine"] = creatinine
    draw.values["creatinine_clearance"] = np.where(low_clearance, target, clearance)


def _blank_cells(model: _Model, plan: _Plan, columns: list[str], rate: float, rng: np.random.Generator) -> dict[str, BoolArray]:
    """Empty cells: the one that keeps an incomplete verdict open, and random ones (at ``rate``) only
    where they cannot change the verdict."""
    n = len(plan.kind)
    kind = plan.kind
    pathway_union = frozenset().union(*model.pathway_items.values())
    direct = {model.acr_item}.union(*model.exclusion_items.values())
    blank: dict[str, BoolArray] = {}
    for code in columns:
        in_pathway = np.isin(plan.pathway, [j for j, p in enumerate(PATHWAYS) if code in model.pathway_items[p]])
        in_exclusion = np.isin(plan.exclusion, [e for e, c in enumerate(model.exclusions) if code in model.exclusion_items[c]])
        if code in DEMOGRAPHIC_ITEMS:
            free = np.ones(n, bool)  # the measured clearance is always given, so nothing is derived from them
        elif code == "creatinine_clearance":
            free = np.zeros(n, bool)  # if empty it would be derived, possibly below 20 mL/min
        else:
            # ineligible anyway: by the exclusion (keep its items and the pathway's), by the ACR criteria
            # (keep the pathway's), for want of a pathway (keep every pathway item, all must be false)
            by_exclusion = (kind == _EXCLUDED) & ~in_exclusion & ~in_pathway
            by_acr = (kind == _ACR_NOT_MET) & (code != model.acr_item) & ~in_pathway
            by_no_pathway = (kind == _NO_PATHWAY) & (code not in pathway_union)
            # eligible, or open on an exclusion item: other pathways' items that no exclusion reads
            other_pathway = (kind == _ELIGIBLE) | ((kind == _INCOMPLETE) & (plan.hinge < 0))
            by_other_pathway = other_pathway & (code not in direct) & (code in pathway_union) & ~in_pathway
            free = by_exclusion | by_acr | by_no_pathway | by_other_pathway
        intended = plan.missing_is(code)
        if code == "body_weight":  # a missing clearance stays missing only if Cockcroft-Gault cannot stand in
            intended = plan.missing_is("creatinine_clearance")
        blank[code] = intended | (free & (rng.random(n) < rate))
    return blank


def simulate_candidates(study: Study, n: int, seed: int, params: CandidateParams | None = None) -> CandidatePool:
    """Simulate a screening pool of ``n`` made-up candidates, each built for one scenario.

    Args:
        study: the protocol (its criteria give the thresholds, its items the units and ranges).
        n: number of candidates.
        seed: seed of ``numpy.random.default_rng``; the same seed and params give the same pool.
        params: the mix and the rates (defaults: :class:`CandidateParams`).

    Returns:
        The pool: a wide screening frame, the intended verdict and the scenario of each row.

    Raises:
        InputError: ``n`` or ``seed`` is not a whole number >= 0, or the protocol lacks a criterion,
            threshold or item the simulator needs.
    """
    for name, value in (("n", n), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise InputError(name, "must be a whole number >= 0", value)
    params = CandidateParams() if params is None else params
    model = _read_model(study)
    if [c.code for c in model.items["sex"].choices] != ["female", "male"]:
        raise InputError("study", "the candidate simulator expects the sex choices female, male", "sex")
    scenarios = _scenarios(model, params)
    rng = np.random.default_rng(seed)
    plan = _plan(model, scenarios, params, rng, n)

    # demographics; pregnancy (and a pending pregnancy test) only in women of child-bearing age
    child_bearing = plan.excluded("pregnancy") | plan.missing_is("pregnant")
    female = (rng.random(n) < FEMALE_FRACTION) | child_bearing
    age_mean, age_sd, age_min, age_max = AGE_YEARS
    ones = np.ones(n)
    low_age, high_age = (
        np.where(child_bearing, CHILD_BEARING_AGE[0], age_min),
        np.where(child_bearing, CHILD_BEARING_AGE[1], age_max),
    )
    age = np.round(_truncated_normal(rng, age_mean * ones, age_sd * ones, low_age, high_age))
    (weight_f, weight_m), weight_sd, weight_min, weight_max = WEIGHT_KG
    weight = _truncated_normal(rng, np.where(female, weight_f, weight_m), weight_sd * ones, weight_min * ones, weight_max * ones)
    weight = np.round(weight * 10) / 10
    cg_k = (140 - age) * weight * CG_CONSTANT * np.where(female, CG_FEMALE, 1.0)  # clearance = cg_k / creatinine

    draw = _Draw(model, rng, female)
    met = {code: plan.pathway == j for j, code in enumerate(PATHWAYS)}
    _draw_rapidly_progressive(draw, plan, met[RP], plan.hinge == PATHWAYS.index(RP))
    _draw_lung(draw, plan, met[LUNG])
    _draw_digestive(draw, met[DIGESTIVE])
    _draw_kidney(draw, plan, met[KIDNEY], cg_k)
    for code in ("lvef_low", "platelets_low"):
        item_code, state = EXCLUSION_STATE[code]
        draw.set(item_code, state, plan.excluded(code))
        draw.draw(item_code)
    values = {**draw.values, "age": age, "body_weight": weight}
    answers: dict[str, FloatArray] = {
        model.acr_item: np.where(plan.kind == _ACR_NOT_MET, 0.0, 1.0),
        "sex": np.where(female, 0.0, 1.0),
    }
    for code, (item_code, meets) in model.boolean_exclusions.items():
        answers[item_code] = np.where(plan.excluded(code), float(meets), float(not meets))

    columns = [*DEMOGRAPHIC_ITEMS, *model.screening_items]
    blank = _blank_cells(model, plan, columns, params.missing_rate, rng)
    convertible = [code for code in columns if model.items[code].accepted_units]
    count = int(np.floor(params.alternative_unit_rate * len(convertible) + 0.5))
    alternative = {convertible[i] for i in rng.permutation(len(convertible))[:count]}
    frame_columns: dict[str, object] = {"subject_id": _subject_ids(n)}
    for code in columns:
        item = model.items[code]
        if not item.is_numeric:
            words = ("female", "male") if item.type == "choice" else ("no", "yes")
            frame_columns[code] = _words(answers[code], blank[code], words)
            continue
        unit = item.accepted_units[0] if code in alternative else item.unit
        assert unit is not None  # numeric items have one
        factor = unit_factor(item, unit)
        decimals = max(0, DECIMALS[code] + math.ceil(math.log10(factor) - 1e-9))  # the same precision in any unit
        frame_columns[f"{code} [{unit}]"] = _numbers(values[code] / factor, blank[code], decimals)
    reasons = np.array([s.reason for s in scenarios], dtype=object)
    verdicts = np.array([_VERDICT_OF_KIND[s.kind] for s in scenarios], dtype=object)
    return CandidatePool(pd.DataFrame(frame_columns), verdicts[plan.scenario], reasons[plan.scenario])


# --- writing --------------------------------------------------------------------------------------


def _subject_ids(n: int) -> ObjectArray:
    """``SIM-0000001`` ... (more digits once n passes 9,999,999)."""
    if n == 0:
        return np.array([], dtype=object)
    numbers = np.arange(1, n + 1).astype(str)
    ids: ObjectArray = np.char.add(SUBJECT_PREFIX, np.char.zfill(numbers, SUBJECT_DIGITS)).astype(object)
    return ids


def _categorical(codes: IntArray, categories: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype=object))  # type: ignore[arg-type]  # stubs: Sequence[int]


def _words(values: FloatArray, blank: BoolArray, words: tuple[str, str]) -> pd.Categorical:
    """A yes/no or two-choice column: 0.0 -> words[0], 1.0 -> words[1], blank -> ''."""
    codes = np.where(blank, 2, values.astype(np.int64))
    return _categorical(codes, [*words, ""])


def _numbers(values: FloatArray, blank: BoolArray, decimals: int) -> pd.Categorical:
    """A number column with a fixed number of decimals; each distinct value is formatted once."""
    scaled = np.round(values * 10.0**decimals).astype(np.int64)
    scaled = np.where(blank, np.iinfo(np.int64).min, scaled)
    codes, uniques = pd.factorize(scaled, sort=True)
    labels = []
    for value in uniques.tolist():
        if value == np.iinfo(np.int64).min:
            labels.append("")
            continue
        sign, magnitude = ("-" if value < 0 else ""), abs(value)
        whole, fraction = divmod(magnitude, 10**decimals)
        labels.append(f"{sign}{whole}.{fraction:0{decimals}d}" if decimals else f"{sign}{whole}")
    return _categorical(codes.astype(np.int64), labels)


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\r\n') else text


def candidates_csv_text(pool: CandidatePool) -> str:
    """The pool as a wide screening CSV: a header line and one line per candidate, '\\n' line ends.

    Each column is turned into a list of strings at once (a categorical column by indexing its
    categories), and the lines are joined by C-level ``str.join``: no Python code runs per
    candidate, so a million candidates take about a second.

    Args:
        pool: a simulated pool (or any frame of string columns with a ``subject_id`` column).

    Returns:
        The CSV text, ending with a newline.
    """
    frame = pool.frame
    columns: list[list[str]] = []
    for name in frame.columns:
        series = frame[name]
        if isinstance(series.dtype, pd.CategoricalDtype):
            labels = np.array([_quote(str(c)) for c in series.cat.categories] + [""], dtype=object)
            columns.append(labels[series.cat.codes.to_numpy()].tolist())  # code -1 (NaN) picks the trailing ''
        else:
            cells = series.fillna("").astype(str).to_numpy(dtype=object)
            if any(ch in "".join(cells.tolist()) for ch in ',"\r\n'):
                cells = np.array([_quote(c) for c in cells.tolist()], dtype=object)
            columns.append(cells.tolist())
    header = ",".join(_quote(str(name)) for name in frame.columns)
    if len(frame) == 0:
        return header + "\n"
    return header + "\n" + "\n".join(map(",".join, zip(*columns, strict=True))) + "\n"
