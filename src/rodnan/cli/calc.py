"""``rodnan calc INSTRUMENT``: compute one published instrument from a JSON object of item codes.

One sub-command per instrument of the registry; its ``--help`` lists the instrument's item codes,
units and options, generated from the instrument's own declaration.
"""

from __future__ import annotations

import inspect
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rodnan.core.instruments import REGISTRY, InstrumentDef, Score
from rodnan.errors import InputError

app = typer.Typer(
    help="Compute a published instrument from a JSON object of item codes (null = missing). See rodnan calc INSTRUMENT --help.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


class CalcFormat(StrEnum):
    """Output formats of ``rodnan calc``."""

    json = "json"
    table = "table"


def read_answers(source: str) -> dict[str, object]:
    """The JSON object in a file, or on standard input for ``-``.

    Raises:
        InputError: unreadable, not JSON, or not an object.
    """
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError("--input", f"cannot be read: {exc.strerror}", source) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError("--input", f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})", source) from None
    if not isinstance(data, dict):
        raise InputError("--input", "must hold one JSON object of item codes and values", source)
    return data


def score_json(score: Score) -> dict[str, object]:
    """The result as one JSON object: the subscores as top-level keys, then value, verdict and provenance."""
    return {**score.subscores, **{k: v for k, v in score.as_dict().items() if k != "subscores"}}


def _print_table(instrument: InstrumentDef, score: Score) -> None:
    table = Table(title=f"{instrument.title}", show_header=True)
    table.add_column("Result")
    table.add_column("Value", justify="right")
    table.add_row("value", "not computable" if score.value is None else f"{score.value:.6g}")
    if score.verdict is not None:
        table.add_row("verdict", score.verdict)
    for name, value in score.subscores.items():
        shown = "not computable" if value is None else value if isinstance(value, str) else f"{value:.6g}"
        table.add_row(escape(name), escape(shown))
    console = Console()
    console.print(table)
    console.print(f"version: {escape(score.version)}", highlight=False)
    for note in score.notes:
        console.print(f"note: {escape(note)}", highlight=False)
    console.print(f"source: {escape(score.source)}", highlight=False)


def _help(instrument: InstrumentDef) -> str:
    lines = [f"{instrument.title}.", "", f"Source: {instrument.source}.", "", "\b"]
    lines.append("Input item codes (JSON keys; null = missing):")
    for doc in instrument.inputs:
        unit = f" [{doc.unit}]" if doc.unit else ""
        kind = f" ({'/'.join(doc.choices)})" if doc.choices else f" ({doc.kind})"
        lines.append(f"  {doc.code}{unit}{kind}: {doc.description}")
    return "\n".join(lines)


def _command(instrument: InstrumentDef) -> Any:
    def command(**kwargs: Any) -> None:
        options = {name: kwargs[name] for name in instrument.options if kwargs.get(name) is not None}
        score = instrument.score_items(read_answers(kwargs["input"]), options)
        if kwargs["output_format"] is CalcFormat.json:
            typer.echo(json.dumps(score_json(score), ensure_ascii=False, indent=2))
        else:
            _print_table(instrument, score)

    keyword = inspect.Parameter.KEYWORD_ONLY
    source_option = typer.Option(..., "--input", "-i", help="JSON file, or - for standard input.")
    format_option = typer.Option(CalcFormat.table, "--format", "-f", help="table or json.")
    parameters = [
        inspect.Parameter("input", keyword, annotation=str, default=source_option),
        inspect.Parameter("output_format", keyword, annotation=CalcFormat, default=format_option),
    ]
    for name, choices in instrument.options.items():
        default = instrument.default_options.get(name)
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=str | None,
                default=typer.Option(default, f"--{name.replace('_', '-')}", help=f"One of: {', '.join(choices)}."),
            )
        )
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__doc__ = _help(instrument)
    command.__name__ = instrument.code
    return command


for _instrument in REGISTRY.values():
    app.command(_instrument.code, help=_help(_instrument))(_command(_instrument))
