"""The study definition: typed, frozen models of a protocol file.

One :class:`Study` drives everything: the forms, the schedule, the eligibility criteria. Models
ending in ``Def`` are definitions from the protocol, never captured data. Field-level rules are
checked by pydantic; rules that look across the document (references between forms, items, visits
and expressions) are checked in :mod:`rodnan.core.protocol.load`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from rodnan.core.expr import CompiledExpression, ItemSpec, compile_expression

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
"""An identifier usable in expressions: lower case letters, digits and underscores."""

VisitCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=20)]


class Frozen(BaseModel):
    """Base of every protocol model: immutable, and unknown keys are an error (catches typos)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- identity -----------------------------------------------------------------------------------


class SiteDef(Frozen):
    """A study site."""

    code: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9_-]+$")]
    name: str
    city: str
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(description="ISO 3166-1 alpha-2")


class DesignDef(Frozen):
    """Study design as registered."""

    allocation: Literal["na", "randomized", "non_randomized"]
    intervention_model: Literal["single_group", "parallel", "crossover", "factorial", "sequential"]
    masking: Literal["none", "single", "double", "triple", "quadruple"]
    arms: int = Field(ge=1)


class OutcomeDef(Frozen):
    """A registered outcome measure."""

    kind: Literal["primary", "secondary"]
    measures: list[str] = Field(min_length=1)
    time_frame: str
    record_text: str


class IdentityDef(Frozen):
    """Who and what the study is, as in the registry record."""

    registry: str
    registry_number: Annotated[str, StringConstraints(pattern=r"^NCT\d{8}$")]
    title: str
    sponsor: str
    sites: list[SiteDef] = Field(min_length=1)
    conditions: list[str] = Field(min_length=1)
    study_type: Literal["interventional", "observational"]
    design: DesignDef
    sex: Literal["all", "female", "male"]
    target_enrolment: int = Field(ge=1)
    registry_status: Literal["not_yet_recruiting", "recruiting", "active", "completed", "terminated", "withdrawn", "unknown"]
    registered_on: dt.date | None = None
    objectives: list[str] = Field(min_length=1)
    outcomes: list[OutcomeDef] = Field(min_length=1)


# --- intervention -------------------------------------------------------------------------------


class QuantityDef(Frozen):
    """A number with a UCUM unit."""

    value: float
    unit: str

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}"


class RegimenStepDef(Frozen):
    """One step of the treatment regimen, on a day counted from the start of conditioning (day 1)."""

    day: int = Field(ge=1)
    procedure: Literal["plasmapheresis", "chemotherapy", "cell_infusion"]
    agent: str | None = None
    dose: QuantityDef | None = Field(default=None, description="null when the record does not state it")
    source: str


class InterventionDef(Frozen):
    """The investigational product and the regimen around it."""

    code: Code
    name: str
    kind: Literal["biological", "drug", "procedure"]
    cell_type: str
    donor: Literal["allogeneic", "autologous"]
    route: Literal["intravenous"]
    infusions: int = Field(ge=1)
    dose: QuantityDef = Field(description="per kg body weight; the unit says so")
    dose_basis: Literal["actual_body_weight"]
    dose_tolerance: float = Field(default=0.1, gt=0, lt=1, description="accepted relative deviation from the dose per kg")
    dose_tolerance_source: str | None = None
    infusion_regimen_day: int = Field(ge=1, description="regimen day of the infusion; schedule day 0")
    regimen: list[RegimenStepDef] = Field(min_length=1)
    source: str

    @model_validator(mode="after")
    def _infusion_in_regimen(self) -> InterventionDef:
        days = [s.day for s in self.regimen if s.procedure == "cell_infusion"]
        if days != [self.infusion_regimen_day] * self.infusions:
            raise ValueError(
                f"the regimen must list the cell infusion on regimen day {self.infusion_regimen_day} "
                f"({self.infusions} time(s)); it lists it on days {days}"
            )
        return self


