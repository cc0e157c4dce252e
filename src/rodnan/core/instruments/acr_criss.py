"""ACR provisional Composite Response Index in diffuse cutaneous Systemic Sclerosis (CRISS).

Source: Khanna D, Berrocal VJ, Giannini EH, et al. The American College of Rheumatology provisional
composite response index for clinical trials in early diffuse cutaneous systemic sclerosis.
Arthritis Rheumatol 2016;68:299-311 (also Arthritis Care Res 2016;68:167-78, Table 4 "Application
of CRISS in a clinical trial"; PMC4818571, PMC4826472).

Formula, a two-step process:

* Step 1. A subject who develops, between baseline and follow-up and attributable to SSc, any of
  (a) new scleroderma renal crisis; (b) a decline in FVC % predicted of at least 15 % (relative),
  confirmed by another FVC within a month, with ILD confirmed on HRCT (if the previous HRCT showed
  none) and FVC below 80 % predicted; (c) new left ventricular failure (LVEF <= 45 %) requiring
  treatment; (d) new pulmonary arterial hypertension on right heart catheterisation requiring
  treatment (mean PAP >= 25 mmHg at rest, PAWP <= 15 mmHg, PVR > 3 Wood units), is "not improved"
  with probability 0.0, whatever the other core items.
* Step 2. For everyone else, with every change D = follow-up - baseline:

      lin = -5.54 - 0.81 D(mRSS) + 0.21 D(FVC % pred) - 0.40 D(patient global) - 0.44 D(physician global) - 3.41 D(HAQ-DI)
      p   = exp(lin) / (1 + exp(lin))

  in mRSS points (0-51), FVC in percentage points of predicted, the globals on 0-10 and HAQ-DI on
  0-3. The subject is "improved" when p >= 0.60.

The coefficients' minus signs are lost in the PMC HTML rendering of the equation (only the "+"
before 0.21 survives); the signs used here are the published ones, and they agree with the
direction of the items: a lower mRSS, globals and HAQ-DI and a higher FVC mean improvement, and no
change at all gives p = 0.0039 (not improved).

Missing data: the probability needs all five changes and a decided step 1. When a step-1 event is
yes, the result is 0.0 whatever is missing. When step 1 is undecided (a yes/no event unanswered),
the probability is "not computable"; the verdict is still "not improved" when the step-2
probability is below 0.60, since both readings of step 1 then agree. Published analyses used
multiple imputation for missing core items; that is left to the analysis, nothing is imputed here.

Worked example (shared/domain.md §4.1): D(mRSS) -6, D(FVC) +1, D(patient global) -0.5,
D(physician global) -1, D(HAQ-DI) -0.125, no step-1 event: lin = 0.59625, p = 0.6448, improved.

The revised CRISS (Khanna, Huang, Lin, Spino, Ann Rheum Dis 2021;80:641-50) is not implemented: see
docs/instruments/acr_criss.md for what could not be established.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from rodnan.core.instruments.base import InputDoc, InstrumentDef, Score, boolean_input, number_input
from rodnan.core.verdict import Truth, all_of, any_of, truth_of
from rodnan.errors import InputError

SOURCE = (
    "Khanna D et al., Arthritis Rheumatol 2016;68:299-311 (ACR provisional CRISS); Arthritis Care Res 2016;68:167-78, Table 4"
)

# Step 2 logistic model (Khanna 2016, Table 4 of the Arthritis Care Res companion).
INTERCEPT = -5.54
COEF_MRSS = -0.81  # per mRSS point
COEF_FVC = 0.21  # per percentage point of FVC % predicted
COEF_PATIENT_GLOBAL = -0.40  # per point of the 0-10 patient global
COEF_PHYSICIAN_GLOBAL = -0.44  # per point of the 0-10 physician global
COEF_HAQ_DI = -3.41  # per HAQ-DI unit (0-3)
IMPROVED_PROBABILITY = 0.60  # improved when p >= 0.60 (Khanna 2016)

# Step 1 FVC event thresholds (Khanna 2016, Table 4).
FVC_DECLINE_PCT = 15.0  # relative decline of at least 15 % of the baseline value
FVC_BELOW_PCT_PRED = 80.0  # and FVC below 80 % predicted

CORE_ITEMS: tuple[tuple[str, str, float, float, float], ...] = (
    ("mrss", "modified Rodnan skin score, points", 0.0, 51.0, COEF_MRSS),
    ("fvc_pct_pred", "FVC, % predicted", 5.0, 200.0, COEF_FVC),  # range: the protocol's plausibility range for fvc_pct_pred
    ("patient_global", "patient global assessment, 0-10", 0.0, 10.0, COEF_PATIENT_GLOBAL),
    ("physician_global", "physician global assessment, 0-10", 0.0, 10.0, COEF_PHYSICIAN_GLOBAL),
    ("haq_di", "HAQ disability index, 0-3", 0.0, 3.0, COEF_HAQ_DI),
)
"""The five core items: code, description, valid range, step-2 coefficient of the change."""
FVC_ITEM = CORE_ITEMS[1][0]
"""The core item step 1's FVC event reads (FVC % predicted)."""

