"""The simulated subjects: demographics, enrolment pathway, dates and end of follow-up, screening values
that make each one eligible through their pathway, individual treatment effects, and the subjects table.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core.instruments import lung
from rodnan.core.instruments.mrss import AREAS
from rodnan.core.protocol.model import Study, VisitDef
from rodnan.core.simulate.params import SimulationParams

FloatArray = npt.NDArray[np.floating[Any]]  # numpy's stubs type np.round() results loosely
BoolArray = npt.NDArray[np.bool_]
DAYS_PER_MONTH = 30.4375
EPOCH = dt.date(1970, 1, 1)
PATHWAYS = ("rapidly_progressive", "lung", "digestive", "kidney")


@dataclass
class SubjectState:
    """Per-subject latent state and baseline values (arrays of length n)."""

    n: int
    female: BoolArray
    age: FloatArray
    height: FloatArray
    weight: FloatArray
    pathway: npt.NDArray[np.int64]
    screening_day: npt.NDArray[np.int64]
    infusion_day: npt.NDArray[np.int64]
    end_day: npt.NDArray[np.int64]
    baseline: dict[str, FloatArray] = field(default_factory=dict)
    effect: dict[str, FloatArray] = field(default_factory=dict)
    predicted: dict[str, FloatArray] = field(default_factory=dict)
    area_affinity: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))


def _derivation_options(study: Study, output_item: str) -> dict[str, str]:
    """The options the protocol's derivation of ``output_item`` uses (e.g. the GLI equation and group)."""
    for definition in study.derived_items:
        if output_item in definition.outputs.values():
            return {**definition.options, **{k: str(v) for k, v in definition.constants.items()}}
    raise KeyError(f"the protocol derives no {output_item!r}")


def _predicted(study: Study, output_item: str, state: SubjectState) -> FloatArray:
    """The reference value (M) of each subject for the measure the protocol derives ``output_item`` from."""
    options = _derivation_options(study, output_item)
    sexes = np.where(state.female, "female", "male")
    values = [
        lung.compute_lung_pct_predicted(
            options["measure"],
            1.0,
            options["unit"],
            float(state.age[i]),
            str(sexes[i]),
            float(state.height[i]),
            options["equation"],
            options.get("ethnicity"),
        ).predicted
        for i in range(state.n)
    ]  # one call per subject and measure: the reference depends on the subject, not on the visit
    return np.asarray(values)


def _assign_pathways(
    can_be_rapid: BoolArray, rng: np.random.Generator, fractions: tuple[float, float, float, float]
) -> npt.NDArray[np.int64]:
    """The inclusion pathway of each subject, with the rapid pathway only where the skin score allows.

    Among subjects who can qualify as rapidly progressive, the pathway is rapid with the probability
    that gives the wanted overall fraction (at most 1); the others get lung, digestive or kidney in
    their relative proportions.
    """
    n = len(can_be_rapid)
    share = float(can_be_rapid.mean()) if n else 0.0
    p_rapid = min(1.0, fractions[0] / share) if share > 0 else 0.0
    rapid = can_be_rapid & (rng.random(n) < p_rapid)
    others = np.asarray(fractions[1:], dtype=float)
    others = others / others.sum() if others.sum() > 0 else np.full(3, 1 / 3)
    return np.where(rapid, 0, 1 + rng.choice(3, size=n, p=others)).astype(np.int64)


def _uniform(rng: np.random.Generator, low: float, high: float, n: int) -> FloatArray:
    return rng.uniform(low, high, n)


