"""Hostile and careless input at the command line (issue #16, hostile input): one clear error line naming the
file (and the line and column where it can), or a warning; never a traceback. Run through the real entry
point, in this process (tests/cli/hostile.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.hostile import assert_clean_failure, run_cli

GOOD_CG = '{"age": 60, "weight": 72, "creatinine": 80, "sex": "male"}'


def test_protocol_check_on_a_binary_file_names_line_and_column(tmp_path: Path) -> None:
    """main: UnicodeDecodeError traceback."""
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"protocol:\n  code: x\xff\xfe\x00\n")
    run = run_cli("protocol", "check", str(path))
    assert run.code == 1
    assert "Traceback" not in run.stderr
    assert f"{path}: 1 problem(s)" in run.stderr
    assert "byte 0xff at line 2, column 10" in run.stderr


def test_protocol_check_on_a_billion_laughs_fails_fast(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = run_cli("protocol", "check", str(path))
    assert run.code == 1
    assert "aliases expand the document to more than 150,000 nodes" in run.stderr


def test_calc_on_a_binary_file_names_the_file_line_and_column(tmp_path: Path) -> None:
    """main: UnicodeDecodeError traceback."""
    path = tmp_path / "answers.json"
    path.write_bytes(b'{"age": 60,\n "sex": "m\x89le"}')
    assert_clean_failure(run_cli("calc", "cockcroft_gault", "-i", str(path)), 2, str(path), "byte 0x89 at line 2, column 11")


def test_calc_on_json_nested_100000_deep_is_one_error_line(tmp_path: Path) -> None:
    """main: RecursionError traceback."""
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    assert_clean_failure(run_cli("calc", "cockcroft_gault", "-i", str(path)), 2, str(path), "nested too deeply")


def test_calc_json_errors_name_the_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"age": 60,\n  "sex": }', encoding="utf-8")
    run = run_cli("calc", "cockcroft_gault", "-i", str(path))
    assert_clean_failure(run, 2, f"{path}: is not valid JSON", "line 2, column 10")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_calc_refuses_non_finite_numbers_naming_the_field(tmp_path: Path, number: str) -> None:
    """main: NaN was read as missing ("not computable", exit 0); 1e999 overflows to infinity."""
    path = tmp_path / "answers.json"
    path.write_text(GOOD_CG.replace('"weight": 72', f'"weight": {number}'), encoding="utf-8")
    line = assert_clean_failure(run_cli("calc", "cockcroft_gault", "-i", str(path)), 2)
    assert line == f"error: weight: must be a finite number (use null for a missing value); got {number} in {path}"


def test_calc_refuses_an_integer_beyond_a_float_naming_the_field() -> None:
    """main: OverflowError traceback (int too large to convert to float)."""
    run = run_cli("calc", "cockcroft_gault", "-i", "-", stdin=GOOD_CG.replace('"age": 60', '"age": 1' + "0" * 400))
    line = assert_clean_failure(run, 2)
    shown = "got 100000000000... (401 digits) in standard input"
    assert line == f"error: age: must be a finite number (use null for a missing value); {shown}"


def test_number_input_refuses_an_integer_beyond_a_float() -> None:
    """The core's check, for callers other than the command line (main: OverflowError)."""
    from rodnan.core.instruments.base import number_input
    from rodnan.errors import InputError

    with pytest.raises(InputError, match=r"^age: must be a finite number"):
        number_input({"age": 10**400}, "age")


def test_calc_still_reads_null_as_missing_and_finite_numbers() -> None:
    """Cockcroft-Gault by hand: (140 - 60) x 72 / (72 x 80 umol/L / 88.4) = 88.4 mL/min."""
    run = run_cli("calc", "cockcroft_gault", "-i", "-", "-f", "json", stdin=GOOD_CG)
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["value"] == pytest.approx(88.4, abs=0.01)
    run = run_cli("calc", "cockcroft_gault", "-i", "-", "-f", "json", stdin=GOOD_CG.replace("72", "null"))
    assert run.code == 0
    assert '"value": null' in run.stdout


def _candidates(tmp_path: Path) -> Path:
    path = tmp_path / "c.csv"
    path.write_text("subject_id,mrss,hemoglobin [kg],disease_duration_months\nS1,-5,12,14\nS2,28,12,abc\n", encoding="utf-8")
    return path


