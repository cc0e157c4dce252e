"""Protocol models of who the study is, what it gives, when it sees subjects and whom it admits.

Identity (registry record), intervention (product, regimen and the roles of its form's items),
schedule (visits and series) and eligibility (criteria as expressions).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from rodnan.core.protocol.common import Code, Frozen, QuantityDef, VisitCode

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


class RegimenStepDef(Frozen):
    """One step of the treatment regimen, on a day counted from the start of conditioning (day 1)."""

    day: int = Field(ge=1)
    procedure: Literal["plasmapheresis", "chemotherapy", "cell_infusion"]
    agent: str | None = None
    dose: QuantityDef | None = Field(default=None, description="null when the record does not state it")
    source: str


class InterventionRolesDef(Frozen):
    """Which items of the intervention form carry what the platform needs of an infusion (item codes).

    Attributes:
        date: the infusion date (a date item; day 0 of the schedule).
        cells: the cells administered (a number of cells), checked against the dose per kg.
        weight: the body weight on the day of infusion (a number in a mass unit).
        lot: the product lot (text).
        donor: the donor code (text); None for a product without a donor code.
    """

    date: Code
    cells: Code
    weight: Code
    lot: Code
    donor: Code | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        """Every role's item code, in the order date, cells, weight, lot, donor."""
        return tuple(code for code in (self.date, self.cells, self.weight, self.lot, self.donor) if code is not None)


class RequirementDef(Frozen):
    """A record the intervention cannot be given without (``intervention.requires``): e.g. a negative pregnancy test
    within 7 days before the infusion for a woman of child-bearing potential.

    The infusion is refused unless, when ``applies`` is not false for the subject's screening values (true or
    unknown: a requirement whose condition is not known applies), some record of ``forms`` satisfies ``record``
    and holds in ``date`` a day from ``within_days`` days before the infusion up to the infusion day.
    """

    code: Code
    label: str = Field(min_length=1, description="the rule in plain words, shown to the user")
    applies: str = Field(default="true", description="over the screening values; the rule applies unless it is false")
    forms: list[Code] = Field(min_length=1, description="the forms whose records may satisfy it (scheduled or log)")
    record: str = Field(description="what a record of those forms must show (an expression over its items)")
    date: Code = Field(description="the date item of those forms that dates the record")
    within_days: int = Field(ge=0, description="the record is dated at most this many days before the infusion")
    within_days_source: str | None = None


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
    form: Code = Field(description="the form that records the infusion")
    roles: InterventionRolesDef = Field(description="which items of that form carry the date, cells, weight, lot and donor")
    requires: list[RequirementDef] = Field(default_factory=list, description="records the infusion cannot be given without")

    @model_validator(mode="after")
    def _infusion_in_regimen(self) -> InterventionDef:
        days = [s.day for s in self.regimen if s.procedure == "cell_infusion"]
        if days != [self.infusion_regimen_day] * self.infusions:
            raise ValueError(
                f"the regimen must list the cell infusion on regimen day {self.infusion_regimen_day} "
                f"({self.infusions} time(s)); it lists it on days {days}"
            )
        return self


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
    screening_visit: VisitCode = Field(description="the fixed visit before day 0 whose values the eligibility criteria read")
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
