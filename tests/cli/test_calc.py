"""rodnan calc: one instrument from a JSON object, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rodnan.cli.app import app
from rodnan.core.instruments import REGISTRY

runner = CliRunner()


def test_calc_reads_stdin_and_prints_json_with_its_source() -> None:
    """Cockcroft-Gault of domain.md §8.1 (hand-computed 45.441 mL/min) through the CLI."""
    answers = {"age": 45, "weight": 55, "creatinine": 120, "sex": "female"}
    result = runner.invoke(app, ["calc", "cockcroft_gault", "--input", "-", "--format", "json"], input=json.dumps(answers))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert round(data["value"], 3) == 45.441
    assert data["source"].startswith("Cockcroft DW, Gault MH")


def test_calc_reads_a_file_and_prints_a_table(tmp_path: Path) -> None:
    """The table names the value; null inputs are missing and named."""
    path = tmp_path / "mrss.json"
    path.write_text(json.dumps({"mrss_face": 1, "mrss_chest": None}), encoding="utf-8")
    result = runner.invoke(app, ["calc", "mrss", "--input", str(path)])
    assert result.exit_code == 0, result.output
    assert "not computable" in result.stdout
    assert "16 of 17 areas missing" in " ".join(result.stdout.split())


def test_calc_option_changes_the_unit() -> None:
    """--creatinine-unit mg/dL: 1.0 mg/dL, 60 years, 72 kg, male gives 80 mL/min (domain.md §8.1)."""
    answers = {"age": 60, "weight": 72, "creatinine": 1.0, "sex": "male"}
    arguments = ["calc", "cockcroft_gault", "-i", "-", "-f", "json", "--creatinine-unit", "mg/dL"]
    result = runner.invoke(app, arguments, input=json.dumps(answers))
    assert json.loads(result.stdout)["value"] == 80.0


def test_calc_help_lists_every_input_code() -> None:
    """rodnan calc INSTRUMENT --help documents the item codes of every instrument."""
    for code, instrument in REGISTRY.items():
        result = runner.invoke(app, ["calc", code, "--help"], terminal_width=200)
        assert result.exit_code == 0
        for doc in instrument.inputs:
            assert doc.code in result.stdout, (code, doc.code)


def test_calc_bad_input_names_the_field() -> None:
    """An unknown key or a bad value is an error naming it; bad JSON says where."""
    result = runner.invoke(app, ["calc", "cockcroft_gault", "-i", "-"], input='{"agee": 4}')
    assert result.exit_code != 0
    assert "agee: is not an input of cockcroft_gault" in str(result.exception)
    result = runner.invoke(app, ["calc", "cockcroft_gault", "-i", "-"], input="{not json")
    message = "standard input: is not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2"
    assert str(result.exception) == message


def test_calc_sf36_contract_json_keys_and_nulls(tmp_path: Path) -> None:
    """rodnan calc sf36 --form v1 --input FILE --format json: keys PF..MCS; lbscorer sample case 2
    (tests/sf36tests.Rout.save) has GH, PCS and MCS not computable -> null; PF 80, RP 25, BP 64."""
    import csv

    data = Path(__file__).resolve().parents[1] / "data" / "sf36_lbscorer_sample.csv"
    rows = list(csv.DictReader(line for line in data.read_text(encoding="utf-8").splitlines() if not line.startswith("#")))
    case = next(r for r in rows if r["case"] == "2")
    questions = [k for k in case if k.startswith("q")]
    answers = {q: (int(case[q]) if case[q] else None) for q in questions}
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers), encoding="utf-8")
    result = runner.invoke(app, ["calc", "sf36", "--form", "v1", "--input", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert {"PF", "RP", "BP", "GH", "VT", "SF", "RE", "MH", "PCS", "MCS"} <= set(out)
    assert (out["GH"], out["PCS"], out["MCS"]) == (None, None, None)
    assert (round(out["PF"]), round(out["RP"]), round(out["BP"])) == (80, 25, 64)
