"""Type-check an expression against the study's items and evaluate it, one case or whole columns.

Compilation resolves names (items or named expressions such as pathways), checks that every
comparison is meaningful (a number against a quantity whose unit converts to the item's unit, a
boolean item against ``true``/``false``, a choice item against one of its choice codes) and converts
each constant to the item's own unit once. Evaluation then only compares floats.

Values arrive already in the item's unit, encoded as floats: numbers as themselves, booleans as 1.0
or 0.0, choices as the index of the choice; a missing value is ``None`` (one case) or NaN (columns).
A comparison over a missing value is unknown; ``and``/``or``/``not`` follow Kleene's logic
(:mod:`rodnan.core.verdict`).

Two values closer than one part in 10^9 compare as equal, so that unit conversion rounding
(80 000 /mm3 is 80.00000000000001 x 10^9/L in binary floating point) never moves a value across a
threshold.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt

from rodnan.core import units
from rodnan.core.expr import parse as ast
from rodnan.core.verdict import Truth, all_of, any_of
from rodnan.errors import ExpressionError, UnitError

REL_TOL = 1e-9
"""Relative tolerance under which two values compare as equal."""

Facts = Mapping[str, float | None]
Columns = Mapping[str, npt.NDArray[np.float64]]
TruthArray = npt.NDArray[np.int8]
Describe = Callable[[str], str]
"""Text for an item code, or for the name of a named expression (a pathway), in an explanation."""

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_OP_WORDS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "=", "!=": "!="}
FUNCTIONS = ("any_of", "all_of")


@dataclass(frozen=True)
class ItemSpec:
    """What the expression language needs to know about an item."""

    code: str
    type: str
    unit: str | None = None
    molar_mass_g_per_mol: float | None = None
    choices: tuple[str, ...] = ()


# --- operands -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Operand:
    """A numeric operand: an item's value (times a scale) or a constant."""

    item: str | None
    value: float
    display: str

    def scalar(self, facts: Facts) -> float | None:
        if self.item is None:
            return self.value
        raw = facts.get(self.item)
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            return None
        return raw * self.value

    def column(self, columns: Columns, n: int) -> npt.NDArray[np.float64] | float:
        if self.item is None:
            return self.value
        col = columns.get(self.item)
        if col is None:
            return np.full(n, np.nan)
        return col if self.value == 1.0 else col * self.value


def _compare(a: float, op: str, b: float) -> bool:
    close = abs(a - b) <= REL_TOL * max(abs(a), abs(b))
    if op == "==":
        return close
    if op == "!=":
        return not close
    if op == "<":
        return a < b and not close
    if op == "<=":
        return a < b or close
    if op == ">":
        return a > b and not close
    return a > b or close


def _compare_columns(a: npt.NDArray[np.float64] | float, op: str, b: npt.NDArray[np.float64] | float) -> npt.NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        close = np.abs(np.subtract(a, b)) <= REL_TOL * np.maximum(np.abs(a), np.abs(b))
        if op == "==":
            return close
        if op == "!=":
            return ~close
        if op == "<":
            return np.less(a, b) & ~close
        if op == "<=":
            return np.less(a, b) | close
        if op == ">":
            return np.greater(a, b) & ~close
        return np.greater(a, b) | close


# --- compiled nodes -----------------------------------------------------------------------------


class Expr(ABC):
    """A compiled, type-checked boolean expression."""

    @abstractmethod
    def truth(self, facts: Facts) -> Truth:
        """Evaluate for one case."""

    @abstractmethod
    def truth_array(self, columns: Columns, n: int) -> TruthArray:
        """Evaluate for ``n`` cases at once; returns Truth codes as int8."""

    @abstractmethod
    def item_codes(self) -> frozenset[str]:
        """Every item the expression reads, through named expressions too."""

    @abstractmethod
    def explain(self, facts: Facts, describe: Describe) -> str:
        """One line saying why the expression has the truth value it has for this case."""


@dataclass(frozen=True)
class _Const(Expr):
    value: Truth

    def truth(self, facts: Facts) -> Truth:
        return self.value

    def truth_array(self, columns: Columns, n: int) -> TruthArray:
        return np.full(n, int(self.value), dtype=np.int8)

    def item_codes(self) -> frozenset[str]:
        return frozenset()

    def explain(self, facts: Facts, describe: Describe) -> str:
        return "always true" if self.value == Truth.TRUE else "always false"


