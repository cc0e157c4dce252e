"""Kaplan-Meier, survival quantiles and the log-rank test, against R's survival package.

Expected values and where they come from (each test repeats its source):

* [doaml] R's survival package, its own regression test ``tests/doaml.Rout.save`` (R 3.4.1; and the
  R 2.11.1 version of the same file, which prints the survdiff p-value as 0.0653), on the aml data:
  ``summary(survfit(Surv(aml$time, aml$status) ~ aml$x))``, ``print`` of that fit, and ``survdiff``.
* [kmdata] README of the R package kmdata (github.com/raredd/kmdata), which prints R's
  ``survfit(Surv(time, status) ~ 1, cancer)`` and ``summary(sf, times = 0:5 * 100)`` for the lung data.
* [zabor] E. C. Zabor, "Survival analysis in R" tutorial: ``summary(survfit(Surv(time, status) ~ 1,
  data = lung), times = 365.25)`` (also reproduced in course notes).
* [sthda] the STHDA tutorial "Survival analysis basics" (and other course notes reproducing it):
  ``survfit(Surv(time, status) ~ sex, data = lung)`` and ``survdiff(Surv(time, status) ~ sex, data = lung)``.
* [ovarian] course notes printing ``survfit(Surv(futime, fustat) ~ 1, data = ovarian)``.
* Hand computations written in the tests (Greenwood sums, the interval transforms, the log-rank
  statistic from its definition), independent of the module's vectorised code, and lifelines'
  ``KaplanMeierFitter`` for the log-log interval.

The data files are copies of R's data sets (tests/data/survival/README.md).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rodnan.core.analysis.survival import compare_log_rank, fit_kaplan_meier
from rodnan.errors import InputError

DATA = Path(__file__).resolve().parents[2] / "data" / "survival"
Z95 = 1.959963984540054


@pytest.fixture(scope="module")
def aml() -> pd.DataFrame:
    return pd.read_csv(DATA / "aml.csv")


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    frame = pd.read_csv(DATA / "lung.csv")
    frame["event"] = frame["status"] - 1  # R's lung codes 1 = censored, 2 = dead
    return frame


def event_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows R's summary() prints by default: the times with at least one event."""
    return table.loc[table["n_event"] > 0].reset_index(drop=True)


# --- aml: R's own regression test [doaml] ------------------------------------------------------------


def test_fit_kaplan_meier_aml_maintained_matches_r_summary(aml: pd.DataFrame) -> None:
    """[doaml] summary(survfit(Surv(time, status) ~ x, aml)), x=Maintained, conf.type "log" (R's default).

    R prints: time 9 13 18 23 31 34 48; n.risk 11 10 8 7 5 4 2; survival 0.909 0.818 0.716 0.614 0.491
    0.368 0.184; std.err 0.0867 0.1163 0.1397 0.1526 0.1642 0.1627 0.1535; lower 0.7541 0.6192 0.4884
    0.3769 0.2549 0.1549 0.0359; upper 1.000 1.000 1.000 0.999 0.946 0.875 0.944.
    """
    group = aml.loc[aml["x"] == "Maintained"]
    rows = event_rows(fit_kaplan_meier(group["time"], group["status"], conf_type="log").table)
    assert rows["time"].tolist() == [9, 13, 18, 23, 31, 34, 48]
    assert rows["n_risk"].tolist() == [11, 10, 8, 7, 5, 4, 2]
    assert rows["n_event"].tolist() == [1] * 7
    np.testing.assert_allclose(rows["survival"], [0.909, 0.818, 0.716, 0.614, 0.491, 0.368, 0.184], atol=5e-4)
    np.testing.assert_allclose(rows["std_err"], [0.0867, 0.1163, 0.1397, 0.1526, 0.1642, 0.1627, 0.1535], atol=5e-5)
    np.testing.assert_allclose(rows["lower"], [0.7541, 0.6192, 0.4884, 0.3769, 0.2549, 0.1549, 0.0359], atol=5e-5)
    np.testing.assert_allclose(rows["upper"], [1.000, 1.000, 1.000, 0.999, 0.946, 0.875, 0.944], atol=5e-4)


