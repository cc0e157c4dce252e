"""Root ``rodnan`` command: global error handling and the sub-command groups."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from rodnan import __version__
from rodnan.cli import calc, protocol, report, screen, simulate, web
from rodnan.errors import RodnanError

app = typer.Typer(
    name="rodnan",
    help="rodnan: run the NCT00962923 trial (MSC transplantation for systemic sclerosis) from screening to analysis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(protocol.app, name="protocol")
app.add_typer(calc.app, name="calc")
app.add_typer(simulate.app, name="simulate")
app.command("screen")(screen.screen)
app.command("report")(report.report)
app.command("demo")(web.demo)
app.command("serve")(web.serve)
app.command("worker")(web.worker)
app.add_typer(web.audit_app, name="audit")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rodnan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """rodnan: run the NCT00962923 trial from screening to analysis."""


def main() -> None:
    """Console entry point: run the app, turning rodnan errors into a message and exit code 2."""
    try:
        # In non-standalone mode click catches typer.Exit itself and returns its code instead of exiting.
        code = app(standalone_mode=False)
    except RodnanError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        # duck-typed: typer 0.2x raises the ClickException of its own vendored click, not click's
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            sys.exit(exit_code)
        raise
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        sys.exit(code)
