"""Builders for the web tests: the study and its sites, users with a role at a site, and subjects
taken through the trial by the same actions the screens call (so every row has its audit trail).

Plain functions, no fixtures: each test module builds what it needs and states the expected values
itself. Dates are relative to today (the actions refuse future dates).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from rodnan.core.schedule import screening_visit
from rodnan.web.accounts.models import Membership
from rodnan.web.audit.models import AuditEntry
from rodnan.web.crfs.actions import check_save_form, shown
from rodnan.web.crfs.models import FormRecord
from rodnan.web.studies.models import Site, Study
from rodnan.web.studies.protocol import load_study, study_definition
from rodnan.web.subjects import actions
from rodnan.web.subjects.models import Subject
from tests.candidates import LUNG_ELIGIBLE

PASSWORD = "correct-horse-battery-staple-42"
"""The password of every test user (passes the project's password validators)."""

CONSENT_VERSION = "2.0 (2009-07-20)"

ROLE_CODES = ("investigator", "coordinator", "monitor", "data_manager", "statistician", "safety_reviewer", "administrator")
"""Every role of the study, written out here (not read from ROLES) so a removed role fails the tests."""


def today() -> dt.date:
    """The application's today (its time zone), which the actions compare dates with."""
    return timezone.localdate()


def days_ago(days: int) -> dt.date:
    """The date ``days`` days before today."""
    return today() - dt.timedelta(days=days)


def make_study() -> Study:
    """The bundled protocol loaded into the test database (its one site, NJDT, included)."""
    return load_study()


def site_a(study: Study) -> Site:
    """The protocol's own site (NJDT)."""
    return Site.objects.get(study=study, code="NJDT")


def make_site_b(study: Study) -> Site:
    """A second site of the same study, for isolation tests."""
    site, _ = Site.objects.get_or_create(
        code="SITEB", defaults={"study": study, "name": "Second test site", "city": "Shanghai", "country": "CN"}
    )
    return site


@functools.cache
def _password_hash() -> str:
    """PASSWORD hashed once per run (each hash costs about half a second on purpose)."""
    return make_password(PASSWORD)


def make_user(username: str, role: str | None = None, site: Site | None = None) -> Any:
    """A user whose password is PASSWORD, with ``role`` at ``site`` (a Membership row, no audit entry) or no role at all."""
    user = get_user_model().objects.create(username=username, password=_password_hash())
    if role is not None:
        assert site is not None
        Membership.objects.create(user=user, site=site, role=role)
    return user


def _raw(value: object) -> str:
    """A Python value as a person types it into the form ("yes" for True)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def screening_entries(subject: Subject, values: Mapping[str, object]) -> dict[str, dict[str, tuple[str, str | None]]]:
    """``values`` split by the screening visit's form that holds each item (first form in visit order)."""
    definition = study_definition(subject.study)
    forms = [code for code in screening_visit(definition).forms if code != "infusion"]
    by_form: dict[str, dict[str, tuple[str, str | None]]] = {}
    for code, value in values.items():
        form = next(f for f in forms if code in definition.form_by_code[f].items)
        by_form.setdefault(form, {})[code] = (_raw(value), None)
    return by_form


def scr_record(subject: Subject, form_code: str) -> FormRecord:
    """The subject's form record of ``form_code`` at the screening visit."""
    return FormRecord.objects.get(subject=subject, visit__code="SCR", form_code=form_code)


def enter_screening(user: Any, subject: Subject, values: Mapping[str, object] = LUNG_ELIGIBLE) -> None:
    """Enter ``values`` into the screening visit's forms through check_save_form (visit date = screening date)."""
    for form, entries in screening_entries(subject, values).items():
        record = scr_record(subject, form)
        check_save_form(user, record, entries, expected_version=record.version, visit_date=subject.screening_date)


def open_screening(user: Any, site: Site, screening_date: dt.date | None = None) -> Subject:
    """A new screening record at ``site`` (no values entered)."""
    return actions.check_open_screening(user, site, site.study, screening_date or days_ago(60))


SCREENING_VALUES: dict[str, object] = {**LUNG_ELIGIBLE, "childbearing_potential": False}
"""The screening values the factories enter by default: eligible (lung pathway), and not a woman of child-bearing
potential, so the infusion needs no pregnancy test (tests/web/subjects/test_requirements.py tests that rule)."""


def screened_subject(user: Any, site: Site, values: Mapping[str, object] = SCREENING_VALUES,
                     screening_date: dt.date | None = None) -> Subject:  # fmt: skip
    """A subject in screening with ``values`` entered (eligible through the lung pathway by default)."""
    subject = open_screening(user, site, screening_date)
    enter_screening(user, subject, values)
    return Subject.objects.get(pk=subject.pk)


def consented_subject(user: Any, site: Site, values: Mapping[str, object] = SCREENING_VALUES) -> Subject:
    """A screened subject who has consented (consent 55 days ago)."""
    subject = screened_subject(user, site, values)
    return actions.check_consent(user, subject, CONSENT_VERSION, days_ago(55))


def enrolled_subject(user: Any, site: Site) -> Subject:
    """An eligible, consented subject enrolled 50 days ago (``user`` must be an investigator)."""
    subject = consented_subject(user, site)
    return actions.check_enrol(user, subject, days_ago(50))


def infusion_entries(infusion_date: dt.date, weight_kg: str = "60", cells: str = "60000000") -> dict[str, tuple[str, None]]:
    """The infusion form as typed: date, lot, donor, weight on the day and cells given."""
    return {
        "infusion_date": (infusion_date.isoformat(), None),
        "product_lot": ("LOT-2026-001", None),
        "donor_code": ("DONOR-17", None),
        "infusion_weight": (weight_kg, None),
        "cells_administered": (cells, None),
    }


def infused_subject(user: Any, site: Site, infusion_date: dt.date | None = None) -> Subject:
    """An enrolled subject infused (60 x 10^6 cells at 60 kg, on dose) 40 days ago by default."""
    subject = enrolled_subject(user, site)
    return actions.check_record_infusion(user, subject, infusion_entries(infusion_date or days_ago(40)))


def audit_since(seq: int) -> list[AuditEntry]:
    """Audit entries appended after entry number ``seq``, in chain order."""
    return list(AuditEntry.objects.filter(seq__gt=seq).order_by("seq"))


def last_seq() -> int:
    """The number of the latest audit entry (0 when there is none)."""
    entry = AuditEntry.objects.order_by("-seq").first()
    return entry.seq if entry else 0


def _shown(value: object) -> str:
    """An item change's old or new value as people read it: "" for none, a form value with its unit ("2.3 g/dL")."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return shown(value)
    return str(value)


def flat(entries: list[AuditEntry]) -> list[SimpleNamespace]:
    """Entries flattened to one row per item change, for comparison: the entry's attributes plus ``field``,
    ``old_value`` and ``new_value`` as shown (an entry without items gives one row with empty ones)."""
    out = []
    for entry in entries:
        for item in entry.items or [{"field": "", "old": None, "new": None}]:
            out.append(SimpleNamespace(**{name: getattr(entry, name) for name in (
                "seq", "action", "object_type", "object_id", "reason", "user_id", "username", "role", "source", "site_id",
                "subject_id", "form_record_id")}, field=item["field"], old_value=_shown(item["old"]),
                new_value=_shown(item["new"])))  # fmt: skip
    return out
