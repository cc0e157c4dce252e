"""The subject's course through the trial: statuses, the transitions between them, and which are allowed.

A candidate enters at ``screening``. Consent is obtained during screening, before eligibility is
final, so a subject can still fail screening after consenting; enrolment needs consent. The single
MSC infusion moves an enrolled subject into follow-up, which ends in completion, withdrawal, death
or loss to follow-up::

    screening --consent--> consented --enrol--> enrolled --infuse--> in_follow_up --complete--> completed
    screening, consented                 --screen_fail-------> screen_failed
    consented, enrolled, in_follow_up    --withdraw----------> withdrawn
    enrolled, in_follow_up               --die---------------> died
    in_follow_up                         --lose_to_follow_up-> lost_to_follow_up

Terminal statuses (screen failed, completed, withdrawn, died, lost to follow-up) allow nothing.
The web layer stores statuses and transitions by their string values; every function here accepts
either the enum member or its value.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from rodnan.errors import InputError


class SubjectStatus(StrEnum):
    """Where a subject stands in the trial."""

    SCREENING = "screening"
    SCREEN_FAILED = "screen_failed"
    CONSENTED = "consented"
    ENROLLED = "enrolled"
    IN_FOLLOW_UP = "in_follow_up"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    DIED = "died"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"

    @property
    def label(self) -> str:
        """The status for people ("In follow-up")."""
        return STATUS_LABELS[self]


class Transition(StrEnum):
    """An event that changes a subject's status."""

    CONSENT = "consent"
    SCREEN_FAIL = "screen_fail"
    ENROL = "enrol"
    INFUSE = "infuse"
    COMPLETE = "complete"
    WITHDRAW = "withdraw"
    DIE = "die"
    LOSE_TO_FOLLOW_UP = "lose_to_follow_up"

    @property
    def label(self) -> str:
        """The transition for people, as on a button ("Record MSC infusion")."""
        return TRANSITION_LABELS[self]


STATUS_LABELS: dict[SubjectStatus, str] = {
    SubjectStatus.SCREENING: "Screening",
    SubjectStatus.SCREEN_FAILED: "Screen failed",
    SubjectStatus.CONSENTED: "Consented",
    SubjectStatus.ENROLLED: "Enrolled",
    SubjectStatus.IN_FOLLOW_UP: "In follow-up",
    SubjectStatus.COMPLETED: "Completed",
    SubjectStatus.WITHDRAWN: "Withdrawn",
    SubjectStatus.DIED: "Died",
    SubjectStatus.LOST_TO_FOLLOW_UP: "Lost to follow-up",
}
"""Human labels of the statuses."""

TRANSITION_LABELS: dict[Transition, str] = {
    Transition.CONSENT: "Record consent",
    Transition.SCREEN_FAIL: "Screen failure",
    Transition.ENROL: "Enrol",
    Transition.INFUSE: "Record MSC infusion",
    Transition.COMPLETE: "Complete follow-up",
    Transition.WITHDRAW: "Withdraw",
    Transition.DIE: "Record death",
    Transition.LOSE_TO_FOLLOW_UP: "Lost to follow-up",
}
"""Human labels of the transitions."""

TRANSITION_DUTIES: dict[Transition, str] = {
    Transition.CONSENT: "record consent",
    Transition.SCREEN_FAIL: "record a screen failure",
    Transition.ENROL: "enrol a subject",
    Transition.INFUSE: "record the infusion",
    Transition.COMPLETE: "complete follow-up",
    Transition.WITHDRAW: "withdraw a subject",
    Transition.DIE: "record a death",
    Transition.LOSE_TO_FOLLOW_UP: "record a loss to follow-up",
}
"""What doing a transition is, as the end of "Only an investigator can ..." (a sentence for people)."""

ENDED_SENTENCES: dict[SubjectStatus, str] = {
    SubjectStatus.SCREEN_FAILED: "This candidate failed screening{on}: nothing more can be recorded.",
    SubjectStatus.COMPLETED: "This patient completed follow-up{on}: nothing more can be recorded.",
    SubjectStatus.WITHDRAWN: "This patient was withdrawn{on}: nothing more can be recorded.",
    SubjectStatus.DIED: "This patient died{on}: nothing more can be recorded.",
    SubjectStatus.LOST_TO_FOLLOW_UP: "This patient was lost to follow-up{on}: nothing more can be recorded.",
}
"""Why a subject in a terminal status allows no transition (``{on}``: " on 2026-11-18" when the end date is known)."""

