"""Writes of the identity store: the one write path (plan in the core, thin apply here; decision 0013).

:func:`check_save_identity` checks the role, locks the identity row, asks
:func:`rodnan.core.identity.plan_identity` and writes the plan: the identity row, the main audit trail's entry
(field names and a commitment, no values) and the identity history row with the values, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from rodnan.core.identity import IdentityPlan, changes_to_json, plan_identity
from rodnan.errors import InputError
from rodnan.web.accounts.access import require
from rodnan.web.accounts.roles import Permission
from rodnan.web.audit.chain import Change, ItemChange, append
from rodnan.web.identity.models import Identity, IdentityChange
from rodnan.web.subjects.models import Subject


def record_number_holder(subject: Subject, typed: object) -> str | None:
    """The label of another subject of ``subject``'s site whose identity holds the record number ``typed`` (as the core
    normalises it: no spaces, upper case), or None."""
    number = str(typed or "").replace(" ", "").upper()
    holder = (
        Identity.objects.filter(site_id=subject.site_id, hospital_record_number=number)
        .exclude(subject_id=subject.pk)
        .select_related("subject")
        .first()
    )
    return holder.subject.label if holder else None


@transaction.atomic
def check_save_identity(
    user: Any,
    subject: Subject,
    raw: Mapping[str, object],
    reason: str = "",
    expected_version: int | None = None,
    at: dt.datetime | None = None,
) -> IdentityPlan:
    """Record or correct a subject's identity.

    Args:
        user: who saves (their role at the subject's site must grant ``edit_identity``).
        subject: the subject.
        raw: the identity as typed (field -> text; :data:`rodnan.core.identity.IDENTITY_FIELDS`).
        reason: the reason for change (required once an identity is saved).
        expected_version: the identity's version the page showed (0 for none); None skips the check.
        at: the time of the change (default now).

    Returns:
        The plan that was written (``empty`` when nothing changed: nothing written, nothing audited).

    Raises:
        AccessDeniedError: the role does not grant ``edit_identity`` at the subject's site.
        InputError: a field breaks a rule (named), a reason is missing, the record number is another
            subject's, or the identity changed since the page was opened.
    """
    role = require(user, Permission.EDIT_IDENTITY, subject.site_id)
    identity = Identity.objects.select_for_update().filter(subject_id=subject.pk).first()
    plan = plan_identity(
        identity.as_fields() if identity else None, identity.version if identity else 0, raw, reason, timezone.localdate(),
        secrets.token_hex(16), expected_version, record_number_holder(subject, raw.get("hospital_record_number")),
    )  # fmt: skip
    if plan.empty:
        return plan
    values = {name: getattr(plan.identity, name) for name in plan.identity.__dataclass_fields__}
    values["date_of_birth"] = dt.date.fromisoformat(plan.identity.date_of_birth)
    try:
        with transaction.atomic():  # a savepoint: a refusal by the database leaves the caller's transaction usable
            if identity is None:
                identity = Identity.objects.create(subject=subject, site_id=subject.site_id, version=plan.version, **values)
            else:
                for name, value in values.items():
                    setattr(identity, name, value)
                identity.version = plan.version
                identity.save()
    except IntegrityError:  # someone saved the same record number, or this subject's first identity, a moment ago
        raise InputError("hospital_record_number", "was recorded for another subject, or this identity by someone else, "
                         "a moment ago; reload the page and try again") from None  # fmt: skip
    at = at or timezone.now()
    items = tuple(ItemChange(field, old, new) for field, old, new in plan.audit_items)
    written = append(user=user, role=role.code, at=at, changes=[
        Change(plan.audit_action, "identity", subject.label, "", items, site_id=subject.site_id, subject_id=subject.pk)
    ])  # fmt: skip
    IdentityChange.objects.create(
        identity=identity, version=plan.version, at=at, user=user, username=user.username, role=role.code, reason=plan.reason,
        changes=changes_to_json(plan.changes), salt=plan.salt, audit_seq=written.first_seq,
    )  # fmt: skip
    return plan
