"""Cox models (Efron via lifelines, Breslow via statsmodels, Firth's penalised likelihood), against R.

Expected values and where they come from (each test repeats its source):

* [book] Therneau & Grambsch, Modeling Survival Data (2000), appendix data set 1, as R's survival
  package tests it in ``tests/book1.R`` (Breslow: b = log((3 + sqrt(33)) / 2) = 1.4752849, variance
  1 / (r/(r+1)^2 + 6r/(r+3)^2), r = e^b) and ``tests/book2.R`` (Efron: b = 1.676857, the closed form
  log(2 sqrt(23/3) cos(acos((45/23) sqrt(3/23)) / 3)), variance 1 / sum of x - x^2 over r/(r+1), r/(r+5),
  r/(r+3)).
* [doaml] R's survival package, ``tests/doaml.Rout.save`` (R 3.4.1): ``coxph(Surv(time, status) ~ x,
  aml, method='breslow')``: coef 0.904, se 0.512, LR 3.3, and its martingale residuals to 8 decimals;
  ``method='efron'``: coef 0.916, se 0.512, LR 3.38. The Efron fit printed to 4 digits (0.9155, se 0.5119,
  LR 3.38, p 0.0737) is in course notes that print ``coxph(Surv(time, status) ~ x, data=aml)``.
* [lung] ``summary(coxph(Surv(time, status) ~ age + sex, data = lung))`` as printed in the survival
  package documentation and countless tutorials: age 0.017045 (se 0.009223, z 1.848, p 0.06459), sex
  -0.513219 (se 0.167458, z -3.065, p 0.00218), HR 95 % CI age 0.9990-1.0357, sex 0.4311-0.8311,
  concordance 0.603, likelihood-ratio test 14.12 on 2 df. And, from a published tutorial,
  ``coxph(Surv(time, status) ~ age + sex + ph.ecog + ph.karno, data = lung)``: n 226, 163 events,
  coefficients and standard errors to 6 digits, concordance 0.632, LR 31.27.
* [sthda] the STHDA tutorial "Cox proportional-hazards model": univariable ``coxph`` of age, sex,
  ph.karno, ph.ecog, meal.cal, wt.loss on lung (beta and Wald p to 2 significant digits); ``coxph(...
  ~ sex)``: coef -0.5310, se 0.1672, p 0.00149.
* [rossi] Fox & Weisberg, "Cox proportional-hazards regression for survival data in R", appendix to
  An R Companion to Applied Regression, and the lifelines documentation: ``coxph(Surv(week, arrest) ~
  fin + age + race + wexp + mar + paro + prio, Rossi)``.
* Firth: no published coxphf output on these data was at hand, so the penalised estimate is checked
  against an independent maximisation of l(b) + 1/2 log det I(b) written in this file (explicit loops
  over risk sets, scipy's Nelder-Mead), and against its known properties (finite under separation;
  close to the unpenalised estimate when events are many).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from rodnan.core.analysis.cox import fit_cox, fit_univariable_cox
from rodnan.errors import InputError

DATA = Path(__file__).resolve().parents[2] / "data" / "survival"
# Therneau & Grambsch appendix data set 1 (R survival tests/book1.R): row 2 has a missing status
TEST1 = pd.DataFrame({"time": [9, 3, 1, 1, 6, 6, 8], "status": [1, None, 1, 0, 1, 1, 0], "x": [0, 2, 1, 1, 1, 0, 0]})
# separation: the three subjects with x = 1 have the first three events, so b(x) -> +infinity
SEPARATED = pd.DataFrame(
    {
        "time": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        "event": [1, 1, 1, 1, 0, 1, 0, 0, 1, 0],
        "x": [1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
        "age": [50, 61, 45, 70, 52, 48, 66, 59, 63, 40],
    }
)


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    frame = pd.read_csv(DATA / "lung.csv")
    frame["event"] = frame["status"] - 1
    return frame


@pytest.fixture(scope="module")
def aml() -> pd.DataFrame:
    frame = pd.read_csv(DATA / "aml.csv")
    frame["nonmaintained"] = (frame["x"] == "Nonmaintained").astype(int)
    return frame


# --- closed forms [book] ---------------------------------------------------------------------------------


def test_fit_cox_breslow_matches_closed_form() -> None:
    """[book] Breslow: b = log((3 + sqrt(33)) / 2) = 1.4752849 (R tests/book1.R), var = 1 / (r/(r+1)^2 + 6r/(r+3)^2).

    The row with a missing status is dropped (n 6, 1 excluded)."""
    result = fit_cox(TEST1, "time", "status", ["x"], ties="breslow")
    r = (3 + math.sqrt(33)) / 2
    assert result.coefficients.loc["x", "coef"] == pytest.approx(math.log(r), abs=1e-7)
    assert round(result.coefficients.loc["x", "coef"], 7) == 1.4752849
    information = r / (r + 1) ** 2 + 6 * r / (r + 3) ** 2
    assert result.coefficients.loc["x", "se"] == pytest.approx(math.sqrt(1 / information), rel=1e-6)
    loglik = 2 * math.log(r) - (math.log(3 * r + 3) + 2 * math.log(r + 3))  # book1.R byhand1()
    assert result.log_likelihood == pytest.approx(loglik, rel=1e-10)
    assert (result.n, result.n_excluded, result.events) == (6, 1, 4)


def test_fit_cox_efron_matches_closed_form() -> None:
    """[book] Efron: b = 1.676857 (R tests/book2.R), the root of (30 + 23r - r^3) = 0, and its variance."""
    result = fit_cox(TEST1, "time", "status", ["x"])
    r = 2 * math.sqrt(23 / 3) * math.cos(math.acos((45 / 23) * math.sqrt(3 / 23)) / 3)
    assert round(result.coefficients.loc["x", "coef"], 6) == 1.676857
    assert result.coefficients.loc["x", "coef"] == pytest.approx(math.log(r), abs=1e-8)
    information = sum(v - v * v for v in (r / (r + 1), r / (r + 5), r / (r + 3)))
    assert result.coefficients.loc["x", "se"] == pytest.approx(math.sqrt(1 / information), rel=1e-6)
    loglik = 2 * math.log(r) - (math.log(3 * r + 3) + math.log((r + 5) / 2) + math.log(r + 3))  # book2.R byhand()
    assert result.log_likelihood == pytest.approx(loglik, rel=1e-10)


# --- aml [doaml] -------------------------------------------------------------------------------------------


def test_fit_cox_aml_breslow_matches_r(aml: pd.DataFrame) -> None:
    """[doaml] coxph(..., method='breslow'): coef 0.904, se 0.512, LR 3.3; and R's martingale residuals (8 decimals).

    The residuals M_i = status_i - exp(b x_i) H0(t_i), with Breslow's H0, are computed here by hand from
    the fitted b: agreeing to 1e-7 with R pins b far beyond its 3 printed digits.
    """
    result = fit_cox(aml, "time", "status", ["nonmaintained"], ties="breslow")
    b = result.coefficients.loc["nonmaintained", "coef"]
    assert round(b, 3) == 0.904
    assert round(result.coefficients.loc["nonmaintained", "se"], 3) == 0.512
    assert round(result.lr_chi2, 1) == 3.3
    t, d, x = aml["time"].to_numpy(), aml["status"].to_numpy(), aml["nonmaintained"].to_numpy()
    risk = np.exp(b * x)
    hazard = {u: d[t == u].sum() / risk[t >= u].sum() for u in np.unique(t)}
    martingale = d - risk * np.array([sum(h for u, h in hazard.items() if u <= ti) for ti in t])
    r_martingale = [
        0.86225539, 0.79200985, -0.20799015, 0.74818869, 0.65652976, -0.39796610, 0.45424957, 0.25475051,
        -1.05400917, -0.55400917, -1.55400917, 0.87844483, 0.87844483, 0.74006941, 0.74006941, 0.57677292,
        -0.51373647, 0.15162716, 0.01702219, -0.14897252, -0.56448258, -1.15185244, -1.60340676,
    ]  # fmt: skip
    np.testing.assert_allclose(martingale, r_martingale, atol=1e-7)


def test_fit_cox_aml_efron_matches_r(aml: pd.DataFrame) -> None:
    """[doaml] and course notes: coxph(Surv(time, status) ~ x, aml): coef 0.9155, exp 2.4981, se 0.5119, z 1.788,
    p 0.0737, LR 3.38 (p 0.06581), n 23, 18 events."""
    result = fit_cox(aml, "time", "status", ["nonmaintained"])
    row = result.coefficients.loc["nonmaintained"]
    assert round(row["coef"], 4) == 0.9155
    assert round(row["hr"], 4) == 2.4981
    assert round(row["se"], 4) == 0.5119
    assert round(row["z"], 3) == 1.788
    assert round(row["p"], 4) == 0.0737
    assert round(result.lr_chi2, 2) == 3.38
    assert round(result.lr_p, 5) == 0.06581
    assert (result.n, result.events, result.ties, result.penalizer) == (23, 18, "efron", "none")


# --- lung [lung], [sthda] ----------------------------------------------------------------------------------


def test_fit_cox_lung_age_sex_matches_r(lung: pd.DataFrame) -> None:
    """[lung] coxph(Surv(time, status) ~ age + sex, lung): coefficients and SEs to R's 6 printed decimals,
    z, p, hazard-ratio intervals, concordance 0.603, LR 14.12 on 2 df."""
    result = fit_cox(lung, "time", "event", ["age", "sex"])
    table = result.coefficients
    assert table.loc["age", "coef"] == pytest.approx(0.017045, abs=5e-7)
    assert table.loc["age", "se"] == pytest.approx(0.009223, abs=5e-7)
    assert table.loc["sex", "coef"] == pytest.approx(-0.513219, abs=5e-7)
    assert table.loc["sex", "se"] == pytest.approx(0.167458, abs=5e-7)
    assert table.loc["age", "hr"] == pytest.approx(1.017191, abs=5e-7)
    assert table.loc["sex", "hr"] == pytest.approx(0.598566, abs=5e-7)
    assert (round(table.loc["age", "z"], 3), round(table.loc["sex", "z"], 3)) == (1.848, -3.065)
    assert (round(table.loc["age", "p"], 5), round(table.loc["sex", "p"], 5)) == (0.06459, 0.00218)
    assert (round(table.loc["age", "hr_lower"], 4), round(table.loc["age", "hr_upper"], 4)) == (0.9990, 1.0357)
    assert (round(table.loc["sex", "hr_lower"], 4), round(table.loc["sex", "hr_upper"], 4)) == (0.4311, 0.8311)
    assert round(result.concordance, 3) == 0.603
    assert (round(result.lr_chi2, 2), result.lr_df) == (14.12, 2)
    assert (result.n, result.events, result.events_per_variable) == (228, 165, 82.5)
    assert result.converged
    assert result.warnings == ()


def test_fit_cox_lung_four_covariates_complete_cases_match_r(lung: pd.DataFrame) -> None:
    """[lung] coxph(... ~ age + sex + ph.ecog + ph.karno): n 226 (2 deleted for missingness), 163 events;
    age 0.012868 (0.009404), sex -0.572802 (0.169222), ph.ecog 0.633077 (0.176034), ph.karno 0.012558
    (0.009514); concordance 0.632; LR 31.27 on 4 df."""
    result = fit_cox(lung, "time", "event", ["age", "sex", "ph.ecog", "ph.karno"])
    assert (result.n, result.n_excluded, result.events) == (226, 2, 163)
    expected = {
        "age": (0.012868, 0.009404),
        "sex": (-0.572802, 0.169222),
        "ph.ecog": (0.633077, 0.176034),
        "ph.karno": (0.012558, 0.009514),
    }
    for name, (coef, se) in expected.items():
        assert result.coefficients.loc[name, "coef"] == pytest.approx(coef, abs=5e-7)
        assert result.coefficients.loc[name, "se"] == pytest.approx(se, abs=5e-7)
    assert round(result.concordance, 3) == 0.632
    assert round(result.lr_chi2, 2) == 31.27


def test_fit_univariable_cox_lung_matches_r(lung: pd.DataFrame) -> None:
    """[sthda] one coxph per covariate, each on its own complete cases: beta age 0.019, sex -0.53, ph.karno
    -0.016, ph.ecog 0.48, meal.cal -0.00012, wt.loss 0.0013; Wald p 0.042, 0.0015, 0.005, 2.7e-05, 0.59, 0.83.
    And coxph(... ~ sex): coef -0.5310, se 0.1672, p 0.00149."""
    names = ["age", "sex", "ph.karno", "ph.ecog", "meal.cal", "wt.loss"]
    table = fit_univariable_cox(lung, "time", "event", names).table.set_index("covariate")
    expected_beta = [0.019, -0.53, -0.016, 0.48, -0.00012, 0.0013]
    expected_p = [0.042, 0.0015, 0.005, 2.7e-05, 0.59, 0.83]
    for name, beta, p in zip(names, expected_beta, expected_p, strict=True):
        assert float(f"{table.loc[name, 'coef']:.2g}") == beta, name
        assert float(f"{table.loc[name, 'p']:.2g}") == p, name
    assert (round(table.loc["sex", "coef"], 4), round(table.loc["sex", "se"], 4)) == (-0.5310, 0.1672)
    assert round(table.loc["sex", "p"], 5) == 0.00149
    # complete cases per covariate: meal.cal is missing for 47 subjects
    assert table.loc["meal.cal", "n"] == lung["meal.cal"].notna().sum() == 181
    assert table.loc["age", "n"] == 228


def test_fit_univariable_cox_rows_equal_single_covariate_fits(lung: pd.DataFrame) -> None:
    """Each table row is exactly fit_cox on that covariate's complete cases."""
    result = fit_univariable_cox(lung, "time", "event", ["wt.loss"])
    alone = fit_cox(lung, "time", "event", ["wt.loss"])
    assert result.table.loc[0, "coef"] == alone.coefficients.loc["wt.loss", "coef"]
    assert result.table.loc[0, "n"] == alone.n == 214
    assert result.fits["wt.loss"].n_excluded == 0  # the univariable fit only sees rows with wt.loss recorded


