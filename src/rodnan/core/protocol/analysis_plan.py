"""Protocol models of the analysis plan: parameters, baseline, change over time and the Cox models.

Everything trial-specific the analysis needs (which items become which ADaM parameters, which are
modelled over time, which baseline covariates enter the Cox models and per which step) is declared in
the protocol's ``analysis:`` section; :mod:`rodnan.core.analysis` holds only the methods.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from rodnan.core.protocol.common import Code, Frozen, VisitCode

ParamCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{0,7}$")]
"""A CDISC-style variable name: at most 8 upper-case letters and digits (PARAMCD, ADSL variable)."""


class ParameterDef(Frozen):
    """How an item maps to an analysis parameter (BDS PARAMCD) and to its ADSL baseline variable.

    A number or integer item gives BDS rows and a numeric baseline covariate; a choice item gives only
    the baseline answer (its choice code) as a character covariate.
    """

    code: ParamCode
    item: Code
    baseline: ParamCode = Field(description="the ADSL baseline variable")
    short_label: str | None = Field(default=None, max_length=24, description="name in tables and figures (default: item label)")

    @property
    def paramcd(self) -> str:
        """The BDS parameter code (the same as ``code``)."""
        return self.code

    @property
    def baseline_variable(self) -> str:
        """The ADSL baseline variable (the same as ``baseline``)."""
        return self.baseline


class CoxCovariateDef(Frozen):
    """A baseline covariate of the Cox models: the ADSL column, its label, and the step its hazard ratio is per.

    For a choice covariate (``positive`` set) the model's variable is 1 for that code, 0 for any other code
    and missing when the baseline answer is missing.
    """

    column: ParamCode = Field(description="an ADSL baseline variable of a parameter")
    label: str
    per: float = Field(default=1.0, gt=0)
    unit: str = ""
    positive: Code | None = Field(default=None, description="the choice code counted as 1 (choice covariates)")

    @property
    def per_label(self) -> str:
        """What the hazard ratio is per: "per 5 points", "positive vs not"."""
        if self.positive is not None:
            return f"{self.positive} vs not"
        return f"per {self.per:g} {self.unit}".rstrip()


class CoxDef(Frozen):
    """The Cox models: univariable per covariate, and the prespecified multivariable model."""

    covariates: list[CoxCovariateDef] = Field(min_length=1)
    multivariable: list[ParamCode] = Field(default_factory=list, description="prespecified covariates, in priority order")
    min_events_per_covariate: int = Field(
        default=5, ge=1, description="a multivariable model gets one covariate per this many events"
    )


class AnalysisDef(Frozen):
    """The trial-specific choices of the statistical analysis plan."""

    baseline: Literal["last_on_or_before_infusion"] = Field(
        default="last_on_or_before_infusion",
        description="the baseline record: the last value on or before the infusion date (enrolment for the never infused)",
    )
    adsl_items: dict[Literal["AGE", "SEX"], Code] = Field(
        default_factory=dict, description="ADSL variable -> the item it comes from when the subjects table lacks it"
    )
    parameters: list[ParameterDef] = Field(min_length=1)
    longitudinal: list[ParamCode] = Field(default_factory=list, description="parameters modelled over time (mixed model)")
    organ_parameters: list[ParamCode] = Field(default_factory=list, description="parameters of organ function")
    comparison_visit: VisitCode = Field(description="the visit the paired Wilcoxon test compares with baseline")
    cox: CoxDef

    @property
    def parameter_by_code(self) -> dict[str, ParameterDef]:
        """Parameters keyed by PARAMCD."""
        return {p.code: p for p in self.parameters}

    @property
    def short_labels(self) -> dict[str, str]:
        """PARAMCD -> short name, for the parameters that have one."""
        return {p.code: p.short_label for p in self.parameters if p.short_label}
