"""The root command builds only the command it runs (its module alone imported); help lists them all."""

from __future__ import annotations

import subprocess
import sys

import typer
from typer.testing import CliRunner

from rodnan.cli.app import COMMANDS, build_app


def _names(app: typer.Typer) -> set[str | None]:
    return {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}


def test_build_app_with_one_name_has_that_command_only() -> None:
    assert _names(build_app(["report"])) == {"report"}
    assert _names(build_app(["audit"])) == {"audit"}
    assert _names(build_app()) == set(COMMANDS)


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(build_app(), ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_running_report_imports_neither_the_screening_engine_nor_the_web_commands() -> None:
    modules = ("rodnan.cli.screen", "rodnan.cli.calc", "rodnan.cli.web", "rodnan.cli.report")
    code = (
        "import sys; sys.argv = ['rodnan', 'report', '--out', 'nowhere']\n"  # refused: neither --data nor --from-simulation
        "from rodnan.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('imported:', sorted(m for m in {modules!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "imported: ['rodnan.cli.report']", done.stdout[-500:]
