"""Lifecycle and cross-record checks of a record's dates and values: a separate step of the plans.

Two kinds of rule, each named by a code that its finding (and so its error) carries:

- the **general lifecycle rules**, Python here, valid for any protocol:
  ``after_end`` (no visit or value dated after the subject's death, withdrawal, completion or loss
  to follow-up), ``before_screening`` (no visit or value dated before screening), ``before_consent``
  (no visit after the screening visit dated before consent; at the screening visit, a visit date or a date
  item before consent is a warning to confirm: standard-of-care results taken before consent are
  legitimate, study procedures are not), ``before_infusion`` (no visit from day 0
  on dated before the infusion), ``visit_window`` (a visit outside its window: a warning to confirm)
  and, for the end of participation, ``early_completion`` (follow-up completed before the last
  scheduled visit: a reason and a confirmation);
- the **protocol's checks** (``checks:`` in the protocol file, :class:`rodnan.core.protocol.model.CheckDef`):
  an expression over the record's items, the subject's dates and the visit's date and window that
  must hold; when it is false the check's severity decides: ``error`` refuses, ``warning`` asks for a
  confirmation, ``query`` saves and returns the finding (recorded in the audit entry).

Dates enter expressions as day numbers (:meth:`datetime.date.toordinal`, unit ``d``), so
``sample_date >= window_start`` compares two dates (the context's names: :data:`CONTEXT_DATES`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass

from rodnan.core.entry import EnteredValue, FormEntryResult, normalized_values
from rodnan.core.protocol.model import CONTEXT_DATES, GENERAL_CHECK_CODES, Study
from rodnan.core.records.errors import EntryRejectedError
from rodnan.core.records.model import SubjectSnapshot, VisitSnapshot
from rodnan.core.values import partial_date_bounds
from rodnan.core.verdict import Truth
from rodnan.errors import InputError

AFTER_END = "after_end"
BEFORE_SCREENING = "before_screening"
BEFORE_CONSENT = "before_consent"
BEFORE_INFUSION = "before_infusion"
VISIT_WINDOW = "visit_window"
EARLY_COMPLETION = "early_completion"

GENERAL_RULES: dict[str, str] = {
    AFTER_END: "nothing is dated after the end of the subject's participation (death, withdrawal, completion)",
    BEFORE_SCREENING: "nothing is dated before the subject's screening",
    BEFORE_CONSENT: "no visit after screening is dated before the subject's consent (at screening: confirmed)",
    BEFORE_INFUSION: "no visit from day 0 on is dated before the infusion",
    VISIT_WINDOW: "a visit outside its window is confirmed",
    EARLY_COMPLETION: "follow-up completed before the last scheduled visit needs a reason and a confirmation",
}
"""The general rules by code, in plain words (the protocol's checks may not reuse these codes)."""
assert set(GENERAL_RULES) == set(GENERAL_CHECK_CODES)


@dataclass(frozen=True)
class Finding:
    """A rule a record (or an action) breaks.

    Attributes:
        code: the rule's code (a general rule of :data:`GENERAL_RULES` or a check of the protocol).
        severity: ``error`` (refused), ``warning`` (saved once confirmed) or ``query`` (saved, and reported).
        field: the item or field concerned ("visit_date", an item code, "end_date").
        message: what is wrong, in plain words, with the dates concerned.
    """

    code: str
    severity: str
    field: str
    message: str

    @property
    def rule(self) -> str:
        """The message with the rule's code, as errors show it ("[after_end] ...")."""
        return f"[{self.code}] {self.message}"


class ConfirmationNeededError(InputError):
    """An action breaks a warning rule that was not confirmed; ``finding`` names it (confirm with its code)."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.field, f"{finding.rule}; confirm to go on", None)
        self.finding = finding


class CheckWarningError(EntryRejectedError):
    """A record's save breaks a warning rule that was not confirmed; ``finding`` names it (confirm with its code)."""

    def __init__(self, entry: FormEntryResult, finding: Finding) -> None:
        super().__init__(entry, finding.field, f"{finding.rule}; confirm to save")
        self.finding = finding


def _end_words(subject: SubjectSnapshot) -> str:
    words = {"died": "death", "withdrawn": "withdrawal", "completed": "completion of follow-up",
             "lost_to_follow_up": "loss to follow-up", "screen_failed": "screen failure"}  # fmt: skip
    return words.get(subject.status, "end of participation")


def date_findings(subject: SubjectSnapshot, field: str, when: dt.date, visit: VisitSnapshot | None) -> Iterator[Finding]:
    """The general rules broken by one date of a record (its visit date or a date item).

    Args:
        subject: the record's subject.
        field: the field holding the date ("visit_date" or an item code).
        when: the date.
        visit: the record's visit (None for a log record): consent and infusion apply by its day.
    """
    end = subject.end_date
    if end is not None and when > end:
        yield Finding(AFTER_END, "error", field, f"{when.isoformat()} is after the subject's {_end_words(subject)} "
                                                 f"on {end.isoformat()}")  # fmt: skip
    if when < subject.screening_date:
        yield Finding(BEFORE_SCREENING, "error", field, f"{when.isoformat()} is before screening "
                                                        f"({subject.screening_date.isoformat()})")  # fmt: skip
    if visit is None:
        return
    consent = subject.consent_date
    if visit.day < 0 and consent is not None and when < consent:  # screening: a warning, visit date and date items
        message = (f"{when.isoformat()} is before consent ({consent.isoformat()}): a study procedure needs consent "
                   "first; confirm only a standard-of-care result taken before consent")  # fmt: skip
        yield Finding(BEFORE_CONSENT, "warning", field, message)
    if field != "visit_date":
        return
    if visit.day >= 0 and consent is not None and when < consent:
        yield Finding(BEFORE_CONSENT, "error", field, f"{when.isoformat()} is before consent ({consent.isoformat()})")
    if visit.day >= 0 and subject.infusion_date is not None and when < subject.infusion_date:
        yield Finding(BEFORE_INFUSION, "error", field, f"{when.isoformat()} is before the infusion "
                                                       f"({subject.infusion_date.isoformat()})")  # fmt: skip
    if visit.day > 0 and not visit.window_start <= when <= visit.window_end:
        window = f"{visit.window_start.isoformat()} to {visit.window_end.isoformat()}"
        yield Finding(VISIT_WINDOW, "warning", field, f"{visit.label} on {when.isoformat()} is outside its window {window}")


def _value_date(value: EnteredValue) -> dt.date | None:
    if value.type != "date" or not isinstance(value.value, str):
        return None
    try:
        return dt.date.fromisoformat(value.value)
    except ValueError:
        return None


def earliest_date(type_: object, value: object) -> dt.date | None:
    """The earliest day a stored date or partial date can mean ("2026-03" -> 2026-03-01); None for other values."""
    if type_ not in ("date", "partial_date") or not isinstance(value, str):
        return None
    try:
        return partial_date_bounds(value)[0] if type_ == "partial_date" else dt.date.fromisoformat(value)
    except (ValueError, InputError):
        return None


def context_facts(subject: SubjectSnapshot, visit: VisitSnapshot | None, visit_date: dt.date | None) -> dict[str, float | None]:
    """The subject's and the visit's dates as day numbers, by the names the protocol's checks use."""

    def day(value: dt.date | None) -> float | None:
        return float(value.toordinal()) if value is not None else None

    facts = {
        "screening_day": day(subject.screening_date), "consent_day": day(subject.consent_date),
        "enrolment_day": day(subject.enrolment_date), "infusion_day": day(subject.infusion_date),
        "end_day": day(subject.end_date), "visit_day": day(visit_date),
        "window_start": day(visit.window_start) if visit else None, "window_end": day(visit.window_end) if visit else None,
    }  # fmt: skip
    assert set(facts) == set(CONTEXT_DATES)
    return facts


def protocol_findings(
    study: Study, form_code: str, values: Mapping[str, EnteredValue], subject: SubjectSnapshot, visit: VisitSnapshot | None,
    visit_date: dt.date | None,
) -> Iterator[Finding]:  # fmt: skip
    """The protocol's checks of ``form_code`` (at ``visit``) whose expression is false for these values.

    An expression that is unknown (a value it reads is missing) raises nothing: missing values are
    the completeness rules' concern.
    """
    checks = study.checks_by_form.get(form_code, ())
    if not checks:
        return
    facts: dict[str, float | None] = dict(context_facts(subject, visit, visit_date))
    facts.update({code: v.value for code, v in normalized_values(study, values).items()})
    for code, value in values.items():
        when = _value_date(value)
        if when is not None:
            facts[code] = float(when.toordinal())
    for check in checks:
        if check.definition.visits and (visit is None or visit.code not in check.definition.visits):
            continue
        if check.expression.truth(facts) is Truth.FALSE:
            field = next(iter(sorted(check.expression.item_codes - set(CONTEXT_DATES))), "form")
            yield Finding(check.definition.code, check.definition.severity, field, check.definition.label)


def check_record(
    study: Study, form_code: str, entry: FormEntryResult, subject: SubjectSnapshot, visit: VisitSnapshot | None,
    visit_date: dt.date | None, confirmed: Collection[str],
) -> tuple[Finding, ...]:  # fmt: skip
    """Every rule (general and the protocol's) for a record about to be saved.

    Args:
        study: the protocol.
        form_code: the record's form.
        entry: the entry check's result (its values are checked).
        subject: the record's subject.
        visit: the record's visit, or None for a log record.
        visit_date: the date the visit took place (as stored, or as it will be), None for a log record.
        confirmed: the codes of warnings the user confirmed (with the items' confirmed warnings).

    Returns:
        The findings that do not stop the save: confirmed warnings and queries.

    Raises:
        EntryRejectedError: an error rule broken (the rule's code in ``rule``).
        CheckWarningError: a warning rule broken and not confirmed.
    """
    findings: list[Finding] = []
    if visit_date is not None:
        findings.extend(date_findings(subject, "visit_date", visit_date, visit))
    for code, value in entry.values.items():  # a date or partial date value: not after the end (the earliest day it means)
        when = earliest_date(value.type, value.value)
        if when is not None:
            findings.extend(f for f in date_findings(subject, code, when, visit) if f.code in (AFTER_END, BEFORE_CONSENT))
    findings.extend(protocol_findings(study, form_code, entry.values, subject, visit, visit_date))
    for finding in findings:
        if finding.severity == "error":
            raise EntryRejectedError(entry, finding.field, finding.rule)
    for finding in findings:
        if finding.severity == "warning" and finding.code not in confirmed:
            raise CheckWarningError(entry, finding)
    return tuple(findings)


__all__ = [
    "AFTER_END",
    "BEFORE_CONSENT",
    "BEFORE_INFUSION",
    "BEFORE_SCREENING",
    "EARLY_COMPLETION",
    "GENERAL_RULES",
    "VISIT_WINDOW",
    "CheckWarningError",
    "ConfirmationNeededError",
    "Finding",
    "check_record",
    "context_facts",
    "date_findings",
    "earliest_date",
    "protocol_findings",
]
