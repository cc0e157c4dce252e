"""Revised EUSTAR disease activity index for systemic sclerosis (EUSTAR-AI).

Source: Valentini G, Iudici M, Walker UA, et al. The European Scleroderma Trials and Research group
(EUSTAR) task force for the development of revised activity criteria for systemic sclerosis:
derivation and validation of a preliminarily revised EUSTAR activity index. Ann Rheum Dis
2017;76:270-6 (abstract, PMID 27621285). Not the 2003 EScSG index (Valentini 2003), which uses
other items.

Formula: the score is the sum of the weights of the items present, 0-10 (no unit):

==========================================================================  ======
item                                                                         weight
==========================================================================  ======
delta-skin: skin worsening in the previous month, as assessed by the patient  1.5
mRSS > 18 (points)                                                           1.5
digital ulcers                                                               1.5
tendon friction rubs                                                         2.25
CRP > 1 mg/dL, i.e. > 10 mg/L (the input is in mg/L)                         2.25
DLCO < 70 % predicted                                                        1.0
==========================================================================  ======

Disease is active when the score is at least 2.5.

Missing data: with any item missing the score is "not computable"; the lower bound is the sum of
the items known present, the upper bound adds the weights of the missing items. The verdict is
still given when the bounds decide it: "active" when the lower bound is at least 2.5, "inactive"
when the upper bound is below 2.5. Nothing is imputed.

Worked example (shared/domain.md §5): delta-skin yes, mRSS 26, no digital ulcers, no tendon
friction rubs, CRP 15 mg/L, DLCO 65 %: 1.5 + 1.5 + 2.25 + 1.0 = 6.25, active. With CRP unknown the
bounds are 4.0-6.25, active either way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from rodnan.core.instruments.base import InputDoc, InstrumentDef, Score, boolean_input, number_input
from rodnan.errors import InputError

SOURCE = "Valentini G et al., Ann Rheum Dis 2017;76:270-6 (revised EUSTAR activity index)"

# Weights and thresholds (Valentini 2017, abstract).
WEIGHT_DELTA_SKIN = 1.5
WEIGHT_MRSS = 1.5
MRSS_ABOVE = 18.0  # mRSS > 18 points
WEIGHT_DIGITAL_ULCERS = 1.5
WEIGHT_TENDON_FRICTION_RUBS = 2.25
WEIGHT_CRP = 2.25
CRP_ABOVE_MG_L = 10.0  # CRP > 1 mg/dL = 10 mg/L
WEIGHT_DLCO = 1.0
DLCO_BELOW_PCT_PRED = 70.0  # DLCO < 70 % predicted
ACTIVE_FROM = 2.5  # active disease when the index is >= 2.5
MAX_SCORE = 10.0

# Input ranges: mRSS 0-51 (17 areas x 3); CRP and DLCO the protocol's plausibility ranges for crp and dlco_pct_pred.
MRSS_MAX = 51.0
CRP_MAX_MG_L = 500.0
DLCO_MIN, DLCO_MAX = 5.0, 200.0

ITEMS: tuple[tuple[str, float, str], ...] = (
    ("delta_skin", WEIGHT_DELTA_SKIN, "skin worsened in the previous month, as assessed by the patient"),
    ("mrss", WEIGHT_MRSS, "modified Rodnan skin score (counts when > 18)"),
    ("digital_ulcers", WEIGHT_DIGITAL_ULCERS, "digital ulcers present"),
    ("tendon_friction_rubs", WEIGHT_TENDON_FRICTION_RUBS, "tendon friction rubs present"),
    ("crp", WEIGHT_CRP, "C-reactive protein, mg/L (counts when > 10 mg/L, i.e. > 1 mg/dL)"),
    ("dlco_pct_pred", WEIGHT_DLCO, "DLCO, % predicted (counts when < 70 %)"),
)
"""The six items: input code, weight, meaning."""


@dataclass(frozen=True)
class EustarAiResult:
    """A EUSTAR-AI score, or its bounds when items are missing.

    Attributes:
        score: the index (0-10), None when an item is missing.
        lower: the lowest possible index given the known items.
        upper: the highest possible index given the known items.
        verdict: ``active``, ``inactive``, or None when the bounds do not decide.
        items: each item's contribution (its weight or 0), None when missing.
        missing: the missing items.
    """

    score: float | None
    lower: float
    upper: float
    verdict: str | None
    items: dict[str, float | None]
    missing: tuple[str, ...]


def _check_range(field: str, value: float | None, low: float, high: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(field, "must be a finite number", value)
    if not low <= value <= high:
        raise InputError(field, f"must be from {low:g} to {high:g}", value)


def _check_flag(field: str, value: bool | None) -> None:
    if value is not None and not isinstance(value, bool):
        raise InputError(field, "must be yes/no (true/false)", value)


def score_eustar_ai(
    delta_skin: bool | None,
    mrss: float | None,
    digital_ulcers: bool | None,
    tendon_friction_rubs: bool | None,
    crp_mg_l: float | None,
    dlco_pct_pred: float | None,
) -> EustarAiResult:
    """Revised EUSTAR activity index; None marks a missing item.

    Args:
        delta_skin: skin worsened in the previous month, as assessed by the patient.
        mrss: modified Rodnan skin score, points (0-51).
        digital_ulcers: digital ulcers present.
        tendon_friction_rubs: tendon friction rubs present.
        crp_mg_l: C-reactive protein, mg/L.
        dlco_pct_pred: DLCO, % predicted.

    Returns:
        The score, or the bounds and the verdict they allow, and the missing items.

    Raises:
        InputError: a value of the wrong type or outside its range, naming the item.
    """
    _check_flag("delta_skin", delta_skin)
    _check_flag("digital_ulcers", digital_ulcers)
    _check_flag("tendon_friction_rubs", tendon_friction_rubs)
    _check_range("mrss", mrss, 0.0, MRSS_MAX)
    _check_range("crp", crp_mg_l, 0.0, CRP_MAX_MG_L)
    _check_range("dlco_pct_pred", dlco_pct_pred, DLCO_MIN, DLCO_MAX)

    present: dict[str, bool | None] = {
        "delta_skin": delta_skin,
        "mrss": None if mrss is None else mrss > MRSS_ABOVE,
        "digital_ulcers": digital_ulcers,
        "tendon_friction_rubs": tendon_friction_rubs,
        "crp": None if crp_mg_l is None else crp_mg_l > CRP_ABOVE_MG_L,
        "dlco_pct_pred": None if dlco_pct_pred is None else dlco_pct_pred < DLCO_BELOW_PCT_PRED,
    }
    items: dict[str, float | None] = {}
    for code, weight, _ in ITEMS:
        flag = present[code]
        items[code] = None if flag is None else (weight if flag else 0.0)
    lower = math.fsum(v for v in items.values() if v is not None)
    upper = lower + math.fsum(weight for code, weight, _ in ITEMS if items[code] is None)
    missing = tuple(code for code, value in items.items() if value is None)
    if lower >= ACTIVE_FROM:
        verdict: str | None = "active"
    elif upper < ACTIVE_FROM:
        verdict = "inactive"
    else:
        verdict = None
    return EustarAiResult(None if missing else lower, lower, upper, verdict, items, missing)


def _score(answers: Mapping[str, object], options: Mapping[str, str]) -> Score:
    result = score_eustar_ai(
        delta_skin=boolean_input(answers, "delta_skin"),
        mrss=number_input(answers, "mrss"),
        digital_ulcers=boolean_input(answers, "digital_ulcers"),
        tendon_friction_rubs=boolean_input(answers, "tendon_friction_rubs"),
        crp_mg_l=number_input(answers, "crp"),
        dlco_pct_pred=number_input(answers, "dlco_pct_pred"),
    )
    subscores: dict[str, float | str | None] = {f"item_{code}": value for code, value in result.items.items()}
    subscores["lower"] = result.lower
    subscores["upper"] = result.upper
    notes: tuple[str, ...] = ()
    if result.score is None:
        decided = f"verdict {result.verdict} either way" if result.verdict else f"the bounds straddle {ACTIVE_FROM:g}, no verdict"
        notes = (
            f"score not computable: every item is needed, missing {', '.join(result.missing)}; "
            f"bounds {result.lower:g}-{result.upper:g}, {decided}",
        )
    return Score(
        instrument="eustar_ai",
        value=result.score,
        subscores=subscores,
        version="revised EUSTAR activity index (Valentini 2017), 0-10, active if >= 2.5; CRP in mg/L",
        missing=result.missing,
        notes=notes,
        source=SOURCE,
        verdict=result.verdict,
    )


INSTRUMENT = InstrumentDef(
    code="eustar_ai",
    title="Revised EUSTAR disease activity index (EUSTAR-AI)",
    source=SOURCE,
    inputs=(
        InputDoc("delta_skin", "skin worsened in the previous month, as assessed by the patient (weight 1.5)", kind="boolean"),
        InputDoc("mrss", "modified Rodnan skin score, 0-51; > 18 counts (weight 1.5)", unit="{score}"),
        InputDoc("digital_ulcers", "digital ulcers present (weight 1.5)", kind="boolean"),
        InputDoc("tendon_friction_rubs", "tendon friction rubs present (weight 2.25)", kind="boolean"),
        InputDoc("crp", "C-reactive protein; > 10 mg/L (1 mg/dL) counts (weight 2.25)", unit="mg/L"),
        InputDoc("dlco_pct_pred", "DLCO, % predicted; < 70 % counts (weight 1.0)", unit="%"),
    ),
    score=_score,
)
