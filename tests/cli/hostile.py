"""Running the real ``rodnan`` entry point (:func:`rodnan.cli.app.main`) in this process, as a user would run
it: its exit code and what it wrote to standard output and standard error."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from unittest import mock

from rodnan.cli.app import main


@dataclass
class Run:
    """One run of the command line."""

    code: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _quick_exit_raises() -> Iterator[None]:
    """``main`` ends some commands with ``os._exit(0)`` (no teardown): here that becomes ``SystemExit(0)``."""

    def leave(code: int) -> None:
        raise SystemExit(code)

    with mock.patch.object(os, "_exit", leave):
        yield


def run_cli(*args: str, stdin: str = "") -> Run:
    """Run ``rodnan ARGS`` through :func:`~rodnan.cli.app.main`; an exception other than ``SystemExit``
    (a traceback for the user) propagates to the test."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with (
        mock.patch.object(sys, "argv", ["rodnan", *args]),
        mock.patch.object(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode()))),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        _quick_exit_raises(),
    ):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Run(code, out.getvalue(), err.getvalue())


def assert_clean_failure(run: Run, code: int, *parts: str) -> str:
    """The run failed with ``code`` and exactly one ``error:`` line, holding each of ``parts``; returns it."""
    assert run.code == code, (run.code, run.stderr)
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, run.stderr
    for part in parts:
        assert part in errors[0], (part, errors[0])
    return errors[0]