# --- items and forms ----------------------------------------------------------------------------


class StandardCodeDef(Frozen):
    """A code in a standard terminology (LOINC, SNOMED CT, CDISC)."""

    system: Literal["LOINC", "SNOMED-CT", "CDISC", "MedDRA"]
    code: str
    display: str


class ChoiceDef(Frozen):
    """One allowed answer of a choice item."""

    code: Code
    label: str


class RangeDef(Frozen):
    """Plausible range in the item's unit: outside ``min``/``max`` is an error, outside ``soft_*`` a warning."""

    min: float | None = None
    max: float | None = None
    soft_min: float | None = None
    soft_max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> RangeDef:
        bounds = [b for b in (self.min, self.soft_min, self.soft_max, self.max) if b is not None]
        if bounds != sorted(bounds):
            raise ValueError("bounds must be ordered min <= soft_min <= soft_max <= max")
        return self


class ItemDef(Frozen):
    """One data item: what is collected, in which unit, within which range."""

    code: Code
    label: str
    type: Literal["number", "integer", "boolean", "choice", "text", "date"]
    unit: str | None = Field(default=None, description="UCUM; required for number and integer items")
    accepted_units: list[str] = Field(default_factory=list)
    molar_mass: QuantityDef | None = Field(default=None, description="g/mol; lets mass and substance units convert")
    range: RangeDef | None = None
    required: bool = False
    choices: list[ChoiceDef] = Field(default_factory=list)
    codes: list[StandardCodeDef] = Field(default_factory=list)
    description: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ItemDef:
        numeric = self.type in ("number", "integer")
        if numeric and self.unit is None:
            raise ValueError(f"a {self.type} item needs a unit (UCUM; '1' or '{{score}}' for a pure number)")
        if not numeric and (self.unit or self.accepted_units or self.range or self.molar_mass):
            raise ValueError(f"a {self.type} item takes no unit, accepted_units, molar_mass or range")
        if (self.type == "choice") != bool(self.choices):
            raise ValueError("choices are required for a choice item and only allowed there")
        if self.molar_mass is not None and self.molar_mass.unit != "g/mol":
            raise ValueError("molar_mass must be given in g/mol")
        return self

    @property
    def is_numeric(self) -> bool:
        """True for number and integer items."""
        return self.type in ("number", "integer")

    @property
    def molar_mass_g_per_mol(self) -> float | None:
        """The molar mass in g/mol, if the protocol gives one."""
        return None if self.molar_mass is None else self.molar_mass.value


class FormDef(Frozen):
    """A case report form: an ordered list of item codes from the study's item catalogue."""

    code: Code
    label: str
    short_label: str | None = Field(default=None, max_length=16, description="column heading in visit grids (default: the label)")
    instrument: str | None = Field(default=None, description="published instrument the form implements")
    items: list[Code] = Field(min_length=1)

    @property
    def heading(self) -> str:
        """The short label, or the label when the protocol gives none."""
        return self.short_label or self.label


# --- schedule -----------------------------------------------------------------------------------


class VisitDef(Frozen):
    """A scheduled visit: target day relative to the anchor (the infusion is day 0) and its window."""

    code: VisitCode
    label: str
    day: int
    window_before: int = Field(ge=0)
    window_after: int = Field(ge=0)
    forms: list[Code] = Field(min_length=1)


class VisitSeriesDef(Frozen):
    """Repeating visits: every ``every_months`` months through the follow-up, collecting ``forms``.

    Series that fall on the same month add their forms to one visit.
    """

    every_months: int = Field(ge=1)
    forms: list[Code] = Field(min_length=1)


