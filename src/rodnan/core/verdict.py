"""Three-valued (Kleene) logic for criteria with missing data.

A criterion over a missing value is *unknown*, not false. Kleene's strong logic decides as much as
the known values allow: ``unknown or true`` is true, ``unknown and false`` is false, ``not unknown``
is unknown.

Truth values are coded as small integers ordered ``FALSE < UNKNOWN < TRUE``; with that order
``and`` is the minimum, ``or`` the maximum and ``not x`` is ``2 - x``. The same codes in numpy int8
arrays make bulk screening a few vector operations.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum, StrEnum


class Truth(IntEnum):
    """A Kleene truth value; ``and`` is ``min``, ``or`` is ``max``, ``not`` is ``2 - x``."""

    FALSE = 0
    UNKNOWN = 1
    TRUE = 2

    def __invert__(self) -> Truth:
        return Truth(2 - int(self))

    @property
    def verdict(self) -> Verdict:
        """The criterion verdict for this truth value."""
        return _VERDICTS[self]


class Verdict(StrEnum):
    """The verdict on one criterion."""

    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"


_VERDICTS = {Truth.FALSE: Verdict.NOT_MET, Truth.UNKNOWN: Verdict.UNKNOWN, Truth.TRUE: Verdict.MET}
VERDICT_BY_CODE: tuple[Verdict, Verdict, Verdict] = (Verdict.NOT_MET, Verdict.UNKNOWN, Verdict.MET)


def all_of(values: Iterable[Truth]) -> Truth:
    """Kleene conjunction (true for no operands)."""
    return min(values, default=Truth.TRUE)


def any_of(values: Iterable[Truth]) -> Truth:
    """Kleene disjunction (false for no operands)."""
    return max(values, default=Truth.FALSE)


def truth_of(value: bool | None) -> Truth:
    """Map a Python boolean or ``None`` (missing) to a truth value."""
    if value is None:
        return Truth.UNKNOWN
    return Truth.TRUE if value else Truth.FALSE
