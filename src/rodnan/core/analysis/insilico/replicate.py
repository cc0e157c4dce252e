"""One batch of replicates analysed as planned: the simulated cohorts through the trial data contract, their
endpoints, the mRSS pairs and DFS rows of each replicate, and each replicate's analyses (a failure is
recorded, never raised).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from rodnan.core.analysis.datasets import derive_parameter_visits
from rodnan.core.analysis.insilico.results import MRSS_ITEM, MRSS_VISIT, REPLICATE_COLUMNS
from rodnan.core.analysis.longitudinal import compare_paired_wilcoxon
from rodnan.core.analysis.survival import fit_kaplan_meier
from rodnan.core.endpoints import compile_endpoints, evaluate_endpoints, split_variable
from rodnan.core.endpoints.assessments import visit_months
from rodnan.core.protocol.model import Study
from rodnan.core.simulate.cohort import SimulatedCohort
from rodnan.core.trialdata import from_frames
from rodnan.errors import InputError, RodnanError

PERMUTATION_MAX_CHANGES = 13  # compare_paired_wilcoxon enumerates sign changes up to this many tied nonzero changes


_EXPECTED_ERRORS = (RodnanError, ValueError, ArithmeticError, np.linalg.LinAlgError, RuntimeError)


def analysis_items(study: Study) -> frozenset[str]:
    """The items the endpoints read, and (recursively) the inputs of the derived items among them."""
    compiled = compile_endpoints(study)
    needed = {split_variable(study, variable)[0] for variable in compiled.variables()} | {MRSS_ITEM}
    grown = True
    while grown:
        grown = False
        for definition in study.derived_items:
            if set(definition.outputs.values()) & needed:
                inputs = set(definition.inputs.values()) | set(definition.option_items.values())
                if not inputs <= needed:
                    needed |= inputs
                    grown = True
    return frozenset(needed)


def paired_wilcoxon_p(baseline: npt.NDArray[np.float64], followup: npt.NDArray[np.float64]) -> tuple[float, str]:
    """The two-sided p-value and method of :func:`~rodnan.core.analysis.longitudinal.compare_paired_wilcoxon`.

    Identical results (tested), but where that function enumerates the sign changes with scipy's
    ``permutation_test`` (ties among at most 13 nonzero changes: about 2 s a call, one trial in 25 at
    n = 20), the 2^m sign patterns are enumerated here as one matrix product (a millisecond).
    """
    change = followup - baseline
    nonzero = change[np.isfinite(change) & (change != 0)]
    tied = len(np.unique(np.abs(nonzero))) < len(nonzero)
    if not (tied and len(nonzero) <= PERMUTATION_MAX_CHANGES):
        test = compare_paired_wilcoxon(baseline, followup)
        return test.p, test.method
    ranks = stats.rankdata(np.abs(nonzero))
    observed = float(ranks[nonzero > 0].sum())
    patterns = (np.arange(2 ** len(nonzero))[:, None] >> np.arange(len(nonzero))[None, :]) & 1  # every sign pattern
    null = patterns @ ranks  # the sum of the positive ranks under each pattern
    gamma = abs(observed) * np.finfo(np.float64).eps * 100  # scipy's tolerance for equal statistics
    less, greater = np.mean(null <= observed + gamma), np.mean(null >= observed - gamma)
    return float(min(2 * min(less, greater), 1.0)), "permutation"


def dfs_months(study: Study, dfs: pd.DataFrame) -> npt.NDArray[np.float64]:
    """DFS times in months on the scheduled-visit scale: the month of the scheduled visit where the event was
    found or the subject censored (:func:`~rodnan.core.endpoints.assessments.visit_months`), else (death,
    adverse-event trigger, unscheduled visit, censoring at the infusion) the days / the schedule's days per month.

    Args:
        study: the protocol (schedule).
        dfs: :attr:`~rodnan.core.endpoints.EndpointsResult.dfs` rows (columns visit and days).
    """
    months = visit_months(study)
    scheduled = dfs["visit"].astype(object).map(months).to_numpy(dtype=np.float64, na_value=np.nan)
    elapsed = dfs["days"].to_numpy(dtype=np.float64) / study.schedule.days_per_month
    result: npt.NDArray[np.float64] = np.where(np.isnan(scheduled), elapsed, scheduled)
    return result


def cohort_frames(
    cohort: SimulatedCohort, items: Iterable[str], prefix: str = ""
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The subjects, the values of ``items`` (as entered: codes for choices, numbers in their unit) and the
    adverse events of a simulated cohort, in :func:`~rodnan.core.trialdata.from_frames`' layout, with
    ``prefix`` added to every subject id. Built from the cohort's compact value table (no text formatting).
    """
    study, table = cohort.study, cohort.values
    wanted = np.array([i for i, code in enumerate(cohort.item_codes) if code in set(items)], dtype=np.int64)
    item = np.concatenate(table.item) if table.item else np.array([], dtype=np.int16)
    keep = np.isin(item, wanted)
    item = item[keep]

    def column(name: str) -> npt.NDArray[Any]:
        parts = getattr(table, name)
        return np.concatenate(parts)[keep] if parts else np.array([])

    subject, visit, value, unit, day = (column(name) for name in ("subject", "visit", "value", "unit", "day"))
    entered = value.astype(object)
    for index in np.unique(item):
        definition = study.item_by_code[cohort.item_codes[index]]
        if definition.type == "choice":
            rows = item == index
            entered[rows] = np.array([c.code for c in definition.choices], dtype=object)[value[rows].astype(np.int64)]
    ids = (prefix + cohort.subjects["subject_id"].astype(str)).to_numpy(dtype=object)
    values = pd.DataFrame(
        {
            "subject_id": ids[subject.astype(np.int64)],
            "visit": np.array(cohort.visit_codes, dtype=object)[visit.astype(np.int64)],
            "item": np.array(cohort.item_codes, dtype=object)[item.astype(np.int64)],
            "value": entered,
            "unit": np.array(cohort.unit_codes, dtype=object)[unit.astype(np.int64)],
            "date": (np.datetime64("1970-01-01", "D") + day.astype(np.int64).astype("timedelta64[D]")).astype("datetime64[ns]"),
        }
    )
    subjects = cohort.subjects.assign(subject_id=ids)
    events = cohort.adverse_events.assign(subject_id=prefix + cohort.adverse_events["subject_id"].astype(str))
    return subjects, values, events


