"""The study definition: typed, frozen models of a protocol file.

One :class:`Study` drives everything: the forms, the schedule, the eligibility criteria, the roles of
forms and items, the analysis plan. Models ending in ``Def`` are definitions from the protocol, never
captured data. Field-level rules are checked by pydantic; rules that look across the document
(references between forms, items, visits and expressions; roles) are checked in
:mod:`rodnan.core.protocol.load` and :mod:`rodnan.core.protocol.checks`.

The models live in modules by responsibility (:mod:`~rodnan.core.protocol.common`,
:mod:`~rodnan.core.protocol.design`, :mod:`~rodnan.core.protocol.forms`,
:mod:`~rodnan.core.protocol.endpoint_defs`, :mod:`~rodnan.core.protocol.analysis_plan`); every name
stays importable from here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from pydantic import Field, model_validator

from rodnan.core.expr import CompiledExpression, ItemSpec, compile_expression
from rodnan.core.protocol.analysis_plan import AnalysisDef, CoxCovariateDef, CoxDef, ParamCode, ParameterDef
from rodnan.core.protocol.common import Code, Frozen, QuantityDef, VisitCode
from rodnan.core.protocol.design import (
    ClarificationDef,
    CriterionDef,
    DesignDef,
    EligibilityDef,
    IdentityDef,
    InterventionDef,
    InterventionRolesDef,
    OutcomeDef,
    RegimenStepDef,
    RequirementDef,
    ScheduleDef,
    SiteDef,
    VisitDef,
    VisitSeriesDef,
)
from rodnan.core.protocol.endpoint_defs import (
    ENDPOINT_SUFFIXES,
    ConfirmationDef,
    DfsDef,
    EndpointsDef,
    EventRuleDef,
    OrganCode,
    OsDef,
    RemissionDef,
    RemissionOrganDef,
    ResponseDef,
    ShortCode,
    SustainedDef,
    TriggerDef,
)
from rodnan.core.protocol.forms import (
    FILE_MAX_BYTES_CEILING,
    FILE_MAX_BYTES_DEFAULT,
    NON_EXPRESSION_TYPES,
    BodyAreaDef,
    ChoiceDef,
    DerivedItemDef,
    FilesDef,
    FormDef,
    FormKind,
    FormLayout,
    ItemDef,
    ItemType,
    LogDef,
    MediaType,
    MissingCodeDef,
    RangeDef,
    StandardCodeDef,
    TimepointDef,
    VersionedAnswersDef,
    expand_timepoints,
    timepoint_code,
)

__all__ = [
    "CONTEXT_DATES",
    "ENDPOINT_SUFFIXES",
    "FILE_MAX_BYTES_CEILING",
    "FILE_MAX_BYTES_DEFAULT",
    "GENERAL_CHECK_CODES",
    "NON_EXPRESSION_TYPES",
    "AnalysisDef",
    "BodyAreaDef",
    "CheckDef",
    "ChoiceDef",
    "ClarificationDef",
    "Code",
    "CompiledCheck",
    "CompiledCriterion",
    "CompiledRequirement",
    "ConfirmationDef",
    "CoxCovariateDef",
    "CoxDef",
    "CriterionDef",
    "CriterionKind",
    "DerivedItemDef",
    "DesignDef",
    "DfsDef",
    "EligibilityDef",
    "EndpointsDef",
    "EventRuleDef",
    "FilesDef",
    "FormDef",
    "FormKind",
    "FormLayout",
    "Frozen",
    "IdentityDef",
    "InterventionDef",
    "InterventionRolesDef",
    "ItemDef",
    "ItemType",
    "LogDef",
    "MediaType",
    "MissingCodeDef",
    "OrganCode",
    "OsDef",
    "OutcomeDef",
    "ParamCode",
    "ParameterDef",
    "ProtocolMeta",
    "QuantityDef",
    "RangeDef",
    "RegimenStepDef",
    "RemissionDef",
    "RemissionOrganDef",
    "RequirementDef",
    "ResponseDef",
    "ScheduleDef",
    "ShortCode",
    "SiteDef",
    "StandardCodeDef",
    "Study",
    "SustainedDef",
    "TimepointDef",
    "TriggerDef",
    "VersionedAnswersDef",
    "VisitCode",
    "VisitDef",
    "VisitSeriesDef",
    "timepoint_code",
]


# --- checks -------------------------------------------------------------------------------------

CONTEXT_DATES = ("screening_day", "consent_day", "enrolment_day", "infusion_day", "end_day", "visit_day", "window_start",
                 "window_end")  # fmt: skip
"""The subject's and the visit's dates a check's expression may read (as day numbers, unit ``d``); no item may use them."""

