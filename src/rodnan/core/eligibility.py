"""Eligibility screening of one candidate: each criterion met, not met or unknown, with a reason.

The criteria are the protocol file's expressions (:mod:`rodnan.core.expr`). A candidate is

* ``eligible`` when every inclusion criterion is met and no exclusion criterion is,
* ``ineligible`` when an inclusion criterion is not met or an exclusion criterion is met,
* ``incomplete`` otherwise: missing values leave some criterion unknown, and the result lists the
  missing items that could still change the verdict.

Bulk screening of many candidates at once is :mod:`rodnan.core.screening`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from rodnan.core import instruments
from rodnan.core.derivation import derive_items
from rodnan.core.expr.evaluate import Describe
from rodnan.core.protocol.model import CompiledCriterion, CriterionKind, DerivedItemDef, Study
from rodnan.core.units import display_unit
from rodnan.core.values import ItemValue, display_value, normalize_value
from rodnan.core.verdict import Truth, Verdict
from rodnan.errors import InputError


class ScreeningVerdict(StrEnum):
    """The overall verdict on a candidate."""

    ELIGIBLE = "eligible"
    INELIGIBLE = "ineligible"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class CriterionResult:
    """One criterion's verdict for one candidate, the values it used and why."""

    code: str
    kind: CriterionKind
    label: str
    verdict: Verdict
    reason: str
    values: tuple[ItemValue, ...]
    item_labels: tuple[str, ...] = ()
    """The labels of the items in :attr:`values`, in the same order."""

    @property
    def missing_items(self) -> tuple[str, ...]:
        """Items the criterion reads that have no value."""
        return tuple(v.item for v in self.values if v.is_missing)


@dataclass(frozen=True)
class ScreeningResult:
    """The screening of one candidate."""

    verdict: ScreeningVerdict
    criteria: tuple[CriterionResult, ...]
    qualifying_pathways: tuple[str, ...]
    missing_items: tuple[str, ...]
    missing_labels: tuple[str, ...] = ()
    """The labels of :attr:`missing_items`, in the same order (for people; the codes are for machines)."""

    def criterion(self, code: str) -> CriterionResult:
        """The result of one criterion (or pathway) by code."""
        for result in self.criteria:
            if result.code == code:
                return result
        raise KeyError(code)


def overall_verdict(inclusion: list[Truth], exclusion: list[Truth]) -> ScreeningVerdict:
    """Combine criterion truths: eligible, ineligible or incomplete (see the module docstring)."""
    included = min(inclusion, default=Truth.TRUE)
    excluded = max(exclusion, default=Truth.FALSE)
    if included == Truth.FALSE or excluded == Truth.TRUE:
        return ScreeningVerdict.INELIGIBLE
    if included == Truth.TRUE and excluded == Truth.FALSE:
        return ScreeningVerdict.ELIGIBLE
    return ScreeningVerdict.INCOMPLETE


def normalize_facts(study: Study, facts: Mapping[str, object]) -> dict[str, ItemValue]:
    """Normalise every entered value (see :func:`rodnan.core.values.normalize_value`).

    Raises:
        InputError: an unknown item code, or a value that breaks its item's rules.
    """
    normalized = {}
    for code, raw in facts.items():
        item = study.item_by_code.get(code)
        if item is None:
            raise InputError(code, "is not an item of the protocol", raw)
        normalized[code] = normalize_value(item, raw)
    return normalized


def evaluate_criteria(study: Study, facts: Mapping[str, object]) -> ScreeningResult:
    """Screen one candidate against every criterion of the study.

    Args:
        study: the protocol.
        facts: item code -> value, as :func:`rodnan.core.values.normalize_value` accepts them
            (a number in the item's unit, ``Measurement(2.3, "g/dL")``, ``True``, ``"yes"``, None).
            Items not given are missing. Missing items the protocol declares as derived (e.g.
            creatinine clearance by Cockcroft-Gault) are computed first; a measured value wins.

    Raises:
        InputError: an unknown item or a bad value, naming the item and the rule.
    """
    return build_screening_result(study, derive_items(study, normalize_facts(study, facts)))


