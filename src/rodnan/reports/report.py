"""The trial's statistical report: self-contained HTML and a PDF made from it by WeasyPrint.

:func:`write_report` reads a directory written by ``rodnan simulate``; :func:`write_trial_report` takes the
data of any provider of the :class:`~rodnan.core.trialdata.TrialData` contract (the web database's adapter,
:func:`rodnan.web.analysis.trial_data_from_database`, through ``rodnan report --data``). Both run
:func:`~rodnan.core.analysis.pipeline.analyse_trial`, draws the figures (:mod:`rodnan.reports.figures`),
renders the HTML from the Jinja2 templates (:mod:`rodnan.reports.render`) and writes ``report.html`` and
``report.pdf`` (:mod:`rodnan.reports.pdf`). The sections, in order: Summary, CONSORT, Kaplan–Meier, Cox,
Mixed model, Wilcoxon, Responders, Remission, Adverse events, Swimmer plot, Methods; then the provenance footer.

Self-contained: the stylesheet is inlined and every figure is an SVG image in a ``data:`` URI, so the HTML
names no external resource at all (no CDN, no font server) and the PDF needs no network.

Reproducible: the footer gives the protocol's code and version with the SHA-256 of the protocol file, the
SHA-256 of the input data (:func:`~rodnan.reports.provenance.fingerprint_data`), the rodnan version and the
generation time (UTC); a report from the web database also its audit head and whether it is locked. The
same input, protocol, software and ``now`` give a byte-identical HTML file (figures are rendered without
dates, with fixed ids).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rodnan import __version__
from rodnan.core.analysis.pipeline import analyse_trial
from rodnan.core.protocol import bundled_protocol_path, load_protocol
from rodnan.core.trialdata import TrialData, read_trial_dir
from rodnan.errors import InputError
from rodnan.reports.figures import render_figures
from rodnan.reports.pdf import write_pdf
from rodnan.reports.provenance import (
    DatabaseState,
    DataFingerprint,
    Provenance,
    fingerprint_data,
    read_simulation,
    software_versions,
    utc,
)
from rodnan.reports.render import build_report_html


@dataclass(frozen=True)
class ReportPaths:
    """What :func:`write_report` wrote, and how long each step took (seconds)."""

    html: Path
    pdf: Path | None
    timings: Mapping[str, float] = field(default_factory=dict)


def write_report(
    data_dir: str | Path,
    out_dir: str | Path,
    now: dt.datetime | None = None,
    protocol: str | Path | None = None,
    pdf: bool = True,
    on_step: Callable[[str], None] | None = None,
    pdf_writer: Callable[[str, Path], None] = write_pdf,
) -> ReportPaths:
    """Analyse the data in ``data_dir`` and write ``report.html`` (and ``report.pdf``) into ``out_dir``.

    Args:
        data_dir: a directory written by ``rodnan simulate`` (subjects.csv, values.csv, adverse_events.csv).
        out_dir: where to write; created if missing.
        now: the generation time stated in the footer (default: the current time); naive times are UTC.
        protocol: the protocol file (default: the bundled NCT00962923 protocol).
        pdf: also write the PDF.
        on_step: called with the name of each step as it starts (for a progress line).
        pdf_writer: writes the PDF of the HTML (:func:`~rodnan.reports.pdf.write_pdf`, or the ``write`` of a
            :class:`~rodnan.reports.pdf.PdfProcess` started earlier).

    Returns:
        :class:`ReportPaths` with the files written and the time each step took.

    Raises:
        InputError: the data directory is missing, or a file in it breaks a rule (the error names the file,
            the line and the column).
        ProtocolError: the protocol file is invalid.
    """
    folder = Path(data_dir)
    if not folder.is_dir():
        raise InputError(str(folder), "the data directory does not exist (expected the output of rodnan simulate)")

    def step(name: str) -> None:
        if on_step is not None:
            on_step(name)

    started = time.perf_counter()
    step("reading the protocol and the data")
    protocol_path = bundled_protocol_path() if protocol is None else Path(protocol)
    study = load_protocol(protocol_path)
    data = read_trial_dir(folder, study)
    source = ReportSource(
        data_name=folder.resolve().name,
        fingerprint=fingerprint_data(folder),
        protocol_file=protocol_path.name,
        protocol_sha256=hashlib.sha256(protocol_path.read_bytes()).hexdigest(),
        simulation=read_simulation(folder),
    )
    return write_trial_report(data, source, out_dir, now=now, pdf=pdf, on_step=on_step, started=started, pdf_writer=pdf_writer)


@dataclass(frozen=True)
class ReportSource:
    """Where the data of a report came from (what the footer states besides the protocol's code and version).

    Attributes:
        data_name: the data folder's name, or the database's (no parent folders).
        fingerprint: the SHA-256 of the input (:func:`~rodnan.reports.provenance.fingerprint_data` or
            :func:`~rodnan.reports.provenance.fingerprint_frames`).
        protocol_file: the protocol file's name ("stored in the database" for the web database's own copy).
        protocol_sha256: SHA-256 of the protocol text.
        simulation: ``simulation.json`` of a simulator folder (None otherwise).
        database: the web database's audit head and lock (None: not from a database).
    """

    data_name: str
    fingerprint: DataFingerprint
    protocol_file: str
    protocol_sha256: str
    simulation: Mapping[str, Any] | None = None
    database: DatabaseState | None = None


def write_trial_report(
    data: TrialData,
    source: ReportSource,
    out_dir: str | Path,
    now: dt.datetime | None = None,
    pdf: bool = True,
    on_step: Callable[[str], None] | None = None,
    started: float | None = None,
    pdf_writer: Callable[[str, Path], None] = write_pdf,
) -> ReportPaths:
    """Analyse ``data`` (from any provider of the trial data contract) and write ``report.html`` (and ``report.pdf``).

    Args:
        data: the trial's data (:func:`~rodnan.core.trialdata.read_trial_dir`, or the web database's adapter).
        source: where the data came from, for the footer (a database's audit head and lock included).
        out_dir: where to write; created if missing.
        now: the generation time stated in the footer (default: the current time); naive times are UTC.
        pdf: also write the PDF.
        on_step: called with the name of each step as it starts (for a progress line).
        started: ``time.perf_counter()`` when the caller started reading the data (the "read" timing).
        pdf_writer: writes the PDF of the HTML (as for :func:`write_report`).

    Returns:
        :class:`ReportPaths` with the files written and the time each step took.

    Raises:
        InputError: no subject of the data was infused (there is nothing to analyse).
    """
    timings: dict[str, float] = {}
    started = time.perf_counter() if started is None else started
    timings["read"] = time.perf_counter() - started

    def step(name: str) -> None:
        if on_step is not None:
            on_step(name)

    mark = time.perf_counter()
    step("analysing")
    analysis = analyse_trial(data)
    timings["analyse"] = time.perf_counter() - mark

    mark = time.perf_counter()
    step("drawing the figures")
    svgs = render_figures(analysis, processes=min(2, os.cpu_count() or 1))
    timings["figures"] = time.perf_counter() - mark

    mark = time.perf_counter()
    step("writing the HTML")
    study = data.study
    provenance = Provenance(
        protocol_code=study.protocol.code,
        protocol_version=study.protocol.version,
        protocol_file=source.protocol_file,
        protocol_sha256=source.protocol_sha256,
        data_name=source.data_name,
        data=source.fingerprint,
        rodnan_version=__version__,
        generated=utc(now),
        simulation=source.simulation,
        software=software_versions(),
        database=source.database,
    )
    text = build_report_html(analysis, provenance, svgs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html_path = out / "report.html"
    html_path.write_text(text, encoding="utf-8")
    timings["html"] = time.perf_counter() - mark

    pdf_path: Path | None = None
    if pdf:
        mark = time.perf_counter()
        step("writing the PDF")
        pdf_path = out / "report.pdf"
        pdf_writer(text, pdf_path)
        timings["pdf"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    return ReportPaths(html_path, pdf_path, timings)


def timings_text(timings: Mapping[str, float]) -> str:
    """ "read 0.4 s, analyse 1.2 s, ..." for the command line."""
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
