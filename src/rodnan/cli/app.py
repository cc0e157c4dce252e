"""Root ``rodnan`` command: global error handling and the sub-command groups.

Each command's module is imported only when that command runs (:func:`build_app` with its name), so
``rodnan report`` or ``rodnan audit verify`` does not first load the screening engine and the instruments;
``rodnan --help``, ``rodnan --version`` and ``app`` (for tests, built when first imported) have every command.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Iterable
from typing import Literal

import typer
from rich.console import Console
from rich.markup import escape

from rodnan import __version__
from rodnan.errors import RodnanError

COMMANDS: dict[str, tuple[str, str, Literal["group", "command"]]] = {
    "protocol": ("rodnan.cli.protocol", "app", "group"),
    "calc": ("rodnan.cli.calc", "app", "group"),
    "simulate": ("rodnan.cli.simulate", "app", "group"),
    "screen": ("rodnan.cli.screen", "screen", "command"),
    "report": ("rodnan.cli.report", "report", "command"),
    "demo": ("rodnan.cli.web", "demo", "command"),
    "serve": ("rodnan.cli.web", "serve", "command"),
    "worker": ("rodnan.cli.web", "worker", "command"),
    "audit": ("rodnan.cli.web", "audit_app", "group"),
}
"""Every command: its name, the module and attribute that define it, and whether it is a group of commands."""

QUICK_EXIT = frozenset({"report", "screen", "simulate", "calc", "protocol"})
"""Commands that end with every file written and closed and no database connection open: after success,
:func:`main` ends the process without the interpreter's teardown of the scientific libraries (numpy,
scipy, statsmodels, matplotlib), which takes 1 to 2 s on a 2-core machine after ``rodnan report``."""


def build_app(names: Iterable[str] = COMMANDS) -> typer.Typer:
    """The ``rodnan`` application with the commands ``names`` (all by default), in :data:`COMMANDS` order."""
    wanted = set(names)
    built = typer.Typer(
        name="rodnan",
        help="rodnan: run the NCT00962923 trial (MSC transplantation for systemic sclerosis) from screening to analysis.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    built.callback()(_root)
    for name, (module, attribute, kind) in COMMANDS.items():
        if name not in wanted:
            continue
        target = getattr(importlib.import_module(module), attribute)
        if kind == "group":
            built.add_typer(target, name=name)
        else:
            built.command(name)(target)
    return built


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rodnan {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """rodnan: run the NCT00962923 trial from screening to analysis."""


def __getattr__(name: str) -> typer.Typer:
    """``app``: the application with every command, built when first asked for (the tests use it;
    :func:`main` builds only the command it runs)."""
    if name == "app":
        built = build_app()
        globals()["app"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console entry point: run the app, turning rodnan errors into a message and exit code 2."""
    try:
        # In non-standalone mode click catches typer.Exit itself and returns its code instead of exiting.
        name = sys.argv[1] if len(sys.argv) > 1 else ""
        code = build_app([name] if name in COMMANDS else [] if name == "--version" else COMMANDS)(standalone_mode=False)
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
    if name in QUICK_EXIT:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
