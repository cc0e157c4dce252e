"""Who comes to each scheduled visit and when, and the values of the items its forms collect (the 17 mRSS
areas, the SF-36 and HAQ answers, lung function, laboratory values ...), drawn from the subjects' latent state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from rodnan.core.instruments import haq_di, sf36
from rodnan.core.instruments.mrss import AREAS
from rodnan.core.protocol.model import Study
from rodnan.core.simulate.cohort.extras import child_bearing
from rodnan.core.simulate.cohort.subjects import DAYS_PER_MONTH, TEXT_ITEMS, SubjectState
from rodnan.core.simulate.params import SimulationParams

FloatArray = npt.NDArray[np.floating[Any]]  # numpy's stubs type np.round() results loosely
BoolArray = npt.NDArray[np.bool_]


LATE_MAX_DAYS = 14  # days past the window: keeps a late monthly visit before the next visit's window (30 - 2 x 7 - 1 = 15)

# Relative chance that an mRSS area is involved (hands, fingers and forearms most often: Clements 1993's
# distribution of thickening in dcSSc, as a project estimate of the order, not published weights).
AREA_WEIGHTS = {
    "face": 0.8, "chest": 0.6, "abdomen": 0.5, "upper_arm": 0.7, "forearm": 1.2, "hand": 1.5, "fingers": 1.8,
    "thigh": 0.5, "lower_leg": 0.8, "foot": 0.7,
}  # fmt: skip

# SF-36 items whose raw answer is higher for worse health (the items the scoring reverses or
# recalibrates downwards: REVERSED_ITEMS, and Q1, Q7, Q8; sf36.py).
SF36_WORSE_WHEN_HIGH = sf36.REVERSED_ITEMS | {"q1", "q7", "q8"}
SF36_MENTAL_SCALES = ("VT", "SF", "RE", "MH")


def draw_visit_days(
    code: str, target_day: int, window: int, state: SubjectState, rng: np.random.Generator, p: SimulationParams, study: Study
) -> tuple[BoolArray, npt.NDArray[np.int64]]:
    """Who comes to the visit, and on which day (day numbers since 1970-01-01)."""
    n = state.n
    if target_day < 0:
        return np.ones(n, bool), state.screening_day.copy()
    if target_day == 0:
        return np.ones(n, bool), state.infusion_day.copy()
    target = state.infusion_day + target_day
    late = rng.random(n) < p.late_visit_probability
    day = np.where(late, target + window + rng.integers(1, LATE_MAX_DAYS + 1, n), target + rng.integers(-window, window + 1, n))
    missed = rng.random(n) < p.missed_visit_probability
    return ~missed & (day < state.end_day), day


def _logistic(x: FloatArray) -> FloatArray:
    """A smooth 0-1 position on the answer scale (the logistic approximation of the normal CDF: x * 1.7)."""
    position: FloatArray = 1 / (1 + np.exp(-1.7 * x))
    return position


def draw_visit_values(
    code: str,
    months: FloatArray,
    present: BoolArray,
    state: SubjectState,
    rng: np.random.Generator,
    p: SimulationParams,
    study: Study,
) -> dict[str, FloatArray]:
    """The values of every item this visit's forms collect (arrays over all subjects)."""
    n, b, e = state.n, state.baseline, state.effect
    forms = set(study.visit_by_code[code].forms)
    r = np.where(months > 0, 1 - np.exp(-np.clip(months, 0, None) / p.response_time_constant), 0.0)
    follow_up = months > 0
    out: dict[str, FloatArray] = {}
    total = np.round(b["mrss_latent"] * np.exp(e["mrss"] * r) + np.where(follow_up, rng.normal(0, p.mrss_measurement_sd, n), 0))
    total = np.clip(total, 0, 3 * len(AREAS))
    if "mrss" in forms or "screening" in forms:
        areas = _mrss_areas(total.astype(int), state, rng)
        for a, (area, _) in enumerate(AREAS):
            out[f"mrss_{area}"] = areas[:, a].astype(float)
        out["mrss"] = areas.sum(axis=1).astype(float)
    haq = np.clip(b["haq_latent"] + e["haq"] * r + np.where(follow_up, rng.normal(0, 0.12, n), 0), 0, 3)
    health = e["health"] * r
    if "ssc_haq" in forms:
        out.update(_haq_items(haq, rng))
    if "sf36" in forms:
        out.update(_sf36_items(b["physical_z"] + health, b["mental_z"] + health, r, rng))
    if "screening" in forms or "demographics" in forms or "screening_details" in forms:
        out.update(_screening_items(state, out.get("mrss", total)))
    if "organ_function" in forms or "screening" in forms:
        out.update(_organ_items(state, months, r, follow_up, rng))
    if "serology" in forms:
        out.update(_serology_items(state, r, follow_up, rng))
    if "lymphocytes" in forms:
        out.update(_lymphocyte_items(state, r, follow_up, rng))
    if "infusion" in forms:
        out["infusion_weight"] = b["infusion_weight"]
        out["cells_administered"] = b["cells"]
        for text_item in TEXT_ITEMS:
            out[text_item] = np.zeros(n)
    return out


