"""Builders of the identity tests: a distinctive identity (every value a string found nowhere else) and logins."""

from __future__ import annotations

from typing import Any

from django.test import Client

from rodnan.web.identity.actions import check_save_identity
from tests.web import factories as f

DISTINCT = {
    "family_name": "Zyxquorva", "given_names": "Qelvinth Marisol", "date_of_birth": "1961-07-23",
    "hospital_record_number": "HRN-9876543", "phone": "+86 25 8765 4321", "email": "zyxquorva.q@example.invalid",
    "address": "77 Unlikelyplace Lane\nXanadu District", "next_of_kin_name": "Brontwhistle Zyxquorva",
    "next_of_kin_relation": "brother-in-law", "next_of_kin_phone": "+86 25 1234 9876",
}  # fmt: skip
"""An identity whose every value is a string the rest of the database does not hold."""

NEEDLES = ("Zyxquorva", "zyxquorva", "Qelvinth", "Marisol", "1961-07-23", "HRN-9876543", "9876543", "8765 4321",
           "example.invalid", "Unlikelyplace", "Xanadu", "Brontwhistle", "brother-in-law", "1234 9876")  # fmt: skip
"""What must never appear outside the identity store (hex hashes aside: a year alone could occur in one by chance)."""


def leaks(text: str) -> list[str]:
    """The needles found in ``text``."""
    return [needle for needle in NEEDLES if needle in text]


def login(role: str, site: Any, name: str | None = None) -> Client:
    """A client logged in as a new user with ``role`` at ``site``."""
    client = Client()
    client.force_login(f.make_user(name or f"{role}_{site.code.lower()}", role, site))
    return client


def with_identity(user: Any, subject: Any, values: dict[str, str] | None = None) -> Any:
    """``subject`` with ``values`` (default :data:`DISTINCT`) recorded as its identity by ``user``."""
    check_save_identity(user, subject, values or DISTINCT)
    return subject