def draw_subjects(study: Study, n: int, rng: np.random.Generator, params: SimulationParams) -> SubjectState:
    """Demographics, enrolment pathway, dates, baseline values and individual treatment effects."""
    female = rng.random(n) < params.female_fraction
    age = np.clip(np.round(rng.normal(params.age_mean_years, params.age_sd_years, n)), 18, 65)
    f_mean, f_sd, m_mean, m_sd = params.height_cm
    height = np.round(np.clip(np.where(female, rng.normal(f_mean, f_sd, n), rng.normal(m_mean, m_sd, n)), 140, 195), 1)
    bmi = np.clip(rng.normal(params.bmi_mean, params.bmi_sd, n), 16.5, 32)
    weight = np.round(bmi * (height / 100) ** 2, 1)
    # baseline skin first: the published baseline (Zhang 2017) is the whole cohort's, so the rapidly
    # progressive pathway (mRSS above 20) is given to subjects whose skin score allows it
    mrss_baseline = np.clip(np.round(rng.normal(params.mrss_baseline_mean, params.mrss_baseline_sd, n)), 0, 51)
    pathway = _assign_pathways(mrss_baseline >= 21, rng, params.pathway_fractions)
    start = (params.accrual_start - EPOCH).days
    screening_day = start + np.floor(rng.random(n) * params.accrual_months * DAYS_PER_MONTH).astype(np.int64)
    infusion_day = screening_day + rng.integers(14, 29, n)

    # end of follow-up: death (constant hazard), withdrawal, loss to follow-up, from the infusion
    years = [rng.exponential(1 / rate, n) if rate > 0 else np.full(n, np.inf) for rate in
             (params.death_hazard_per_year, params.withdrawal_per_year, params.lost_per_year)]  # fmt: skip
    stacked = np.vstack(years)
    reason = np.argmin(stacked, axis=0)
    first = np.min(stacked, axis=0)
    end_day = infusion_day + np.where(np.isfinite(first), np.minimum(first, 1000) * 365.25, 365250).astype(np.int64)
    state = SubjectState(n, female, age, height, weight, pathway, screening_day, infusion_day, end_day)
    state.baseline["end_reason"] = reason.astype(float)
    state.baseline["mrss_latent"] = mrss_baseline
    state.area_affinity = rng.normal(0, 0.5, (n, len(AREAS)))
    _draw_baseline(state, rng, params)
    _draw_effects(state, rng, params)
    state.predicted = {code: _predicted(study, code, state) for code in ("fvc_pct_pred", "vc_pct_pred", "dlco_pct_pred")}
    order = np.argsort(infusion_day, kind="stable")
    lot = np.empty(n, dtype=np.int64)
    lot[order] = np.arange(n) // 2 + 1  # one product lot for two consecutive infusions (project choice)
    state.baseline["lot"] = lot.astype(float)
    state.baseline["donor"] = (lot + rng.integers(0, 2, n)).astype(float)
    state.baseline["infusion_weight"] = np.round(weight + rng.normal(0, 0.4, n), 1)
    state.baseline["cells"] = np.round(state.baseline["infusion_weight"] * 1e6 * rng.uniform(0.95, 1.05, n), -4)
    return state


