"""rodnan simulate trial: the in-silico trial's table, its JSON, the options that change the assumptions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rodnan.cli.app import app
from rodnan.cli.simulate import _parse_param
from rodnan.core.simulate.params import SimulationParams
from rodnan.errors import InputError

runner = CliRunner()


def test_simulate_trial_prints_the_assumptions_and_results_tables() -> None:
    """The table output names the assumptions (with sources) and every result line."""
    result = runner.invoke(app, ["simulate", "trial", "--n", "6", "--reps", "3", "--seed", "2"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("Assumptions", "effect_mrss_12m", "Zhang 2017", "Results over 3 simulated trials",
                 "power, paired Wilcoxon signed-rank p < alpha", "coverage of the true change", "DFS at month 12",
                 "events per trial", "median DFS is reached", "Failed analyses"):  # fmt: skip
        assert text in out, text


def test_simulate_trial_json_parses_and_reflects_the_options(tmp_path: Path) -> None:
    """--format json is one JSON document; --effect and --param change the assumptions; --replicates writes a CSV."""
    rows = tmp_path / "replicates.csv"
    arguments = ["simulate", "trial", "--n", "8", "--reps", "4", "--seed", "3", "--effect", "-10",
                 "--param", "mrss_measurement_sd=1.5", "--alpha", "0.1", "--dfs-null", "0.5",
                 "--format", "json", "--replicates", str(rows)]  # fmt: skip
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["n"], data["reps"], data["seed"], data["alpha"]) == (8, 4, 3, 0.1)
    assert data["assumptions"]["effect_mrss_12m"] == -10.0
    assert data["assumptions"]["mrss_measurement_sd"] == 1.5
    assert data["mrss_change"]["true_change"] == -10.0
    assert 0 <= data["mrss_change"]["power_wilcoxon"] <= 1
    assert data["dfs"]["null_survival"] == 0.5
    assert data["dfs"]["dfs_month"] == 12.0
    with rows.open(encoding="utf-8") as stream:
        table = list(csv.DictReader(stream))
    assert [int(r["replicate"]) for r in table] == [0, 1, 2, 3]
    again = runner.invoke(app, arguments)
    assert json.loads(again.stdout) == data


def test_simulate_trial_reference_cohort_sets_the_truth() -> None:
    """--reference-n estimates the true change and DFS from one cohort; the JSON says so."""
    result = runner.invoke(app, ["simulate", "trial", "--n", "5", "--reps", "2", "--reference-n", "200", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["reference"]["n"] == 200
    assert data["mrss_change"]["true_change"] == data["reference"]["mrss_change"]
    assert data["dfs"]["reference_survival"] == data["reference"]["dfs_survival"]


def test_simulate_trial_rejects_an_unknown_parameter() -> None:
    """--param with a name SimulationParams does not have is an input error naming --param."""
    result = runner.invoke(app, ["simulate", "trial", "--reps", "1", "--param", "effect_size=3"])
    assert isinstance(result.exception, InputError)
    assert result.exception.field == "--param"
    with pytest.raises(InputError, match="must be float"):
        _parse_param("effect_mrss_12m=big", SimulationParams())


def test_simulate_cohort_command_is_unchanged(tmp_path: Path) -> None:
    """rodnan simulate (no sub-command) still writes the cohort files."""
    result = runner.invoke(app, ["simulate", "--n", "3", "--seed", "1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "values.csv").is_file()
