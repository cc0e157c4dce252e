"""The simulation: the subjects drawn, each scheduled visit filled in turn, then the subjects table and the
adverse events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from rodnan.core.protocol.model import Study
from rodnan.core.simulate.cohort.adverse_events import draw_adverse_events
from rodnan.core.simulate.cohort.extras import EXTRA_STREAM, draw_visit_extras
from rodnan.core.simulate.cohort.subjects import DAYS_PER_MONTH, TEXT_ITEMS, date_text, draw_subjects, subjects_table
from rodnan.core.simulate.cohort.table import SimulatedCohort, ValueTable
from rodnan.core.simulate.cohort.visits import alternative_units, draw_visit_days, draw_visit_values
from rodnan.core.simulate.params import SimulationParams

FloatArray = npt.NDArray[np.floating[Any]]  # numpy's stubs type np.round() results loosely
BoolArray = npt.NDArray[np.bool_]


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
    extra_rng = np.random.default_rng([seed, EXTRA_STREAM])
    state = draw_subjects(study, n, rng, params)
    visits = study.schedule.all_visits
    item_codes = tuple(item.code for item in study.items)
    item_index = {code: i for i, code in enumerate(item_codes)}
    units = _unit_codes(study)
    unit_index = {u: i for i, u in enumerate(units)}
    table = ValueTable()
    visit_days = np.full((len(visits), n), -1, dtype=np.int64)
    for v, visit in enumerate(visits):
        present, day = draw_visit_days(visit.code, visit.day, visit.window_after, state, rng, params, study)
        visit_days[v] = np.where(present, day, -1)
        months = (day - state.infusion_day) / DAYS_PER_MONTH
        values = draw_visit_values(visit.code, months, present, state, rng, params, study)
        extras = draw_visit_extras(study, visit, day, state, extra_rng)  # their own stream: the rest stays as it was
        subjects = np.flatnonzero(present).astype(np.int32)
        written: set[str] = set()
        logged = [code for form in study.log_forms for code in form.items if code in extras]  # a log record of the visit
        for form, code in [*((f, c) for f in visit.forms for c in study.form_by_code[f].items), *(("", c) for c in logged)]:
            if (code not in values and code not in extras) or code in written:
                continue  # an item two forms of the visit share is recorded once
            written.add(code)
            if code in TEXT_ITEMS:
                for s in subjects:
                    table.texts.append((int(s), v, item_index[code], TEXT_ITEMS[code](state, int(s)), int(day[s])))
                continue
            definition = study.item_by_code[code]
            if code in extras:
                column = extras[code][subjects]
                keep = ~np.isnan(column)
                if definition.type not in ("date", "choice"):  # dates and test results are always written
                    keep &= extra_rng.random(len(subjects)) >= params.missing_item_probability
                if definition.type == "date":
                    for s, when in zip(subjects[keep], column[keep], strict=True):
                        table.texts.append((int(s), v, item_index[code], date_text(int(when)), int(day[s])))
                    continue
            else:
                column = values[code][subjects]
                keep = ~np.isnan(column)
                if form not in ("screening", "screening_details", "demographics", "infusion"):
                    keep &= rng.random(len(subjects)) >= params.missing_item_probability
            unit = np.full(int(keep.sum()), unit_index.get(definition.unit or "", 0), dtype=np.int16)
            kept = column[keep]
            kept, unit = alternative_units(code, kept, unit, rng, params, study, unit_index)
            table.subject.append(subjects[keep])
            table.visit.append(np.full(len(kept), v, dtype=np.int16))
            table.item.append(np.full(len(kept), item_index[code], dtype=np.int16))
            table.value.append(kept)
            table.unit.append(unit)
            table.day.append(day[subjects[keep]].astype(np.int32))
        if progress:
            progress(v + 1, len(visits))
    subjects_frame = subjects_table(study, state, visit_days, visits, params)
    events = draw_adverse_events(state, rng, params, subjects_frame)
    return SimulatedCohort(study, params, seed, subjects_frame, table, events, tuple(v.code for v in visits), item_codes, units)


def _unit_codes(study: Study) -> tuple[str, ...]:
    """Every unit a value may be written in: "" first (no unit), then each item's own and accepted units."""
    seen: dict[str, None] = {"": None}
    for item in study.items:
        for unit in [item.unit or "", *item.accepted_units]:
            seen.setdefault(unit, None)
    return tuple(seen)