def _draw_baseline(state: SubjectState, rng: np.random.Generator, p: SimulationParams) -> None:
    """Screening values: each subject qualifies by their pathway, with margins of at least 2 % around
    every threshold, and meets no exclusion."""
    n, b = state.n, state.baseline
    rapid, lung_p, digestive, kidney = (state.pathway == k for k in range(4))
    b["disease_duration_months"] = np.round(np.where(rapid, _uniform(rng, 3, 22, n), rng.lognormal(math.log(30), 0.5, n)), 1)
    by_esr = rapid & (rng.random(n) < 0.7)
    by_hb = rapid & ~by_esr
    esr = np.clip(rng.lognormal(math.log(18), 0.5, n), 2, 90)
    b["esr"] = np.round(np.where(by_esr, _uniform(rng, 27, 70, n), np.where(by_hb, np.minimum(esr, 24), esr)))
    hb = np.where(state.female, rng.normal(125, 9, n), rng.normal(140, 10, n))
    b["hemoglobin"] = np.round(np.where(by_hb, _uniform(rng, 90, 107, n), np.clip(hb, 113, 175)))
    route = rng.random(n)
    fvc = np.where(lung_p & (route < 0.5), _uniform(rng, 45, 68, n), np.clip(rng.normal(84, 7, n), 72, 120))
    dlco = np.where(lung_p & (route >= 0.5) & (route < 0.85), _uniform(rng, 47, 68, n), np.clip(rng.normal(78, 6, n), 72, 120))
    mpap = np.where(lung_p & (route >= 0.85), _uniform(rng, 42, 48, n), np.clip(rng.normal(p.mpap_mean_mmhg - 3, 4, n), 12, 38))
    b["fvc_pct"], b["dlco_pct"], b["mpap_echo"] = fvc, dlco, np.round(mpap)
    b["vc_pct"] = fvc + np.abs(rng.normal(2, 1.5, n))  # slow VC is a little above FVC
    route = rng.random(n)
    b["albumin"] = np.round(
        np.where(digestive & (route < 0.5), _uniform(rng, 19, 24.4, n), np.clip(rng.normal(38, 4, n), 26, 50)), 1
    )
    loss = np.where(digestive & (route >= 0.5), _uniform(rng, 10.5, 18, n), np.clip(rng.normal(3, 3, n), -5, 9.5))
    b["body_weight_12m_before"] = np.round(state.weight / (1 - loss / 100), 1)
    route = rng.random(n)
    protein = np.clip(rng.lognormal(math.log(0.12), 0.5, n), 0.02, 0.45)
    b["urine_protein_24h"] = np.round(np.where(kidney & (route < 0.5), _uniform(rng, 0.55, 2.5, n), protein), 2)
    creatinine = np.where(state.female, rng.normal(60, 10, n), rng.normal(78, 12, n))
    b["creatinine"] = np.round(np.where(kidney & (route >= 0.5), _uniform(rng, 123, 180, n), np.clip(creatinine, 35, 115)))
    b["lvef"] = np.round(np.clip(rng.normal(63, 5, n), 52, 78))
    b["platelets"] = np.round(np.clip(rng.normal(235, 55, n), 95, 450))
    b["crp"] = np.round(np.clip(rng.lognormal(math.log(5), 0.8, n), 0.3, 80), 1)
    b["haq_latent"] = np.clip(rng.normal(p.haq_baseline_mean, p.haq_baseline_sd, n), 0, 2.8)
    b["physical_z"] = (
        p.physical_health_z_baseline
        - 0.5 * (b["haq_latent"] - p.haq_baseline_mean) / max(p.haq_baseline_sd, 1e-9)
        + rng.normal(0, 0.6, n)
    )
    b["mental_z"] = rng.normal(p.mental_health_z_baseline, 0.9, n)
    b["diffuse"] = (rng.random(n) < p.diffuse_fraction).astype(float)
    # serology and immunology (project estimates typical of Chinese dcSSc cohorts)
    b["ata"] = (rng.random(n) < 0.65).astype(float)
    b["aca"] = ((rng.random(n) < 0.12) & (b["ata"] == 0)).astype(float)
    b["ana"] = np.maximum((rng.random(n) < 0.93).astype(float), np.maximum(b["ata"], b["aca"]))
    b["ata_titre"] = np.where(b["ata"] == 1, rng.lognormal(math.log(120), 0.6, n), rng.lognormal(math.log(5), 0.5, n))
    b["ana_titre"] = np.where(b["ana"] == 1, 2.0 ** rng.integers(6, 11, n) * 1.25, 40.0)  # 80 ... 1280 (1:80 ...)
    for code, median in (("anti_ssdna", 8.0), ("anti_dsdna", 6.0)):
        b[code] = rng.lognormal(math.log(median), 0.5, n)
    for code, mean, sd, low, high in (("igg", 14.0, 3.5, 5, 35), ("iga", 2.6, 0.9, 0.3, 8), ("igm", 1.2, 0.45, 0.2, 4),
                                      ("c3", 1.0, 0.18, 0.4, 1.8), ("c4", 0.22, 0.06, 0.05, 0.5)):  # fmt: skip
        b[code] = np.clip(rng.normal(mean, sd, n), low, high)
    b["lymphocytes"] = np.clip(rng.normal(1700, 450, n), 500, 4000)
    b["cd3_share"] = np.clip(rng.normal(0.70, 0.06, n), 0.45, 0.88)
    b["cd19_share"] = np.clip(rng.normal(0.12, 0.04, n), 0.02, 0.28)
    b["cd4_of_cd3"] = np.clip(rng.normal(0.60, 0.08, n), 0.35, 0.8)


