"""Plans of a subject's lifecycle: open a screening, consent, screen failure, enrolment, the intervention,
the end of participation, a missed visit.

Each ``plan_*`` function validates against the protocol and the subject's stored rows (given as
snapshots), computes the new fields, the visits to place and the audit entries, and returns a
:class:`rodnan.core.records.model.Plan`; or it refuses with a named error
(:class:`rodnan.errors.InputError` and subclasses) before anything is written. ``today`` is the
site's date: nothing may be dated after it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace

from rodnan.core.derivation import derive_items
from rodnan.core.dose import DoseCheck, check_dose
from rodnan.core.eligibility import ScreeningResult, ScreeningVerdict, build_screening_result
from rodnan.core.entry import EnteredValue, check_form_entry, normalized_values
from rodnan.core.lifecycle import SubjectStatus, Transition, next_status
from rodnan.core.protocol.model import Study
from rodnan.core.records.checks import AFTER_END, EARLY_COMPLETION, ConfirmationNeededError, Finding, earliest_date
from rodnan.core.records.errors import EntryRejectedError
from rodnan.core.records.model import (
    SCHEDULED_SEQ,
    AuditChange,
    ItemDelta,
    Plan,
    RecordSnapshot,
    RecordWrite,
    SubjectSnapshot,
    VisitSnapshot,
    VisitWrite,
)
from rodnan.core.records.requirements import check_requirements
from rodnan.core.records.states import RecordEvent, RecordState, RecordStatus, apply_event
from rodnan.core.schedule import plan_screening, plan_visits
from rodnan.errors import InputError

END_TRANSITIONS = (Transition.COMPLETE, Transition.WITHDRAW, Transition.DIE, Transition.LOSE_TO_FOLLOW_UP)
"""The transitions that end a subject's participation after consent."""


def screening_number(site_code: str, n: int) -> str:
    """The ``n``-th screening number of a site ("NJDT-S0001")."""
    return f"{site_code}-S{n:04d}"


def subject_code(site_code: str, n: int) -> str:
    """The ``n``-th subject ID of a site ("NJDT-001"), allocated at enrolment."""
    return f"{site_code}-{n:03d}"


def _text(value: object) -> str | None:
    if value in (None, ""):
        return None
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _check_date(field: str, value: dt.date, today: dt.date, not_before: dt.date | None = None, what: str = "") -> None:
    if value > today:
        raise InputError(field, "cannot be in the future", value.isoformat())
    if not_before is not None and value < not_before:
        raise InputError(field, f"cannot be before the {what} ({not_before.isoformat()})", value.isoformat())


def _subject_change(subject: SubjectSnapshot, action: str, reason: str, **fields: object) -> AuditChange:
    """One entry on the subject: the fields that change (old from ``subject``, new from ``fields``)."""
    changed = ((name, _text(getattr(subject, name)), _text(new)) for name, new in fields.items())
    items = tuple(ItemDelta(name, old, new) for name, old, new in changed if old != new)
    return AuditChange(action, "subject", subject.label, reason, items)


def _transition(subject: SubjectSnapshot, transition: Transition, reason: str = "", **fields: object
                ) -> tuple[SubjectSnapshot, AuditChange]:  # fmt: skip
    """The subject after ``transition`` (status and ``fields`` set, version + 1) and its audit entry."""
    new_status = next_status(SubjectStatus(subject.status), transition).value
    after = replace(subject, status=new_status, version=subject.version + 1, **fields)  # type: ignore[arg-type]
    if "subject_code" in fields:  # the label follows the subject ID from enrolment on
        after = replace(after, label=str(fields["subject_code"]))
    change = _subject_change(subject, f"subject.{transition.value}", reason, status=new_status, **fields)
    return after, replace(change, object_id=after.label)


def plan_open_screening(study: Study, site_code: str, number: int, screening_date: dt.date, today: dt.date) -> Plan:
    """Open the ``number``-th screening of a site: the subject and its screening visit with empty forms.

    Raises:
        InputError: ``screening_date`` after ``today``.
    """
    _check_date("screening_date", screening_date, today)
    label = screening_number(site_code, number)
    subject = SubjectSnapshot(label, SubjectStatus.SCREENING.value, 1, label, screening_date)
    change = AuditChange("subject.screen", "subject", label, "", (
        ItemDelta("screening_number", None, label), ItemDelta("status", None, subject.status),
        ItemDelta("screening_date", None, screening_date.isoformat()),
    ))  # fmt: skip
    return Plan(subject=subject, new_visits=(plan_screening(study, screening_date),), audit=(change,))