GENERAL_CHECK_CODES = ("after_end", "before_screening", "before_consent", "before_infusion", "visit_window",
                       "early_completion")  # fmt: skip
"""The codes of the core's general rules (:mod:`rodnan.core.records.checks`); a protocol check may not reuse them."""

CheckSeverity = Literal["error", "warning", "query"]


class CheckDef(Frozen):
    """A rule a record must follow (``checks:``): its expression must hold when the record is saved.

    When the expression is false: ``error`` refuses the save, ``warning`` asks the user to confirm,
    ``query`` saves and reports the finding. An unknown result (a value missing) raises nothing.
    Date items and the :data:`CONTEXT_DATES` enter the expression as day numbers (``sample_date >= window_start``).
    """

    code: Code
    label: str = Field(min_length=1, description="the rule in plain words, shown to the user")
    severity: CheckSeverity
    forms: list[Code] = Field(min_length=1, description="the forms whose records it checks")
    visits: list[VisitCode] = Field(default_factory=list, description="only at these visits (empty: at every visit)")
    expression: str


@dataclass(frozen=True)
class CompiledRequirement:
    """An intervention requirement with its expressions compiled: ``applies`` over the items, ``record`` over
    the record's items (a date item as a day number)."""

    definition: RequirementDef
    applies: CompiledExpression
    record: CompiledExpression


@dataclass(frozen=True)
class CompiledCheck:
    """A check with its expression compiled against the record's items and the context dates."""

    definition: CheckDef
    expression: CompiledExpression


# --- the study ----------------------------------------------------------------------------------


class ProtocolMeta(Frozen):
    """Which protocol this is."""

    code: Code
    version: str
    format_version: Literal[1]
    effective_date: dt.date | None = None