def _mrss_areas(total: npt.NDArray[np.int64], state: SubjectState, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Spread each total over the 17 areas (0-3 each) so that the areas sum exactly to it.

    Each area offers three one-point steps; the ``total`` steps with the highest keys are taken, a
    key favouring the areas often involved (AREA_WEIGHTS), the subject's own pattern, and first steps
    before second and third ones.
    """
    n = len(total)
    weights = np.array([AREA_WEIGHTS[code.rsplit("_", 1)[0] if code.endswith(("_r", "_l")) else code] for code, _ in AREAS])
    base = np.log(weights)[None, :] + state.area_affinity
    keys = np.concatenate([base - 1.2 * level for level in range(3)], axis=1) + rng.gumbel(0, 0.7, (n, 3 * len(AREAS)))
    ranks = np.argsort(np.argsort(-keys, axis=1), axis=1)
    taken = ranks < total[:, None]
    areas: npt.NDArray[np.int64] = taken.reshape(n, 3, len(AREAS)).sum(axis=1)
    return areas


def _haq_items(disability: FloatArray, rng: np.random.Generator) -> dict[str, FloatArray]:
    """HAQ answers 0-3 around the latent disability, aids and help more likely when it is high, VAS and globals."""
    n = len(disability)
    out: dict[str, FloatArray] = {}
    for _, _, items, _ in haq_di.CATEGORIES:
        for item in items:
            out[item] = np.clip(np.round(disability + rng.normal(0, 0.55, n)), 0, 3)
    for category, _, _, aids in haq_di.CATEGORIES:
        if aids:
            out[f"haq_aid_{category}"] = (rng.random(n) < 1 / (1 + np.exp(-2.5 * (disability - 1.6)))).astype(float)
        out[f"haq_help_{category}"] = (rng.random(n) < 1 / (1 + np.exp(-2.5 * (disability - 2.0)))).astype(float)
    severity = disability / 3
    for code, _ in haq_di.VAS_SCALES:
        out[code] = np.round(150 * np.clip(severity + rng.normal(0, 0.15, n), 0, 1))
    out["patient_global"] = np.round(10 * np.clip(severity + 0.1 + rng.normal(0, 0.12, n), 0, 1), 1)
    out["physician_global"] = np.round(10 * np.clip(severity + 0.05 + rng.normal(0, 0.1, n), 0, 1), 1)
    return out


def _sf36_items(physical: FloatArray, mental: FloatArray, r: FloatArray, rng: np.random.Generator) -> dict[str, FloatArray]:
    """SF-36v2 answers from latent physical and mental health (probit-like thresholds, 1998 form)."""
    n = len(physical)
    out: dict[str, FloatArray] = {"sf36_form": np.full(n, 1.0)}  # choice index 1: v2
    for scale, items in sf36.SCALE_ITEMS.items():
        latent = mental + 0.3 * physical if scale in SF36_MENTAL_SCALES else physical + 0.2 * mental
        for item in items:
            low, high = sf36.RESPONSE_RANGES["v2"][item]
            levels = high - low + 1
            position = _logistic(0.8 * latent + 0.9 + rng.normal(0, 0.6, n))
            answer = np.minimum(np.floor(position * levels), levels - 1) + low
            out[f"sf36_{item}"] = (high + low - answer) if item in SF36_WORSE_WHEN_HIGH else answer
    improvement = np.clip(3 - np.round(r * 2 + rng.normal(0, 0.8, n)), 1, 5)  # Q2: 1 much better ... 5 much worse
    out["sf36_q2"] = improvement
    return out


def _screening_items(state: SubjectState, mrss_total: FloatArray) -> dict[str, FloatArray]:
    b = state.baseline
    out = {
        "sex": np.where(state.female, 0.0, 1.0),
        "age": state.age,
        "height": state.height,
        "body_weight": state.weight,
        "acr_1980_met": np.ones(state.n),
        "ara_proximal_scleroderma": b["diffuse"],
        "ara_sclerodactyly": np.ones(state.n),
        "ara_pitting_scars": 1 - b["diffuse"],
        "ara_bibasilar_fibrosis": (b["fvc_pct"] < 75).astype(float),
        "body_weight_12m_before": b["body_weight_12m_before"],
        "disease_duration_months": b["disease_duration_months"],
        "mrss": mrss_total,
        "esr": b["esr"],
        "hemoglobin": b["hemoglobin"],
        "platelets": b["platelets"],
    }
    for flag in (
        "uncontrolled_arrhythmia",
        "hemorrhagic_cystitis",
        "hiv_positive",
        "htlv1_positive",
        "malignancy",
        "pregnant",
        "prosthesis",
    ):
        out[flag] = np.zeros(state.n)
    out["vascular_access"] = np.ones(state.n)
    out["childbearing_potential"] = child_bearing(state).astype(float)  # no for a man
    return out


def _organ_items(
    state: SubjectState, months: FloatArray, r: FloatArray, follow_up: BoolArray, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """Lung function (raw and % predicted through the protocol's equations), PAP, LVEF, labs, weight."""
    n, b, e = state.n, state.baseline, state.effect
    noise = np.where(follow_up, 1.0, 0.0)
    out: dict[str, FloatArray] = {}
    lung_measures = (
        ("fvc_pct_pred", "fvc_l", 2, "fvc", 2.0),
        ("vc_pct_pred", "vc_l", 2, "fvc", 2.0),
        ("dlco_pct_pred", "dlco", 1, "dlco", 3.0),
    )
    for code, raw_code, decimals, effect, spread in lung_measures:
        baseline = b[code.replace("_pred", "")]
        percent = np.clip(baseline + e[effect] * r + noise * rng.normal(0, spread, n), 25, 140)
        raw = np.round(state.predicted[code] * percent / 100, decimals)
        out[raw_code] = raw
        out[code] = np.round(100 * raw / state.predicted[code], 1)  # as the protocol derives it from the raw value
    out["dlco_hb_corrected"] = np.zeros(n)
    out["mpap_echo"] = np.round(np.clip(b["mpap_echo"] + noise * rng.normal(0, 2.5, n), 10, 48))
    out["spap_echo"] = np.round((out["mpap_echo"] - 2) / 0.61)  # Chemla 2004: mPAP = 0.61 sPAP + 2
    out["lvef"] = np.round(np.clip(b["lvef"] + noise * rng.normal(0, 2, n), 50, 80))
    out["albumin"] = np.round(np.clip(b["albumin"] + noise * rng.normal(0.5 * r, 1.5, n), 15, 55), 1)
    out["creatinine"] = np.round(b["creatinine"] * np.exp(noise * rng.normal(0, 0.06, n)))
    out["crp"] = np.round(np.clip(b["crp"] * np.exp(noise * rng.normal(-0.3 * r, 0.5, n)), 0.1, 200), 1)
    out["urine_protein_24h"] = np.round(b["urine_protein_24h"] * np.exp(noise * rng.normal(0, 0.25, n)), 2)
    weight = np.round(state.weight * (1 + noise * rng.normal(0.004 * months, 0.015, n)), 1)
    out["body_weight"] = weight
    # weight 12 months before the visit: interpolated between the documented weights (12 months before
    # screening, and at screening) when that date is before screening, else the screening weight
    since = np.clip(months + (state.infusion_day - state.screening_day) / DAYS_PER_MONTH, 0, 12)
    before = b["body_weight_12m_before"] + (state.weight - b["body_weight_12m_before"]) * since / 12
    out["weight_loss_12m_pct"] = np.round(100 * (before - weight) / before, 2)
    screening = ~follow_up & (months < 0)
    out["weight_loss_12m_pct"] = np.where(
        screening,
        np.round(100 * (b["body_weight_12m_before"] - state.weight) / b["body_weight_12m_before"], 2),
        out["weight_loss_12m_pct"],
    )
    out["body_weight"] = np.where(screening, state.weight, weight)
    return out


def _serology_items(state: SubjectState, r: FloatArray, follow_up: BoolArray, rng: np.random.Generator) -> dict[str, FloatArray]:
    n, b, e = state.n, state.baseline, state.effect
    noise = np.where(follow_up, 1.0, 0.0)
    out = {"ata_scl70": b["ata"], "aca": b["aca"], "ana": b["ana"], "ana_titre": b["ana_titre"]}
    out["ata_scl70_titre"] = np.round(b["ata_titre"] * np.exp(e["ata"] * r + noise * rng.normal(0, 0.1, n)), 1)
    for code in ("anti_ssdna", "anti_dsdna"):
        out[code] = np.round(b[code] * np.exp(noise * rng.normal(0, 0.15, n)), 1)
    for code in ("igg", "iga", "igm", "c3", "c4"):
        out[code] = np.round(b[code] * np.exp(noise * rng.normal(0, 0.06, n)), 2)
    return out


def _lymphocyte_items(
    state: SubjectState, r: FloatArray, follow_up: BoolArray, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """B and T cells: counts are the lymphocyte total times each subset's share, so counts and % agree."""
    n, b, e = state.n, state.baseline, state.effect
    noise = np.where(follow_up, 1.0, 0.0)
    total = b["lymphocytes"] * np.exp(noise * rng.normal(0, 0.1, n))
    cd19 = np.clip(b["cd19_share"] * np.exp(e["b_cells"] * r + noise * rng.normal(0, 0.08, n)), 0.01, 0.4)
    cd3 = np.clip(b["cd3_share"] + noise * rng.normal(0, 0.02, n), 0.4, 0.9)
    cd4 = cd3 * b["cd4_of_cd3"]
    cd8 = cd3 * (1 - b["cd4_of_cd3"]) * 0.92  # a few CD3+ cells are neither CD4+ nor CD8+
    out: dict[str, FloatArray] = {}
    for code, share in (("cd19", cd19), ("cd3", cd3), ("cd4", cd4), ("cd8", cd8)):
        out[f"{code}_count"] = np.round(total * share)
        out[f"{code}_pct"] = np.round(100 * share, 1)
    return out


# Lab values sometimes reported in another accepted unit (the unit the value is written in), rounded.
_ALTERNATIVE_UNITS = {"creatinine": ("mg/dL", 2), "albumin": ("g/dL", 2), "hemoglobin": ("g/dL", 1), "platelets": ("/mm3", -3)}


def alternative_units(
    code: str,
    values: FloatArray,
    unit: npt.NDArray[np.int16],
    rng: np.random.Generator,
    p: SimulationParams,
    study: Study,
    unit_index: dict[str, int],
) -> tuple[FloatArray, npt.NDArray[np.int16]]:
    """Write a share of a laboratory item's values in its other accepted unit (converted and rounded), with that unit."""
    if code not in _ALTERNATIVE_UNITS or p.alternative_unit_fraction == 0:
        return values, unit
    from rodnan.core import units

    target, decimals = _ALTERNATIVE_UNITS[code]
    item = study.item_by_code[code]
    assert item.unit is not None
    chosen = rng.random(len(values)) < p.alternative_unit_fraction
    factor = units.conversion_factor(item.unit, target, item.molar_mass_g_per_mol)
    converted = np.round(values * factor, decimals)
    return np.where(chosen, converted, values), np.where(chosen, np.int16(unit_index[target]), unit).astype(np.int16)
