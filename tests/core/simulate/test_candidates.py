"""Simulated screening pools: reproducible, screened as their generator intended, with the mix and the
values the parameters and the clinic give."""

from __future__ import annotations

import hashlib
import io
import math
import os
import subprocess
import sys
from collections import Counter
from dataclasses import fields

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from rodnan.core.eligibility import evaluate_criteria
from rodnan.core.protocol import Study
from rodnan.core.screening import frame_of, screen_csv
from rodnan.core.simulate.candidates import (
    CandidateParams,
    CandidatePool,
    candidates_csv_text,
    simulate_candidates,
)
from rodnan.core.values import Measurement, unit_factor
from rodnan.errors import InputError

SMALL_N = 3000
LARGE_N = 100_000
SIGMAS = 4  # a proportion is off by more than 4 standard errors with probability 6e-5 (two-sided normal)


def screening_columns(study: Study) -> list[str]:
    """The screening form's items a candidate file holds (its attached source document aside: decision 0021)."""
    return [code for code in study.form_by_code["screening"].items if study.item_by_code[code].type != "file"]


@pytest.fixture(scope="module")
def small_pool(study: Study) -> CandidatePool:
    """3000 candidates, enough for every one of the 43 scenarios to occur (the rarest has 0.5 %)."""
    return simulate_candidates(study, SMALL_N, seed=11)


@pytest.fixture(scope="module")
def small_screened(study: Study, small_pool: CandidatePool) -> pd.DataFrame:
    """The small pool screened by the bulk screener from its CSV text, one row per candidate."""
    return screened(study, candidates_csv_text(small_pool))


@pytest.fixture(scope="module")
def large_pool(study: Study) -> CandidatePool:
    """100,000 candidates for the proportions and the distributions."""
    return simulate_candidates(study, LARGE_N, seed=2024)


def screened(study: Study, text: str) -> pd.DataFrame:
    frames = []
    for batch, issues in screen_csv(study, io.StringIO(text)):
        assert issues == [], issues[:3]
        frames.append(frame_of(study, batch))
    return pd.concat(frames, ignore_index=True)


def header_of(frame: pd.DataFrame, code: str) -> tuple[str, str | None]:
    """The column of an item and the unit written in its header (None without a bracket)."""
    for header in frame.columns:
        if header == code:
            return header, None
        if header.startswith(code + " ["):
            return header, header[len(code) + 2 : -1]
    raise KeyError(code)


def item_values(study: Study, frame: pd.DataFrame, code: str) -> npt.NDArray[np.float64]:
    """An item's column as floats in the item's own unit (NaN where empty)."""
    header, unit = header_of(frame, code)
    raw = pd.to_numeric(frame[header].astype(str).replace("", np.nan))
    return raw.to_numpy(dtype=np.float64) * unit_factor(study.item_by_code[code], unit)


def expected_reasons(study: Study) -> set[str]:
    pathways = {f"pathway:{d.code}" for d in study.eligibility.pathways}
    exclusions = {f"exclusion:{d.code}" for d in study.eligibility.exclusion}
    missing = {f"missing:{code}" for code in screening_columns(study)}
    return pathways | exclusions | missing | {"no_pathway", "acr_not_met"}


# --- reproducibility --------------------------------------------------------------------------


def test_simulate_candidates_same_seed_gives_identical_text(study: Study) -> None:
    """The same seed and parameters give the same CSV text, byte for byte."""
    first = candidates_csv_text(simulate_candidates(study, 2000, seed=5))
    second = candidates_csv_text(simulate_candidates(study, 2000, seed=5))
    assert first == second


def test_simulate_candidates_different_seed_gives_different_text(study: Study) -> None:
    """Another seed gives another pool."""
    assert candidates_csv_text(simulate_candidates(study, 500, seed=5)) != candidates_csv_text(
        simulate_candidates(study, 500, seed=6)
    )