def test_fit_kaplan_meier_aml_nonmaintained_matches_r_summary(aml: pd.DataFrame) -> None:
    """[doaml] x=Nonmaintained: survival 0.8333 ... 0.0000; the last row (S = 0) has std.err NaN and NA limits.

    R prints: time 5 8 12 23 27 30 33 43 45; n.risk 12 10 8 6 5 4 3 2 1; n.event 2 2 1 1 1 1 1 1 1;
    survival 0.8333 0.6667 0.5833 0.4861 0.3889 0.2917 0.1944 0.0972 0.0000; std.err 0.1076 0.1361 0.1423
    0.1481 0.1470 0.1387 0.1219 0.0919 NaN; lower 0.6470 0.4468 0.3616 0.2675 0.1854 0.1148 0.0569 0.0153 NA;
    upper 1.000 0.995 0.941 0.883 0.816 0.741 0.664 0.620 NA.
    """
    group = aml.loc[aml["x"] == "Nonmaintained"]
    rows = event_rows(fit_kaplan_meier(group["time"], group["status"], conf_type="log").table)
    assert rows["time"].tolist() == [5, 8, 12, 23, 27, 30, 33, 43, 45]
    assert rows["n_risk"].tolist() == [12, 10, 8, 6, 5, 4, 3, 2, 1]
    assert rows["n_event"].tolist() == [2, 2, 1, 1, 1, 1, 1, 1, 1]
    expected_s = [0.8333, 0.6667, 0.5833, 0.4861, 0.3889, 0.2917, 0.1944, 0.0972, 0.0]
    np.testing.assert_allclose(rows["survival"], expected_s, atol=5e-5)
    expected_se = [0.1076, 0.1361, 0.1423, 0.1481, 0.1470, 0.1387, 0.1219, 0.0919]
    np.testing.assert_allclose(rows["std_err"][:8], expected_se, atol=5e-5)
    np.testing.assert_allclose(rows["lower"][:8], [0.6470, 0.4468, 0.3616, 0.2675, 0.1854, 0.1148, 0.0569, 0.0153], atol=5e-5)
    np.testing.assert_allclose(rows["upper"][:8], [1.000, 0.995, 0.941, 0.883, 0.816, 0.741, 0.664, 0.620], atol=5e-4)
    assert math.isnan(rows["std_err"].iloc[8])
    assert math.isnan(rows["lower"].iloc[8])
    assert math.isnan(rows["upper"].iloc[8])


def test_fit_kaplan_meier_aml_medians_match_r_print(aml: pd.DataFrame) -> None:
    """[doaml] print(survfit(...)): Maintained n 11, events 7, median 31 (18, NA); Nonmaintained 12, 11, 23 (8, NA)."""
    expected = {"Maintained": (11, 7, 31.0, 18.0), "Nonmaintained": (12, 11, 23.0, 8.0)}
    for label, (n, events, median, lower) in expected.items():
        group = aml.loc[aml["x"] == label]
        km = fit_kaplan_meier(group["time"], group["status"], conf_type="log")
        assert (km.n, km.events) == (n, events)
        assert (km.median.time, km.median.lower) == (median, lower)
        assert math.isnan(km.median.upper)  # R: NA, the upper curve never falls to 0.5


def test_compare_log_rank_aml_matches_r_survdiff(aml: pd.DataFrame) -> None:
    """[doaml] survdiff(Surv(time, status) ~ x, aml): observed 7, 11; expected 10.69, 7.31; Chisq 3.4 on 1 df, p 0.0653."""
    result = compare_log_rank(aml["time"], aml["status"], aml["x"])
    assert result.groups["group"].tolist() == ["Maintained", "Nonmaintained"]
    assert result.groups["n"].tolist() == [11, 12]
    assert result.groups["observed"].tolist() == [7, 11]
    np.testing.assert_allclose(result.groups["expected"], [10.69, 7.31], atol=5e-3)
    assert result.df == 1
    assert result.chi2 == pytest.approx(3.4, abs=0.05)
    assert result.p == pytest.approx(0.0653, abs=5e-5)