STEP1_EVENTS: tuple[tuple[str, str], ...] = (
    ("new_renal_crisis", "new scleroderma renal crisis since baseline"),
    ("fvc_decline_repeat_confirmed", "the FVC decline was confirmed by another FVC within a month"),
    ("ild_confirmed_hrct", "ILD confirmed on HRCT (a previous HRCT that already showed ILD counts)"),
    ("new_lv_failure", "new left ventricular failure (LVEF <= 45 %) requiring treatment, attributable to SSc"),
    (
        "new_pah",
        "new PAH on right heart catheterisation requiring treatment (mPAP >= 25 mmHg, PAWP <= 15 mmHg, PVR > 3 WU), "
        "attributable to SSc",
    ),
)
"""The yes/no inputs of step 1. The FVC event is computed from the FVC values and the two confirmations."""


@dataclass(frozen=True)
class CrissResult:
    """A CRISS probability and verdict, or what is missing.

    Attributes:
        probability: the CRISS value (0.0 after a step-1 event), None when not computable.
        verdict: ``improved``, ``not improved``, or None when undecided.
        step1: whether a step-1 event occurred (true / false / unknown).
        step1_events: each event: ``renal_crisis``, ``fvc_decline``, ``lv_failure``, ``pah``.
        step2_probability: the logistic probability from the five changes, None when a change is missing.
        linear_predictor: the logit of ``step2_probability``.
        changes: follow-up minus baseline for each core item (None when missing).
        missing: the inputs still needed (empty when step 1 decided the result).
    """

    probability: float | None
    verdict: str | None
    step1: Truth
    step1_events: dict[str, Truth]
    step2_probability: float | None
    linear_predictor: float | None
    changes: dict[str, float | None]
    missing: tuple[str, ...]


def compute_criss_linear_predictor(
    delta_mrss: float, delta_fvc_pct_pred: float, delta_patient_global: float, delta_physician_global: float, delta_haq_di: float
) -> float:
    """The step-2 logit from the five changes (follow-up minus baseline).

    Args:
        delta_mrss: change in mRSS, points.
        delta_fvc_pct_pred: change in FVC, percentage points of predicted.
        delta_patient_global: change in the 0-10 patient global assessment.
        delta_physician_global: change in the 0-10 physician global assessment.
        delta_haq_di: change in HAQ-DI.

    Returns:
        ``-5.54 - 0.81 dMRSS + 0.21 dFVC - 0.40 dPtGlob - 0.44 dMDGlob - 3.41 dHAQ``.
    """
    return (
        INTERCEPT
        + COEF_MRSS * delta_mrss
        + COEF_FVC * delta_fvc_pct_pred
        + COEF_PATIENT_GLOBAL * delta_patient_global
        + COEF_PHYSICIAN_GLOBAL * delta_physician_global
        + COEF_HAQ_DI * delta_haq_di
    )


