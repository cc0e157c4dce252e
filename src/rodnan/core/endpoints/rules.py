"""The endpoint section of a protocol, compiled: every expression checked against the study once.

Endpoint expressions are the eligibility language (docs/expression-language.md) with more names:
besides the items and the qualifying pathways, every item ``x`` offers ``x_base`` (its baseline value),
and every number item ``x_chg`` (value minus baseline, in the item's unit) and ``x_pchg`` (100 x
change / baseline, in %). The engine computes these per assessment; the language itself is unchanged
(see :attr:`~rodnan.core.protocol.model.Study.endpoint_item_specs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rodnan.core.expr import CompiledExpression, compile_expression
from rodnan.core.protocol.model import (
    ENDPOINT_SUFFIXES,
    EndpointsDef,
    EventRuleDef,
    RemissionOrganDef,
    ResponseDef,
    Study,
    TriggerDef,
)
from rodnan.errors import InputError

VariableKind = Literal["value", "base", "chg", "pchg"]


@dataclass(frozen=True)
class CompiledTrigger:
    """A trigger (expression and/or adverse-event terms), compiled; terms are lower case."""

    expression: CompiledExpression | None
    terms: frozenset[str]


@dataclass(frozen=True)
class CompiledRule:
    """An event rule of DFS, compiled; ``order`` is its position in the file (ties go to the earlier rule)."""

    definition: EventRuleDef
    order: int
    expression: CompiledExpression | None
    organs: tuple[tuple[str, CompiledExpression], ...]
    terms: frozenset[str]

    @property
    def code(self) -> str:
        """The rule's code (SRCRULE in the time-to-event dataset)."""
        return self.definition.code

    @property
    def is_assessed(self) -> bool:
        """True when the rule is evaluated at assessments (an expression or new involvement)."""
        return self.expression is not None or bool(self.organs)

    @property
    def confirmation_days(self) -> int | None:
        """The confirmation window in days, if the rule needs one."""
        return None if self.definition.confirmation is None else self.definition.confirmation.within_days


@dataclass(frozen=True)
class CompiledResponse:
    """A response at a visit, compiled."""

    definition: ResponseDef
    expression: CompiledExpression | None
    step1: dict[str, CompiledTrigger]


@dataclass(frozen=True)
class CompiledOrgan:
    """Remission of one organ: the involvement (pathway) expression and the remission expression."""

    definition: RemissionOrganDef
    pathway: CompiledExpression
    expression: CompiledExpression


@dataclass(frozen=True)
class CompiledEndpoints:
    """The endpoints section with every expression compiled.

    Attributes:
        definition: the section as in the file.
        rules: the enabled DFS event rules, in file order.
        responses: the responses, in file order.
        organs: the remission organs, in file order (empty without a remission section).
        pathways: the qualifying pathways by code (organ involvement).
    """

    definition: EndpointsDef
    rules: tuple[CompiledRule, ...]
    responses: tuple[CompiledResponse, ...]
    organs: tuple[CompiledOrgan, ...]
    pathways: dict[str, CompiledExpression]

    def variables(self) -> frozenset[str]:
        """Every name any endpoint expression reads (items and generated variables), pathways expanded."""
        expressions: list[CompiledExpression] = [*self.pathways.values()]
        for rule in self.rules:
            expressions += [e for e in (rule.expression,) if e is not None]
        for response in self.responses:
            expressions += [e for e in (response.expression,) if e is not None]
            expressions += [t.expression for t in response.step1.values() if t.expression is not None]
        expressions += [organ.expression for organ in self.organs]
        return frozenset().union(*(e.item_codes for e in expressions))


def split_variable(study: Study, name: str) -> tuple[str, VariableKind]:
    """The item a variable reads and how: ``mrss`` -> (mrss, value), ``mrss_pchg`` -> (mrss, pchg).

    Raises:
        InputError: the name is neither an item nor an item with a generated suffix.
    """
    if name in study.item_by_code:
        return name, "value"
    for suffix in ENDPOINT_SUFFIXES:
        item = name.removesuffix(f"_{suffix}")
        if item != name and item in study.item_by_code:
            kind: VariableKind = "base" if suffix == "base" else "chg" if suffix == "chg" else "pchg"
            return item, kind
    raise InputError(name, "is neither an item nor <item>_base, <item>_chg or <item>_pchg")


def compile_endpoints(study: Study) -> CompiledEndpoints:
    """Compile the endpoints section of a study loaded by :func:`~rodnan.core.protocol.load.load_protocol`.

    Raises:
        InputError: the protocol has no endpoints section.
        ExpressionError: an expression does not compile (cannot happen for a study the loader accepted).
    """
    endpoints = study.endpoints
    if endpoints is None:
        raise InputError("endpoints", "the protocol defines no endpoints section")
    specs = study.endpoint_item_specs
    pathways = study.pathway_expressions

    def compiled(text: str | None) -> CompiledExpression | None:
        return None if text is None else compile_expression(text, specs, pathways)

    def trigger(definition: TriggerDef) -> CompiledTrigger:
        return CompiledTrigger(compiled(definition.expression), _terms(definition.adverse_event_terms))

    rules = tuple(
        CompiledRule(
            rule,
            order,
            compiled(rule.expression),
            tuple((code, pathways[code]) for code in rule.new_involvement),
            _terms(rule.adverse_event_terms),
        )
        for order, rule in enumerate(endpoints.dfs.events)
        if rule.enabled
    )
    responses = tuple(
        CompiledResponse(r, compiled(r.expression), {name: trigger(t) for name, t in r.step1_events.items()})
        for r in endpoints.responses
    )
    organs: tuple[CompiledOrgan, ...] = ()
    if endpoints.remission is not None:
        organs = tuple(
            CompiledOrgan(o, pathways[o.pathway], compile_expression(o.expression, specs, pathways))
            for o in endpoints.remission.organs
        )
    return CompiledEndpoints(endpoints, rules, responses, organs, dict(pathways))


def _terms(terms: list[str]) -> frozenset[str]:
    return frozenset(t.strip().lower() for t in terms)