def _draw_effects(state: SubjectState, rng: np.random.Generator, p: SimulationParams) -> None:
    """Individual treatment effects reaching their full size with time constant ``response_time_constant``."""
    n = state.n
    at_12 = 1 - math.exp(-12 / p.response_time_constant)
    # Skin responds multiplicatively: mRSS(12) = baseline x X, X log-normal with the mean and spread that
    # give the published 12-month mean and SD (Zhang 2017: 13.8 ± 10.2 from 20.1 ± 3.1); totals stay >= 0.
    ratio = (p.mrss_baseline_mean + p.effect_mrss_12m) / p.mrss_baseline_mean
    second_moment = p.mrss_baseline_mean**2 + p.mrss_baseline_sd**2
    target_variance = max(p.mrss_sd_12m**2 - p.mrss_measurement_sd**2, 0.0)
    ratio_variance = max((target_variance + (p.mrss_baseline_mean + p.effect_mrss_12m) ** 2) / second_moment - ratio**2, 1e-9)
    sigma2 = math.log(1 + ratio_variance / ratio**2)
    state.effect["mrss"] = rng.normal(math.log(ratio) - sigma2 / 2, math.sqrt(sigma2), n) / at_12
    state.effect["haq"] = rng.normal(p.effect_haq_12m / at_12, 0.25, n)
    state.effect["health"] = rng.normal(p.effect_health_z_12m / at_12, 0.3, n)
    state.effect["fvc"] = rng.normal(p.effect_fvc_pct_12m / at_12, 4, n)
    state.effect["dlco"] = rng.normal(1.0 / at_12, 4, n)
    state.effect["ata"] = rng.normal(-0.35, 0.2, n)  # anti-Scl-70 titre falls after MSCT (Zhang 2017), log scale
    state.effect["b_cells"] = rng.normal(-0.15, 0.15, n)  # project estimate, log scale


def date_text(day: int) -> str:
    """A day number (days since 1970-01-01) as an ISO date."""
    return (EPOCH + dt.timedelta(days=day)).isoformat()


_date_text = date_text


TEXT_ITEMS: dict[str, Callable[[SubjectState, int], str]] = {
    "infusion_date": lambda state, s: _date_text(int(state.infusion_day[s])),
    "product_lot": lambda state, s: f"MSC-{_date_text(int(state.infusion_day[s]))[:4]}-{int(state.baseline['lot'][s]):03d}",
    "donor_code": lambda state, s: f"D{int(state.baseline['donor'][s]):03d}",
}


END_REASONS = ("died", "withdrawn", "lost_to_follow_up")


def subjects_table(
    study: Study, state: SubjectState, visit_days: npt.NDArray[np.int64], visits: tuple[VisitDef, ...], params: SimulationParams
) -> pd.DataFrame:
    """One row per subject: demographics, pathway, dates, infusion, how follow-up ended."""
    n, b = state.n, state.baseline
    width = max(4, len(str(n)))
    last_target = state.infusion_day + visits[-1].day + visits[-1].window_after
    ended_early = state.end_day <= last_target
    reason = np.where(ended_early, np.array(END_REASONS, dtype=object)[b["end_reason"].astype(int)], "completed")
    last_visit_day = visit_days.max(axis=0)
    end_day = np.where(ended_early, state.end_day, last_visit_day)
    done = np.array([v.code for v in visits], dtype=object)[np.argmax(visit_days == last_visit_day[None, :], axis=0)]

    def dates(days: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
        return np.asarray(pd.to_datetime(days, unit="D").strftime("%Y-%m-%d"), dtype=object)

    death = np.where(reason == "died", dates(state.end_day), "")
    cells_per_kg = np.round(b["cells"] / b["infusion_weight"])
    return pd.DataFrame(
        {
            "subject_id": [f"S{i + 1:0{width}d}" for i in range(n)],
            "site": study.identity.sites[0].code,
            "sex": np.where(state.female, "female", "male"),
            "age": state.age.astype(int),
            "height_cm": state.height,
            "weight_kg": state.weight,
            "subset": np.where(b["diffuse"] == 1, "diffuse", "limited"),
            "pathway": np.array(PATHWAYS, dtype=object)[state.pathway],
            "screening_date": dates(state.screening_day),
            "consent_date": dates(state.screening_day),
            "enrolment_date": dates(state.screening_day + 1),
            "infusion_date": dates(state.infusion_day),
            "product_lot": [TEXT_ITEMS["product_lot"](state, i) for i in range(n)],
            "donor_code": [TEXT_ITEMS["donor_code"](state, i) for i in range(n)],
            "infusion_weight_kg": b["infusion_weight"],
            "cells_administered": b["cells"].astype(np.int64),
            "cells_per_kg": cells_per_kg.astype(np.int64),
            "status": reason,
            "end_date": dates(end_day),
            "death_date": death,
            "last_visit": done,
        }
    )