class Study(Frozen):
    """A whole protocol file, validated.

    Lookups (items by code, compiled criteria) are cached on first use; build a changed study with
    the loader, not with ``model_copy(update=...)``, which would carry stale caches over.
    """

    protocol: ProtocolMeta
    identity: IdentityDef
    intervention: InterventionDef
    schedule: ScheduleDef
    items: list[ItemDef] = Field(min_length=1)
    forms: list[FormDef] = Field(min_length=1)
    derived_items: list[DerivedItemDef] = Field(default_factory=list)
    missing_codes: list[MissingCodeDef] = Field(default_factory=list)
    eligibility: EligibilityDef
    endpoints: EndpointsDef | None = None
    analysis: AnalysisDef | None = None
    checks: list[CheckDef] = Field(default_factory=list)
    files: FilesDef = Field(default_factory=FilesDef)

    def file_limit(self, item: ItemDef) -> int:
        """The size limit in bytes of a file item: its own ``max_bytes``, else the study's ``files.max_bytes``."""
        return item.max_bytes if item.max_bytes is not None else self.files.max_bytes

    @model_validator(mode="before")
    @classmethod
    def _timepoints(cls, data: object) -> object:
        """Forms with ``timepoints`` record each item at each time: expand them into items (:func:`expand_timepoints`)."""
        return expand_timepoints(data)

    @cached_property
    def requirements(self) -> tuple[CompiledRequirement, ...]:
        """The intervention's requirements, compiled (the loader has checked every expression)."""
        return tuple(
            CompiledRequirement(
                r, compile_expression(r.applies, self.item_specs), compile_expression(r.record, self.check_item_specs)
            )
            for r in self.intervention.requires
        )

    @cached_property
    def check_item_specs(self) -> dict[str, ItemSpec]:
        """The item specs for checks: date items and the :data:`CONTEXT_DATES` as day numbers (unit ``d``)."""
        specs = {code: (ItemSpec(code, "number", "d") if spec.type == "date" else spec) for code, spec in self.item_specs.items()}
        specs.update({name: ItemSpec(name, "number", "d") for name in CONTEXT_DATES})
        return specs

    @cached_property
    def checks_by_form(self) -> dict[str, tuple[CompiledCheck, ...]]:
        """The protocol's checks, compiled, by the forms they apply to (the loader has checked every expression)."""
        out: dict[str, tuple[CompiledCheck, ...]] = {}
        for check in self.checks:
            compiled = CompiledCheck(check, compile_expression(check.expression, self.check_item_specs))
            for form in check.forms:
                out[form] = (*out.get(form, ()), compiled)
        return out

    @cached_property
    def item_by_code(self) -> dict[str, ItemDef]:
        """Items keyed by code."""
        return {item.code: item for item in self.items}

    def in_item_order(self, codes: Iterable[str]) -> tuple[str, ...]:
        """The given item codes, sorted in the order the protocol lists its items."""
        position = self._item_position
        return tuple(sorted(codes, key=position.__getitem__))

    @cached_property
    def _item_position(self) -> dict[str, int]:
        return {item.code: i for i, item in enumerate(self.items)}

    @cached_property
    def form_by_code(self) -> dict[str, FormDef]:
        """Forms keyed by code."""
        return {form.code: form for form in self.forms}

    @cached_property
    def missing_code_by_code(self) -> dict[str, MissingCodeDef]:
        """The study's missing-data codes keyed by code."""
        return {code.code: code for code in self.missing_codes}

    def allowed_missing_codes(self, form_code: str, item_code: str) -> tuple[MissingCodeDef, ...]:
        """The missing-data codes an item of a form allows: the item's list, else the form's, else every study code.

        Items the form derives (its scores) allow none: they are computed, not entered.
        """
        return self._completion[form_code][1].get(item_code, ())

    def required_items(self, form_code: str) -> tuple[str, ...]:
        """The items a record of the form needs, each as a valid value or a missing-data code, to be complete.

        ``required: marked`` (the default): the form's items marked ``required: true``; ``all``: every item of
        the form except those it derives from its own items (the mRSS total, the SF-36 scales); a list: those.
        """
        return self._completion[form_code][0]

    def derived_on_form(self, form_code: str) -> frozenset[str]:
        """The form's items that derived items compute from the form's own items (shown as computed, not typed)."""
        return self._completion[form_code][2]

    @cached_property
    def _completion(self) -> dict[str, tuple[tuple[str, ...], dict[str, tuple[MissingCodeDef, ...]], frozenset[str]]]:
        out: dict[str, tuple[tuple[str, ...], dict[str, tuple[MissingCodeDef, ...]], frozenset[str]]] = {}
        codes = self.missing_code_by_code
        for form in self.forms:
            on_form = set(form.items)
            derived = frozenset(
                code
                for definition in self.derived_items
                if set(definition.inputs.values()) <= on_form
                for code in definition.outputs.values()
                if code in on_form
            )
            if form.required == "all":
                required = tuple(code for code in form.items if code not in derived)
            elif form.required == "marked":
                required = tuple(code for code in form.items if self.item_by_code[code].required)
            else:
                required = tuple(code for code in form.items if code in set(form.required))
            allowed: dict[str, tuple[MissingCodeDef, ...]] = {}
            for code in form.items:
                if code in derived:
                    continue
                item = self.item_by_code[code]
                chosen = item.missing_codes if item.missing_codes is not None else form.missing_codes
                allowed[code] = tuple(self.missing_codes) if chosen is None else tuple(codes[c] for c in chosen if c in codes)
            out[form.code] = (required, allowed, derived)
        return out

    @cached_property
    def intervention_form(self) -> FormDef:
        """The form that records the infusion (``intervention.form``).

        The loader has checked that it is a form of the protocol, so the lookup cannot fail for a
        study that came from :func:`~rodnan.core.protocol.load.load_protocol`.
        """
        return self.form_by_code[self.intervention.form]

    @cached_property
    def intervention_visit(self) -> VisitDef:
        """The fixed visit that collects the intervention form (the loader checks there is one)."""
        return next(visit for visit in self.schedule.visits if self.intervention.form in visit.forms)

    @property
    def intervention_items(self) -> InterventionRolesDef:
        """The item codes of the infusion's roles: ``.date``, ``.cells``, ``.weight``, ``.lot``, ``.donor``."""
        return self.intervention.roles

    @cached_property
    def log_forms(self) -> tuple[FormDef, ...]:
        """The log forms (repeating per subject), in protocol order."""
        return tuple(form for form in self.forms if form.kind == "log")

    @cached_property
    def scheduled_forms(self) -> tuple[FormDef, ...]:
        """The scheduled forms (one record per visit that lists them), in protocol order."""
        return tuple(form for form in self.forms if form.kind == "scheduled")

    @cached_property
    def item_specs(self) -> dict[str, ItemSpec]:
        """What the expression language needs of each item."""
        return {
            item.code: ItemSpec(
                code=item.code,
                type=item.type,
                unit=item.unit,
                molar_mass_g_per_mol=item.molar_mass_g_per_mol,
                choices=tuple(c.code for c in item.choices),
            )
            for item in self.items
        }

    @cached_property
    def endpoint_item_specs(self) -> dict[str, ItemSpec]:
        """The item specs plus the variables endpoint expressions may use (:data:`ENDPOINT_SUFFIXES`).

        ``<item>_base`` has the item's type and unit; ``<item>_chg`` the item's unit; ``<item>_pchg``
        the unit %. A generated name that is also an item code is left to the item (the loader
        reports the clash). Text, date and partial-date items get no variables.
        """
        specs = dict(self.item_specs)
        for item in self.items:
            if item.type in NON_EXPRESSION_TYPES:
                continue
            spec = self.item_specs[item.code]
            generated = {
                f"{item.code}_base": ItemSpec(f"{item.code}_base", spec.type, spec.unit, spec.molar_mass_g_per_mol, spec.choices)
            }
            if item.is_numeric:
                generated[f"{item.code}_chg"] = ItemSpec(f"{item.code}_chg", "number", spec.unit, spec.molar_mass_g_per_mol)
                generated[f"{item.code}_pchg"] = ItemSpec(f"{item.code}_pchg", "number", "%")
            for name, generated_spec in generated.items():
                specs.setdefault(name, generated_spec)
        return specs

    @cached_property
    def pathway_expressions(self) -> dict[str, CompiledExpression]:
        """The qualifying pathways (organ involvement), compiled, by code."""
        return {c.code: c.expression for c in self.criteria if c.kind == "pathway"}

    @cached_property
    def visit_by_code(self) -> dict[str, VisitDef]:
        """Every visit (fixed and generated) keyed by code."""
        return {visit.code: visit for visit in self.schedule.all_visits}

    @cached_property
    def criteria(self) -> tuple[CompiledCriterion, ...]:
        """Pathways, inclusion and exclusion criteria, compiled, in file order.

        The loader has already checked every expression, so compiling here cannot fail for a
        study that came from :func:`~rodnan.core.protocol.load.load_protocol`.
        """
        compiled: list[CompiledCriterion] = []
        named: dict[str, CompiledExpression] = {}
        sections: list[tuple[CriterionKind, list[CriterionDef]]] = [
            ("pathway", self.eligibility.pathways),
            ("inclusion", self.eligibility.inclusion),
            ("exclusion", self.eligibility.exclusion),
        ]
        for kind, definitions in sections:
            for definition in definitions:
                expression = compile_expression(definition.expression, self.item_specs, named)
                if kind == "pathway":
                    named[definition.code] = expression
                compiled.append(CompiledCriterion(kind, definition, expression))
        return tuple(compiled)


CriterionKind = Literal["pathway", "inclusion", "exclusion"]


@dataclass(frozen=True)
class CompiledCriterion:
    """A criterion with its expression compiled against the study's items."""

    kind: CriterionKind
    definition: CriterionDef
    expression: CompiledExpression

    @property
    def code(self) -> str:
        """The criterion's code."""
        return self.definition.code
