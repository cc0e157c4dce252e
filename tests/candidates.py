"""Hand-made screening candidates shared by the tests."""

from __future__ import annotations

# A candidate with no exclusion and no qualifying pathway: every value sits on the safe side of
# every threshold of the registry record. Tests add one change to make a pathway or exclusion hold.
NEUTRAL: dict[str, object] = {
    "acr_1980_met": True,
    "disease_duration_months": 36,
    "mrss": 15,
    "esr": 12,
    "hemoglobin": 130,  # g/L
    "vc_pct_pred": 85,
    "fvc_pct_pred": 83,
    "dlco_pct_pred": 80,
    "mpap_echo": 25,
    "albumin": 40,
    "weight_loss_12m_pct": 2,
    "urine_protein_24h": 0.1,
    "creatinine": 70,
    "uncontrolled_arrhythmia": False,
    "lvef": 62,
    "creatinine_clearance": 95,
    "platelets": 240,
    "hemorrhagic_cystitis": False,
    "hiv_positive": False,
    "htlv1_positive": False,
    "malignancy": False,
    "pregnant": False,
    "prosthesis": False,
    "vascular_access": True,
}

# The same candidate made eligible through the lung pathway only (DLCO 60 % predicted).
LUNG_ELIGIBLE: dict[str, object] = {**NEUTRAL, "dlco_pct_pred": 60}
