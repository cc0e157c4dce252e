"""Protocol models of the endpoints: disease-free and overall survival, organ remission, responses."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from rodnan.core.protocol.common import Code, Frozen, VisitCode

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
