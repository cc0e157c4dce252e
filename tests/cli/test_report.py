"""rodnan report: the command writes the report and says where and how long; bad input exits with a message.

The report from the web database (``--data``) is tested with the web tests (tests/web/test_analysis_provider.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from rodnan.cli.app import app

runner = CliRunner()


def test_report_command_writes_html_and_prints_paths_and_timings(tmp_path: Path) -> None:
    """`rodnan simulate` then `rodnan report --from-simulation --no-pdf`: report.html written, its path and the
    timings printed; the footer says there is no audit head (not from a database)."""
    data, out = tmp_path / "sim", tmp_path / "report"
    simulated = runner.invoke(app, ["simulate", "--n", "8", "--seed", "3", "--out", str(data)])
    assert simulated.exit_code == 0, simulated.output
    result = runner.invoke(app, ["report", "--from-simulation", str(data), "--out", str(out), "--no-pdf"])
    assert result.exit_code == 0, result.output
    assert (out / "report.html").is_file()
    assert not (out / "report.pdf").exists()
    assert f"report written: {out / 'report.html'}" in result.output
    assert "timings: start " in result.output
    assert ", read " in result.output
    assert "; command " in result.output
    assert "total" in result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<span id="audit-head">not from a database</span>' in html
    assert '<span id="database-lock">not from a database</span>' in html


def test_report_of_a_missing_directory_exits_2_naming_it(tmp_path: Path) -> None:
    """A real subprocess: exit code 2 and an error line naming the directory and the rule, no traceback."""
    missing = tmp_path / "nowhere"
    completed = subprocess.run(
        [sys.executable, "-m", "rodnan", "report", "--from-simulation", str(missing), "--out", str(tmp_path / "out")],
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
        [sys.executable, "-m", "rodnan", "report", "--from-simulation", str(tmp_path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "subjects.csv: the file is missing" in completed.stderr


def _report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rodnan", "report", *args], capture_output=True, text=True, check=False)


def test_report_of_a_data_folder_without_a_database_exits_2_naming_it(tmp_path: Path) -> None:
    """--data is the web application's data folder: a folder without its SQLite database is refused, not created."""
    completed = _report("--data", str(tmp_path), "--out", str(tmp_path / "out"))
    assert completed.returncode == 2
    assert str(tmp_path) in completed.stderr
    assert "holds no database (rodnan.sqlite3)" in completed.stderr
    assert not (tmp_path / "rodnan.sqlite3").exists()
    assert "Traceback" not in completed.stderr


def test_report_needs_exactly_one_input(tmp_path: Path) -> None:
    """Neither --data nor --from-simulation, or both: exit 2 saying to give one."""
    neither = _report("--out", str(tmp_path / "out"))
    both = _report("--data", str(tmp_path), "--from-simulation", str(tmp_path), "--out", str(tmp_path / "out"))
    for completed in (neither, both):
        assert completed.returncode == 2
        assert "give either --data (the web database) or --from-simulation (a simulator folder)" in completed.stderr
