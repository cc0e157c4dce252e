"""The audit trail pages: a change with its reason, as the form's and the subject's audit pages show it."""

from __future__ import annotations

import pytest

from rodnan.web.audit.models import AuditEntry
from rodnan.web.crfs.actions import shown
from tests.candidates import LUNG_ELIGIBLE
from tests.web import factories as f
from tests.web.pages import posted, text

pytestmark = pytest.mark.django_db


def test_audit_views_list_the_change_with_its_reason(inv_client, site, investigator):
    """After a change with a reason, the form's and the subject's audit pages show old, new, who, role and reason."""
    subject = f.screened_subject(investigator, site)
    record = f.scr_record(subject, "screening")
    response = inv_client.post(f"/forms/{record.pk}/", posted({**LUNG_ELIGIBLE, "albumin": 38}, version="1",
                                                              reason="lab report corrected"))  # fmt: skip
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="record.save", changes__contains='"field":"albumin"', reason__gt="")
    assert [(i["field"], shown(i["old"]), shown(i["new"])) for i in entry.items] == [("albumin", "40", "38")]
    assert (entry.reason, entry.username, entry.role) == ("lab report corrected", "inv", "investigator")
    row = "inv investigator record.save NJDT-S0001/SCR/screening Serum albumin 40 38 lab report corrected"
    assert row in text(inv_client.get(f"/forms/{record.pk}/audit/"))
    subject_page = text(inv_client.get(f"/subjects/{subject.pk}/audit/"))
    assert row in subject_page
    assert "subject.screen NJDT-S0001 screening_number NJDT-S0001" in subject_page
