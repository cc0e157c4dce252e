"""The form entry screens through Django's test client: what a POST changes and the status codes the browser
gets (422 keeps what was typed, 409 shows both versions), the eligibility preview, patient mode and log entries."""

from __future__ import annotations

import re

import pytest

from rodnan.web.crfs.models import FormRecord
from rodnan.web.subjects.models import Visit
from tests.candidates import LUNG_ELIGIBLE
from tests.web import factories as f
from tests.web.pages import posted, text, typed_in

pytestmark = pytest.mark.django_db


def test_form_error_is_422_and_keeps_what_was_typed(inv_client, site, investigator):
    """Albumin 80 g/L breaks the hard range: 422, the typed values stay in the inputs, the error names item and rule."""
    subject = f.open_screening(investigator, site)
    record = f.scr_record(subject, "screening")
    data = posted({**LUNG_ELIGIBLE, "albumin": 80, "esr": 17}, version="0", visit_date=f.days_ago(58).isoformat())
    start = f.last_seq()
    response = inv_client.post(f"/forms/{record.pk}/", data)
    assert response.status_code == 422
    assert typed_in(response, "albumin", "80")
    assert typed_in(response, "esr", "17")
    assert typed_in(response, "dlco_pct_pred", "60")
    assert "Serum albumin: must be within the plausible range 5 to 70 g/L" in text(response)
    record.refresh_from_db()
    assert (record.version, record.values) == (0, {})
    assert Visit.objects.get(pk=record.visit_id).done_on is None
    assert f.audit_since(start) == []


def test_form_save_through_the_view(inv_client, site, investigator):
    """A valid POST saves (version 1) and redirects to the subject; a unit typed in g/dL is converted."""
    subject = f.open_screening(investigator, site)
    record = f.scr_record(subject, "screening")
    data = posted({**LUNG_ELIGIBLE, "albumin": "4.0"}, version="0", u_albumin="g/dL", visit_date=f.days_ago(58).isoformat())
    response = inv_client.post(f"/forms/{record.pk}/", data)
    assert response.status_code == 302
    assert response["Location"] == f"/subjects/{subject.pk}/"
    record.refresh_from_db()
    assert (record.version, record.status) == (1, "complete")
    assert (record.values["albumin"]["raw"], record.values["albumin"]["unit"]) == ("4.0", "g/dL")
    assert record.values["albumin"]["value"] == pytest.approx(40.0)
    assert Visit.objects.get(pk=record.visit_id).done_on == f.days_ago(58)


def test_change_without_reason_is_422(inv_client, site, investigator):
    """Changing a saved value with no reason: 422 naming the reason, nothing saved."""
    subject = f.screened_subject(investigator, site)
    record = f.scr_record(subject, "screening")
    response = inv_client.post(f"/forms/{record.pk}/", posted({**LUNG_ELIGIBLE, "albumin": 38}, version="1"))
    assert response.status_code == 422
    assert "reason for change is required" in text(response)
    assert typed_in(response, "albumin", "38")
    record.refresh_from_db()
    assert (record.version, record.values["albumin"]["raw"]) == (1, "40")


def test_stale_version_is_409_showing_both_versions(client, site, coordinator, investigator):
    """The coordinator saved version 1 after the investigator opened version 0: 409, theirs (40) beside mine (41)."""
    subject = f.open_screening(coordinator, site)
    record = f.scr_record(subject, "screening")
    f.enter_screening(coordinator, subject)  # albumin 40, version 1
    client.force_login(investigator)
    start = f.last_seq()
    response = client.post(f"/forms/{record.pk}/", posted({**LUNG_ELIGIBLE, "albumin": 41}, version="0", reason="recheck"))
    assert response.status_code == 409
    page = text(response)
    assert "edit conflict" in page
    assert "saved by coord" in page
    assert "(version 1)" in page
    assert "(version 0)" in page
    assert "Serum albumin 40 41" in page
    assert typed_in(response, "albumin", "41")
    assert re.search(r'name="version" value="1"', response.content.decode())
    record.refresh_from_db()
    assert (record.version, record.values["albumin"]["raw"]) == (1, "40")
    assert f.audit_since(start) == []


@pytest.mark.parametrize("version", ["abc", ""])
def test_garbled_or_missing_version_is_a_conflict_not_a_crash(inv_client, site, investigator, version):
    """A POST whose version is not a number is answered 409 (reload and compare), never 500; nothing is saved."""
    subject = f.open_screening(investigator, site)
    record = f.scr_record(subject, "screening")
    response = inv_client.post(f"/forms/{record.pk}/", posted({"albumin": 40}, version=version))
    assert response.status_code == 409
    record.refresh_from_db()
    assert record.version == 0


