"""README keeps exactly two set-up commands, and CI runs the test one."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```\n(.*?)```", section, flags=re.S)]


def test_readme_has_exactly_two_set_up_commands() -> None:
    """One runs the main job, one runs the tests."""
    commands = _commands()
    assert len(commands) == 2
    assert commands[0].endswith("rodnan demo")
    assert commands[1].endswith("python -m pytest")


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run calls the README's test command (with pip's quiet flag only)."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _commands()[1].replace("pip install -e", "pip install -q -e") in ci
