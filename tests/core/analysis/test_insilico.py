"""In-silico trial: determinism, power under a large and a null effect, the summaries on constructed replicates.

Expected values are either constructed by hand (the replicate table of the summary tests, the visit months
of the DFS time scale) or follow from the simulation parameters (a true mRSS change of 0 when the effect is
0 and individual responses do not vary; a power near 1 when the change is -15 points with an SD of 5).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rodnan.core.analysis.insilico import (
    REPLICATE_COLUMNS,
    analysis_items,
    dfs_months,
    estimate_reference,
    paired_wilcoxon_p,
    replicate,
    replicate_seeds,
    run,
    run_insilico_trial,
    summarise_replicates,
)
from rodnan.core.analysis.longitudinal import compare_paired_wilcoxon
from rodnan.core.protocol import Study
from rodnan.core.simulate.params import SimulationParams
from rodnan.errors import InputError


def test_replicate_seeds_are_the_spawned_children_of_the_seed() -> None:
    """Replicate r's seed is 64 bits of SeedSequence(seed).spawn(reps)[r], and does not depend on reps."""
    children = np.random.SeedSequence(42).spawn(5)
    assert replicate_seeds(42, 5) == [int(c.generate_state(1, np.uint64)[0]) for c in children]
    assert replicate_seeds(42, 3) == replicate_seeds(42, 5)[:3]
    assert len(set(replicate_seeds(42, 5))) == 5
    with pytest.raises(InputError, match="seed"):
        replicate_seeds(-1, 2)


def test_analysis_items_are_the_endpoint_items_and_their_derivation_inputs(study: Study) -> None:
    """mRSS with its 17 areas, % predicted with the raw lung values; no SF-36 or HAQ items (slow to derive)."""
    items = analysis_items(study)
    assert {"mrss", "mrss_face", "mrss_foot_l", "fvc_pct_pred", "fvc_l", "dlco", "age", "sex", "height"} <= items
    assert {"mpap_echo", "lvef", "albumin", "creatinine", "urine_protein_24h"} <= items
    assert not any(code.startswith(("sf36_", "haq_")) for code in items)


