"""The states of a record and of its items: one state machine for scheduled and log records alike.

A record (one form at one visit, or one entry of a log form such as medical history) has a
*status* and a set of orthogonal data-management *flags*::

    status:  not_started --save--> in_progress <--save--> complete
             not_started, in_progress --mark_not_done(reason)--> not_done --reopen--> not_started
             any status without values --mark_not_expected(reason)--> not_expected --restore_expected--> not_started
    flags:   queried, verified (+ changed_since_verified), signed (+ signature_broken), frozen, locked,
             entered_in_error

The rules live here and nowhere else:

- a **locked** record refuses every write (values, statuses, flags) except ``unlock``;
- a **frozen** record refuses values and status changes but still accepts queries, verification
  and signatures; ``unfreeze`` lifts it;
- a record **entered in error** refuses values and status changes (it is kept, never deleted);
- a change of values of a **signed** record breaks its signature (``signature_broken``; signing
  again mends it); of a **verified** record marks it ``changed_since_verified`` (verifying again
  clears it); per item the same, for the items that changed;
- saving values of a record that is ``not_done`` or ``not_expected`` is refused: reopen it first.

Item states: per item code, flags ``queried``, ``verified`` and ``changed_since_verified``.

The web layer stores :meth:`RecordState.as_json` and passes states back through
:meth:`RecordState.from_json`; every function here is pure and returns new states.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TypeVar

from rodnan.errors import InputError

F = TypeVar("F", bound=StrEnum)


class RecordStatus(StrEnum):
    """How far a record's data entry has come."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    NOT_DONE = "not_done"
    NOT_EXPECTED = "not_expected"

    @property
    def label(self) -> str:
        """The status for people ("In progress")."""
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    RecordStatus.NOT_STARTED: "Not started",
    RecordStatus.IN_PROGRESS: "In progress",
    RecordStatus.COMPLETE: "Complete",
    RecordStatus.NOT_DONE: "Not done",
    RecordStatus.NOT_EXPECTED: "Not expected",
}


class Flag(StrEnum):
    """A data-management flag of a record (orthogonal to its status)."""

    QUERIED = "queried"
    VERIFIED = "verified"
    CHANGED_SINCE_VERIFIED = "changed_since_verified"
    SIGNED = "signed"
    SIGNATURE_BROKEN = "signature_broken"
    FROZEN = "frozen"
    LOCKED = "locked"
    ENTERED_IN_ERROR = "entered_in_error"


class ItemFlag(StrEnum):
    """A data-management flag of one item of a record."""

    QUERIED = "queried"
    VERIFIED = "verified"
    CHANGED_SINCE_VERIFIED = "changed_since_verified"


class RecordEvent(StrEnum):
    """Something that changes a record's state (values saved, or a data-management step)."""

    SAVE = "save"
    MARK_NOT_DONE = "mark_not_done"
    REOPEN = "reopen"
    MARK_NOT_EXPECTED = "mark_not_expected"
    RESTORE_EXPECTED = "restore_expected"
    OPEN_QUERY = "open_query"
    CLOSE_QUERIES = "close_queries"
    VERIFY = "verify"
    SIGN = "sign"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    LOCK = "lock"
    UNLOCK = "unlock"
    MARK_ENTERED_IN_ERROR = "mark_entered_in_error"


class RecordStateError(InputError):
    """A write the record's state does not allow; the rule says why."""

    def __init__(self, rule: str, value: object = None) -> None:
        super().__init__("record", rule, value)


_NEEDS_REASON = frozenset({RecordEvent.MARK_NOT_DONE, RecordEvent.MARK_NOT_EXPECTED, RecordEvent.MARK_ENTERED_IN_ERROR})
"""Events that need a reason (kept on the state and in the audit entry)."""

_CHANGES_DATA = frozenset(
    {RecordEvent.SAVE, RecordEvent.MARK_NOT_DONE, RecordEvent.REOPEN, RecordEvent.MARK_NOT_EXPECTED, RecordEvent.RESTORE_EXPECTED}
)
"""Events that change the record's data or status: refused while frozen or entered in error."""


