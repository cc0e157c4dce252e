"""The mix of a simulated screening pool: the fraction of candidates per scenario, and two rates."""

import math
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from rodnan.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]


ELIGIBLE_PREFIX = "eligible_"
EXCLUDED_PREFIX = "excluded_"


@dataclass(frozen=True)
class CandidateParams:
    """The mix of a simulated screening pool, as fractions of the candidates, and two rates.

    ``eligible_<pathway>`` and ``excluded_<exclusion>`` are named after the protocol's criterion
    codes. The fractions must sum to 1. The defaults are project estimates for the candidates a
    tertiary rheumatology centre in China would screen for a transplant trial in severe SSc; rare
    exclusions are over-represented on purpose so that every criterion is exercised.

    Raises:
        InputError: a fraction or rate outside [0, 1] or not a finite number, or fractions that do
            not sum to 1 (field, rule, value).
    """

    # eligible, through exactly one pathway
    eligible_rapidly_progressive: float = 0.08  # early diffuse disease with active inflammation (project estimate)
    eligible_lung: float = 0.18  # ILD, the commonest severe organ involvement, affects about half of dcSSc (approximate)
    eligible_digestive: float = 0.06  # severe GI involvement (weight loss, malnutrition) in under 10 % of SSc (approximate)
    eligible_kidney: float = 0.03  # renal involvement is uncommon outside scleroderma renal crisis (about 5 %, approximate)
    # ineligible by exactly one exclusion, each with one qualifying pathway
    excluded_arrhythmia: float = 0.01  # uncontrolled arrhythmia: rare in a screened population (project estimate)
    excluded_lvef_low: float = 0.01  # LVEF < 50 % in a few % of SSc, primary myocardial disease (approximate)
    excluded_mpap_high: float = 0.02  # severe PAH is a referral reason but excludes (project estimate)
    excluded_dlco_very_low: float = 0.04  # advanced ILD: the commonest screen failure among lung candidates
    excluded_crcl_low: float = 0.01  # advanced renal failure (project estimate)
    excluded_platelets_low: float = 0.01  # thrombocytopenia is uncommon in SSc (project estimate)
    excluded_cystitis: float = 0.005  # over-represented so it is exercised (follows cyclophosphamide only)
    excluded_hiv: float = 0.005  # over-represented so it is exercised (HIV prevalence in China is about 0.1 %)
    excluded_htlv1: float = 0.005  # over-represented so it is exercised (HTLV-1 is rare outside endemic areas)
    excluded_cancer: float = 0.02  # malignancy risk is raised in SSc (project estimate)
    excluded_pregnancy: float = 0.01  # women of child-bearing age are most SSc patients (project estimate)
    excluded_prosthesis_present: float = 0.01  # valve or vascular prosthesis (project estimate)
    excluded_no_vascular_access: float = 0.005  # digital ischaemia and failed lines (project estimate)
    # ineligible without an exclusion
    no_pathway: float = 0.30  # referred for severe SSc but no pathway threshold reached (project estimate)
    acr_not_met: float = 0.06  # early or limited SSc not fulfilling the 1980 ARA criteria (project estimate)
    # incomplete: one deciding value missing; the item is drawn uniformly among the screening form's items
    incomplete: float = 0.13  # a lab result or test still pending at screening (project estimate)
    # rates
    missing_rate: float = 0.05  # chance that a value which cannot change the verdict is left empty (project estimate)
    alternative_unit_rate: float = 0.3  # share of the columns with an alternative unit written in it (about 3 of 9)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise InputError(f.name, "must be a finite number", value)
            if not 0 <= value <= 1:
                raise InputError(f.name, "must be between 0 and 1", value)
        total = sum(self.fractions.values())
        if abs(total - 1) > 1e-9:
            raise InputError("fractions", "the scenario fractions must sum to 1", round(total, 12))

    @property
    def fractions(self) -> dict[str, float]:
        """The scenario fractions by field name (every field but the two rates)."""
        return {
            f.name: float(getattr(self, f.name)) for f in fields(self) if f.name not in ("missing_rate", "alternative_unit_rate")
        }
