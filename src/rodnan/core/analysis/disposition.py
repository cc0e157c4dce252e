"""The CONSORT disposition of the subjects: screened, failed, enrolled, infused, discontinued, completed."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rodnan.core.analysis.datasets import SUBJECT_INFUSION_DATE
from rodnan.core.lifecycle import SubjectStatus


@dataclass(frozen=True)
class Disposition:
    """Counts for the CONSORT flow, from the subjects table.

    Attributes:
        screened: subjects in the data (every row was screened).
        screening_recorded: False when no subject failed or is still in screening: the data then hold
            enrolled subjects only, and candidates screened but not enrolled were not recorded.
        screen_failed: subjects with status screen_failed; ``screen_fail_reasons`` counts their end_reason.
        in_screening: still in screening or consented but not enrolled.
        eligible: screened - screen_failed - in_screening.
        enrolled: with an enrolment or infusion date.
        not_infused: enrolled without an infusion; ``not_infused_reasons`` counts their status.
        infused: with an infusion date (the safety set and the DFS/OS population).
        discontinued: infused and withdrawn, died or lost to follow-up; ``discontinued_reasons`` by status.
        in_follow_up: infused and still in follow-up.
        completed: completed the protocol follow-up.
    """

    screened: int
    screening_recorded: bool
    screen_failed: int
    screen_fail_reasons: tuple[tuple[str, int], ...]
    in_screening: int
    eligible: int
    enrolled: int
    not_infused: int
    not_infused_reasons: tuple[tuple[str, int], ...]
    infused: int
    discontinued: int
    discontinued_reasons: tuple[tuple[str, int], ...]
    in_follow_up: int
    completed: int


def derive_disposition(subjects: pd.DataFrame) -> Disposition:
    """CONSORT counts from the subjects table (columns of :mod:`rodnan.core.trialdata`)."""
    status = subjects["status"].astype(str)
    enrolled = (subjects["enrolment_date"].notna() | subjects[SUBJECT_INFUSION_DATE].notna()).to_numpy()
    infused = subjects[SUBJECT_INFUSION_DATE].notna().to_numpy()
    failed = (status == SubjectStatus.SCREEN_FAILED.value).to_numpy()
    pending = (~enrolled & ~failed) & status.isin([SubjectStatus.SCREENING.value, SubjectStatus.CONSENTED.value]).to_numpy()
    reasons = subjects["end_reason"].astype(str) if "end_reason" in subjects else pd.Series("", index=subjects.index)
    not_infused = enrolled & ~infused
    gone = (
        infused
        & status.isin([SubjectStatus.WITHDRAWN.value, SubjectStatus.DIED.value, SubjectStatus.LOST_TO_FOLLOW_UP.value]).to_numpy()
    )
    return Disposition(
        screened=len(subjects),
        screening_recorded=bool(failed.any() or pending.any()),
        screen_failed=int(failed.sum()),
        screen_fail_reasons=_counts(reasons[failed].replace("", "reason not recorded")),
        in_screening=int(pending.sum()),
        eligible=int(len(subjects) - failed.sum() - pending.sum()),
        enrolled=int(enrolled.sum()),
        not_infused=int(not_infused.sum()),
        not_infused_reasons=_counts(status[not_infused].map(_status_label)),
        infused=int(infused.sum()),
        discontinued=int(gone.sum()),
        discontinued_reasons=_counts(status[gone].map(_status_label)),
        in_follow_up=int((infused & (status == SubjectStatus.IN_FOLLOW_UP.value).to_numpy()).sum()),
        completed=int((infused & (status == SubjectStatus.COMPLETED.value).to_numpy()).sum()),
    )


def _status_label(status: str) -> str:
    try:
        return SubjectStatus(status).label.lower()
    except ValueError:
        return status


def _counts(values: pd.Series) -> tuple[tuple[str, int], ...]:
    counted = values.value_counts()
    ordered = sorted(counted.items(), key=lambda item: (-int(item[1]), str(item[0])))
    return tuple((str(name), int(count)) for name, count in ordered)
