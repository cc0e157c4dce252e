"""Roles as declared data: each role is a set of permissions, checked per site.

A change here is a change of who may do what in the trial; the tests assert the rules the study
depends on (monitors and statisticians never write clinical data, only investigators enrol).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Permission(StrEnum):
    """Things a member of a site may do there."""

    VIEW_SUBJECTS = "view_subjects"
    SCREEN = "screen"  # open a screening record
    ENTER_DATA = "enter_data"  # create and change form values
    CONSENT = "consent"
    SCREEN_FAIL = "screen_fail"
    ENROL = "enrol"
    INFUSE = "infuse"
    END_SUBJECT = "end_subject"  # complete, withdraw, death, lost to follow-up
    MARK_VISIT = "mark_visit"  # mark a visit missed
    VIEW_AUDIT = "view_audit"  # the audit trail of subjects and forms
    VIEW_ACCOUNT_AUDIT = "view_account_audit"  # logins, failed logins, role and membership changes
    MANAGE_USERS = "manage_users"
    VIEW_IDENTITY = "view_identity"  # the patient's name, birth date, record number, contacts (decision 0020); every view audited
    EDIT_IDENTITY = "edit_identity"  # record and correct them


CLINICAL_WRITES = frozenset(
    {Permission.SCREEN, Permission.ENTER_DATA, Permission.CONSENT, Permission.SCREEN_FAIL, Permission.ENROL, Permission.INFUSE,
     Permission.END_SUBJECT, Permission.MARK_VISIT}
)  # fmt: skip
"""Permissions that write clinical data."""

IDENTITY_PERMISSIONS = frozenset({Permission.VIEW_IDENTITY, Permission.EDIT_IDENTITY})
"""Who the patient is: granted only to the site's own staff (investigator, coordinator), never to monitors, data
managers, statisticians, safety reviewers or administrators (decision 0020)."""


@dataclass(frozen=True)
class Role:
    """A role: a label for people and the permissions it grants at a site."""

    code: str
    label: str
    description: str
    permissions: frozenset[Permission]

    @property
    def writes_clinical_data(self) -> bool:
        """True when the role may change clinical data."""
        return bool(self.permissions & CLINICAL_WRITES)


P = Permission
ROLES: dict[str, Role] = {
    role.code: role
    for role in (
        Role("investigator", "Investigator", "Screens, consents, enrols, treats and follows subjects; decides eligibility.",
             frozenset({P.VIEW_SUBJECTS, P.SCREEN, P.ENTER_DATA, P.CONSENT, P.SCREEN_FAIL, P.ENROL, P.INFUSE, P.END_SUBJECT,
                        P.MARK_VISIT, P.VIEW_AUDIT, P.VIEW_IDENTITY, P.EDIT_IDENTITY})),
        Role("coordinator", "Study coordinator", "Books visits, enters data, records consent and visits.",
             frozenset({P.VIEW_SUBJECTS, P.SCREEN, P.ENTER_DATA, P.CONSENT, P.MARK_VISIT, P.VIEW_AUDIT, P.VIEW_IDENTITY,
                        P.EDIT_IDENTITY})),
        Role("monitor", "Monitor", "Verifies source data; reads everything, never edits clinical data.",
             frozenset({P.VIEW_SUBJECTS, P.VIEW_AUDIT})),
        Role("data_manager", "Data manager", "Watches completeness and the audit trail.",
             frozenset({P.VIEW_SUBJECTS, P.VIEW_AUDIT})),
        Role("statistician", "Statistician", "Reads pseudonymous data for analysis; never edits.",
             frozenset({P.VIEW_SUBJECTS})),
        Role("safety_reviewer", "Safety reviewer", "Reviews adverse events and subject courses.",
             frozenset({P.VIEW_SUBJECTS, P.VIEW_AUDIT})),
        Role("administrator", "Administrator", "Manages users and site memberships; sees no clinical data.",
             frozenset({P.MANAGE_USERS, P.VIEW_ACCOUNT_AUDIT})),
    )
}  # fmt: skip
