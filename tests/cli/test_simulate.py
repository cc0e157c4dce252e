"""rodnan simulate: the cohort files, byte-identical for the same seed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from rodnan.cli.app import app

runner = CliRunner()


def _run(out: Path, seed: int) -> None:
    result = runner.invoke(app, ["simulate", "--n", "6", "--seed", str(seed), "--out", str(out)])
    assert result.exit_code == 0, result.output


def test_simulate_writes_the_cohort_files_reproducibly(tmp_path: Path) -> None:
    """values.csv (subject_id, visit, item, value, unit, date), subjects.csv, adverse_events.csv, simulation.json."""
    _run(tmp_path / "a", 11)
    _run(tmp_path / "b", 11)
    _run(tmp_path / "c", 12)
    for name in ("values.csv", "subjects.csv", "adverse_events.csv", "simulation.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "values.csv").read_bytes() != (tmp_path / "c" / "values.csv").read_bytes()
    with (tmp_path / "a" / "values.csv").open(encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        assert reader.fieldnames == ["subject_id", "visit", "item", "value", "unit", "date"]
        rows = list(reader)
    assert {r["visit"] for r in rows} >= {"SCR", "D0", "M1", "M12"}
    assert len({r["subject_id"] for r in rows}) == 6
    meta = json.loads((tmp_path / "a" / "simulation.json").read_text(encoding="utf-8"))
    assert (meta["seed"], meta["n"]) == (11, 6)
    assert meta["parameters"]["survival_5y"] == 0.927


def test_simulate_candidates_are_screened_as_intended(tmp_path: Path) -> None:
    """rodnan simulate candidates writes a pool that rodnan screen reads; every verdict is the intended one."""
    from rodnan.core.protocol import load_protocol
    from rodnan.core.simulate.candidates import simulate_candidates

    out = tmp_path / "pool.csv"
    result = runner.invoke(app, ["simulate", "candidates", "--n", "400", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    screened = runner.invoke(app, ["screen", str(out), "--format", "csv"])
    verdicts = [row["verdict"] for row in csv.DictReader(screened.stdout.splitlines())]
    intended = simulate_candidates(load_protocol(), 400, 3).intended_verdict.tolist()
    assert verdicts == intended
