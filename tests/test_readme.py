"""README keeps exactly two set-up commands, and CI runs the test one."""

from __future__ import annotations

import re
import tomllib
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
    assert _commands()[1].replace("pip install ", "pip install -q ") in ci


def test_both_commands_install_with_the_pinned_versions() -> None:
    """Issue 16: every runtime and test dependency pinned in constraints.txt, applied by both commands."""
    assert all("pip install -c constraints.txt -e " in command for command in _commands())
    pinned = {
        re.split(r"==", line)[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*pyproject["dependencies"], *pyproject["optional-dependencies"]["test"]]
    names = {re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower().replace("_", "-") for spec in wanted}
    assert names - pinned == set()
