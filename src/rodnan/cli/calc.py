"""``rodnan calc INSTRUMENT``: compute one published instrument from a JSON object of item codes.

One sub-command per instrument of the registry; its ``--help`` lists the instrument's item codes,
units and options, generated from the instrument's own declaration.
"""

from __future__ import annotations

import inspect
import json
import math
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rodnan.core import textfile
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


MAX_INPUT_BYTES = 10_000_000
"""The largest answers file ``rodnan calc`` reads (an instrument has at most a few dozen inputs)."""


class _NonFinite:
    """Stands for a JSON ``NaN``, ``Infinity`` or ``-Infinity`` (or a number too large for a float) until the
    field holding it is known."""

    def __init__(self, text: str) -> None:
        self.text = text


def _number(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def _integer(text: str) -> int | _NonFinite:
    """A JSON integer; one beyond a float's range (every input is used as a float) stands for an error."""
    value = int(text)
    try:
        float(value)
    except OverflowError:
        return _NonFinite(text if len(text) <= 20 else f"{text[:12]}... ({len(text)} digits)")
    return value


def _non_finite_field(value: object, path: str) -> tuple[str, str] | None:
    """The first field (JSON path) holding a :class:`_NonFinite`, and its text."""
    stack: list[tuple[object, str]] = [(value, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, _NonFinite):
            return where, current.text
        if isinstance(current, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k)) for k, v in reversed(current.items()))
        elif isinstance(current, list):
            stack.extend((v, f"{where}[{i}]") for i, v in reversed(list(enumerate(current))))
    return None


def read_answers(source: str) -> dict[str, object]:
    """The JSON object in a file, or on standard input for ``-``.

    Numbers must be finite: JSON ``NaN``, ``Infinity`` and ``-Infinity`` (Python's json module accepts
    them) and numbers beyond a float's range are errors naming the field; a missing value is ``null``.

    Raises:
        InputError: naming the file (``standard input`` for ``-``): unreadable, larger than
            :data:`MAX_INPUT_BYTES`, not UTF-8 or not JSON (with line and column), nested too deeply, or not
            an object; or naming the field that holds a non-finite number.
    """
    name = "standard input" if source == "-" else source
    if source == "-":
        raw = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1) if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        if len(raw) > MAX_INPUT_BYTES:
            raise InputError(name, f"is larger than {MAX_INPUT_BYTES:,} bytes, the most an answers file may have")
        text = textfile.decode_utf8(raw, name)
    else:
        text = textfile.read_utf8(Path(source), MAX_INPUT_BYTES, "an answers file")
    try:
        data = json.loads(text, parse_constant=_NonFinite, parse_float=_number, parse_int=_integer)
    except json.JSONDecodeError as exc:
        raise InputError(name, f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise InputError(name, "is not usable JSON: it is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise InputError(name, f"is not usable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(name, "must hold one JSON object of item codes and values")
    found = _non_finite_field(data, "")
    if found is not None:
        field, shown = found
        raise InputError(field, f"must be a finite number (use null for a missing value); got {shown} in {name}")
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
