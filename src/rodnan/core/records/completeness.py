"""Completeness: when a record and a visit are complete, from the record states (:mod:`.states`).

A *record* is complete when every item its form requires (:meth:`rodnan.core.protocol.model.Study.required_items`:
``required: marked`` by default, the items marked ``required: true``; ``all``; or a list) holds a valid value or a
missing-data code; :func:`rodnan.core.entry.check_form_entry` says so (``FormEntryResult.complete``) and the save
moves the record to ``complete`` or ``in_progress`` (:func:`rodnan.core.records.states.apply_event`). Values that
break a rule, including an answer outside the chosen instrument version's answers, are refused before that.

A *visit* is complete when each form it expects is settled: complete, marked not done (with its reason) or not
expected. A visit that took place (``done_on``) but has forms outstanding is *incomplete*, not done.

This is a step of its own, separate from the protocol's cross-record checks and the lifecycle rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rodnan.core.records.states import RecordStatus

SETTLED: frozenset[RecordStatus] = frozenset({RecordStatus.COMPLETE, RecordStatus.NOT_DONE, RecordStatus.NOT_EXPECTED})
"""Record statuses that need nothing more for their visit to be complete."""


def outstanding_forms(expected: Iterable[str], statuses: Mapping[str, RecordStatus | str]) -> tuple[str, ...]:
    """The forms of a visit that still need data: not settled (not started, in progress) or with no record.

    Args:
        expected: the form codes the visit expects (its records, or the protocol's forms of the visit).
        statuses: form code -> the status of the visit's record of that form (a status or its value).

    Returns:
        The outstanding form codes, in the order of ``expected``.
    """
    out: list[str] = []
    for form in expected:
        status = statuses.get(form)
        if status is None or RecordStatus(status) not in SETTLED:
            out.append(form)
    return tuple(out)


def visit_complete(expected: Iterable[str], statuses: Mapping[str, RecordStatus | str]) -> bool:
    """True when every form the visit expects is complete, marked not done or not expected."""
    return not outstanding_forms(expected, statuses)


__all__ = ["SETTLED", "outstanding_forms", "visit_complete"]