class ScheduleDef(Frozen):
    """Schedule of assessments."""

    anchor: Literal["infusion"]
    follow_up_months: int = Field(ge=1, le=120)
    days_per_month: float = Field(gt=0, description="converts month n to a target day offset")
    window_days: int = Field(ge=0, description="default window, each side, for follow-up visits")
    window_source: str
    visit_code_format: str = "M{month}"
    visit_label_format: str = "Month {month}"
    visits: list[VisitDef] = Field(min_length=1, description="fixed visits (screening, infusion)")
    series: list[VisitSeriesDef] = Field(min_length=1)

    @property
    def all_visits(self) -> tuple[VisitDef, ...]:
        """The fixed visits and the follow-up visits the series generate, in day order."""
        monthly: dict[int, list[str]] = {}
        for series in self.series:
            for month in range(series.every_months, self.follow_up_months + 1, series.every_months):
                forms = monthly.setdefault(month, [])
                forms += [f for f in series.forms if f not in forms]
        generated = [
            VisitDef(
                code=self.visit_code_format.format(month=month),
                label=self.visit_label_format.format(month=month),
                day=round(month * self.days_per_month),
                window_before=self.window_days,
                window_after=self.window_days,
                forms=forms,
            )
            for month, forms in sorted(monthly.items())
        ]
        return tuple(sorted([*self.visits, *generated], key=lambda v: v.day))


# --- eligibility --------------------------------------------------------------------------------


class ClarificationDef(Frozen):
    """How we read a passage of the registry record that cannot be taken literally."""

    record_text: str
    read_as: str
    reason: str


class CriterionDef(Frozen):
    """An eligibility criterion or qualifying pathway, as an expression over item codes."""

    code: Code
    label: str
    expression: str
    record_text: str
    note: str | None = None


class EligibilityDef(Frozen):
    """Inclusion, exclusion and the qualifying pathways inclusion may refer to by code."""

    interpretation: str
    clarifications: list[ClarificationDef] = Field(default_factory=list)
    pathways: list[CriterionDef] = Field(default_factory=list)
    inclusion: list[CriterionDef] = Field(min_length=1)
    exclusion: list[CriterionDef] = Field(default_factory=list)


# --- derived items --------------------------------------------------------------------------------


class DerivedItemDef(Frozen):
    """Items computed by a published instrument from other items when they were not measured.

    A measured value always wins; a derived value says which instrument and items it came from.
    """

    instrument: str = Field(description="instrument code (rodnan.core.instruments.REGISTRY)")
    inputs: dict[str, Code] = Field(min_length=1, description="instrument input code -> item code")
    constants: dict[str, str | float] = Field(default_factory=dict, description="instrument input code -> fixed value")
    outputs: dict[str, Code] = Field(min_length=1, description="'value' or an instrument subscore -> item code")
    options: dict[str, str] = Field(default_factory=dict)
    option_items: dict[str, Code] = Field(
        default_factory=dict, description="option name -> choice item whose answer is the option (e.g. the SF-36 form)"
    )
    note: str | None = None


# --- endpoints ------------------------------------------------------------------------------------

ShortCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]{0,7}$")]
"""A code of at most 8 letters and digits (it becomes an 8-character parameter code in exports)."""

OrganCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]{0,4}$")]
"""A code of at most 5 letters and digits (prefixed by 'RM' or 'SRM' in exports)."""

ENDPOINT_SUFFIXES = ("base", "chg", "pchg")
"""Variables endpoint expressions may use besides items: ``<item>_base`` (the baseline value), and for
number items ``<item>_chg`` (value - baseline, in the item's unit) and ``<item>_pchg`` (100 x change /
baseline, in %)."""


class ConfirmationDef(Frozen):
    """A finding counts as confirmed when a later assessment within ``within_days`` meets the rule too."""

    within_days: int = Field(ge=1, le=366)
    source: str | None = None


