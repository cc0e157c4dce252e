"""``rodnan screen``: screen candidates from a CSV file (wide or long layout)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import IO

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rodnan.core.eligibility import ScreeningResult, ScreeningVerdict
from rodnan.core.protocol import Study, load_protocol
from rodnan.core.screening import (
    ISSUE_KINDS,
    VERDICT_NAMES,
    InputIssue,
    ScreenedBatch,
    csv_header,
    csv_rows,
    results_of,
    screen_csv,
    screen_csv_rendered,
)
from rodnan.core.verdict import Verdict

MAX_ISSUES_SHOWN = 50
_STYLE = {"eligible": "green", "ineligible": "red", "incomplete": "yellow"}


class OutputFormat(StrEnum):
    """Output formats of ``rodnan screen``."""

    table = "table"
    json = "json"
    csv = "csv"


def example_candidates_path() -> Path:
    """The bundled example candidates (wide CSV)."""
    return Path(str(resources.files("rodnan.examples").joinpath("candidates.csv")))


def screen(
    file: Path | None = typer.Argument(
        None, help="Candidates CSV: wide (subject_id, 'item [unit]' columns) or long (subject_id,item,value,unit)."
    ),
    output_format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table, json or csv."),
    example: bool = typer.Option(False, "--example", help="Screen the bundled example candidates."),
    protocol: Path | None = typer.Option(None, "--protocol", "-p", help="Protocol file (default: bundled NCT00962923)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the output here instead of standard output."),
    strict: bool = typer.Option(
        False, "--strict", help="Any input warning (a bad cell, an unusable column) is an error: exit 1 after the output."
    ),
) -> None:
    """Screen candidates against every eligibility criterion: eligible, ineligible or incomplete, with reasons.

    Values are converted from the unit in the column header (or the unit column) to the item's
    unit; an empty cell is missing. Problems with single cells or columns are reported as warnings
    (then counted by kind) and the rest is screened. Exit codes: 0 screened; 1 screened, but --strict
    and at least one warning; 2 the file or an option is unusable (one error line, nothing screened).
    """
    if example == (file is not None):
        raise typer.BadParameter("give a FILE or --example (not both)")
    source = example_candidates_path() if example else file
    assert source is not None
    study = load_protocol(protocol)
    err = Console(stderr=True, soft_wrap=True)
    issues: list[InputIssue] = []
    with _output(out) as stream, _progress(err, source) as advance:
        if output_format is OutputFormat.csv:
            counts = _write_csv(study, source, stream, issues, advance)
        elif output_format is OutputFormat.json:
            counts = _write_json(study, source, stream, issues, advance)
        else:
            counts = _write_table(study, screen_csv(study, source, progress=advance), stream, issues)  # type: ignore[arg-type]
    _report(err, issues, counts)
    if strict and issues:
        err.print(f"[bold red]error:[/] --strict: {len(issues)} input warning(s)", highlight=False)
        raise typer.Exit(1)


@contextmanager
def _output(out: Path | None) -> Iterator[IO[str]]:
    if out is None:
        yield sys.stdout
        return
    with out.open("w", encoding="utf-8", newline="") as stream:
        yield stream


@contextmanager
def _progress(console: Console, source: Path) -> Iterator[object]:
    if not console.is_terminal:
        yield None
        return
    with source.open("rb") as handle:
        total = max(sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1, 0)
    columns = (TextColumn("Screening"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("Screening", total=total)
        yield lambda rows: progress.advance(task, rows)


def _write_bytes(stream: IO[str], data: bytes) -> None:
    """Write UTF-8 bytes to a text stream, straight to its buffer when it has one."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        stream.write(data.decode())
        return
    stream.flush()
    buffer.write(data)


def _count_verdicts(counts: dict[str, int], verdicts: np.ndarray) -> None:
    for code, n in zip(*np.unique(verdicts, return_counts=True), strict=True):
        verdict = str(VERDICT_NAMES[code])
        counts[verdict] = counts.get(verdict, 0) + int(n)


def _write_csv(study: Study, source: Path, stream: IO[str], issues: list[InputIssue], progress: object) -> dict[str, int]:
    counts: dict[str, int] = {}
    stream.write(csv_header(study))
    for chunk in screen_csv_rendered(study, source, csv_rows, progress=progress):  # type: ignore[arg-type]
        issues += chunk.issues
        if chunk.text:
            _write_bytes(stream, chunk.text)
            _write_bytes(stream, b"\n")
        _count_verdicts(counts, chunk.verdicts)
    return counts


