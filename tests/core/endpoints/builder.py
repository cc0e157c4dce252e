"""Hand-built trials for endpoint tests: a few subjects, their visits by day, through the data interface."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from rodnan.core.protocol import Study
from rodnan.core.trialdata import TrialData, from_frames

INFUSION = dt.date(2020, 1, 6)
"""Day 0 of every hand-built subject."""

ORGANS_NORMAL: dict[str, float] = {
    "vc_pct_pred": 86,
    "fvc_pct_pred": 84,
    "dlco_pct_pred": 80,
    "mpap_echo": 25,
    "lvef": 62,
    "albumin": 40,
    "weight_loss_12m_pct": 2,
    "urine_protein_24h": 0.1,
    "creatinine": 70,
    "body_weight": 60,
}
"""Organ function meeting no involvement threshold: with these every DFS rule is decided."""


def day(n: int) -> dt.date:
    """The date of day ``n`` (day 0 is the infusion)."""
    return INFUSION + dt.timedelta(days=n)


@dataclass
class Subject:
    """One subject: status and dates, and visits as (visit code, day, values)."""

    subject_id: str
    status: str = "completed"
    end_day: int | None = 372
    death_day: int | None = None
    infused: bool = True
    visits: list[tuple[str, int, Mapping[str, object]]] = field(default_factory=list)

    def visit(self, code: str, on_day: int, **values: object) -> Subject:
        """Add a visit with these item values (chainable)."""
        self.visits.append((code, on_day, values))
        return self

    def organs(self, code: str, on_day: int, **values: object) -> Subject:
        """Add a visit with normal organ function, overridden by ``values``."""
        return self.visit(code, on_day, **{**ORGANS_NORMAL, **values})


def build(study: Study, subjects: list[Subject], adverse_events: Sequence[tuple[str, str, int]] = ()) -> TrialData:
    """The subjects (and adverse events: subject, term, onset day) as TrialData, through from_frames."""
    rows = [
        {
            "subject_id": s.subject_id,
            "site": "NJDT",
            "status": s.status,
            "consent_date": day(-20).isoformat(),
            "enrolment_date": day(-19).isoformat(),
            "infusion_date": day(0).isoformat() if s.infused else "",
            "end_date": "" if s.end_day is None else day(s.end_day).isoformat(),
            "death_date": "" if s.death_day is None else day(s.death_day).isoformat(),
        }
        for s in subjects
    ]
    values = [
        {"subject_id": s.subject_id, "visit": code, "item": item, "value": value, "unit": "", "date": day(on_day).isoformat()}
        for s in subjects
        for code, on_day, items in s.visits
        for item, value in items.items()
    ]
    events = pd.DataFrame(
        [{"subject_id": who, "term": term, "onset_date": day(onset).isoformat()} for who, term, onset in adverse_events],
        columns=["subject_id", "term", "onset_date"],
    )
    return from_frames(
        study, pd.DataFrame(rows), pd.DataFrame(values, columns=["subject_id", "visit", "item", "value", "unit", "date"]), events
    )
