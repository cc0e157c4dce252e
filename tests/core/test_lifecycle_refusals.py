"""Why a step is not offered: :func:`transition_refusal` and :func:`ended_sentence` against the hand-written
table of the protocol's course in test_lifecycle.py and sentences written out here."""

from __future__ import annotations

import datetime as dt

import pytest

from rodnan.core.lifecycle import SubjectStatus, Transition, ended_sentence, next_status, transition_refusal
from rodnan.errors import InputError
from tests.core.test_lifecycle import EXPECTED, PAIRS, TERMINAL

S, T = SubjectStatus, Transition
DEATH = dt.date(2026, 11, 18)


@pytest.mark.parametrize(("status", "transition"), PAIRS)
def test_refusal_is_none_exactly_when_the_transition_is_allowed(status: SubjectStatus, transition: Transition) -> None:
    """Every (status, transition): no refusal for the table's pairs, a sentence for every other one, and
    next_status refuses exactly where a sentence is given (the page and the server agree)."""
    refusal = transition_refusal(status, transition)
    if (status, transition) in EXPECTED:
        assert refusal is None
        assert next_status(status, transition) is EXPECTED[status, transition]
    else:
        assert refusal, (status, transition)
        with pytest.raises(InputError):
            next_status(status, transition)


def test_a_dead_patient_gets_the_sentence_with_the_date_for_every_step() -> None:
    """Died on 2026-11-18: every step, "Record death" included, gets the same plain sentence."""
    for transition in T:
        assert transition_refusal(S.DIED, transition, DEATH) == "This patient died on 2026-11-18: nothing more can be recorded."


@pytest.mark.parametrize(
    ("status", "sentence"),
    [
        (S.SCREEN_FAILED, "This candidate failed screening on 2026-11-18: nothing more can be recorded."),
        (S.COMPLETED, "This patient completed follow-up on 2026-11-18: nothing more can be recorded."),
        (S.WITHDRAWN, "This patient was withdrawn on 2026-11-18: nothing more can be recorded."),
        (S.DIED, "This patient died on 2026-11-18: nothing more can be recorded."),
        (S.LOST_TO_FOLLOW_UP, "This patient was lost to follow-up on 2026-11-18: nothing more can be recorded."),
    ],
)
def test_ended_sentence_of_each_terminal_status(status: SubjectStatus, sentence: str) -> None:
    assert ended_sentence(status, DEATH) == sentence
    assert ended_sentence(status.value, None) == sentence.replace(" on 2026-11-18", "")


@pytest.mark.parametrize("status", [s for s in S if s not in TERMINAL])
def test_an_open_course_has_no_ended_sentence(status: SubjectStatus) -> None:
    assert ended_sentence(status, DEATH) is None


@pytest.mark.parametrize(
    ("status", "transition", "sentence"),
    [
        (S.SCREENING, T.ENROL, "Enrol is possible only for a subject who is consented; this subject is screening."),
        (S.CONSENTED, T.INFUSE, "Record MSC infusion is possible only for a subject who is enrolled; this subject is consented."),
        (S.ENROLLED, T.COMPLETE,
         "Complete follow-up is possible only for a subject who is in follow-up; this subject is enrolled."),
        (S.SCREENING, T.DIE,
         "Record death is possible only for a subject who is enrolled or in follow-up; this subject is screening."),
        (S.CONSENTED, T.CONSENT, "Record consent is possible only for a subject who is screening; this subject is consented."),
    ],
)  # fmt: skip
def test_an_open_course_names_the_statuses_that_allow_the_step(
    status: SubjectStatus, transition: Transition, sentence: str
) -> None:
    assert transition_refusal(status.value, transition.value) == sentence


def test_unknown_values_are_refused_by_field() -> None:
    with pytest.raises(InputError) as caught:
        transition_refusal("asleep", T.DIE)
    assert caught.value.field == "status"
    with pytest.raises(InputError) as caught:
        transition_refusal(S.ENROLLED, "teleport")
    assert caught.value.field == "transition"
