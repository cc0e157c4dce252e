"""Linear mixed model for change over time, and the paired Wilcoxon signed-rank test.

Expected values:

* Mixed model: (1) a closed form: in a balanced design (every subject seen at the same times) with a
  random intercept, the fixed slope and intercept equal the ordinary least-squares ones, and the slope's
  standard error equals that of the within-subject regression (one dummy per subject), sqrt(s2_within /
  (N * Sxx)), because REML's residual variance is then the within-subject mean square (Searle, Casella &
  McCulloch, Variance Components, 1992, ch. 3-4); both computed here with numpy least squares.
  (2) recovery of a known slope from simulated data.
* Wilcoxon: R's documentation example (``?wilcox.test``, Hollander & Wolfe 1973 p. 29, depression scale
  before/after): ``wilcox.test(x, y, paired = TRUE, alternative = "greater")`` gives V = 40, p = 0.01953,
  so two-sided p = 0.0390625 = 20/512; checked here also by enumerating all 2^9 sign patterns. The
  normal approximation is checked against R's formula (tie-corrected variance, continuity correction
  0.5) written out in the test.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rodnan.core.analysis.longitudinal import compare_paired_wilcoxon, fit_mixed_model
from rodnan.errors import InputError

MONTHS = (0, 3, 6, 12)


def simulate(n_subjects: int, slope: float, seed: int, slope_sd: float = 0.0, times: tuple[int, ...] = MONTHS) -> pd.DataFrame:
    """mRSS-like data: 25 + subject effect (SD 5) + (slope + subject slope) x month + noise (SD 2)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_subjects):
        intercept = 25 + rng.normal(0, 5)
        own_slope = slope + rng.normal(0, slope_sd) if slope_sd else slope
        for month in times:
            rows.append({"subject": f"S{i:03d}", "month": month, "mrss": intercept + own_slope * month + rng.normal(0, 2)})
    return pd.DataFrame(rows)


def test_fit_mixed_model_balanced_random_intercept_equals_closed_form() -> None:
    """Balanced design: slope and intercept = OLS; slope SE = within-subject regression SE (see module docstring)."""
    frame = simulate(25, -0.6, seed=1)
    result = fit_mixed_model(frame, "mrss", "subject", "month")
    design = np.column_stack([np.ones(len(frame)), frame["month"]])
    ols = np.linalg.lstsq(design, frame["mrss"], rcond=None)[0]
    assert result.fixed_effects.loc["Intercept", "estimate"] == pytest.approx(ols[0], abs=1e-6)
    assert result.slope.estimate == pytest.approx(ols[1], abs=1e-8)
    within = np.column_stack([pd.get_dummies(frame["subject"]).to_numpy(float), frame["month"]])
    coef = np.linalg.lstsq(within, frame["mrss"], rcond=None)[0]
    residual = frame["mrss"].to_numpy() - within @ coef
    n, t = 25, len(MONTHS)
    s2_within = float(residual @ residual) / (n * t - n - 1)
    sxx = float(((np.array(MONTHS) - np.mean(MONTHS)) ** 2).sum())
    assert result.slope.se == pytest.approx(math.sqrt(s2_within / (n * sxx)), rel=1e-4)
    assert result.variance_components.set_index("component").loc["residual", "variance"] == pytest.approx(s2_within, rel=1e-4)
    assert (result.n_subjects, result.n_observations, result.method) == (25, 100, "REML")
    assert result.converged


def test_fit_mixed_model_recovers_a_known_slope() -> None:
    """Simulated slope -0.8 per month (40 subjects, random slopes SD 0.2): the 95 % interval covers it."""
    frame = simulate(40, -0.8, seed=2, slope_sd=0.2)
    result = fit_mixed_model(frame, "mrss", "subject", "month", random_slope=True)
    assert result.slope.lower < -0.8 < result.slope.upper
    assert result.slope.estimate == pytest.approx(-0.8, abs=3 * result.slope.se)
    components = result.variance_components.set_index("component")
    assert list(components.index) == ["subject intercept", "subject slope (month)", "intercept-slope covariance", "residual"]
    assert components.loc["residual", "sd"] == pytest.approx(2, rel=0.2)
    assert result.random_slope


