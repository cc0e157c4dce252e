"""SF-36 (v1, v2) and RAND-36: published reference outputs, hand-computed checks, bad input, properties."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rodnan.core.instruments import sf36
from rodnan.errors import InputError

SCALES = ["PF", "RP", "BP", "GH", "VT", "SF", "RE", "MH"]
CODES = [
    "q1",
    "q2",
    *[f"q3{c}" for c in "abcdefghij"],
    *[f"q4{c}" for c in "abcd"],
    *[f"q5{c}" for c in "abc"],
    "q6",
    "q7",
    "q8",
    *[f"q9{c}" for c in "abcdefghi"],
    "q10",
    *[f"q11{c}" for c in "abcd"],
]
# Item ranges and which items are scored "lower is better", written out from shared/domain.md §2.1-2.2
# (SAS / lbscorer R/sf36.R, Stata sf36v2), not read from the module.
V1_HIGH = {**dict.fromkeys(CODES, 5), **{c: 3 for c in CODES if c.startswith("q3")}, "q7": 6}
V1_HIGH.update({c: 2 for c in CODES if c.startswith(("q4", "q5"))})
V1_HIGH.update({c: 6 for c in CODES if c.startswith("q9")})
V2_HIGH = {**V1_HIGH, **{c: 5 for c in CODES if c.startswith(("q4", "q5", "q9"))}}
LOWER_IS_BETTER = {"q1", "q6", "q7", "q8", "q9a", "q9d", "q9e", "q9h", "q11b", "q11d"}
SCALE_OF = {
    **{c: "PF" for c in CODES if c.startswith("q3")},
    **{c: "RP" for c in CODES if c.startswith("q4")},
    **{c: "RE" for c in CODES if c.startswith("q5")},
    "q7": "BP",
    "q8": "BP",
    "q1": "GH",
    **{c: "GH" for c in CODES if c.startswith("q11")},
    **dict.fromkeys(("q9a", "q9e", "q9g", "q9i"), "VT"),
    **dict.fromkeys(("q9b", "q9c", "q9d", "q9f", "q9h"), "MH"),
    "q6": "SF",
    "q10": "SF",
}

# SF36HealthSurvey.jl test/runtests.jl, questionnaire order (shared/domain.md §2.5).
JULIA_VECTOR = [1, 2, 3, 2, 3, 2, 3, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 3, 3, 2, 3, 2, 1, 2, 1, 2, 1, 2, 3, 2, 1, 1, 2, 3]
JULIA = dict(zip(CODES, JULIA_VECTOR, strict=True))


def _best(high: dict[str, int]) -> dict[str, int | None]:
    return {c: (1 if c in LOWER_IS_BETTER else high[c]) for c in CODES}


def _lbscorer_cases() -> list[tuple[int, dict[str, int | None], dict[str, float | None]]]:
    path = Path(__file__).parents[2] / "data" / "sf36_lbscorer_sample.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    cases = []
    for row in rows:
        answers = {c: (None if row[c] == "" else int(row[c])) for c in CODES}
        expected = {k: (None if row[k] == "NA" else float(row[k])) for k in [*SCALES, "PCS", "MCS"]}
        cases.append((int(row["case"]), answers, expected))
    return cases


LBSCORER = _lbscorer_cases()


# --- published reference outputs ----------------------------------------------------------------------


@pytest.mark.parametrize(("case", "answers", "expected"), LBSCORER, ids=[f"case{c}" for c, _, _ in LBSCORER])
def test_score_sf36_reproduces_lbscorer_sample(
    case: int, answers: dict[str, int | None], expected: dict[str, float | None]
) -> None:
    """lbscorer tests/sf36tests.Rout.save, sf36(sf36sample) cases 1-10 (v1, 1990 norms; cases 1, 2, 9 miss items)."""
    result = sf36.score_sf36(answers, "v1")
    got = {**result.scales, "PCS": result.pcs, "MCS": result.mcs}
    for key, value in expected.items():
        if value is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(value, abs=1e-5), key  # printed to 7 significant digits


def test_score_sf36_lbscorer_case2_names_missing_items_and_the_rule() -> None:
    """lbscorer sf36sample case 2: GH has 1 of 5 items (Q1 only), so GH, PCS and MCS are NA in sf36tests.Rout.save."""
    _, answers, _ = LBSCORER[1]
    result = sf36.score_sf36(answers, "v1")
    assert result.missing_items == ("q3c", "q3f", "q3h", "q3i", "q3j", "q10", "q11a", "q11b", "q11c", "q11d")
    assert set(result.not_computable) == {"GH"}
    assert "1 of 5 items answered, at least 3 needed" in result.not_computable["GH"]
    assert result.pcs is None
    assert result.mcs is None
    assert result.t_scores["GH"] is None


def test_score_sf36_julia_vector_v1() -> None:
    """SF36HealthSurvey.jl test/runtests.jl: PCS 44.4027962318693, MCS 32.31104541346562 (atol 1e-6); scales domain.md §2.5."""
    result = sf36.score_sf36(JULIA, "v1")
    assert result.pcs == pytest.approx(44.4027962318693, abs=1e-6)
    assert result.mcs == pytest.approx(32.31104541346562, abs=1e-6)
    expected = {"PF": 55, "RP": 50, "BP": 62, "GH": 55, "VT": 50, "SF": 37.5, "RE": 100 / 3, "MH": 40}
    assert result.scales == pytest.approx(expected, abs=1e-9)
    assert result.ht == 2
    assert result.form == "v1"
    assert result.norms == "1990 US norms"


# --- hand-computed checks (shared/domain.md §2.5, [C]) -------------------------------------------------


def test_score_sf36_v2_all_best() -> None:
    """domain.md §2.5 hand check: v2 all-best gives 100 everywhere, PCS 59.0145, MCS 62.2767 and the listed T-scores."""
    result = sf36.score_sf36(_best(V2_HIGH), "v2")
    assert result.scales == dict.fromkeys(SCALES, 100.0)
    assert result.pcs == pytest.approx(59.0145, abs=1e-4)
    assert result.mcs == pytest.approx(62.2767, abs=1e-4)
    t_expected = {"PF": 57.033, "RP": 56.854, "BP": 62.118, "GH": 63.897, "VT": 70.823, "SF": 56.849, "RE": 55.879, "MH": 64.087}
    assert result.t_scores == pytest.approx(t_expected, abs=1e-3)
    assert result.norms == "1998 US norms"


def test_score_sf36_v2_all_middle() -> None:
    """domain.md §2.5 hand check: v2 middle answers give PF/RP/VT/SF/RE/MH 50, BP/GH 52, PCS 41.1990, MCS 36.3206."""
    middle = {c: (2 if c.startswith("q3") else 3) for c in CODES}
    result = sf36.score_sf36(middle, "v2")
    expected = {"PF": 50, "RP": 50, "BP": 52, "GH": 52, "VT": 50, "SF": 50, "RE": 50, "MH": 50}
    assert result.scales == pytest.approx(expected, abs=1e-9)
    assert result.pcs == pytest.approx(41.1990, abs=1e-4)
    assert result.mcs == pytest.approx(36.3206, abs=1e-4)


def test_score_sf36_v1_all_best() -> None:
    """domain.md §2.5 hand check: v1 all-best gives 100 everywhere, PCS 57.8724, MCS 62.1366 (1990 norms)."""
    result = sf36.score_sf36(_best(V1_HIGH), "v1")
    assert result.scales == dict.fromkeys(SCALES, 100.0)
    assert result.pcs == pytest.approx(57.8724, abs=1e-4)
    assert result.mcs == pytest.approx(62.1366, abs=1e-4)


@pytest.mark.parametrize(
    ("q7", "q8", "expected"),
    [
        (1, 1, 100.0),  # 6 + 6 = 12
        (2, 1, 84.0),  # 5.4 + 5 = 10.4 (Q8 = 1 is 5 when Q7 > 1)
        (2, None, 88.0),  # 5.4 twice = 10.8 (BP2 := BP1)
        (None, 2, 75.0),  # 4.75 twice = 9.5 (Q8 alone: 6, 4.75, 3.5, 2.25, 1)
        (6, 5, 0.0),  # 1 + 1 = 2
    ],
)
def test_score_sf36_pain_recode_depends_on_which_items_are_answered(q7: int | None, q8: int | None, expected: float) -> None:
    """domain.md §2.2 / lbscorer R/sf36.R BP recodes, hand-computed: BP = (raw - 2) / 10 x 100."""
    result = sf36.score_sf36({"q7": q7, "q8": q8}, "v1")
    assert result.scales["BP"] == pytest.approx(expected, abs=1e-9)


def test_score_sf36_health_transition_is_reported_raw_and_not_scored() -> None:
    """domain.md §2.1: HT (Q2) is categorical, reported as answered; changing it changes no score."""
    first = sf36.score_sf36({**JULIA, "q2": 1}, "v1")
    second = sf36.score_sf36({**JULIA, "q2": 5}, "v1")
    assert (first.ht, second.ht) == (1, 5)
    assert first.scales == second.scales
    assert first.pcs == second.pcs


def test_score_sf36_with_no_answers_scores_nothing() -> None:
    """Half-scale rule (domain.md §2.3): with no answers every scale, PCS and MCS are not computable."""
    result = sf36.score_sf36({}, "v2")
    assert result.scales == dict.fromkeys(SCALES)
    assert result.pcs is None
    assert len(result.missing_items) == 36
    assert set(result.not_computable) == set(SCALES)


# --- RAND-36 ---------------------------------------------------------------------------------------------


def test_score_rand36_energy_fatigue_published_example() -> None:
    """chiro.org "Scoring the RAND SF-36" (Top Clin Chiro 1994;1:51-59): items 23=4, 27=3, 29=3, 31 blank give 46.7."""
    result = sf36.score_rand36({"q9a": 4, "q9e": 3, "q9g": 3})
    assert result.scales["VT"] == pytest.approx(46.7, abs=0.05)
    assert result.scales["PF"] is None
    assert "PF" in result.not_computable


def test_score_rand36_julia_vector_differs_from_sf36_in_pain() -> None:
    """RAND Tables 1-2 by hand, Julia vector: PF 55 RP 50 BP 67.5 GH 55 VT 50 SF 37.5 RE 33.3 MH 40 (SF-36 BP: 62)."""
    result = sf36.score_rand36(JULIA)
    expected = {"PF": 55, "RP": 50, "BP": 67.5, "GH": 55, "VT": 50, "SF": 37.5, "RE": 100 / 3, "MH": 40}
    assert result.scales == pytest.approx(expected, abs=1e-9)
    assert result.ht == 2


def test_score_rand36_general_health_differs_from_sf36() -> None:
    """Q1 = 2, other GH items best: RAND Table 1 gives (75 + 400) / 5 = 95; SF-36 (domain.md §2.2) (24.4 - 5) / 20 = 97."""
    answers: dict[str, int | None] = {"q1": 2, "q11a": 5, "q11b": 1, "q11c": 5, "q11d": 1}
    assert sf36.score_rand36(answers).scales["GH"] == pytest.approx(95.0)
    assert sf36.score_sf36(answers, "v1").scales["GH"] == pytest.approx(97.0)


def test_score_rand36_all_best_and_all_worst() -> None:
    """RAND scoring instructions: every item is scored 0-100 with 100 the most favourable, so all-best is 100 and all-worst 0."""
    best = _best(V1_HIGH)
    worst = {c: (V1_HIGH[c] if c in LOWER_IS_BETTER else 1) for c in CODES}
    assert sf36.score_rand36(best).scales == dict.fromkeys(SCALES, 100.0)
    assert sf36.score_rand36(worst).scales == dict.fromkeys(SCALES, 0.0)


# --- adapter ---------------------------------------------------------------------------------------------


def test_instrument_default_form_is_v2_with_all_subscores() -> None:
    """The adapter scores v2 by default: value = PCS, subscores PF..MH, PCS, MCS, *_T and HT (domain.md §2.5 all-best)."""
    score = sf36.INSTRUMENT.score_items(_best(V2_HIGH))
    assert score.instrument == "sf36"
    assert score.value == pytest.approx(59.0145, abs=1e-4)
    assert set(score.subscores) == {*SCALES, "PCS", "MCS", *(f"{s}_T" for s in SCALES), "HT"}
    assert score.subscores["HT"] == 5  # Q2 as answered (_best leaves the unscored Q2 at 5)
    assert "v2" in score.version
    assert "1998" in score.version
    assert all(i.kind == "integer" for i in sf36.INSTRUMENT.inputs)
    assert [i.code for i in sf36.INSTRUMENT.inputs] == CODES


def test_instrument_v1_option_matches_julia() -> None:
    """SF36HealthSurvey.jl test/runtests.jl through the adapter with form v1: PCS 44.4027962318693, MCS 32.31104541346562."""
    score = sf36.INSTRUMENT.score_items(JULIA, {"form": "v1"})
    assert score.value == pytest.approx(44.4027962318693, abs=1e-6)
    assert score.subscores["MCS"] == pytest.approx(32.31104541346562, abs=1e-6)
    assert "v1" in score.version
    assert "1990" in score.version


def test_instrument_reports_what_is_not_computable() -> None:
    """lbscorer sample case 2 (GH NA) through the adapter: value None, missing items listed, notes name GH and PCS/MCS."""
    _, answers, _ = LBSCORER[1]
    score = sf36.INSTRUMENT.score_items({k: v for k, v in answers.items() if v is not None}, {"form": "v1"})
    assert score.value is None
    assert score.subscores["GH"] is None
    assert score.subscores["PCS"] is None
    assert "q11a" in score.missing
    assert any(n.startswith("GH not computable") for n in score.notes)
    assert any("PCS and MCS not computable" in n for n in score.notes)


def test_instrument_rand36_option() -> None:
    """RAND Table 1/2 hand-computed (Julia vector): value None, subscores the 8 RAND scales, BP 67.5."""
    score = sf36.INSTRUMENT.score_items(JULIA, {"form": "rand36"})
    assert score.value is None
    assert set(score.subscores) == set(SCALES)
    assert score.subscores["BP"] == pytest.approx(67.5)
    assert "RAND" in score.version


# --- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "item", "bad", "allowed"),
    [
        ("v1", "q4a", 3, "1 to 2"),  # RP yes/no in v1
        ("v1", "q5c", 5, "1 to 2"),
        ("v2", "q9a", 6, "1 to 5"),  # VT 6 levels only in v1
        ("v2", "q9b", 6, "1 to 5"),
        ("v1", "q9h", 7, "1 to 6"),
        ("v2", "q3a", 4, "1 to 3"),
        ("v2", "q7", 0, "1 to 6"),
        ("v1", "q8", 6, "1 to 5"),
    ],
)
def test_score_sf36_rejects_out_of_range_for_the_form(form: sf36.Sf36Form, item: str, bad: int, allowed: str) -> None:
    """domain.md §2.1 ranges per form: an out-of-range answer is an error naming the item and the range, never set to missing."""
    with pytest.raises(InputError) as caught:
        sf36.score_sf36({**JULIA, item: bad}, form)
    assert caught.value.field == item
    assert allowed in caught.value.rule
    assert form in caught.value.rule


def test_score_sf36_v2_ranges_accept_what_v1_refuses() -> None:
    """domain.md §2.1: RP/RE run 1-5 in v2 (1-2 in v1)."""
    assert sf36.score_sf36({"q4a": 5, "q4b": 5}, "v2").scales["RP"] == pytest.approx(100.0)


@pytest.mark.parametrize("bad", [2.5, "two", True, [1]])
def test_score_sf36_rejects_non_integers_naming_the_item(bad: object) -> None:
    """A non-integer answer (fraction, text, boolean) is an error naming the item."""
    with pytest.raises(InputError) as caught:
        sf36.score_sf36({**JULIA, "q3b": bad}, "v2")  # type: ignore[dict-item]
    assert caught.value.field == "q3b"
    with pytest.raises(InputError) as caught:
        sf36.score_rand36({**JULIA, "q10": bad})  # type: ignore[dict-item]
    assert caught.value.field == "q10"


def test_score_sf36_rejects_an_unknown_item_and_form() -> None:
    """An unknown item code or form is an error naming it."""
    with pytest.raises(InputError) as caught:
        sf36.score_sf36({**JULIA, "q12": 1}, "v1")
    assert caught.value.field == "q12"
    with pytest.raises(InputError) as caught:
        sf36.score_rand36({"q3k": 1})
    assert caught.value.field == "q3k"
    with pytest.raises(InputError) as caught:
        sf36.score_sf36(JULIA, "v3")  # type: ignore[arg-type]
    assert caught.value.field == "form"
    with pytest.raises(InputError) as caught:
        sf36.INSTRUMENT.score_items({"q12": 1})
    assert caught.value.field == "q12"
    with pytest.raises(InputError) as caught:
        sf36.INSTRUMENT.score_items(JULIA, {"form": "acute"})
    assert caught.value.field == "form"


# --- properties ------------------------------------------------------------------------------------------


@st.composite
def questionnaires(draw: st.DrawFn, high: dict[str, int]) -> dict[str, int | None]:
    """Any answers within the form's ranges, each possibly missing."""
    return {c: draw(st.one_of(st.none(), st.integers(1, high[c]))) for c in CODES}