def plan_consent(subject: SubjectSnapshot, version: str, consent_date: dt.date, today: dt.date) -> Plan:
    """Record informed consent (the consent form's version and the date).

    Raises:
        InputError: no version; a date in the future or before screening; consent not allowed in the status.
    """
    version = version.strip()
    if not version:
        raise InputError("consent_version", "is required (the version of the consent form the subject signed)", version)
    _check_date("consent_date", consent_date, today, subject.screening_date, "screening date")
    after, change = _transition(subject, Transition.CONSENT, consent_version=version, consent_date=consent_date)
    return Plan(subject=after, audit=(change,))


def plan_screen_fail(subject: SubjectSnapshot, reason: str, today: dt.date, on: dt.date | None = None) -> Plan:
    """Record a screen failure with its reason; the subject's participation ends ``on`` (default today).

    Raises:
        InputError: no reason; a date in the future or before screening; a screen failure not allowed in the status.
    """
    reason = reason.strip()
    if not reason:
        raise InputError("reason", "is required (why the candidate did not enter the trial)", reason)
    on = on or today
    _check_date("end_date", on, today, subject.screening_date, "screening date")
    after, change = _transition(subject, Transition.SCREEN_FAIL, reason, screen_fail_reason=reason, end_date=on)
    return Plan(subject=after, audit=(change,))


def screening_values(records: Iterable[RecordSnapshot], screening_visits: Collection[str]) -> dict[str, EnteredValue]:
    """The values entered at the screening visit(s), merged by item in the order given (later records win)."""
    merged: dict[str, EnteredValue] = {}
    for record in records:
        if record.key[0] in screening_visits:
            merged.update({code: EnteredValue.from_json(data) for code, data in record.values.items()})
    return merged


def screening_result(study: Study, values: Mapping[str, EnteredValue]) -> ScreeningResult:
    """The eligibility verdict of a subject from its screening values (normalised as their entry check did)."""
    return build_screening_result(study, derive_items(study, normalized_values(study, values)))


def plan_enrol(
    study: Study, subject: SubjectSnapshot, screening: Mapping[str, EnteredValue], enrolment_date: dt.date, number: int,
    site_code: str, today: dt.date,
) -> Plan:  # fmt: skip
    """Enrol a consented subject whom the screening values make eligible, as the site's ``number``-th subject.

    Raises:
        InputError: on ``enrolment_date`` (future, before consent); on ``eligibility`` naming the criteria
            not met or unknown; on ``status`` when enrolment is not allowed.
    """
    _check_date("enrolment_date", enrolment_date, today, subject.consent_date, "consent date")
    next_status(SubjectStatus(subject.status), Transition.ENROL)  # refuse a wrong status before the verdict
    result = screening_result(study, screening)
    if result.verdict is not ScreeningVerdict.ELIGIBLE:
        failing = [
            c.label + (" (unknown)" if c.verdict.value == "unknown" else "")
            for c in result.criteria
            if (c.kind == "inclusion" and c.verdict.value != "met") or (c.kind == "exclusion" and c.verdict.value != "not_met")
        ]
        detail = "; ".join(failing[:4]) + ("; ..." if len(failing) > 4 else "")
        raise InputError("eligibility", f"the screening values make the subject {result.verdict.value}, not eligible ({detail})",
                         None)  # fmt: skip
    code = subject_code(site_code, number)
    reason = f"eligible; qualifying pathway(s): {', '.join(result.qualifying_pathways)}"
    after, change = _transition(subject, Transition.ENROL, reason, subject_code=code, enrolment_date=enrolment_date)
    return Plan(subject=after, audit=(change,))


def infusion_dose(study: Study, values: Mapping[str, EnteredValue]) -> DoseCheck | None:
    """The dose check of the intervention form's values, when the cells and the weight are both given."""
    roles = study.intervention_items
    cells, weight = values.get(roles.cells), values.get(roles.weight)
    if cells is None or weight is None or not isinstance(cells.value, float) or not isinstance(weight.value, float):
        return None
    return check_dose(study, cells.value, weight.value)


