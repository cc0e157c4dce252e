"""Units and messages as people read them on the entry screen and in the audit trail (issue 15, finding 8): µmol/L and
g/24 h, never the UCUM codes umol/L and g/(24.h) that are stored; a number typed with its unit is read in that unit."""

from __future__ import annotations

import re

import pytest

from rodnan.web.audit.models import AuditEntry
from tests.candidates import LUNG_ELIGIBLE
from tests.web import factories as f
from tests.web.pages import posted, text, typed_in

pytestmark = pytest.mark.django_db

UCUM_CODES = ("umol/L", "g/(24.h)", "mm[Hg]", "10*9/L")


def _visible(response) -> str:
    page = text(response)
    for code in UCUM_CODES:
        assert code not in page, code
    return page


def test_form_errors_and_field_units_print_units_for_people(inv_client, site, investigator):
    """A 24-hour protein above its hard range and a unit creatinine does not take: the errors read g/24 h and µmol/L,
    the fields' units too; the typed text stays in the inputs."""
    subject = f.open_screening(investigator, site)
    record = f.scr_record(subject, "screening")
    data = posted({**LUNG_ELIGIBLE, "urine_protein_24h": 50, "creatinine": "0.9 g/L"}, version="0",
                  u_creatinine="umol/L", visit_date=f.days_ago(58).isoformat())  # fmt: skip
    response = inv_client.post(f"/forms/{record.pk}/", data)
    assert response.status_code == 422
    page = _visible(response)
    assert "24-hour urinary protein: must be within the plausible range 0 to 30 g/24 h" in page
    assert "Serum creatinine: g/L is not a unit this item accepts (µmol/L, mg/dL, mmol/L)" in page
    assert typed_in(response, "creatinine", "0.9 g/L")
    opened = _visible(inv_client.get(f"/forms/{record.pk}/"))
    for printed in ("µmol/L", "g/24 h", "mmHg", "× 10⁹/L"):
        assert printed in opened


def test_a_value_typed_with_its_unit_is_saved_in_it_and_the_audit_prints_units_for_people(inv_client, site, investigator):
    """Creatinine typed "0.9 mg/dL" with the selector left on µmol/L is saved as 0.9 in mg/dL (79.5615 µmol/L, as the
    selector would have it); changed to 70 µmol/L with a reason, the audit page shows "0.9 mg/dL" then "70 µmol/L"."""
    subject = f.open_screening(investigator, site)
    record = f.scr_record(subject, "screening")
    data = posted({**LUNG_ELIGIBLE, "creatinine": "0.9 mg/dL"}, version="0", u_creatinine="umol/L",
                  visit_date=f.days_ago(58).isoformat())  # fmt: skip
    assert inv_client.post(f"/forms/{record.pk}/", data).status_code == 302
    record.refresh_from_db()
    stored = record.values["creatinine"]
    assert (stored["raw"], stored["unit"], stored["display"]) == ("0.9", "mg/dL", "79.5615 µmol/L")
    assert stored["value"] == pytest.approx(9 / 113.12 * 1000, rel=1e-12)
    change = posted({**LUNG_ELIGIBLE, "creatinine": "70"}, version="1", u_creatinine="umol/L", reason="lab corrected")
    assert inv_client.post(f"/forms/{record.pk}/", change).status_code == 302
    assert AuditEntry.objects.filter(action="record.save", reason="lab corrected").exists()
    audit = _visible(inv_client.get(f"/forms/{record.pk}/audit/"))
    assert re.search(r"Serum creatinine 0\.9 mg/dL 70 µmol/L lab corrected", audit), audit