def compute_criss_probability(
    delta_mrss: float, delta_fvc_pct_pred: float, delta_patient_global: float, delta_physician_global: float, delta_haq_di: float
) -> float:
    """The step-2 probability of improvement, exp(lin) / (1 + exp(lin)), from the same five
    changes as :func:`compute_criss_linear_predictor` (follow-up minus baseline).

    Returns:
        The probability, 0-1.
    """
    lin = compute_criss_linear_predictor(
        delta_mrss, delta_fvc_pct_pred, delta_patient_global, delta_physician_global, delta_haq_di
    )
    return _logistic(lin)


def _logistic(lin: float) -> float:
    if lin >= 0:
        return 1.0 / (1.0 + math.exp(-lin))
    e = math.exp(lin)
    return e / (1.0 + e)


def _check_core(values: Mapping[str, float | None], suffix: str) -> dict[str, float | None]:
    known = {code for code, *_ in CORE_ITEMS}
    for code in values:
        if code not in known:
            raise InputError(f"{code}_{suffix}", f"is not a CRISS core item (items: {', '.join(sorted(known))})")
    checked: dict[str, float | None] = {}
    for code, _, low, high, _ in CORE_ITEMS:
        value = values.get(code)
        field = f"{code}_{suffix}"
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise InputError(field, "must be a finite number", value)
            if not low <= value <= high:
                raise InputError(field, f"must be from {low:g} to {high:g}", value)
        checked[code] = None if value is None else float(value)
    return checked


def score_acr_criss(
    baseline: Mapping[str, float | None], follow_up: Mapping[str, float | None], events: Mapping[str, bool | None]
) -> CrissResult:
    """ACR provisional CRISS for one subject.

    Args:
        baseline: core item (``mrss``, ``fvc_pct_pred``, ``patient_global``, ``physician_global``, ``haq_di``)
            to its baseline value, None or absent when missing.
        follow_up: the same items at follow-up.
        events: the step-1 yes/no inputs (codes of :data:`STEP1_EVENTS`), None or absent when unanswered.

    Returns:
        The probability, the verdict, both steps and what is missing.

    Raises:
        InputError: an unknown item or event, or a value outside its range (naming ``<item>_baseline`` or
            ``<item>_followup``).
    """
    base = _check_core(baseline, "baseline")
    follow = _check_core(follow_up, "followup")
    event_codes = [code for code, _ in STEP1_EVENTS]
    for code, value in events.items():
        if code not in event_codes:
            raise InputError(code, f"is not a CRISS step-1 input (inputs: {', '.join(event_codes)})")
        if value is not None and not isinstance(value, bool):
            raise InputError(code, "must be yes/no (true/false)", value)

    # Step 1: the FVC event needs all four conditions (Kleene and), the step any event (Kleene or).
    fvc_b, fvc_f = base["fvc_pct_pred"], follow["fvc_pct_pred"]
    declined = Truth.UNKNOWN if fvc_b is None or fvc_f is None else truth_of((fvc_b - fvc_f) * 100.0 >= FVC_DECLINE_PCT * fvc_b)
    below = Truth.UNKNOWN if fvc_f is None else truth_of(fvc_f < FVC_BELOW_PCT_PRED)
    repeat = truth_of(events.get("fvc_decline_repeat_confirmed"))
    hrct = truth_of(events.get("ild_confirmed_hrct"))
    step1_events = {
        "renal_crisis": truth_of(events.get("new_renal_crisis")),
        "fvc_decline": all_of((declined, below, repeat, hrct)),
        "lv_failure": truth_of(events.get("new_lv_failure")),
        "pah": truth_of(events.get("new_pah")),
    }
    step1 = any_of(step1_events.values())

    changes: dict[str, float | None] = {}
    for code, *_ in CORE_ITEMS:
        before, after = base[code], follow[code]
        changes[code] = None if before is None or after is None else after - before
    lin: float | None = None
    step2: float | None = None
    deltas = [d for d in changes.values() if d is not None]
    if len(deltas) == len(CORE_ITEMS):
        lin = compute_criss_linear_predictor(*deltas)
        step2 = _logistic(lin)

    if step1 is Truth.TRUE:
        return CrissResult(0.0, "not improved", step1, step1_events, step2, lin, changes, ())

    missing: list[str] = []
    for code, *_ in CORE_ITEMS:
        if base[code] is None:
            missing.append(f"{code}_baseline")
        if follow[code] is None:
            missing.append(f"{code}_followup")
    if step1 is Truth.UNKNOWN:
        for code, key in (("new_renal_crisis", "renal_crisis"), ("new_lv_failure", "lv_failure"), ("new_pah", "pah")):
            if step1_events[key] is Truth.UNKNOWN:
                missing.append(code)
        if step1_events["fvc_decline"] is Truth.UNKNOWN:
            if repeat is Truth.UNKNOWN:
                missing.append("fvc_decline_repeat_confirmed")
            if hrct is Truth.UNKNOWN:
                missing.append("ild_confirmed_hrct")
            # the FVC values themselves are already listed with the core items when missing

    if step1 is Truth.FALSE and step2 is not None:
        verdict = "improved" if step2 >= IMPROVED_PROBABILITY else "not improved"
        return CrissResult(step2, verdict, step1, step1_events, step2, lin, changes, ())
    undecided = "not improved" if step2 is not None and step2 < IMPROVED_PROBABILITY else None
    return CrissResult(None, undecided, step1, step1_events, step2, lin, changes, tuple(missing))


