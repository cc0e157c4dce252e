"""Which lifecycle steps a user may take on a subject, and if not, why: one answer for the subject page's
buttons, the step pages opened by URL and the actions' role checks.

A step needs the role permission of :data:`TRANSITION_PERMISSION` at the subject's site (the roles of
:mod:`rodnan.web.accounts.roles`) and a status that allows it (the core's
:func:`rodnan.core.lifecycle.transition_refusal`, the rule :func:`~rodnan.core.lifecycle.next_status`
applies) and, for the infusion, the protocol's requirements (``intervention.requires``: e.g. a negative
pregnancy test). A page refused for the role answers 403 (the user may never do it here); a page refused for
the subject's status or a requirement answers 409 (the step conflicts with the subject's current state), each with the
plain sentence instead of the form. The POST refusals of :mod:`rodnan.web.subjects.actions` are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rodnan.core.lifecycle import TRANSITION_DUTIES, Transition, ended_sentence, transition_refusal
from rodnan.web.accounts.access import can
from rodnan.web.accounts.roles import ROLES, Permission
from rodnan.web.subjects.records import unmet_before_infusion

TRANSITION_PERMISSION: dict[Transition, Permission] = {
    Transition.CONSENT: Permission.CONSENT,
    Transition.SCREEN_FAIL: Permission.SCREEN_FAIL,
    Transition.ENROL: Permission.ENROL,
    Transition.INFUSE: Permission.INFUSE,
    Transition.COMPLETE: Permission.END_SUBJECT,
    Transition.WITHDRAW: Permission.END_SUBJECT,
    Transition.DIE: Permission.END_SUBJECT,
    Transition.LOSE_TO_FOLLOW_UP: Permission.END_SUBJECT,
}
"""The permission each lifecycle step needs (the actions check the same)."""

FORBIDDEN = 403
"""The answer to a step page the user's role may never open."""
CONFLICT = 409
"""The answer to a step page the subject's status does not allow."""


@dataclass(frozen=True)
class Gate:
    """Whether one step is open to the user on a subject: ``reason`` is empty and ``status`` 200 when it is."""

    step: Transition
    status: int
    reason: str

    @property
    def open(self) -> bool:
        """True when the step may be taken."""
        return self.status == 200


def _article(label: str) -> str:
    return ("an " if label[:1].lower() in "aeiou" else "a ") + label.lower()


def role_sentence(step: Transition) -> str:
    """Who may take ``step``, from the roles' permissions ("Only an investigator can record the infusion.")."""
    labels = [_article(role.label) for role in ROLES.values() if TRANSITION_PERMISSION[step] in role.permissions]
    who = " or ".join(labels) if labels else "no role"
    return f"Only {who} can {TRANSITION_DUTIES[step]}."


def gate(user: Any, subject: Any, step: Transition) -> Gate:
    """Whether ``user`` may take ``step`` on ``subject`` now: the role first (403), then the status (409), then,
    for the infusion, the protocol's requirements (409: e.g. no negative pregnancy test that could allow it)."""
    if not can(user, TRANSITION_PERMISSION[step], subject.site_id):
        return Gate(step, FORBIDDEN, role_sentence(step))
    refusal = transition_refusal(subject.status, step, subject.end_date)
    if refusal is None and step is Transition.INFUSE:
        refusal = requirement_sentence(subject)
    return Gate(step, 200 if refusal is None else CONFLICT, refusal or "")


def requirement_sentence(subject: Any) -> str | None:
    """Why the infusion cannot be recorded yet by the protocol's requirements (None when nothing is missing)."""
    unmet = unmet_before_infusion(subject)
    if not unmet:
        return None
    return "The infusion cannot be recorded yet. " + " ".join(f"{u.message}." for u in unmet) + " Record it first."


def open_steps(user: Any, subject: Any) -> list[Transition]:
    """The steps the subject page offers ``user``, in the order :class:`Transition` lists them."""
    return [step for step in Transition if gate(user, subject, step).open]


def closed_sentences(user: Any, subject: Any) -> list[str]:
    """The plain sentences the subject page shows for what it does not offer: that the course is over, or
    who may take the steps the status allows but the user's role does not (one sentence per set of roles)."""
    ended = ended_sentence(subject.status, subject.end_date)
    if ended is not None:
        return [ended]
    out: list[str] = []
    if transition_refusal(subject.status, Transition.INFUSE) is None and can(
        user, TRANSITION_PERMISSION[Transition.INFUSE], subject.site_id
    ):
        waiting = requirement_sentence(subject)
        if waiting is not None:
            out.append(waiting)
    by_roles: dict[str, list[str]] = {}
    for step in Transition:
        if transition_refusal(subject.status, step) is None and not can(user, TRANSITION_PERMISSION[step], subject.site_id):
            who = role_sentence(step).removesuffix(f" can {TRANSITION_DUTIES[step]}.")
            by_roles.setdefault(who, []).append(TRANSITION_DUTIES[step])
    return out + [f"{who} can {_joined(duties)}." for who, duties in by_roles.items()]


def _joined(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]