def test_infusion_form_cannot_be_posted(inv_client, site, investigator):
    """The infusion form is read-only on screen and refused on POST (422): cells stay as recorded."""
    subject = f.infused_subject(investigator, site)
    record = FormRecord.objects.get(subject=subject, form_code="infusion")
    data = posted({"infusion_date": subject.infusion_date.isoformat(), "product_lot": "LOT-2026-001", "donor_code": "DONOR-17",
                   "infusion_weight": 60, "cells_administered": 90000000}, version="1", reason="recount")  # fmt: skip
    response = inv_client.post(f"/forms/{record.pk}/", data)
    assert response.status_code == 422
    assert "infusion step" in text(response)
    record.refresh_from_db()
    assert (record.version, record.values["cells_administered"]["value"]) == (1, 60_000_000.0)


def test_eligibility_preview_returns_the_checklist(inv_client, site, investigator):
    """The live checklist reflects the values being typed and saves nothing."""
    subject = f.open_screening(investigator, site)
    record = f.scr_record(subject, "screening")
    response = inv_client.post(f"/forms/{record.pk}/eligibility/", posted(LUNG_ELIGIBLE))
    assert response.status_code == 200
    page = text(response)
    assert "(live, not saved)" in page
    assert "Eligible · qualifying pathway: Lung involvement" in page
    pregnant = text(inv_client.post(f"/forms/{record.pk}/eligibility/", posted({**LUNG_ELIGIBLE, "pregnant": True})))
    assert "Not eligible" in pregnant
    assert "Pregnancy met met: Pregnant: yes" in pregnant
    incomplete = text(inv_client.post(f"/forms/{record.pk}/eligibility/", posted({"dlco_pct_pred": 60})))
    assert "Incomplete" in incomplete
    record.refresh_from_db()
    assert record.version == 0


def test_patient_mode_renders_the_questionnaire_without_navigation(inv_client, site, investigator):
    """?mode=patient on the SF-36: the questions, no header or navigation, no eligibility panel; submitting thanks the patient."""
    subject = f.screened_subject(investigator, site)
    record = f.scr_record(subject, "sf36")
    response = inv_client.get(f"/forms/{record.pk}/?mode=patient")
    assert response.status_code == 200
    body, page = response.content.decode(), text(response)
    assert "Q1 In general, your health is" in page
    assert "Please answer every question" in page
    assert "<nav" not in body
    assert "Log out" not in page
    assert 'href="/subjects/' not in body
    assert "qualifying pathway" not in page
    assert "hiv_positive" not in page
    staff = inv_client.get(f"/forms/{record.pk}/")
    assert "<nav" in staff.content.decode()
    response = inv_client.post(f"/forms/{record.pk}/?mode=patient", {"version": "0", "v_sf36_form": "v2", "v_sf36_q1": "3"})
    assert response.status_code == 200
    assert "Thank you" in text(response)
    record.refresh_from_db()
    assert (record.version, record.values["sf36_q1"]["value"]) == (1, 3.0)


def test_log_entry_is_a_row_of_the_subject_page_and_has_an_audit_trail(inv_client, site, investigator):
    """A medical-history entry added through its page is a row of the subject page's table, its values as typed, and its
    audit page names it by entry number, since a log record has no visit."""
    subject = f.screened_subject(investigator, site)
    values = {"mh_term": "Raynaud phenomenon", "mh_start": "2015-03", "mh_ongoing": True}
    response = inv_client.post(f"/subjects/{subject.pk}/log/medical_history/add/", posted(values))
    assert (response.status_code, response["Location"]) == (302, f"/subjects/{subject.pk}/")
    record = FormRecord.objects.get(subject=subject, form_code="medical_history")
    assert (record.seq, record.visit_id) == (1, None)
    assert "1 Raynaud phenomenon 2015-03 yes Complete" in text(inv_client.get(f"/subjects/{subject.pk}/"))
    audit = inv_client.get(f"/forms/{record.pk}/audit/")
    assert audit.status_code == 200
    assert "Audit trail of NJDT-S0001, entry 1, Medical history" in text(audit)


def test_form_layouts_come_from_the_protocol(inv_client, site, investigator):
    """The mRSS form (layout body_grid) shows the body grid in the protocol's area order; a form without
    ``patient: true`` offers no tablet mode and ignores ?mode=patient; the SF-36 (patient: true) offers it."""
    subject = f.screened_subject(investigator, site)
    mrss = inv_client.get(f"/forms/{f.scr_record(subject, 'mrss').pk}/").content.decode()
    assert 'class="crf layout-body_grid"' in mrss
    assert 'class="mrss-grid"' in mrss
    areas = ["Face", "Anterior chest", "Abdomen", "Upper arm", "Forearm", "Hand (dorsum)", "Fingers", "Thigh", "Lower leg"]
    positions = [mrss.index(f'<th scope="row">{area}</th>') for area in areas]
    assert positions == sorted(positions)
    assert mrss.index('name="v_mrss_upper_arm_r"') < mrss.index('name="v_mrss_upper_arm_l"')
    assert "open in tablet mode" not in mrss
    organ = inv_client.get(f"/forms/{f.scr_record(subject, 'organ_function').pk}/?mode=patient").content.decode()
    assert 'class="crf layout-default"' in organ
    assert "<nav" in organ  # not a patient form: staff view even with ?mode=patient
    assert "open in tablet mode" in text(inv_client.get(f"/forms/{f.scr_record(subject, 'sf36').pk}/"))
