"""Adverse events of the simulated subjects: infusion reactions, conditioning fevers, infections during
follow-up, fatal sepsis for some deaths (CTCAE v5.0 terms).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core.simulate.cohort.subjects import SubjectState
from rodnan.core.simulate.params import SimulationParams

FloatArray = npt.NDArray[np.floating[Any]]  # numpy's stubs type np.round() results loosely
BoolArray = npt.NDArray[np.bool_]


# CTCAE v5.0 terms (MedDRA codes as printed in CTCAE v5.0; shared/domain.md §10.2) and the chance of
# grade 1 to 5 of each (project estimates; the infection terms have no grade 1 in CTCAE v5.0).
AE_TERMS = {
    "infusion": ("Infusion related reaction", 10051792, "Injury, poisoning and procedural complications",
                 (0.70, 0.25, 0.05, 0, 0)),
    "fever": ("Fever", 10016558, "General disorders and administration site conditions", (0.70, 0.25, 0.05, 0, 0)),
    "uri": ("Upper respiratory infection", 10046300, "Infections and infestations", (0, 0.75, 0.22, 0.03, 0)),
    "lung": ("Lung infection", 10061229, "Infections and infestations", (0, 0.60, 0.33, 0.07, 0)),
    "uti": ("Urinary tract infection", 10046571, "Infections and infestations", (0, 0.75, 0.22, 0.03, 0)),
    "sepsis": ("Sepsis", 10040047, "Infections and infestations", (0, 0, 0, 0, 1.0)),  # only as a cause of death here
}  # fmt: skip
INFECTION_MIX = (("uri", 0.5), ("lung", 0.3), ("uti", 0.2))


def draw_adverse_events(
    state: SubjectState, rng: np.random.Generator, p: SimulationParams, subjects: pd.DataFrame
) -> pd.DataFrame:
    """Infusion reactions, conditioning fevers, infections during follow-up, fatal sepsis for some deaths."""
    n = state.n
    end = np.minimum(state.end_day, pd.to_datetime(subjects["end_date"]).to_numpy().astype("datetime64[D]").astype(np.int64))
    parts: list[pd.DataFrame] = []

    def add(
        kind: str, who: npt.NDArray[np.int64], onset: npt.NDArray[np.int64], length: npt.NDArray[np.int64], related: str
    ) -> None:
        if len(who) == 0:
            return
        term, code, soc, mix = AE_TERMS[kind]
        grade = rng.choice(np.arange(1, 6), size=len(who), p=np.asarray(mix, dtype=float))
        stop = onset + length
        ongoing = stop > end[who]
        parts.append(
            pd.DataFrame(
                {
                    "subject": who,
                    "term": term,
                    "meddra_code": code,
                    "soc": soc,
                    "grade": grade,
                    "serious": grade >= 3,
                    "related": related,
                    "onset_day": onset,
                    "end_day": np.where(ongoing & (grade < 5), -1, np.minimum(stop, end[who])),
                    "outcome": np.where(grade == 5, "fatal", np.where(ongoing, "not recovered", "recovered")),
                }
            )
        )

    infused = np.arange(n)
    reaction = infused[rng.random(n) < p.infusion_reaction_probability]
    add("infusion", reaction, state.infusion_day[reaction], rng.integers(0, 2, len(reaction)), "related")
    fever = infused[rng.random(n) < p.fever_probability]
    add(
        "fever",
        fever,
        state.infusion_day[fever] + rng.integers(-7, 4, len(fever)),
        rng.integers(1, 4, len(fever)),
        "possibly related",
    )
    years = np.clip((end - state.infusion_day) / 365.25, 0, None)
    counts = rng.poisson(p.infections_per_year * years)
    who = np.repeat(infused, counts)
    onset = state.infusion_day[who] + np.floor(rng.random(len(who)) * (end[who] - state.infusion_day[who])).astype(np.int64)
    kinds = rng.choice(len(INFECTION_MIX), size=len(who), p=[w for _, w in INFECTION_MIX])
    for k, (kind, _) in enumerate(INFECTION_MIX):
        chosen = kinds == k
        add(kind, who[chosen], onset[chosen], rng.integers(5, 21, int(chosen.sum())), "unlikely related")
    died = np.flatnonzero((subjects["status"] == "died").to_numpy() & (rng.random(n) < 0.4))  # some deaths are infectious
    days_before_death = rng.integers(2, 10, len(died))
    add("sepsis", died, state.end_day[died] - days_before_death, days_before_death, "unlikely related")
    columns = [
        "subject_id",
        "ae_number",
        "term",
        "meddra_code",
        "soc",
        "grade",
        "serious",
        "related",
        "onset_date",
        "end_date",
        "outcome",
    ]
    if not parts:
        return pd.DataFrame(columns=columns)
    events = (
        pd.concat(parts, ignore_index=True).sort_values(["subject", "onset_day", "term"], kind="stable").reset_index(drop=True)
    )
    events["subject_id"] = subjects["subject_id"].to_numpy()[events["subject"].to_numpy()]
    events["ae_number"] = events.groupby("subject").cumcount() + 1
    events["onset_date"] = pd.to_datetime(events["onset_day"], unit="D").dt.strftime("%Y-%m-%d")
    events["end_date"] = np.where(
        events["end_day"] < 0, "", pd.to_datetime(events["end_day"].clip(lower=0), unit="D").dt.strftime("%Y-%m-%d")
    )
    return events[columns]
