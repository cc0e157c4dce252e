"""Values the simulator draws from a stream of its own: vital signs (at each visit and at the times around the
infusion), laboratory sample dates and pregnancy tests.

They come from their own random generator so that adding them left every other simulated value (and the
adverse events drawn after the visits) as it was for a given seed. Dates are day numbers (days since
1970-01-01); :func:`rodnan.core.simulate.cohort.simulation.simulate_cohort` writes them as ISO dates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from rodnan.core.protocol.model import Study, VisitDef
from rodnan.core.simulate.cohort.subjects import SubjectState

FloatArray = npt.NDArray[np.floating[Any]]

EXTRA_STREAM = 19
"""Seeds the extras' generator with (seed, EXTRA_STREAM): independent of the cohort's own stream."""

# Vital signs of adults with SSc at rest: mean, SD between subjects and visits, decimals, lowest, highest (project
# estimates; a cell infusion warms a little: TEMPERATURE_RISE at the end and 1 h after).
VITALS: dict[str, tuple[float, float, int, float, float]] = {
    "systolic_bp": (122, 14, 0, 85, 175),
    "diastolic_bp": (76, 9, 0, 50, 105),
    "heart_rate": (78, 10, 0, 50, 125),
    "body_temperature": (36.6, 0.25, 1, 35.8, 37.8),
    "respiratory_rate": (16, 2, 0, 10, 26),
    "spo2": (97, 1.2, 0, 91, 100),
}
TEMPERATURE_RISE = {"end": 0.2, "after_1h": 0.3}

LAB_FORMS = ("organ_function", "serology", "lymphocytes")
SAMPLE_DATE = "sample_date"
SAMPLE_DAYS_BEFORE = 3  # a sample is taken on the visit day or up to 3 days before (within the window)

CHILD_BEARING_AGE_MAX = 50  # a woman below 50 counts as of child-bearing potential (project simplification)
PREGNANCY_TEST = {"date": "pregnancy_test_date", "kind": "pregnancy_test_kind", "result": "pregnancy_test_result"}
SERUM, URINE, NEGATIVE = 0.0, 1.0, 0.0  # choice indices: serum/urine; negative/positive


def child_bearing(state: SubjectState) -> npt.NDArray[np.bool_]:
    """The subjects who are women of child-bearing potential."""
    result: npt.NDArray[np.bool_] = state.female & (state.age < CHILD_BEARING_AGE_MAX)
    return result


def draw_visit_extras(
    study: Study, visit: VisitDef, day: npt.NDArray[np.int64], state: SubjectState, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """The vital signs, sample date and pregnancy test of one visit, for every subject (NaN: not recorded).

    Args:
        study: the protocol.
        visit: the visit (its forms say what is collected).
        day: each subject's visit day (day numbers).
        state: the subjects.
        rng: the extras' own generator.
    """
    n = state.n
    out: dict[str, FloatArray] = {}
    for code in visit.forms:
        form = study.form_by_code[code]
        if form.timepoints:
            for timepoint, codes in form.at_timepoints():
                for item, base in zip(codes, form.timepoint_items, strict=True):
                    if base in VITALS:
                        out[item] = _vital(
                            base, n, rng, TEMPERATURE_RISE.get(timepoint.code, 0.0) if base == "body_temperature" else 0
                        )
        else:
            for item in form.items:
                if item in VITALS:
                    out[item] = _vital(item, n, rng, 0.0)
    if any(code in visit.forms for code in LAB_FORMS):
        if visit.day < 0:
            sample = day.astype(float)  # screening: the visit day (consent comes first)
        else:
            start = state.infusion_day + visit.day - visit.window_before
            end = state.infusion_day + visit.day + visit.window_after
            sample = np.clip(day - rng.integers(0, SAMPLE_DAYS_BEFORE + 1, n), start, end).astype(float)
        out[SAMPLE_DATE] = sample
    tested = child_bearing(state)
    if visit.day < 0 or visit.day == 0:
        before = 0 if visit.day < 0 else rng.integers(1, 4, n)  # before the infusion: 1 to 3 days before it
        out[PREGNANCY_TEST["date"]] = np.where(tested, day - before, np.nan)
        out[PREGNANCY_TEST["kind"]] = np.where(tested, SERUM if visit.day < 0 else URINE, np.nan)
        out[PREGNANCY_TEST["result"]] = np.where(tested, NEGATIVE, np.nan)
    return out


def _vital(code: str, n: int, rng: np.random.Generator, shift: float) -> FloatArray:
    mean, sd, decimals, low, high = VITALS[code]
    values: FloatArray = np.round(np.clip(rng.normal(mean + shift, sd, n), low, high), decimals)
    return values
