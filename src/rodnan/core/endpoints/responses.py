"""Responses at a visit (ACR-CRISS, EUSTAR skin improvement) and organ remission with its sustained form.

* A response is evaluated at the subject's assessment of its visit (e.g. M12); without that
  assessment it is unknown. An expression response is the expression's truth there.
* ACR-CRISS (:mod:`rodnan.core.instruments.acr_criss`) takes the five core items at baseline and at
  the visit, and its step-1 events from the protocol's triggers, each evaluated from the infusion to
  the visit date: true if the expression was met at any assessment or an adverse event with a listed
  term began; false if the expression was decided false at some assessment and was never met (an
  assessment where it is unknown is skipped) and no such adverse event began. A step-1 input without
  a trigger is unknown.
* Organ remission is evaluated for subjects whose organ was involved at baseline (the pathway met on
  the baseline values), at the scheduled visits ``every_months`` apart; a missed visit is unknown.
  Sustained remission at a visit = remission there and at the ``visits - 1`` scheduled visits before
  it (Kleene ``and``); its date is the first visit of the run.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core.endpoints.assessments import Assessments
from rodnan.core.endpoints.rules import CompiledEndpoints, CompiledResponse, CompiledTrigger
from rodnan.core.instruments import acr_criss
from rodnan.core.protocol.model import Study
from rodnan.core.verdict import Truth

FloatArray = npt.NDArray[np.float64]
TruthArray = npt.NDArray[np.int8]
CRISS_CORE_ITEMS = tuple(code for code, *_ in acr_criss.CORE_ITEMS)
"""The CRISS core items; the protocol must have items with these codes for the acr_criss response."""
REMISSION_COLUMNS = ("subject_id", "organ", "visit", "month", "date", "truth", "sustained")
SUMMARY_COLUMNS = ("subject_id", "organ", "involved", "remission", "remission_date", "sustained", "sustained_date")


def _positions(rows: pd.DataFrame, subject_ids: pd.Index, visit: str) -> npt.NDArray[np.int64]:
    """Row position of each subject's assessment at ``visit`` (-1 when there is none)."""
    at = rows.index[rows["visit"].to_numpy(dtype=object) == visit]
    lookup = pd.Series(at.to_numpy(), index=rows.loc[at, "subject_id"].to_numpy(dtype=object))
    lookup = lookup[~lookup.index.duplicated()]
    return lookup.reindex(subject_ids).fillna(-1).to_numpy(dtype=np.int64)


def _take(column: npt.NDArray[np.float64] | TruthArray, positions: npt.NDArray[np.int64], missing: float) -> FloatArray:
    out = np.where(positions >= 0, column[np.maximum(positions, 0)] if len(column) else missing, missing)
    return np.asarray(out, dtype=np.float64)


