"""``rodnan protocol``: check a protocol file, show its schedule and criteria, list its items."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rodnan.core import units
from rodnan.core.protocol import Study, load_protocol
from rodnan.errors import ProtocolError

app = typer.Typer(help="Check and inspect protocol files.", no_args_is_help=True)


def wide_console() -> Console:
    """Standard output; 200 columns wide when it is not a terminal (files, pipes, tests)."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


PROTOCOL_OPTION = typer.Option(None, "--protocol", "-p", help="Protocol file (default: the bundled NCT00962923 protocol).")


@app.command("check")
def check(file: Path = typer.Argument(..., help="Protocol YAML file to validate.")) -> None:
    """Validate a protocol file; exit 0 when valid, else list every problem with its line."""
    console = wide_console()
    try:
        study = load_protocol(file)
    except ProtocolError as exc:
        err = Console(stderr=True, soft_wrap=True)
        err.print(f"[bold red]{exc.source}[/]: {len(exc.problems)} problem(s)", highlight=False)
        for problem in exc.problems:
            line = f"line {problem.line}" if problem.line is not None else "line ?"
            err.print(f"  {line}: [bold]{escape(problem.dotted_path)}[/]: {escape(problem.rule)}", highlight=False)
        raise typer.Exit(1) from None
    criteria = len(study.criteria)
    console.print(
        f"[green]valid[/]: {study.identity.registry_number} protocol version {study.protocol.version}: "
        f"{len(study.items)} items, {len(study.forms)} forms ({len(study.log_forms)} log), "
        f"{len(study.schedule.all_visits)} visits, {criteria} criteria",
        highlight=False,
    )


@app.command("show")
def show(protocol: Path | None = PROTOCOL_OPTION) -> None:
    """Print the schedule of assessments (visits x forms) and the eligibility criteria."""
    study = load_protocol(protocol)
    console = wide_console()
    identity = study.identity
    console.print(f"[bold]{identity.registry_number}[/] {identity.title}")
    console.print(f"{identity.sponsor}; target enrolment {identity.target_enrolment}; status {identity.registry_status}")
    intervention = study.intervention
    per_kg = units.convert(intervention.dose.value, intervention.dose.unit, "{cells}/kg")
    regimen = "; ".join(f"day {s.day} {s.procedure}" + (f" ({s.agent})" if s.agent else "") for s in intervention.regimen)
    console.print(f"Intervention: {intervention.name}, {per_kg:,.0f} cells/kg, {intervention.route}, x{intervention.infusions}")
    console.print(f"Regimen: {regimen}; schedule day 0 = regimen day {intervention.infusion_regimen_day}")
    console.print(schedule_table(study))
    for form in study.log_forms:
        dates = f"start {form.log.start}" + (f", end {form.log.end}" if form.log.end else "") if form.log else ""
        console.print(f"Log form (repeating per subject, not at visits): {form.code} = {form.label} ({dates})", highlight=False)
    roles = study.intervention_items
    console.print(
        f"Intervention form: {study.intervention_form.code} (date {roles.date}, cells {roles.cells}, weight {roles.weight}, "
        f"lot {roles.lot}, donor {roles.donor or '-'})",
        highlight=False,
    )
    console.print(criteria_table(study))


def schedule_table(study: Study) -> Table:
    """The classic schedule-of-assessments grid: forms as rows, visits as columns."""
    visits = study.schedule.all_visits
    table = Table(
        title=f"Schedule of assessments (day 0 = {study.schedule.anchor}; follow-up {study.schedule.follow_up_months} months)"
    )
    table.add_column("Form")
    for visit in visits:
        window = (
            f"±{visit.window_before}"
            if visit.window_before == visit.window_after
            else f"-{visit.window_before}/+{visit.window_after}"
        )
        table.add_column(f"{visit.code}\n{visit.day}\n{window}", justify="center")
    for form in study.forms:
        marks = ["X" if form.code in visit.forms else "" for visit in visits]
        if any(marks):
            table.add_row(form.code, *marks)
    table.caption = "columns: visit code, target day, window in days; " + "; ".join(f"{f.code} = {f.label}" for f in study.forms)
    return table


def criteria_table(study: Study) -> Table:
    """Pathways, inclusion and exclusion criteria with their expressions."""
    table = Table(title="Eligibility (inclusion: all met; exclusion: none met)")
    for column in ("Kind", "Code", "Label", "Expression"):
        table.add_column(column, overflow="fold")
    for criterion in study.criteria:
        cells = (criterion.kind, criterion.code, criterion.definition.label, criterion.definition.expression)
        table.add_row(*(escape(cell) for cell in cells))
    return table


@app.command("items")
def items(protocol: Path | None = PROTOCOL_OPTION) -> None:
    """List item codes with type, unit, accepted units, plausible range and standard codes."""
    study = load_protocol(protocol)
    table = Table(title=f"Items of {study.identity.registry_number}")
    for column in ("Code", "Type", "Unit", "Accepted units", "Range", "Codes", "Label"):
        table.add_column(column, overflow="fold")
    for item in study.items:
        bounds = ""
        if item.range is not None:
            low, high = item.range.min, item.range.max
            bounds = f"{'' if low is None else f'{low:g}'}–{'' if high is None else f'{high:g}'}"
        codes = ", ".join(f"{c.system} {c.code}" for c in item.codes)
        choices = "/".join(c.code for c in item.choices)
        cells = (item.code, item.type, item.unit or choices, ", ".join(item.accepted_units), bounds, codes, item.label)
        table.add_row(*(escape(cell) for cell in cells))
    wide_console().print(table)
