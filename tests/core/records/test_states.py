"""The record state machine: every rule of the module docstring, one test each, against hand-worked transitions."""

from __future__ import annotations

import pytest

from rodnan.core.records.states import (
    Flag,
    ItemFlag,
    RecordEvent,
    RecordState,
    RecordStateError,
    RecordStatus,
    apply_event,
    check_event,
)
from rodnan.errors import InputError

COMPLETE = RecordState(RecordStatus.COMPLETE)


def test_saving_moves_not_started_to_in_progress_and_to_complete() -> None:
    state = apply_event(RecordState(), RecordEvent.SAVE, complete=False, changed_items=["a"])
    assert state.status is RecordStatus.IN_PROGRESS
    assert apply_event(state, RecordEvent.SAVE, complete=True, changed_items=["b"]).status is RecordStatus.COMPLETE
    # a complete record whose required item is cleared falls back to in progress
    assert apply_event(COMPLETE, RecordEvent.SAVE, complete=False, changed_items=["b"]).status is RecordStatus.IN_PROGRESS


def test_a_save_without_changes_leaves_the_state_as_it_was() -> None:
    signed = RecordState(RecordStatus.COMPLETE, frozenset({Flag.SIGNED}))
    assert apply_event(signed, RecordEvent.SAVE, complete=True, changed_items=[]) == signed


def test_a_locked_record_refuses_every_write_but_unlock() -> None:
    locked = apply_event(COMPLETE, RecordEvent.LOCK)
    for event in RecordEvent:
        if event is RecordEvent.UNLOCK:
            continue
        with pytest.raises(RecordStateError, match="is locked"):
            apply_event(locked, event, reason="because", changed_items=["a"])
    assert apply_event(locked, RecordEvent.UNLOCK) == COMPLETE
    assert not locked.accepts_values


def test_a_frozen_record_accepts_queries_verification_and_signatures_but_no_values() -> None:
    frozen = apply_event(COMPLETE, RecordEvent.FREEZE)
    with pytest.raises(RecordStateError, match="is frozen"):
        apply_event(frozen, RecordEvent.SAVE, changed_items=["a"])
    with pytest.raises(RecordStateError, match="is frozen"):
        apply_event(frozen, RecordEvent.MARK_NOT_EXPECTED, reason="x")
    queried = apply_event(frozen, RecordEvent.OPEN_QUERY, items=["a"])
    assert queried.flags == {Flag.FROZEN, Flag.QUERIED}
    assert queried.items == {"a": {ItemFlag.QUERIED}}
    assert Flag.SIGNED in apply_event(apply_event(queried, RecordEvent.VERIFY), RecordEvent.SIGN).flags
    assert apply_event(frozen, RecordEvent.UNFREEZE).accepts_values


def test_a_change_to_a_signed_record_breaks_the_signature_and_signing_again_mends_it() -> None:
    signed = apply_event(COMPLETE, RecordEvent.SIGN)
    changed = apply_event(signed, RecordEvent.SAVE, complete=True, changed_items=["esr"])
    assert changed.flags == {Flag.SIGNED, Flag.SIGNATURE_BROKEN}
    assert apply_event(changed, RecordEvent.SIGN).flags == {Flag.SIGNED}


def test_a_change_to_a_verified_record_and_item_is_flagged_changed_since_verified() -> None:
    verified = apply_event(apply_event(COMPLETE, RecordEvent.VERIFY), RecordEvent.VERIFY, items=["esr", "crp"])
    changed = apply_event(verified, RecordEvent.SAVE, complete=True, changed_items=["esr"])
    assert changed.flags == {Flag.VERIFIED, Flag.CHANGED_SINCE_VERIFIED}
    assert changed.items == {"esr": {ItemFlag.VERIFIED, ItemFlag.CHANGED_SINCE_VERIFIED}, "crp": {ItemFlag.VERIFIED}}
    again = apply_event(apply_event(changed, RecordEvent.VERIFY), RecordEvent.VERIFY, items=["esr"])
    assert again.flags == {Flag.VERIFIED}
    assert again.items["esr"] == {ItemFlag.VERIFIED}


def test_not_done_needs_a_reason_refuses_values_and_reopens() -> None:
    with pytest.raises(InputError) as refused:
        apply_event(RecordState(), RecordEvent.MARK_NOT_DONE, reason="  ")
    assert refused.value.field == "reason"
    not_done = apply_event(RecordState(), RecordEvent.MARK_NOT_DONE, reason="lab not drawn")
    assert (not_done.status, not_done.reason) == (RecordStatus.NOT_DONE, "lab not drawn")
    with pytest.raises(RecordStateError, match="reopen it"):
        check_event(not_done, RecordEvent.SAVE)
    assert apply_event(not_done, RecordEvent.REOPEN) == RecordState()
    with pytest.raises(RecordStateError, match="only a record not started or in progress"):
        apply_event(COMPLETE, RecordEvent.MARK_NOT_DONE, reason="x")


def test_not_expected_only_without_values_and_restored() -> None:
    gone = apply_event(RecordState(), RecordEvent.MARK_NOT_EXPECTED, reason="died on 2026-11-18")
    assert gone.status is RecordStatus.NOT_EXPECTED
    assert not gone.accepts_values
    assert apply_event(gone, RecordEvent.RESTORE_EXPECTED) == RecordState()
    with pytest.raises(RecordStateError, match="holding values"):
        apply_event(COMPLETE, RecordEvent.MARK_NOT_EXPECTED, reason="x")


def test_entered_in_error_keeps_the_record_and_refuses_values() -> None:
    wrong = apply_event(COMPLETE, RecordEvent.MARK_ENTERED_IN_ERROR, reason="wrong patient")
    assert wrong.status is RecordStatus.COMPLETE
    assert wrong.flags == {Flag.ENTERED_IN_ERROR}
    with pytest.raises(RecordStateError, match="entered in error"):
        apply_event(wrong, RecordEvent.SAVE, changed_items=["a"])


def test_only_finished_records_are_verified_or_signed() -> None:
    in_progress = RecordState(RecordStatus.IN_PROGRESS)
    with pytest.raises(RecordStateError, match="only a complete"):
        apply_event(in_progress, RecordEvent.SIGN)
    with pytest.raises(RecordStateError, match="only a complete"):
        apply_event(RecordState(), RecordEvent.VERIFY)


def test_closing_queries_of_some_items_keeps_the_record_queried_while_others_are_open() -> None:
    queried = apply_event(COMPLETE, RecordEvent.OPEN_QUERY, items=["a", "b"])
    one_closed = apply_event(queried, RecordEvent.CLOSE_QUERIES, items=["a"])
    assert Flag.QUERIED in one_closed.flags
    assert one_closed.items == {"b": {ItemFlag.QUERIED}}
    assert apply_event(one_closed, RecordEvent.CLOSE_QUERIES, items=["b"]) == COMPLETE


@pytest.mark.parametrize(
    "state",
    [
        RecordState(),
        RecordState(RecordStatus.NOT_DONE, frozenset({Flag.LOCKED, Flag.QUERIED}), "not drawn",
                    {"esr": frozenset({ItemFlag.VERIFIED, ItemFlag.CHANGED_SINCE_VERIFIED})}),
    ],
)  # fmt: skip
def test_the_stored_form_reads_back_equal(state: RecordState) -> None:
    assert RecordState.from_json(state.as_json()) == state


def test_a_stored_state_with_an_unknown_flag_is_refused_by_name() -> None:
    with pytest.raises(InputError) as refused:
        RecordState.from_json({"status": "complete", "flags": ["approved"]})
    assert refused.value.field == "flags"
