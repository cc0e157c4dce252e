"""Drawing a pool's values: each candidate's scenario and qualifying pathway, the items of each pathway and
exclusion from their states, and the cells left empty where that cannot change the verdict.
"""

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rodnan.core.simulate.candidates.params import ELIGIBLE_PREFIX, CandidateParams
from rodnan.core.simulate.candidates.recipes import (
    CLEARANCE_NOISE,
    CREATININE_FOR_CLEARANCE,
    DECIMALS,
    DEMOGRAPHIC_ITEMS,
    DIGESTIVE_MET_MODES,
    KIDNEY_MET_MODES,
    LUNG_MET_MODES,
    MARGIN,
    PATHWAYS,
    REJECTION_ROUNDS,
    RP_FAIL_MODES,
    RP_MET_MODES,
    STATES,
    ValueState,
)
from rodnan.core.simulate.candidates.scenarios import (
    ACR_NOT_MET,
    ELIGIBLE,
    EXCLUDED,
    INCOMPLETE,
    NO_PATHWAY,
    CandidateModel,
    Scenario,
)
from rodnan.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]


def truncated_normal(rng: np.random.Generator, mean: FloatArray, sd: FloatArray, low: FloatArray, high: FloatArray) -> FloatArray:
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


def pick_categories(rng: np.random.Generator, n: int, probabilities: tuple[float, ...]) -> IntArray:
    """Category index of each of ``n`` draws."""
    cumulative = np.cumsum(probabilities)
    return np.minimum(np.searchsorted(cumulative / cumulative[-1], rng.random(n), side="right"), len(probabilities) - 1)


def _interval(model: CandidateModel, code: str, state: ValueState) -> tuple[float, float]:
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


class Draw:
    """Values of one pool, drawn item by item from the states the scenarios ask for."""

    def __init__(self, model: CandidateModel, rng: np.random.Generator, female: BoolArray) -> None:
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
        values = truncated_normal(self.rng, mean_all, sd_all, low_all, high_all)
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
class Plan:
    """What each candidate's scenario asks for, as integer columns (-1: none)."""

    scenario: IntArray  # index in the scenario list
    kind: IntArray
    pathway: IntArray  # the qualifying pathway (index in PATHWAYS)
    exclusion: IntArray  # the exclusion met (index in CandidateModel.exclusions)
    hinge: IntArray  # the pathway the missing item keeps open
    missing: IntArray  # the missing item (index in CandidateModel.screening_items)
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


def plan_candidates(
    model: CandidateModel, scenarios: list[Scenario], params: CandidateParams, rng: np.random.Generator, n: int
) -> Plan:
    """Draw each candidate's scenario, and a qualifying pathway where the scenario needs one but does
    not fix it, avoiding the pathway that reads the missing item (an empty DLCO or mPAP must not leave
    the qualifying pathway open)."""
    p = np.array([s.fraction for s in scenarios])
    pick = pick_categories(rng, n, tuple(p / p.sum()))
    table = {
        "kind": [s.kind for s in scenarios],
        "pathway": [s.pathway for s in scenarios],
        "exclusion": [s.exclusion for s in scenarios],
        "hinge": [s.hinge for s in scenarios],
        "missing": [model.screening_items.index(s.missing) if s.missing else -1 for s in scenarios],
    }
    kind, pathway, exclusion, hinge, missing = (np.array(table[name], dtype=np.int64)[pick] for name in table)
    needs = np.array([s.pathway < 0 and s.kind in (EXCLUDED, ACR_NOT_MET, INCOMPLETE) and s.hinge < 0 for s in scenarios])
    allowed = np.array([[s.missing not in model.pathway_items[code] for code in PATHWAYS] for s in scenarios])
    weights = np.array([getattr(params, ELIGIBLE_PREFIX + code) for code in PATHWAYS])
    pathway = np.where(needs[pick], _choose_pathways(rng, weights, allowed[pick]), pathway)
    return Plan(pick, kind, pathway, exclusion, hinge, missing, model.screening_items, model.exclusions)


def draw_rapidly_progressive(draw: Draw, plan: Plan, met: BoolArray, hinge: BoolArray) -> None:
    """Duration < 24 mo and mRSS > 20 and (ESR > 25 mm/h or Hb < 11 g/dL)."""
    mode, fail = pick_categories(draw.rng, draw.n, RP_MET_MODES), pick_categories(draw.rng, draw.n, RP_FAIL_MODES)
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


def draw_lung(draw: Draw, plan: Plan, met: BoolArray) -> None:
    """VC, FVC or DLCO < 70 % predicted, or mPAP > 40 mmHg; and the DLCO and mPAP exclusions."""
    mode = pick_categories(draw.rng, draw.n, LUNG_MET_MODES)
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


def draw_digestive(draw: Draw, met: BoolArray) -> None:
    """Albumin < 25 g/L or weight loss > 10 %."""
    mode = pick_categories(draw.rng, draw.n, DIGESTIVE_MET_MODES)
    draw.set("weight_loss_12m_pct", "high", met & (mode != 1))
    draw.set("albumin", "low", met & (mode != 0))
    draw.draw("albumin")
    draw.draw("weight_loss_12m_pct")


def draw_kidney(draw: Draw, plan: Plan, met: BoolArray, cg_k: FloatArray) -> None:
    """Proteinuria > 0.5 g/24 h or creatinine > 120 umol/L, with a measured clearance that agrees with
    Cockcroft-Gault within :data:`CLEARANCE_NOISE`; and the clearance exclusion (< 20 mL/min)."""
    mode = pick_categories(draw.rng, draw.n, KIDNEY_MET_MODES)
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
    noise = np.exp(truncated_normal(draw.rng, 0 * ones, noise_sd * ones, -noise_bound * ones, noise_bound * ones))
    bounds = draw.model.items["creatinine"].range
    top = bounds.max if bounds is not None and bounds.max is not None else np.inf
    creatinine = np.where(low_clearance, np.clip(np.round(cg_k / target / noise), creatinine_low, top), creatinine)
    low, high = _interval(draw.model, "creatinine_clearance", STATES["creatinine_clearance"]["normal"])
    clearance = np.clip(np.round(cg_k / creatinine * noise * 10) / 10, low, high)
    draw.values["creatinine"] = creatinine
    draw.values["creatinine_clearance"] = np.where(low_clearance, target, clearance)


def blank_cells(
    model: CandidateModel, plan: Plan, columns: list[str], rate: float, rng: np.random.Generator
) -> dict[str, BoolArray]:
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
            by_exclusion = (kind == EXCLUDED) & ~in_exclusion & ~in_pathway
            by_acr = (kind == ACR_NOT_MET) & (code != model.acr_item) & ~in_pathway
            by_no_pathway = (kind == NO_PATHWAY) & (code not in pathway_union)
            # eligible, or open on an exclusion item: other pathways' items that no exclusion reads
            other_pathway = (kind == ELIGIBLE) | ((kind == INCOMPLETE) & (plan.hinge < 0))
            by_other_pathway = other_pathway & (code not in direct) & (code in pathway_union) & ~in_pathway
            free = by_exclusion | by_acr | by_no_pathway | by_other_pathway
        intended = plan.missing_is(code)
        if code == "body_weight":  # a missing clearance stays missing only if Cockcroft-Gault cannot stand in
            intended = plan.missing_is("creatinine_clearance")
        blank[code] = intended | (free & (rng.random(n) < rate))
    return blank
