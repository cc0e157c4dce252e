"""Simulated medical history of a patient with systemic sclerosis: the entries of the protocol's log form
``medical_history`` for the demo and the tests (made up; no real patient).

Each patient gets Raynaud's phenomenon (the first sign in almost every patient with SSc: about 95 %,
LeRoy & Medsger, J Rheumatol 2001;28:1573) with its onset a few years before screening, known to the
month only (a partial date), and, with the frequencies below, some of the common comorbidities.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

FORM = "medical_history"
"""The protocol's log form these entries belong to."""

CONDITIONS: tuple[tuple[str, float, bool], ...] = (
    ("Gastro-oesophageal reflux disease", 0.6, True),
    ("Digital ulcers", 0.3, False),
    ("Hypertension", 0.2, True),
)
"""Comorbidities: term, share of patients, still ongoing at screening."""


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def simulate_medical_history(screening_date: dt.date, seed: int) -> list[dict[str, tuple[str, str | None]]]:
    """The medical-history entries of one patient as typed (item code -> (text, unit)), Raynaud's phenomenon first.

    Args:
        screening_date: the patient's screening date (every onset lies before it).
        seed: the patient's seed (the same seed gives the same history).

    Returns:
        One dict of entries per condition, for the form :data:`FORM`.
    """
    rng = np.random.default_rng(seed)
    onset = screening_date - dt.timedelta(days=int(rng.integers(2 * 365, 10 * 365)))
    entries: list[dict[str, tuple[str, str | None]]] = [
        {"mh_term": ("Raynaud's phenomenon", None), "mh_start": (_month(onset), None), "mh_ongoing": ("yes", None)}
    ]
    for term, share, ongoing in CONDITIONS:
        if rng.random() >= share:
            continue
        start = screening_date - dt.timedelta(days=int(rng.integers(60, (screening_date - onset).days)))
        entry: dict[str, tuple[str, str | None]] = {
            "mh_term": (term, None),
            "mh_start": (_month(start), None),
            "mh_ongoing": ("yes" if ongoing else "no", None),
        }
        if not ongoing:
            end = start + dt.timedelta(days=int(rng.integers(30, max(31, (screening_date - start).days))))
            entry["mh_end"] = (_month(min(end, screening_date)), None)
        entries.append(entry)
    return entries