def plan_infusion(
    study: Study, subject: SubjectSnapshot, entries: Mapping[str, tuple[str, str | None]], confirmed: Collection[str],
    today: dt.date, *, records: Iterable[RecordSnapshot],
) -> Plan:  # fmt: skip
    """Record the intervention (the MSC infusion): check its form, the dose per kg and the protocol's
    requirements, move the subject into follow-up, place the protocol's visits from the infusion date and
    mark day 0 done.

    Args:
        study: the protocol.
        subject: the subject (enrolled).
        entries: the intervention form's items, as typed.
        confirmed: item codes whose warnings the user confirmed (the cells item: a dose outside the tolerance).
        today: the site's date.
        records: the subject's records (scheduled and log): the requirements (``intervention.requires``, e.g. a
            negative pregnancy test within 7 days before) read them, and the screening values their conditions.

    Raises:
        EntryRejectedError: errors or unconfirmed warnings, a missing item, a dose outside the protocol's
            tolerance that was not confirmed (field: the cells item).
        InputError: the infusion date in the future or before enrolment; the status does not allow it; a
            requirement not met (field: the requirement's code, :func:`rodnan.core.records.requirements.check_requirements`).
    """
    form = study.intervention_form
    roles = study.intervention_items
    entry = check_form_entry(study, form.code, entries, confirmed)
    if not entry.ok:
        raise EntryRejectedError(entry)
    missing = [code for code in form.items if code not in entry.values]
    if missing:
        raise EntryRejectedError(entry, missing[0], "is required to record the infusion")
    dose = infusion_dose(study, entry.values)
    if dose is not None and not dose.within_tolerance and roles.cells not in confirmed:
        raise EntryRejectedError(entry, roles.cells, f"{dose.message}; confirm to record it as given")
    infusion_date = dt.date.fromisoformat(str(entry.values[roles.date].value))
    _check_date(roles.date, infusion_date, today, subject.enrolment_date, "enrolment date")
    next_status(SubjectStatus(subject.status), Transition.INFUSE)  # a wrong status is refused before the requirements
    records = tuple(records)
    check_requirements(study, screening_values(records, {study.schedule.screening_visit}), records, infusion_date)
    after, change = _transition(subject, Transition.INFUSE, dose.message if dose else "", infusion_date=infusion_date)
    planned = tuple(p for p in plan_visits(study, infusion_date) if p.day >= 0)
    day0 = next(p for p in planned if p.day == 0)
    key = (day0.code, form.code, SCHEDULED_SEQ)
    state = apply_event(RecordState(), RecordEvent.SAVE, complete=True, changed_items=tuple(entry.values))
    record = RecordSnapshot(
        key, {code: value.as_json() for code, value in entry.values.items()}, tuple(sorted(entry.confirmed_warnings)), state,
        version=1, protocol_version=study.protocol.version,
    )  # fmt: skip
    values_change = AuditChange(
        "record.save", "record", f"{after.label}/{day0.code}/{form.code}", "",
        (*(ItemDelta(code, None, value.as_json()) for code, value in entry.values.items()),
         ItemDelta("status", RecordStatus.NOT_STARTED.value, state.status.value)),
        key,
    )  # fmt: skip
    schedule = AuditChange("visit.schedule", "subject", after.label, "",
                           (ItemDelta("visits", None, f"{len(planned)} visits from {infusion_date.isoformat()}"),))  # fmt: skip
    done = AuditChange(
        "visit.done", "visit", f"{after.label}/{day0.code}", "", (ItemDelta("done_on", None, infusion_date.isoformat()),)
    )
    return Plan(
        subject=after, new_visits=planned, visits=(VisitWrite(day0.code, infusion_date, False),),
        records=(RecordWrite(record),), audit=(change, schedule, done, values_change),
    )  # fmt: skip


