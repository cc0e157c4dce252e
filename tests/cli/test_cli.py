"""The rodnan command line, driven as a user would (typer's CliRunner and a real subprocess)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rodnan.cli.app import app
from rodnan.core.protocol import bundled_protocol_path

runner = CliRunner()

# The bundled examples were written so that each candidate's verdict follows from one fact
# (see src/rodnan/examples/candidates.csv); these are the verdicts their author intended.
EXAMPLE_VERDICTS = {
    "SCR-001": ("eligible", "rapidly_progressive"),
    "SCR-002": ("eligible", "lung"),
    "SCR-003": ("eligible", "digestive"),
    "SCR-004": ("eligible", "kidney"),
    "SCR-005": ("ineligible", ""),  # no pathway
    "SCR-006": ("ineligible", "lung"),  # mean PAP 55 > 50
    "SCR-007": ("ineligible", "rapidly_progressive;lung"),  # platelets 72 000/mm3
    "SCR-008": ("ineligible", "rapidly_progressive;lung"),  # ACR criteria not met
    "SCR-009": ("incomplete", ""),  # lung values missing
    "SCR-010": ("incomplete", "rapidly_progressive;lung"),  # HIV status missing
    "SCR-011": ("ineligible", "lung"),  # DLCO 40 % < 45 %
    "SCR-012": ("eligible", "rapidly_progressive"),  # via Hb 10.4 g/dL
    "SCR-013": ("ineligible", "lung;kidney"),  # CrCl 15 mL/min
    "SCR-014": ("ineligible", "rapidly_progressive;lung"),  # pregnant
}


def test_screen_example_csv_gives_the_intended_verdicts() -> None:
    """rodnan screen --example --format csv: one row per candidate with the intended verdict."""
    result = runner.invoke(app, ["screen", "--example", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {r["subject_id"]: (r["verdict"], r["qualifying_pathways"]) for r in rows} == EXAMPLE_VERDICTS
    assert "screened 14 candidate(s): 5 eligible, 7 ineligible, 2 incomplete" in result.stderr


def test_screen_example_json_holds_every_criterion() -> None:
    """JSON: a list of objects with subject_id, verdict and every criterion's result and reason."""
    result = runner.invoke(app, ["screen", "--example", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["subject_id"] for d in data] == list(EXAMPLE_VERDICTS)
    first = data[0]
    assert first["verdict"] == "eligible"
    assert len(first["criteria"]) == 19
    platelets = next(c for c in data[6]["criteria"] if c["code"] == "platelets_low")
    assert platelets["verdict"] == "met"
    assert platelets["reason"] == "met: Platelet count 72 × 10⁹/L (entered 72000 /mm³) < 80000 /mm³"
    shown = {"item": "platelets", "label": "Platelet count", "entered": "72000 /mm3", "value": 72.0, "display": "72 × 10⁹/L"}
    assert shown in platelets["values"]
    hiv = next(d for d in data if d["subject_id"] == "SCR-010")  # incomplete: HIV status missing
    assert (hiv["missing_items"], hiv["missing_item_labels"]) == (["hiv_positive"], ["HIV seropositive"])


def test_screen_table_shows_verdicts_and_reasons() -> None:
    """The default table names each candidate, verdict and deciding reason."""
    result = runner.invoke(app, ["screen", "--example"])
    assert result.exit_code == 0, result.output
    assert "SCR-006" in result.stdout
    assert "Mean PAP > 50 mmHg: met: Mean pulmonary artery pressure by echocardiography 55 mmHg > 50 mmHg" in result.stdout
    assert "missing: HIV seropositive" in result.stdout
    for code in ("mpap_echo", "hiv_positive", "dlco_pct_pred", "disease_duration_months", "umol/L", "mm[Hg]", "10*9/L"):
        assert code not in result.stdout, code


def test_screen_reports_bad_cells_and_still_exits_zero(tmp_path: Path) -> None:
    """A bad cell is a warning naming line, subject and column; the other candidates are screened."""
    path = tmp_path / "c.csv"
    path.write_text("subject_id,albumin [g/dL],lvef\nA,2.2,sixty\nB,2.2,55\nA,3,60\n", encoding="utf-8")
    result = runner.invoke(app, ["screen", str(path), "--format", "csv"])
    assert result.exit_code == 0
    assert "line 2, subject A, column 'lvef': must be a number (got 'sixty'); treated as missing" in result.stderr
    assert "line 4, subject A, column 'subject_id': duplicated candidate" in result.stderr
    assert [r["subject_id"] for r in csv.DictReader(io.StringIO(result.stdout))] == ["A", "B"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("albumin,lvef\n20,50\n", "must have a 'subject_id' column"),
        ("", "is not a usable CSV file"),
    ],
)
def test_screen_unusable_file_exits_non_zero_with_a_message(tmp_path: Path, content: str, message: str) -> None:
    """Only an unusable file fails, with a one-line error and no traceback."""
    path = tmp_path / "c.csv"
    path.write_text(content, encoding="utf-8")
    completed = subprocess.run([sys.executable, "-m", "rodnan", "screen", str(path)], capture_output=True, text=True, check=False)
    assert completed.returncode == 2
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr


