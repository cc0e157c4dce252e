"""Bulk screening from CSV: both layouts, bad cells reported by line and column, and the vectorised
verdicts equal to evaluate_criteria on every candidate."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from rodnan.core.eligibility import evaluate_criteria
from rodnan.core.protocol import Study
from rodnan.core.screening import (
    DUPLICATE_RULE,
    VERDICT_NAMES,
    InputIssue,
    RenderedChunk,
    ScreenedBatch,
    csv_header,
    csv_rows,
    frame_of,
    results_of,
    screen_csv,
    screen_csv_rendered,
)
from rodnan.core.values import Measurement
from rodnan.errors import InputError
from tests.candidates import LUNG_ELIGIBLE, NEUTRAL


def screening_columns(study: Study) -> list[str]:
    """The screening form's items a candidate file holds (its attached source document aside: decision 0021)."""
    return [code for code in study.form_by_code["screening"].items if study.item_by_code[code].type != "file"]


def run(study: Study, text: str, chunk_rows: int = 100_000) -> tuple[list[dict[str, str]], list[InputIssue]]:
    rows: list[dict[str, str]] = []
    issues: list[InputIssue] = []
    for screened, batch_issues in screen_csv(study, io.StringIO(text), chunk_rows=chunk_rows):
        rows += frame_of(study, screened).to_dict("records")
        issues += batch_issues
    return rows, issues


def wide(rows: list[dict[str, object]], units: dict[str, str] | None = None) -> str:
    units = units or {}
    codes = list(rows[0])
    header = ["subject_id", *[f"{c} [{units[c]}]" if c in units else c for c in codes]]
    lines = [",".join(header)]
    for i, row in enumerate(rows, start=1):
        lines.append(",".join([f"C{i:03d}", *["" if row[c] is None else str(row[c]).lower() for c in codes]]))
    return "\n".join(lines) + "\n"


def test_wide_file_with_units_in_headers_is_converted(study: Study) -> None:
    """albumin [g/dL] 2.3 is 23 g/L (< 25): the digestive pathway qualifies."""
    candidate = {**NEUTRAL, "albumin": 2.3}
    rows, issues = run(study, wide([candidate], {"albumin": "g/dL"}))
    assert issues == []
    assert rows[0]["verdict"] == "eligible"
    assert rows[0]["qualifying_pathways"] == "digestive"
    assert rows[0]["digestive"] == "met"


def test_header_units_with_brackets_inside_brackets(study: Study) -> None:
    """mpap_echo [mm[Hg]] and platelets [/mm3] are read as UCUM units."""
    candidate = {**NEUTRAL, "mpap_echo": 45, "platelets": 79999}
    rows, issues = run(study, wide([candidate], {"mpap_echo": "mm[Hg]", "platelets": "/mm3"}))
    assert issues == []
    assert rows[0]["lung"] == "met"
    assert rows[0]["platelets_low"] == "met"
    assert rows[0]["verdict"] == "ineligible"


def test_long_file_gives_the_same_verdicts_as_wide(study: Study) -> None:
    """subject_id,item,value,unit rows, with per-row units, screen like the wide layout."""
    lines = ["subject_id,item,value,unit"]
    for code, value in LUNG_ELIGIBLE.items():
        lines.append(f"L1,{code},{str(value).lower()},")
    for code, value in NEUTRAL.items():
        if code == "creatinine":
            lines.append("L2,creatinine,1.5,mg/dL")  # 132.6 umol/L: kidney pathway
        else:
            lines.append(f"L2,{code},{str(value).lower()},")
    rows, issues = run(study, "\n".join(lines) + "\n")
    assert issues == []
    assert [(r["subject_id"], r["verdict"], r["qualifying_pathways"]) for r in rows] == [
        ("L1", "eligible", "lung"),
        ("L2", "eligible", "kidney"),
    ]


def test_long_file_problems_are_reported_per_row(study: Study) -> None:
    """Unknown item, incompatible unit, non-number and a repeated item: each named by line; the rest screened."""
    text = "\n".join(
        [
            "subject_id,item,value,unit",
            "L1,albumin,2.2,g/dL",
            "L1,albumen,22,g/L",
            "L1,creatinine,130,mm[Hg]",
            "L1,lvef,sixty,",
            "L1,albumin,40,g/L",
        ]
    )
    rows, issues = run(study, text + "\n")
    assert rows[0]["digestive"] == "met"  # the first albumin row is used
    rules = {(i.line, i.column): i.rule for i in issues}
    assert "'albumen' is not an item of the protocol" in rules[(3, "item")]
    assert "unit must convert to µmol/L" in rules[(4, "unit")]
    assert "must be a number" in rules[(5, "value")]
    assert "given twice" in rules[(6, "item")]


