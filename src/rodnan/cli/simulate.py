"""``rodnan simulate``: write a simulated cohort, or a screening pool, as CSV files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rodnan import __version__
from rodnan.core.protocol import load_protocol
from rodnan.core.simulate.cohort import SimulatedCohort, simulate_cohort

app = typer.Typer(help="Simulate trial data (synthetic; no real patient data).", rich_markup_mode=None)

SUBJECTS_PER_WRITE = 500


def _progress(console: Console) -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)


def write_cohort(cohort: SimulatedCohort, out: Path, progress: Progress | None = None) -> dict[str, Path]:
    """Write values.csv (long: subject_id, visit, item, value, unit, date), subjects.csv,
    adverse_events.csv and simulation.json (seed, parameters, protocol, software version) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.csv" for name in ("values", "subjects", "adverse_events")}
    n = len(cohort.subjects)
    task = progress.add_task("writing", total=n) if progress else None
    with paths["values"].open("w", encoding="utf-8", newline="") as stream:
        for first in range(0, n, SUBJECTS_PER_WRITE):
            stream.write(cohort.values_csv(first, first + SUBJECTS_PER_WRITE, header=first == 0))
            if progress and task is not None:
                progress.advance(task, min(SUBJECTS_PER_WRITE, n - first))
    cohort.subjects.to_csv(paths["subjects"], index=False, lineterminator="\n")
    cohort.adverse_events.to_csv(paths["adverse_events"], index=False, lineterminator="\n")
    meta = {
        "seed": cohort.seed,
        "n": n,
        "protocol": f"{cohort.study.protocol.code} v{cohort.study.protocol.version}",
        "rodnan": __version__,
        "parameters": {
            k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dataclasses.asdict(cohort.params).items()
        },
    }
    (out / "simulation.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return paths


@app.callback(invoke_without_command=True)
def cohort(
    ctx: typer.Context,
    n: int = typer.Option(20, "--n", help="Number of subjects."),
    seed: int = typer.Option(1, "--seed", help="Seed: the same seed gives the same files."),
    out: Path = typer.Option(Path("simulated"), "--out", help="Folder for the CSV files."),
    protocol: Path | None = typer.Option(None, "--protocol", "-p", help="Protocol file (default: bundled NCT00962923)."),
) -> None:
    """Simulate a cohort followed up as the protocol schedules and write it as CSV files:
    values.csv (one row per item value: subject_id, visit, item, value, unit, date), subjects.csv,
    adverse_events.csv, simulation.json. Sub-command: candidates (a screening pool)."""
    if ctx.invoked_subcommand is not None:
        return
    study = load_protocol(protocol)
    console = Console(stderr=True, soft_wrap=True)
    with _progress(console) as progress:
        task = progress.add_task("simulating visits", total=len(study.schedule.all_visits))
        result = simulate_cohort(study, n, seed, progress=lambda done, _total: progress.update(task, completed=done))
        paths = write_cohort(result, out, progress)
    counts = result.subjects["status"].value_counts().to_dict()
    console.print(
        f"simulated {n} subjects (seed {seed}): {len(result.values):,} item values, {len(result.adverse_events)} adverse events; "
        f"status {counts}; written to {paths['values'].parent}",
        highlight=False,
    )


@app.command("candidates")
def candidates(
    n: int = typer.Option(1000, "--n", help="Number of candidates."),
    seed: int = typer.Option(1, "--seed", help="Seed: the same seed gives the same file."),
    out: Path = typer.Option(..., "--out", help="CSV file to write (the wide screening format)."),
    protocol: Path | None = typer.Option(None, "--protocol", "-p", help="Protocol file (default: bundled NCT00962923)."),
) -> None:
    """Simulate a screening pool (eligible, ineligible by each exclusion and failed pathway, incomplete)
    and write it in the wide screening CSV format that rodnan screen reads."""
    from rodnan.core.simulate.candidates import candidates_csv_text, simulate_candidates

    study = load_protocol(protocol)
    pool = simulate_candidates(study, n, seed)
    out.write_text(candidates_csv_text(pool), encoding="utf-8")
    mix: dict[str, int] = {}
    for verdict in pool.intended_verdict:
        mix[str(verdict)] = mix.get(str(verdict), 0) + 1
    Console(stderr=True, soft_wrap=True).print(
        f"simulated {n} candidates (seed {seed}), intended verdicts {mix}; written to {out}"
    )