def test_fit_univariable_cox_skips_uninformative_covariates_with_a_reason(lung: pd.DataFrame) -> None:
    """All-missing, constant and text covariates get a note and no estimate; the others are still fitted."""
    frame = lung.assign(nothing=np.nan, one=1.0, word="x")
    table = fit_univariable_cox(frame, "time", "event", ["nothing", "one", "word", "age"]).table.set_index("covariate")
    assert table.loc["nothing", "note"] == "skipped: no subject has a value"
    assert table.loc["one", "note"].startswith("skipped: constant")
    assert table.loc["word", "note"].startswith("skipped: not numeric")
    assert table.loc[["nothing", "one", "word"], "coef"].isna().all()
    assert table.loc["age", "coef"] == pytest.approx(0.0187, abs=5e-5)
    assert list(table.reset_index().columns) == [
        "covariate", "n", "events", "coef", "se", "hr", "hr_lower", "hr_upper", "z", "p", "penalizer", "note",
    ]  # fmt: skip


# --- rossi [rossi] -----------------------------------------------------------------------------------------


def test_fit_cox_rossi_matches_r_and_lifelines_docs() -> None:
    """[rossi] coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio): coefficients and SEs
    fin -0.37942 (0.19138), age -0.05744 (0.02200), race 0.31390 (0.30799), wexp -0.14980 (0.21222),
    mar -0.43370 (0.38187), paro -0.08487 (0.19576), prio 0.09150 (0.02865); fin p 0.04742, HR 0.4702-0.9957."""
    rossi = pd.read_csv(DATA / "rossi.csv")
    names = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    result = fit_cox(rossi, "week", "arrest", names)
    coef = [-0.37942, -0.05744, 0.31390, -0.14980, -0.43370, -0.08487, 0.09150]
    se = [0.19138, 0.02200, 0.30799, 0.21222, 0.38187, 0.19576, 0.02865]
    np.testing.assert_allclose(result.coefficients.loc[names, "coef"], coef, atol=5e-6)
    np.testing.assert_allclose(result.coefficients.loc[names, "se"], se, atol=5e-6)
    assert round(result.coefficients.loc["fin", "p"], 5) == 0.04742
    assert round(result.coefficients.loc["fin", "hr_lower"], 4) == 0.4702
    assert round(result.coefficients.loc["fin", "hr_upper"], 4) == 0.9957