def test_fit_mixed_model_slope_interval_and_p_follow_from_se() -> None:
    """lower/upper = estimate -+ z se; p = 2 (1 - Phi(|estimate / se|)); 90 % uses z = 1.645."""
    result = fit_mixed_model(simulate(15, -0.3, seed=3), "mrss", "subject", "month", conf_level=0.90)
    z = stats.norm.ppf(0.95)
    slope = result.slope
    assert (slope.lower, slope.upper) == (
        pytest.approx(slope.estimate - z * slope.se),
        pytest.approx(slope.estimate + z * slope.se),
    )
    assert slope.p == pytest.approx(2 * stats.norm.sf(abs(slope.estimate / slope.se)))
    assert list(result.fixed_effects.columns) == ["estimate", "se", "z", "p", "lower", "upper"]


def test_fit_mixed_model_covariates_and_missing_rows() -> None:
    """Covariates become fixed-effect rows; rows with a missing outcome, time or covariate are dropped and counted."""
    frame = simulate(20, -0.5, seed=4)
    frame["baseline_age"] = frame["subject"].str[1:].astype(int) + 40
    frame.loc[[0, 5], "mrss"] = np.nan
    frame.loc[7, "baseline_age"] = np.nan
    result = fit_mixed_model(frame, "mrss", "subject", "month", covariates=["baseline_age"])
    assert list(result.fixed_effects.index) == ["Intercept", "month", "baseline_age"]
    assert (result.n_observations, result.n_excluded) == (77, 3)


def test_fit_mixed_model_reports_boundary_warnings() -> None:
    """No between-subject variation (each subject's noise averages 0): the variance is on the boundary, and the
    warning is in the result instead of on the console."""
    rng = np.random.default_rng(5)
    rows = []
    for i in range(12):
        noise = rng.normal(0, 2, len(MONTHS))
        noise -= noise.mean()
        rows += [{"subject": i, "month": m, "y": 20 - 0.5 * m + e} for m, e in zip(MONTHS, noise, strict=True)]
    result = fit_mixed_model(pd.DataFrame(rows), "y", "subject", "month")
    assert any("boundary" in w for w in result.warnings)
    assert result.variance_components.loc[0, "variance"] == pytest.approx(0, abs=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"outcome": "haq"}, "long_frame"),
        ({"covariates": "age"}, "covariates"),
        ({"covariates": ["month"]}, "covariates"),
        ({"conf_level": 0}, "conf_level"),
    ],
)
def test_fit_mixed_model_rejects_bad_arguments(kwargs: dict[str, object], field: str) -> None:
    """Unknown columns, a string for covariates, a repeated column or a bad level are errors naming the argument."""
    arguments: dict[str, object] = {"outcome": "mrss", "subject_col": "subject", "time_col": "month", **kwargs}
    with pytest.raises(InputError) as caught:
        fit_mixed_model(simulate(5, 0, seed=6), **arguments)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_fit_mixed_model_needs_two_subjects_and_varying_time() -> None:
    """One subject, or one visit time, cannot identify the model."""
    frame = simulate(5, 0, seed=7)
    with pytest.raises(InputError, match="two subjects"):
        fit_mixed_model(frame.loc[frame["subject"] == "S000"], "mrss", "subject", "month")
    with pytest.raises(InputError, match="two values"):
        fit_mixed_model(frame.loc[frame["month"] == 3], "mrss", "subject", "month")


# --- Wilcoxon -------------------------------------------------------------------------------------------------

# R ?wilcox.test (Hollander & Wolfe 1973, p. 29): Hamilton depression scale at the first (x) and second (y) visit
FIRST = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
SECOND = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]