def plan_end_subject(
    subject: SubjectSnapshot, transition: Transition, end_date: dt.date, reason: str, today: dt.date,
    visits: Iterable[VisitSnapshot] = (), records: Iterable[RecordSnapshot] = (), confirmed: Collection[str] = (),
) -> Plan:  # fmt: skip
    """Complete follow-up, withdraw, record a death or a loss to follow-up.

    The scheduled records not started of visits whose window opens after ``end_date`` become *not
    expected* (with the end as reason), so nothing is entered after a death or withdrawal and the
    visits are not counted overdue.

    Args:
        subject: the subject.
        transition: complete, withdraw, die or lose_to_follow_up.
        end_date: the date participation ended.
        reason: why (required except for a completion on schedule).
        today: the site's date.
        visits: the subject's visits (every one: the rules read their dates).
        records: the subject's records (every one: the rules read their dates; those not started of
            visits after the end become not expected).
        confirmed: the warning rules the user confirmed (``early_completion``).

    Raises:
        InputError: a transition that is not an end; no reason (except completion); an end date in the
            future or before the start of participation; the status does not allow it; a visit or a
            date value already stored after ``end_date`` (rule ``[after_end]``); a completion before the
            window of the last scheduled visit (unless that visit is marked missed) without a reason
            (rule ``[early_completion]``).
        ConfirmationNeededError: a completion before the last scheduled visit not confirmed (``early_completion``).
    """
    visits, records = tuple(visits), tuple(records)
    if transition not in END_TRANSITIONS:
        raise InputError("transition", "must be complete, withdraw, die or lose_to_follow_up", transition.value)
    reason = reason.strip()
    if transition is not Transition.COMPLETE and not reason:
        raise InputError("reason", f"is required to {transition.label.lower()}", reason)
    start = subject.infusion_date or subject.enrolment_date or subject.consent_date
    _check_date("end_date", end_date, today, start, "start of the subject's participation")
    _check_nothing_after(end_date, visits, records)
    findings: tuple[Finding, ...] = ()
    last = max((v for v in visits if v.day > 0), key=lambda v: v.day, default=None)
    if transition is Transition.COMPLETE and last is not None and not last.missed and end_date < last.window_start:
        message = (f"follow-up completed on {end_date.isoformat()}, before the last scheduled visit {last.label} "
                   f"(window from {last.window_start.isoformat()})")  # fmt: skip
        finding = Finding(EARLY_COMPLETION, "warning", "end_date", message)
        if not reason:
            raise InputError("reason", f"{finding.rule}: give the reason", reason)
        if EARLY_COMPLETION not in confirmed:
            raise ConfirmationNeededError(finding)
        findings = (finding,)
    noted = "".join(f" (confirmed {f.severity}: {f.rule})" for f in findings)  # the audit entry records the finding
    after, change = _transition(subject, transition, reason + noted, end_date=end_date, end_reason=reason)
    later = {v.code for v in visits if v.window_start > end_date and v.done_on is None}
    why = f"{SubjectStatus(after.status).label.lower()} on {end_date.isoformat()}" + (f": {reason}" if reason else "")
    writes: list[RecordWrite] = []
    audit = [change]
    for record in records:
        if record.key[0] in later and record.state.status is RecordStatus.NOT_STARTED and record.state.accepts_values:
            state = apply_event(record.state, RecordEvent.MARK_NOT_EXPECTED, reason=why)
            writes.append(RecordWrite(replace(record, state=state, version=record.version + 1)))
            where = f"{after.label}/{record.key[0]}/{record.form_code}"
            status = ItemDelta("status", record.state.status.value, state.status.value)
            audit.append(AuditChange("record.mark_not_expected", "record", where, why, (status,), record.key))
    return Plan(subject=after, records=tuple(writes), audit=tuple(audit), findings=findings)


def _check_nothing_after(end_date: dt.date, visits: Iterable[VisitSnapshot], records: Iterable[RecordSnapshot]) -> None:
    """Refuse an end before a visit that took place or a date already stored (rule ``after_end``)."""
    for visit in visits:
        if visit.done_on is not None and visit.done_on > end_date:
            raise InputError("end_date", f"[{AFTER_END}] {visit.label} took place on {visit.done_on.isoformat()}, after "
                                         f"{end_date.isoformat()}", end_date.isoformat())  # fmt: skip
    for record in records:
        for code, data in record.values.items():
            value = data.get("value")
            when = earliest_date(data.get("type"), value)
            if when is not None and when > end_date:
                raise InputError("end_date", f"[{AFTER_END}] {record_where(record)} holds {code} = {value}, after "
                                             f"{end_date.isoformat()}", end_date.isoformat())  # fmt: skip


def record_where(record: RecordSnapshot) -> str:
    """A record for people ("M3/mrss", "medical_history#2")."""
    visit, form, seq = record.key
    return f"{visit}/{form}" if visit is not None else f"{form}#{seq}"


def plan_mark_visit_missed(subject: SubjectSnapshot, visit: VisitSnapshot, reason: str) -> Plan:
    """Mark a visit that did not take place as missed (with the reason); its forms stay empty.

    Raises:
        InputError: no reason; the visit took place or is already marked missed.
    """
    reason = reason.strip()
    if not reason:
        raise InputError("reason", "is required to mark a visit missed", reason)
    if visit.done_on is not None:
        raise InputError("visit", f"{visit.code} took place on {visit.done_on.isoformat()}; it cannot be missed", visit.code)
    if visit.missed:
        raise InputError("visit", f"{visit.code} is already marked missed", visit.code)
    change = AuditChange("visit.missed", "visit", f"{subject.label}/{visit.code}", reason, (ItemDelta("missed", "no", "yes"),))
    return Plan(visits=(VisitWrite(visit.code, None, True, reason),), audit=(change,))
