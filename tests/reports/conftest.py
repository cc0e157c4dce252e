"""Shared fixtures of the report tests: a simulated data directory and its report, written once per session."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rodnan.cli.simulate import write_cohort
from rodnan.core.protocol import Study
from rodnan.core.simulate.cohort import simulate_cohort
from rodnan.reports import ReportPaths, write_report

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
"""The generation time of the reports written by the tests."""


@pytest.fixture(scope="session")
def data_dir(study: Study, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory as `rodnan simulate --n 20 --seed 1` writes it."""
    folder = tmp_path_factory.mktemp("sim20")
    write_cohort(simulate_cohort(study, 20, 1), folder)
    return folder


@pytest.fixture(scope="session")
def now() -> dt.datetime:
    """The generation time of the reports written by the tests."""
    return NOW


@pytest.fixture(scope="session")
def written(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ReportPaths:
    """The report of that directory, HTML and PDF, generated at a fixed time."""
    return write_report(data_dir, tmp_path_factory.mktemp("report"), now=NOW)


@pytest.fixture(scope="session")
def html(written: ReportPaths) -> str:
    """The HTML text."""
    return written.html.read_text(encoding="utf-8")