def evaluate_replicates(
    study: Study, items: frozenset[str], cohorts: list[tuple[str, SimulatedCohort]]
) -> tuple[dict[str, dict[str, npt.NDArray[np.float64]]], dict[str, pd.DataFrame]]:
    """Evaluate the cohorts together; per prefix, the mRSS pairs (baseline, followup) and the DFS rows."""
    frames = [cohort_frames(cohort, items, prefix) for prefix, cohort in cohorts]
    data = from_frames(
        study,
        pd.concat([f[0] for f in frames], ignore_index=True),
        pd.concat([f[1] for f in frames], ignore_index=True),
        pd.concat([f[2] for f in frames], ignore_index=True),
        source="in-silico trial",
    )
    result = evaluate_endpoints(data)
    prefixes = [prefix for prefix, _ in cohorts]

    def owner(ids: pd.Series, strip: str = "") -> npt.NDArray[np.object_]:
        text = ids.astype(str).str.slice(len(strip)) if strip else ids.astype(str)
        return (text.str.split("-", n=1).str[0] + "-").to_numpy(dtype=object)

    bds = derive_parameter_visits(data, result, items=[MRSS_ITEM])
    rows = bds[(bds["AVISIT"] == MRSS_VISIT) & bds["CHG"].notna() & bds["BASE"].notna()]
    registry = f"{study.identity.registry_number}-"
    row_owner = owner(rows["USUBJID"], registry)
    pairs = {
        p: {
            "baseline": rows["BASE"].to_numpy(dtype=np.float64)[row_owner == p],
            "followup": rows["AVAL"].to_numpy(dtype=np.float64)[row_owner == p],
        }
        for p in prefixes
    }
    rows_dfs = result.dfs.assign(months=dfs_months(study, result.dfs))
    dfs_owner = owner(rows_dfs["subject_id"])
    dfs = {p: rows_dfs[dfs_owner == p].reset_index(drop=True) for p in prefixes}
    return pairs, dfs


