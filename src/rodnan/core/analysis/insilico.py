"""In-silico trial: the cohort simulator and the planned analysis run many times, for power and precision.

Each replicate is one trial of ``n`` subjects: :func:`~rodnan.core.simulate.cohort.simulate_cohort` with
the replicate's own seed, read through the analysis interface
(:func:`~rodnan.core.trialdata.from_frames`, deriving the protocol's derived items), its endpoints
evaluated (:func:`~rodnan.core.endpoints.evaluate_endpoints`), and then the two analyses of issue #6:

* **mRSS change, baseline to month 12** (the BDS rows of parameter MRSS at visit M12 with their baseline,
  :func:`~rodnan.core.analysis.datasets.derive_parameter_visits`; complete cases): the paired Wilcoxon
  signed-rank test (:func:`~rodnan.core.analysis.longitudinal.compare_paired_wilcoxon`, R's
  ``wilcox.test(paired = TRUE)``) and the mean change with its t interval (mean +- t(1 - alpha/2, m - 1)
  SD / sqrt(m) over the m complete pairs; the interval excludes 0 exactly when the paired t-test rejects).
* **Disease-free survival**: the Kaplan-Meier estimate (:func:`~rodnan.core.analysis.survival.fit_kaplan_meier`,
  log-log interval) at month ``dfs_month`` (12), the number of events and whether the median DFS is reached.
  Time is on the scheduled-visit scale (:func:`dfs_months`): an event found, or a censoring, at a scheduled
  visit is at that visit's month (M12 is month 12 whether it took place on day 358 or 386); a death, an
  adverse-event trigger or an unscheduled assessment is at its day / days-per-month. On the day scale the
  events of the M12 visit spread over its window, where everyone leaves follow-up, and the Kaplan-Meier
  estimate at "day 365" then depends on how many subjects were still to be seen that week (a small trial
  drops less than a large one); on the visit scale the 12-month rate is P(no event found up to and
  including the M12 assessment), the same estimand whatever the trial size.

Replicates and seeds. Replicate ``r`` uses the seed ``replicate_seeds(seed, reps)[r]``, the first 64 bits of
``numpy.random.SeedSequence(seed, spawn_key=(r,))`` (what ``SeedSequence(seed).spawn()`` gives its r-th child):
the same seed gives the same result, the first replicates do not change when more are asked for, and any
replicate can be rebuilt alone with ``rodnan simulate --n N --seed <its seed>`` (same parameters). Replicates are
analysed in batches (their subjects renamed ``R<r>-<id>`` and evaluated together, which is the same per subject and
several times faster); only the items the endpoints read, and the inputs of the derived items among them,
are kept, so SF-36 and HAQ-DI are not derived.

Failures. An analysis that raises or gives no finite result in a replicate (fewer than two complete pairs,
every change zero, ...) is counted in ``failures`` with its message; it counts as not significant in the
power, and is left out of the means, SDs, coverage and widths.

The true mRSS change for coverage and bias is ``params.effect_mrss_12m`` (the simulator's expected change at
month 12 before the score is capped at 51, which pulls the simulated mean about 0.1-0.2 points lower), unless
a :class:`ReferenceValues` estimated from one large simulated cohort (:func:`estimate_reference`) is given;
that also supplies the reference 12-month DFS for its coverage.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from rodnan.core.analysis.datasets import derive_parameter_visits
from rodnan.core.analysis.longitudinal import compare_paired_wilcoxon
from rodnan.core.analysis.survival import fit_kaplan_meier
from rodnan.core.endpoints import compile_endpoints, evaluate_endpoints, split_variable
from rodnan.core.endpoints.assessments import visit_months
from rodnan.core.protocol.model import Study
from rodnan.core.simulate.cohort import SimulatedCohort, simulate_cohort
from rodnan.core.simulate.params import SimulationParams
from rodnan.core.trialdata import from_frames
from rodnan.errors import InputError, RodnanError

MRSS_ITEM = "mrss"
MRSS_VISIT = "M12"
REPLICATES_PER_BATCH = 25  # replicates evaluated together; results do not depend on it (tested)
REFERENCE_SUBJECTS_PER_BATCH = 2000
REFERENCE_STREAM = 2**32  # first spawn-key element of the reference cohort's parts (replicates use (r,))
PERMUTATION_MAX_CHANGES = 13  # compare_paired_wilcoxon enumerates sign changes up to this many tied nonzero changes
REPLICATE_COLUMNS = (
    "replicate",
    "seed",
    "n_infused",
    "mrss_pairs",
    "mrss_mean_change",
    "mrss_sd_change",
    "mrss_lower",
    "mrss_upper",
    "mrss_t_p",
    "mrss_wilcoxon_p",
    "mrss_wilcoxon_method",
    "dfs_events",
    "dfs_survival",
    "dfs_lower",
    "dfs_upper",
    "dfs_median",
    "dfs_median_reached",
    "dfs_rules",
    "failures",
)
"""Columns of :attr:`InSilicoResult.replicates`, one row per replicate."""
_EXPECTED_ERRORS = (RodnanError, ValueError, ArithmeticError, np.linalg.LinAlgError, RuntimeError)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReferenceValues:
    """The estimands, estimated from one large simulated cohort run through the same pipeline.

    Attributes:
        mrss_change: mean mRSS change baseline to M12 over the complete pairs.
        mrss_change_se: its Monte Carlo standard error (SD / sqrt(pairs)).
        dfs_survival: Kaplan-Meier DFS at ``dfs_month`` (scheduled-visit time scale, :func:`dfs_months`).
        dfs_survival_se: its Greenwood standard error.
        dfs_month: the month DFS was read at.
        n: subjects simulated; pairs: complete mRSS pairs among them.
        seed: the seed of the reference cohort.
    """

    mrss_change: float
    mrss_change_se: float
    dfs_survival: float
    dfs_survival_se: float
    dfs_month: float
    n: int
    pairs: int
    seed: int


@dataclass(frozen=True)
class MrssSummary:
    """Power and precision of the mRSS change (baseline to M12) over the replicates.

    Attributes:
        true_change: the true mean change the estimates are compared with.
        true_change_source: "the parameters: effect_mrss_12m" or "reference cohort of N subjects (seed S)".
        power_wilcoxon: fraction of all replicates with a paired Wilcoxon p < alpha (the primary test).
        power_t: fraction of all replicates whose (1 - alpha) t interval excludes 0 (paired t-test p < alpha).
        mean_estimate, sd_estimate: mean and SD over the replicates of the estimated mean change.
        bias: mean_estimate - true_change.
        coverage: fraction of the intervals containing true_change.
        mean_ci_width: mean width of the intervals (precision).
        mean_pairs: mean number of complete baseline/M12 pairs (subjects analysed).
        valid: replicates with a finite estimate and interval; failed: replicates where an mRSS analysis failed.
    """

    true_change: float
    true_change_source: str
    power_wilcoxon: float
    power_t: float
    mean_estimate: float
    sd_estimate: float
    bias: float
    coverage: float
    mean_ci_width: float
    mean_pairs: float
    valid: int
    failed: int


@dataclass(frozen=True)
class DfsSummary:
    """Precision of the Kaplan-Meier DFS at month ``dfs_month`` over the replicates.

    Attributes:
        dfs_month: the month (scheduled-visit time scale, :func:`dfs_months`) at which DFS is read.
        mean_survival, sd_survival: mean and SD over the replicates of the DFS estimate.
        mean_ci_width: mean width of its (1 - alpha) log-log interval.
        events_mean, events_sd: mean and SD of the number of DFS events per trial.
        events_quantiles: minimum, 25th, 50th, 75th percentile and maximum of the events per trial.
        events_histogram: number of replicates with each number of events.
        events_by_rule: mean number of events per trial by the rule that ended DFS (e1_death, e2_skin ...).
        median_reached: fraction of replicates whose Kaplan-Meier curve reaches 0.5 (median DFS estimable).
        reference_survival: the reference DFS (None without a reference cohort); coverage: the fraction of
            intervals containing it (None without one).
        null_survival: the DFS tested against (None: no test); power_vs_null: fraction of all replicates whose
            lower limit is above it (one-sided test at alpha / 2).
        valid: replicates with a finite estimate and interval; failed: replicates where the DFS analysis failed.
    """

    dfs_month: float
    mean_survival: float
    sd_survival: float
    mean_ci_width: float
    events_mean: float
    events_sd: float
    events_quantiles: tuple[float, float, float, float, float]
    events_histogram: dict[int, int]
    events_by_rule: dict[str, float]
    median_reached: float
    reference_survival: float | None
    coverage: float | None
    null_survival: float | None
    power_vs_null: float | None
    valid: int
    failed: int


@dataclass(frozen=True, eq=False)
class InSilicoResult:
    """The result of :func:`run_insilico_trial`.

    Attributes:
        protocol: protocol code and version.
        n, reps, seed, alpha: as asked.
        params: the simulation parameters (the assumptions).
        replicates: one row per replicate (:data:`REPLICATE_COLUMNS`).
        mrss: the mRSS change summary.
        dfs: the DFS summary.
        failures: analysis -> number of replicates where it failed.
        failure_messages: the distinct failure messages (at most 20).
        reference: the reference cohort's estimates, if one was used.
    """

    protocol: str
    n: int
    reps: int
    seed: int
    alpha: float
    params: SimulationParams
    replicates: pd.DataFrame
    mrss: MrssSummary
    dfs: DfsSummary
    failures: dict[str, int]
    failure_messages: tuple[str, ...]
    reference: ReferenceValues | None = None

    def to_dict(self) -> dict[str, Any]:
        """Everything but the replicate table, as JSON-ready Python values (NaN becomes None)."""
        params = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in asdict(self.params).items()}
        dfs = asdict(self.dfs)
        dfs["events_histogram"] = {str(k): v for k, v in self.dfs.events_histogram.items()}
        result: dict[str, Any] = _json_ready(
            {
                "protocol": self.protocol,
                "n": self.n,
                "reps": self.reps,
                "seed": self.seed,
                "alpha": self.alpha,
                "mrss_visit": MRSS_VISIT,
                "assumptions": params,
                "mrss_change": asdict(self.mrss),
                "dfs": dfs,
                "failures": self.failures,
                "failure_messages": list(self.failure_messages),
                "reference": None if self.reference is None else asdict(self.reference),
            }
        )
        return result


def replicate_seeds(seed: int, reps: int) -> list[int]:
    """The simulation seed of each replicate: 64 bits of ``SeedSequence(seed, spawn_key=(r,))``, r = 0 .. reps - 1."""
    return [_derived_seed(seed, (r,)) for r in range(reps)]


def _derived_seed(seed: int, key: tuple[int, ...]) -> int:
    if seed < 0:
        raise InputError("seed", "must not be negative", seed)
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1, np.uint64)[0])


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
        pairs, dfs = _evaluate(study, items, cohorts)
        for (prefix, _), r in zip(cohorts, batch, strict=True):
            rows.append({"replicate": r, "seed": seeds[r], **_analyse(pairs.get(prefix), dfs.get(prefix), alpha, dfs_month)})
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
        pairs, dfs = _evaluate(study, items, [(prefix, simulate_cohort(study, size, seeds[k], params))])
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


def summarise_replicates(
    replicates: pd.DataFrame,
    alpha: float,
    true_change: float,
    true_change_source: str = "given",
    dfs_month: float = 12.0,
    reference_survival: float | None = None,
    dfs_null: float | None = None,
) -> tuple[MrssSummary, DfsSummary]:
    """Power, bias, coverage and precision from the replicate table (columns :data:`REPLICATE_COLUMNS`).

    Power counts every replicate in its denominator (a failed analysis does not reject); the means, SDs,
    coverage and widths use the replicates with a finite estimate and interval. SDs are sample SDs (ddof 1).
    """
    reps = len(replicates)
    failed_analyses = [
        {part.split(" ", 1)[0] for part in str(text).split(" | ") if part} for text in replicates["failures"].fillna("")
    ]
    estimate = replicates["mrss_mean_change"].to_numpy(dtype=np.float64)
    lower = replicates["mrss_lower"].to_numpy(dtype=np.float64)
    upper = replicates["mrss_upper"].to_numpy(dtype=np.float64)
    valid = np.isfinite(estimate) & np.isfinite(lower) & np.isfinite(upper)
    wilcoxon_p = replicates["mrss_wilcoxon_p"].to_numpy(dtype=np.float64)
    mean_estimate = _mean(estimate[valid])
    mrss = MrssSummary(
        true_change=float(true_change),
        true_change_source=true_change_source,
        power_wilcoxon=float(np.sum(np.nan_to_num(wilcoxon_p, nan=1.0) < alpha) / reps) if reps else math.nan,
        power_t=float(np.sum(valid & ((lower > 0) | (upper < 0))) / reps) if reps else math.nan,
        mean_estimate=mean_estimate,
        sd_estimate=_sd(estimate[valid]),
        bias=mean_estimate - float(true_change),
        coverage=_mean(((lower <= true_change) & (true_change <= upper))[valid].astype(float)),
        mean_ci_width=_mean((upper - lower)[valid]),
        mean_pairs=_mean(replicates["mrss_pairs"].to_numpy(dtype=np.float64)),
        valid=int(valid.sum()),
        failed=sum("mrss" in names for names in failed_analyses),
    )
    survival = replicates["dfs_survival"].to_numpy(dtype=np.float64)
    s_lower = replicates["dfs_lower"].to_numpy(dtype=np.float64)
    s_upper = replicates["dfs_upper"].to_numpy(dtype=np.float64)
    s_valid = np.isfinite(survival) & np.isfinite(s_lower) & np.isfinite(s_upper)
    dfs_events = replicates["dfs_events"].to_numpy(dtype=np.float64)
    counted = dfs_events[np.isfinite(dfs_events)]
    histogram = {int(k): int(v) for k, v in zip(*np.unique(counted.astype(np.int64), return_counts=True), strict=True)}
    quantiles = tuple(float(q) for q in np.quantile(counted, [0, 0.25, 0.5, 0.75, 1.0])) if len(counted) else (math.nan,) * 5
    rules = [rule for text in replicates["dfs_rules"].fillna("") for rule in str(text).split()]
    by_rule = {rule: count / reps for rule, count in sorted(Counter(rules).items())} if reps else {}
    reached = replicates["dfs_median_reached"].fillna(False).astype(bool).to_numpy()
    dfs = DfsSummary(
        dfs_month=dfs_month,
        mean_survival=_mean(survival[s_valid]),
        sd_survival=_sd(survival[s_valid]),
        mean_ci_width=_mean((s_upper - s_lower)[s_valid]),
        events_mean=_mean(counted),
        events_sd=_sd(counted),
        events_quantiles=(quantiles[0], quantiles[1], quantiles[2], quantiles[3], quantiles[4]),
        events_histogram=histogram,
        events_by_rule=by_rule,
        median_reached=float(np.sum(reached) / reps) if reps else math.nan,
        reference_survival=reference_survival,
        coverage=None
        if reference_survival is None
        else _mean(((s_lower <= reference_survival) & (reference_survival <= s_upper))[s_valid].astype(float)),
        null_survival=dfs_null,
        power_vs_null=None if dfs_null is None else float(np.sum(s_valid & (s_lower > dfs_null)) / reps) if reps else None,
        valid=int(s_valid.sum()),
        failed=sum("dfs" in names for names in failed_analyses),
    )
    return mrss, dfs


# --- the pipeline -----------------------------------------------------------------------------------


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


def _evaluate(
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


def _analyse(
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


# --- helpers ----------------------------------------------------------------------------------------


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _mean(values: npt.NDArray[np.float64]) -> float:
    return float(values.mean()) if len(values) else math.nan


def _sd(values: npt.NDArray[np.float64]) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else math.nan


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


__all__ = [
    "REPLICATE_COLUMNS",
    "DfsSummary",
    "InSilicoResult",
    "MrssSummary",
    "ReferenceValues",
    "analysis_items",
    "cohort_frames",
    "dfs_months",
    "estimate_reference",
    "paired_wilcoxon_p",
    "replicate_seeds",
    "run_insilico_trial",
    "summarise_replicates",
]