def derive_remission(
    study: Study,
    compiled: CompiledEndpoints,
    assessments: Assessments,
    columns: dict[str, FloatArray],
    involvement: pd.DataFrame,
    subject_ids: pd.Index,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Remission per scheduled visit (long) and per subject and organ (summary) for the infused ``subject_ids``."""
    remission_def = compiled.definition.remission
    if remission_def is None or not compiled.organs:
        return pd.DataFrame(columns=list(REMISSION_COLUMNS)), pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    every, run = remission_def.sustained.every_months, remission_def.sustained.visits
    fixed = {v.code for v in study.schedule.visits}
    generated = {round(v.day / study.schedule.days_per_month): v.code for v in study.schedule.all_visits if v.code not in fixed}
    months = [m for m in range(every, study.schedule.follow_up_months + 1, every) if m in generated]
    rows, n = assessments.rows, len(assessments)
    long_parts: list[pd.DataFrame] = []
    summaries: list[pd.DataFrame] = []
    for organ in compiled.organs:
        code = organ.definition.code
        involved = involvement[organ.definition.pathway].reindex(subject_ids).to_numpy(dtype=np.int8)
        truth_all = organ.expression.truth_array(columns, n)
        dates_all = rows["date"].to_numpy()
        ids = subject_ids[involved == Truth.TRUE]
        grid = np.full((len(ids), len(months)), Truth.UNKNOWN, dtype=np.int8)
        dates = np.full((len(ids), len(months)), np.datetime64("NaT"), dtype="datetime64[ns]")
        for k, month in enumerate(months):
            positions = _positions(rows, ids, generated[month])
            present = positions >= 0
            grid[present, k] = truth_all[positions[present]]
            dates[present, k] = dates_all[positions[present]]
        sustained = np.full_like(grid, Truth.FALSE)
        for k in range(run - 1, len(months)):
            sustained[:, k] = grid[:, k - run + 1 : k + 1].min(axis=1)
        long_parts.append(
            pd.DataFrame(
                {
                    "subject_id": np.repeat(ids.to_numpy(dtype=object), len(months)),
                    "organ": code,
                    "visit": np.tile(np.array([generated[m] for m in months], dtype=object), len(ids)),
                    "month": np.tile(np.array(months, dtype=np.float64), len(ids)),
                    "date": dates.reshape(-1),
                    "truth": grid.reshape(-1),
                    "sustained": sustained.reshape(-1),
                }
            )
        )
        first_remission = np.argmax(grid == Truth.TRUE, axis=1)
        has_remission = (grid == Truth.TRUE).any(axis=1)
        first_run = np.argmax(sustained == Truth.TRUE, axis=1)
        has_run = (sustained == Truth.TRUE).any(axis=1)
        rows_of = np.arange(len(ids))
        summary = pd.DataFrame(
            {
                "subject_id": subject_ids.to_numpy(dtype=object),
                "organ": code,
                "involved": involved,
                "remission": pd.array([pd.NA] * len(subject_ids), dtype="Int8"),
                "remission_date": pd.Series(pd.NaT, index=range(len(subject_ids)), dtype="datetime64[ns]"),
                "sustained": pd.array([pd.NA] * len(subject_ids), dtype="Int8"),
                "sustained_date": pd.Series(pd.NaT, index=range(len(subject_ids)), dtype="datetime64[ns]"),
            }
        )
        chosen = np.flatnonzero(involved == Truth.TRUE)
        summary.loc[chosen, "remission"] = grid.max(axis=1, initial=Truth.FALSE)
        summary.loc[chosen, "sustained"] = sustained.max(axis=1, initial=Truth.FALSE)
        summary.loc[chosen, "remission_date"] = np.where(has_remission, dates[rows_of, first_remission], np.datetime64("NaT"))
        onset = np.maximum(first_run - run + 1, 0)
        summary.loc[chosen, "sustained_date"] = np.where(has_run, dates[rows_of, onset], np.datetime64("NaT"))
        summaries.append(summary)
    remission = pd.concat(long_parts, ignore_index=True)
    return remission, pd.concat(summaries, ignore_index=True).sort_values(
        ["subject_id", "organ"], kind="stable", ignore_index=True
    )


def _trigger(
    trigger: CompiledTrigger,
    rows: pd.DataFrame,
    columns: dict[str, FloatArray],
    events: pd.DataFrame,
    subject_ids: pd.Index,
    start: npt.NDArray[np.datetime64],
    until: npt.NDArray[np.datetime64],
) -> TruthArray:
    """Whether the trigger fired between ``start`` and ``until`` (per subject; unknown when ``until`` is NaT)."""
    result = np.full(len(subject_ids), Truth.FALSE, dtype=np.int8)
    if trigger.expression is not None:
        truth = trigger.expression.truth_array(columns, len(rows))
        limit = pd.Series(until, index=subject_ids).reindex(rows["subject_id"].to_numpy(dtype=object)).to_numpy()
        window = ~np.isnat(limit) & (rows["date"].to_numpy() <= limit)
        frame = pd.DataFrame({"s": rows["subject_id"].to_numpy(dtype=object)[window], "t": truth[window]})
        met = frame[frame["t"] == Truth.TRUE]["s"].unique()
        ruled_out = frame[frame["t"] == Truth.FALSE]["s"].unique()
        expression = np.full(len(subject_ids), Truth.UNKNOWN, dtype=np.int8)
        expression[subject_ids.isin(ruled_out)] = Truth.FALSE
        expression[subject_ids.isin(met)] = Truth.TRUE
        result = expression
    if trigger.terms and len(events):
        chosen = events[events["term"].str.lower().isin(list(trigger.terms))]
        lookup = pd.DataFrame({"start": start, "until": until}, index=subject_ids).reindex(
            chosen["subject_id"].to_numpy(dtype=object)
        )
        onset = chosen["onset_date"].to_numpy()
        began = (onset >= lookup["start"].to_numpy()) & (onset <= lookup["until"].to_numpy())
        result[subject_ids.isin(chosen["subject_id"].to_numpy(dtype=object)[began])] = Truth.TRUE
    result[np.isnat(until)] = Truth.UNKNOWN
    return result


def _criss(
    response: CompiledResponse,
    assessments: Assessments,
    columns: dict[str, FloatArray],
    events: pd.DataFrame,
    subject_ids: pd.Index,
    start: npt.NDArray[np.datetime64],
    positions: npt.NDArray[np.int64],
    until: npt.NDArray[np.datetime64],
) -> tuple[TruthArray, FloatArray]:
    """ACR-CRISS verdict (improved = true) and probability per subject, vectorised over subjects.

    Same two steps as :func:`rodnan.core.instruments.acr_criss.score_acr_criss` (the tests check the
    two agree subject by subject).
    """
    n = len(subject_ids)
    base = {code: _take(assessments.baseline.get(code, np.array([])), positions, np.nan) for code in CRISS_CORE_ITEMS}
    follow = {code: _take(assessments.values.get(code, np.array([])), positions, np.nan) for code in CRISS_CORE_ITEMS}
    inputs = {
        name: (
            _trigger(response.step1[name], assessments.rows, columns, events, subject_ids, start, until)
            if name in response.step1
            else np.full(n, Truth.UNKNOWN, dtype=np.int8)
        )
        for name, _ in acr_criss.STEP1_EVENTS
    }
    fvc_b, fvc_f = base[acr_criss.FVC_ITEM], follow[acr_criss.FVC_ITEM]
    known = ~np.isnan(fvc_b) & ~np.isnan(fvc_f)
    with np.errstate(invalid="ignore"):
        declined = np.where(known, np.where((fvc_b - fvc_f) * 100.0 >= acr_criss.FVC_DECLINE_PCT * fvc_b, 2, 0), 1)
        below = np.where(np.isnan(fvc_f), 1, np.where(fvc_f < acr_criss.FVC_BELOW_PCT_PRED, 2, 0))
    fvc_event = np.minimum.reduce([declined, below, inputs["fvc_decline_repeat_confirmed"], inputs["ild_confirmed_hrct"]])
    step1 = np.maximum.reduce([inputs["new_renal_crisis"], fvc_event, inputs["new_lv_failure"], inputs["new_pah"]]).astype(
        np.int8
    )
    lin = np.full(n, acr_criss.INTERCEPT)
    for code, _, _, _, coefficient in acr_criss.CORE_ITEMS:
        lin = lin + coefficient * (follow[code] - base[code])
    with np.errstate(over="ignore"):
        step2 = 1.0 / (1.0 + np.exp(-lin))  # NaN where a change is missing
    improved = step2 >= acr_criss.IMPROVED_PROBABILITY
    decided = ~np.isnan(step2)
    truth = np.full(n, Truth.UNKNOWN, dtype=np.int8)
    probability = np.full(n, np.nan)
    truth[step1 == Truth.TRUE] = Truth.FALSE
    probability[step1 == Truth.TRUE] = 0.0
    clear = (step1 == Truth.FALSE) & decided
    truth[clear] = np.where(improved[clear], Truth.TRUE, Truth.FALSE)
    probability[clear] = step2[clear]
    truth[(step1 == Truth.UNKNOWN) & decided & ~improved] = Truth.FALSE  # both readings of step 1 agree
    return truth, probability


def derive_responses_at_visits(
    compiled: CompiledEndpoints,
    treated: pd.DataFrame,
    assessments: Assessments,
    columns: dict[str, FloatArray],
    events: pd.DataFrame,
) -> pd.DataFrame:
    """One row per infused subject and response: subject_id, response, visit, date, truth, value."""
    subject_ids = pd.Index(treated["subject_id"], dtype=object)
    start = treated["infusion_date"].to_numpy(dtype="datetime64[ns]")
    rows, n = assessments.rows, len(assessments)
    parts: list[pd.DataFrame] = []
    for response in compiled.responses:
        visit = response.definition.visit
        positions = _positions(rows, subject_ids, visit)
        dates = np.where(
            positions >= 0, rows["date"].to_numpy()[np.maximum(positions, 0)] if n else np.datetime64("NaT"), np.datetime64("NaT")
        )
        dates = dates.astype("datetime64[ns]")
        if response.expression is not None:
            truth = _take(response.expression.truth_array(columns, n), positions, Truth.UNKNOWN).astype(np.int8)
            value = np.full(len(subject_ids), np.nan)
        else:
            truth, value = _criss(response, assessments, columns, events, subject_ids, start, positions, dates)
        parts.append(
            pd.DataFrame(
                {
                    "subject_id": subject_ids.to_numpy(dtype=object),
                    "response": response.definition.code,
                    "visit": visit,
                    "date": dates,
                    "truth": truth,
                    "value": value,
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["subject_id", "response", "visit", "date", "truth", "value"])
    return pd.concat(parts, ignore_index=True)
