"""Writes of a subject's lifecycle: each ``check_*`` validates, changes the subject and appends its
audit entries in one transaction. Views call these; nothing else changes a subject."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from rodnan.core.eligibility import ScreeningResult, ScreeningVerdict
from rodnan.core.entry import FormEntryResult, check_form_entry
from rodnan.core.lifecycle import SubjectStatus, Transition, next_status
from rodnan.core.schedule import PlannedVisit, plan_screening, plan_visits
from rodnan.errors import InputError
from rodnan.web.accounts.access import require
from rodnan.web.accounts.roles import Permission
from rodnan.web.audit.chain import Change, ItemChange, append
from rodnan.web.crfs.models import FormRecord
from rodnan.web.studies.models import Site, Study
from rodnan.web.studies.protocol import study_definition
from rodnan.web.subjects.models import Subject, Visit
from rodnan.web.subjects.records import infusion_dose, screening_result


class EntryRejectedError(InputError):
    """A form the user submitted has errors or unconfirmed warnings; ``entry`` holds them all."""

    def __init__(self, entry: FormEntryResult, field: str = "", rule: str = "") -> None:
        first = next(iter(entry.errors.values()), None) or next(iter(entry.warnings.values()), None)
        super().__init__(field or (first.item if first else "form"), rule or (first.rule if first else "invalid"), None)
        self.entry = entry


class StaleSubjectError(InputError):
    """The subject changed since the page was opened (optimistic locking)."""


def _today() -> dt.date:
    return timezone.localdate()


def _check_date(field: str, value: dt.date, not_before: dt.date | None = None, not_before_what: str = "") -> None:
    if value > _today():
        raise InputError(field, "cannot be in the future", value.isoformat())
    if not_before is not None and value < not_before:
        raise InputError(field, f"cannot be before the {not_before_what} ({not_before.isoformat()})", value.isoformat())


def _locked(subject: Subject, expected_version: int | None) -> Subject:
    current = Subject.objects.select_for_update().get(pk=subject.pk)
    if expected_version is not None and current.version != expected_version:
        raise StaleSubjectError(
            "subject", f"{current.label} was changed by someone else since you opened the page; reload it and try again", None
        )
    return current


def _transition_change(subject: Subject, transition: Transition, old: str, reason: str = "") -> Change:
    return Change(
        f"subject.{transition.value}", "subject", subject.label, reason, (ItemChange("status", old, subject.status),),
        site_id=subject.site_id, subject_id=subject.pk,
    )  # fmt: skip


def _field_change(subject: Subject, field: str, old: object, new: object, action: str) -> Change:
    text = lambda v: "" if v in (None, "") else (v.isoformat() if isinstance(v, dt.date) else str(v))  # noqa: E731
    return Change(action, "subject", subject.label, items=(ItemChange(field, text(old), text(new)),), site_id=subject.site_id,
                  subject_id=subject.pk)  # fmt: skip


def _create_visit(subject: Subject, planned: PlannedVisit, protocol_version: str) -> Visit:
    visit = Visit.objects.create(
        subject=subject, code=planned.code, label=planned.label, day=planned.day, target_date=planned.target,
        window_start=planned.window_start, window_end=planned.window_end,
    )  # fmt: skip
    FormRecord.objects.bulk_create(
        [FormRecord(subject=subject, visit=visit, form_code=form, protocol_version=protocol_version) for form in planned.forms]
    )
    return visit


@transaction.atomic
def check_open_screening(user: Any, site: Site, study: Study, screening_date: dt.date) -> Subject:
    """Open a screening record at ``site``: a new screening number and the screening visit's forms."""
    role = require(user, Permission.SCREEN, site)
    _check_date("screening_date", screening_date)
    locked_site = Site.objects.select_for_update().get(pk=site.pk)
    number = Subject.objects.filter(site=locked_site).count() + 1
    subject = Subject.objects.create(
        study=study, site=locked_site, screening_number=f"{locked_site.code}-S{number:04d}",
        status=SubjectStatus.SCREENING.value, screening_date=screening_date,
    )  # fmt: skip
    definition = study_definition(study)
    _create_visit(subject, plan_screening(definition, screening_date), definition.protocol.version)
    append(user=user, role=role.code, changes=[
        Change("subject.screen", "subject", subject.label, items=(ItemChange("screening_number", "", subject.screening_number),),
               site_id=subject.site_id, subject_id=subject.pk),
        _field_change(subject, "screening_date", None, screening_date, "subject.screen"),
    ])  # fmt: skip
    return subject