def test_simulate_candidates_same_text_in_another_process(study: Study) -> None:
    """A fresh interpreter with another hash seed writes the same bytes (no hash-dependent order)."""
    code = (
        "import hashlib; from rodnan.core.protocol import load_protocol;"
        "from rodnan.core.simulate.candidates import simulate_candidates, candidates_csv_text;"
        "print(hashlib.sha256(candidates_csv_text(simulate_candidates(load_protocol(), 1500, 9)).encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    here = hashlib.sha256(candidates_csv_text(simulate_candidates(study, 1500, 9)).encode()).hexdigest()
    assert result.stdout.strip() == here


# --- verdicts as intended ------------------------------------------------------------------------


def test_simulate_candidates_covers_every_scenario(small_pool: CandidatePool, study: Study) -> None:
    """n=3000 holds every pathway, every exclusion, both ineligible kinds and every missing item."""
    assert set(small_pool.intended_reason.tolist()) == expected_reasons(study)


def test_simulate_candidates_screen_csv_gives_intended_verdicts(small_pool: CandidatePool, small_screened: pd.DataFrame) -> None:
    """Every candidate gets from the bulk screener the verdict its generator intended."""
    assert small_screened["subject_id"].tolist() == small_pool.frame["subject_id"].tolist()
    assert small_screened["verdict"].tolist() == small_pool.intended_verdict.tolist()


def test_simulate_candidates_decided_by_the_intended_criterion(
    study: Study, small_pool: CandidatePool, small_screened: pd.DataFrame
) -> None:
    """Eligible by exactly their pathway; excluded by exactly their exclusion with one pathway; incomplete
    for exactly their missing item."""
    exclusions = [d.code for d in study.eligibility.exclusion]
    met_exclusions = (small_screened[exclusions] == "met").to_numpy()
    pathways = small_screened["qualifying_pathways"].fillna("").astype(str)
    problems = []
    for i, reason in enumerate(small_pool.intended_reason.tolist()):
        kind, _, code = reason.partition(":")
        qualifying = [p for p in pathways.iloc[i].split(";") if p]
        met = [e for e, m in zip(exclusions, met_exclusions[i], strict=True) if m]
        row = small_screened.iloc[i]
        if kind == "pathway":
            ok = qualifying == [code] and met == [] and row["acr_1980"] == "met"
        elif kind == "exclusion":
            ok = met == [code] and len(qualifying) == 1
        elif kind == "missing":
            ok = str(row["missing_items"]) == code and met == []
        elif kind == "no_pathway":
            ok = qualifying == [] and met == [] and row["qualifying_pathway"] == "not_met"
        else:  # acr_not_met
            ok = row["acr_1980"] == "not_met" and len(qualifying) == 1 and met == []
        if not ok:
            problems.append((reason, row.to_dict()))
    assert problems == []


def test_simulate_candidates_evaluate_criteria_agrees_on_a_sample(study: Study, small_pool: CandidatePool) -> None:
    """evaluate_criteria, one candidate at a time from the frame's strings, gives the intended verdicts."""
    frame = small_pool.frame
    rows = np.random.default_rng(0).choice(len(frame), size=300, replace=False)
    for i in rows.tolist():
        facts: dict[str, object] = {}
        for header, value in frame.iloc[i].items():
            if header == "subject_id" or value == "":
                continue
            code, _, unit = str(header).partition(" [")
            facts[code] = Measurement(value, unit[:-1]) if unit else value
        assert evaluate_criteria(study, facts).verdict.value == small_pool.intended_verdict[i], small_pool.intended_reason[i]


def test_simulate_candidates_in_alternative_units_still_intended(study: Study) -> None:
    """With every convertible column in its alternative unit (g/dL, mg/dL, /mm3, kPa ...) the verdicts hold."""
    pool = simulate_candidates(study, 2000, seed=3, params=CandidateParams(alternative_unit_rate=1.0))
    headers = set(pool.frame.columns)
    assert {"hemoglobin [g/dL]", "albumin [g/dL]", "creatinine [mg/dL]", "platelets [/mm3]", "mpap_echo [kPa]"} <= headers
    assert screened(study, candidates_csv_text(pool))["verdict"].tolist() == pool.intended_verdict.tolist()


def test_simulate_candidates_alternative_unit_columns_follow_the_rate(study: Study) -> None:
    """Rate 0 writes every column in the item's unit; 0.3 writes round(0.3 x 9) = 3 of the 9 convertible ones."""

    def converted(rate: float) -> int:
        frame = simulate_candidates(study, 10, seed=1, params=CandidateParams(alternative_unit_rate=rate)).frame
        count = 0
        for header in frame.columns:
            code, _, unit = str(header).partition(" [")
            count += bool(unit) and unit[:-1] != study.item_by_code[code].unit
        return count

    assert converted(0.0) == 0
    assert converted(0.3) == 3


def test_simulate_candidates_without_random_blanks_only_the_deciding_cells_are_empty(study: Study) -> None:
    """With missing_rate 0, only incomplete candidates have empty cells: their item (and body weight
    when the clearance is missing, so that Cockcroft-Gault cannot stand in)."""
    pool = simulate_candidates(study, 3000, seed=4, params=CandidateParams(missing_rate=0.0))
    blank = (pool.frame.drop(columns="subject_id").astype(str) == "").to_numpy()
    codes = [str(h).partition(" [")[0] for h in pool.frame.columns[1:]]
    for i, reason in enumerate(pool.intended_reason.tolist()):
        empty = [c for c, b in zip(codes, blank[i], strict=True) if b]
        expected = [] if not reason.startswith("missing:") else [reason[8:]]
        if reason == "missing:creatinine_clearance":
            expected = ["body_weight", "creatinine_clearance"]
        assert empty == expected, reason


# --- the mix ------------------------------------------------------------------------------------


def test_simulate_candidates_mix_matches_params(large_pool: CandidatePool) -> None:
    """Each scenario fraction of the defaults is met within 4 standard errors on n=100,000."""
    reasons = Counter(large_pool.intended_reason.tolist())
    params = CandidateParams()
    for name, p in params.fractions.items():
        if name.startswith("eligible_"):
            count = reasons[f"pathway:{name.removeprefix('eligible_')}"]
        elif name.startswith("excluded_"):
            count = reasons[f"exclusion:{name.removeprefix('excluded_')}"]
        elif name == "incomplete":
            count = sum(c for r, c in reasons.items() if r.startswith("missing:"))
        else:
            count = reasons[name]
        tolerance = SIGMAS * math.sqrt(p * (1 - p) / LARGE_N)
        assert abs(count / LARGE_N - p) <= tolerance, (name, count / LARGE_N, p)


def test_simulate_candidates_verdict_shares_follow_the_mix(large_pool: CandidatePool) -> None:
    """Eligible, ineligible and incomplete shares equal the sums of their scenarios' fractions (4 SE)."""
    params = CandidateParams()
    eligible = sum(v for k, v in params.fractions.items() if k.startswith("eligible_"))
    shares = {"eligible": eligible, "incomplete": params.incomplete, "ineligible": 1 - eligible - params.incomplete}
    counts = Counter(large_pool.intended_verdict.tolist())
    for verdict, p in shares.items():
        assert abs(counts[verdict] / LARGE_N - p) <= SIGMAS * math.sqrt(p * (1 - p) / LARGE_N), verdict


def test_simulate_candidates_random_blanks_follow_the_missing_rate(large_pool: CandidatePool) -> None:
    """Sex and age, never deciding, are empty at the missing rate (5 %) within 4 standard errors."""
    p = CandidateParams().missing_rate
    for header in ("sex", "age [a]"):
        share = float((large_pool.frame[header].astype(str) == "").mean())
        assert abs(share - p) <= SIGMAS * math.sqrt(p * (1 - p) / LARGE_N), header


def test_simulate_candidates_mix_follows_changed_params(study: Study) -> None:
    """A pool of only incomplete candidates is all incomplete, spread over the screening items."""
    zero = {f.name: 0.0 for f in fields(CandidateParams) if f.name not in ("missing_rate", "alternative_unit_rate")}
    pool = simulate_candidates(study, 2400, seed=8, params=CandidateParams(**{**zero, "incomplete": 1.0}))
    assert set(pool.intended_verdict.tolist()) == {"incomplete"}
    assert len(set(pool.intended_reason.tolist())) == len(screening_columns(study))
    assert screened(study, candidates_csv_text(pool))["verdict"].tolist() == pool.intended_verdict.tolist()


# --- parameters and arguments -------------------------------------------------------------------


def test_candidate_params_rejects_fractions_not_summing_to_one() -> None:
    """Fractions summing to more than 1 name the rule and the total."""
    with pytest.raises(InputError) as error:
        CandidateParams(no_pathway=0.5)
    assert error.value.field == "fractions"
    assert "sum to 1" in error.value.rule


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("missing_rate", 1.5, "between 0 and 1"),
        ("alternative_unit_rate", -0.1, "between 0 and 1"),
        ("eligible_lung", -0.01, "between 0 and 1"),
        ("incomplete", math.nan, "finite number"),
        ("missing_rate", True, "finite number"),
    ],
)
def test_candidate_params_rejects_bad_value(field: str, value: float, rule: str) -> None:
    """A rate or fraction outside [0, 1], not finite or not a number raises InputError naming the field."""
    with pytest.raises(InputError) as error:
        CandidateParams(**{field: value})
    assert error.value.field == field
    assert rule in error.value.rule