def test_bad_cells_are_reported_by_line_and_column_and_treated_as_missing(study: Study) -> None:
    """A non-number, a bad yes/no and an implausible value: three issues; the candidates are still screened."""
    text = wide([LUNG_ELIGIBLE, LUNG_ELIGIBLE, LUNG_ELIGIBLE, LUNG_ELIGIBLE])
    lines = text.splitlines()
    header = lines[0].split(",")
    cells = [line.split(",") for line in lines[1:]]
    cells[0][header.index("lvef")] = "n/a"
    cells[1][header.index("hiv_positive")] = "perhaps"
    cells[2][header.index("platelets")] = "80000"  # in 10*9/L: outside 0-2000
    text = "\n".join([lines[0], *[",".join(c) for c in cells]]) + "\n"
    rows, issues = run(study, text)
    assert [r["verdict"] for r in rows] == ["incomplete", "incomplete", "incomplete", "eligible"]
    assert [(i.line, i.column, i.subject_id) for i in issues] == [
        (2, "lvef", "C001"), (3, "hiv_positive", "C002"), (4, "platelets", "C003"),
    ]  # fmt: skip
    assert "must be a number (got 'n/a')" in issues[0].rule
    assert "must be yes/no" in issues[1].rule
    assert "plausible range 0 to 2000 10*9/L" in issues[2].rule
    assert rows[2]["missing_items"] == "platelets"


def test_unknown_column_and_unit_that_does_not_fit_are_ignored_with_a_message(study: Study) -> None:
    """Header problems name the column; the column is left out, the candidates screened."""
    text = "subject_id,albumen,albumin [mm[Hg]],lvef [%]\nC1,20,20,45\n"
    rows, issues = run(study, text)
    assert [(i.line, i.column) for i in issues] == [(1, "albumen"), (1, "albumin [mm[Hg]]")]
    assert "not an item of the protocol" in issues[0].rule
    assert "unit must convert to g/L" in issues[1].rule
    assert rows[0]["verdict"] == "ineligible"  # LVEF 45 % excludes whatever is missing


def test_duplicated_candidates_are_reported_across_chunks(study: Study) -> None:
    """A subject id seen before is not screened twice, even in a later chunk."""
    text = wide([LUNG_ELIGIBLE, NEUTRAL, LUNG_ELIGIBLE]).replace("C003", "C001")
    rows, issues = run(study, text, chunk_rows=2)
    assert [r["subject_id"] for r in rows] == ["C001", "C002"]
    assert [(i.line, i.subject_id) for i in issues] == [(4, "C001")]
    assert "duplicated candidate" in issues[0].rule


def test_rows_without_subject_id_are_reported(study: Study) -> None:
    """An empty id is a problem of that line; blank lines are skipped silently."""
    text = wide([LUNG_ELIGIBLE, LUNG_ELIGIBLE]).replace("C002", "") + "\n"
    rows, issues = run(study, text)
    assert [r["subject_id"] for r in rows] == ["C001"]
    assert [(i.line, i.column) for i in issues] == [(3, "subject_id")]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "is not a usable CSV file"),
        ("albumin,lvef\n20,50\n", "must have a 'subject_id' column"),
        ('subject_id,albumin\n"C1,20\n', "is not a usable CSV file"),
    ],
)
def test_unusable_files_raise(study: Study, text: str, rule: str) -> None:
    """Only a file that cannot be screened at all raises."""
    with pytest.raises(InputError, match=rule):
        run(study, text)


def test_results_give_reasons_from_the_vectorised_truths(study: Study) -> None:
    """Per-candidate results (for JSON) show entered and converted values."""
    text = wide([{**NEUTRAL, "albumin": 2.3}], {"albumin": "g/dL"})
    [(screened, _)] = list(screen_csv(study, io.StringIO(text)))
    [(subject, result)] = list(results_of(study, screened))
    assert subject == "C001"
    assert result.criterion("digestive").reason == "met: Serum albumin 23 g/L (entered 2.3 g/dL) < 25 g/L"


def _random_candidates(study: Study, n: int, seed: int) -> list[dict[str, object]]:
    """Candidates scattered around every threshold, with about 10 % of values missing."""
    rng = np.random.default_rng(seed)
    spread = {
        "disease_duration_months": (0, 60), "mrss": (5, 40), "esr": (2, 60), "hemoglobin": (80, 160),
        "vc_pct_pred": (40, 110), "fvc_pct_pred": (40, 110), "dlco_pct_pred": (30, 110), "mpap_echo": (15, 60),
        "albumin": (18, 48), "weight_loss_12m_pct": (-5, 20), "urine_protein_24h": (0, 1.5), "creatinine": (40, 200),
        "lvef": (35, 75), "creatinine_clearance": (10, 140), "platelets": (40, 400),
    }  # fmt: skip
    candidates = []
    for _ in range(n):
        facts: dict[str, object] = {}
        for item in screening_columns(study):
            if rng.random() < 0.1:
                continue
            if item in spread:
                low, high = spread[item]
                value = float(rng.uniform(low, high))
                facts[item] = round(value) if item == "mrss" else round(value, 1)
            else:
                facts[item] = bool(rng.random() < (0.9 if item in ("acr_1980_met", "vascular_access") else 0.05))
        candidates.append(facts)
    return candidates