@transaction.atomic
def check_consent(
    user: Any, subject: Subject, version: str, consent_date: dt.date, expected_version: int | None = None
) -> Subject:
    """Record informed consent (form version and date)."""
    role = require(user, Permission.CONSENT, subject.site_id)
    subject = _locked(subject, expected_version)
    version = version.strip()
    if not version:
        raise InputError("consent_version", "is required (the version of the consent form the subject signed)", version)
    _check_date("consent_date", consent_date, subject.screening_date, "screening date")
    old = subject.status
    subject.status = next_status(SubjectStatus(old), Transition.CONSENT).value
    subject.consent_version, subject.consent_date = version, consent_date
    subject.version += 1
    subject.save()
    append(user=user, role=role.code, changes=[
        _transition_change(subject, Transition.CONSENT, old),
        _field_change(subject, "consent_version", "", version, "subject.consent"),
        _field_change(subject, "consent_date", None, consent_date, "subject.consent"),
    ])  # fmt: skip
    return subject


@transaction.atomic
def check_screen_fail(user: Any, subject: Subject, reason: str, expected_version: int | None = None) -> Subject:
    """Record a screen failure with its reason."""
    role = require(user, Permission.SCREEN_FAIL, subject.site_id)
    subject = _locked(subject, expected_version)
    reason = reason.strip()
    if not reason:
        raise InputError("reason", "is required (why the candidate did not enter the trial)", reason)
    old = subject.status
    subject.status = next_status(SubjectStatus(old), Transition.SCREEN_FAIL).value
    subject.screen_fail_reason = reason
    subject.end_date = _today()
    subject.version += 1
    subject.save()
    append(user=user, role=role.code, changes=[_transition_change(subject, Transition.SCREEN_FAIL, old, reason)])
    return subject


@transaction.atomic
def check_enrol(user: Any, subject: Subject, enrolment_date: dt.date, expected_version: int | None = None) -> Subject:
    """Enrol a consented subject whom the core finds eligible; allocates the subject ID."""
    role = require(user, Permission.ENROL, subject.site_id)
    subject = _locked(subject, expected_version)
    _check_date("enrolment_date", enrolment_date, subject.consent_date, "consent date")
    old = subject.status
    new = next_status(SubjectStatus(old), Transition.ENROL)
    result: ScreeningResult = screening_result(subject)
    if result.verdict is not ScreeningVerdict.ELIGIBLE:
        # the reasons: inclusion criteria not met and exclusion criteria that hold (or are still unknown)
        failing = [
            c.label + (" (unknown)" if c.verdict.value == "unknown" else "")
            for c in result.criteria
            if (c.kind == "inclusion" and c.verdict.value != "met") or (c.kind == "exclusion" and c.verdict.value != "not_met")
        ]
        detail = "; ".join(failing[:4]) + ("; ..." if len(failing) > 4 else "")
        raise InputError(
            "eligibility", f"the screening values make the subject {result.verdict.value}, not eligible ({detail})", None
        )
    site = Site.objects.select_for_update().get(pk=subject.site_id)
    number = Subject.objects.filter(site=site, subject_code__isnull=False).count() + 1
    subject.subject_code = f"{site.code}-{number:03d}"
    subject.status, subject.enrolment_date = new.value, enrolment_date
    subject.version += 1
    subject.save()
    pathways = ", ".join(result.qualifying_pathways)
    append(user=user, role=role.code, changes=[
        _transition_change(subject, Transition.ENROL, old, f"eligible; qualifying pathway(s): {pathways}"),
        _field_change(subject, "subject_code", "", subject.subject_code, "subject.enrol"),
        _field_change(subject, "enrolment_date", None, enrolment_date, "subject.enrol"),
    ])  # fmt: skip
    return subject