class EventRuleDef(Frozen):
    """One event of a time-to-event endpoint, as a named rule.

    A rule fires on death (``death: true``), on an expression over an assessment's values (with the
    ``_base``/``_chg``/``_pchg`` variables), on new involvement of an organ (a pathway not met at
    baseline met at an assessment), or on an adverse event whose term is listed; any of its triggers
    fires it.
    """

    code: Code
    label: str
    enabled: bool = True
    death: bool = False
    expression: str | None = None
    new_involvement: list[Code] = Field(default_factory=list, description="pathway codes (organs)")
    adverse_event_terms: list[str] = Field(default_factory=list, description="matched case-insensitively")
    confirmation: ConfirmationDef | None = None
    source: str
    note: str | None = None

    @model_validator(mode="after")
    def _triggers(self) -> EventRuleDef:
        others = self.expression is not None or self.new_involvement or self.adverse_event_terms
        if self.death and (others or self.confirmation is not None):
            raise ValueError("a death rule takes no expression, new_involvement, adverse_event_terms or confirmation")
        if self.enabled and not (self.death or others):
            raise ValueError("an enabled rule needs death, an expression, new_involvement or adverse_event_terms")
        if self.confirmation is not None and self.expression is None and not self.new_involvement:
            raise ValueError("confirmation applies to assessments: it needs an expression or new_involvement")
        return self


class DfsDef(Frozen):
    """Disease-free survival: time from the origin to the first event of any enabled rule."""

    label: str
    origin: Literal["infusion"]
    possible_events: Literal["count", "ignore"] = Field(
        default="count", description="whether an unconfirmed ('possible') finding of a rule with confirmation is an event"
    )
    censoring: Literal["last_complete_assessment", "last_assessment"] = Field(
        default="last_complete_assessment", description="censor at the last assessment where every rule was decided, or at any"
    )
    events: list[EventRuleDef] = Field(min_length=1)
    source: str


class OsDef(Frozen):
    """Overall survival: time from the origin to death from any cause."""

    label: str
    origin: Literal["infusion"]
    source: str


class TriggerDef(Frozen):
    """Whether something happened between the origin and a visit: an expression at any assessment, or an adverse event."""

    expression: str | None = None
    adverse_event_terms: list[str] = Field(default_factory=list)
    note: str | None = None

    @model_validator(mode="after")
    def _some(self) -> TriggerDef:
        if self.expression is None and not self.adverse_event_terms:
            raise ValueError("a trigger needs an expression or adverse_event_terms")
        return self


class ResponseDef(Frozen):
    """A response at one visit: an expression over that visit's values, or a published instrument."""

    code: ShortCode
    label: str
    visit: VisitCode
    expression: str | None = None
    instrument: Literal["acr_criss"] | None = None
    step1_events: dict[str, TriggerDef] = Field(default_factory=dict, description="CRISS step-1 input -> trigger")
    source: str
    note: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ResponseDef:
        if (self.expression is None) == (self.instrument is None):
            raise ValueError("a response needs exactly one of expression and instrument")
        if self.step1_events and self.instrument != "acr_criss":
            raise ValueError("step1_events belong to the acr_criss instrument")
        return self


class SustainedDef(Frozen):
    """Sustained = met at ``visits`` consecutive scheduled visits ``every_months`` months apart."""

    visits: int = Field(ge=2)
    every_months: int = Field(ge=1)


class RemissionOrganDef(Frozen):
    """Remission of one organ, for subjects whose pathway (involvement) was met at baseline."""

    code: OrganCode
    label: str
    pathway: Code
    expression: str


class RemissionDef(Frozen):
    """Organ remission per organ involved at baseline, and its sustained form."""

    label: str
    sustained: SustainedDef
    organs: list[RemissionOrganDef] = Field(min_length=1)
    source: str
    note: str | None = None


class EndpointsDef(Frozen):
    """The trial's endpoints: DFS with its event rules, OS, organ remission, responses at a visit."""

    dfs: DfsDef
    os: OsDef
    remission: RemissionDef | None = None
    responses: list[ResponseDef] = Field(default_factory=list)


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
    eligibility: EligibilityDef
    endpoints: EndpointsDef | None = None

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
        reports the clash). Text and date items get no variables.
        """
        specs = dict(self.item_specs)
        for item in self.items:
            if item.type in ("text", "date"):
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