@dataclass(frozen=True)
class _Cmp(Expr):
    left: _Operand
    op: str
    right: _Operand

    def truth(self, facts: Facts) -> Truth:
        a, b = self.left.scalar(facts), self.right.scalar(facts)
        if a is None or b is None:
            return Truth.UNKNOWN
        return Truth.TRUE if _compare(a, self.op, b) else Truth.FALSE

    def truth_array(self, columns: Columns, n: int) -> TruthArray:
        a, b = self.left.column(columns, n), self.right.column(columns, n)
        result = _compare_columns(a, self.op, b).astype(np.int8) * np.int8(2)
        unknown = np.isnan(a) | np.isnan(b)
        if np.ndim(unknown) == 0:
            unknown = np.full(n, bool(unknown))
        result[unknown] = Truth.UNKNOWN
        return result

    def item_codes(self) -> frozenset[str]:
        return frozenset(x.item for x in (self.left, self.right) if x.item is not None)

    def explain(self, facts: Facts, describe: Describe) -> str:
        missing = [x.item for x in (self.left, self.right) if x.item is not None and x.scalar(facts) is None]
        if missing:
            return "; ".join(describe(code) for code in missing)
        sides = [describe(x.item) if x.item is not None else x.display for x in (self.left, self.right)]
        op = _OP_WORDS[self.op]
        if self.truth(facts) == Truth.TRUE:
            return f"{sides[0]} {op} {sides[1]}"
        return f"{sides[0]}, not {op} {sides[1]}"


@dataclass(frozen=True)
class _ItemTruth(Expr):
    item: str

    def truth(self, facts: Facts) -> Truth:
        value = facts.get(self.item)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return Truth.UNKNOWN
        return Truth.TRUE if value == 1.0 else Truth.FALSE

    def truth_array(self, columns: Columns, n: int) -> TruthArray:
        col = columns.get(self.item)
        if col is None:
            return np.full(n, Truth.UNKNOWN, dtype=np.int8)
        result: TruthArray = np.where(col == 1.0, np.int8(Truth.TRUE), np.int8(Truth.FALSE))
        result[np.isnan(col)] = Truth.UNKNOWN
        return result

    def item_codes(self) -> frozenset[str]:
        return frozenset({self.item})

    def explain(self, facts: Facts, describe: Describe) -> str:
        return describe(self.item)


@dataclass(frozen=True)
class _Not(Expr):
    operand: Expr

    def truth(self, facts: Facts) -> Truth:
        return ~self.operand.truth(facts)

    def truth_array(self, columns: Columns, n: int) -> TruthArray:
        return np.int8(2) - self.operand.truth_array(columns, n)

    def item_codes(self) -> frozenset[str]:
        return self.operand.item_codes()

    def explain(self, facts: Facts, describe: Describe) -> str:
        return self.operand.explain(facts, describe)


@dataclass(frozen=True)
class _Junction(Expr):
    """``and`` (conjunction=True) or ``or`` of two or more operands."""

    operands: tuple[Expr, ...]
    conjunction: bool

    def truth(self, facts: Facts) -> Truth:
        values = (o.truth(facts) for o in self.operands)
        return all_of(values) if self.conjunction else any_of(values)

    def truth_array(self, columns: Columns, n: int) -> TruthArray:
        arrays = [o.truth_array(columns, n) for o in self.operands]
        reduce = np.minimum if self.conjunction else np.maximum
        result = arrays[0]
        for array in arrays[1:]:
            result = reduce(result, array)
        return result

    def item_codes(self) -> frozenset[str]:
        return frozenset().union(*(o.item_codes() for o in self.operands))

    def explain(self, facts: Facts, describe: Describe) -> str:
        truths = [o.truth(facts) for o in self.operands]
        overall = min(truths) if self.conjunction else max(truths)
        # The operands that decide: the false ones of a false 'and', the true ones of a true 'or',
        # the unknown ones of an unknown result; every operand when all agree.
        shown = [o for o, t in zip(self.operands, truths, strict=True) if t == overall]
        return "; ".join(o.explain(facts, describe) for o in shown)


@dataclass(frozen=True)
class _Ref(Expr):
    """A reference to a named expression (a pathway), shown in explanations as ``describe`` shows its name."""

    name: str
    target: Expr

    def truth(self, facts: Facts) -> Truth:
        return self.target.truth(facts)

    def truth_array(self, columns: Columns, n: int) -> TruthArray:
        return self.target.truth_array(columns, n)

    def item_codes(self) -> frozenset[str]:
        return self.target.item_codes()

    def explain(self, facts: Facts, describe: Describe) -> str:
        word = {Truth.TRUE: "met", Truth.FALSE: "not met", Truth.UNKNOWN: "unknown"}[self.truth(facts)]
        return f"{describe(self.name)} {word} ({self.target.explain(facts, describe)})"


@dataclass(frozen=True)
class CompiledExpression:
    """An expression checked against a study, ready to evaluate."""

    text: str
    root: Expr = field(repr=False)

    def truth(self, facts: Facts) -> Truth:
        """Evaluate for one case (values in the items' units; missing is None)."""
        return self.root.truth(facts)

    def truth_array(self, columns: Columns, n: int) -> TruthArray:
        """Evaluate for ``n`` cases at once (float columns in the items' units; missing is NaN)."""
        return self.root.truth_array(columns, n)

    @cached_property
    def item_codes(self) -> frozenset[str]:
        """Every item the expression reads."""
        return self.root.item_codes()

    def explain(self, facts: Facts, describe: Describe) -> str:
        """Why the expression is true, false or unknown for this case."""
        return self.root.explain(facts, describe)