@transaction.atomic
def check_record_infusion(
    user: Any, subject: Subject, entries: Mapping[str, tuple[str, str | None]], confirmed: Collection[str] = (),
    expected_version: int | None = None,
) -> Subject:  # fmt: skip
    """Record the MSC infusion (date, lot, donor, weight, cells): checks the dose per kg against the
    protocol, moves the subject into follow-up and places the protocol's visits on the calendar."""
    role = require(user, Permission.INFUSE, subject.site_id)
    subject = _locked(subject, expected_version)
    definition = study_definition(subject.study)
    entry = check_form_entry(definition, "infusion", entries, confirmed)
    if not entry.ok:
        raise EntryRejectedError(entry)
    missing = [code for code in definition.form_by_code["infusion"].items if code not in entry.values]
    if missing:
        raise EntryRejectedError(entry, missing[0], "is required to record the infusion")
    dose = infusion_dose(subject, entry.values)
    if dose is not None and not dose.within_tolerance and "cells_administered" not in confirmed:
        raise EntryRejectedError(entry, "cells_administered", f"{dose.message}; confirm to record it as given")
    infusion_date = dt.date.fromisoformat(str(entry.values["infusion_date"].value))
    _check_date("infusion_date", infusion_date, subject.enrolment_date, "enrolment date")
    old = subject.status
    subject.status = next_status(SubjectStatus(old), Transition.INFUSE).value
    subject.infusion_date = infusion_date
    subject.version += 1
    subject.save()
    planned = [p for p in plan_visits(definition, infusion_date) if p.day >= 0]
    for visit_plan in planned:
        _create_visit(subject, visit_plan, definition.protocol.version)
    d0 = Visit.objects.get(subject=subject, day=0)
    d0.done_on = infusion_date
    d0.save(update_fields=["done_on"])
    record = FormRecord.objects.get(visit=d0, form_code="infusion")
    record.values = {code: value.as_json() for code, value in entry.values.items()}
    record.confirmed_warnings = sorted(entry.confirmed_warnings)
    record.status = FormRecord.Status.COMPLETE
    record.version = 1
    record.updated_at, record.updated_by = timezone.now(), user
    record.save()
    changes = [_transition_change(subject, Transition.INFUSE, old, dose.message if dose else "")]
    changes += [
        Change("form.save", "form", f"{subject.label}/{d0.code}/infusion",
               items=(ItemChange(code, "", value.raw + (f" {value.unit}" if value.unit else "")),),
               site_id=subject.site_id, subject_id=subject.pk, form_record_id=record.pk)
        for code, value in entry.values.items()
    ]  # fmt: skip
    changes.append(Change("visit.schedule", "subject", subject.label,
                          items=(ItemChange("visits", "", f"{len(planned)} visits from {infusion_date}"),),
                          site_id=subject.site_id, subject_id=subject.pk))  # fmt: skip
    append(user=user, role=role.code, changes=changes)
    return subject


END_TRANSITIONS = (Transition.COMPLETE, Transition.WITHDRAW, Transition.DIE, Transition.LOSE_TO_FOLLOW_UP)


@transaction.atomic
def check_end_subject(
    user: Any, subject: Subject, transition: Transition, end_date: dt.date, reason: str, expected_version: int | None = None
) -> Subject:
    """Complete follow-up, withdraw, record a death or loss to follow-up (a reason is required except on completion)."""
    if transition not in END_TRANSITIONS:
        raise InputError("transition", "must be complete, withdraw, die or lose_to_follow_up", transition.value)
    role = require(user, Permission.END_SUBJECT, subject.site_id)
    subject = _locked(subject, expected_version)
    reason = reason.strip()
    if transition is not Transition.COMPLETE and not reason:
        raise InputError("reason", f"is required to {transition.label.lower()}", reason)
    start = subject.infusion_date or subject.enrolment_date or subject.consent_date
    _check_date("end_date", end_date, start, "start of the subject's participation")
    old = subject.status
    subject.status = next_status(SubjectStatus(old), transition).value
    subject.end_date, subject.end_reason = end_date, reason
    subject.version += 1
    subject.save()
    append(user=user, role=role.code, changes=[
        _transition_change(subject, transition, old, reason),
        _field_change(subject, "end_date", None, end_date, f"subject.{transition.value}"),
    ])  # fmt: skip
    return subject


@transaction.atomic
def check_mark_visit_missed(user: Any, visit: Visit, reason: str) -> Visit:
    """Mark a visit that did not take place as missed (with the reason); its forms stay empty."""
    role = require(user, Permission.MARK_VISIT, visit.subject.site_id)
    reason = reason.strip()
    if not reason:
        raise InputError("reason", "is required to mark a visit missed", reason)
    visit = Visit.objects.select_for_update().get(pk=visit.pk)
    if visit.done_on is not None:
        raise InputError("visit", f"{visit.code} took place on {visit.done_on.isoformat()}; it cannot be missed", visit.code)
    if visit.missed:
        raise InputError("visit", f"{visit.code} is already marked missed", visit.code)
    visit.missed, visit.missed_reason = True, reason
    visit.save(update_fields=["missed", "missed_reason"])
    subject = visit.subject
    append(user=user, role=role.code, changes=[
        Change("visit.missed", "visit", f"{subject.label}/{visit.code}", reason, (ItemChange("missed", "no", "yes"),),
               site_id=subject.site_id, subject_id=subject.pk),
    ])  # fmt: skip
    return visit