def result_json(subject_id: str, result: ScreeningResult, issues: list[InputIssue]) -> dict[str, object]:
    """One candidate's screening as a JSON-ready object: codes for machines (``code``, ``item``, ``missing_items``) with
    the protocol's labels beside them (``label``, ``missing_item_labels``); ``reason`` and ``display`` are for people."""
    return {
        "subject_id": subject_id,
        "verdict": result.verdict.value,
        "qualifying_pathways": list(result.qualifying_pathways),
        "missing_items": list(result.missing_items),
        "missing_item_labels": list(result.missing_labels),
        "criteria": [
            {
                "code": c.code,
                "kind": c.kind,
                "label": c.label,
                "verdict": c.verdict.value,
                "reason": c.reason,
                "values": [
                    {
                        "item": v.item,
                        "label": label,
                        "entered": v.entered or None,
                        "value": _rounded(v.value),
                        "display": v.display,
                    }
                    for v, label in zip(c.values, c.item_labels or [v.item for v in c.values], strict=True)
                ],
            }
            for c in result.criteria
        ],
        "input_issues": [str(i) for i in issues],
    }


def _rounded(value: float | None) -> float | None:
    """12 significant digits: drops binary noise of unit conversion (72.00000000000001 -> 72.0)."""
    return None if value is None else float(f"{value:.12g}")


def render_json(study: Study, screened: ScreenedBatch) -> list[str]:
    """One JSON object per candidate (runs in the worker processes)."""
    by_subject: dict[str, list[InputIssue]] = {}
    for issue in screened.batch.issues:
        if issue.subject_id is not None:
            by_subject.setdefault(issue.subject_id, []).append(issue)
    return [
        json.dumps(result_json(subject_id, result, by_subject.get(subject_id, [])), ensure_ascii=False)
        for subject_id, result in results_of(study, screened)
    ]


def _write_json(study: Study, source: Path, stream: IO[str], issues: list[InputIssue], progress: object) -> dict[str, int]:
    counts: dict[str, int] = {}
    separator = "[\n"
    for chunk in screen_csv_rendered(study, source, render_json, separator=",\n", progress=progress):  # type: ignore[arg-type]
        issues += chunk.issues
        if chunk.text:
            _write_bytes(stream, separator.encode() + chunk.text)
            separator = ",\n"
        _count_verdicts(counts, chunk.verdicts)
    stream.write("[\n]\n" if separator == "[\n" else "\n]\n")
    return counts


def _write_table(study: Study, batches: Iterator[tuple], stream: IO[str], issues: list[InputIssue]) -> dict[str, int]:  # type: ignore[type-arg]
    counts: dict[str, int] = {}
    table = Table(
        title=f"Screening against {study.identity.registry_number} (protocol v{study.protocol.version})", show_lines=True
    )
    for column in ("Subject", "Verdict", "Qualifying pathways", "Why"):
        table.add_column(column, overflow="fold")
    for screened, batch_issues in batches:
        issues += batch_issues
        for subject_id, result in results_of(study, screened):
            counts[result.verdict.value] = counts.get(result.verdict.value, 0) + 1
            style = _STYLE[result.verdict.value]
            pathways = ", ".join(result.qualifying_pathways) or "none"
            table.add_row(escape(subject_id), f"[{style}]{result.verdict.value}[/]", pathways, escape(_why(result)))
    Console(file=stream, width=None if stream.isatty() else 160).print(table)
    return counts


def _why(result: ScreeningResult) -> str:
    """The reasons that decide the verdict: failed criteria, or what is missing, or what qualified."""
    if result.verdict is ScreeningVerdict.INELIGIBLE:
        deciding = [
            c
            for c in result.criteria
            if (c.kind == "inclusion" and c.verdict is Verdict.NOT_MET) or (c.kind == "exclusion" and c.verdict is Verdict.MET)
        ]
    elif result.verdict is ScreeningVerdict.INCOMPLETE:
        deciding = [c for c in result.criteria if c.kind != "pathway" and c.verdict is Verdict.UNKNOWN]
    else:
        deciding = [c for c in result.criteria if c.kind == "pathway" and c.verdict is Verdict.MET]
    lines = [f"{c.label}: {c.reason}" for c in deciding]
    if result.missing_items:
        lines.append("missing: " + ", ".join(result.missing_labels or result.missing_items))
    return "\n".join(lines)


def _report(console: Console, issues: list[InputIssue], counts: dict[str, int]) -> None:
    for issue in issues[:MAX_ISSUES_SHOWN]:
        console.print(f"[yellow]warning[/]: {escape(str(issue))}", highlight=False)
    if len(issues) > MAX_ISSUES_SHOWN:
        console.print(f"[yellow]warning[/]: ... and {len(issues) - MAX_ISSUES_SHOWN} more input problems", highlight=False)
    total = sum(counts.values())
    summary = ", ".join(f"{counts.get(v.value, 0)} {v.value}" for v in ScreeningVerdict)
    console.print(f"screened {total} candidate(s): {summary}; {len(issues)} input problem(s)", highlight=False)
    if issues:
        console.print(f"input problems by kind: {warnings_by_kind(issues)}", highlight=False)


def warnings_by_kind(issues: list[InputIssue]) -> str:
    """``3 unusable unit, 1 outside the plausible range``: the count of each kind of input problem, in the
    order of :data:`~rodnan.core.screening.ISSUE_KINDS`."""
    counts = Counter(issue.kind for issue in issues)
    order = {kind: n for n, kind in enumerate(ISSUE_KINDS)}
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda pair: order.get(pair[0], len(order))))
