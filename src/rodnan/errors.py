"""Errors shared by every layer. The only module that everything may import.

Every error names what was wrong (the field), which rule it broke and, where there is one, the value
received, so that a user can fix the input without reading a traceback.
"""

from __future__ import annotations


class RodnanError(Exception):
    """Base class of every error rodnan raises on purpose."""


class InputError(RodnanError, ValueError):
    """A value does not satisfy a rule.

    Args:
        field: the item, column or parameter that holds the bad value.
        rule: the rule that was broken, in words.
        value: the value received (optional).
    """

    def __init__(self, field: str, rule: str, value: object = None) -> None:
        self.field = field
        self.rule = rule
        self.value = value
        shown = "" if value is None else f" (got {_plain(value)!r})"
        super().__init__(f"{field}: {rule}{shown}")

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str, object]]:
        # keeps the error intact across processes (bulk screening's workers raise it)
        return (type(self), (self.field, self.rule, self.value))


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds, so that a message shows ``-5``, not ``np.int64(-5)``
    (duck-typed: this module imports nothing)."""
    item = getattr(value, "item", None)
    return item() if type(value).__module__ == "numpy" and callable(item) and getattr(value, "ndim", None) == 0 else value


class UnitError(InputError):
    """A unit string is not valid UCUM, or does not fit the quantity it is attached to."""


class ExpressionError(RodnanError, ValueError):
    """An expression is malformed or does not type-check against the study.

    Args:
        expression: the expression text.
        message: what is wrong.
        column: 1-based column in the expression text where the problem was found, if known.
    """

    def __init__(self, expression: str, message: str, column: int | None = None) -> None:
        self.expression = expression
        self.message = message
        self.column = column
        where = f" at column {column}" if column is not None else ""
        super().__init__(f"{message}{where} in expression {expression!r}")

    def __reduce__(self) -> tuple[type[ExpressionError], tuple[str, str, int | None]]:
        return (type(self), (self.expression, self.message, self.column))


class ProtocolError(RodnanError, ValueError):
    """A protocol file breaks a rule. Carries every problem found, each with its YAML path and line."""

    def __init__(self, source: str, problems: list[ProtocolProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")

    def __reduce__(self) -> tuple[type[ProtocolError], tuple[str, list[ProtocolProblem]]]:
        return (type(self), (self.source, self.problems))


class ProtocolProblem:
    """One problem in a protocol file: where (YAML path and line) and which rule."""

    def __init__(self, path: tuple[str | int, ...], rule: str, line: int | None = None) -> None:
        self.path = path
        self.rule = rule
        self.line = line

    @property
    def dotted_path(self) -> str:
        """The YAML path as ``eligibility.exclusion[3].expression``."""
        out = ""
        for part in self.path:
            if isinstance(part, int):
                out += f"[{part}]"
            else:
                out += ("." if out else "") + str(part)
        return out or "<document>"

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.dotted_path}: {self.rule}"

    def __repr__(self) -> str:
        return f"ProtocolProblem({self.path!r}, {self.rule!r}, line={self.line!r})"
