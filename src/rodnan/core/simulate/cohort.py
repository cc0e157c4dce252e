"""A seeded synthetic cohort of NCT00962923, from screening through the protocol's follow-up.

Every subject is simulated from latent disease states (skin, disability, physical and mental
health, lung function) that improve after the MSC infusion by the effect sizes of
:class:`~rodnan.core.simulate.params.SimulationParams`; the forms the protocol's schedule collects
at each visit are then filled at item level (the 17 mRSS areas, the 36 SF-36 answers, the HAQ
items, raw lung function ...), so that rodnan's instruments compute the scores from the answers.

Built to be internally consistent: visit dates follow the schedule (with late and missed visits),
nothing is recorded after death or withdrawal, weight loss agrees with the weights, % predicted
agrees with the raw values through the protocol's reference equations, lymphocyte subsets agree
with each other, and every subject's screening values make them eligible through the pathway they
were enrolled by.

Everything is vectorised over subjects (numpy, one ``Generator(PCG64)`` seeded once); the loops
run over visits and items only, so the same seed gives the same cohort on any machine.
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

from rodnan.core.instruments import haq_di, lung, sf36
from rodnan.core.instruments.mrss import AREAS
from rodnan.core.protocol.model import Study, VisitDef
from rodnan.core.simulate.params import SimulationParams

FloatArray = npt.NDArray[np.floating[Any]]  # numpy's stubs type np.round() results loosely
BoolArray = npt.NDArray[np.bool_]
DAYS_PER_MONTH = 30.4375
EPOCH = dt.date(1970, 1, 1)
PATHWAYS = ("rapidly_progressive", "lung", "digestive", "kidney")
VALUE_COLUMNS = ("subject_id", "visit", "item", "value", "unit", "date")
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

# CTCAE v5.0 terms (MedDRA codes as printed in CTCAE v5.0; shared/domain.md §10.2) and the chance of
# grade 1 to 5 of each (project estimates; the infection terms have no grade 1 in CTCAE v5.0).
AE_TERMS = {
    "infusion": ("Infusion related reaction", 10051792, "Injury, poisoning and procedural complications",
                 (0.70, 0.25, 0.05, 0, 0)),
    "fever": ("Fever", 10016558, "General disorders and administration site conditions", (0.70, 0.25, 0.05, 0, 0)),
    "uri": ("Upper respiratory infection", 10046300, "Infections and infestations", (0, 0.75, 0.22, 0.03, 0)),
    "lung": ("Lung infection", 10061229, "Infections and infestations", (0, 0.60, 0.33, 0.07, 0)),
    "uti": ("Urinary tract infection", 10046571, "Infections and infestations", (0, 0.75, 0.22, 0.03, 0)),
    "sepsis": ("Sepsis", 10040047, "Infections and infestations", (0, 0, 0, 0, 1.0)),  # only as a cause of death here
}  # fmt: skip
INFECTION_MIX = (("uri", 0.5), ("lung", 0.3), ("uti", 0.2))


@dataclass
class ValueTable:
    """The long table of item values, held compactly (indices into the code lists, floats, day numbers).

    Numbers are in the unit ``units[unit]``; yes/no are 1.0/0.0; choices are the index of the choice.
    Text and date items are in ``texts`` (subject, visit, item, text, day).
    """

    subject: list[npt.NDArray[np.int32]] = field(default_factory=list)
    visit: list[npt.NDArray[np.int16]] = field(default_factory=list)
    item: list[npt.NDArray[np.int16]] = field(default_factory=list)
    value: list[FloatArray] = field(default_factory=list)
    unit: list[npt.NDArray[np.int16]] = field(default_factory=list)
    day: list[npt.NDArray[np.int32]] = field(default_factory=list)
    texts: list[tuple[int, int, int, str, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(v) for v in self.value) + len(self.texts)


@dataclass
class SimulatedCohort:
    """A simulated cohort: subjects, their item values per visit, their adverse events."""

    study: Study
    params: SimulationParams
    seed: int
    subjects: pd.DataFrame
    values: ValueTable
    adverse_events: pd.DataFrame
    visit_codes: tuple[str, ...]
    item_codes: tuple[str, ...]
    unit_codes: tuple[str, ...]
    _cache: dict[str, npt.NDArray[Any]] | None = field(default=None, repr=False)

    def values_frame(self, first: int = 0, stop: int | None = None) -> pd.DataFrame:
        """The item values of subjects ``first`` to ``stop - 1`` as a long table:
        subject_id, visit, item, value (text), unit, date; ordered by subject, visit and item."""
        return pd.DataFrame({name: column.astype(object) for name, column in self._rows(first, stop).items()})

    def values_csv(self, first: int = 0, stop: int | None = None, header: bool = True) -> str:
        """The same rows as :meth:`values_frame` as CSV text, built with numpy string operations
        (no field needs quoting: codes, units, numbers, ISO dates and lot codes hold no comma)."""
        rows = self._rows(first, stop)
        columns = [rows[name].tolist() for name in VALUE_COLUMNS]
        head = ",".join(VALUE_COLUMNS) + "\n" if header else ""
        body = "\n".join(map(",".join, zip(*columns, strict=True)))  # str.join runs in C for each line
        return head + body + ("\n" if body else "")

    def _rows(self, first: int, stop: int | None) -> dict[str, npt.NDArray[np.str_]]:
        arrays = self._arrays()
        stop = len(self.subjects) if stop is None else stop
        rows = (arrays["subject"] >= first) & (arrays["subject"] < stop)
        subject, visit, item = arrays["subject"][rows], arrays["visit"][rows], arrays["item"][rows]
        value, unit, day = arrays["value"][rows], arrays["unit"][rows], arrays["day"][rows]
        text = _format_values(self.study, self.item_codes, item, value)
        texts = [t for t in self.values.texts if first <= t[0] < stop]
        if texts:
            extra = np.array(texts, dtype=object)
            subject = np.concatenate([subject, extra[:, 0].astype(np.int32)])
            visit = np.concatenate([visit, extra[:, 1].astype(np.int16)])
            item = np.concatenate([item, extra[:, 2].astype(np.int16)])
            text = np.concatenate([text, extra[:, 3]])
            unit = np.concatenate([unit, np.zeros(len(extra), np.int16)])
            day = np.concatenate([day, extra[:, 4].astype(np.int32)])
        order = np.lexsort((item, visit, subject))
        days, position = np.unique(day[order], return_inverse=True)
        dates = np.asarray(pd.to_datetime(days, unit="D").strftime("%Y-%m-%d"), dtype=str)[position.reshape(-1)]
        return {
            "subject_id": self.subjects["subject_id"].to_numpy(dtype=str)[subject[order]],
            "visit": np.array(self.visit_codes, dtype=str)[visit[order]],
            "item": np.array(self.item_codes, dtype=str)[item[order]],
            "value": text[order].astype(str),
            "unit": np.array(self.unit_codes, dtype=str)[unit[order]],
            "date": dates,
        }

    def _arrays(self) -> dict[str, npt.NDArray[Any]]:
        if self._cache is None:
            table = self.values
            self._cache = {
                name: (np.concatenate(getattr(table, name)) if getattr(table, name) else np.array([], dtype=dtype))
                for name, dtype in (("subject", np.int32), ("visit", np.int16), ("item", np.int16), ("value", np.float64),
                                    ("unit", np.int16), ("day", np.int32))
            }  # fmt: skip
        return self._cache


def _format_values(
    study: Study, item_codes: tuple[str, ...], item: npt.NDArray[np.int16], value: FloatArray
) -> npt.NDArray[np.object_]:
    """Values as text, formatted per item (yes/no as true/false, choice codes, numbers with the fewest
    decimals that show every value of the item exactly)."""
    out = np.empty(len(value), dtype=object)
    for index in np.unique(item):
        definition = study.item_by_code[item_codes[index]]
        rows = item == index
        values = value[rows]
        if definition.type == "boolean":
            out[rows] = np.where(values == 1.0, "true", "false")
        elif definition.type == "choice":
            out[rows] = np.array([c.code for c in definition.choices], dtype=object)[values.astype(int)]
        else:
            out[rows] = format_numbers(values).astype(object)
    return out


def format_numbers(values: FloatArray) -> npt.NDArray[np.str_]:
    """Decimal text of numbers already rounded to at most 4 decimals, with one number of decimals for
    the whole array (the fewest that show every value exactly); integers arithmetic, no float repr."""
    decimals = next((d for d in range(5) if np.all(np.abs(values * 10**d - np.round(values * 10**d)) < 1e-6)), 4)
    scaled = np.round(values * 10**decimals).astype(np.int64)
    magnitude = np.abs(scaled)
    text = (magnitude // 10**decimals).astype(str)
    if decimals:
        fraction = np.strings.zfill((magnitude % 10**decimals).astype(str), decimals)
        text = np.strings.add(np.strings.add(text, "."), fraction)
    return np.where(scaled < 0, np.strings.add("-", text), text)


# --- the simulation ----------------------------------------------------------------------------------


@dataclass
class _State:
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


def simulate_cohort(
    study: Study,
    n: int,
    seed: int,
    params: SimulationParams | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimulatedCohort:
    """Simulate ``n`` subjects enrolled, infused and followed up as the protocol schedules.

    Args:
        study: the protocol (schedule, forms, items, reference equations of the derived items).
        n: number of subjects (1 or more).
        seed: seed of the random generator; the same seed and parameters give the same cohort.
        params: the parameters (defaults: :class:`SimulationParams`).
        progress: called with (visits done, visits in all) as the visits are filled.

    Raises:
        InputError: ``n`` below 1 (parameters are validated when they are built).
    """
    from rodnan.errors import InputError

    if n < 1:
        raise InputError("n", "must be at least 1", n)
    params = params or SimulationParams()
    rng = np.random.default_rng(seed)
    state = _draw_subjects(study, n, rng, params)
    visits = study.schedule.all_visits
    item_codes = tuple(item.code for item in study.items)
    item_index = {code: i for i, code in enumerate(item_codes)}
    units = _unit_codes(study)
    unit_index = {u: i for i, u in enumerate(units)}
    table = ValueTable()
    visit_days = np.full((len(visits), n), -1, dtype=np.int64)
    for v, visit in enumerate(visits):
        present, day = _visit_days(visit.code, visit.day, visit.window_after, state, rng, params, study)
        visit_days[v] = np.where(present, day, -1)
        months = (day - state.infusion_day) / DAYS_PER_MONTH
        values = _visit_values(visit.code, months, present, state, rng, params, study)
        subjects = np.flatnonzero(present).astype(np.int32)
        written: set[str] = set()
        for form in visit.forms:
            for code in study.form_by_code[form].items:
                if code not in values or code in written:
                    continue  # an item two forms of the visit share is recorded once
                written.add(code)
                if code in _TEXT_ITEMS:
                    for s in subjects:
                        table.texts.append((int(s), v, item_index[code], _TEXT_ITEMS[code](state, int(s)), int(day[s])))
                    continue
                column = values[code][subjects]
                keep = ~np.isnan(column)
                if form not in ("screening", "screening_details", "demographics", "infusion"):
                    keep &= rng.random(len(subjects)) >= params.missing_item_probability
                definition = study.item_by_code[code]
                unit = np.full(int(keep.sum()), unit_index.get(definition.unit or "", 0), dtype=np.int16)
                kept = column[keep]
                kept, unit = _alternative_units(code, kept, unit, rng, params, study, unit_index)
                table.subject.append(subjects[keep])
                table.visit.append(np.full(len(kept), v, dtype=np.int16))
                table.item.append(np.full(len(kept), item_index[code], dtype=np.int16))
                table.value.append(kept)
                table.unit.append(unit)
                table.day.append(day[subjects[keep]].astype(np.int32))
        if progress:
            progress(v + 1, len(visits))
    subjects_frame = _subjects_frame(study, state, visit_days, visits, params)
    events = _adverse_events(state, rng, params, subjects_frame)
    return SimulatedCohort(study, params, seed, subjects_frame, table, events, tuple(v.code for v in visits), item_codes, units)


def _unit_codes(study: Study) -> tuple[str, ...]:
    """Every unit a value may be written in: "" first (no unit), then each item's own and accepted units."""
    seen: dict[str, None] = {"": None}
    for item in study.items:
        for unit in [item.unit or "", *item.accepted_units]:
            seen.setdefault(unit, None)
    return tuple(seen)


