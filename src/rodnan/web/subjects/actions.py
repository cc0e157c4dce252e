"""Writes of a subject's lifecycle from the screens: each ``check_*`` checks the user's role, locks the
subject, asks the core's plan (:mod:`rodnan.core.records.subject_plans`) and writes it with its audit
entries in one transaction (:func:`rodnan.web.subjects.store.apply_plan`). The rules are the plans';
the bulk import calls the same plans."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from rodnan.core.lifecycle import Transition
from rodnan.core.records import subject_plans as plans
from rodnan.core.records.checks import ConfirmationNeededError
from rodnan.core.records.errors import EntryRejectedError, StaleError
from rodnan.errors import InputError
from rodnan.web.accounts.access import require
from rodnan.web.accounts.roles import Permission
from rodnan.web.crfs.models import FormRecord
from rodnan.web.studies.models import Site, Study
from rodnan.web.studies.protocol import study_definition
from rodnan.web.subjects.gates import TRANSITION_PERMISSION
from rodnan.web.subjects.models import Subject, Visit
from rodnan.web.subjects.records import screening_values, subject_records
from rodnan.web.subjects.store import apply_plan, record_snapshot, subject_snapshot, visit_snapshot

__all__ = [
    "END_TRANSITIONS",
    "ConfirmationNeededError",
    "EntryRejectedError",
    "StaleSubjectError",
    "check_consent",
    "check_end_subject",
    "check_enrol",
    "check_mark_visit_missed",
    "check_open_screening",
    "check_record_infusion",
    "check_screen_fail",
]

END_TRANSITIONS = plans.END_TRANSITIONS

StaleSubjectError = StaleError
"""The subject changed since the page was opened (optimistic locking)."""


def _today() -> dt.date:
    return timezone.localdate()


def _locked(subject: Subject, expected_version: int | None) -> Subject:
    current = Subject.objects.select_for_update().select_related("study").get(pk=subject.pk)
    if expected_version is not None and current.version != expected_version:
        raise StaleSubjectError(
            "subject", f"{current.label} was changed by someone else since you opened the page; reload it and try again", None
        )
    return current


def _applied(subject: Subject | None) -> Subject:
    assert subject is not None
    return subject


@transaction.atomic
def check_open_screening(user: Any, site: Site, study: Study, screening_date: dt.date) -> Subject:
    """Open a screening record at ``site``: a new screening number and the screening visit's forms."""
    role = require(user, Permission.SCREEN, site)
    locked_site = Site.objects.select_for_update().get(pk=site.pk)
    number = Subject.objects.filter(site=locked_site).count() + 1
    plan = plans.plan_open_screening(study_definition(study), locked_site.code, number, screening_date, _today())
    return _applied(apply_plan(plan, user=user, role=role.code, study=study, site=locked_site))


@transaction.atomic
def check_consent(
    user: Any, subject: Subject, version: str, consent_date: dt.date, expected_version: int | None = None
) -> Subject:
    """Record informed consent (form version and date)."""
    role = require(user, TRANSITION_PERMISSION[Transition.CONSENT], subject.site_id)
    subject = _locked(subject, expected_version)
    plan = plans.plan_consent(subject_snapshot(subject), version, consent_date, _today())
    return _applied(apply_plan(plan, user=user, role=role.code, subject=subject))


@transaction.atomic
def check_screen_fail(user: Any, subject: Subject, reason: str, expected_version: int | None = None) -> Subject:
    """Record a screen failure with its reason."""
    role = require(user, TRANSITION_PERMISSION[Transition.SCREEN_FAIL], subject.site_id)
    subject = _locked(subject, expected_version)
    plan = plans.plan_screen_fail(subject_snapshot(subject), reason, _today())
    return _applied(apply_plan(plan, user=user, role=role.code, subject=subject))


@transaction.atomic
def check_enrol(user: Any, subject: Subject, enrolment_date: dt.date, expected_version: int | None = None) -> Subject:
    """Enrol a consented subject whom the core finds eligible; allocates the subject ID."""
    role = require(user, TRANSITION_PERMISSION[Transition.ENROL], subject.site_id)
    subject = _locked(subject, expected_version)
    site = Site.objects.select_for_update().get(pk=subject.site_id)
    number = Subject.objects.filter(site=site, subject_code__isnull=False).count() + 1
    plan = plans.plan_enrol(study_definition(subject.study), subject_snapshot(subject), screening_values(subject), enrolment_date,
                            number, site.code, _today())  # fmt: skip
    return _applied(apply_plan(plan, user=user, role=role.code, subject=subject))


@transaction.atomic
def check_record_infusion(
    user: Any, subject: Subject, entries: Mapping[str, tuple[str, str | None]], confirmed: Collection[str] = (),
    expected_version: int | None = None,
) -> Subject:  # fmt: skip
    """Record the MSC infusion (date, lot, donor, weight, cells): checks the dose per kg and the requirements
    (a negative pregnancy test ...) against the protocol, moves the subject into follow-up and places the
    protocol's visits on the calendar."""
    role = require(user, TRANSITION_PERMISSION[Transition.INFUSE], subject.site_id)
    subject = _locked(subject, expected_version)
    plan = plans.plan_infusion(study_definition(subject.study), subject_snapshot(subject), entries, confirmed, _today(),
                               records=subject_records(subject))  # fmt: skip
    return _applied(apply_plan(plan, user=user, role=role.code, subject=subject))


@transaction.atomic
def check_end_subject(
    user: Any,
    subject: Subject,
    transition: Transition,
    end_date: dt.date,
    reason: str,
    expected_version: int | None = None,
    confirmed: Collection[str] = (),
) -> Subject:
    """Complete follow-up, withdraw, record a death or loss to follow-up (a reason is required except on completion);
    the empty records of visits after the end become not expected. ``confirmed``: the warning rules confirmed
    (``early_completion``); refused (:class:`rodnan.core.records.checks.ConfirmationNeededError`) otherwise."""
    if transition not in END_TRANSITIONS:
        raise InputError("transition", "must be complete, withdraw, die or lose_to_follow_up", transition.value)
    role = require(user, TRANSITION_PERMISSION[transition], subject.site_id)
    subject = _locked(subject, expected_version)
    visits = {v.pk: v for v in Visit.objects.filter(subject=subject)}
    rows = list(FormRecord.objects.filter(subject=subject))  # every record: the end is checked against their dates
    snapshots = [record_snapshot(r, visits[r.visit_id].code if r.visit_id is not None else None) for r in rows]
    plan = plans.plan_end_subject(subject_snapshot(subject), transition, end_date, reason, _today(),
                                  [visit_snapshot(v) for v in visits.values()], snapshots, confirmed)  # fmt: skip
    by_key = {s.key: r for s, r in zip(snapshots, rows, strict=True)}
    return _applied(apply_plan(plan, user=user, role=role.code, subject=subject, rows=by_key))


@transaction.atomic
def check_mark_visit_missed(user: Any, visit: Visit, reason: str) -> Visit:
    """Mark a visit that did not take place as missed (with the reason); its forms stay empty."""
    role = require(user, Permission.MARK_VISIT, visit.subject.site_id)
    visit = Visit.objects.select_for_update().select_related("subject").get(pk=visit.pk)
    plan = plans.plan_mark_visit_missed(subject_snapshot(visit.subject), visit_snapshot(visit), reason)
    apply_plan(plan, user=user, role=role.code, subject=visit.subject)
    visit.refresh_from_db()
    return visit