@dataclass(frozen=True)
class RecordState:
    """A record's status, flags, the reason of its status and the flags of its items.

    Attributes:
        status: how far data entry has come.
        flags: the record's data-management flags.
        reason: why the record is not done, not expected or entered in error ("" otherwise).
        items: item code -> that item's flags (items without flags are absent).
    """

    status: RecordStatus = RecordStatus.NOT_STARTED
    flags: frozenset[Flag] = frozenset()
    reason: str = ""
    items: Mapping[str, frozenset[ItemFlag]] = field(default_factory=dict)

    def has(self, flag: Flag) -> bool:
        """True when the record carries ``flag``."""
        return flag in self.flags

    @property
    def accepts_values(self) -> bool:
        """True when values may be saved (not locked, frozen or in error; not marked not done or not expected)."""
        try:
            check_event(self, RecordEvent.SAVE)
        except RecordStateError:
            return False
        return True

    def as_json(self) -> dict[str, object]:
        """The state as a JSON-ready dict (sorted, so equal states give equal JSON)."""
        return {
            "status": self.status.value,
            "flags": sorted(f.value for f in self.flags),
            "reason": self.reason,
            "items": {code: sorted(f.value for f in flags) for code, flags in sorted(self.items.items()) if flags},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object] | None) -> RecordState:
        """Read back :meth:`as_json` (None or {} is a record not started).

        Raises:
            InputError: an unknown status or flag (the field names it).
        """
        if not data:
            return cls()
        try:
            status = RecordStatus(str(data.get("status", RecordStatus.NOT_STARTED.value)))
        except ValueError:
            raise InputError("status", f"must be one of {', '.join(s.value for s in RecordStatus)}", data.get("status")) from None
        flags = _parse_flags(Flag, data.get("flags", []), "flags")
        raw_items = data.get("items", {})
        if not isinstance(raw_items, Mapping):
            raise InputError("items", "must be an object of item code -> flags", raw_items)
        items = {str(code): _parse_flags(ItemFlag, value, f"items.{code}") for code, value in raw_items.items()}
        reason = data.get("reason", "")
        return cls(status, flags, reason if isinstance(reason, str) else str(reason), {c: f for c, f in items.items() if f})


def _parse_flags(kind: type[F], value: object, where: str) -> frozenset[F]:
    if not isinstance(value, list | tuple):
        raise InputError(where, "must be a list of flags", value)
    try:
        return frozenset(kind(str(v)) for v in value)
    except ValueError:
        raise InputError(where, f"must hold only {', '.join(f.value for f in kind)}", value) from None


def check_event(state: RecordState, event: RecordEvent) -> None:
    """Refuse ``event`` when the record's state does not allow it.

    Raises:
        RecordStateError: the rule the state breaks (locked, frozen, entered in error, or the status).
    """
    if Flag.LOCKED in state.flags and event is not RecordEvent.UNLOCK:
        raise RecordStateError("is locked: it accepts no change until it is unlocked", event.value)
    if event is RecordEvent.UNLOCK and Flag.LOCKED not in state.flags:
        raise RecordStateError("is not locked", event.value)
    if event in _CHANGES_DATA:
        if Flag.FROZEN in state.flags:
            raise RecordStateError("is frozen: it accepts queries but no values until it is unfrozen", event.value)
        if Flag.ENTERED_IN_ERROR in state.flags:
            raise RecordStateError("was entered in error: it accepts no values", event.value)
    if event is RecordEvent.UNFREEZE and Flag.FROZEN not in state.flags:
        raise RecordStateError("is not frozen", event.value)
    if event is RecordEvent.MARK_ENTERED_IN_ERROR and Flag.ENTERED_IN_ERROR in state.flags:
        raise RecordStateError("is already marked entered in error", event.value)
    status = state.status
    if event is RecordEvent.SAVE and status in (RecordStatus.NOT_DONE, RecordStatus.NOT_EXPECTED):
        raise RecordStateError(f"is marked {status.label.lower()}; reopen it before entering values", event.value)
    if event is RecordEvent.MARK_NOT_DONE and status not in (RecordStatus.NOT_STARTED, RecordStatus.IN_PROGRESS):
        raise RecordStateError(f"is {status.label.lower()}: only a record not started or in progress can be marked not done",
                               event.value)  # fmt: skip
    if event is RecordEvent.REOPEN and status is not RecordStatus.NOT_DONE:
        raise RecordStateError(f"is {status.label.lower()}, not marked not done", event.value)
    if event is RecordEvent.MARK_NOT_EXPECTED and status not in (RecordStatus.NOT_STARTED, RecordStatus.NOT_DONE):
        raise RecordStateError(f"is {status.label.lower()}: a record holding values cannot be marked not expected", event.value)
    if event is RecordEvent.RESTORE_EXPECTED and status is not RecordStatus.NOT_EXPECTED:
        raise RecordStateError(f"is {status.label.lower()}, not marked not expected", event.value)
    if event in (RecordEvent.VERIFY, RecordEvent.SIGN) and status in (RecordStatus.NOT_STARTED, RecordStatus.IN_PROGRESS):
        raise RecordStateError(f"is {status.label.lower()}: only a complete, not done or not expected record can be "
                               f"{'verified' if event is RecordEvent.VERIFY else 'signed'}", event.value)  # fmt: skip