def build_screening_result(
    study: Study,
    values: Mapping[str, ItemValue],
    truths: Mapping[str, Truth] | None = None,
) -> ScreeningResult:
    """Assemble the result for one candidate from normalised values.

    Args:
        study: the protocol.
        values: normalised values by item code; absent items are missing.
        truths: criterion truths already computed (by bulk screening); evaluated here if None.
    """
    floats = {code: v.value for code, v in values.items()}

    criterion_labels = {criterion.code: criterion.definition.label for criterion in study.criteria}

    def describe(code: str) -> str:
        item = study.item_by_code.get(code)
        if item is None:  # a named criterion (a pathway) referred to by another
            return criterion_labels.get(code, code)
        value = values.get(code)
        if value is None or value.is_missing:
            why = value.derived_by if value is not None else None
            return f"{item.label} missing" + (f" ({_not_derived(study, code, values, why)})" if why else "")
        shown = f"{item.label} {value.display}" if item.is_numeric else f"{item.label}: {value.display}"
        if value.derived_by is not None:
            return f"{shown} ({_derived(study, code, value.derived_by)})"
        return f"{shown} (entered {entered_for_people(value.entered)})" if value.converted else shown

    results = []
    by_kind: dict[str, list[Truth]] = {"pathway": [], "inclusion": [], "exclusion": []}
    for criterion in study.criteria:
        truth = truths[criterion.code] if truths is not None else criterion.expression.truth(floats)
        by_kind[criterion.kind].append(truth)
        results.append(_criterion_result(study, criterion, truth, values, describe, floats))
    verdict = overall_verdict(by_kind["inclusion"], by_kind["exclusion"])
    missing: list[str] = []
    if verdict == ScreeningVerdict.INCOMPLETE:
        unknown = [r for r in results if r.kind != "pathway" and r.verdict == Verdict.UNKNOWN]
        wanted = {code for r in unknown for code in r.missing_items}
        missing = list(study.in_item_order(wanted))
    pathways = tuple(r.code for r in results if r.kind == "pathway" and r.verdict == Verdict.MET)
    labels = tuple(study.item_by_code[code].label for code in missing)
    return ScreeningResult(verdict, tuple(results), pathways, tuple(missing), labels)


def _derivation_of(study: Study, code: str) -> DerivedItemDef | None:
    return next((d for d in study.derived_items if code in d.outputs.values()), None)


def _labels(study: Study, codes: Sequence[str]) -> str:
    labels = [study.item_by_code[code].label for code in codes]
    return ", ".join(labels) if len(labels) <= 6 else f"{labels[0]} … {labels[-1]} ({len(labels)} items)"


def _derived(study: Study, code: str, derived_by: str) -> str:
    """How a derived value was computed, in the protocol's words ("computed by Creatinine clearance, Cockcroft-Gault
    (mL/min) from Age, Body weight, Serum creatinine, Sex")."""
    definition = _derivation_of(study, code)
    if definition is None:
        return f"derived: {derived_by}"
    title = instruments.REGISTRY[definition.instrument].title
    return f"computed by {title} from {_labels(study, list(definition.inputs.values()))}"


def _not_derived(study: Study, code: str, values: Mapping[str, ItemValue], derived_by: str) -> str:
    """Why a derived item could not be computed, naming the missing inputs by their labels."""
    definition = _derivation_of(study, code)
    if definition is None:
        return derived_by
    sources = [*definition.option_items.values(), *definition.inputs.values()]
    missing = [c for c in sources if c not in values or values[c].is_missing]
    title = instruments.REGISTRY[definition.instrument].title
    if missing:
        return f"cannot be computed by {title}: {_labels(study, missing)} missing"
    return f"cannot be computed by {title} from the values given"


def entered_for_people(entered: str) -> str:
    """A value as entered ("72000 /mm3", number then UCUM unit) with its unit as people read it ("72000 /mm³")."""
    number, _, unit = entered.partition(" ")
    return f"{number} {display_unit(unit)}".rstrip() if unit else number


def _criterion_result(
    study: Study,
    criterion: CompiledCriterion,
    truth: Truth,
    values: Mapping[str, ItemValue],
    describe: Describe,
    floats: Mapping[str, float | None],
) -> CriterionResult:
    used = tuple(
        values.get(code) or ItemValue(code, None, "", display_value(study.item_by_code[code], None))
        for code in study.in_item_order(criterion.expression.item_codes)
    )
    because = criterion.expression.explain(floats, describe)
    reason = f"{truth.verdict.value.replace('_', ' ')}: {because}"
    labels = tuple(study.item_by_code[value.item].label for value in used)
    return CriterionResult(criterion.code, criterion.kind, criterion.definition.label, truth.verdict, reason, used, labels)