# --- lung [kmdata], [zabor], [sthda] -----------------------------------------------------------------


def test_fit_kaplan_meier_lung_median_matches_r_print(lung: pd.DataFrame) -> None:
    """[kmdata] survfit(Surv(time, status) ~ 1, cancer): n 228, events 165, median 310, 0.95LCL 285, 0.95UCL 363."""
    km = fit_kaplan_meier(lung["time"], lung["event"], conf_type="log")
    assert (km.n, km.events) == (228, 165)
    assert (km.median.time, km.median.lower, km.median.upper) == (310.0, 285.0, 363.0)


def test_survival_at_lung_matches_r_summary_times(lung: pd.DataFrame) -> None:
    """[kmdata] summary(sf, times = 0:5 * 100), conf.type "log".

    R prints: n.risk 228 196 144 92 57 41; n.event (since the previous time) 0 31 41 29 25 12; survival
    1.0000 0.8640 0.6803 0.5306 0.3768 0.2933; std.err 0.0000 0.0227 0.0311 0.0346 0.0358 0.0351; lower
    1.0000 0.8206 0.6219 0.4669 0.3128 0.2320; upper 1.000 0.910 0.744 0.603 0.454 0.371.
    """
    km = fit_kaplan_meier(lung["time"], lung["event"], conf_type="log")
    at = km.survival_at([0, 100, 200, 300, 400, 500])
    assert at["n_risk"].tolist() == [228, 196, 144, 92, 57, 41]
    assert np.diff(np.concatenate([[0], at["cum_events"]])).tolist() == [0, 31, 41, 29, 25, 12]
    np.testing.assert_allclose(at["survival"], [1.0, 0.8640, 0.6803, 0.5306, 0.3768, 0.2933], atol=5e-5)
    np.testing.assert_allclose(at["std_err"], [0.0, 0.0227, 0.0311, 0.0346, 0.0358, 0.0351], atol=5e-5)
    np.testing.assert_allclose(at["lower"], [1.0, 0.8206, 0.6219, 0.4669, 0.3128, 0.2320], atol=5e-5)
    np.testing.assert_allclose(at["upper"], [1.0, 0.910, 0.744, 0.603, 0.454, 0.371], atol=5e-4)


def test_survival_at_lung_one_year_matches_r(lung: pd.DataFrame) -> None:
    """[zabor] summary(survfit(...), times = 365.25): n.risk 65, n.event 121, survival 0.409, std.err 0.0358, 0.345-0.486."""
    row = fit_kaplan_meier(lung["time"], lung["event"], conf_type="log").survival_at(365.25).iloc[0]
    assert (row["n_risk"], row["cum_events"]) == (65, 121)
    assert row["survival"] == pytest.approx(0.409, abs=5e-4)
    assert row["std_err"] == pytest.approx(0.0358, abs=5e-5)
    assert (row["lower"], row["upper"]) == (pytest.approx(0.345, abs=5e-4), pytest.approx(0.486, abs=5e-4))


def test_fit_kaplan_meier_lung_by_sex_medians_match_r(lung: pd.DataFrame) -> None:
    """[sthda] survfit(Surv(time, status) ~ sex, lung): sex=1 n 138, 112 events, median 270 (212, 310);
    sex=2 n 90, 53 events, median 426 (348, 550)."""
    expected = {1: (138, 112, 270.0, 212.0, 310.0), 2: (90, 53, 426.0, 348.0, 550.0)}
    for sex, (n, events, median, lower, upper) in expected.items():
        group = lung.loc[lung["sex"] == sex]
        km = fit_kaplan_meier(group["time"], group["event"], conf_type="log")
        assert (km.n, km.events, km.median.time, km.median.lower, km.median.upper) == (n, events, median, lower, upper)