TRANSITIONS: dict[SubjectStatus, dict[Transition, SubjectStatus]] = {
    SubjectStatus.SCREENING: {
        Transition.CONSENT: SubjectStatus.CONSENTED,
        Transition.SCREEN_FAIL: SubjectStatus.SCREEN_FAILED,
    },
    SubjectStatus.CONSENTED: {
        Transition.SCREEN_FAIL: SubjectStatus.SCREEN_FAILED,
        Transition.ENROL: SubjectStatus.ENROLLED,
        Transition.WITHDRAW: SubjectStatus.WITHDRAWN,
    },
    SubjectStatus.ENROLLED: {
        Transition.INFUSE: SubjectStatus.IN_FOLLOW_UP,
        Transition.WITHDRAW: SubjectStatus.WITHDRAWN,
        Transition.DIE: SubjectStatus.DIED,
    },
    SubjectStatus.IN_FOLLOW_UP: {
        Transition.COMPLETE: SubjectStatus.COMPLETED,
        Transition.WITHDRAW: SubjectStatus.WITHDRAWN,
        Transition.DIE: SubjectStatus.DIED,
        Transition.LOSE_TO_FOLLOW_UP: SubjectStatus.LOST_TO_FOLLOW_UP,
    },
}
"""Allowed transitions: status -> transition -> new status. Statuses not listed are terminal."""


def _status(status: SubjectStatus | str) -> SubjectStatus:
    """The status member for a member or its stored value."""
    try:
        return SubjectStatus(status)
    except ValueError:
        allowed = ", ".join(s.value for s in SubjectStatus)
        raise InputError("status", f"must be one of {allowed}", status) from None


def _transition(transition: Transition | str) -> Transition:
    """The transition member for a member or its stored value."""
    try:
        return Transition(transition)
    except ValueError:
        allowed = ", ".join(t.value for t in Transition)
        raise InputError("transition", f"must be one of {allowed}", transition) from None


def allowed_transitions(status: SubjectStatus | str) -> tuple[Transition, ...]:
    """The transitions a subject in ``status`` may undergo, in the order :class:`Transition` lists them.

    Args:
        status: the subject's current status (member or value).

    Returns:
        The allowed transitions; empty for a terminal status.

    Raises:
        InputError: ``status`` is not a status.
    """
    allowed = TRANSITIONS.get(_status(status), {})
    return tuple(t for t in Transition if t in allowed)


def next_status(status: SubjectStatus | str, transition: Transition | str) -> SubjectStatus:
    """The status a subject moves to when ``transition`` happens.

    Args:
        status: the subject's current status (member or value).
        transition: what happens (member or value).

    Returns:
        The new status.

    Raises:
        InputError: on field ``status`` when the transition is not allowed from ``status`` (the rule
            names both and lists what is allowed); on ``status`` or ``transition`` for an unknown value.
    """
    current, event = _status(status), _transition(transition)
    new = TRANSITIONS.get(current, {}).get(event)
    if new is None:
        allowed = ", ".join(t.label for t in allowed_transitions(current)) or "none (the status is final)"
        rule = f"{event.label} is not allowed for a subject who is {current.label.lower()}; allowed: {allowed}"
        raise InputError("status", rule, current.value)
    return new


def ended_sentence(status: SubjectStatus | str, end_date: dt.date | None = None) -> str | None:
    """The plain sentence saying that a subject's course is over, or None while it is open.

    Args:
        status: the subject's current status (member or value).
        end_date: the date the course ended, when known (shown as " on YYYY-MM-DD").

    Returns:
        E.g. "This patient died on 2026-11-18: nothing more can be recorded."; None for an open status.

    Raises:
        InputError: ``status`` is not a status.
    """
    sentence = ENDED_SENTENCES.get(_status(status))
    if sentence is None:
        return None
    return sentence.format(on=f" on {end_date.isoformat()}" if end_date else "")


def transition_refusal(status: SubjectStatus | str, transition: Transition | str, end_date: dt.date | None = None) -> str | None:
    """Why a subject in ``status`` may not undergo ``transition``, as a plain sentence; None when it may.

    The rule is :data:`TRANSITIONS` (the one :func:`next_status` applies), so a page that offers a
    step exactly when this returns None offers what the server accepts.

    Args:
        status: the subject's current status (member or value).
        transition: the step asked for (member or value).
        end_date: the date the subject's course ended, for the sentence of a terminal status.

    Returns:
        None when allowed; for a terminal status the :func:`ended_sentence`; otherwise which statuses
        allow the step ("Record MSC infusion is possible only for a subject who is enrolled; this
        subject is consented.").

    Raises:
        InputError: ``status`` or ``transition`` is not a known value.
    """
    current, event = _status(status), _transition(transition)
    if event in TRANSITIONS.get(current, {}):
        return None
    ended = ended_sentence(current, end_date)
    if ended is not None:
        return ended
    allowed_from = " or ".join(s.label.lower() for s in SubjectStatus if event in TRANSITIONS.get(s, {}))
    return f"{event.label} is possible only for a subject who is {allowed_from}; this subject is {current.label.lower()}."


def is_terminal(status: SubjectStatus | str) -> bool:
    """True when no transition leaves ``status`` (screen failed, completed, withdrawn, died, lost to follow-up).

    Raises:
        InputError: ``status`` is not a status.
    """
    return _status(status) not in TRANSITIONS


def is_active(status: SubjectStatus | str) -> bool:
    """True while the subject's course is still open (screening, consented, enrolled, in follow-up).

    Raises:
        InputError: ``status`` is not a status.
    """
    return not is_terminal(status)
