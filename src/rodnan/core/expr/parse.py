"""Parse expression text into a small syntax tree (lark LALR grammar; never ``eval``).

Grammar, loosest binding first::

    or  :  and ("or" and)*
    and :  not ("and" not)*
    not :  "not" not | comparison
    comparison : operand (("<" | "<=" | ">" | ">=" | "==" | "!=") operand)?
    operand : NAME | NUMBER UNIT? | "true" | "false" | "string" | NAME "(" args ")" | "(" or ")"

A unit is a UCUM string written after the number (``25 g/L``, ``80 10*9/L``, ``40 mm[Hg]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from lark import Lark, Token, Transformer, UnexpectedInput, v_args

from rodnan.errors import ExpressionError

_GRAMMAR = r"""
?start: disj
?disj: conj (_OR conj)*
?conj: neg (_AND neg)*
?neg: _NOT neg -> negation
    | comparison
?comparison: operand (COMPOP operand)?
?operand: NAME "(" [disj ("," disj)*] ")" -> call
    | NAME -> name
    | NUMBER UNIT? -> number
    | TRUE -> true
    | FALSE -> false
    | STRING -> string
    | "(" disj ")"

_AND.2: /and\b/
_OR.2: /or\b/
_NOT.2: /not\b/
TRUE.2: /true\b/
FALSE.2: /false\b/
COMPOP: "<=" | ">=" | "==" | "!=" | "<" | ">"
NAME: /(?!(and|or|not|true|false)\b)[a-z_][a-z0-9_]*/
NUMBER: /[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?/
UNIT: /(?!(and|or|not)\b)([A-Za-z0-9_\[\]*\/.%{}^'-]|\([A-Za-z0-9_\[\]*\/.%{}^'-]+\))+/
STRING: /"[^"\\]*"/
%ignore /[ \t\r\n]+/
"""

KEYWORDS = frozenset({"and", "or", "not", "true", "false"})


@dataclass(frozen=True)
class Name:
    """A reference to an item or a named expression (pathway)."""

    name: str
    column: int


@dataclass(frozen=True)
class Number:
    """A number literal, with its UCUM unit if one was written."""

    value: float
    unit: str | None
    column: int


@dataclass(frozen=True)
class Boolean:
    """``true`` or ``false``."""

    value: bool
    column: int


@dataclass(frozen=True)
class String:
    """A quoted string (a choice code)."""

    value: str
    column: int


@dataclass(frozen=True)
class Compare:
    """``left op right``."""

    left: Node
    op: str
    right: Node
    column: int


@dataclass(frozen=True)
class Not:
    """``not operand``."""

    operand: Node
    column: int


@dataclass(frozen=True)
class And:
    """Conjunction of two or more operands."""

    operands: tuple[Node, ...]
    column: int


@dataclass(frozen=True)
class Or:
    """Disjunction of two or more operands."""

    operands: tuple[Node, ...]
    column: int


@dataclass(frozen=True)
class Call:
    """A function call such as ``any_of(a, b)``."""

    function: str
    args: tuple[Node, ...]
    column: int


Node = Name | Number | Boolean | String | Compare | Not | And | Or | Call


def _column(node: Node | Token) -> int:
    if isinstance(node, Token):
        return node.column or 1
    return node.column


@v_args(inline=True)
class _ToAst(Transformer):  # type: ignore[type-arg]
    def name(self, token: Token) -> Name:
        return Name(str(token), token.column or 1)

    def number(self, token: Token, unit: Token | None = None) -> Number:
        return Number(float(token), None if unit is None else str(unit), token.column or 1)

    def true(self, token: Token) -> Boolean:
        return Boolean(True, token.column or 1)

    def false(self, token: Token) -> Boolean:
        return Boolean(False, token.column or 1)

    def string(self, token: Token) -> String:
        return String(str(token)[1:-1], token.column or 1)

    def comparison(self, left: Node, op: Token, right: Node) -> Compare:
        return Compare(left, str(op), right, _column(left))

    def negation(self, operand: Node) -> Not:
        return Not(operand, _column(operand))

    def conj(self, *operands: Node) -> And:
        return And(tuple(operands), _column(operands[0]))

    def disj(self, *operands: Node) -> Or:
        return Or(tuple(operands), _column(operands[0]))

    def call(self, function: Token, *args: Node | None) -> Call:
        return Call(str(function), tuple(a for a in args if a is not None), function.column or 1)


_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=True)


@lru_cache(maxsize=1024)
def parse_expression(text: str) -> Node:
    """Parse expression text into a syntax tree.

    Raises:
        ExpressionError: the text is not a well-formed expression; the message gives the column.
    """
    if not text.strip():
        raise ExpressionError(text, "the expression is empty")
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        token = getattr(exc, "token", None)
        at_end = token is not None and token.type == "$END"
        found = "" if at_end or exc.pos_in_stream is None else text[exc.pos_in_stream : exc.pos_in_stream + 12]
        what = f"unexpected {found!r}" if found else "unexpected end of expression"
        raise ExpressionError(text, what, exc.column if isinstance(exc.column, int) and exc.column > 0 else None) from None
    node: Node = _ToAst().transform(tree)
    return node