def test_compare_log_rank_lung_sex_matches_r_survdiff(lung: pd.DataFrame) -> None:
    """[sthda] survdiff(Surv(time, status) ~ sex, lung): O 112, 53; E 91.6, 73.4; Chisq 10.3 on 1 df, p 0.00131."""
    result = compare_log_rank(lung["time"], lung["event"], lung["sex"])
    assert result.groups["observed"].tolist() == [112, 53]
    np.testing.assert_allclose(result.groups["expected"], [91.6, 73.4], atol=0.05)
    assert result.chi2 == pytest.approx(10.3, abs=0.05)
    assert result.df == 1
    assert result.p == pytest.approx(0.00131, abs=5e-6)


def test_fit_kaplan_meier_ovarian_median_upper_limit_not_reached() -> None:
    """[ovarian] survfit(Surv(futime, fustat) ~ 1, ovarian): n 26, events 12, median 638, 0.95LCL 464, 0.95UCL NA."""
    ovarian = pd.read_csv(DATA / "ovarian.csv")
    km = fit_kaplan_meier(ovarian["futime"], ovarian["fustat"], conf_type="log")
    assert (km.n, km.events, km.median.time, km.median.lower) == (26, 12, 638.0, 464.0)
    assert math.isnan(km.median.upper)


# --- hand computations ---------------------------------------------------------------------------------


def greenwood_by_hand(times: list[float], events: list[int]) -> list[tuple[float, int, float, float]]:
    """(time, n at risk, S, sigma = SE of log S) at each event time, by the textbook loops."""
    rows = []
    s, total = 1.0, 0.0
    for t in sorted({t for t, e in zip(times, events, strict=True) if e}):
        n = sum(1 for u in times if u >= t)
        d = sum(1 for u, e in zip(times, events, strict=True) if u == t and e)
        s *= 1 - d / n
        total += d / (n * (n - d)) if n > d else math.inf
        rows.append((t, n, s, math.sqrt(total)))
    return rows


def test_fit_kaplan_meier_greenwood_and_transforms_by_hand(aml: pd.DataFrame) -> None:
    """Greenwood SE and the three interval transforms, recomputed by hand for aml (Maintained).

    log-log: S^exp(+-z sigma / log S); log: S exp(+-z sigma), upper capped at 1; plain: S +- z S sigma,
    clipped to [0, 1] (Kalbfleisch & Prentice 2002, sec. 1.4; R's survfit conf.type).
    """
    group = aml.loc[aml["x"] == "Maintained"]
    expected = greenwood_by_hand(group["time"].tolist(), group["status"].tolist())
    for conf_type in ("log-log", "log", "plain"):
        rows = event_rows(fit_kaplan_meier(group["time"], group["status"], conf_type=conf_type).table)
        for (t, n, s, sigma), (_, row) in zip(expected, rows.iterrows(), strict=True):
            assert (row["time"], row["n_risk"]) == (t, n)
            assert row["survival"] == pytest.approx(s, rel=1e-12)
            assert row["std_err"] == pytest.approx(s * sigma, rel=1e-12)
            if conf_type == "log-log":
                lower, upper = s ** math.exp(Z95 * sigma / -math.log(s)), s ** math.exp(-Z95 * sigma / -math.log(s))
            elif conf_type == "log":
                lower, upper = s * math.exp(-Z95 * sigma), min(1.0, s * math.exp(Z95 * sigma))
            else:
                lower, upper = max(0.0, s - Z95 * s * sigma), min(1.0, s + Z95 * s * sigma)
            assert (row["lower"], row["upper"]) == (pytest.approx(lower, rel=1e-9), pytest.approx(upper, rel=1e-9))