def _ranged(answers: Mapping[str, object], code: str, low: float, high: float) -> float | None:
    value = number_input(answers, code)
    if value is not None and not low <= value <= high:
        raise InputError(code, f"must be from {low:g} to {high:g}", answers.get(code))
    return value


_TRUTH_WORDS = {Truth.TRUE: "yes", Truth.FALSE: "no", Truth.UNKNOWN: "unknown"}


def _score(answers: Mapping[str, object], options: Mapping[str, str]) -> Score:
    baseline = {code: _ranged(answers, f"{code}_baseline", low, high) for code, _, low, high, _ in CORE_ITEMS}
    follow_up = {code: _ranged(answers, f"{code}_followup", low, high) for code, _, low, high, _ in CORE_ITEMS}
    events = {code: boolean_input(answers, code) for code, _ in STEP1_EVENTS}
    result = score_acr_criss(baseline, follow_up, events)

    subscores: dict[str, float | str | None] = {f"delta_{code}": value for code, value in result.changes.items()}
    subscores["step1"] = _TRUTH_WORDS[result.step1]
    subscores.update({f"step1_{name}": _TRUTH_WORDS[truth] for name, truth in result.step1_events.items()})
    subscores["step2_probability"] = result.step2_probability
    subscores["linear_predictor"] = result.linear_predictor

    notes: list[str] = []
    if result.step1 is Truth.TRUE:
        events_seen = ", ".join(name for name, truth in result.step1_events.items() if truth is Truth.TRUE)
        notes.append(f"step 1: {events_seen} since baseline, probability 0.0 (not improved) whatever the core items")
    elif result.probability is None:
        rule = "CRISS needs the five core items at baseline and follow-up and every step-1 event answered"
        notes.append(f"not computable: {rule}; missing: {', '.join(result.missing)}")
        if result.verdict is not None:
            notes.append(f"verdict known anyway: step-2 probability {result.step2_probability:.4f} < {IMPROVED_PROBABILITY:.2f}")
    return Score(
        instrument="acr_criss",
        value=result.probability,
        subscores=subscores,
        version="ACR provisional CRISS (Khanna 2016): step 1 events, step 2 logistic model, improved if p >= 0.60",
        missing=result.missing,
        notes=tuple(notes),
        source=SOURCE,
        verdict=result.verdict,
    )


INSTRUMENT = InstrumentDef(
    code="acr_criss",
    title="ACR provisional Composite Response Index in Systemic Sclerosis (CRISS)",
    source=SOURCE,
    inputs=(
        *(
            InputDoc(f"{code}_{when}", f"{description} at {label}", unit=("%" if code == "fvc_pct_pred" else "{score}"))
            for code, description, *_ in CORE_ITEMS
            for when, label in (("baseline", "baseline"), ("followup", "follow-up"))
        ),
        *(InputDoc(code, description, kind="boolean") for code, description in STEP1_EVENTS),
    ),
    score=_score,
)