# --- engines agree -----------------------------------------------------------------------------------------


def test_efron_and_breslow_agree_without_tied_times() -> None:
    """With no tied times Efron's and Breslow's partial likelihoods are the same function: lifelines and
    statsmodels must give the same estimates."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(300, 3))
    time = rng.exponential(1 / np.exp(x @ [0.5, -0.3, 0.0]))
    censor = rng.exponential(1.5, 300)
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(time=np.minimum(time, censor), event=(time <= censor).astype(int))
    efron = fit_cox(frame, "time", "event", ["a", "b", "c"])
    breslow = fit_cox(frame, "time", "event", ["a", "b", "c"], ties="breslow")
    np.testing.assert_allclose(efron.coefficients["coef"], breslow.coefficients["coef"], atol=1e-7)
    np.testing.assert_allclose(efron.coefficients["se"], breslow.coefficients["se"], rtol=1e-6)
    assert efron.log_likelihood == pytest.approx(breslow.log_likelihood, rel=1e-10)


def test_large_data_warm_start_gives_lifelines_own_estimate() -> None:
    """From 5,000 subjects lifelines starts from a vectorised Newton-Raphson estimate; the result is what
    lifelines finds from 0 on its own (tied times included, so Efron's correction matters)."""
    from lifelines import CoxPHFitter

    from rodnan.core.analysis.cox import WARM_START_MIN_SUBJECTS

    rng = np.random.default_rng(12)
    n = WARM_START_MIN_SUBJECTS + 500
    x = rng.normal(size=(n, 3))
    time = rng.exponential(1 / np.exp(x @ [0.4, -0.2, 0.1]))
    censor = rng.exponential(2, n)
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(
        time=np.ceil(np.minimum(time, censor) * 20), event=(time <= censor).astype(int)
    )
    result = fit_cox(frame, "time", "event", ["a", "b", "c"])
    reference = CoxPHFitter().fit(
        frame, "time", "event", fit_options={"step_size": 1.0, "precision": 1e-13, "r_precision": 1e-14}
    )
    np.testing.assert_allclose(result.coefficients["coef"], reference.params_, atol=1e-8)
    np.testing.assert_allclose(result.coefficients["se"], reference.standard_errors_, rtol=1e-7)


def test_log_likelihood_matches_the_engines(lung: pd.DataFrame) -> None:
    """The reported partial log-likelihoods are the engines' own (lifelines for Efron, statsmodels for Breslow)."""
    from lifelines import CoxPHFitter
    from statsmodels.duration.hazard_regression import PHReg

    data = lung[["time", "event", "age", "sex"]].dropna()
    efron = fit_cox(data, "time", "event", ["age", "sex"])
    assert efron.log_likelihood == pytest.approx(CoxPHFitter().fit(data, "time", "event").log_likelihood_, rel=1e-9)
    breslow = fit_cox(data, "time", "event", ["age", "sex"], ties="breslow")
    reference = PHReg(data["time"], data[["age", "sex"]], status=data["event"], ties="breslow").fit()
    assert breslow.log_likelihood == pytest.approx(reference.llf, rel=1e-9)
    np.testing.assert_allclose(breslow.coefficients["coef"], reference.params, rtol=1e-6)


# --- Firth ---------------------------------------------------------------------------------------------------


def penalised_loglik(frame: pd.DataFrame, names: list[str]) -> Callable[[np.ndarray], float]:
    """l(b) + 1/2 log det I(b) with Breslow ties, by explicit loops over the risk sets."""
    time = frame["time"].to_numpy(float)
    event = frame["event"].to_numpy(int)
    x = frame[names].to_numpy(float)

    def penalised(beta: np.ndarray) -> float:
        loglik, information = 0.0, np.zeros((len(names), len(names)))
        for t in np.unique(time[event == 1]):
            at_risk = time >= t
            deaths = (time == t) & (event == 1)
            w = np.exp(x[at_risk] @ beta)
            mean = (w[:, None] * x[at_risk]).sum(axis=0) / w.sum()
            centred = x[at_risk] - mean
            loglik += (x[deaths] @ beta).sum() - deaths.sum() * math.log(w.sum())
            information += deaths.sum() * (w[:, None, None] * centred[:, :, None] * centred[:, None, :]).sum(axis=0) / w.sum()
        return loglik + 0.5 * math.log(np.linalg.det(information))

    return penalised


def maximise(function: Callable[[np.ndarray], float], start: np.ndarray) -> tuple[np.ndarray, float]:
    """Nelder-Mead maximisation to tight tolerances."""
    found = optimize.minimize(
        lambda b: -function(b), start, method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20000}
    )
    return np.asarray(found.x), -float(found.fun)


