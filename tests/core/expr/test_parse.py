"""The expression grammar: structure, precedence and error positions."""

from __future__ import annotations

import pytest

from rodnan.core.expr import parse as ast
from rodnan.core.expr.parse import parse_expression
from rodnan.errors import ExpressionError


def test_parse_reads_a_quantity_with_a_ucum_unit() -> None:
    """The unit after a number is kept as written, brackets and parentheses included."""
    node = parse_expression("urine_protein_24h > 0.5 g/(24.h)")
    assert isinstance(node, ast.Compare)
    assert node.right == ast.Number(0.5, "g/(24.h)", 21)
    assert parse_expression("mpap_echo > 40 mm[Hg]").right.unit == "mm[Hg]"  # type: ignore[union-attr]
    assert parse_expression("platelets < 80 10*9/L").right.unit == "10*9/L"  # type: ignore[union-attr]


def test_parse_binds_and_tighter_than_or() -> None:
    """a or b and c is a or (b and c)."""
    node = parse_expression("a or b and c")
    assert isinstance(node, ast.Or)
    assert isinstance(node.operands[1], ast.And)


def test_parse_keeps_parentheses_around_a_unit() -> None:
    """A closing parenthesis after a unit ends the group, it is not part of the unit."""
    node = parse_expression("(esr > 25 mm/h or hemoglobin < 11 g/dL) and x")
    assert isinstance(node, ast.And)
    inner = node.operands[0]
    assert isinstance(inner, ast.Or)
    assert inner.operands[0].right.unit == "mm/h"  # type: ignore[union-attr]


def test_parse_reads_calls_booleans_strings_and_not() -> None:
    """any_of(...), true/false, quoted choice codes and not."""
    node = parse_expression('any_of(a, not b, c == "female", true)')
    assert isinstance(node, ast.Call)
    assert node.function == "any_of"
    assert isinstance(node.args[1], ast.Not)
    assert node.args[2].right == ast.String("female", 23)  # type: ignore[union-attr]
    assert node.args[3] == ast.Boolean(True, 33)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("albumin <", "unexpected end of expression", 9),
        ("albumin < < 3", "unexpected '<", 11),
        ("and", "unexpected 'and'", 1),
        ("(a or b", "unexpected end of expression", None),
        ("a < 3 g/L)", r"unexpected '\)'", 10),
        ("", "the expression is empty", None),
    ],
)
def test_parse_rejects_malformed_text_with_its_column(text: str, message: str, column: int | None) -> None:
    """A malformed expression is an ExpressionError naming what was unexpected and where."""
    with pytest.raises(ExpressionError, match=message) as caught:
        parse_expression(text)
    if column is not None:
        assert caught.value.column == column


def test_parse_never_evaluates_python() -> None:
    """Python syntax is not part of the language: attribute access and dunder names are refused."""
    with pytest.raises(ExpressionError):
        parse_expression("__import__('os').system('true')")
