"""What an in-silico trial reports: the replicate table's columns, the summaries of power and precision
(:class:`MrssSummary`, :class:`DfsSummary`) computed from it, the reference values, and the whole result.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core.simulate.params import SimulationParams

MRSS_ITEM = "mrss"
MRSS_VISIT = "M12"


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
