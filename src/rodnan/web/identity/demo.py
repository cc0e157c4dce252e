"""Invented identities for the demo's patients: plainly fake ("Test-" family names, example.invalid e-mail,
"DEMO-" record numbers), so the identity screens can be tried without anyone's real data."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rodnan.web.identity.actions import check_save_identity
from rodnan.web.identity.models import Identity
from rodnan.web.studies.models import Site
from rodnan.web.subjects.models import Subject

FAMILY_NAMES = ("Test-Li", "Test-Wang", "Test-Zhang", "Test-Chen", "Test-Liu", "Test-Yang", "Test-Huang", "Test-Zhao")
GIVEN_NAMES = ("Demo Wei", "Demo Fang", "Demo Min", "Demo Jing", "Demo Lei", "Demo Yan", "Demo Hua", "Demo Qiang", "Demo Ling")
RELATIONS = ("spouse", "daughter", "son", "sister", "brother", "mother")


def demo_identity(n: int, screened: dt.date) -> dict[str, str]:
    """The ``n``-th invented identity (0-based), born 30 to 59 years before ``screened``."""
    born = screened.replace(year=screened.year - 30 - (7 * n) % 30, day=min(screened.day, 28))
    return {
        "family_name": FAMILY_NAMES[n % len(FAMILY_NAMES)], "given_names": GIVEN_NAMES[(3 * n) % len(GIVEN_NAMES)],
        "date_of_birth": born.isoformat(), "hospital_record_number": f"DEMO-{100001 + n}",
        "phone": f"+86 25 5550 {1000 + n}", "email": f"test.patient{n + 1:02d}@example.invalid",
        "address": f"{n + 1} Example Road, Test District, Nanjing",
        "next_of_kin_name": f"{FAMILY_NAMES[(n + 1) % len(FAMILY_NAMES)]} Demo Relative",
        "next_of_kin_relation": RELATIONS[n % len(RELATIONS)], "next_of_kin_phone": f"+86 25 5551 {1000 + n}",
    }  # fmt: skip


def give_demo_identities(user: Any, site: Site) -> int:
    """Record an invented identity for every subject of ``site`` that has none (through the one write path, so
    each has its audit entry and history row); returns how many were recorded."""
    have = set(Identity.objects.filter(site=site).values_list("subject_id", flat=True))
    count = 0
    for n, subject in enumerate(Subject.objects.filter(site=site).order_by("id")):
        if subject.pk not in have:
            check_save_identity(user, subject, demo_identity(n, subject.screening_date))
            count += 1
    return count
