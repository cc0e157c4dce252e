"""The simulated cohort: reproducible, distributed as its parameters say, internally consistent."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rodnan.core.derivation import derive_items
from rodnan.core.eligibility import ScreeningVerdict, evaluate_criteria, normalize_facts
from rodnan.core.protocol import Study, load_protocol
from rodnan.core.simulate.cohort import SimulatedCohort, format_numbers, simulate_cohort
from rodnan.core.simulate.params import SimulationParams
from rodnan.core.values import Measurement
from rodnan.errors import InputError

N = 3000


def screening_columns(study: Study) -> list[str]:
    """The screening form's items a candidate file holds (its attached source document aside: decision 0021)."""
    return [code for code in study.form_by_code["screening"].items if study.item_by_code[code].type != "file"]


@pytest.fixture(scope="module")
def cohort() -> SimulatedCohort:
    """A large cohort for the distribution tests (default parameters)."""
    return simulate_cohort(load_protocol(), N, seed=20261127)


@pytest.fixture(scope="module")
def values(cohort: SimulatedCohort) -> pd.DataFrame:
    """Its long table of values."""
    return cohort.values_frame()


def _wide(values: pd.DataFrame, item: str) -> pd.DataFrame:
    rows = values[values["item"] == item]
    return rows.pivot_table(index="subject_id", columns="visit", values="value", aggfunc="first").apply(pd.to_numeric)


def test_same_seed_same_cohort_different_seed_different(study: Study) -> None:
    """Byte-identical tables for the same seed and parameters; a different seed changes them."""
    first, second = simulate_cohort(study, 25, seed=5), simulate_cohort(study, 25, seed=5)
    assert first.values_frame().to_csv(index=False) == second.values_frame().to_csv(index=False)
    assert first.subjects.to_csv(index=False) == second.subjects.to_csv(index=False)
    assert first.adverse_events.to_csv(index=False) == second.adverse_events.to_csv(index=False)
    assert simulate_cohort(study, 25, seed=6).values_frame().to_csv(index=False) != first.values_frame().to_csv(index=False)


def test_skin_score_follows_this_trials_published_course(values: pd.DataFrame) -> None:
    """Zhang 2017 (this trial): mRSS 20.1 ± 3.1 at baseline, 13.8 ± 10.2 at 12 months. Means within 4 standard
    errors; the 12-month SD within 1 point (the 0-51 bounds of the score trim the log-normal tail)."""
    mrss = _wide(values, "mrss")
    baseline, month12 = mrss["SCR"].dropna(), mrss["M12"].dropna()
    assert abs(baseline.mean() - 20.1) < 4 * 3.1 / math.sqrt(len(baseline))
    assert abs(baseline.std() - 3.1) < 0.2
    assert abs(month12.mean() - 13.8) < 4 * 10.2 / math.sqrt(len(month12))
    assert abs(month12.std() - 10.2) < 1.0
    assert mrss[["M1", "M3", "M6", "M12"]].mean().is_monotonic_decreasing


def test_proportions_match_parameters(cohort: SimulatedCohort, values: pd.DataFrame) -> None:
    """Women, pathways, deaths (5-year survival 92.7 %, Alip 2024), infusion reactions, missed visits:
    each within 4 standard errors of its parameter."""
    p = SimulationParams()
    subjects = cohort.subjects

    def close(observed: float, expected: float, n: int) -> bool:
        return abs(observed - expected) < 4 * math.sqrt(expected * (1 - expected) / n) + 1e-9

    assert close((subjects["sex"] == "female").mean(), p.female_fraction, N)
    for name, fraction in zip(("rapidly_progressive", "lung", "digestive", "kidney"), p.pathway_fractions, strict=True):
        assert close((subjects["pathway"] == name).mean(), fraction, N), name
    follow_years = (pd.to_datetime(subjects["end_date"]) - pd.to_datetime(subjects["infusion_date"])).dt.days.mean() / 365.25
    expected_deaths = 1 - p.survival_5y ** (follow_years / 5)
    assert close((subjects["status"] == "died").mean(), expected_deaths, N)
    reactions = cohort.adverse_events[cohort.adverse_events["term"] == "Infusion related reaction"]["subject_id"].nunique()
    assert close(reactions / N, p.infusion_reaction_probability, N)
    still_followed = pd.to_datetime(subjects["end_date"]) > pd.to_datetime(subjects["infusion_date"]) + pd.Timedelta(days=220)
    followed = set(subjects.loc[still_followed, "subject_id"])
    came = set(values.loc[values["visit"] == "M6", "subject_id"]) & followed
    assert close(1 - len(came) / len(followed), p.missed_visit_probability, len(followed))