@given(answers=questionnaires(V1_HIGH))
def test_score_sf36_v1_scales_within_0_100(answers: dict[str, int | None]) -> None:
    """Every v1 scale and every RAND-36 scale lies within 0-100 (scale definition, domain.md §2.3; RAND Table 1)."""
    for scale in sf36.score_sf36(answers, "v1").scales.values():
        assert scale is None or 0 <= scale <= 100
    for scale in sf36.score_rand36(answers).scales.values():
        assert scale is None or 0 <= scale <= 100


@given(answers=questionnaires(V2_HIGH))
def test_score_sf36_v2_scales_within_0_100(answers: dict[str, int | None]) -> None:
    """Every v2 scale lies within 0-100, and PCS/MCS exist exactly when all 8 scales do (domain.md §2.3-2.4)."""
    result = sf36.score_sf36(answers, "v2")
    for scale in result.scales.values():
        assert scale is None or 0 <= scale <= 100
    assert (result.pcs is not None) == all(v is not None for v in result.scales.values())


@pytest.mark.parametrize("form", ["v1", "v2", "rand36"])
@given(data=st.data(), item=st.sampled_from(sorted(SCALE_OF)))
def test_a_better_answer_never_lowers_its_scale(form: str, data: st.DataObject, item: str) -> None:
    """Monotonicity: moving one answer a step towards the better response (domain.md §2.2 directions) never lowers its scale."""
    high = V2_HIGH if form == "v2" else V1_HIGH
    answers = data.draw(questionnaires(high))
    given_answer = answers[item]
    current = given_answer if given_answer is not None else data.draw(st.integers(1, high[item]))
    better = current - 1 if item in LOWER_IS_BETTER else current + 1
    if not 1 <= better <= high[item]:
        return
    scale = SCALE_OF[item]

    def score(values: dict[str, int | None]) -> float | None:
        if form == "rand36":
            return sf36.score_rand36(values).scales[scale]
        return sf36.score_sf36(values, "v1" if form == "v1" else "v2").scales[scale]

    before = score({**answers, item: current})
    after = score({**answers, item: better})
    if before is not None:
        assert after is not None
        assert after >= before - 1e-9
