"""Visits on the calendar: target dates and windows of the bundled protocol, visit states at the window edges.

Expected dates are counted by hand from the infusion on 2026-01-15 (2026 is not a leap year): day 30
is 2026-02-14, day 91 is 2026-04-16 (16 days left in January + 28 + 31 + 16), day 365 is 2027-01-15.
Visit days are round(month x 30.4375) (docs/protocol-format.md, Visits).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rodnan.core.protocol import Study
from rodnan.core.schedule import (
    PlannedVisit,
    VisitState,
    plan_screening,
    plan_visits,
    screening_visit,
    visit_state,
    visit_timing,
)
from rodnan.errors import InputError
from tests.protocol_edits import broken, line_of, problems

INFUSION = date(2026, 1, 15)


def _by_code(study: Study, infusion: date = INFUSION) -> dict[str, PlannedVisit]:
    return {visit.code: visit for visit in plan_visits(study, infusion)}


def test_plan_visits_lists_screening_infusion_and_twelve_months(study: Study) -> None:
    """SCR, D0 and M1..M12, in day order."""
    assert [v.code for v in plan_visits(study, INFUSION)] == ["SCR", "D0", *(f"M{m}" for m in range(1, 13))]


@pytest.mark.parametrize(
    ("code", "day", "target", "start", "end"),
    [
        ("SCR", -14, date(2026, 1, 1), date(2025, 12, 4), date(2026, 1, 8)),  # window 28 before, 7 after
        ("D0", 0, date(2026, 1, 15), date(2026, 1, 15), date(2026, 1, 15)),  # no window
        ("M1", 30, date(2026, 2, 14), date(2026, 2, 7), date(2026, 2, 21)),  # round(30.4375) = 30
        ("M2", 61, date(2026, 3, 17), date(2026, 3, 10), date(2026, 3, 24)),  # round(60.875) = 61
        ("M3", 91, date(2026, 4, 16), date(2026, 4, 9), date(2026, 4, 23)),  # round(91.3125) = 91
        ("M6", 183, date(2026, 7, 17), date(2026, 7, 10), date(2026, 7, 24)),  # round(182.625) = 183
        ("M12", 365, date(2027, 1, 15), date(2027, 1, 8), date(2027, 1, 22)),  # round(365.25) = 365
    ],
)
def test_plan_visits_targets_and_windows(study: Study, code: str, day: int, target: date, start: date, end: date) -> None:
    """Each visit's day, target and window (±7 days for monthly visits), counted by hand."""
    visit = _by_code(study)[code]
    assert (visit.day, visit.target, visit.window_start, visit.window_end) == (day, target, start, end)


def test_plan_visits_forms_by_month(study: Study) -> None:
    """Monthly visits collect the three questionnaires; every third month adds organ function, serology, lymphocytes."""
    visits = _by_code(study)
    assert visits["M1"].forms == ("mrss", "ssc_haq", "sf36", "vital_signs")
    assert visits["M3"].forms == ("mrss", "ssc_haq", "sf36", "vital_signs", "organ_function", "serology", "lymphocytes")
    assert visits["D0"].forms == ("infusion", "infusion_vitals")
    assert visits["M12"].label == "Month 12"


def test_plan_visits_across_a_leap_day(study: Study) -> None:
    """Infusion on 2028-01-31 (2028 is a leap year): M1 (day 30) falls on 2028-03-01."""
    assert _by_code(study, date(2028, 1, 31))["M1"].target == date(2028, 3, 1)


def test_plan_screening_centres_the_screening_window_on_its_date(study: Study) -> None:
    """Screening on 2026-01-01: window 28 days before (2025-12-04) to 7 days after (2026-01-08)."""
    planned = plan_screening(study, date(2026, 1, 1))
    assert planned == PlannedVisit(
        code="SCR",
        label="Screening and baseline",
        day=-14,
        target=date(2026, 1, 1),
        window_start=date(2025, 12, 4),
        window_end=date(2026, 1, 8),
        forms=(
            "demographics",
            "screening",
            "screening_details",
            "mrss",
            "ssc_haq",
            "sf36",
            "organ_function",
            "serology",
            "lymphocytes",
            "vital_signs",
        ),
    )


def test_screening_visit_is_the_protocols(study: Study) -> None:
    """The protocol names its screening visit; one on or after day 0 is refused by the loader, by path and line."""
    assert screening_visit(study).code == "SCR"
    text = broken("  screening_visit: SCR ", "  screening_visit: D0 ")
    assert problems(text) == [
        (
            line_of(text, "screening_visit: D0"),
            "schedule.screening_visit",
            "the screening visit D0 must be a fixed visit before day 0",
        )
    ]


