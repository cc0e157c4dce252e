"""Running an in-silico trial: the replicate seeds, the replicates simulated and analysed in batches, the
summary; and the reference values estimated from one large cohort.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core.analysis.insilico.replicate import analyse_replicate, analysis_items, evaluate_replicates
from rodnan.core.analysis.insilico.results import (
    MRSS_VISIT,
    REPLICATE_COLUMNS,
    InSilicoResult,
    ReferenceValues,
    summarise_replicates,
)
from rodnan.core.analysis.survival import fit_kaplan_meier
from rodnan.core.protocol.model import Study
from rodnan.core.simulate.cohort import SimulatedCohort, simulate_cohort
from rodnan.core.simulate.params import SimulationParams
from rodnan.errors import InputError

REPLICATES_PER_BATCH = 25  # replicates evaluated together; results do not depend on it (tested)
REFERENCE_SUBJECTS_PER_BATCH = 2000
REFERENCE_STREAM = 2**32  # first spawn-key element of the reference cohort's parts (replicates use (r,))


Progress = Callable[[int, int], None]


def replicate_seeds(seed: int, reps: int) -> list[int]:
    """The simulation seed of each replicate: 64 bits of ``SeedSequence(seed, spawn_key=(r,))``, r = 0 .. reps - 1."""
    return [_derived_seed(seed, (r,)) for r in range(reps)]


def _derived_seed(seed: int, key: tuple[int, ...]) -> int:
    if seed < 0:
        raise InputError("seed", "must not be negative", seed)
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1, np.uint64)[0])


def run_insilico_trial(
    study: Study,
    n: int,
    reps: int,
    seed: int,
    params: SimulationParams | None = None,
    alpha: float = 0.05,
    progress: Progress | None = None,
    dfs_month: float = 12.0,
    dfs_null: float | None = None,
    reference: ReferenceValues | None = None,
) -> InSilicoResult:
    """Simulate ``reps`` trials of ``n`` subjects and analyse each as planned; summarise power and precision.

    Args:
        study: the protocol (schedule, items, endpoints).
        n: subjects per trial (at least 1).
        reps: number of simulated trials (at least 1).
        seed: master seed (>= 0); the replicate seeds derive from it (:func:`replicate_seeds`).
        params: the simulation assumptions (default :class:`SimulationParams`).
        alpha: significance level of the tests; the intervals are (1 - alpha) intervals.
        progress: called with (replicates done, reps).
        dfs_month: the month at which DFS is read (scheduled-visit time scale, :func:`dfs_months`).
        dfs_null: if given, a DFS the trial should beat: power_vs_null is the fraction of trials whose
            lower DFS limit is above it.
        reference: the estimands from a large cohort (:func:`estimate_reference`); without it the true mRSS
            change is ``params.effect_mrss_12m`` and DFS coverage is not computed.

    Returns:
        An :class:`InSilicoResult` (deterministic for the same arguments).

    Raises:
        InputError: n or reps below 1, alpha outside (0, 1), a negative seed or dfs_month, dfs_null outside
            (0, 1), a reference estimated at another month, or a protocol without visit M12.
    """
    params = params or SimulationParams()
    _check(study, n, reps, alpha, dfs_month, dfs_null)
    if reference is not None and reference.dfs_month != dfs_month:
        raise InputError(
            "reference", f"was estimated at month {reference.dfs_month:g}, not at {dfs_month:g}", reference.dfs_month
        )
    seeds = replicate_seeds(seed, reps)
    items = analysis_items(study)
    rows: list[dict[str, Any]] = []
    for first in range(0, reps, REPLICATES_PER_BATCH):
        batch = range(first, min(first + REPLICATES_PER_BATCH, reps))
        cohorts: list[tuple[str, SimulatedCohort]] = []
        for r in batch:
            cohorts.append((f"R{r}-", simulate_cohort(study, n, seeds[r], params)))
            if progress and r != batch[-1]:
                progress(r + 1, reps)
        pairs, dfs = evaluate_replicates(study, items, cohorts)
        for (prefix, _), r in zip(cohorts, batch, strict=True):
            rows.append(
                {"replicate": r, "seed": seeds[r], **analyse_replicate(pairs.get(prefix), dfs.get(prefix), alpha, dfs_month)}
            )
        if progress:
            progress(batch[-1] + 1, reps)
    replicates = pd.DataFrame(rows, columns=list(REPLICATE_COLUMNS))
    true_change, source = (
        (params.effect_mrss_12m, "the parameters: effect_mrss_12m")
        if reference is None
        else (reference.mrss_change, f"reference cohort of {reference.n:,} subjects (seed {reference.seed})")
    )
    mrss, dfs_summary = summarise_replicates(
        replicates, alpha, true_change, source, dfs_month, None if reference is None else reference.dfs_survival, dfs_null
    )
    failures: dict[str, int] = {}
    messages: list[str] = []
    for text in replicates["failures"]:
        for part in filter(None, str(text).split(" | ")):
            analysis = part.partition(": ")[0]
            failures[analysis] = failures.get(analysis, 0) + 1
            if part not in messages and len(messages) < 20:
                messages.append(part)
    return InSilicoResult(
        protocol=f"{study.protocol.code} v{study.protocol.version}",
        n=n,
        reps=reps,
        seed=seed,
        alpha=alpha,
        params=params,
        replicates=replicates,
        mrss=mrss,
        dfs=dfs_summary,
        failures=failures,
        failure_messages=tuple(messages),
        reference=reference,
    )


def estimate_reference(
    study: Study,
    n: int,
    seed: int,
    params: SimulationParams | None = None,
    dfs_month: float = 12.0,
    progress: Progress | None = None,
) -> ReferenceValues:
    """Estimate the true mean mRSS change and DFS at ``dfs_month`` from one cohort of ``n`` subjects.

    The cohort is simulated in parts of :data:`REFERENCE_SUBJECTS_PER_BATCH` subjects (to bound memory), part k
    with seed ``SeedSequence(seed, spawn_key=(REFERENCE_STREAM, k))`` (a stream apart from the replicates'), and
    evaluated by the same pipeline as the replicates.

    Raises:
        InputError: n below 2, a negative seed or dfs_month.
    """
    params = params or SimulationParams()
    _check(study, max(n, 1), 1, 0.05, dfs_month, None)
    if n < 2:
        raise InputError("n", "must be at least 2", n)
    items = analysis_items(study)
    parts = math.ceil(n / REFERENCE_SUBJECTS_PER_BATCH)
    seeds = [_derived_seed(seed, (REFERENCE_STREAM, k)) for k in range(parts)]
    changes: list[npt.NDArray[np.float64]] = []
    times: list[npt.NDArray[np.float64]] = []
    events: list[npt.NDArray[np.bool_]] = []
    for k in range(parts):
        size = min(REFERENCE_SUBJECTS_PER_BATCH, n - k * REFERENCE_SUBJECTS_PER_BATCH)
        prefix = f"P{k}-"
        pairs, dfs = evaluate_replicates(study, items, [(prefix, simulate_cohort(study, size, seeds[k], params))])
        if prefix in pairs:
            changes.append(pairs[prefix]["followup"] - pairs[prefix]["baseline"])
        if prefix in dfs:
            times.append(dfs[prefix]["months"].to_numpy(dtype=np.float64))
            events.append(dfs[prefix]["event"].to_numpy(dtype=bool))
        if progress:
            progress(k + 1, parts)
    change = np.concatenate(changes) if changes else np.array([])
    fit = fit_kaplan_meier(np.concatenate(times), np.concatenate(events))
    at = fit.survival_at([dfs_month]).iloc[0]
    return ReferenceValues(
        mrss_change=float(change.mean()) if len(change) else math.nan,
        mrss_change_se=float(change.std(ddof=1) / math.sqrt(len(change))) if len(change) > 1 else math.nan,
        dfs_survival=float(at["survival"]),
        dfs_survival_se=float(at["std_err"]),
        dfs_month=dfs_month,
        n=n,
        pairs=len(change),
        seed=seed,
    )


def _check(study: Study, n: int, reps: int, alpha: float, dfs_month: float, dfs_null: float | None) -> None:
    if n < 1:
        raise InputError("n", "must be at least 1", n)
    if reps < 1:
        raise InputError("reps", "must be at least 1", reps)
    if not 0 < alpha < 1:
        raise InputError("alpha", "must be between 0 and 1 (exclusive)", alpha)
    if dfs_null is not None and not 0 < dfs_null < 1:
        raise InputError("dfs_null", "must be between 0 and 1 (exclusive)", dfs_null)
    if MRSS_VISIT not in study.visit_by_code:
        raise InputError("study", f"has no visit {MRSS_VISIT} (the mRSS change is analysed at {MRSS_VISIT})")
    if not (math.isfinite(dfs_month) and dfs_month >= 0):
        raise InputError("dfs_month", "must be a month >= 0", dfs_month)