def test_screen_keeps_warnings_and_counts_them_by_kind(tmp_path: Path) -> None:
    run = run_cli("screen", str(_candidates(tmp_path)), "-f", "csv")
    assert run.code == 0, run.stderr
    assert "column 'hemoglobin [kg]': unit must convert to g/L" in run.stderr
    summary = "input problems by kind: 1 unusable unit, 1 unreadable value, 1 outside the plausible range"
    assert run.stderr.splitlines()[-1] == summary


def test_screen_strict_makes_a_warning_an_error(tmp_path: Path) -> None:
    """--strict: the same output, then exit 1 (main had no --strict: exit 2, a usage error)."""
    run = run_cli("screen", str(_candidates(tmp_path)), "-f", "csv", "--strict")
    assert_clean_failure(run, 1, "--strict: 3 input warning(s)")
    assert run.stdout.count("\n") == 3  # the header and both candidates were written
    assert run_cli("screen", "--example", "--strict", "-f", "csv").code == 0


def test_screen_shows_plain_numbers_in_messages(tmp_path: Path) -> None:
    """main: "(got np.int64(-5))"."""
    run = run_cli("screen", str(_candidates(tmp_path)), "-f", "csv")
    warning = "line 2, subject S1, column 'mrss': must be within the plausible range 0 to 51 {score} (got -5); treated as missing"
    assert warning in run.stderr


@pytest.mark.parametrize("layout", ["wide", "long"])
def test_screen_on_a_non_utf8_file_names_the_line(tmp_path: Path, layout: str) -> None:
    """main: "... in position 22" (an offset in pandas' buffer); now the line and column."""
    path = tmp_path / "latin1.csv"
    header = "subject_id,mrss\n" if layout == "wide" else "subject_id,item,value,unit\n"
    rows = "S1,5\nS2,28\nS\xe9,3\n" if layout == "wide" else "S1,mrss,5,\nS2,mrss,28,\nS\xe9,mrss,3,\n"
    path.write_bytes((header + rows).encode("latin-1"))
    assert_clean_failure(run_cli("screen", str(path), "-f", "csv"), 2, str(path), "byte 0xe9 at line 4, column 2")


def test_screen_on_a_non_utf8_file_in_parallel_blocks_names_the_line(tmp_path: Path) -> None:
    """A wide file cut into blocks for worker processes: the bad byte on line 30,002 of the file."""
    from rodnan.core.protocol import load_protocol
    from rodnan.core.screening import csv_rows, screen_csv_rendered
    from rodnan.errors import InputError

    path = tmp_path / "big.csv"
    rows = "".join(f"S{i},5\n" for i in range(30_000))
    path.write_bytes(b"subject_id,mrss\n" + rows.encode() + b"S\xe9,3\n")
    with pytest.raises(InputError, match=r"byte 0xe9 at line 30002, column 2 "):
        for _ in screen_csv_rendered(load_protocol(), path, csv_rows, workers=2, block_bytes=64 << 10):
            pass


def test_report_from_a_non_utf8_simulation_file(tmp_path: Path) -> None:
    """main: UnicodeDecodeError traceback from pandas."""
    (tmp_path / "subjects.csv").write_bytes(b"subject_id,site\n\x8b\x08\n")
    (tmp_path / "values.csv").write_text("subject_id,visit,item,value,unit,date\n", encoding="utf-8")
    run = run_cli("report", "--from-simulation", str(tmp_path), "--out", str(tmp_path / "out"), "--no-pdf")
    assert_clean_failure(run, 2, str(tmp_path / "subjects.csv"), "byte 0x8b at line 2, column 1")


def test_report_from_a_data_folder_whose_database_is_not_sqlite(tmp_path: Path) -> None:
    """main: django.db.utils.DatabaseError traceback ("file is not a database")."""
    (tmp_path / "rodnan.sqlite3").write_bytes(b"\x00garbage" * 100)
    run = run_cli("report", "--data", str(tmp_path), "--out", str(tmp_path / "out"), "--no-pdf")
    assert_clean_failure(run, 2, str(tmp_path / "rodnan.sqlite3"), "is not an SQLite database")