def firth_by_brute_force(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """Maximise the penalised likelihood independently of the module (loops and Nelder-Mead)."""
    return maximise(penalised_loglik(frame, names), np.zeros(len(names)))[0]


def test_fit_cox_firth_matches_independent_maximisation(lung: pd.DataFrame) -> None:
    """Firth's estimate is the maximiser of the penalised likelihood, found independently by Nelder-Mead."""
    separated = fit_cox(SEPARATED, "time", "event", ["x", "age"], penalizer="firth")
    np.testing.assert_allclose(separated.coefficients["coef"], firth_by_brute_force(SEPARATED, ["x", "age"]), atol=1e-5)
    sample = lung.iloc[:60]
    sample_fit = fit_cox(sample, "time", "event", ["age", "sex"], penalizer="firth")
    np.testing.assert_allclose(sample_fit.coefficients["coef"], firth_by_brute_force(sample, ["age", "sex"]), atol=1e-5)
    assert sample_fit.ties == "breslow"
    assert sample_fit.penalizer == "firth"


def test_firth_profile_limits_and_p_solve_the_likelihood_ratio_equations() -> None:
    """Profile penalised-likelihood limits: 2 (l*max - max over age of l*(x = limit, age)) = chi2(1, 0.95) = 3.8415,
    and p = P(chi2(1) > 2 (l*max - profile at 0)), as coxphf computes them; the profiles are recomputed here
    with the independent loops and Nelder-Mead."""
    result = fit_cox(SEPARATED, "time", "event", ["x", "age"], penalizer="firth")
    assert result.ci_method == "profile"
    function = penalised_loglik(SEPARATED, ["x", "age"])
    best, maximum = maximise(function, np.zeros(2))

    def profile_x(value: float) -> float:
        return maximise(lambda b: function(np.array([value, b[0]])), np.array([best[1]]))[1]

    for bound in ("hr_lower", "hr_upper"):
        limit = math.log(result.coefficients.loc["x", bound])
        assert 2 * (maximum - profile_x(limit)) == pytest.approx(stats.chi2.ppf(0.95, 1), abs=1e-4)
    assert result.coefficients.loc["x", "p"] == pytest.approx(stats.chi2.sf(2 * (maximum - profile_x(0.0)), 1), rel=1e-4)
    assert result.coefficients.loc["x", "hr_lower"] > 1  # the interval is asymmetric and excludes 1 here


def test_firth_wald_option_gives_symmetric_log_limits() -> None:
    """firth_ci='wald': exp(coef -+ 1.96 se) and the Wald p-value."""
    result = fit_cox(SEPARATED, "time", "event", ["x", "age"], penalizer="firth", firth_ci="wald")
    table = result.coefficients
    assert result.ci_method == "wald"
    np.testing.assert_allclose(table["hr_lower"], np.exp(table["coef"] - stats.norm.ppf(0.975) * table["se"]))
    np.testing.assert_allclose(table["p"], 2 * stats.norm.sf(np.abs(table["z"])))


def test_monotone_likelihood_is_detected_and_firth_stays_finite() -> None:
    """Separation: R's coxph warns "coefficient may be infinite"; we flag the covariate, and Firth's estimate is finite."""
    for ties in ("efron", "breslow"):
        standard = fit_cox(SEPARATED, "time", "event", ["x"], ties=ties)
        assert standard.monotone_likelihood == ("x",)
        assert not standard.converged
        assert any("monotone likelihood (separation) for x" in w for w in standard.warnings)
        assert standard.coefficients.loc["x", "coef"] > 10  # where iteration stopped, far out
    firth = fit_cox(SEPARATED, "time", "event", ["x"], penalizer="firth")
    assert firth.converged
    assert 0 < firth.coefficients.loc["x", "coef"] < 10
    assert np.isfinite(firth.coefficients.loc["x", "se"])
    assert firth.monotone_likelihood == ()


def test_penalizer_auto_switches_to_firth_when_events_are_few() -> None:
    """'auto' uses Firth below 10 events per variable, and says so in the warning."""
    result = fit_cox(SEPARATED, "time", "event", ["x", "age"], penalizer="auto")
    assert result.penalizer == "firth"
    assert result.warnings[0] == (
        "only 6 events for 2 covariates (EPV 3.0 < 10): estimates unreliable; Firth's penalised likelihood used"
    )


def test_few_events_warning_without_firth() -> None:
    """With the standard fit, the EPV warning suggests Firth."""
    frame = SEPARATED.assign(x=[0, 1, 0, 1, 0, 1, 0, 1, 1, 0])
    result = fit_cox(frame, "time", "event", ["x", "age"])
    assert result.penalizer == "none"
    assert result.events_per_variable == 3.0
    assert result.warnings[0].endswith("(EPV 3.0 < 10): estimates unreliable; consider penalizer='firth'")


def test_firth_is_close_to_standard_fit_with_many_events(lung: pd.DataFrame) -> None:
    """With 165 events the bias correction is small: Firth and Breslow estimates differ by under 5 % of an SE."""
    standard = fit_cox(lung, "time", "event", ["age", "sex"], ties="breslow")
    firth = fit_cox(lung, "time", "event", ["age", "sex"], penalizer="firth")
    difference = (firth.coefficients["coef"] - standard.coefficients["coef"]).abs()
    assert (difference < 0.05 * standard.coefficients["se"]).all()
    assert (firth.coefficients["coef"].abs() < standard.coefficients["coef"].abs()).all()  # shrunk towards 0
    assert firth.lr_chi2 > 0


# --- edge cases and input -----------------------------------------------------------------------------------


def test_no_events_gives_a_result_not_an_exception() -> None:
    """No events: NaN estimates and a warning that says why."""
    result = fit_cox(SEPARATED.assign(event=0), "time", "event", ["x"])
    assert result.coefficients.isna().all().all()
    assert result.events == 0
    assert not result.converged
    assert result.warnings == ("no events among 10 subjects: the Cox model cannot be estimated",)


def test_hazard_ratio_columns_follow_from_coef_and_se(lung: pd.DataFrame) -> None:
    """hr = exp(coef); limits exp(coef +- z se); z = coef / se; p = 2 (1 - Phi(|z|)); 90 % limits use z = 1.645."""
    result = fit_cox(lung, "time", "event", ["age", "sex"], conf_level=0.90)
    table = result.coefficients
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(table["hr"], np.exp(table["coef"]))
    np.testing.assert_allclose(table["hr_lower"], np.exp(table["coef"] - z * table["se"]))
    np.testing.assert_allclose(table["hr_upper"], np.exp(table["coef"] + z * table["se"]))
    np.testing.assert_allclose(table["p"], 2 * stats.norm.sf(np.abs(table["coef"] / table["se"])))
    assert list(table.columns) == ["coef", "se", "hr", "hr_lower", "hr_upper", "z", "p"]
    assert list(result.covariance.columns) == ["age", "sex"]


def test_boolean_columns_are_accepted(aml: pd.DataFrame) -> None:
    """True/False events and covariates behave as 1/0."""
    as_bool = aml.assign(status=aml["status"].astype(bool), nonmaintained=aml["nonmaintained"].astype(bool))
    result = fit_cox(as_bool, "time", "status", ["nonmaintained"])
    assert round(result.coefficients.loc["nonmaintained", "coef"], 4) == 0.9155


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"covariates": []}, "covariates"),
        ({"covariates": "age"}, "covariates"),
        ({"covariates": ["age", "age"]}, "covariates"),
        ({"covariates": ["weight"]}, "frame"),
        ({"covariates": ["time"]}, "covariates"),
        ({"ties": "exact"}, "ties"),
        ({"penalizer": "ridge"}, "penalizer"),
        ({"conf_level": 1.5}, "conf_level"),
        ({"firth_ci": "bootstrap"}, "firth_ci"),
    ],
)
def test_fit_cox_rejects_bad_options(lung: pd.DataFrame, kwargs: dict[str, object], field: str) -> None:
    """Bad covariate lists and unknown options are errors naming the argument."""
    arguments: dict[str, object] = {"covariates": ["age"], **kwargs}
    with pytest.raises(InputError) as caught:
        fit_cox(lung, "time", "event", **arguments)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_fit_cox_rejects_constant_text_and_bad_event_columns(lung: pd.DataFrame) -> None:
    """A constant covariate, a text covariate and events other than 0/1 are errors naming the column."""
    with pytest.raises(InputError, match="constant"):
        fit_cox(lung.assign(one=1), "time", "event", ["one"])
    with pytest.raises(InputError, match="numeric") as caught:
        fit_cox(lung.assign(word="a"), "time", "event", ["word"])
    assert caught.value.field == "word"
    with pytest.raises(InputError) as caught:
        fit_cox(lung, "time", "status", ["age"])  # R's 1/2 coding must be converted first
    assert caught.value.field == "status"