def test_run_insilico_trial_is_deterministic_and_independent_of_batching(study: Study, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same seed: identical replicates and summary; the first replicates do not change with more reps or
    with replicates evaluated one by one instead of in batches; another seed differs."""
    first = run_insilico_trial(study, 8, 5, 3)
    again = run_insilico_trial(study, 8, 5, 3)
    pd.testing.assert_frame_equal(first.replicates, again.replicates)
    assert first.to_dict() == again.to_dict()
    assert list(first.replicates.columns) == list(REPLICATE_COLUMNS)
    assert first.replicates["seed"].tolist() == replicate_seeds(3, 5)
    monkeypatch.setattr(run, "REPLICATES_PER_BATCH", 1)
    alone = run_insilico_trial(study, 8, 3, 3)
    pd.testing.assert_frame_equal(alone.replicates, first.replicates.iloc[:3])
    other = run_insilico_trial(study, 8, 5, 4)
    assert not other.replicates["mrss_mean_change"].equals(first.replicates["mrss_mean_change"])


def test_power_is_near_one_for_a_large_effect(study: Study) -> None:
    """mRSS -15 points at 12 months with an SD of 5: about 17 pairs give z above 10, so every trial rejects."""
    params = SimulationParams(effect_mrss_12m=-15.0, mrss_sd_12m=5.0)
    result = run_insilico_trial(study, 20, 20, 5, params)
    assert result.mrss.power_wilcoxon == 1.0
    assert result.mrss.power_t == 1.0
    assert result.mrss.mean_estimate == pytest.approx(-15, abs=1.5)
    assert result.failures == {}


def test_power_is_near_alpha_without_an_effect(study: Study) -> None:
    """No effect and no spread of individual responses (mrss_sd_12m = the measurement SD): the M12 score is
    the baseline plus rounded symmetric noise, so the true change is 0 and both tests have level alpha.

    Tolerance: the number of rejections among 100 trials is at most Binomial(100, 0.05) (the Wilcoxon with
    continuity correction is, if anything, conservative); P(X >= 16) = 3e-5, so power <= 0.15 fails only
    for a real excess. Coverage: P(Binomial(100, 0.95) <= 85) = 1e-4.
    """
    params = SimulationParams(effect_mrss_12m=0.0, mrss_sd_12m=2.0)
    result = run_insilico_trial(study, 20, 100, 11, params)
    assert 0 <= result.mrss.power_wilcoxon <= 0.15
    assert 0 <= result.mrss.power_t <= 0.15
    assert result.mrss.true_change == 0.0
    assert result.mrss.coverage >= 0.85
    assert abs(result.mrss.mean_estimate) < 0.3  # SD of a trial's mean change ~ 2 / sqrt(17); over 100 trials ~ 0.05


def test_summarise_replicates_on_a_constructed_table() -> None:
    """Power, coverage, widths and DFS summaries counted by hand on four replicates (one failed)."""
    replicates = pd.DataFrame(
        {
            "replicate": [0, 1, 2, 3],
            "seed": [1, 2, 3, 4],
            "n_infused": [20, 20, 20, 20],
            "mrss_pairs": [18, 17, 16, 1],
            "mrss_mean_change": [-3.0, -1.0, 1.0, math.nan],
            "mrss_sd_change": [4.0, 4.0, 2.0, math.nan],
            "mrss_lower": [-5.0, -3.0, 0.0, math.nan],
            "mrss_upper": [-1.0, 1.0, 2.0, math.nan],
            "mrss_t_p": [0.01, 0.3, 0.05, math.nan],
            "mrss_wilcoxon_p": [0.01, 0.2, 0.04, math.nan],
            "mrss_wilcoxon_method": ["normal approximation"] * 3 + [""],
            "dfs_events": [2, 5, 5, 8],
            "dfs_survival": [0.9, 0.75, 0.7, math.nan],
            "dfs_lower": [0.7, 0.5, 0.45, math.nan],
            "dfs_upper": [0.97, 0.88, 0.86, math.nan],
            "dfs_median": [math.nan, math.nan, math.nan, 11.0],
            "dfs_median_reached": [False, False, False, True],
            "dfs_rules": ["e1_death e2_skin", "e2_skin", "", "e3_lung"],
            "failures": ["", "", "", "mrss mean change: one pair | dfs km: not estimable"],
        }
    )
    mrss, dfs = summarise_replicates(replicates, 0.05, -2.0, "given", 12.0, reference_survival=0.89, dfs_null=0.48)
    assert mrss.power_wilcoxon == 0.5  # p 0.01 and 0.04 of four trials; the failed one does not reject
    assert mrss.power_t == 0.25  # only [-5, -1] excludes 0 ([0, 2] touches it)
    assert mrss.coverage == pytest.approx(2 / 3)  # -2 in [-5, -1] and [-3, 1], not in [0, 2]
    assert mrss.mean_ci_width == pytest.approx((4 + 4 + 2) / 3)
    assert mrss.mean_estimate == pytest.approx(-1.0)
    assert mrss.sd_estimate == pytest.approx(2.0)
    assert mrss.bias == pytest.approx(1.0)
    assert mrss.mean_pairs == pytest.approx(13.0)
    assert (mrss.valid, mrss.failed) == (3, 1)
    assert dfs.mean_survival == pytest.approx((0.9 + 0.75 + 0.7) / 3)
    assert dfs.sd_survival == pytest.approx(float(np.std([0.9, 0.75, 0.7], ddof=1)))
    assert dfs.mean_ci_width == pytest.approx((0.27 + 0.38 + 0.41) / 3)
    assert dfs.events_mean == 5.0
    assert dfs.events_quantiles == (2.0, 4.25, 5.0, 5.75, 8.0)
    assert dfs.events_histogram == {2: 1, 5: 2, 8: 1}
    assert dfs.median_reached == 0.25
    assert dfs.events_by_rule == {"e1_death": 0.25, "e2_skin": 0.5, "e3_lung": 0.25}
    assert dfs.coverage == pytest.approx(1 / 3)  # 0.89 in [0.7, 0.97] only
    assert dfs.power_vs_null == 0.5  # lower limits 0.7 and 0.5 above 0.48
    assert (dfs.valid, dfs.failed) == (3, 1)


def test_a_failing_analysis_is_counted_not_raised(study: Study, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Wilcoxon test that raises in one trial, and trials of one patient (no interval), are counted with messages."""
    real = replicate.paired_wilcoxon_p
    calls = {"n": 0}

    def flaky(baseline: np.ndarray, followup: np.ndarray) -> tuple[float, str]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise np.linalg.LinAlgError("singular")
        return real(baseline, followup)

    monkeypatch.setattr(replicate, "paired_wilcoxon_p", flaky)
    result = run_insilico_trial(study, 6, 3, 2)
    assert result.failures == {"mrss wilcoxon": 1}
    assert result.failure_messages == ("mrss wilcoxon: LinAlgError: singular",)
    assert result.mrss.failed == 1
    assert math.isnan(result.replicates.loc[1, "mrss_wilcoxon_p"])
    assert result.mrss.power_wilcoxon <= 2 / 3

    monkeypatch.setattr(replicate, "paired_wilcoxon_p", real)
    single = run_insilico_trial(study, 1, 2, 2)
    assert single.failures["mrss mean change"] == 2  # one patient: never two pairs
    assert single.mrss.valid == 0
    assert math.isnan(single.mrss.coverage)


def test_paired_wilcoxon_p_equals_compare_paired_wilcoxon() -> None:
    """The vectorised sign-pattern enumeration gives compare_paired_wilcoxon's p-value and method exactly."""
    rng = np.random.default_rng(8)
    methods = set()
    for _ in range(25):
        m = int(rng.integers(3, 10))
        baseline = rng.integers(10, 30, m).astype(float)
        followup = baseline + rng.integers(-4, 4, m)
        p_value, method = paired_wilcoxon_p(baseline, followup)
        expected = compare_paired_wilcoxon(baseline, followup)
        methods.add(method)
        assert method == expected.method
        assert p_value == expected.p or (math.isnan(p_value) and math.isnan(expected.p))
    assert "permutation" in methods
    continuous = rng.normal(0, 1, 30)
    assert paired_wilcoxon_p(np.zeros(30), continuous) == (compare_paired_wilcoxon(np.zeros(30), continuous).p, "exact")


def test_dfs_months_use_the_scheduled_visit_month(study: Study) -> None:
    """A late M12 is month 12; a death, an adverse-event trigger or an unscheduled visit is days / 30.4375."""
    rows = pd.DataFrame({"visit": ["M12", "M3", "", "AE", "M6R"], "days": [380, 95, 100, 200, 190]})
    per_month = study.schedule.days_per_month
    expected = [12.0, 3.0, 100 / per_month, 200 / per_month, 190 / per_month]
    np.testing.assert_allclose(dfs_months(study, rows), expected)


def test_reference_cohort_gives_the_true_values(study: Study) -> None:
    """A reference cohort's mean change replaces the parameter as the truth; a reference at another month is refused."""
    reference = estimate_reference(study, 300, 9)
    assert reference.pairs > 200
    assert reference.mrss_change == pytest.approx(-6.3, abs=4 * reference.mrss_change_se + 0.3)
    assert 0 < reference.dfs_survival < 1
    result = run_insilico_trial(study, 10, 2, 1, reference=reference)
    assert result.mrss.true_change == reference.mrss_change
    assert result.mrss.true_change_source.startswith("reference cohort of 300 subjects")
    assert result.dfs.reference_survival == reference.dfs_survival
    assert result.to_dict()["reference"]["n"] == 300
    with pytest.raises(InputError, match="month"):
        run_insilico_trial(study, 10, 2, 1, dfs_month=6.0, reference=reference)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"n": 0}, "n"), ({"reps": 0}, "reps"), ({"alpha": 1.0}, "alpha"), ({"dfs_null": 1.5}, "dfs_null")],
)
def test_run_insilico_trial_rejects_bad_arguments(study: Study, kwargs: dict[str, float], field: str) -> None:
    """n and reps of at least 1, alpha and the DFS to beat strictly between 0 and 1."""
    arguments: dict[str, object] = {"n": 5, "reps": 1, "seed": 1, **kwargs}
    with pytest.raises(InputError, match=field):
        run_insilico_trial(study, **arguments)  # type: ignore[arg-type]


def test_to_dict_is_json_ready(study: Study) -> None:
    """NaN becomes None; the histogram keys are text; the assumptions are listed."""
    import json

    result = run_insilico_trial(study, 1, 2, 2)
    data = result.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["assumptions"]["effect_mrss_12m"] == -6.3
    assert data["mrss_change"]["coverage"] is None
    assert all(isinstance(k, str) for k in data["dfs"]["events_histogram"])