@pytest.mark.parametrize(("n", "seed", "field"), [(-1, 0, "n"), (10, -3, "seed"), (2.5, 0, "n")])
def test_simulate_candidates_rejects_bad_count_or_seed(study: Study, n: int, seed: int, field: str) -> None:
    """A negative or fractional count, or a negative seed, raises InputError naming it."""
    with pytest.raises(InputError) as error:
        simulate_candidates(study, n, seed)
    assert error.value.field == field


# --- the CSV text -------------------------------------------------------------------------------


def test_candidates_csv_text_layout(small_pool: CandidatePool) -> None:
    """Header first, one '\\n'-ended line per candidate, ids SIM-0000001 upwards, the same text as pandas writes."""
    text = candidates_csv_text(small_pool)
    lines = text.split("\n")
    assert "\r" not in text
    assert text.endswith("\n")
    assert lines[0].startswith("subject_id,sex,age [a],")
    assert len(lines) == SMALL_N + 2  # header, candidates, and '' after the last newline
    assert lines[1].startswith("SIM-0000001,")
    assert lines[SMALL_N].startswith("SIM-0003000,")
    assert text == small_pool.frame.to_csv(index=False, lineterminator="\n")


def test_candidates_csv_text_of_an_empty_pool(study: Study) -> None:
    """No candidates give the header line alone."""
    text = candidates_csv_text(simulate_candidates(study, 0, seed=1))
    assert text.count("\n") == 1
    assert text.startswith("subject_id,")


