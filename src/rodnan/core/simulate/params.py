"""Parameters of the simulated cohort, in one place, each default with its source or rationale.

Where this trial's publications give a number it is used (shared/domain.md §0: Zhang H et al.,
Arthritis Res Ther 2017;19:165, n = 14, mRSS 20.1 ± 3.1 at baseline and 13.8 ± 10.2 at 12 months;
Alip M et al., Clin Rheumatol 2024;43:1073-82, 5-year overall survival 92.7 %). Elsewhere the
defaults are typical of published diffuse cutaneous SSc cohorts and Chinese adult reference values,
stated as such; every one can be changed (``SimulationParams(..., effect_mrss_12m=-3)``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, fields

from rodnan.errors import InputError


@dataclass(frozen=True)
class SimulationParams:
    """Everything the cohort simulator draws from. Times in months unless named otherwise."""

    # accrual: the trial was registered in August 2009 and treated patients from 2009 (Alip 2024)
    accrual_start: dt.date = dt.date(2009, 9, 1)
    accrual_months: float = 24.0  # project choice: 20 patients over two years at one site

    # demographics: SSc affects women about 4-5 times as often as men (female fraction in dcSSc
    # cohorts 0.75-0.85); adult height/weight: Chinese national physical fitness surveillance 2014
    female_fraction: float = 0.80
    age_mean_years: float = 40.0  # mean age of Chinese dcSSc cohorts is about 40-45 (project estimate)
    age_sd_years: float = 11.0
    height_cm: tuple[float, float, float, float] = (158.0, 5.5, 169.5, 6.0)  # female mean, sd; male mean, sd
    bmi_mean: float = 21.5  # lower than the general population: SSc weight loss (project estimate)
    bmi_sd: float = 2.8
    disease_duration_median_months: float = 18.0  # rapidly progressive refractory disease
    diffuse_fraction: float = 0.85  # the trial treats refractory, mostly diffuse disease (project estimate)

    # how each patient qualified (inclusion pathways); at least one holds for every simulated patient
    pathway_fractions: tuple[float, float, float, float] = (0.35, 0.45, 0.12, 0.08)  # rapid, lung, digestive, kidney

    # skin: Zhang 2017 (this trial): mRSS 20.1 ± 3.1 at baseline, 13.8 ± 10.2 at 12 months
    mrss_baseline_mean: float = 20.1
    mrss_baseline_sd: float = 3.1
    effect_mrss_12m: float = -6.3  # 13.8 - 20.1 (Zhang 2017)
    mrss_sd_12m: float = 10.2  # Zhang 2017; sets the spread of individual responses
    mrss_measurement_sd: float = 2.0  # inter-visit noise of palpation (project estimate; MCID 3.5-5.3)
    response_time_constant: float = 3.0  # months to 63 % of the individual effect (project choice)

    # function and quality of life: SSc cohorts report HAQ-DI about 1.0 and SF-36 PCS about 35
    haq_baseline_mean: float = 1.1
    haq_baseline_sd: float = 0.6
    effect_haq_12m: float = -0.30  # project estimate, in line with the skin response
    physical_health_z_baseline: float = -1.5  # latent physical health (SF-36 PCS about 35)
    mental_health_z_baseline: float = -0.8  # latent mental health (SF-36 MCS about 42)
    effect_health_z_12m: float = 0.5  # improvement of both latent health scores at 12 months

    # lung function (% predicted) and pulmonary pressure; lung involvement is common in dcSSc
    fvc_pct_mean: float = 76.0
    fvc_pct_sd: float = 14.0
    dlco_pct_mean: float = 62.0
    dlco_pct_sd: float = 13.0
    effect_fvc_pct_12m: float = 2.0  # project estimate (Zhang 2017 reports lung function stable or better)
    mpap_mean_mmhg: float = 27.0
    mpap_sd_mmhg: float = 6.0

    # safety and follow-up
    survival_5y: float = 0.927  # Alip 2024: 5-year overall survival 92.7 % (constant hazard)
    withdrawal_per_year: float = 0.05  # project estimate
    lost_per_year: float = 0.03  # project estimate
    missed_visit_probability: float = 0.05  # project estimate
    late_visit_probability: float = 0.06  # outside the window (project estimate)
    missing_item_probability: float = 0.02  # an item left empty on a completed form (project estimate)
    alternative_unit_fraction: float = 0.05  # lab values reported in another accepted unit
    infusion_reaction_probability: float = 0.10  # MSC infusions are well tolerated (Alip 2024: no MSCT-related AE)
    fever_probability: float = 0.15  # after cyclophosphamide and plasmapheresis conditioning (project estimate)
    infections_per_year: float = 0.30  # immunosuppressed SSc patients (project estimate)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise InputError(f.name, "must be a finite number", value)
            if (f.name.endswith(("_probability", "_fraction", "_per_year")) or f.name == "survival_5y") and not 0 <= value <= 1:
                raise InputError(f.name, "must be between 0 and 1", value)
            if f.name.endswith("_sd") and value < 0:
                raise InputError(f.name, "must not be negative", value)
        if abs(sum(self.pathway_fractions) - 1) > 1e-9 or min(self.pathway_fractions) < 0:
            raise InputError("pathway_fractions", "must be four non-negative fractions summing to 1", self.pathway_fractions)
        if self.accrual_months <= 0 or self.response_time_constant <= 0:
            raise InputError("accrual_months", "durations must be positive", (self.accrual_months, self.response_time_constant))

    @property
    def death_hazard_per_year(self) -> float:
        """Constant hazard reproducing the 5-year survival: -ln(S5) / 5."""
        return -math.log(self.survival_5y) / 5
