"""The protocol's visits placed on the calendar, and the state of each visit on a given day.

Every visit has a protocol day counted from the MSC infusion (day 0) and a window of days before
and after its target. :func:`plan_visits` puts every visit of the schedule on the calendar from the
infusion date: target = infusion date + day, window = target - ``window_before`` .. target +
``window_after`` (both ends included). The screening visit precedes the infusion and is held on a
date of its own; :func:`plan_screening` centres its window on that date instead.

Worked example (bundled protocol, infusion on 2026-01-15): month 1 is day round(1 x 30.4375) = 30,
target 2026-02-14, window 2026-02-07 .. 2026-02-21; month 3 is day 91 (2026-04-16); month 12 is
day 365 (2027-01-15); D0 is the infusion date with no window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Literal

from rodnan.core.protocol.model import Study, VisitDef
from rodnan.errors import InputError

VisitTiming = Literal["early", "on_time", "late"]
"""When a visit was done relative to its window."""


@dataclass(frozen=True)
class PlannedVisit:
    """A visit of the schedule placed on the calendar.

    Attributes:
        code: the visit code ("M1").
        label: the visit label ("Month 1").
        day: the protocol day offset from the infusion (day 0).
        target: the target date.
        window_start: the first day of the window (included).
        window_end: the last day of the window (included).
        forms: the codes of the forms collected at the visit.
    """

    code: str
    label: str
    day: int
    target: date
    window_start: date
    window_end: date
    forms: tuple[str, ...]


class VisitState(StrEnum):
    """The state of a planned visit on a given day."""

    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"
    DONE = "done"
    INCOMPLETE = "incomplete"
    MISSED = "missed"
    NOT_EXPECTED = "not_expected"

    @property
    def label(self) -> str:
        """The state for people ("Overdue")."""
        return VISIT_STATE_LABELS[self]


VISIT_STATE_LABELS: dict[VisitState, str] = {
    VisitState.UPCOMING: "Upcoming",
    VisitState.DUE: "Due",
    VisitState.OVERDUE: "Overdue",
    VisitState.DONE: "Done",
    VisitState.INCOMPLETE: "Data incomplete",
    VisitState.MISSED: "Missed",
    VisitState.NOT_EXPECTED: "Not expected",
}
"""Human labels of the visit states."""


def _place(visit: VisitDef, target: date) -> PlannedVisit:
    """The visit with its window around ``target``."""
    return PlannedVisit(
        code=visit.code,
        label=visit.label,
        day=visit.day,
        target=target,
        window_start=target - timedelta(days=visit.window_before),
        window_end=target + timedelta(days=visit.window_after),
        forms=tuple(visit.forms),
    )


def plan_visits(study: Study, infusion_date: date) -> tuple[PlannedVisit, ...]:
    """Place every visit of the schedule (fixed and generated) on the calendar from the infusion date.

    Args:
        study: the protocol.
        infusion_date: the date of the MSC infusion (day 0).

    Returns:
        One planned visit per visit of ``study.schedule.all_visits``, in day order.

    Raises:
        InputError: a window would fall outside the calendar (years 1 to 9999).
    """
    try:
        return tuple(_place(visit, infusion_date + timedelta(days=visit.day)) for visit in study.schedule.all_visits)
    except OverflowError:
        field = study.intervention_items.date
        raise InputError(field, "the visit windows fall outside the calendar", infusion_date.isoformat()) from None


def screening_visit(study: Study) -> VisitDef:
    """The screening visit: the protocol's ``schedule.screening_visit``, a fixed visit before day 0.

    Raises:
        InputError: the schedule has no such visit (the loader refuses such a protocol).
    """
    code = study.schedule.screening_visit
    visit = study.visit_by_code.get(code)
    if visit is None or visit.day >= 0:
        raise InputError("schedule", f"the screening visit {code} is not a visit before day 0")
    return visit


def plan_screening(study: Study, screening_date: date) -> PlannedVisit:
    """Place the screening visit on the calendar, its window around the day screening started.

    Args:
        study: the protocol.
        screening_date: the date of screening (the target of the screening visit).

    Returns:
        The screening visit with target ``screening_date`` and the visit's window around it.

    Raises:
        InputError: the schedule has no screening visit, or the window falls outside the calendar.
    """
    visit = screening_visit(study)
    try:
        return _place(visit, screening_date)
    except OverflowError:
        raise InputError("screening_date", "the visit window falls outside the calendar", screening_date.isoformat()) from None


def visit_state(
    visit: PlannedVisit, today: date, done_on: date | None, missed: bool, forms_complete: bool = True, end: date | None = None
) -> VisitState:
    """The state of a planned visit on ``today``.

    Args:
        visit: the planned visit.
        today: the day to judge on.
        done_on: the date the visit was done, or None if it was not (yet).
        missed: True when the visit was recorded as missed.
        forms_complete: whether each form the visit expects is complete, not done or not expected
            (:func:`rodnan.core.records.completeness.visit_complete`).
        end: the date the subject's participation ended (death, withdrawal, completion), or None.

    Returns:
        DONE when it took place (whenever) and its forms are complete, INCOMPLETE when it took place with
        forms outstanding, else MISSED when recorded as missed, else NOT_EXPECTED when the subject's
        participation ended before its target date, else UPCOMING before the window, DUE within it (both
        ends included) and OVERDUE after it.
    """
    if done_on is not None:
        return VisitState.DONE if forms_complete else VisitState.INCOMPLETE
    if missed:
        return VisitState.MISSED
    if end is not None and visit.target > end:
        return VisitState.NOT_EXPECTED
    if today < visit.window_start:
        return VisitState.UPCOMING
    if today <= visit.window_end:
        return VisitState.DUE
    return VisitState.OVERDUE


def visit_timing(visit: PlannedVisit, done_on: date) -> VisitTiming:
    """Whether a visit was done before, within or after its window (both ends of the window included).

    Args:
        visit: the planned visit.
        done_on: the date it was done.

    Returns:
        "early", "on_time" or "late".
    """
    if done_on < visit.window_start:
        return "early"
    if done_on > visit.window_end:
        return "late"
    return "on_time"
