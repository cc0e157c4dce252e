"""Records the intervention cannot be given without: the protocol's ``intervention.requires``.

A requirement (e.g. a negative pregnancy test within 7 days before the infusion, for a woman of
child-bearing potential) is protocol data (:class:`rodnan.core.protocol.model.RequirementDef`); this
module holds the general rule:

- it **applies** unless its ``applies`` expression is false for the subject's screening values (true or
  unknown: a condition not recorded, e.g. child-bearing potential left blank, is no reason to skip it);
- it is **met** for an infusion on day *D* by a record of one of its ``forms`` whose ``record`` expression
  is true and whose ``date`` item holds a day from *D* − ``within_days`` to *D* (both included).

:func:`check_requirements` refuses the infusion step (:func:`rodnan.core.records.subject_plans.plan_infusion`);
:func:`unmet_requirements` answers for a range of days, so the infusion page can say before it is filled
that no record could satisfy the rule for any date the step would accept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rodnan.core.entry import EnteredValue, normalized_values
from rodnan.core.protocol.model import CompiledRequirement, Study
from rodnan.core.records.model import RecordSnapshot
from rodnan.core.records.states import Flag, RecordStatus
from rodnan.core.verdict import Truth
from rodnan.errors import InputError

__all__ = ["UnmetRequirement", "check_requirements", "unmet_requirements"]


@dataclass(frozen=True)
class UnmetRequirement:
    """A requirement no record satisfies: its code (the error's field) and the sentence for people."""

    code: str
    message: str

    @property
    def rule(self) -> str:
        """The message with the requirement's code, as errors show it ("[negative_pregnancy_test] ...")."""
        return f"[{self.code}] {self.message}"


def _record_day(requirement: CompiledRequirement, record: RecordSnapshot, study: Study) -> dt.date | None:
    """The record's date if it satisfies the requirement's ``record`` expression, else None."""
    if record.form_code not in requirement.definition.forms or record.state.status is RecordStatus.NOT_DONE:
        return None
    if Flag.ENTERED_IN_ERROR in record.state.flags:
        return None
    values = {code: EnteredValue.from_json(data) for code, data in record.values.items()}
    stamp = values.get(requirement.definition.date)
    if stamp is None or stamp.missing or not isinstance(stamp.value, str):
        return None
    day = dt.date.fromisoformat(stamp.value)
    facts: dict[str, float | None] = {code: value.value for code, value in normalized_values(study, values).items()}
    facts[requirement.definition.date] = float(day.toordinal())
    return day if requirement.record.truth(facts) is Truth.TRUE else None


def unmet_requirements(
    study: Study, screening: Mapping[str, EnteredValue], records: Iterable[RecordSnapshot], first: dt.date, last: dt.date
) -> tuple[UnmetRequirement, ...]:
    """The requirements that no record satisfies for any infusion dated from ``first`` to ``last``.

    Args:
        study: the protocol.
        screening: the subject's screening values (what ``applies`` reads).
        records: the subject's records (scheduled and log).
        first: the earliest infusion date considered (for the step itself: the infusion date).
        last: the latest (for the step itself: the infusion date; for the page: today).

    Returns:
        One :class:`UnmetRequirement` per requirement that applies and is not met, in protocol order.
    """
    records = tuple(records)
    facts = {code: value.value for code, value in normalized_values(study, screening).items()}
    out: list[UnmetRequirement] = []
    for requirement in study.requirements:
        definition = requirement.definition
        applies = requirement.applies.truth(facts)
        if applies is Truth.FALSE:
            continue
        days = [day for record in records if (day := _record_day(requirement, record, study)) is not None]
        earliest = first - dt.timedelta(days=definition.within_days)
        if any(earliest <= day <= last for day in days):
            continue
        when = f"dated {earliest.isoformat()} to {last.isoformat()}"
        forms = " or ".join(study.form_by_code[code].label for code in definition.forms if code in study.form_by_code)
        why = " (it applies: the values it depends on are not all recorded)" if applies is Truth.UNKNOWN else ""
        out.append(UnmetRequirement(definition.code, f"{definition.label}: no {forms} record {when} shows it{why}"))
    return tuple(out)


def check_requirements(
    study: Study, screening: Mapping[str, EnteredValue], records: Iterable[RecordSnapshot], infusion_date: dt.date
) -> None:
    """Refuse an infusion on ``infusion_date`` that a requirement of the protocol forbids.

    Raises:
        InputError: the first requirement not met; the field is the requirement's code, the rule says what
            is missing and the days a record would have to be dated ("[negative_pregnancy_test] ...").
    """
    unmet = unmet_requirements(study, screening, records, infusion_date, infusion_date)
    if unmet:
        raise InputError(unmet[0].code, unmet[0].rule, infusion_date.isoformat())