def test_simulate_candidates_cells_are_strings(small_pool: CandidatePool, study: Study) -> None:
    """Every cell is a string; yes/no items hold 'yes', 'no' or ''; sex 'female', 'male' or ''."""
    frame = small_pool.frame.astype(str)
    assert all(isinstance(v, str) for v in small_pool.frame.iloc[0].tolist())
    for code in screening_columns(study):
        if study.item_by_code[code].type == "boolean":
            assert set(frame[code]) <= {"yes", "no", ""}
    assert set(frame["sex"]) <= {"female", "male", ""}


# --- realism ------------------------------------------------------------------------------------


def test_simulate_candidates_values_within_plausible_ranges(study: Study, large_pool: CandidatePool) -> None:
    """Every number, converted to its item's unit, lies in the item's hard range; integers are whole."""
    for header in large_pool.frame.columns[1:]:
        code = str(header).partition(" [")[0]
        item = study.item_by_code[code]
        if not item.is_numeric:
            continue
        values = item_values(study, large_pool.frame, code)
        values = values[~np.isnan(values)]
        assert item.range is not None
        assert item.range.min is not None
        assert item.range.max is not None
        assert values.min() >= item.range.min, code
        assert values.max() <= item.range.max, code
        if item.type == "integer":
            assert np.all(values == np.round(values)), code


# Thresholds of the registry record's exclusions, in the items' units: LVEF < 50 %, mPAP > 50 mmHg,
# DLCO < 45 % predicted, creatinine clearance < 20 mL/min, platelets < 80 000/mm3 (80 x 10^9/L).
EXCLUSION_THRESHOLDS = {"lvef": 50.0, "mpap_echo": 50.0, "dlco_pct_pred": 45.0, "creatinine_clearance": 20.0, "platelets": 80.0}


@pytest.mark.parametrize(("code", "threshold"), EXCLUSION_THRESHOLDS.items())
def test_simulate_candidates_keeps_exclusion_values_off_the_threshold(
    study: Study, large_pool: CandidatePool, code: str, threshold: float
) -> None:
    """Values read by an exclusion (always deciding) stay 2 % of the threshold away from it (1.9 % after
    rounding in another unit)."""
    values = item_values(study, large_pool.frame, code)
    values = values[~np.isnan(values)]
    assert np.all(np.abs(values - threshold) >= 0.019 * threshold), code


# Expected medians: Chinese adult reference intervals (WS/T 405-2012: Hb 115-150 g/L women, 130-175 g/L
# men; platelets 125-350 x 10^9/L; WS/T 404 albumin 40-55 g/L, creatinine about 41-111 umol/L), shifted
# down for SSc, where anaemia and low albumin are common. The range is wide: a check on units and scale.
MEDIAN_RANGES = {
    "hemoglobin": (110.0, 135.0),  # g/L
    "albumin": (33.0, 42.0),  # g/L
    "creatinine": (50.0, 90.0),  # umol/L
    "platelets": (180.0, 280.0),  # 10^9/L
    "lvef": (58.0, 68.0),  # %
    "age": (40.0, 50.0),  # years
}


@pytest.mark.parametrize(("code", "bounds"), MEDIAN_RANGES.items())
def test_simulate_candidates_medians_are_clinically_plausible(
    study: Study, large_pool: CandidatePool, code: str, bounds: tuple[float, float]
) -> None:
    """The pool's median of a lab value, in the Chinese laboratory unit, lies in the stated range."""
    values = item_values(study, large_pool.frame, code)
    median = float(np.nanmedian(values))
    assert bounds[0] <= median <= bounds[1], (code, median)


def test_simulate_candidates_mostly_women(large_pool: CandidatePool) -> None:
    """About 4 in 5 SSc patients are women; pregnant candidates are all women aged 20 to 42."""
    sex = large_pool.frame["sex"].astype(str)
    women = float((sex == "female").sum() / (sex != "").sum())
    assert 0.77 <= women <= 0.83
    pregnant = large_pool.frame["pregnant"].astype(str) == "yes"
    assert set(sex[pregnant]) <= {"female", ""}
    ages = pd.to_numeric(large_pool.frame["age [a]"].astype(str)[pregnant].replace("", np.nan)).dropna()
    assert ages.between(20, 42).all()
