"""Responder rates with Clopper-Pearson intervals, and the adverse-event table.

Expected values:

* Clopper-Pearson (Clopper & Pearson, Biometrika 1934;26:404-13): textbook values 0/20 -> 0-0.168 (one
  of the examples of Newcombe, Stat Med 1998;17:857-72, method 5) and 10/20 -> 0.272-0.728; the
  closed forms at the edges, upper = 1 - (alpha/2)^(1/n) for 0 of n and lower =
  (alpha/2)^(1/n) for n of n; and, for any x, the F-distribution form of the same interval (Leemis &
  Trivedi, Am Stat 1996;50:63-8), computed here independently of scipy's beta quantiles.
* Adverse events: a small table counted by hand in the test, and consistency checks on the simulator's
  adverse_events.csv (worst-grade and relatedness columns each add up to the subjects of the row).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from rodnan.core.analysis.summaries import summarise_adverse_events, summarise_responder_table, summarise_responders
from rodnan.errors import InputError

GENERAL = "General disorders and administration site conditions"
INFECTIONS = "Infections and infestations"
INJURY = "Injury, poisoning and procedural complications"


def clopper_pearson_f(x: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """The exact interval through F quantiles (Leemis & Trivedi 1996)."""
    lower = 0.0 if x == 0 else 1 / (1 + (n - x + 1) / (x * stats.f.ppf(alpha / 2, 2 * x, 2 * (n - x + 1))))
    upper = 1.0 if x == n else 1 / (1 + (n - x) / ((x + 1) * stats.f.ppf(1 - alpha / 2, 2 * (x + 1), 2 * (n - x))))
    return lower, upper


def test_summarise_responders_textbook_values() -> None:
    """0 of 20: 0-0.168; 10 of 20: 0.272-0.728 (Clopper-Pearson, to the 3 decimals tables print)."""
    none = summarise_responders([False] * 20)
    assert (none.n, none.responders, none.rate, none.lower) == (20, 0, 0.0, 0.0)
    assert round(none.upper, 3) == 0.168
    half = summarise_responders([True] * 10 + [False] * 10)
    assert (round(half.lower, 3), round(half.upper, 3)) == (0.272, 0.728)
    assert half.rate == 0.5


def test_summarise_responders_closed_forms_at_the_edges() -> None:
    """0 of n: upper = 1 - 0.025^(1/n); n of n: lower = 0.025^(1/n)."""
    for n in (1, 5, 20, 37):
        assert summarise_responders([0] * n).upper == pytest.approx(1 - 0.025 ** (1 / n), rel=1e-10)
        everyone = summarise_responders([1] * n)
        assert everyone.lower == pytest.approx(0.025 ** (1 / n), rel=1e-10)
        assert everyone.upper == 1.0


@pytest.mark.parametrize(("x", "n"), [(1, 20), (3, 20), (7, 19), (12, 20), (19, 20), (4, 9)])
def test_summarise_responders_matches_f_distribution_form(x: int, n: int) -> None:
    """The interval equals the F-distribution form of Clopper-Pearson, computed independently."""
    result = summarise_responders([True] * x + [False] * (n - x))
    lower, upper = clopper_pearson_f(x, n)
    assert (result.lower, result.upper) == (pytest.approx(lower, rel=1e-8), pytest.approx(upper, rel=1e-8))


def test_summarise_responders_excludes_missing_and_reads_yes_no() -> None:
    """None/NaN are not assessed (reported as n_missing); yes/no, Y/N, 1/0 and booleans are read."""
    result = summarise_responders(["yes", "N", 1, 0.0, True, None, float("nan"), np.nan, "Y"])
    assert (result.n, result.responders, result.n_missing) == (6, 4, 3)
    empty = summarise_responders([None, None])
    assert (empty.n, empty.n_missing) == (0, 2)
    assert math.isnan(empty.rate)
    assert math.isnan(empty.lower)


def test_summarise_responders_level_and_bad_flags() -> None:
    """A 90 % interval is narrower; a flag like 2 or "maybe" is an error."""
    flags = [True] * 6 + [False] * 14
    assert summarise_responders(flags, conf_level=0.9).lower > summarise_responders(flags).lower
    with pytest.raises(InputError, match="flags"):
        summarise_responders([True, 2])
    with pytest.raises(InputError, match="flags"):
        summarise_responders(["maybe"])
    with pytest.raises(InputError, match="conf_level"):
        summarise_responders([True], conf_level=95)


def test_summarise_responder_table_one_row_per_measure() -> None:
    """Remission per organ: one row per flag column, each with its own denominator."""
    frame = pd.DataFrame({"lung": [True, False, True, None], "kidney": [False, False, None, None]})
    table = summarise_responder_table(frame, ["lung", "kidney"])
    assert table["measure"].tolist() == ["lung", "kidney"]
    assert table["n"].tolist() == [3, 2]
    assert table["responders"].tolist() == [2, 0]
    assert table["n_missing"].tolist() == [1, 2]
    with pytest.raises(InputError, match="gut"):
        summarise_responder_table(frame, ["gut"])


# --- adverse events ---------------------------------------------------------------------------------------------


def small_ae_frame() -> pd.DataFrame:
    """Subject A: fever g1 and g2 (possibly related), infusion reaction g1 (related); B: lung infection g3
    serious (unlikely related), fever g1 (not related); C: sepsis g5 serious and lung infection g2 (unlikely)."""
    rows = [
        ("A", 1, "Fever", GENERAL, 1, "N", "possibly related"),
        ("A", 2, "Fever", GENERAL, 2, "N", "possibly related"),
        ("A", 3, "Infusion related reaction", INJURY, 1, "N", "related"),
        ("B", 1, "Lung infection", INFECTIONS, 3, "Y", "unlikely related"),
        ("B", 2, "Fever", GENERAL, 1, "N", "not related"),
        ("C", 1, "Lung infection", INFECTIONS, 2, "N", "Unlikely related"),
        ("C", 2, "Sepsis", INFECTIONS, 5, "Y", "unlikely related"),
    ]
    return pd.DataFrame(rows, columns=["subject_id", "ae_number", "term", "soc", "grade", "serious", "related"])


def test_summarise_adverse_events_counts_by_hand() -> None:
    """Counts of the small frame, by hand: subjects, %, events, worst grade, serious, relatedness (5 subjects at risk)."""
    summary = summarise_adverse_events(small_ae_frame(), n_subjects=5)
    table = summary.table
    assert list(zip(table["level"], table["soc"], table["term"], strict=True)) == [
        ("any", "", "Any adverse event"),
        ("soc", GENERAL, ""),
        ("term", GENERAL, "Fever"),
        ("soc", INFECTIONS, ""),
        ("term", INFECTIONS, "Lung infection"),
        ("term", INFECTIONS, "Sepsis"),
        ("soc", INJURY, ""),
        ("term", INJURY, "Infusion related reaction"),
    ]
    assert summary.relatedness_categories == ("related", "possibly related", "unlikely related", "not related")
    any_row = table.iloc[0]
    assert (any_row["subjects"], any_row["percent"], any_row["events"]) == (3, 60.0, 7)
    assert [any_row[f"grade_{g}"] for g in range(1, 6)] == [0, 1, 1, 0, 1]  # A worst 2, B worst 3, C worst 5
    assert (any_row["serious_subjects"], any_row["serious_events"], any_row["related_subjects"]) == (2, 2, 1)
    assert [any_row[f"relatedness: {c}"] for c in summary.relatedness_categories] == [1, 0, 2, 0]
    fever = table.iloc[2]
    assert (fever["subjects"], fever["events"], fever["grade_1"], fever["grade_2"]) == (2, 3, 1, 1)
    assert [fever[f"relatedness: {c}"] for c in summary.relatedness_categories] == [0, 1, 0, 1]
    lung = table.iloc[4]
    assert (lung["subjects"], lung["grade_2"], lung["grade_3"], lung["serious_subjects"]) == (2, 1, 1, 1)
    sepsis = table.iloc[5]
    assert (sepsis["subjects"], sepsis["percent"], sepsis["grade_5"]) == (1, 20.0, 1)


def test_summarise_adverse_events_simulated_cohort_is_consistent(study: object) -> None:
    """On the simulator's adverse events: the worst-grade and relatedness columns each add up to the row's
    subjects, and the first row counts every subject with an event."""
    from rodnan.core.simulate.cohort import simulate_cohort

    events = simulate_cohort(study, 60, seed=12).adverse_events  # type: ignore[arg-type]
    summary = summarise_adverse_events(events, 60)
    table = summary.table
    grade_columns = [f"grade_{g}" for g in range(1, 6)] + ["grade_missing"]
    related_columns = [f"relatedness: {c}" for c in summary.relatedness_categories]
    assert (table[grade_columns].sum(axis=1) == table["subjects"]).all()
    assert (table[related_columns].sum(axis=1) == table["subjects"]).all()
    assert table.iloc[0]["subjects"] == events["subject_id"].nunique()
    assert table.iloc[0]["events"] == len(events)
    terms = table.loc[table["level"] == "term"]
    assert terms["events"].sum() == len(events)


def test_summarise_adverse_events_without_events() -> None:
    """No adverse events: one row with zeros."""
    empty = small_ae_frame().iloc[0:0]
    table = summarise_adverse_events(empty, n_subjects=20).table
    assert len(table) == 1
    assert (table.iloc[0]["subjects"], table.iloc[0]["events"], table.iloc[0]["percent"]) == (0, 0, 0.0)


def test_summarise_adverse_events_missing_grade_is_counted() -> None:
    """A subject whose only event has no grade is counted under grade_missing."""
    frame = small_ae_frame().astype({"grade": "float"})
    frame.loc[2, "grade"] = np.nan
    table = summarise_adverse_events(frame, 5).table.set_index("term")
    assert table.loc["Infusion related reaction", "grade_missing"] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda f: f.drop(columns="soc"), "ae_frame"),
        (lambda f: f.assign(grade=[1, 2, 6, 3, 1, 2, 5]), "grade"),
        (lambda f: f.assign(serious=["N", "N", "N", "maybe", "N", "N", "Y"]), "serious"),
        (lambda f: f.assign(term=["Fever", None, "x", "y", "z", "w", "v"]), "term"),
    ],
)
def test_summarise_adverse_events_rejects_bad_frames(change: object, field: str) -> None:
    """Missing columns, grades outside 1-5, seriousness that is not yes/no and missing terms are errors."""
    with pytest.raises(InputError) as caught:
        summarise_adverse_events(change(small_ae_frame()), 5)  # type: ignore[operator]
    assert caught.value.field == field


def test_summarise_adverse_events_needs_enough_subjects() -> None:
    """The denominator cannot be smaller than the subjects with an event (3 here)."""
    with pytest.raises(InputError) as caught:
        summarise_adverse_events(small_ae_frame(), 2)
    assert caught.value.field == "n_subjects"