def test_compare_paired_wilcoxon_matches_r_documentation_example() -> None:
    """R: wilcox.test(x, y, paired = TRUE, alternative = "greater"): V = 40, p-value = 0.01953; two-sided 0.0390625."""
    result = compare_paired_wilcoxon(baseline=SECOND, followup=FIRST)  # change = x - y, as R's V counts
    assert result.statistic == 40
    assert result.p == pytest.approx(0.0390625, abs=1e-12)
    assert round(result.p / 2, 5) == 0.01953
    assert (result.n_pairs, result.n_zero, result.method) == (9, 0, "exact")
    assert result.median_change == pytest.approx(0.49)


def test_compare_paired_wilcoxon_exact_p_by_enumeration() -> None:
    """The exact two-sided p-value is the share of the 2^n sign patterns whose V is as extreme, counted by hand."""
    change = np.array(FIRST) - np.array(SECOND)
    ranks = stats.rankdata(np.abs(change))
    observed = ranks[change > 0].sum()
    centre = len(change) * (len(change) + 1) / 4
    patterns = [sum(r for r, s in zip(ranks, signs, strict=True) if s) for signs in itertools.product([0, 1], repeat=9)]
    expected = sum(abs(v - centre) >= abs(observed - centre) for v in patterns) / len(patterns)
    assert compare_paired_wilcoxon(SECOND, FIRST).p == pytest.approx(expected, abs=1e-12)


def test_compare_paired_wilcoxon_drops_zero_changes_and_missing_pairs() -> None:
    """Zero changes are dropped (R's default) and counted; pairs with a missing value are excluded.

    Changes 1, 0, 2, 0, 3, 3 (and one missing): nonzero 1, 2, 3, 3 with ranks 1, 2, 3.5, 3.5, all positive,
    V = 10; ties and n <= 13, so the p-value enumerates the 16 sign patterns: only all-positive and all-negative
    are as extreme, p = 2/16 = 0.125."""
    result = compare_paired_wilcoxon([1, 2, 3, 4, 5, 6, 7], [2, 2, 5, 4, 8, 9, None])
    assert (result.n_pairs, result.n_excluded, result.n_zero) == (6, 1, 2)
    assert result.statistic == 10
    assert result.method == "permutation"
    assert result.p == pytest.approx(0.125)
    assert result.median_change == 1.5


def test_compare_paired_wilcoxon_normal_approximation_matches_r_formula() -> None:
    """Ties with more than 13 pairs: z = (V - n(n+1)/4 - 0.5 sign) / sqrt(n(n+1)(2n+1)/24 - sum(t^3 - t)/48),
    as R's wilcox.test (correct = TRUE) computes it."""
    rng = np.random.default_rng(8)
    baseline = rng.integers(10, 40, 30).astype(float)
    followup = baseline + rng.integers(-6, 4, 30)
    result = compare_paired_wilcoxon(baseline, followup)
    change = followup - baseline
    change = change[change != 0]
    n = len(change)
    ranks = stats.rankdata(np.abs(change))
    v = ranks[change > 0].sum()
    _, counts = np.unique(np.abs(change), return_counts=True)
    sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - (counts**3 - counts).sum() / 48)
    z = (v - n * (n + 1) / 4 - 0.5 * np.sign(v - n * (n + 1) / 4)) / sigma
    assert result.method == "normal approximation"
    assert result.statistic == v
    assert result.p == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def test_compare_paired_wilcoxon_all_zero_changes() -> None:
    """No change at all: no test (p NaN, method "none")."""
    result = compare_paired_wilcoxon([1, 2, 3], [1, 2, 3])
    assert math.isnan(result.p)
    assert (result.n_zero, result.method) == (3, "none")


def test_compare_paired_wilcoxon_rejects_bad_input() -> None:
    """Different lengths and text values are errors naming the argument."""
    with pytest.raises(InputError) as caught:
        compare_paired_wilcoxon([1, 2], [1, 2, 3])
    assert caught.value.field == "followup"
    with pytest.raises(InputError) as caught:
        compare_paired_wilcoxon(["a", 2], [1, 2])
    assert caught.value.field == "baseline"