def test_vectorised_screening_equals_row_by_row_evaluation(study: Study) -> None:
    """On 400 random candidates, every criterion and verdict of screen_csv equals evaluate_criteria's."""
    candidates = _random_candidates(study, 400, seed=20261126)
    codes = screening_columns(study)
    text = wide([{c: cand.get(c) for c in codes} for cand in candidates], {"hemoglobin": "g/dL"})
    # the hemoglobin column is declared in g/dL: divide the g/L values by 10 in the file
    lines = text.splitlines()
    h = lines[0].split(",").index("hemoglobin [g/dL]")
    fixed = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        if cells[h]:
            cells[h] = repr(float(cells[h]) / 10)
        fixed.append(",".join(cells))
    rows, issues = run(study, "\n".join(fixed) + "\n", chunk_rows=97)
    assert issues == []
    verdicts = set()
    for facts, row in zip(candidates, rows, strict=True):
        if "hemoglobin" in facts:
            facts = {**facts, "hemoglobin": Measurement(float(facts["hemoglobin"]) / 10, "g/dL")}  # type: ignore[arg-type]
        expected = evaluate_criteria(study, facts)
        assert row["verdict"] == expected.verdict.value
        assert row["qualifying_pathways"] == ";".join(expected.qualifying_pathways)
        assert row["missing_items"] == ";".join(expected.missing_items)
        for criterion in expected.criteria:
            assert row[criterion.code] == criterion.verdict.value, criterion.code
        verdicts.add(row["verdict"])
    assert verdicts == {"eligible", "ineligible", "incomplete"}


def test_csv_text_equals_the_table_written_by_pandas(study: Study) -> None:
    """The fast CSV writer gives exactly what pandas writes for the same table, quoting included."""
    candidates = _random_candidates(study, 300, seed=7)
    codes = screening_columns(study)
    text = wide([{c: cand.get(c) for c in codes} for cand in candidates])
    text = text.replace("C002,", '"C,002",', 1).replace("C003,", '"C""003",', 1)
    [(screened, _)] = list(screen_csv(study, io.StringIO(text)))
    expected = frame_of(study, screened).to_csv(index=False, lineterminator="\n")
    assert csv_header(study) + "\n".join(csv_rows(study, screened)) + "\n" == expected


def _render_ids_and_verdicts(study: Study, screened: ScreenedBatch) -> list[str]:
    """A module-level render function (workers get it by fork): 'id:verdict' per candidate."""
    return [f"{i}:{v}" for i, v in zip(screened.batch.subject_ids, VERDICT_NAMES[screened.verdicts], strict=True)]


def test_parallel_screening_equals_sequential_with_duplicates_across_blocks(study: Study, tmp_path: Path) -> None:
    """Worker processes on small blocks give the sequential result: same rows, same order, and a
    subject id repeated in a later block is reported and dropped, as are quoted ids with commas."""
    candidates = _random_candidates(study, 600, seed=11)
    codes = screening_columns(study)
    text = wide([{c: cand.get(c) for c in codes} for cand in candidates])
    text = text.replace("\nC500,", "\nC007,", 1).replace("\nC300,", '\n"C,300",', 1)
    path = tmp_path / "candidates.csv"
    path.write_text(text, encoding="utf-8")

    sequential = list(screen_csv_rendered(study, path, _render_ids_and_verdicts, workers=1))
    parallel = list(screen_csv_rendered(study, path, _render_ids_and_verdicts, workers=2, block_bytes=4096))
    assert len(parallel) > 10  # really cut into many blocks

    def rows(chunks: list[RenderedChunk]) -> list[str]:
        return [row for chunk in chunks if chunk.text for row in chunk.text.decode().split("\n")]

    def issues(chunks: list[RenderedChunk]) -> list[tuple[int | None, str | None, str]]:
        return [(i.line, i.subject_id, i.rule) for chunk in chunks for i in chunk.issues]

    assert rows(parallel) == rows(sequential)
    assert len(rows(parallel)) == 599
    assert "C,300:" in " ".join(rows(parallel))
    assert issues(parallel) == issues(sequential) == [(501, "C007", DUPLICATE_RULE)]
    expected = [f"{r['subject_id']}:{r['verdict']}" for r in run(study, text)[0]]
    assert rows(parallel) == expected


def test_broken_row_in_a_worker_block_names_its_file_line(study: Study, tmp_path: Path) -> None:
    """A row with too many fields makes the file unusable; the error gives the line in the file."""
    lines = ["subject_id,albumin,lvef", *[f"C{i},30,60" for i in range(2000)]]
    lines[1500] = "C1499,30,60,EXTRA"  # file line 1501
    path = tmp_path / "c.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="Expected 3 fields in line 1501, saw 4"):
        list(screen_csv_rendered(study, path, _render_ids_and_verdicts, workers=2, block_bytes=2048))
