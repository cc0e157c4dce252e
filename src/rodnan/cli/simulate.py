"""``rodnan simulate``: write a simulated cohort, or a screening pool, as CSV files; run an in-silico trial."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rodnan import __version__
from rodnan.core.protocol import load_protocol
from rodnan.core.simulate.cohort import SimulatedCohort, simulate_cohort
from rodnan.core.simulate.params import SimulationParams
from rodnan.errors import InputError

if TYPE_CHECKING:
    from rodnan.core.analysis.insilico import InSilicoResult

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


# --- rodnan simulate trial --------------------------------------------------------------------------


class TrialFormat(StrEnum):
    """Output formats of ``rodnan simulate trial``."""

    table = "table"
    json = "json"


# The assumptions the in-silico trial's two analyses depend on, each with its source (params.py).
TRIAL_ASSUMPTIONS: tuple[tuple[str, str, str], ...] = (
    ("mrss_baseline_mean", "mRSS at baseline, mean", "Zhang 2017 (this trial)"),
    ("mrss_baseline_sd", "mRSS at baseline, SD", "Zhang 2017"),
    ("effect_mrss_12m", "mRSS change at 12 months, mean", "Zhang 2017: 13.8 - 20.1"),
    ("mrss_sd_12m", "mRSS at 12 months, SD", "Zhang 2017"),
    ("mrss_measurement_sd", "mRSS measurement noise, SD", "project estimate"),
    ("response_time_constant", "months to 63 % of the response", "project choice"),
    ("effect_fvc_pct_12m", "FVC % predicted change at 12 months", "project estimate"),
    ("survival_5y", "5-year survival", "Alip 2024: 92.7 %"),
    ("withdrawal_per_year", "withdrawals per patient-year", "project estimate"),
    ("lost_per_year", "lost to follow-up per patient-year", "project estimate"),
    ("missed_visit_probability", "chance a visit is missed", "project estimate"),
    ("late_visit_probability", "chance a visit is late", "project estimate"),
    ("missing_item_probability", "chance an item is left empty", "project estimate"),
)


def _parse_param(text: str, params: SimulationParams) -> tuple[str, object]:
    """``NAME=VALUE`` for a field of SimulationParams, converted to the type of its default."""
    name, sep, raw = text.partition("=")
    name, raw = name.strip(), raw.strip()
    known = {f.name for f in dataclasses.fields(params)}
    if not sep or name not in known:
        raise InputError("--param", f"must be NAME=VALUE with NAME a simulation parameter ({', '.join(sorted(known))})", text)
    current = getattr(params, name)
    try:
        if isinstance(current, dt.date):
            return name, dt.date.fromisoformat(raw)
        if isinstance(current, tuple):
            return name, tuple(float(part) for part in raw.split(","))
        return name, float(raw)
    except ValueError:
        raise InputError(
            "--param", f"{name} must be {type(current).__name__} (comma-separated numbers for a tuple)", raw
        ) from None


def _number(value: float | None, digits: int = 2, percent: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{100 * value:.{max(digits - 2, 0)}f} %" if percent else f"{value:.{digits}f}"


def _trial_tables(result: InSilicoResult, changed: set[str]) -> list[Table]:
    """The assumptions table and the results table of an in-silico trial."""
    level = f"{100 * (1 - result.alpha):g} %"
    assumptions = Table(title=f"Assumptions ({result.protocol}; {result.n} patients per trial, {result.reps} trials)")
    for column in ("parameter", "value", "meaning", "source"):
        assumptions.add_column(column)
    for name, meaning, source in TRIAL_ASSUMPTIONS:
        value = getattr(result.params, name)
        assumptions.add_row(name, f"{value:g}", meaning, "set on the command line" if name in changed else source)
    for name in sorted(changed - {n for n, _, _ in TRIAL_ASSUMPTIONS}):
        assumptions.add_row(name, str(getattr(result.params, name)), "", "set on the command line")

    m, d = result.mrss, result.dfs
    results = Table(title=f"Results over {result.reps} simulated trials (seed {result.seed}, alpha {result.alpha:g})")
    for column in ("endpoint", "measure", "value"):
        results.add_column(column)
    rows = [
        ("mRSS change, baseline to M12", "true mean change", f"{m.true_change:.2f} (from {m.true_change_source})"),
        ("", "power, paired Wilcoxon signed-rank p < alpha", _number(m.power_wilcoxon, 3, percent=True)),
        ("", f"power, paired t ({level} CI excludes 0)", _number(m.power_t, 3, percent=True)),
        ("", "estimated mean change: mean (SD over trials)", f"{_number(m.mean_estimate)} ({_number(m.sd_estimate)})"),
        ("", "bias", _number(m.bias)),
        ("", f"coverage of the true change by the {level} CI", _number(m.coverage, 3, percent=True)),
        ("", f"{level} CI width, mean (precision)", _number(m.mean_ci_width)),
        ("", "patients with baseline and M12 mRSS, mean", _number(m.mean_pairs, 1)),
        (f"DFS at month {d.dfs_month:g}", "Kaplan-Meier estimate: mean (SD over trials)",
         f"{_number(d.mean_survival, 3)} ({_number(d.sd_survival, 3)})"),
        ("", f"{level} CI width, mean (precision)", _number(d.mean_ci_width, 3)),
        ("", "events per trial: mean (SD)", f"{_number(d.events_mean, 1)} ({_number(d.events_sd, 1)})"),
        ("", "events per trial: min, quartiles, max", ", ".join(f"{q:g}" for q in d.events_quantiles)),
        ("", "events per trial by rule: mean", ", ".join(f"{rule} {mean:.2f}" for rule, mean in d.events_by_rule.items())),
        ("", "trials where the median DFS is reached", _number(d.median_reached, 3, percent=True)),
    ]  # fmt: skip
    if d.reference_survival is not None:
        rows.append(("", "reference DFS (large cohort)", _number(d.reference_survival, 3)))
        rows.append(("", f"coverage of the reference by the {level} CI", _number(d.coverage, 3, percent=True)))
    if d.null_survival is not None:
        rows.append(("", f"power: lower CI limit above {d.null_survival:g}", _number(d.power_vs_null, 3, percent=True)))
    failed = ", ".join(f"{name} {count}" for name, count in sorted(result.failures.items())) or "none"
    rows.append(("Failed analyses", "trials where an analysis failed", failed))
    for row in rows:
        results.add_row(*row)
    return [assumptions, results]


@app.command("trial")
def trial(
    n: int = typer.Option(20, "--n", help="Patients per simulated trial."),
    reps: int = typer.Option(200, "--reps", help="Number of simulated trials."),
    seed: int = typer.Option(1, "--seed", help="Master seed: the same seed gives the same result."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level; the intervals are (1 - alpha) intervals."),
    effect: float | None = typer.Option(None, "--effect", help="Mean mRSS change at 12 months (default -6.3, Zhang 2017)."),
    mrss_sd: float | None = typer.Option(None, "--mrss-sd", help="SD of mRSS at 12 months (default 10.2, Zhang 2017)."),
    effect_fvc: float | None = typer.Option(None, "--effect-fvc", help="FVC % predicted change at 12 months (default 2)."),
    survival_5y: float | None = typer.Option(None, "--survival-5y", help="5-year survival (default 0.927, Alip 2024)."),
    withdrawal: float | None = typer.Option(None, "--withdrawal", help="Withdrawals per patient-year (default 0.05)."),
    lost: float | None = typer.Option(None, "--lost", help="Losses to follow-up per patient-year (default 0.03)."),
    param: list[str] = typer.Option([], "--param", help="Any simulation parameter, NAME=VALUE (repeatable)."),
    dfs_month: float = typer.Option(12.0, "--dfs-month", help="Month at which DFS is read."),
    dfs_null: float | None = typer.Option(
        None, "--dfs-null", help="A DFS to beat: power = share of trials whose lower limit is above it."
    ),
    reference_n: int = typer.Option(
        0, "--reference-n", help="Estimate the true values from one cohort of this size (0: the true mRSS change is --effect)."
    ),
    output_format: TrialFormat = typer.Option(TrialFormat.table, "--format", "-f", help="table or json."),
    replicates_out: Path | None = typer.Option(None, "--replicates", help="Also write one CSV row per simulated trial here."),
    protocol: Path | None = typer.Option(None, "--protocol", "-p", help="Protocol file (default: bundled NCT00962923)."),
) -> None:
    """In-silico trial: simulate REPS trials of N patients, analyse each as planned, report power and precision.

    mRSS change from baseline to M12: paired Wilcoxon signed-rank test (power) and mean change with its
    t interval (bias, coverage, width). DFS: Kaplan-Meier estimate at month 12 with its log-log interval,
    events per trial, how often the median is reached. See docs/insilico.md.
    """
    from rodnan.core.analysis.insilico import estimate_reference, run_insilico_trial

    study = load_protocol(protocol)
    params = SimulationParams()
    overrides: dict[str, object] = dict(_parse_param(text, params) for text in param)
    named = {"effect_mrss_12m": effect, "mrss_sd_12m": mrss_sd, "effect_fvc_pct_12m": effect_fvc,
             "survival_5y": survival_5y, "withdrawal_per_year": withdrawal, "lost_per_year": lost}  # fmt: skip
    overrides.update({name: float(value) for name, value in named.items() if value is not None})
    params = dataclasses.replace(params, **overrides)  # type: ignore[arg-type]
    console = Console(stderr=True, soft_wrap=True)
    start = time.perf_counter()
    reference = None
    with _progress(console) as progress:
        if reference_n > 0:
            task = progress.add_task(f"reference cohort ({reference_n:,})", total=None)
            reference = estimate_reference(
                study,
                reference_n,
                seed,
                params,
                dfs_month,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
            progress.remove_task(task)
        task = progress.add_task("simulated trials", total=reps)
        result = run_insilico_trial(
            study, n, reps, seed, params, alpha, lambda done, _total: progress.update(task, completed=done),
            dfs_month=dfs_month, dfs_null=dfs_null, reference=reference,
        )  # fmt: skip
    seconds = time.perf_counter() - start
    if replicates_out is not None:
        result.replicates.to_csv(replicates_out, index=False, lineterminator="\n")
    if output_format is TrialFormat.json:
        typer.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        out = Console(width=None if sys.stdout.isatty() else 140)
        for table in _trial_tables(result, set(overrides)):
            out.print(table)
    sys.stdout.flush()
    console.print(f"{reps} trials of {n} patients in {seconds:.1f} s", highlight=False)