def test_fit_kaplan_meier_log_log_matches_lifelines(lung: pd.DataFrame) -> None:
    """The default (log-log) interval equals lifelines' exponential Greenwood interval at every time (lung)."""
    from lifelines import KaplanMeierFitter

    km = fit_kaplan_meier(lung["time"], lung["event"])
    assert km.conf_type == "log-log"
    reference = KaplanMeierFitter().fit(lung["time"], lung["event"], alpha=0.05)
    survival = reference.survival_function_.iloc[1:, 0].to_numpy()  # lifelines adds a row at time 0
    interval = reference.confidence_interval_.iloc[1:].to_numpy()
    np.testing.assert_allclose(km.table["survival"], survival, rtol=1e-12)
    finite = km.table["survival"].to_numpy() > 0
    np.testing.assert_allclose(km.table["lower"][finite], interval[finite, 0], rtol=1e-9)
    np.testing.assert_allclose(km.table["upper"][finite], interval[finite, 1], rtol=1e-9)


def test_fit_kaplan_meier_conf_level_changes_only_the_interval(aml: pd.DataFrame) -> None:
    """A 90 % interval uses z = 1.645 in the same formula and is narrower than the 95 % one."""
    narrow = fit_kaplan_meier(aml["time"], aml["status"], conf_level=0.90, conf_type="log").table
    wide = fit_kaplan_meier(aml["time"], aml["status"], conf_type="log").table
    z90 = stats.norm.ppf(0.95)
    sigma = narrow["std_err"] / narrow["survival"]
    ok = narrow["survival"] > 0
    np.testing.assert_allclose(narrow["lower"][ok], (narrow["survival"] * np.exp(-z90 * sigma))[ok], rtol=1e-12)
    assert (narrow["lower"][ok] >= wide["lower"][ok]).all()


def test_fit_kaplan_meier_table_keeps_censoring_times(aml: pd.DataFrame) -> None:
    """The step table has a row per distinct time, with censorings counted (aml: 13 has one event and one censoring)."""
    table = fit_kaplan_meier(aml["time"], aml["status"]).table
    assert list(table.columns) == ["time", "n_risk", "n_event", "n_censor", "survival", "std_err", "lower", "upper"]
    assert len(table) == aml["time"].nunique()
    row = table.loc[table["time"] == 13].iloc[0]
    assert (row["n_event"], row["n_censor"]) == (1, 1)
    assert table["n_event"].sum() + table["n_censor"].sum() == len(aml)


def test_median_is_midpoint_where_curve_is_flat_at_one_half() -> None:
    """R's rule (quantile.survfit): a curve exactly 0.5 from t=2 to the next drop at t=3 has median 2.5;
    flat at 0.5 to the last follow-up (4) gives (2 + 4) / 2 = 3."""
    km = fit_kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1])
    assert km.median.time == 2.5
    km = fit_kaplan_meier([1, 2, 3, 4], [1, 1, 0, 0])
    assert km.median.time == 3.0


def test_median_not_reached_is_nan() -> None:
    """Fewer than half the subjects have the event: median NaN (R: NA)."""
    km = fit_kaplan_meier([1, 2, 3, 4, 5], [1, 0, 0, 0, 0])
    assert math.isnan(km.median.time)
    assert km.quantile(0.9).time == 1.0  # but S falls to 0.8 at t=1, so the 90 % quantile is reached


def test_at_risk_counts_by_hand() -> None:
    """Numbers at risk (time >= t) and cumulative events/censorings (time <= t), counted by hand."""
    km = fit_kaplan_meier([2, 3, 3, 5, 8, 8, 9], [1, 0, 1, 1, 0, 0, 1])
    table = km.at_risk([0, 3, 4, 8, 10])
    assert table["n_risk"].tolist() == [7, 6, 4, 3, 0]
    assert table["cum_events"].tolist() == [0, 2, 2, 3, 4]
    assert table["cum_censored"].tolist() == [0, 1, 1, 3, 3]


