"""The subject state machine: every (status, transition) pair against a hand-written table of the protocol's course."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rodnan.core.lifecycle import (
    SubjectStatus,
    Transition,
    allowed_transitions,
    is_active,
    is_terminal,
    next_status,
)
from rodnan.errors import InputError

S, T = SubjectStatus, Transition

# Written out from the brief (consent during screening; enrolment needs consent; one infusion moves
# an enrolled subject into follow-up), independently of the module's own table.
EXPECTED: dict[tuple[SubjectStatus, Transition], SubjectStatus] = {
    (S.SCREENING, T.CONSENT): S.CONSENTED,
    (S.SCREENING, T.SCREEN_FAIL): S.SCREEN_FAILED,
    (S.CONSENTED, T.SCREEN_FAIL): S.SCREEN_FAILED,
    (S.CONSENTED, T.ENROL): S.ENROLLED,
    (S.CONSENTED, T.WITHDRAW): S.WITHDRAWN,
    (S.ENROLLED, T.INFUSE): S.IN_FOLLOW_UP,
    (S.ENROLLED, T.WITHDRAW): S.WITHDRAWN,
    (S.ENROLLED, T.DIE): S.DIED,
    (S.IN_FOLLOW_UP, T.COMPLETE): S.COMPLETED,
    (S.IN_FOLLOW_UP, T.WITHDRAW): S.WITHDRAWN,
    (S.IN_FOLLOW_UP, T.DIE): S.DIED,
    (S.IN_FOLLOW_UP, T.LOSE_TO_FOLLOW_UP): S.LOST_TO_FOLLOW_UP,
}
TERMINAL = {S.SCREEN_FAILED, S.COMPLETED, S.WITHDRAWN, S.DIED, S.LOST_TO_FOLLOW_UP}
PAIRS = [(status, transition) for status in S for transition in T]


def test_status_values_are_the_stored_strings() -> None:
    """The values the web layer stores are fixed: renaming one would orphan stored subjects."""
    assert [s.value for s in S] == [
        "screening", "screen_failed", "consented", "enrolled", "in_follow_up",
        "completed", "withdrawn", "died", "lost_to_follow_up",
    ]  # fmt: skip
    assert [t.value for t in T] == [
        "consent", "screen_fail", "enrol", "infuse", "complete", "withdraw", "die", "lose_to_follow_up",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("member", "label"),
    [
        (S.SCREENING, "Screening"),
        (S.SCREEN_FAILED, "Screen failed"),
        (S.CONSENTED, "Consented"),
        (S.ENROLLED, "Enrolled"),
        (S.IN_FOLLOW_UP, "In follow-up"),
        (S.COMPLETED, "Completed"),
        (S.WITHDRAWN, "Withdrawn"),
        (S.DIED, "Died"),
        (S.LOST_TO_FOLLOW_UP, "Lost to follow-up"),
        (T.CONSENT, "Record consent"),
        (T.SCREEN_FAIL, "Screen failure"),
        (T.ENROL, "Enrol"),
        (T.INFUSE, "Record MSC infusion"),
        (T.COMPLETE, "Complete follow-up"),
        (T.WITHDRAW, "Withdraw"),
        (T.DIE, "Record death"),
        (T.LOSE_TO_FOLLOW_UP, "Lost to follow-up"),
    ],
)
def test_label_of_each_status_and_transition(member: SubjectStatus | Transition, label: str) -> None:
    """Every status and transition has its human label."""
    assert member.label == label


@pytest.mark.parametrize(("status", "transition"), PAIRS, ids=[f"{s.value}-{t.value}" for s, t in PAIRS])
def test_next_status_follows_the_table_for_every_pair(status: SubjectStatus, transition: Transition) -> None:
    """Each of the 72 pairs either moves to the expected status or is refused naming both labels."""
    expected = EXPECTED.get((status, transition))
    if expected is not None:
        assert next_status(status, transition) is expected
        return
    with pytest.raises(InputError) as caught:
        next_status(status, transition)
    assert caught.value.field == "status"
    assert caught.value.value == status.value
    assert caught.value.rule.startswith(
        f"{transition.label} is not allowed for a subject who is {status.label.lower()}; allowed: "
    )


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (S.SCREENING, (T.CONSENT, T.SCREEN_FAIL)),
        (S.CONSENTED, (T.SCREEN_FAIL, T.ENROL, T.WITHDRAW)),
        (S.ENROLLED, (T.INFUSE, T.WITHDRAW, T.DIE)),
        (S.IN_FOLLOW_UP, (T.COMPLETE, T.WITHDRAW, T.DIE, T.LOSE_TO_FOLLOW_UP)),
        (S.SCREEN_FAILED, ()),
        (S.COMPLETED, ()),
        (S.WITHDRAWN, ()),
        (S.DIED, ()),
        (S.LOST_TO_FOLLOW_UP, ()),
    ],
)
def test_allowed_transitions_in_enum_order(status: SubjectStatus, allowed: tuple[Transition, ...]) -> None:
    """The allowed transitions of each status, in the order Transition lists them."""
    assert allowed_transitions(status) == allowed


def test_refusal_lists_what_is_allowed() -> None:
    """Enrolling a subject still in screening is refused; the message says consent or screen failure are possible."""
    with pytest.raises(InputError) as caught:
        next_status(S.SCREENING, T.ENROL)
    assert caught.value.rule == "Enrol is not allowed for a subject who is screening; allowed: Record consent, Screen failure"
    assert str(caught.value) == f"status: {caught.value.rule} (got 'screening')"


def test_refusal_from_a_terminal_status_says_none_is_allowed() -> None:
    """A subject who died cannot be withdrawn, and nothing else is possible either."""
    with pytest.raises(InputError, match=r"^status: Withdraw is not allowed for a subject who is died; allowed: none"):
        next_status(S.DIED, T.WITHDRAW)


def test_infusion_needs_enrolment_and_enrolment_needs_consent() -> None:
    """A consented subject cannot be infused, and a screening subject cannot be enrolled."""
    with pytest.raises(InputError, match="Record MSC infusion is not allowed for a subject who is consented"):
        next_status(S.CONSENTED, T.INFUSE)
    with pytest.raises(InputError, match="Enrol is not allowed for a subject who is screening"):
        next_status(S.SCREENING, T.ENROL)


@pytest.mark.parametrize("status", list(S))
def test_terminal_and_active_partition_the_statuses(status: SubjectStatus) -> None:
    """The five end statuses are terminal and not active; the four others are active."""
    assert is_terminal(status) is (status in TERMINAL)
    assert is_active(status) is (status not in TERMINAL)


def test_stored_string_values_are_accepted() -> None:
    """The web layer passes the stored strings: they work like the members."""
    assert next_status("enrolled", "infuse") is S.IN_FOLLOW_UP
    assert allowed_transitions("completed") == ()
    assert is_terminal("withdrawn")
    assert is_active("in_follow_up")


@pytest.mark.parametrize(
    ("status", "transition", "field"),
    [("randomised", "consent", "status"), ("screening", "randomise", "transition")],
)
def test_unknown_status_or_transition_is_an_input_error(status: str, transition: str, field: str) -> None:
    """An unknown stored value is an InputError naming the field and listing the values."""
    with pytest.raises(InputError) as caught:
        next_status(status, transition)
    assert caught.value.field == field
    assert caught.value.rule.startswith("must be one of ")


def test_every_status_is_reachable_from_screening() -> None:
    """A walk over the allowed transitions from screening reaches all nine statuses."""
    seen, todo = {S.SCREENING}, [S.SCREENING]
    while todo:
        status = todo.pop()
        for transition in allowed_transitions(status):
            new = next_status(status, transition)
            if new not in seen:
                seen.add(new)
                todo.append(new)
    assert seen == set(S)


@given(st.lists(st.sampled_from(list(T)), max_size=12))
def test_any_path_of_allowed_transitions_respects_the_course(transitions: list[Transition]) -> None:
    """Applying transitions from screening (skipping refused ones): a terminal status never changes again,
    follow-up is only reached through consent, enrolment and infusion, in that order."""
    status, taken = S.SCREENING, []
    for transition in transitions:
        if transition in allowed_transitions(status):
            assert not is_terminal(status)
            status = next_status(status, transition)
            taken.append(transition)
        else:
            with pytest.raises(InputError):
                next_status(status, transition)
    if status in (S.IN_FOLLOW_UP, S.COMPLETED, S.LOST_TO_FOLLOW_UP):
        assert taken[:3] == [T.CONSENT, T.ENROL, T.INFUSE]
    if status is S.DIED:
        assert taken[:2] == [T.CONSENT, T.ENROL]
    assert is_terminal(status) == (taken != [] and taken[-1] not in (T.CONSENT, T.ENROL, T.INFUSE))