def test_every_subject_is_eligible_by_their_pathway(study: Study, cohort: SimulatedCohort, values: pd.DataFrame) -> None:
    """The screening values of every enrolled subject satisfy the protocol, through the pathway they were enrolled by."""
    screening = values[values["visit"] == "SCR"]
    subjects = cohort.subjects.set_index("subject_id")
    for subject_id, rows in list(screening.groupby("subject_id"))[:300]:
        facts: dict[str, object] = {}
        for item, value, unit in rows[["item", "value", "unit"]].itertuples(index=False):
            if item in screening_columns(study) or item in ("age", "sex", "body_weight"):
                facts[item] = value if not unit else Measurement(value, unit)
        result = evaluate_criteria(study, facts)
        assert result.verdict is ScreeningVerdict.ELIGIBLE, (
            subject_id,
            [c.reason for c in result.criteria if c.verdict.value != "not_met"],
        )
        assert subjects.loc[subject_id, "pathway"] in result.qualifying_pathways


def test_mrss_areas_sum_to_the_total_and_scores_derive_from_answers(study: Study, cohort: SimulatedCohort) -> None:
    """At screening the 17 areas sum to the recorded total; HAQ-DI and SF-36 derive from the answers."""
    frame = cohort.values_frame(0, 40)
    for (_, visit), rows in frame.groupby(["subject_id", "visit"]):
        answers = dict(zip(rows["item"], rows["value"], strict=True))
        areas = [int(v) for k, v in answers.items() if k.startswith("mrss_")]
        assert all(0 <= a <= 3 for a in areas)
        if visit == "SCR" and "mrss" in answers and len(areas) == 17:
            assert sum(areas) == int(answers["mrss"])
        if visit == "M12":
            facts = {k: v for k, v in answers.items() if k.startswith(("haq_", "sf36_"))}
            derived = derive_items(study, normalize_facts(study, facts))
            if derived["haq_di"].value is not None:
                assert 0 <= derived["haq_di"].value <= 3
            if derived["sf36_pcs"].value is not None:
                assert 0 < derived["sf36_pcs"].value < 80


def test_percent_predicted_agrees_with_raw_values_through_the_protocol(study: Study, cohort: SimulatedCohort) -> None:
    """fvc_pct_pred, vc_pct_pred and dlco_pct_pred equal what the protocol derives from the raw values (0.05 points)."""
    frame = cohort.values_frame(0, 30)
    checked = 0
    for (subject_id, _visit), rows in frame.groupby(["subject_id", "visit"]):
        answers = dict(zip(rows["item"], rows["value"], strict=True))
        if "fvc_l" not in answers or "fvc_pct_pred" not in answers:
            continue
        demographics = frame[
            (frame["subject_id"] == subject_id) & (frame["visit"] == "SCR") & frame["item"].isin(["age", "sex", "height"])
        ]
        facts = dict(zip(demographics["item"], demographics["value"], strict=True)) | {"fvc_l": answers["fvc_l"]}
        derived = derive_items(study, normalize_facts(study, facts))
        assert derived["fvc_pct_pred"].value == pytest.approx(float(answers["fvc_pct_pred"]), abs=0.05)
        checked += 1
    assert checked > 50


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12))
def test_invariants_hold_for_any_seed(seed: int, n: int) -> None:
    """Dates in order; nothing after the end of follow-up; weights, weight loss, lymphocyte subsets and the dose agree."""
    cohort = simulate_cohort(_STUDY, n, seed)
    subjects = cohort.subjects.set_index("subject_id")
    frame = cohort.values_frame()
    dates = pd.to_datetime(frame["date"])
    screening = pd.to_datetime(frame["subject_id"].map(subjects["screening_date"]))
    end = pd.to_datetime(frame["subject_id"].map(subjects["end_date"]))
    assert (dates >= screening).all()
    assert (dates <= end).all()
    assert (pd.to_datetime(subjects["infusion_date"]) > pd.to_datetime(subjects["screening_date"])).all()
    visit_order = {v: i for i, v in enumerate(cohort.visit_codes)}
    for _, rows in frame.drop_duplicates(["subject_id", "visit"]).groupby("subject_id"):
        order = rows["visit"].map(visit_order).to_numpy()
        assert (np.diff(pd.to_datetime(rows["date"]).to_numpy()[np.argsort(order)]).astype(int) > 0).all()
    scr = frame[frame["visit"] == "SCR"].pivot_table(index="subject_id", columns="item", values="value", aggfunc="first")
    before, now = scr["body_weight_12m_before"].astype(float), scr["body_weight"].astype(float)
    assert np.allclose(scr["weight_loss_12m_pct"].astype(float), np.round(100 * (before - now) / before, 2), atol=0.006)
    cells = (
        frame[frame["item"].isin(["cd3_count", "cd4_count", "cd8_count"])]
        .pivot_table(index=["subject_id", "visit"], columns="item", values="value", aggfunc="first")
        .dropna()
        .astype(float)
    )
    assert (cells["cd4_count"] + cells["cd8_count"] <= cells["cd3_count"] + 1).all()
    per_kg = subjects["cells_administered"] / subjects["infusion_weight_kg"]
    assert ((per_kg > 0.94e6) & (per_kg < 1.06e6)).all()
    events = cohort.adverse_events
    if len(events):
        onset = pd.to_datetime(events["onset_date"])
        assert (onset <= pd.to_datetime(events["subject_id"].map(subjects["end_date"]))).all()
        assert (onset >= pd.to_datetime(events["subject_id"].map(subjects["infusion_date"])) - pd.Timedelta(days=7)).all()