def test_survival_at_beyond_follow_up() -> None:
    """Past the last time the curve is unknown (NaN) if it ended censored, 0 if it reached 0."""
    censored_end = fit_kaplan_meier([1, 2, 3], [1, 0, 0]).survival_at([2.5, 10])
    assert censored_end["survival"].iloc[0] == pytest.approx(2 / 3)
    assert math.isnan(censored_end["survival"].iloc[1])
    assert censored_end["n_risk"].tolist() == [1, 0]
    all_dead = fit_kaplan_meier([1, 2], [1, 1]).survival_at(5)
    assert all_dead["survival"].iloc[0] == 0.0


def test_log_log_interval_is_one_before_the_first_event() -> None:
    """Before any event S = 1 with no variance: the interval is [1, 1] for every transform."""
    for conf_type in ("log-log", "log", "plain"):
        row = fit_kaplan_meier([1, 5, 6], [0, 1, 0], conf_type=conf_type).table.iloc[0]
        assert (row["survival"], row["lower"], row["upper"]) == (1.0, 1.0, 1.0)


def test_compare_log_rank_three_groups_by_hand() -> None:
    """Chi-square = (O-E)' V^-1 (O-E) over k-1 groups, with the hypergeometric variance, computed by hand."""
    rng = np.random.default_rng(7)
    time = rng.integers(1, 30, 60).astype(float)
    event = (rng.random(60) < 0.7).astype(int)
    group = np.repeat(["a", "b", "c"], 20)
    time[group == "c"] += 5
    result = compare_log_rank(time, event, group)
    observed = np.zeros(3)
    expected = np.zeros(3)
    variance = np.zeros((3, 3))
    for t in np.unique(time[event == 1]):
        at_risk = np.array([np.sum((time >= t) & (group == g)) for g in "abc"], dtype=float)
        dead = np.array([np.sum((time == t) & (event == 1) & (group == g)) for g in "abc"], dtype=float)
        n, d = at_risk.sum(), dead.sum()
        observed += dead
        expected += d * at_risk / n
        if n > 1:
            variance += d * (n - d) / (n - 1) * (np.diag(at_risk / n) - np.outer(at_risk, at_risk) / n**2)
    diff = (observed - expected)[:2]
    chi2 = float(diff @ np.linalg.solve(variance[:2, :2], diff))
    assert result.df == 2
    assert result.chi2 == pytest.approx(chi2, rel=1e-9)
    assert result.p == pytest.approx(stats.chi2.sf(chi2, 2), rel=1e-9)
    np.testing.assert_allclose(result.groups["expected"], expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("time", "event", "field"),
    [
        ([1, 2], [1], "event"),
        ([1, -2], [1, 0], "time"),
        ([1, float("nan")], [1, 0], "time"),
        ([1, 2], [1, 2], "event"),
        ([], [], "time"),
    ],
)
def test_fit_kaplan_meier_rejects_bad_input(time: list[float], event: list[int], field: str) -> None:
    """Mismatched lengths, negative or missing times, events other than 0/1 and no subjects are errors naming the field."""
    with pytest.raises(InputError) as caught:
        fit_kaplan_meier(time, event)
    assert caught.value.field == field


def test_fit_kaplan_meier_rejects_unknown_options() -> None:
    """An unknown transform or a confidence level outside (0, 1) is an error."""
    with pytest.raises(InputError, match="conf_type"):
        fit_kaplan_meier([1, 2], [1, 0], conf_type="arcsine")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="conf_level"):
        fit_kaplan_meier([1, 2], [1, 0], conf_level=95)


def test_compare_log_rank_needs_two_groups_without_missing_labels() -> None:
    """One group, or a missing label, is an error."""
    with pytest.raises(InputError, match="at least two groups"):
        compare_log_rank([1, 2, 3], [1, 0, 1], ["a", "a", "a"])
    with pytest.raises(InputError, match="missing"):
        compare_log_rank([1, 2, 3], [1, 0, 1], ["a", None, "b"])
