"""Property test of every command that reads a user's file: over random bytes, random CSV and random JSON the
command ends with exit code 0, 1 or 2 and, when it fails, one ``error:`` line or a list of protocol problems;
never a traceback (any exception other than an exit escapes :func:`rodnan.cli.app.main` and fails the test).

Example counts are modest (the whole file runs in about half a minute on 2 cores); the hostile cases the
issue names have their own tests in test_hostile_input.py and tests/core/protocol/test_hostile.py."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli.hostile import Run, run_cli

CELLS = ["", "5", "-5", "28", "1e999", "NaN", "inf", "yes", "no", "abc", "12.5", "72000", '"q,"', "é", " "]
HEADERS = ["subject_id", "mrss", "hemoglobin [g/dL]", "hemoglobin [kg]", "platelets [/mm3]", "item", "value", "unit",
           "pregnant", "mrss", "x [", "acr_1980_met", "age", "creatinine [umol/L]"]  # fmt: skip
KEYS = ["age", "weight", "creatinine", "sex", "q1", "sf36_q1", "mrss_face", "form", "", "é"]

random_bytes = st.binary(max_size=600)
random_csv = st.builds(
    lambda header, rows, sep: (sep.join([",".join(header), *(",".join(row) for row in rows)]) + sep).encode("utf-8"),
    st.lists(st.sampled_from(HEADERS) | st.text(max_size=6), min_size=1, max_size=5),
    st.lists(st.lists(st.sampled_from(CELLS) | st.text(max_size=5), max_size=6), max_size=6),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6) | st.sampled_from(CELLS),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)
random_json = st.one_of(st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6), json_values).map(
    lambda value: json.dumps(value).encode()
)  # json.dumps writes NaN and Infinity for non-finite floats
CONTENTS = {"bytes": random_bytes, "csv": random_csv, "json": random_json}


def _simulated(folder: Path) -> Path:
    """A small cohort written by rodnan simulate, whose files the report test replaces one at a time."""
    run = run_cli("simulate", "--n", "3", "--seed", "1", "--out", str(folder))
    assert run.code == 0, run.stderr
    return folder


# each command: (name, how to run it on a file holding the content)
def _commands() -> dict[str, Callable[[Path], Run]]:
    return {
        "protocol check": lambda f: run_cli("protocol", "check", str(f)),
        "protocol items": lambda f: run_cli("protocol", "items", "--protocol", str(f)),
        "calc cockcroft_gault": lambda f: run_cli("calc", "cockcroft_gault", "-i", str(f), "-f", "json"),
        "calc sf36": lambda f: run_cli("calc", "sf36", "-i", str(f)),
        "screen": lambda f: run_cli("screen", str(f), "-f", "json"),
        "screen --strict": lambda f: run_cli("screen", str(f), "-f", "csv", "--strict"),
        "screen --protocol": lambda f: run_cli("screen", "--example", "--protocol", str(f)),
        "simulate --protocol": lambda f: run_cli("simulate", "--protocol", str(f), "--n", "2", "--out", str(f.parent / "sim")),
    }


def _assert_clean(run: Run) -> None:
    assert run.code in (0, 1, 2), (run.code, run.stderr)
    assert "Traceback" not in run.stderr
    if run.code == 2:
        assert [line for line in run.stderr.splitlines() if line.startswith("error:")], run.stderr
    elif run.code == 1:  # protocol problems (listed under "FILE: N problem(s)") or --strict
        assert "problem(s)" in run.stderr or "error: --strict" in run.stderr, run.stderr


@pytest.mark.parametrize("kind", list(CONTENTS))
@pytest.mark.parametrize("command", list(_commands()))
def test_a_command_on_a_random_file_never_shows_a_traceback(command: str, kind: str) -> None:
    runner = _commands()[command]

    @settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(content=CONTENTS[kind])
    def check(content: bytes) -> None:
        folder = Path(tempfile.mkdtemp(prefix="rodnan-fuzz-"))
        try:
            path = folder / "input"
            path.write_bytes(content)
            _assert_clean(runner(path))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    check()


@pytest.mark.parametrize("kind", list(CONTENTS))
def test_report_from_a_simulation_with_a_random_file_never_shows_a_traceback(tmp_path: Path, kind: str) -> None:
    cohort = _simulated(tmp_path / "cohort")

    @settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(content=CONTENTS[kind], name=st.sampled_from(["subjects.csv", "values.csv", "adverse_events.csv"]))
    def check(content: bytes, name: str) -> None:
        folder = Path(tempfile.mkdtemp(prefix="rodnan-fuzz-"))
        try:
            data = shutil.copytree(cohort, folder / "data")
            (data / name).write_bytes(content)
            _assert_clean(run_cli("report", "--from-simulation", str(data), "--out", str(folder / "out"), "--no-pdf"))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    check()