# --- compilation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Compiler:
    text: str
    items: Mapping[str, ItemSpec]
    named: Mapping[str, CompiledExpression]

    def fail(self, message: str, node: ast.Node) -> ExpressionError:
        return ExpressionError(self.text, message, node.column)

    def boolean(self, node: ast.Node) -> Expr:
        if isinstance(node, ast.Or | ast.And):
            return _Junction(tuple(self.boolean(o) for o in node.operands), isinstance(node, ast.And))
        if isinstance(node, ast.Not):
            return _Not(self.boolean(node.operand))
        if isinstance(node, ast.Boolean):
            return _Const(Truth.TRUE if node.value else Truth.FALSE)
        if isinstance(node, ast.Call):
            if node.function not in FUNCTIONS:
                raise self.fail(f"unknown function {node.function!r} (known: {', '.join(FUNCTIONS)})", node)
            if not node.args:
                raise self.fail(f"{node.function}() needs at least one operand", node)
            return _Junction(tuple(self.boolean(a) for a in node.args), node.function == "all_of")
        if isinstance(node, ast.Name):
            if node.name in self.named:
                return _Ref(node.name, self.named[node.name].root)
            item = self.item(node)
            if item.type != "boolean":
                raise self.fail(
                    f"item {item.code!r} is a {item.type}, not a yes/no item: compare it (e.g. {item.code} > 1)", node
                )
            return _ItemTruth(item.code)
        if isinstance(node, ast.Compare):
            return self.comparison(node)
        raise self.fail("a number or string alone is not a condition", node)

    def item(self, node: ast.Name) -> ItemSpec:
        item = self.items.get(node.name)
        if item is None:
            raise self.fail(f"unknown item or pathway {node.name!r}", node)
        if item.type in ("text", "date", "partial_date", "file"):
            raise self.fail(f"item {item.code!r} is a {item.type} item and cannot be used in an expression", node)
        return item

    def comparison(self, node: ast.Compare) -> Expr:
        left, op, right = node.left, node.op, node.right
        if not isinstance(left, ast.Name) and isinstance(right, ast.Name):
            left, op, right = right, _FLIP[op], left
        if not isinstance(left, ast.Name) or left.name in self.named:
            raise self.fail("a comparison needs an item on one side", node)
        item = self.item(left)
        lhs = _Operand(item.code, 1.0, item.code)
        if item.type == "boolean":
            if not isinstance(right, ast.Boolean) or op not in ("==", "!="):
                raise self.fail(f"yes/no item {item.code!r} can only be compared with == or != to true or false", node)
            return _Cmp(lhs, op, _Operand(None, 1.0 if right.value else 0.0, str(right.value).lower()))
        if item.type == "choice":
            if not isinstance(right, ast.String) or op not in ("==", "!="):
                raise self.fail(f"choice item {item.code!r} can only be compared with == or != to a choice code in quotes", node)
            if right.value not in item.choices:
                raise self.fail(f"{right.value!r} is not a choice of {item.code!r} (choices: {', '.join(item.choices)})", right)
            return _Cmp(lhs, op, _Operand(None, float(item.choices.index(right.value)), f'"{right.value}"'))
        assert item.unit is not None
        if isinstance(right, ast.Number):
            unit = right.unit or item.unit
            try:
                factor = units.conversion_factor(unit, item.unit, item.molar_mass_g_per_mol)
            except UnitError as exc:
                raise self.fail(f"unit {unit!r} does not fit item {item.code!r} ({item.unit}): {exc.rule}", right) from None
            return _Cmp(lhs, op, _Operand(None, right.value * factor, units.format_quantity(right.value, unit)))
        if isinstance(right, ast.Name) and right.name not in self.named:
            other = self.item(right)
            if other.unit is None:
                raise self.fail(f"cannot compare number item {item.code!r} with {other.type} item {other.code!r}", node)
            try:
                factor = units.conversion_factor(other.unit, item.unit, other.molar_mass_g_per_mol)
            except UnitError:
                raise self.fail(
                    f"items {item.code!r} ({item.unit}) and {other.code!r} ({other.unit}) have units that do not convert", node
                ) from None
            return _Cmp(lhs, op, _Operand(other.code, factor, other.code))
        raise self.fail(f"number item {item.code!r} must be compared with a number or another number item", node)


def compile_expression(
    text: str,
    items: Mapping[str, ItemSpec],
    named: Mapping[str, CompiledExpression] | None = None,
) -> CompiledExpression:
    """Parse and type-check a boolean expression against the items (and named expressions).

    Args:
        text: the expression, e.g. ``albumin < 25 g/L or weight_loss_12m_pct > 10 %``.
        items: the study's items by code.
        named: expressions that may be referred to by name (e.g. qualifying pathways).

    Raises:
        ExpressionError: malformed text, an unknown name, a unit that does not fit its item, or a
            comparison that makes no sense; the message names the problem and the column.
    """
    node = ast.parse_expression(text)
    compiler = _Compiler(text, items, named or {})
    return CompiledExpression(text, compiler.boolean(node))