def apply_event(
    state: RecordState,
    event: RecordEvent,
    *,
    reason: str = "",
    complete: bool = False,
    changed_items: Collection[str] = (),
    items: Collection[str] = (),
) -> RecordState:
    """The state after ``event``.

    Args:
        state: the record's state now.
        event: what happens.
        reason: why (required for not done, not expected and entered in error).
        complete: for ``save``, whether the saved values complete the record.
        changed_items: for ``save``, the item codes whose value changed.
        items: for ``open_query``, ``close_queries`` and ``verify``, the items concerned (empty: the record).

    Returns:
        The new state (``state`` itself is unchanged).

    Raises:
        RecordStateError: the state does not allow the event, or a required reason is missing.
    """
    check_event(state, event)
    reason = reason.strip()
    if event in _NEEDS_REASON and not reason:
        raise InputError("reason", f"is required to {event.value.replace('_', ' ')}", reason)
    flags = set(state.flags)
    item_flags = {code: set(value) for code, value in state.items.items()}
    status = state.status
    new_reason = state.reason
    if event is RecordEvent.SAVE:
        if not changed_items:
            return state
        status = RecordStatus.COMPLETE if complete else RecordStatus.IN_PROGRESS
        if Flag.SIGNED in flags:
            flags.add(Flag.SIGNATURE_BROKEN)
        if Flag.VERIFIED in flags:
            flags.add(Flag.CHANGED_SINCE_VERIFIED)
        for code in changed_items:
            if ItemFlag.VERIFIED in item_flags.get(code, set()):
                item_flags[code].add(ItemFlag.CHANGED_SINCE_VERIFIED)
    elif event is RecordEvent.MARK_NOT_DONE:
        status, new_reason = RecordStatus.NOT_DONE, reason
    elif event is RecordEvent.REOPEN:
        status, new_reason = RecordStatus.NOT_STARTED, ""
    elif event is RecordEvent.MARK_NOT_EXPECTED:
        status, new_reason = RecordStatus.NOT_EXPECTED, reason
    elif event is RecordEvent.RESTORE_EXPECTED:
        status, new_reason = RecordStatus.NOT_STARTED, ""
    elif event is RecordEvent.OPEN_QUERY:
        flags.add(Flag.QUERIED)
        for code in items:
            item_flags.setdefault(code, set()).add(ItemFlag.QUERIED)
    elif event is RecordEvent.CLOSE_QUERIES:
        targets = set(items)
        for code in list(item_flags):
            if not targets or code in targets:
                item_flags[code].discard(ItemFlag.QUERIED)
        if not targets or not any(ItemFlag.QUERIED in value for value in item_flags.values()):
            flags.discard(Flag.QUERIED)
    elif event is RecordEvent.VERIFY:
        if items:
            for code in items:
                item_flags.setdefault(code, set()).add(ItemFlag.VERIFIED)
                item_flags[code].discard(ItemFlag.CHANGED_SINCE_VERIFIED)
        else:
            flags.add(Flag.VERIFIED)
            flags.discard(Flag.CHANGED_SINCE_VERIFIED)
    elif event is RecordEvent.SIGN:
        flags.add(Flag.SIGNED)
        flags.discard(Flag.SIGNATURE_BROKEN)
    elif event is RecordEvent.FREEZE:
        flags.add(Flag.FROZEN)
    elif event is RecordEvent.UNFREEZE:
        flags.discard(Flag.FROZEN)
    elif event is RecordEvent.LOCK:
        flags.add(Flag.LOCKED)
    elif event is RecordEvent.UNLOCK:
        flags.discard(Flag.LOCKED)
    elif event is RecordEvent.MARK_ENTERED_IN_ERROR:
        flags.add(Flag.ENTERED_IN_ERROR)
        new_reason = reason
    return replace(
        state,
        status=status,
        flags=frozenset(flags),
        reason=new_reason,
        items={code: frozenset(value) for code, value in item_flags.items() if value},
    )