def test_screen_writes_to_out_file(tmp_path: Path) -> None:
    """--out writes the output to a file."""
    out = tmp_path / "verdicts.csv"
    result = runner.invoke(app, ["screen", "--example", "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 15


def test_protocol_check_accepts_the_bundled_file() -> None:
    """rodnan protocol check exits 0 and summarises a valid file."""
    result = runner.invoke(app, ["protocol", "check", str(bundled_protocol_path())])
    assert result.exit_code == 0
    assert "valid: NCT00962923" in result.stdout
    assert "14 visits, 19 criteria" in result.stdout


def test_protocol_check_reports_line_path_and_rule(tmp_path: Path) -> None:
    """An invalid file exits 1 and each problem names its line, YAML path and rule."""
    text = bundled_protocol_path().read_text(encoding="utf-8").replace("lvef < 50 %", "lvef < 50 mm[Hg]")
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    line = text[: text.index("lvef < 50 mm[Hg]")].count("\n") + 1
    result = runner.invoke(app, ["protocol", "check", str(path)])
    assert result.exit_code == 1
    assert f"line {line}: eligibility.exclusion[1].expression: criterion 'lvef_low': unit 'mm[Hg]' does not fit item 'lvef'" in (
        " ".join(result.stderr.split())
    )


def test_protocol_show_prints_the_schedule_grid_and_criteria() -> None:
    """The grid has a column per visit (SCR, D0, M1..M12) and the criteria with expressions."""
    result = runner.invoke(app, ["protocol", "show"])
    assert result.exit_code == 0
    out = result.stdout
    for visit in ("SCR", "D0", "M1", "M3", "M12"):
        assert visit in out
    organ_row = next(line for line in out.splitlines() if "organ_function" in line and "X" in line)
    assert organ_row.count("X") == 5  # screening and months 3, 6, 9, 12
    mrss_row = next(line for line in out.splitlines() if line.startswith("│ mrss"))
    assert mrss_row.count("X") == 13  # screening and months 1-12
    assert "albumin < 25 g/L or weight_loss_12m_pct > 10 %" in out
    assert "1,000,000 cells/kg" in out


def test_protocol_items_lists_units_and_codes() -> None:
    """Items with unit, accepted units and LOINC codes; UCUM brackets are printed, not eaten."""
    result = runner.invoke(app, ["protocol", "items"])
    assert result.exit_code == 0
    albumin = next(line for line in result.stdout.splitlines() if line.startswith("│ albumin "))
    assert "g/L" in albumin
    assert "g/dL" in albumin
    assert "LOINC 1751-7" in albumin
    assert "[in_i]" in result.stdout


def test_python_dash_m_and_version() -> None:
    """python -m rodnan works and --version prints the version."""
    completed = subprocess.run([sys.executable, "-m", "rodnan", "--version"], capture_output=True, text=True, check=True)
    assert completed.stdout.startswith("rodnan 0.1.0")


def test_screen_needs_a_file_or_example() -> None:
    """Neither a file nor --example is a usage error."""
    result = runner.invoke(app, ["screen"])
    assert result.exit_code != 0


def test_protocol_check_reports_a_bad_check_with_line_path_and_rule(tmp_path: Path) -> None:
    """A check comparing a date with a score: exit 1, the check's line, path and rule (issue 15)."""
    text = bundled_protocol_path().read_text(encoding="utf-8").replace("expression: sample_date <= visit_day",
                                                                       "expression: sample_date <= mrss_face")  # fmt: skip
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    line = text[: text.index("sample_date <= mrss_face")].count("\n") + 1
    result = runner.invoke(app, ["protocol", "check", str(path)])
    assert result.exit_code == 1
    assert (f"line {line}: checks[1].expression: check 'lab_sample_not_after_visit': items 'sample_date' (d) and "
            "'mrss_face' ({score}) have units that do not convert"
            in " ".join(result.stderr.split()))  # fmt: skip


def test_protocol_check_reports_bad_timepoints_and_a_bad_requirement(tmp_path: Path) -> None:
    """A time listed twice on the infusion vitals and a requirement reading an unknown answer: exit 1, each named with its
    line, path and rule (decision 0019)."""
    text = (
        bundled_protocol_path()
        .read_text(encoding="utf-8")
        .replace("      - {code: end, label: At the end", "      - {code: during, label: At the end")
        .replace('record: pregnancy_test_result == "negative"', 'record: pregnancy_test_result == "neg"')
    )
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["protocol", "check", str(path)])
    assert result.exit_code == 1
    err = " ".join(result.stderr.split())
    assert "2 problem(s)" in err
    times = text[: text.index("    timepoints:\n      - {code: pre")].count("\n") + 1
    assert f"line {times}: forms[12].timepoints: form 'infusion_vitals': timepoint 'during' is listed more than once" in err
    record = text[: text.index('record: pregnancy_test_result == "neg"')].count("\n") + 1
    assert (f"line {record}: intervention.requires[0].record: requirement 'negative_pregnancy_test': 'neg' is not a choice "
            "of 'pregnancy_test_result'" in err)  # fmt: skip
