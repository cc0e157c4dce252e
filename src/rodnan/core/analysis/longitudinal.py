"""Change over time: a linear mixed model for repeated measures and the paired Wilcoxon signed-rank test.

* :func:`fit_mixed_model`: y_ij = b0 + b1 t_ij + covariates + u_0i (+ u_1i t_ij) + e_ij, with a random
  intercept per subject (and optionally a random slope on time, intercept and slope correlated),
  fitted by REML with statsmodels ``MixedLM`` (optimisers tried in turn: BFGS, L-BFGS, CG, Powell).
  ``b1`` is the mean change per unit of time (per month if time is in months). Intervals and p-values
  are Wald's with the normal distribution (statsmodels); with few subjects (20 in this trial) they are
  somewhat narrow, as no small-sample (Kenward-Roger) correction is applied. In a balanced design with
  only a random intercept the fixed slope equals the ordinary least-squares slope, and its standard
  error equals the within-subject (subject fixed-effects) regression's, which is what the tests check.
* :func:`compare_paired_wilcoxon`: scipy's ``wilcoxon`` on follow-up minus baseline, following R's
  ``wilcox.test(paired=TRUE)`` defaults: zero differences are dropped ("wilcox" method; their count is
  reported); the p-value is exact when at most 50 differences remain and none are tied, exact by
  enumerating all sign changes when ties remain and at most 13 differences, otherwise from the normal
  approximation with tie correction and continuity correction. The statistic reported is R's V, the sum
  of the ranks of the positive differences.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from rodnan.errors import InputError

FloatArray = npt.NDArray[np.float64]
FIXED_EFFECT_COLUMNS = ("estimate", "se", "z", "p", "lower", "upper")
WilcoxonMethod = Literal["exact", "permutation", "normal approximation", "none"]


@dataclass(frozen=True)
class Estimate:
    """An estimate with its confidence interval and p-value."""

    estimate: float
    se: float
    lower: float
    upper: float
    p: float


@dataclass(frozen=True, eq=False)
class MixedModelResult:
    """A linear mixed model of an outcome over time.

    Attributes:
        outcome: the outcome column.
        time_col: the time column; ``slope`` is per one unit of it.
        fixed_effects: one row per term (Intercept, time, covariates): estimate, se, z, p, lower, upper.
        slope: the fixed effect of time (mean change per unit of time) with its interval.
        variance_components: one row per component (subject intercept, subject slope, their covariance,
            residual): variance and (where it is one) standard deviation.
        n_subjects: subjects with at least one complete observation.
        n_observations: complete observations used.
        n_excluded: rows dropped for a missing outcome, time, subject or covariate.
        random_slope: whether a random slope on time was fitted.
        method: "REML" or "ML".
        converged: whether the optimiser reported convergence.
        log_likelihood: the (restricted) log-likelihood at the estimate.
        warnings: convergence and boundary warnings from the fit.
        conf_level: confidence level of the intervals.
    """

    outcome: str
    time_col: str
    fixed_effects: pd.DataFrame
    slope: Estimate
    variance_components: pd.DataFrame
    n_subjects: int
    n_observations: int
    n_excluded: int
    random_slope: bool
    method: Literal["REML", "ML"]
    converged: bool
    log_likelihood: float
    warnings: tuple[str, ...]
    conf_level: float


@dataclass(frozen=True)
class WilcoxonResult:
    """A paired Wilcoxon signed-rank test of follow-up against baseline.

    Attributes:
        n_pairs: pairs with both values.
        n_excluded: pairs dropped because a value is missing.
        n_zero: pairs with no change (dropped from the test, as R does).
        median_change: median of follow-up minus baseline over all complete pairs (zeros included).
        statistic: R's V, the sum of the ranks of the positive changes.
        p: two-sided p-value (NaN if every change is 0).
        method: how the p-value was computed: "exact", "permutation", "normal approximation" or "none".
    """

    n_pairs: int
    n_excluded: int
    n_zero: int
    median_change: float
    statistic: float
    p: float
    method: WilcoxonMethod


def fit_mixed_model(
    long_frame: pd.DataFrame,
    outcome: str,
    subject_col: str,
    time_col: str,
    covariates: Sequence[str] = (),
    random_slope: bool = False,
    reml: bool = True,
    conf_level: float = 0.95,
) -> MixedModelResult:
    """Fit a linear mixed model of ``outcome`` on time (and covariates) with a random intercept per subject.

    Args:
        long_frame: one row per subject and visit.
        outcome: the outcome column (mRSS, SF-36 PCS or MCS, HAQ-DI ...).
        subject_col: the subject identifier column.
        time_col: time since baseline in the unit the slope should be reported in (months).
        covariates: further numeric fixed effects (e.g. the baseline value, age).
        random_slope: also fit a random slope on time per subject (correlated with the intercept).
        reml: REML (the default) or maximum likelihood.
        conf_level: confidence level of the intervals.

    Returns:
        A :class:`MixedModelResult`; convergence problems are in ``warnings``, not raised.

    Raises:
        InputError: a missing or non-numeric column, a time that does not vary, or fewer than two subjects.
    """
    from statsmodels.regression.mixed_linear_model import MixedLM

    if isinstance(covariates, str):
        raise InputError("covariates", "must be a list of column names, not one string", covariates)
    names = tuple(covariates)
    columns = [outcome, subject_col, time_col, *names]
    missing = [c for c in columns if c not in long_frame.columns]
    if missing:
        raise InputError("long_frame", f"has no column {', '.join(map(repr, missing))}")
    if len(set(columns)) != len(columns):
        raise InputError("covariates", "must not repeat the outcome, subject, time or each other", names)
    if not 0 < conf_level < 1:
        raise InputError("conf_level", "must be between 0 and 1 (exclusive)", conf_level)
    data = long_frame[columns].copy()
    for column in (outcome, time_col, *names):
        data[column] = _numeric(data[column], column)
    complete = data.dropna().reset_index(drop=True)
    n_subjects = int(complete[subject_col].nunique())
    if n_subjects < 2:
        raise InputError(subject_col, "needs at least two subjects with complete observations", n_subjects)
    if complete[time_col].nunique() < 2:
        raise InputError(time_col, "must take at least two values")
    exog = pd.DataFrame({"Intercept": 1.0, time_col: complete[time_col]})
    for name in names:
        exog[name] = complete[name]
    exog_re = exog[["Intercept", time_col]] if random_slope else exog[["Intercept"]]
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = MixedLM(complete[outcome], exog, groups=complete[subject_col].astype(str), exog_re=exog_re)
        result = model.fit(reml=reml, method=["bfgs", "lbfgs", "cg", "powell"])
    final_converged = bool(getattr(result, "converged", True))
    for warning in caught:
        if issubclass(warning.category, (DeprecationWarning, FutureWarning, PendingDeprecationWarning)):
            continue
        text = str(warning.message).strip().splitlines()[0] if str(warning.message).strip() else warning.category.__name__
        if text.startswith("Retrying MixedLM optimization") or (final_converged and "failed to converge" in text):
            continue  # an earlier optimiser failed but a later one converged: not the reader's concern
        if text not in messages:
            messages.append(text)
    crit = float(stats.norm.ppf(1 - (1 - conf_level) / 2))
    terms = list(exog.columns)
    estimate = result.fe_params.reindex(terms).to_numpy(dtype=np.float64)
    se = result.bse_fe.reindex(terms).to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = estimate / se
    fixed = pd.DataFrame(
        {
            "estimate": estimate,
            "se": se,
            "z": z,
            "p": 2 * stats.norm.sf(np.abs(z)),
            "lower": estimate - crit * se,
            "upper": estimate + crit * se,
        },
        index=pd.Index(terms, name="term"),
    )
    row = fixed.loc[time_col]
    slope = Estimate(float(row["estimate"]), float(row["se"]), float(row["lower"]), float(row["upper"]), float(row["p"]))
    converged = final_converged and bool(np.all(np.isfinite(se)))
    if not converged and not any("converge" in m.lower() for m in messages):
        messages.append("the optimiser did not converge")
    return MixedModelResult(
        outcome=outcome,
        time_col=time_col,
        fixed_effects=fixed,
        slope=slope,
        variance_components=_variance_components(result.cov_re, float(result.scale), time_col, random_slope),
        n_subjects=n_subjects,
        n_observations=len(complete),
        n_excluded=len(data) - len(complete),
        random_slope=random_slope,
        method="REML" if reml else "ML",
        converged=converged,
        log_likelihood=float(result.llf),
        warnings=tuple(messages),
        conf_level=conf_level,
    )


def compare_paired_wilcoxon(baseline: npt.ArrayLike, followup: npt.ArrayLike) -> WilcoxonResult:
    """Paired Wilcoxon signed-rank test (two-sided) of follow-up against baseline values of the same subjects.

    Args:
        baseline: the baseline value of each subject (NaN/None when missing).
        followup: the follow-up value (e.g. month 12) of the same subjects, in the same order.

    Returns:
        A :class:`WilcoxonResult`; method and zero handling as in the module docstring.

    Raises:
        InputError: the two arrays differ in length or hold non-numbers.
    """
    before = _float_array(baseline, "baseline")
    after = _float_array(followup, "followup")
    if len(before) != len(after):
        raise InputError("followup", f"must have one value per baseline value ({len(before)})", len(after))
    complete = np.isfinite(before) & np.isfinite(after)
    change = after[complete] - before[complete]
    n_pairs = int(complete.sum())
    median_change = float(np.median(change)) if n_pairs else math.nan
    nonzero = change[change != 0]
    n_zero = n_pairs - len(nonzero)
    if len(nonzero) == 0:
        return WilcoxonResult(n_pairs, len(before) - n_pairs, n_zero, median_change, 0.0, math.nan, "none")
    ranks = stats.rankdata(np.abs(nonzero))
    statistic = float(ranks[nonzero > 0].sum())
    tied = len(np.unique(np.abs(nonzero))) < len(nonzero)
    method: WilcoxonMethod
    if not tied and len(nonzero) <= 50:
        method, scipy_method = "exact", "exact"
    elif len(nonzero) <= 13:
        method, scipy_method = "permutation", stats.PermutationMethod(n_resamples=2 ** len(nonzero))
    else:
        method, scipy_method = "normal approximation", "asymptotic"
    test = stats.wilcoxon(nonzero, zero_method="wilcox", correction=True, method=scipy_method)
    return WilcoxonResult(n_pairs, len(before) - n_pairs, n_zero, median_change, statistic, float(test.pvalue), method)


def _numeric(values: pd.Series, field: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(np.float64)
    converted = pd.to_numeric(values, errors="coerce")
    if converted.notna().sum() < values.notna().sum():
        raise InputError(field, "must be numeric")
    return converted.astype(np.float64)


def _float_array(values: npt.ArrayLike, field: str) -> FloatArray:
    try:
        return np.asarray(pd.to_numeric(pd.Series(np.asarray(values, dtype=object).ravel()), errors="raise"), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(field, "must be numbers (NaN or None when missing)") from exc


def _variance_components(cov_re: pd.DataFrame, scale: float, time_col: str, random_slope: bool) -> pd.DataFrame:
    matrix = np.asarray(cov_re, dtype=np.float64)
    rows: list[tuple[str, float, float]] = [("subject intercept", matrix[0, 0], math.sqrt(max(matrix[0, 0], 0.0)))]
    if random_slope:
        rows.append((f"subject slope ({time_col})", matrix[1, 1], math.sqrt(max(matrix[1, 1], 0.0))))
        rows.append(("intercept-slope covariance", matrix[0, 1], math.nan))
    rows.append(("residual", scale, math.sqrt(max(scale, 0.0))))
    return pd.DataFrame(rows, columns=["component", "variance", "sd"])
