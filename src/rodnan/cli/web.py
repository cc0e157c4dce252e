"""``rodnan demo``, ``rodnan serve`` and ``rodnan audit verify``: the web application from the command line."""

from __future__ import annotations

from pathlib import Path

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
    from rodnan.web.demo import DEMO_PASSWORD, fill_demo
    from rodnan.web.subjects.models import Subject

    fresh = not Subject.objects.exists()
    with console.status("filling 20 simulated patients through the data-entry actions ...") if fresh else _nothing():
        fill_demo()
    console.print(f"{'Created' if fresh else 'Reusing'} the demo data in {folder} ({runtime.database_label()}).")
    table = Table(title="Demo logins (password for all: " + DEMO_PASSWORD + ")")
    table.add_column("user name")
    table.add_column("role")
    from rodnan.web.accounts.roles import ROLES

    for code, role in ROLES.items():
        table.add_row(code, role.label)
    Console().print(table)
    if serve:
        console.print(f"Serving on http://{host}:{port}/  (Ctrl+C stops)")
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
    """Serve the application with gunicorn for real use (migrates the database first)."""
    from rodnan.web import runtime

    runtime.setup(data, database_url)
    runtime.migrate()
    from rodnan.web.studies.protocol import load_study

    study = load_study()
    Console(stderr=True).print(f"{study} on {runtime.database_label()}; serving on http://{host}:{port}/")
    runtime.serve(host, port, workers=workers, threads=threads, access_log=True)


audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    data: Path = typer.Option(Path("rodnan-data"), "--data", help=DATA_HELP),
    database_url: str = typer.Option(None, "--database-url", envvar="DATABASE_URL",
                                     help="Database to verify instead of the data folder's."),
) -> None:  # fmt: skip
    """Recompute the audit hash chain; report the first broken link (exit 1) or how many entries are intact."""
    from rodnan.web import runtime

    runtime.setup(data, database_url)
    from rodnan.web.audit.chain import verify_chain

    report = verify_chain()
    console = Console()
    if report.ok:
        console.print(f"audit chain intact: {report.entries} entries verified ({runtime.database_label()})")
        return
    Console(stderr=True).print(f"[bold red]audit chain broken[/] at entry #{report.first_broken_seq}: {report.problem} "
                               f"({report.entries} entries before it verified)")  # fmt: skip
    raise typer.Exit(1)
