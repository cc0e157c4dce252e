"""Kaplan-Meier estimates with Greenwood confidence intervals, survival quantiles, and the log-rank test.

Formulas (n_j at risk and d_j events at the j-th distinct time t_j; z the normal quantile for the
confidence level):

* Product-limit estimate: S(t) = prod_{t_j <= t} (1 - d_j / n_j).
* Greenwood variance of log S: sigma^2(t) = sum_{t_j <= t} d_j / (n_j (n_j - d_j)); the standard error
  of S reported in the step table is S * sigma, as in R's ``summary(survfit(...))``.
* Confidence interval transforms (``conf_type``), the same as R's ``survfit(conf.type=...)``:

  - ``"log-log"`` (the default here): S^exp(+-z sigma / log S), i.e. a symmetric interval for
    log(-log S). The default of SAS PROC LIFETEST, Stata and lifelines ("exponential Greenwood");
    its bounds stay inside (0, 1) and it behaves best in small samples (Borgan & Liestol 1990),
    which suits a 20-patient trial.
  - ``"log"``: S exp(+-z sigma), upper bound capped at 1. R's default (``conf.type="log"``).
  - ``"plain"``: S +- z S sigma, clipped to [0, 1].

  Where S = 1 (before the first event) the interval is [1, 1]; where S = 0 the standard error and the
  interval are undefined (NaN), as in R.
* Quantiles (the median) and their confidence interval are R's (Brookmeyer & Crowley 1982 as
  implemented by ``quantile.survfit`` and printed by ``print(survfit)``): the first time the curve
  falls to p or below; where the curve is flat at exactly p, the midpoint of the flat part (to the
  last follow-up time if the flat part runs to the end). The lower and upper limits are the same
  times read off the lower and upper confidence curves; a limit the curve never reaches is NaN (R's NA).
* Log-rank test: lifelines' ``multivariate_logrank_test`` (the chi-square of R's ``survdiff``, rho = 0),
  with the observed and expected events per group computed here from the same risk sets.

Validated against R's survival package (``survfit``, ``summary.survfit``, ``print.survfit``,
``survdiff``) on the aml, lung and ovarian data; see docs/statistics.md and
tests/core/analysis/test_survival.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from rodnan.errors import InputError

ConfType = Literal["log-log", "log", "plain"]
FloatArray = npt.NDArray[np.float64]
CONF_TYPES: tuple[ConfType, ...] = ("log-log", "log", "plain")
TABLE_COLUMNS = ("time", "n_risk", "n_event", "n_censor", "survival", "std_err", "lower", "upper")
_TOLERANCE = float(np.sqrt(np.finfo(float).eps))  # R's quantile.survfit tolerance for "exactly p"


@dataclass(frozen=True)
class SurvivalQuantile:
    """A time by which a fraction ``1 - probability`` of subjects had the event, with its confidence limits.

    NaN means "not reached" (the curve, or the confidence curve, never falls to ``probability``).
    """

    probability: float
    time: float
    lower: float
    upper: float


@dataclass(frozen=True, eq=False)
class KaplanMeierResult:
    """A Kaplan-Meier fit.

    Attributes:
        table: one row per distinct time (events and censorings): time, n_risk, n_event, n_censor,
            survival, std_err (Greenwood, of S), lower, upper.
        n: number of subjects.
        events: number of events.
        conf_level: confidence level of the intervals (0.95).
        conf_type: the interval transform ("log-log", "log" or "plain").
        median: median survival time with its confidence limits.
    """

    table: pd.DataFrame
    n: int
    events: int
    conf_level: float
    conf_type: ConfType
    median: SurvivalQuantile

    def survival_at(self, times: npt.ArrayLike) -> pd.DataFrame:
        """Survival at the given times (S(t) counts the events at t), one row per time, in the given order.

        Columns: time, n_risk (time >= t), cum_events and cum_censored (up to and including t), survival,
        std_err, lower, upper. Past the last follow-up time survival is NaN (unknown) unless the curve
        has reached 0, and n_risk is 0.
        """
        at = _as_times(times, "times")
        table = self.table
        row = np.searchsorted(table["time"].to_numpy(), at, side="right") - 1  # last table time <= t
        before = row < 0
        safe = np.clip(row, 0, None)
        survival = np.where(before, 1.0, table["survival"].to_numpy()[safe])
        std_err = np.where(before, 0.0, table["std_err"].to_numpy()[safe])
        lower = np.where(before, 1.0, table["lower"].to_numpy()[safe])
        upper = np.where(before, 1.0, table["upper"].to_numpy()[safe])
        last_time = float(table["time"].iloc[-1]) if len(table) else 0.0
        beyond = at > last_time
        final_survival = float(table["survival"].iloc[-1]) if len(table) else 1.0
        if final_survival > 0:  # censored at the end: the curve is unknown beyond the last follow-up
            survival = np.where(beyond, np.nan, survival)
            std_err = np.where(beyond, np.nan, std_err)
            lower = np.where(beyond, np.nan, lower)
            upper = np.where(beyond, np.nan, upper)
        counts = self.at_risk(at)
        return pd.DataFrame(
            {
                "time": at,
                "n_risk": counts["n_risk"].to_numpy(),
                "cum_events": counts["cum_events"].to_numpy(),
                "cum_censored": counts["cum_censored"].to_numpy(),
                "survival": survival,
                "std_err": std_err,
                "lower": lower,
                "upper": upper,
            }
        )

    def at_risk(self, times: npt.ArrayLike) -> pd.DataFrame:
        """Numbers at risk (time >= t) and cumulative events and censorings up to and including t.

        The usual table under a Kaplan-Meier plot. Columns: time, n_risk, cum_events, cum_censored.
        """
        at = _as_times(times, "times")
        table = self.table
        t = table["time"].to_numpy()
        leaving = (table["n_event"] + table["n_censor"]).to_numpy()
        left_before = np.concatenate([[0], np.cumsum(leaving)])[np.searchsorted(t, at, side="left")]  # time < t
        row = np.searchsorted(t, at, side="right")  # number of table rows with time <= t
        cum_events = np.concatenate([[0], np.cumsum(table["n_event"].to_numpy())])[row]
        cum_censored = np.concatenate([[0], np.cumsum(table["n_censor"].to_numpy())])[row]
        return pd.DataFrame(
            {
                "time": at,
                "n_risk": (self.n - left_before).astype(np.int64),
                "cum_events": cum_events.astype(np.int64),
                "cum_censored": cum_censored.astype(np.int64),
            }
        )

    def quantile(self, probability: float) -> SurvivalQuantile:
        """The time at which survival falls to ``probability`` (0.5 = the median), with its confidence limits."""
        if not 0 < probability < 1:
            raise InputError("probability", "must be between 0 and 1 (exclusive)", probability)
        return _quantile(self.table, probability)


@dataclass(frozen=True, eq=False)
class LogRankResult:
    """A log-rank test of equal survival across groups (R's ``survdiff`` with rho = 0).

    Attributes:
        chi2: the test statistic, chi-square on ``df`` degrees of freedom.
        df: number of groups minus one.
        p: p-value.
        groups: one row per group (in sorted order): group, n, observed, expected (events).
    """

    chi2: float
    df: int
    p: float
    groups: pd.DataFrame


def fit_kaplan_meier(
    time: npt.ArrayLike, event: npt.ArrayLike, conf_level: float = 0.95, conf_type: ConfType = "log-log"
) -> KaplanMeierResult:
    """Kaplan-Meier estimate of survival with Greenwood standard errors and confidence intervals.

    Args:
        time: follow-up time of each subject (finite, >= 0), any unit (days, months).
        event: 1 (or True) if the subject had the event at ``time``, 0 (False) if censored there.
        conf_level: confidence level of the intervals, e.g. 0.95.
        conf_type: interval transform: "log-log" (the default: SAS, Stata and lifelines' choice),
            "log" (R's default) or "plain"; formulas in the module docstring.

    Returns:
        A :class:`KaplanMeierResult` with the step table, the median and its confidence interval.

    Raises:
        InputError: arrays of different lengths, missing or negative times, events other than 0/1,
            a confidence level outside (0, 1) or an unknown ``conf_type``.
    """
    t, e = _time_event(time, event)
    if not 0 < conf_level < 1:
        raise InputError("conf_level", "must be between 0 and 1 (exclusive)", conf_level)
    if conf_type not in CONF_TYPES:
        raise InputError("conf_type", f"must be one of {', '.join(CONF_TYPES)}", conf_type)
    n = len(t)
    times, inverse, counts = np.unique(t, return_inverse=True, return_counts=True)
    n_event = np.bincount(inverse, weights=e, minlength=len(times))
    n_censor = counts - n_event
    n_risk = n - np.concatenate([[0], np.cumsum(counts)[:-1]])
    survival = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Greenwood: d / (n (n - d)); infinite where everyone at risk has the event (S drops to 0)
        term = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
        sigma = np.sqrt(np.cumsum(term))  # standard error of log S
        std_err = np.where(survival > 0, survival * sigma, np.nan)
    z = float(stats.norm.ppf(1 - (1 - conf_level) / 2))
    lower, upper = _confidence_limits(survival, sigma, z, conf_type)
    table = pd.DataFrame(
        {
            "time": times.astype(np.float64),
            "n_risk": n_risk.astype(np.int64),
            "n_event": n_event.astype(np.int64),
            "n_censor": n_censor.astype(np.int64),
            "survival": survival,
            "std_err": std_err,
            "lower": lower,
            "upper": upper,
        }
    )
    return KaplanMeierResult(table, n, int(e.sum()), conf_level, conf_type, _quantile(table, 0.5))


def compare_log_rank(time: npt.ArrayLike, event: npt.ArrayLike, group: npt.ArrayLike) -> LogRankResult:
    """Log-rank test that survival is the same in every group (chi-square on groups - 1 df).

    Args:
        time: follow-up time of each subject.
        event: 1/True for an event, 0/False for censored.
        group: the group of each subject (any labels; missing labels are an error).

    Returns:
        A :class:`LogRankResult`: chi2, df, p and the observed and expected events per group.

    Raises:
        InputError: invalid time/event (as in :func:`fit_kaplan_meier`), missing group labels, or
            fewer than two groups.
    """
    from lifelines.statistics import multivariate_logrank_test  # imported here: lifelines is slow to import

    t, e = _time_event(time, event)
    labels = pd.Series(np.asarray(group, dtype=object).ravel())
    if len(labels) != len(t):
        raise InputError("group", f"must have one value per subject ({len(t)})", len(labels))
    if labels.isna().any():
        raise InputError("group", "must not be missing", int(labels.isna().sum()))
    try:
        levels = sorted(labels.unique())
    except TypeError:  # mixed label types: order by their text
        levels = sorted(labels.unique(), key=str)
    if len(levels) < 2:
        raise InputError("group", "needs at least two groups", levels)
    test = multivariate_logrank_test(t, labels.to_numpy(), e)
    codes = labels.map({level: k for k, level in enumerate(levels)}).to_numpy(dtype=np.int64)
    observed, expected = _observed_expected(t, e, codes, len(levels))
    groups = pd.DataFrame(
        {
            "group": levels,
            "n": np.bincount(codes, minlength=len(levels)).astype(np.int64),
            "observed": observed,
            "expected": expected,
        }
    )
    return LogRankResult(float(test.test_statistic), int(test.degrees_of_freedom), float(test.p_value), groups)


# --- helpers ---------------------------------------------------------------------------------------


def _time_event(time: npt.ArrayLike, event: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Validated float arrays of times and 0/1 events."""
    try:
        t = np.asarray(time, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError("time", "must be numbers") from exc
    try:
        e = np.asarray(event, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError("event", "must be 0/1 or True/False") from exc
    if len(t) != len(e):
        raise InputError("event", f"must have one value per time ({len(t)})", len(e))
    if len(t) == 0:
        raise InputError("time", "needs at least one subject")
    if not np.all(np.isfinite(t)):
        raise InputError("time", "must not be missing or infinite", int((~np.isfinite(t)).sum()))
    if np.any(t < 0):
        raise InputError("time", "must not be negative", float(t.min()))
    if not np.all((e == 0) | (e == 1)):
        raise InputError("event", "must be 0/1 or True/False (1 = event, 0 = censored)")
    return t, e


def _as_times(times: npt.ArrayLike, field: str) -> FloatArray:
    at = np.atleast_1d(np.asarray(times, dtype=np.float64)).ravel()
    if not np.all(np.isfinite(at)):
        raise InputError(field, "must be finite numbers")
    return at


def _confidence_limits(survival: FloatArray, sigma: FloatArray, z: float, conf_type: ConfType) -> tuple[FloatArray, FloatArray]:
    """Pointwise confidence limits of S from the Greenwood standard error of log S (``sigma``)."""
    dead = survival <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            half = z * survival * sigma
            lower = np.clip(survival - half, 0.0, 1.0)
            upper = np.clip(survival + half, 0.0, 1.0)
        elif conf_type == "log":
            lower = survival * np.exp(-z * sigma)
            upper = np.minimum(survival * np.exp(z * sigma), 1.0)
        else:  # log-log: S^exp(+-z sigma / |log S|); S = 1 (no event yet, sigma = 0) gives [1, 1]
            below_one = survival < 1
            abs_log_s = np.where(below_one, -np.log(survival), 1.0)
            spread = np.where(below_one, z * sigma / abs_log_s, 0.0)
            lower = survival ** np.exp(spread)
            upper = survival ** np.exp(-spread)
    lower = np.where(dead, np.nan, lower)
    upper = np.where(dead, np.nan, upper)
    return lower.astype(np.float64), upper.astype(np.float64)


def _quantile(table: pd.DataFrame, probability: float) -> SurvivalQuantile:
    times = table["time"].to_numpy()
    last = float(times[-1]) if len(times) else 0.0
    return SurvivalQuantile(
        probability,
        _crossing(times, table["survival"].to_numpy(), probability, last),
        _crossing(times, table["lower"].to_numpy(), probability, last),
        _crossing(times, table["upper"].to_numpy(), probability, last),
    )


def _crossing(times: FloatArray, curve: FloatArray, p: float, last_time: float) -> float:
    """Where a horizontal line at ``p`` meets a non-increasing step curve that starts at 1 at time 0.

    The first time the curve is <= p; if the curve is flat at exactly p (within R's tolerance), the
    midpoint between the start of the flat part and the next drop (or the last follow-up time).
    """
    keep = np.isfinite(curve)
    x = np.concatenate([[0.0], times[keep]])
    y = np.concatenate([[1.0], curve[keep]])
    reached = np.flatnonzero(y <= p + _TOLERANCE)
    if len(reached) == 0:
        return float("nan")
    below = np.flatnonzero(y <= p - _TOLERANCE)
    start = float(x[reached[0]])
    if len(below):
        return (start + float(x[below[0]])) / 2
    return (start + last_time) / 2  # flat at p until the end of follow-up


def _observed_expected(t: FloatArray, e: FloatArray, codes: npt.NDArray[np.int64], k: int) -> tuple[FloatArray, FloatArray]:
    """Observed events and events expected under equal hazards, per group (R's survdiff O and E)."""
    times, inverse = np.unique(t, return_inverse=True)
    deaths = np.bincount(inverse, weights=e, minlength=len(times))
    leaving_all = np.bincount(inverse, minlength=len(times)).astype(np.float64)
    at_risk_all = leaving_all[::-1].cumsum()[::-1]
    observed = np.zeros(k)
    expected = np.zeros(k)
    for g in range(k):
        mine = codes == g
        leaving = np.bincount(inverse[mine], minlength=len(times)).astype(np.float64)
        at_risk = leaving[::-1].cumsum()[::-1]
        observed[g] = e[mine].sum()
        expected[g] = float(np.sum(deaths * at_risk / at_risk_all))
    return observed, expected
