"""``rodnan report``: the statistical report of a trial's data as HTML and PDF."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console


def report(
    data: Path = typer.Option(
        ..., "--data", help="Folder of trial data as written by rodnan simulate (subjects.csv, values.csv ...)."
    ),
    out: Path = typer.Option(..., "--out", help="Folder to write report.html and report.pdf into (created if missing)."),
    no_pdf: bool = typer.Option(False, "--no-pdf", help="Write the HTML only."),
    protocol: Path | None = typer.Option(None, "--protocol", "-p", help="Protocol file (default: bundled NCT00962923)."),
) -> None:
    """Analyse the trial's data (Kaplan-Meier, Cox, mixed models, Wilcoxon, responders, remission, adverse
    events) and write a self-contained HTML report and its PDF. The footer states the protocol version and
    SHA-256, the SHA-256 of the input files, the rodnan version and the time (docs/report.md)."""
    from rodnan.reports.report import timings_text, write_report  # imported here: matplotlib and lifelines load slowly

    console = Console(stderr=True, soft_wrap=True)
    with console.status("starting", spinner="dots") as status:
        paths = write_report(data, out, protocol=protocol, pdf=not no_pdf, on_step=lambda step: status.update(step))
    console.print(f"report written: {paths.html}", highlight=False)
    if paths.pdf is not None:
        console.print(f"PDF written: {paths.pdf}", highlight=False)
    console.print(f"timings: {timings_text(paths.timings)}", highlight=False)
