"""``rodnan demo``, ``rodnan serve``, ``rodnan worker`` and ``rodnan audit``: the web application from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

DATA_HELP = "Data folder (SQLite database, secret key); default ./rodnan-data."


def demo(
    data: Path = typer.Option(Path("rodnan-data"), "--data", help=DATA_HELP),
    host: str = typer.Option("127.0.0.1", help="Address to serve on."),
    port: int = typer.Option(8000, help="Port to serve on."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve after filling (--no-serve: fill and exit)."),
) -> None:
    """Start the demo: one site, one user per role and 20 simulated patients, served on HOST:PORT.

    A second run reuses the data folder as it is.
    """
    from rodnan.web import runtime

    console = Console(stderr=True)
    folder = runtime.setup(data)
    runtime.migrate()
    runtime.prepare_audit_key()
    from django.contrib.auth import get_user_model

    from rodnan.web.accounts.roles import ROLES
    from rodnan.web.demo import demo_passwords, fill_demo
    from rodnan.web.subjects.models import Subject

    fresh = not Subject.objects.exists()
    new_users = set(ROLES) - set(get_user_model().objects.filter(username__in=list(ROLES)).values_list("username", flat=True))
    passwords = demo_passwords()
    with console.status("filling 20 simulated patients through the data-entry actions ...") if fresh else _nothing():
        fill_demo(passwords=passwords)
    console.print(f"{'Created' if fresh else 'Reusing'} the demo data in {folder} ({runtime.database_label()}).")
    table = Table(title="Demo logins (each its own password, shown this once)" if new_users else "Demo logins")
    table.add_column("user name")
    table.add_column("role")
    table.add_column("password", no_wrap=True)
    for code, role in ROLES.items():
        table.add_row(code, role.label, passwords[code] if code in new_users else "(shown when the demo was created)")
    Console(width=120).print(table)
    if serve:
        console.print(f"Serving on http://{host}:{port}/  (Ctrl+C stops)")
        with runtime.background_worker(folder):
            runtime.serve(host, port)


class _nothing:  # noqa: N801 - a do-nothing context manager in place of the status spinner
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


def serve(
    data: Path = typer.Option(Path("rodnan-data"), "--data", help=DATA_HELP),
    host: str = typer.Option("127.0.0.1", help="Address to serve on."),
    port: int = typer.Option(8000, help="Port to serve on."),
    workers: int = typer.Option(5, help="gunicorn worker processes (5 sync workers met the benchmark's targets on 2 cores)."),
    threads: int = typer.Option(1, help="Threads per worker; 1 (sync workers) balances requests across workers best."),
    database_url: str = typer.Option(None, "--database-url", envvar="DATABASE_URL",
                                     help="postgresql://user:password@host:port/name (default: SQLite in the data folder)."),
) -> None:  # fmt: skip
    """Serve the application with gunicorn for real use (migrates the database first), with the background task worker."""
    from rodnan.web import runtime

    folder = runtime.setup(data, database_url)
    runtime.migrate()
    keys = runtime.prepare_audit_key()
    from rodnan.web.studies.protocol import load_study

    study = load_study()
    Console(stderr=True).print(f"{study} on {runtime.database_label()}; audit keys in {keys}; serving on http://{host}:{port}/")
    with runtime.background_worker(folder):
        runtime.serve(host, port, workers=workers, threads=threads, access_log=True)


def worker(
    data: Path = typer.Option(Path("rodnan-data"), "--data", help=DATA_HELP),
    database_url: str = typer.Option(None, "--database-url", envvar="DATABASE_URL",
                                     help="postgresql://user:password@host:port/name (default: SQLite in the data folder)."),
    batch: bool = typer.Option(False, "--batch", help="Run what is queued (and the periodic tasks due), then exit."),
    parent: int = typer.Option(None, "--parent", hidden=True, help="Stop when this process is gone (serve and demo)."),
) -> None:  # fmt: skip
    """Run the background task worker (rodnan serve and rodnan demo start one themselves); Ctrl+C stops it."""
    from rodnan.web import runtime

    runtime.setup(data, database_url)
    from rodnan.web.tasks import checkpoint_minutes, run_worker

    Console(stderr=True).print(f"task worker on {runtime.database_label()}; audit checkpoint every {checkpoint_minutes():g} min")
    run_worker(parent=parent, batch=batch)


audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)


def _url_option() -> Any:
    return typer.Option(None, "--database-url", envvar="DATABASE_URL", help="Database to use instead of the data folder's.")


@audit_app.command("verify")
def verify(
    data: Path = typer.Option(Path("rodnan-data"), "--data", help=DATA_HELP),
    database_url: str = _url_option(),
    show: int = typer.Option(50, "--show", min=1, help="How many differences to print (all are counted)."),
) -> None:
    """Verify the keyed audit chain (head, latest checkpoint), then replay it and reconcile the stored data with it.

    Exit 1 on the first broken entry, or when any stored value, record state, visit or subject differs
    from what the trail says (each difference printed: subject, record, item, stored vs trail).
    """
    from rodnan.web import runtime

    runtime.setup(data, database_url)
    from rodnan.web.audit.chain import checkpoint_file
    from rodnan.web.audit.replay import verify_and_reconcile

    result = verify_and_reconcile(limit=show)
    report = result.chain
    console = Console(soft_wrap=True)
    errors = Console(stderr=True, soft_wrap=True)
    if not report.ok:
        errors.print(f"[bold red]audit chain broken[/] at entry #{report.first_broken_seq}: {report.problem} "
                     f"({report.entries} entries before it verified)")  # fmt: skip
        raise typer.Exit(1)
    console.print(f"audit chain intact: {report.entries} entries verified ({runtime.database_label()})")
    console.print(f"head: entry #{report.head_seq} {report.head_hash}")
    if report.checkpoint is None:
        console.print(f"no checkpoint yet in {checkpoint_file()}: a cut tail or a wiped trail cannot be told apart "
                      "from a shorter one (rodnan audit checkpoint writes one)")  # fmt: skip
    else:
        cp = report.checkpoint
        console.print(f"latest checkpoint: entry #{cp.seq} at {cp.at} (key {cp.key_id}), matched")
    counts = (f"{result.subjects} subjects, {result.records} records and {result.visits} visits against "
              f"{result.clinical_entries} clinical entries")  # fmt: skip
    if result.difference_count:
        errors.print(f"[bold red]stored data differ from the audit trail[/]: {result.difference_count} difference(s) "
                     f"({counts})")  # fmt: skip
        for difference in result.differences:
            errors.print(f"  {difference}", markup=False)
        if result.difference_count > len(result.differences):
            errors.print(f"  ... and {result.difference_count - len(result.differences)} more (--show N prints more)")
        raise typer.Exit(1)
    console.print(f"stored data intact: {counts} replayed, no difference")
    from rodnan.web.identity.models import IdentityChange
    from rodnan.web.identity.verify import verify_identity_history  # decision 0020

    problems, changes = verify_identity_history(), IdentityChange.objects.count()
    if problems:
        errors.print(f"[bold red]identity history differs from the audit trail[/]: {len(problems)} problem(s)")
        for problem in problems[:show]:
            errors.print(f"  {problem}", markup=False)
        raise typer.Exit(1)
    console.print(f"identity history intact: {changes} change(s) match the commitments in their audit entries")


@audit_app.command("checkpoint")
def checkpoint(
    data: Path = typer.Option(Path("rodnan-data"), "--data", help=DATA_HELP),
    database_url: str = _url_option(),
) -> None:
    """Sign the chain's head and append it to the checkpoint file outside the database; print the line."""
    from rodnan.web import runtime

    runtime.setup(data, database_url)
    from rodnan.web.audit.chain import checkpoint_file, write_checkpoint

    written = write_checkpoint()
    typer.echo(written.line())
    Console(stderr=True).print(f"appended to {checkpoint_file()}")


