"""Shared fixtures: the bundled protocol and a candidate who is eligible through one pathway."""

from __future__ import annotations

import pytest

from rodnan.core.protocol import Study, load_protocol


@pytest.fixture(scope="session")
def study() -> Study:
    """The bundled NCT00962923 protocol."""
    return load_protocol()


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


@pytest.fixture
def neutral() -> dict[str, object]:
    """A candidate meeting no pathway and no exclusion (a fresh copy per test)."""
    return dict(NEUTRAL)


@pytest.fixture
def lung_eligible() -> dict[str, object]:
    """A candidate eligible through the lung pathway alone (a fresh copy per test)."""
    return dict(LUNG_ELIGIBLE)