def test_plan_visits_outside_the_calendar_is_an_input_error(study: Study) -> None:
    """An infusion date so late that the year-12 window passes year 9999 is refused, naming the field."""
    with pytest.raises(InputError) as caught:
        plan_visits(study, date(9999, 6, 1))
    assert caught.value.field == "infusion_date"
    with pytest.raises(InputError) as caught:
        plan_screening(study, date(1, 1, 2))
    assert caught.value.field == "screening_date"


M1 = PlannedVisit("M1", "Month 1", 30, date(2026, 2, 14), date(2026, 2, 7), date(2026, 2, 21), ("mrss",))


@pytest.mark.parametrize(
    ("today", "state"),
    [
        (date(2026, 2, 6), VisitState.UPCOMING),  # the day before the window opens
        (date(2026, 2, 7), VisitState.DUE),  # first day of the window
        (date(2026, 2, 14), VisitState.DUE),  # target
        (date(2026, 2, 21), VisitState.DUE),  # last day of the window
        (date(2026, 2, 22), VisitState.OVERDUE),  # the day after it closes
    ],
)
def test_visit_state_at_the_window_edges(today: date, state: VisitState) -> None:
    """Upcoming before the window, due within it (both ends included), overdue after it."""
    assert visit_state(M1, today, None, missed=False) is state


def test_visit_state_done_and_missed_win_over_the_calendar() -> None:
    """A done visit is done whatever the day (even if also marked missed); a missed one is missed."""
    assert visit_state(M1, date(2026, 3, 30), date(2026, 2, 25), missed=False) is VisitState.DONE
    assert visit_state(M1, date(2026, 1, 1), date(2026, 2, 10), missed=True) is VisitState.DONE
    assert visit_state(M1, date(2026, 2, 10), None, missed=True) is VisitState.MISSED
    assert visit_state(M1, date(2026, 3, 30), None, missed=True) is VisitState.MISSED


def test_visit_state_of_the_infusion_visit_is_due_on_one_day_only(study: Study) -> None:
    """D0 has no window: due on the infusion date, upcoming the day before, overdue the day after."""
    d0 = _by_code(study)["D0"]
    states = [visit_state(d0, INFUSION + timedelta(days=k), None, missed=False) for k in (-1, 0, 1)]
    assert states == [VisitState.UPCOMING, VisitState.DUE, VisitState.OVERDUE]


def test_visit_state_labels() -> None:
    """Each state has its human label."""
    assert [s.label for s in VisitState] == ["Upcoming", "Due", "Overdue", "Done", "Data incomplete", "Missed", "Not expected"]
    assert [s.value for s in VisitState] == ["upcoming", "due", "overdue", "done", "incomplete", "missed", "not_expected"]


def test_a_visit_that_took_place_with_forms_outstanding_is_incomplete_not_done() -> None:
    """Issue 15: done only when its forms are complete, not done or not expected; whenever it was, and even if missed."""
    assert visit_state(M1, date(2026, 3, 30), date(2026, 2, 25), missed=False, forms_complete=False) is VisitState.INCOMPLETE
    assert visit_state(M1, date(2026, 3, 30), date(2026, 2, 25), missed=False, forms_complete=True) is VisitState.DONE
    assert visit_state(M1, date(2026, 3, 30), None, missed=False, forms_complete=False) is VisitState.OVERDUE


@pytest.mark.parametrize(
    ("done_on", "timing"),
    [
        (date(2026, 2, 6), "early"),
        (date(2026, 2, 7), "on_time"),
        (date(2026, 2, 21), "on_time"),
        (date(2026, 2, 22), "late"),
    ],
)
def test_visit_timing_at_the_window_edges(done_on: date, timing: str) -> None:
    """Done before the window is early, within it on time (both ends included), after it late."""
    assert visit_timing(M1, done_on) == timing


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)))
def test_plan_visits_properties(study: Study, infusion: date) -> None:
    """For any infusion date: target = infusion + day, window_start <= target <= window_end, visits in day order."""
    planned = plan_visits(study, infusion)
    assert [v.day for v in planned] == sorted(v.day for v in planned)
    for visit in planned:
        assert visit.target - infusion == timedelta(days=visit.day)
        assert visit.window_start <= visit.target <= visit.window_end
        assert visit_state(visit, visit.target, None, missed=False) is VisitState.DUE
        assert visit_timing(visit, visit.target) == "on_time"


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)), st.integers(-400, 400))
def test_visit_state_and_timing_agree(study: Study, infusion: date, offset: int) -> None:
    """Judged on the day it was done: upcoming <-> early, due <-> on time, overdue <-> late."""
    visit = _by_code(study, infusion)["M6"]
    day = visit.target + timedelta(days=offset)
    expected = {VisitState.UPCOMING: "early", VisitState.DUE: "on_time", VisitState.OVERDUE: "late"}
    assert visit_timing(visit, day) == expected[visit_state(visit, day, None, missed=False)]