_STUDY = load_protocol()


def test_format_numbers_is_exact() -> None:
    """Decimal text from integers, never from float repr: 0.1 + 0.2 rounded to 2 decimals prints 0.3."""
    assert format_numbers(np.array([np.round(0.1 + 0.2, 2), 12.5, -3.25])).tolist() == ["0.30", "12.50", "-3.25"]
    assert format_numbers(np.array([3.0, 120.0])).tolist() == ["3", "120"]


def test_bad_parameters_are_refused() -> None:
    """A probability outside 0-1 or pathway fractions not summing to 1 name the parameter."""
    with pytest.raises(InputError) as caught:
        SimulationParams(missed_visit_probability=1.5)
    assert caught.value.field == "missed_visit_probability"
    with pytest.raises(InputError) as caught:
        SimulationParams(pathway_fractions=(0.5, 0.5, 0.5, 0.0))
    assert caught.value.field == "pathway_fractions"
    with pytest.raises(InputError):
        simulate_cohort(_STUDY, 0, 1)


# --- vital signs, sample dates, pregnancy tests (issue 15, decision 0019) ---------------------------------------------


@pytest.fixture(scope="module")
def small() -> tuple[Study, SimulatedCohort, pd.DataFrame]:
    """A cohort small enough to walk row by row."""
    study = load_protocol()
    cohort = simulate_cohort(study, 60, seed=15)
    return study, cohort, cohort.values_frame()


def test_sample_dates_lie_in_the_visits_window_and_not_after_the_visit(
    small: tuple[Study, SimulatedCohort, pd.DataFrame],
) -> None:
    """Every laboratory visit has one sample date, inside the visit's window (from the infusion date, as the schedule
    places it; at screening the visit day) and on or before the visit date: the protocol's two sample checks hold."""
    import datetime as dt

    study, cohort, values = small
    subjects = cohort.subjects.set_index("subject_id")
    lab_forms = {"organ_function", "serology", "lymphocytes"}
    samples = values[values["item"] == "sample_date"]
    lab_visits = values[values["item"].isin(["albumin", "c3", "cd3_count"])][["subject_id", "visit"]].drop_duplicates()
    assert len(samples) == len(lab_visits) > 0  # one per subject and laboratory visit
    for row in samples.itertuples():
        visit = study.visit_by_code[row.visit]
        assert lab_forms & set(visit.forms)
        sample, visit_day = dt.date.fromisoformat(row.value), dt.date.fromisoformat(row.date)
        assert sample <= visit_day
        if visit.day < 0:
            assert sample == visit_day
        else:
            target = dt.date.fromisoformat(subjects.loc[row.subject_id, "infusion_date"]) + dt.timedelta(days=visit.day)
            assert target - dt.timedelta(days=visit.window_before) <= sample <= target + dt.timedelta(days=visit.window_after)


def test_vital_signs_at_each_visit_and_at_each_time_around_the_infusion(
    small: tuple[Study, SimulatedCohort, pd.DataFrame],
) -> None:
    """The monthly vital signs and the four infusion times are written, inside their items' hard ranges."""
    study, _, values = small
    infusion = study.form_by_code["infusion_vitals"]
    at_d0 = set(values.loc[values["visit"] == "D0", "item"])
    assert set(infusion.items) <= at_d0
    assert {"systolic_bp", "spo2"} <= set(values.loc[values["visit"] == "M1", "item"])
    for code in [*infusion.items, "systolic_bp", "heart_rate"]:
        numbers = pd.to_numeric(values.loc[values["item"] == code, "value"])
        bounds = study.item_by_code[code].range
        assert bounds is not None
        assert len(numbers) > 0
        assert numbers.between(bounds.min, bounds.max).all(), code


def test_women_of_child_bearing_potential_have_a_negative_test_before_the_infusion(
    small: tuple[Study, SimulatedCohort, pd.DataFrame],
) -> None:
    """Each woman under 50 (the simulator's child-bearing potential) has a negative test at screening and one 1 to 3
    days before the infusion; no one else has a test."""
    import datetime as dt

    _, cohort, values = small
    subjects = cohort.subjects.set_index("subject_id")
    potential = values[(values["item"] == "childbearing_potential")].set_index("subject_id")["value"] == "true"
    expected = (subjects["sex"] == "female") & (subjects["age"].astype(float) < 50)
    assert potential.reindex(subjects.index).fillna(False).astype(bool).equals(expected.astype(bool))
    tests = values[values["item"] == "pregnancy_test_date"]
    assert set(tests["subject_id"]) == set(expected[expected].index)
    assert set(values.loc[values["item"] == "pregnancy_test_result", "value"]) == {"negative"}
    for row in tests[tests["visit"] == "D0"].itertuples():
        before = (dt.date.fromisoformat(subjects.loc[row.subject_id, "infusion_date"]) - dt.date.fromisoformat(row.value)).days
        assert 1 <= before <= 3