@audit_app.command("rotate-key")
def rotate_key(data: Path = typer.Option(Path("rodnan-data"), "--data", help=DATA_HELP)) -> None:
    """Add a new audit key: new entries and checkpoints use it; the old keys stay so old entries verify."""
    from rodnan.web import runtime

    runtime.setup(data)
    from rodnan.core.audit import rotate_key as add_key
    from rodnan.web.audit.chain import key_dir, key_ring

    key_ring()  # the first key, if this is the first start
    new = add_key(key_dir())
    Console().print(f"new audit key {new} in {key_dir()}; keep every older key file: the entries they signed need them")


@audit_app.command("grant-app-role")
def grant_app_role(
    role: str = typer.Argument(..., help="The existing PostgreSQL role the application connects as."),
    data: Path = typer.Option(Path("rodnan-data"), "--data", help=DATA_HELP),
    database_url: str = typer.Option(None, "--database-url", envvar="DATABASE_URL",
                                     help="The owner's URL (the role that ran the migrations)."),
) -> None:  # fmt: skip
    """PostgreSQL: give ROLE the application's rights, without UPDATE or DELETE on audit entries (run after migrating)."""
    from rodnan.web import runtime

    runtime.setup(data, database_url)
    runtime.migrate()
    from rodnan.web.audit.database import grant_app_role as grant

    for statement in grant(role):
        typer.echo(statement + ";")
