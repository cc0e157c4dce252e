"""The demo's invented identities: plainly fake, valid, unique per site, recorded once through the write path."""

from __future__ import annotations

import datetime as dt

import pytest

from rodnan.core.identity import validate_identity
from rodnan.web.audit.models import AuditEntry
from rodnan.web.identity.demo import demo_identity, give_demo_identities
from rodnan.web.identity.models import Identity
from tests.web import factories as f


def test_demo_identities_are_plainly_fake_valid_and_distinct():
    """Twenty identities: "Test-" family names, "Demo" given names, example.invalid e-mail (RFC 2606), DEMO- record
    numbers all different, each accepted by the identity's rules, born 30 to 59 years before screening."""
    screened = dt.date(2026, 11, 30)
    people = [demo_identity(n, screened) for n in range(20)]
    for person in people:
        assert person["family_name"].startswith("Test-")
        assert person["given_names"].startswith("Demo ")
        assert person["email"].endswith("@example.invalid")
        assert person["hospital_record_number"].startswith("DEMO-")
        validate_identity(person, screened)
        assert 30 <= screened.year - int(person["date_of_birth"][:4]) <= 59
    assert len({p["hospital_record_number"] for p in people}) == 20
    assert people[0]["hospital_record_number"] == "DEMO-100001"


@pytest.mark.django_db
def test_give_demo_identities_records_each_subject_once(site, coordinator, investigator):
    """Every subject of the site gets one identity (one identity.create entry each); a second call adds nothing."""
    subjects = [f.open_screening(investigator, site) for _ in range(3)]
    assert give_demo_identities(coordinator, site) == 3
    assert give_demo_identities(coordinator, site) == 0
    assert sorted(Identity.objects.values_list("subject_id", flat=True)) == sorted(s.pk for s in subjects)
    assert AuditEntry.objects.filter(action="identity.create", username="coord").count() == 3
