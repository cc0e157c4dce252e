"""What every published instrument module provides, so that the CLI, the protocol's derived items,
screening and (later) the web forms and the analysis can use any instrument by name.

Each instrument module has typed ``score_*`` / ``compute_*`` functions returning its own frozen
``*Result``, and one :class:`InstrumentDef` that adapts a mapping of item codes (as in a JSON object
or a form record) to those functions and returns a uniform :class:`Score`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from rodnan.errors import InputError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class InputDoc:
    """One input of an instrument: its code, the UCUM unit it is expected in (None for answers,
    yes/no and choices), whether it may be missing, and what it means."""

    code: str
    description: str
    unit: str | None = None
    kind: str = "number"  # number | integer | boolean | choice
    choices: tuple[str, ...] = ()
    required: bool = False  # without it the instrument computes nothing (lets bulk derivation skip the row)


@dataclass(frozen=True)
class Score:
    """A uniform, JSON-ready view of an instrument's result.

    Attributes:
        instrument: the instrument code (``sf36``).
        value: the headline number, or None when not computable.
        subscores: named parts (SF-36 scales, HAQ categories, z-score and LLN ...), None when not computable.
        version: the form, norms or equation used (``SF-36 v2, 1998 US norms``).
        missing: the inputs that were missing.
        notes: what could not be computed and why, in words.
        source: the published source of the method.
        verdict: a categorical reading where the method defines one (``improved``, ``active``), else None.
    """

    instrument: str
    value: float | None
    subscores: dict[str, float | str | None] = field(default_factory=dict)
    version: str = ""
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    source: str = ""
    verdict: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The score as a plain dict (for JSON)."""
        return {
            "instrument": self.instrument,
            "value": self.value,
            "verdict": self.verdict,
            "subscores": dict(self.subscores),
            "version": self.version,
            "missing": list(self.missing),
            "notes": list(self.notes),
            "source": self.source,
        }


ScoreFunction = Callable[[Mapping[str, object], Mapping[str, str]], Score]
ColumnFunction = Callable[[Mapping[str, "FloatArray"], Mapping[str, str], int], "FloatArray"]
"""Vectorised value: input columns (floats in the inputs' units; yes/no 1.0/0.0; choices as the
index into the input's choices; NaN missing), options and the row count -> value column (NaN where
not computable). Must agree with ``score(...).value`` row by row."""


@dataclass(frozen=True)
class InstrumentDef:
    """An instrument usable by name: its inputs, options and the adapter that scores a mapping."""

    code: str
    title: str
    source: str
    inputs: tuple[InputDoc, ...]
    score: ScoreFunction
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_options: Mapping[str, str] = field(default_factory=dict)
    columns: ColumnFunction | None = None

    def score_items(self, answers: Mapping[str, object], options: Mapping[str, str] | None = None) -> Score:
        """Check the input codes and options, then score.

        Raises:
            InputError: an unknown input code or option, naming it and listing the known ones.
        """
        known = {i.code for i in self.inputs}
        for code in answers:
            if code not in known:
                raise InputError(code, f"is not an input of {self.code} (inputs: {', '.join(i.code for i in self.inputs)})")
        chosen = {**self.default_options, **(options or {})}
        for name, value in chosen.items():
            allowed = self.options.get(name)
            if allowed is None:
                raise InputError(name, f"is not an option of {self.code}", value)
            if value not in allowed:
                raise InputError(name, f"must be one of {', '.join(allowed)}", value)
        return self.score(answers, chosen)


# --- helpers for adapters ---------------------------------------------------------------------------


def is_missing(value: object) -> bool:
    """None, an empty string or NaN."""
    return value is None or (isinstance(value, str) and value.strip() == "") or (isinstance(value, float) and math.isnan(value))


def number_input(answers: Mapping[str, object], code: str) -> float | None:
    """A numeric input, or None when missing.

    Raises:
        InputError: the value is not a number (booleans are refused too).
    """
    value = answers.get(code)
    if is_missing(value):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(code, "must be a number", value)
    try:
        number = float(value)
    except ValueError:
        raise InputError(code, "must be a number", value) from None
    except OverflowError:  # an int beyond a float's range
        raise InputError(code, "must be a finite number", value) from None
    if not math.isfinite(number):
        raise InputError(code, "must be a finite number", value)
    return number


def integer_answer(answers: Mapping[str, object], code: str, low: int, high: int) -> int | None:
    """A whole-number answer within [low, high], or None when missing.

    Raises:
        InputError: not a whole number, or outside the range; the message names the item and range.
    """
    number = number_input(answers, code)
    if number is None:
        return None
    if not number.is_integer():
        raise InputError(code, f"must be a whole number from {low} to {high}", answers.get(code))
    if not low <= number <= high:
        raise InputError(code, f"must be from {low} to {high}", answers.get(code))
    return int(number)


def boolean_input(answers: Mapping[str, object], code: str) -> bool | None:
    """A yes/no input (true/false, yes/no, 1/0), or None when missing.

    Raises:
        InputError: any other value.
    """
    value = answers.get(code)
    if is_missing(value):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "y"):
        return True
    if text in ("false", "no", "0", "n"):
        return False
    raise InputError(code, "must be yes/no (true/false, yes/no or 1/0)", value)


def choice_input(answers: Mapping[str, object], code: str, choices: tuple[str, ...]) -> str | None:
    """One of ``choices`` (case-insensitive), or None when missing.

    Raises:
        InputError: any other value, listing the choices.
    """
    value = answers.get(code)
    if is_missing(value):
        return None
    text = str(value).strip().lower()
    if text not in choices:
        raise InputError(code, f"must be one of {', '.join(choices)}", value)
    return text
