"""rodnan report: the command writes the report and says where and how long; bad input exits with a message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from rodnan.cli.app import app

runner = CliRunner()


def test_report_command_writes_html_and_prints_paths_and_timings(tmp_path: Path) -> None:
    """`rodnan simulate` then `rodnan report --no-pdf`: report.html written, its path and the timings printed."""
    data, out = tmp_path / "sim", tmp_path / "report"
    simulated = runner.invoke(app, ["simulate", "--n", "8", "--seed", "3", "--out", str(data)])
    assert simulated.exit_code == 0, simulated.output
    result = runner.invoke(app, ["report", "--data", str(data), "--out", str(out), "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert (out / "report.html").is_file()
    assert not (out / "report.pdf").exists()
    assert f"report written: {out / 'report.html'}" in result.output
    assert "timings: read" in result.output
    assert "total" in result.output


def test_report_of_a_missing_directory_exits_2_naming_it(tmp_path: Path) -> None:
    """A real subprocess: exit code 2 and an error line naming the directory and the rule, no traceback."""
    missing = tmp_path / "nowhere"
    completed = subprocess.run(
        [sys.executable, "-m", "rodnan", "report", "--data", str(missing), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert str(missing) in completed.stderr
    assert "does not exist" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_report_of_a_directory_without_subjects_names_the_file(tmp_path: Path) -> None:
    """An empty directory: the error names subjects.csv and says it is missing."""
    completed = subprocess.run(
        [sys.executable, "-m", "rodnan", "report", "--data", str(tmp_path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "subjects.csv: the file is missing" in completed.stderr
