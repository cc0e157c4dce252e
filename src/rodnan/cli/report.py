"""``rodnan report``: the statistical report of a trial's data as HTML and PDF, from the web application's
database (``--data``) or from a folder written by ``rodnan simulate`` (``--from-simulation``)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from rodnan.errors import InputError

if TYPE_CHECKING:
    from rodnan.reports.report import ReportPaths

DATA_HELP = "The web application's data folder (SQLite database, audit keys), as for rodnan demo and rodnan serve."


def report(
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    from_simulation: Path | None = typer.Option(
        None, "--from-simulation", help="Instead of a database: a folder written by rodnan simulate (subjects.csv ...)."
    ),
    out: Path = typer.Option(..., "--out", help="Folder to write report.html and report.pdf into (created if missing)."),
    no_pdf: bool = typer.Option(False, "--no-pdf", help="Write the HTML only."),
    protocol: Path | None = typer.Option(
        None, "--protocol", "-p", help="With --from-simulation: the protocol file (default: bundled NCT00962923)."
    ),
    database_url: str = typer.Option(None, "--database-url", envvar="DATABASE_URL",
                                     help="With --data: postgresql://user:password@host:port/name (not the folder's SQLite)."),
) -> None:  # fmt: skip
    """Analyse the trial's data (Kaplan-Meier, Cox, mixed models, Wilcoxon, responders, remission, adverse
    events) and write a self-contained HTML report and its PDF. The footer states the protocol version and
    SHA-256, the SHA-256 of the input, the audit head and the database lock (from a database), the rodnan
    version and the time (docs/report.md)."""
    began = time.perf_counter()
    if (data is None) == (from_simulation is None):
        raise InputError("--data", "give either --data (the web database) or --from-simulation (a simulator folder)")
    if protocol is not None and data is not None:
        raise InputError("--protocol", "is for --from-simulation: the database holds its own protocol", str(protocol))
    if data is not None and database_url is None and not (data / "rodnan.sqlite3").is_file():
        raise InputError(
            str(data), "holds no database (rodnan.sqlite3): give the web application's data folder, or --database-url, "
            "or --from-simulation for a folder written by rodnan simulate"
        )  # fmt: skip
    from rodnan.core.workers import fewer_collections
    from rodnan.reports.pdf import PdfProcess, write_pdf

    # The garbage collector's youngest generation every 100,000 allocations instead of 700: the imports, the
    # analysis and WeasyPrint allocate millions of short-lived objects, and scanning them took about 1.5 s
    # (bench/report.py) for 3 % more memory (256 MB against 247 MB). The PDF process is forked first, before
    # the slow imports, the database and the progress line's thread: it loads WeasyPrint meanwhile.
    with fewer_collections(), PdfProcess() if not no_pdf else nullcontext() as pdf_process:
        pdf_writer = write_pdf if pdf_process is None else pdf_process.write
        from rodnan.reports.report import timings_text, write_report  # imported here: matplotlib and lifelines load slowly

        started = time.perf_counter()
        console = Console(stderr=True, soft_wrap=True)
        with console.status("starting", spinner="dots") as status:
            if data is None:
                assert from_simulation is not None
                paths = write_report(
                    from_simulation, out, protocol=protocol, pdf=not no_pdf, on_step=status.update, pdf_writer=pdf_writer
                )
            else:
                status.update("reading the database")
                from rodnan.web import runtime

                folder = runtime.setup(data, database_url)
                paths, head, lock = database_report(
                    out, folder.name if database_url is None else None, pdf=not no_pdf, on_step=status.update,
                    started=started, pdf_writer=pdf_writer,
                )  # fmt: skip
                from django.db import connections

                connections.close_all()  # before the command's quick exit (rodnan.cli.app.QUICK_EXIT)
                console.print(f"audit head: {head}; database lock: {lock}", highlight=False)
    console.print(f"report written: {paths.html}", highlight=False)
    if paths.pdf is not None:
        console.print(f"PDF written: {paths.pdf}", highlight=False)
    ended = time.perf_counter()
    console.print(
        f"timings: start {started - began:.1f} s, {timings_text(paths.timings)}; command {ended - began:.1f} s", highlight=False
    )


def database_report(
    out: Path,
    data_name: str | None = None,
    pdf: bool = True,
    on_step: Callable[[str], None] | None = None,
    started: float | None = None,
    now: dt.datetime | None = None,
    pdf_writer: Callable[[str, Path], None] | None = None,
) -> tuple[ReportPaths, str, str]:
    """The report of the current protocol version's data in the configured database (Django set up), with
    the audit head and the database lock read in the same transaction as the data.

    Args:
        out: the folder to write into.
        data_name: what the report calls the data (default: the database, "SQLite rodnan.sqlite3").
        pdf: also write the PDF.
        on_step: called with the name of each step as it starts.
        started: ``time.perf_counter()`` when the command started (the "read" timing).
        now: the generation time stated in the footer (default: the current time).
        pdf_writer: writes the PDF of the HTML (default: :func:`~rodnan.reports.pdf.write_pdf`, here).

    Returns:
        What was written, and the audit head and the lock as the footer states them.
    """
    from rodnan.reports.pdf import write_pdf
    from rodnan.reports.provenance import DatabaseState, fingerprint_frames
    from rodnan.reports.report import ReportSource, write_trial_report
    from rodnan.web.analysis import read_for_report

    snapshot = read_for_report()
    head = snapshot.audit_head
    state = DatabaseState(snapshot.database, head[0] if head else None, head[1] if head else None, snapshot.locked,
                          snapshot.records)  # fmt: skip
    trial = snapshot.data
    fingerprint = fingerprint_frames({"subjects": trial.subjects, "values": trial.values, "adverse_events": trial.adverse_events})
    source = ReportSource(data_name or snapshot.database, fingerprint, "stored in the database", snapshot.protocol_sha256,
                          database=state)  # fmt: skip
    paths = write_trial_report(
        trial, source, out, now=now, pdf=pdf, on_step=on_step, started=started, pdf_writer=pdf_writer or write_pdf
    )
    return paths, state.head_text, state.lock_text
