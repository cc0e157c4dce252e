"""What the candidate simulator reads from the protocol (thresholds, items, criteria, checked once) and the
scenarios of a pool, each with the verdict ``rodnan screen`` must give and its fraction.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rodnan.core.expr.parse import And, Call, Compare, Name, Node, Not, Number, Or, parse_expression
from rodnan.core.protocol.model import ItemDef, Study
from rodnan.core.simulate.candidates.params import ELIGIBLE_PREFIX, EXCLUDED_PREFIX, CandidateParams
from rodnan.core.simulate.candidates.recipes import (
    DECIMALS,
    DEMOGRAPHIC_ITEMS,
    EXCLUSION_STATE,
    FORCED_PATHWAY,
    PATHWAYS,
    SCREENING_FORM,
    STATES,
)
from rodnan.core.units import conversion_factor
from rodnan.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]


ELIGIBLE, EXCLUDED, NO_PATHWAY, ACR_NOT_MET, INCOMPLETE = range(5)
VERDICT_OF_KIND = ("eligible", "ineligible", "ineligible", "ineligible", "incomplete")


@dataclass(frozen=True)
class CandidateModel:
    """What the simulator needs from the protocol, checked once."""

    items: dict[str, ItemDef]
    screening_items: tuple[str, ...]
    thresholds: dict[tuple[str, str], tuple[str, float]]  # (criterion, item) -> (op, threshold in the item's unit)
    acr_item: str
    exclusions: tuple[str, ...]
    exclusion_items: dict[str, frozenset[str]]
    boolean_exclusions: dict[str, tuple[str, bool]]  # code -> (item, the answer that meets it)
    pathway_items: dict[str, frozenset[str]]


@dataclass(frozen=True)
class Scenario:
    """One scenario of a pool: its reason, its kind (ELIGIBLE ... INCOMPLETE), what it forces, and its fraction."""

    reason: str
    kind: int
    pathway: int  # forced or intended pathway index, -1 for none / random
    exclusion: int  # index in CandidateModel.exclusions, -1 for none
    missing: str  # item left empty, '' for none
    hinge: int  # pathway that the missing item keeps open, -1 for none
    fraction: float


# --- reading the protocol -------------------------------------------------------------------------


def _comparisons(node: Node, out: list[tuple[str, str, Number]], booleans: list[tuple[str, bool]], negated: bool = False) -> None:
    """Collect ``item op number`` comparisons and bare yes/no items of an expression tree."""
    if isinstance(node, Compare):
        left, op, right = node.left, node.op, node.right
        if isinstance(right, Name) and isinstance(left, Number):
            left, right, op = right, left, {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
        if isinstance(left, Name) and isinstance(right, Number):
            out.append((left.name, op, right))
    elif isinstance(node, Name):
        booleans.append((node.name, not negated))
    elif isinstance(node, Not):
        _comparisons(node.operand, out, booleans, not negated)
    elif isinstance(node, And | Or):
        for operand in node.operands:
            _comparisons(operand, out, booleans, negated)
    elif isinstance(node, Call):
        for arg in node.args:
            _comparisons(arg, out, booleans, negated)


def read_model(study: Study) -> CandidateModel:
    """Thresholds, items and criteria of the study, checked against what the simulator knows."""
    items = study.item_by_code
    form = study.form_by_code.get(SCREENING_FORM)
    if form is None:
        raise InputError("study", f"has no {SCREENING_FORM!r} form, which lists the items of a screening pool")
    thresholds: dict[tuple[str, str], tuple[str, float]] = {}
    boolean_exclusions: dict[str, tuple[str, bool]] = {}
    definitions = [*study.eligibility.pathways, *study.eligibility.exclusion]
    for definition in definitions:
        found: list[tuple[str, str, Number]] = []
        booleans: list[tuple[str, bool]] = []
        _comparisons(parse_expression(definition.expression), found, booleans)
        for code, op, number in found:
            item = items[code]
            assert item.unit is not None  # the loader allows comparisons with numbers only for numeric items
            factor = conversion_factor(number.unit or item.unit, item.unit, item.molar_mass_g_per_mol)
            thresholds[(definition.code, code)] = (op, number.value * factor)
        if definition in study.eligibility.exclusion and not found and len(booleans) == 1:
            boolean_exclusions[definition.code] = booleans[0]
    criteria = {c.code: c for c in study.criteria}
    pathway_items = {c.code: frozenset(c.expression.item_codes) for c in study.criteria if c.kind == "pathway"}
    if tuple(pathway_items) != PATHWAYS:
        raise InputError("study", f"the candidate simulator knows the pathways {', '.join(PATHWAYS)}", ", ".join(pathway_items))
    exclusions = tuple(d.code for d in study.eligibility.exclusion)
    for code in exclusions:
        if code not in EXCLUSION_STATE and code not in boolean_exclusions:
            raise InputError("study", "the candidate simulator has no recipe for this exclusion", code)
    for item_code, states in STATES.items():
        for state in states.values():
            for criterion, _ in state.sides:
                if (criterion, item_code) not in thresholds:
                    raise InputError("study", f"criterion {criterion!r} has no threshold on {item_code!r}", item_code)
    pathway_union = frozenset().union(*pathway_items.values())
    direct = [c for c in study.criteria if c.kind == "inclusion" and not c.expression.item_codes <= pathway_union]
    if len(direct) != 1 or len(direct[0].expression.item_codes) != 1:
        raise InputError(
            "study", "the candidate simulator expects one inclusion criterion on one yes/no item besides the pathways"
        )
    [acr_item] = direct[0].expression.item_codes
    screening_items = tuple(code for code in form.items if code not in items or items[code].type != "file")  # no file column
    for code in (*DEMOGRAPHIC_ITEMS, *screening_items):
        if code not in items:
            raise InputError("study", "has no such item", code)
        if items[code].is_numeric and code not in DECIMALS:
            raise InputError("study", "the candidate simulator does not know how to draw this item", code)
    return CandidateModel(
        items=items,
        screening_items=screening_items,
        thresholds=thresholds,
        acr_item=acr_item,
        exclusions=exclusions,
        exclusion_items={code: frozenset(criteria[code].expression.item_codes) for code in exclusions},
        boolean_exclusions=boolean_exclusions,
        pathway_items=pathway_items,
    )


def list_scenarios(model: CandidateModel, params: CandidateParams) -> list[Scenario]:
    """Every scenario with its fraction of the pool."""
    scenarios: list[Scenario] = []
    fractions = params.fractions
    for name, fraction in fractions.items():
        if name.startswith(ELIGIBLE_PREFIX):
            code = name.removeprefix(ELIGIBLE_PREFIX)
            if code not in PATHWAYS:
                raise InputError(name, "names no pathway of the protocol", code)
            scenarios.append(Scenario(f"pathway:{code}", ELIGIBLE, PATHWAYS.index(code), -1, "", -1, fraction))
        elif name.startswith(EXCLUDED_PREFIX):
            code = name.removeprefix(EXCLUDED_PREFIX)
            if code not in model.exclusions:
                raise InputError(name, "names no exclusion of the protocol", code)
            forced = PATHWAYS.index(FORCED_PATHWAY[code]) if code in FORCED_PATHWAY else -1
            scenarios.append(Scenario(f"exclusion:{code}", EXCLUDED, forced, model.exclusions.index(code), "", -1, fraction))
    named = {s.reason.split(":")[1] for s in scenarios if s.kind == EXCLUDED}
    unknown = [code for code in model.exclusions if code not in named]
    if unknown:
        raise InputError("params", "has no fraction for these exclusions of the protocol", ", ".join(unknown))
    scenarios.append(Scenario("no_pathway", NO_PATHWAY, -1, -1, "", -1, fractions["no_pathway"]))
    scenarios.append(Scenario("acr_not_met", ACR_NOT_MET, -1, -1, "", -1, fractions["acr_not_met"]))
    direct = {model.acr_item}.union(*model.exclusion_items.values())
    each = fractions["incomplete"] / len(model.screening_items)
    for code in model.screening_items:
        readers = [j for j, p in enumerate(PATHWAYS) if code in model.pathway_items[p]]
        if code not in direct and not readers:
            raise InputError("study", "no criterion reads this item of the screening form", code)
        hinge = -1 if code in direct else readers[0]
        scenarios.append(Scenario(f"missing:{code}", INCOMPLETE, -1, -1, code, hinge, each))
    return scenarios