def _derivation_options(study: Study, output_item: str) -> dict[str, str]:
    """The options the protocol's derivation of ``output_item`` uses (e.g. the GLI equation and group)."""
    for definition in study.derived_items:
        if output_item in definition.outputs.values():
            return {**definition.options, **{k: str(v) for k, v in definition.constants.items()}}
    raise KeyError(f"the protocol derives no {output_item!r}")


def _predicted(study: Study, output_item: str, state: _State) -> FloatArray:
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


def _draw_subjects(study: Study, n: int, rng: np.random.Generator, params: SimulationParams) -> _State:
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
    state = _State(n, female, age, height, weight, pathway, screening_day, infusion_day, end_day)
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


def _draw_baseline(state: _State, rng: np.random.Generator, p: SimulationParams) -> None:
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


def _draw_effects(state: _State, rng: np.random.Generator, p: SimulationParams) -> None:
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


def _visit_days(
    code: str, target_day: int, window: int, state: _State, rng: np.random.Generator, p: SimulationParams, study: Study
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


def _visit_values(
    code: str, months: FloatArray, present: BoolArray, state: _State, rng: np.random.Generator, p: SimulationParams, study: Study
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
        for text_item in _TEXT_ITEMS:
            out[text_item] = np.zeros(n)
    return out


def _mrss_areas(total: npt.NDArray[np.int64], state: _State, rng: np.random.Generator) -> npt.NDArray[np.int64]:
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


def _screening_items(state: _State, mrss_total: FloatArray) -> dict[str, FloatArray]:
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
    return out


def _organ_items(
    state: _State, months: FloatArray, r: FloatArray, follow_up: BoolArray, rng: np.random.Generator
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


def _serology_items(state: _State, r: FloatArray, follow_up: BoolArray, rng: np.random.Generator) -> dict[str, FloatArray]:
    n, b, e = state.n, state.baseline, state.effect
    noise = np.where(follow_up, 1.0, 0.0)
    out = {"ata_scl70": b["ata"], "aca": b["aca"], "ana": b["ana"], "ana_titre": b["ana_titre"]}
    out["ata_scl70_titre"] = np.round(b["ata_titre"] * np.exp(e["ata"] * r + noise * rng.normal(0, 0.1, n)), 1)
    for code in ("anti_ssdna", "anti_dsdna"):
        out[code] = np.round(b[code] * np.exp(noise * rng.normal(0, 0.15, n)), 1)
    for code in ("igg", "iga", "igm", "c3", "c4"):
        out[code] = np.round(b[code] * np.exp(noise * rng.normal(0, 0.06, n)), 2)
    return out


def _lymphocyte_items(state: _State, r: FloatArray, follow_up: BoolArray, rng: np.random.Generator) -> dict[str, FloatArray]:
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


def _date_text(day: int) -> str:
    return (EPOCH + dt.timedelta(days=day)).isoformat()


_TEXT_ITEMS: dict[str, Callable[[_State, int], str]] = {
    "infusion_date": lambda state, s: _date_text(int(state.infusion_day[s])),
    "product_lot": lambda state, s: f"MSC-{_date_text(int(state.infusion_day[s]))[:4]}-{int(state.baseline['lot'][s]):03d}",
    "donor_code": lambda state, s: f"D{int(state.baseline['donor'][s]):03d}",
}

# Lab values sometimes reported in another accepted unit (the unit the value is written in), rounded.
_ALTERNATIVE_UNITS = {"creatinine": ("mg/dL", 2), "albumin": ("g/dL", 2), "hemoglobin": ("g/dL", 1), "platelets": ("/mm3", -3)}


def _alternative_units(
    code: str,
    values: FloatArray,
    unit: npt.NDArray[np.int16],
    rng: np.random.Generator,
    p: SimulationParams,
    study: Study,
    unit_index: dict[str, int],
) -> tuple[FloatArray, npt.NDArray[np.int16]]:
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


END_REASONS = ("died", "withdrawn", "lost_to_follow_up")


def _subjects_frame(
    study: Study, state: _State, visit_days: npt.NDArray[np.int64], visits: tuple[VisitDef, ...], params: SimulationParams
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
            "product_lot": [_TEXT_ITEMS["product_lot"](state, i) for i in range(n)],
            "donor_code": [_TEXT_ITEMS["donor_code"](state, i) for i in range(n)],
            "infusion_weight_kg": b["infusion_weight"],
            "cells_administered": b["cells"].astype(np.int64),
            "cells_per_kg": cells_per_kg.astype(np.int64),
            "status": reason,
            "end_date": dates(end_day),
            "death_date": death,
            "last_visit": done,
        }
    )


def _adverse_events(state: _State, rng: np.random.Generator, p: SimulationParams, subjects: pd.DataFrame) -> pd.DataFrame:
    """Infusion reactions, conditioning fevers, infections during follow-up, fatal sepsis for some deaths."""
    n = state.n
    end = np.minimum(state.end_day, pd.to_datetime(subjects["end_date"]).to_numpy().astype("datetime64[D]").astype(np.int64))
    parts: list[pd.DataFrame] = []

    def add(
        kind: str, who: npt.NDArray[np.int64], onset: npt.NDArray[np.int64], length: npt.NDArray[np.int64], related: str
    ) -> None:
        if len(who) == 0:
            return
        term, code, soc, mix = AE_TERMS[kind]
        grade = rng.choice(np.arange(1, 6), size=len(who), p=np.asarray(mix, dtype=float))
        stop = onset + length
        ongoing = stop > end[who]
        parts.append(
            pd.DataFrame(
                {
                    "subject": who,
                    "term": term,
                    "meddra_code": code,
                    "soc": soc,
                    "grade": grade,
                    "serious": grade >= 3,
                    "related": related,
                    "onset_day": onset,
                    "end_day": np.where(ongoing & (grade < 5), -1, np.minimum(stop, end[who])),
                    "outcome": np.where(grade == 5, "fatal", np.where(ongoing, "not recovered", "recovered")),
                }
            )
        )

    infused = np.arange(n)
    reaction = infused[rng.random(n) < p.infusion_reaction_probability]
    add("infusion", reaction, state.infusion_day[reaction], rng.integers(0, 2, len(reaction)), "related")
    fever = infused[rng.random(n) < p.fever_probability]
    add(
        "fever",
        fever,
        state.infusion_day[fever] + rng.integers(-7, 4, len(fever)),
        rng.integers(1, 4, len(fever)),
        "possibly related",
    )
    years = np.clip((end - state.infusion_day) / 365.25, 0, None)
    counts = rng.poisson(p.infections_per_year * years)
    who = np.repeat(infused, counts)
    onset = state.infusion_day[who] + np.floor(rng.random(len(who)) * (end[who] - state.infusion_day[who])).astype(np.int64)
    kinds = rng.choice(len(INFECTION_MIX), size=len(who), p=[w for _, w in INFECTION_MIX])
    for k, (kind, _) in enumerate(INFECTION_MIX):
        chosen = kinds == k
        add(kind, who[chosen], onset[chosen], rng.integers(5, 21, int(chosen.sum())), "unlikely related")
    died = np.flatnonzero((subjects["status"] == "died").to_numpy() & (rng.random(n) < 0.4))  # some deaths are infectious
    days_before_death = rng.integers(2, 10, len(died))
    add("sepsis", died, state.end_day[died] - days_before_death, days_before_death, "unlikely related")
    columns = [
        "subject_id",
        "ae_number",
        "term",
        "meddra_code",
        "soc",
        "grade",
        "serious",
        "related",
        "onset_date",
        "end_date",
        "outcome",
    ]
    if not parts:
        return pd.DataFrame(columns=columns)
    events = (
        pd.concat(parts, ignore_index=True).sort_values(["subject", "onset_day", "term"], kind="stable").reset_index(drop=True)
    )
    events["subject_id"] = subjects["subject_id"].to_numpy()[events["subject"].to_numpy()]
    events["ae_number"] = events.groupby("subject").cumcount() + 1
    events["onset_date"] = pd.to_datetime(events["onset_day"], unit="D").dt.strftime("%Y-%m-%d")
    events["end_date"] = np.where(
        events["end_day"] < 0, "", pd.to_datetime(events["end_day"].clip(lower=0), unit="D").dt.strftime("%Y-%m-%d")
    )
    return events[columns]
