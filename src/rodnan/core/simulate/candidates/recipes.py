"""How each screening item's value is drawn: truncated normal states bounded by the criteria's thresholds
(with :data:`MARGIN`), the state that meets each exclusion, and the ways a pathway is met or failed.

These tables are written for the four pathways of NCT00962923; :mod:`~rodnan.core.simulate.candidates.scenarios`
checks them against the protocol.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]


MARGIN = 0.02
"""Least distance of a deciding value from its threshold, as a fraction of the threshold (issue #4)."""

SUBJECT_PREFIX = "SIM-"
SUBJECT_DIGITS = 7
SCREENING_FORM = "screening"
DEMOGRAPHIC_ITEMS = ("sex", "age", "body_weight")  # feed the Cockcroft-Gault clearance and the pregnancy check

FEMALE_FRACTION = 0.80  # SSc affects women about 4-5 times as often as men (as SimulationParams.female_fraction)
AGE_YEARS = (45.0, 12.0, 18.0, 70.0)  # mean, sd, min, max: SSc screened in China is mostly 30-60 (project estimate)
CHILD_BEARING_AGE = (20.0, 42.0)  # age of the pregnant and of those whose pregnancy test is pending (project choice)
WEIGHT_KG = ((54.0, 64.0), 8.5, 35.0, 110.0)  # (female, male) mean, sd, min, max: Chinese adults, SSc a little lighter

# Cockcroft-Gault in SI units (domain.md §8.1): CrCl = (140 - age) x weight x 88.4/72 / SCr(umol/L), x 0.85 if female
CG_CONSTANT = 88.4 / 72
CG_FEMALE = 0.85
CLEARANCE_NOISE = (0.10, 0.25)  # sd and bound of log(measured / Cockcroft-Gault): a 24-h clearance scatters ~10 %
CREATININE_FOR_CLEARANCE = 25.0  # a kidney candidate's creatinine keeps its estimated clearance above this (mL/min)

DECIMALS: dict[str, int] = {
    "age": 0, "body_weight": 1, "disease_duration_months": 1, "mrss": 0, "esr": 0, "hemoglobin": 0,
    "vc_pct_pred": 0, "fvc_pct_pred": 0, "dlco_pct_pred": 0, "mpap_echo": 0, "albumin": 1, "weight_loss_12m_pct": 1,
    "urine_protein_24h": 2, "creatinine": 0, "lvef": 0, "creatinine_clearance": 1, "platelets": 0,
}  # fmt: skip
"""Decimals of each item in its own unit, as Chinese hospital reports print them (Hb g/L, creatinine umol/L
and platelets 10^9/L whole, albumin g/L to 0.1). A column in another unit gets as many more decimals as
the unit is larger, so it keeps the same precision."""

REJECTION_ROUNDS = 40
"""Redraws of a truncated normal before the last few values are taken uniform in their interval."""


@dataclass(frozen=True)
class ValueState:
    """A way an item's value is drawn: a normal truncated to an interval.

    ``sides`` are (criterion code, whether the criterion's comparison on this item holds); each one
    bounds the interval at the criterion's threshold, :data:`MARGIN` away on the chosen side. ``low``
    and ``high`` narrow the item's plausible range to what is realistic for this state.
    """

    sides: tuple[tuple[str, bool], ...]
    mean: float | tuple[float, float]  # (female, male) where the sexes differ
    sd: float
    low: float | None = None
    high: float | None = None


RP, LUNG, DIGESTIVE, KIDNEY = "rapidly_progressive", "lung", "digestive", "kidney"
PATHWAYS = (RP, LUNG, DIGESTIVE, KIDNEY)

# The first state of each item is its default (the side where no criterion is met). Means and sds are
# project estimates for SSc patients; Chinese adult reference intervals (WS/T 404-2012, WS/T 405-2012):
# Hb 115-150 (F) / 130-175 (M) g/L, albumin 40-55 g/L, creatinine about 41-81 (F) / 57-111 (M) umol/L,
# platelets 125-350 10^9/L.
STATES: dict[str, dict[str, ValueState]] = {
    "disease_duration_months": {
        "long": ValueState(((RP, False),), 70, 45, high=360),
        "short": ValueState(((RP, True),), 12, 6, low=1),
        "free": ValueState((), 45, 40, low=1, high=360),
    },
    "mrss": {
        "low": ValueState(((RP, False),), 11, 5, low=2),
        "high": ValueState(((RP, True),), 27, 5, high=45),
        "free": ValueState((), 16, 8, low=2, high=45),
    },
    "esr": {
        "low": ValueState(((RP, False),), 13, 6, low=2),
        "high": ValueState(((RP, True),), 45, 18, high=120),
        "free": ValueState((), 20, 14, low=2, high=120),
    },
    "hemoglobin": {
        "normal": ValueState(((RP, False),), (124, 138), 10, high=175),
        "low": ValueState(((RP, True),), (98, 101), 7, low=70),
        "free": ValueState((), (119, 132), 14, low=70, high=175),
    },
    "fvc_pct_pred": {
        "normal": ValueState(((LUNG, False),), 92, 12, high=135),
        "low": ValueState(((LUNG, True),), 56, 8, low=30),
    },
    "vc_pct_pred": {  # drawn around the same candidate's FVC + 3 (slow VC is a little larger than FVC)
        "normal": ValueState(((LUNG, False),), 95, 3, high=140),
        "free": ValueState((), 60, 3, low=30, high=140),
    },
    "dlco_pct_pred": {
        "normal": ValueState(((LUNG, False),), 85, 12, high=130),
        "low": ValueState(((LUNG, True), ("dlco_very_low", False)), 60, 6),
        "reduced": ValueState((("dlco_very_low", False),), 62, 10, high=110),
        "very_low": ValueState((("dlco_very_low", True),), 37, 5, low=15),
    },
    "mpap_echo": {
        "normal": ValueState(((LUNG, False),), 22, 5, low=10),
        "ph": ValueState(((LUNG, True), ("mpap_high", False)), 44.5, 2.5),
        "high": ValueState((("mpap_high", True),), 57, 6, high=80),
    },
    "albumin": {
        "normal": ValueState(((DIGESTIVE, False),), 38, 4.5, high=50),
        "low": ValueState(((DIGESTIVE, True),), 22.5, 1.5, low=18),
    },
    "weight_loss_12m_pct": {
        "normal": ValueState(((DIGESTIVE, False),), 1.5, 3.5, low=-10),
        "high": ValueState(((DIGESTIVE, True),), 14, 3.5, high=30),
    },
    "urine_protein_24h": {
        "normal": ValueState(((KIDNEY, False),), 0.12, 0.08, low=0.02),
        "high": ValueState(((KIDNEY, True),), 1.3, 0.9, high=6),
    },
    "creatinine": {
        "normal": ValueState(((KIDNEY, False),), (58, 75), 12, low=35),
        "high": ValueState(((KIDNEY, True),), 170, 45, high=1500),
    },
    "lvef": {
        "normal": ValueState((("lvef_low", False),), 63, 5, high=78),
        "low": ValueState((("lvef_low", True),), 43, 4, low=25),
    },
    "platelets": {
        "normal": ValueState((("platelets_low", False),), 230, 65, high=500),
        "low": ValueState((("platelets_low", True),), 64, 9, low=30),
    },
    "creatinine_clearance": {  # measured clearance: Cockcroft-Gault x noise (normal), or a drawn low value
        "normal": ValueState((("crcl_low", False),), 90, 25, high=250),
        "low": ValueState((("crcl_low", True),), 13, 3.5, low=6),
    },
}

EXCLUSION_STATE: dict[str, tuple[str, str]] = {
    "lvef_low": ("lvef", "low"),
    "mpap_high": ("mpap_echo", "high"),
    "dlco_very_low": ("dlco_pct_pred", "very_low"),
    "crcl_low": ("creatinine_clearance", "low"),
    "platelets_low": ("platelets", "low"),
}
"""The state that meets each numeric exclusion (the yes/no exclusions are read from their expressions)."""

FORCED_PATHWAY: dict[str, str] = {"mpap_high": LUNG, "dlco_very_low": LUNG, "crcl_low": KIDNEY}
"""Exclusions that imply a pathway: mPAP > 50 is > 40, DLCO < 45 % is < 70 %, and a clearance below
20 mL/min goes with a creatinine far above 120 umol/L."""

# How a met or failed pathway comes about (project estimates)
RP_MET_MODES = (0.55, 0.15, 0.30)  # ESR > 25, Hb < 11 g/dL, both
RP_FAIL_MODES = (0.60, 0.25, 0.15)  # disease too long, skin score too low, no inflammation
LUNG_MET_MODES = (0.55, 0.30, 0.15)  # ILD with low FVC, isolated low DLCO, pulmonary hypertension
DIGESTIVE_MET_MODES = (0.60, 0.25, 0.15)  # weight loss, low albumin, both
KIDNEY_MET_MODES = (0.60, 0.25, 0.15)  # proteinuria, raised creatinine, both