def analyse_replicate(
    pairs: dict[str, npt.NDArray[np.float64]] | None, dfs: pd.DataFrame | None, alpha: float, month: float
) -> dict[str, Any]:
    """The per-replicate analyses; a failure becomes NaNs and a message, never an exception."""
    out: dict[str, Any] = dict.fromkeys(REPLICATE_COLUMNS[2:], math.nan)
    out.update(mrss_wilcoxon_method="", dfs_median_reached=False, dfs_rules="")
    failures: list[str] = []
    out["n_infused"] = 0 if dfs is None else len(dfs)
    baseline = np.array([]) if pairs is None else pairs["baseline"]
    followup = np.array([]) if pairs is None else pairs["followup"]
    change = followup - baseline
    m = len(change)
    out["mrss_pairs"] = m
    try:
        if m < 2:
            raise InputError("mrss", f"fewer than two complete baseline/{MRSS_VISIT} pairs", m)
        mean, sd = float(change.mean()), float(change.std(ddof=1))
        half = float(stats.t.ppf(1 - alpha / 2, m - 1)) * sd / math.sqrt(m)
        out.update(mrss_mean_change=mean, mrss_sd_change=sd, mrss_lower=mean - half, mrss_upper=mean + half)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = mean / (sd / math.sqrt(m)) if sd > 0 else (math.inf if mean != 0 else math.nan)
        out["mrss_t_p"] = float(2 * stats.t.sf(abs(t), m - 1)) if not math.isnan(t) else math.nan
    except _EXPECTED_ERRORS as exc:
        failures.append(f"mrss mean change: {_message(exc)}")
    try:
        if m < 1:
            raise InputError("mrss", f"no complete baseline/{MRSS_VISIT} pair", m)
        p_value, method = paired_wilcoxon_p(baseline, followup)
        out.update(mrss_wilcoxon_p=p_value, mrss_wilcoxon_method=method)
        if not math.isfinite(p_value):
            failures.append("mrss wilcoxon: no p-value (every change is 0)")
    except _EXPECTED_ERRORS as exc:
        failures.append(f"mrss wilcoxon: {_message(exc)}")
    try:
        if dfs is None or len(dfs) == 0:
            raise InputError("dfs", "no infused subject")
        fit = fit_kaplan_meier(dfs["months"].to_numpy(dtype=np.float64), dfs["event"].to_numpy(dtype=bool), conf_level=1 - alpha)
        at = fit.survival_at([month]).iloc[0]
        out.update(
            dfs_events=fit.events,
            dfs_survival=float(at["survival"]),
            dfs_lower=float(at["lower"]),
            dfs_upper=float(at["upper"]),
            dfs_median=fit.median.time,
            dfs_median_reached=bool(math.isfinite(fit.median.time)),
            dfs_rules=" ".join(sorted(str(rule) for rule in dfs.loc[dfs["event"].to_numpy(dtype=bool), "rule"])),
        )
        if not math.isfinite(float(at["survival"])):
            failures.append(f"dfs km: DFS at month {month:g} not estimable (every follow-up ends before it)")
    except _EXPECTED_ERRORS as exc:
        failures.append(f"dfs km: {_message(exc)}")
    out["failures"] = " | ".join(failures)
    return out


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
