"""The screens, through Django's test client: what each page shows, what a POST changes, and the
status codes and headers the browser gets (422 keeps what was typed, 409 shows both versions)."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client

from rodnan.web.audit.models import AuditEntry
from rodnan.web.crfs.models import FormRecord
from rodnan.web.subjects.models import Subject, Visit
from tests.candidates import LUNG_ELIGIBLE
from tests.web import factories as f

pytestmark = pytest.mark.django_db


def text(response) -> str:
    """The page as a person reads it: tags removed, entities decoded, whitespace collapsed."""
    content = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(content)).strip()


def typed_in(response, code: str, value: str) -> bool:
    """True when the input of item ``code`` carries ``value`` (the page kept what was typed)."""
    return re.search(rf'name="v_{code}"[^>]*value="{re.escape(value)}"', response.content.decode()) is not None


def posted(values: dict[str, object], **extra: str) -> dict[str, str]:
    """Form fields as the entry screen posts them (v_<item>), plus ``extra`` fields."""
    data = {f"v_{code}": ("yes" if value is True else "no" if value is False else str(value)) for code, value in values.items()}
    return {**data, **extra}


@pytest.fixture
def inv_client(client: Client, investigator) -> Client:
    client.force_login(investigator)
    return client


def test_login_page_renders(client):
    """The login page has the user name and password fields."""
    response = client.get("/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="username"' in body
    assert 'name="password"' in body
    assert "Log in" in text(response)


@pytest.mark.parametrize("path", ["/", "/subjects/", "/users/", "/account-events/"])
def test_pages_require_login(client, path):
    """Anonymous requests are sent to the login page, with the page asked for as next."""
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_subject_and_form_pages_require_login(client, site, investigator):
    """Subject, form, audit and transition URLs redirect an anonymous visitor to the login page."""
    subject = f.screened_subject(investigator, site)
    record = f.scr_record(subject, "screening")
    for path in [f"/subjects/{subject.pk}/", f"/subjects/{subject.pk}/audit/", f"/subjects/{subject.pk}/consent/",
                 f"/forms/{record.pk}/", f"/forms/{record.pk}/audit/"]:  # fmt: skip
        response = client.get(path)
        assert (response.status_code, response["Location"]) == (302, f"/login/?next={path}")
    response = client.post(f"/forms/{record.pk}/", posted({"albumin": 41}, version="1"))
    assert response.status_code == 302
    assert f.scr_record(subject, "screening").version == 1


def test_dashboard_shows_enrolment_against_target(inv_client, site, investigator):
    """Two enrolled (one of them infused) and one in screening: '2 of 20 enrolled', and the status counts."""
    f.enrolled_subject(investigator, site)
    f.infused_subject(investigator, site)
    f.screened_subject(investigator, site)
    response = inv_client.get("/")
    assert response.status_code == 200
    page = text(response)
    assert "2 of 20 enrolled" in page
    assert "Screening 1 " in page
    assert "Enrolled 1 " in page
    assert "In follow-up 1 " in page


def test_dashboard_counts_days_overdue_in_whole_days(inv_client, site, investigator):
    """Infused 40 days ago: Month 1 (day 30, window ±7 days) closed on day 37, so it is 3 days overdue."""
    subject = f.infused_subject(investigator, site)
    month1 = subject.visits.get(code="M1")
    assert month1.window_end == f.days_ago(3)  # the premise: the protocol's day 30 ± 7
    rows = [line for line in text(inv_client.get("/")).split("NJDT") if "Month 1" in line]
    assert rows, "Month 1 is listed as overdue"
    assert "Month 1 " + f"{month1.window_start.isoformat()} – {month1.window_end.isoformat()} 3" in rows[0]


def test_subject_list_lists_and_filters(inv_client, site, investigator):
    """The list shows screening numbers and subject IDs; ?status= filters."""
    f.enrolled_subject(investigator, site)
    f.screened_subject(investigator, site)
    page = text(inv_client.get("/subjects/"))
    assert "NJDT-001" in page
    assert "NJDT-S0001" in page
    assert "NJDT-S0002" in page
    filtered = text(inv_client.get("/subjects/?status=screening"))
    assert "NJDT-S0002" in filtered
    assert "NJDT-S0001" not in filtered


def test_open_screening_through_the_view(inv_client, site):
    """POST /subjects/new/ opens NJDT-S0001 and redirects to its page."""
    response = inv_client.post("/subjects/new/", {"site": site.pk, "screening_date": f.days_ago(3).isoformat()})
    subject = Subject.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/subjects/{subject.pk}/"
    assert (subject.screening_number, subject.screening_date) == ("NJDT-S0001", f.days_ago(3))


def test_subject_page_shows_eligibility_while_screening(inv_client, site, investigator):
    """In screening the page shows the checklist (lung pathway met by DLCO 60 %); once enrolled it does not."""
    subject = f.screened_subject(investigator, site)
    page = text(inv_client.get(f"/subjects/{subject.pk}/"))
    assert "Eligible · qualifying pathway: Lung involvement" in page
    assert "Lung involvement met met: dlco_pct_pred 60 % < 70 %" in page
    assert "Pregnancy not met" in page
    assert "NJDT-S0001" in page
    subject = f.enrolled_subject(investigator, site)
    page = text(inv_client.get(f"/subjects/{subject.pk}/"))
    assert "NJDT-001" in page  # the first subject is still screening: this is the first enrolment
    assert "qualifying pathway" not in page


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
    assert "Pregnancy met met: pregnant: yes" in pregnant
    incomplete = text(inv_client.post(f"/forms/{record.pk}/eligibility/", posted({"dlco_pct_pred": 60})))
    assert "Incomplete" in incomplete
    record.refresh_from_db()
    assert record.version == 0


def test_transitions_through_the_views(inv_client, site, investigator):
    """Consent, enrol and infuse by POST: each redirects to the subject and moves its status."""
    subject = f.screened_subject(investigator, site)
    url = f"/subjects/{subject.pk}"
    assert inv_client.get(f"{url}/consent/").status_code == 200
    response = inv_client.post(f"{url}/consent/", {"consent_version": "2.0", "consent_date": f.days_ago(20).isoformat(),
                                                   "version": "1"})  # fmt: skip
    assert (response.status_code, response["Location"]) == (302, f"{url}/")
    enrol_page = inv_client.get(f"{url}/enrol/")
    assert "qualifying pathway: Lung involvement" in text(enrol_page)
    response = inv_client.post(f"{url}/enrol/", {"enrolment_date": f.days_ago(15).isoformat(), "version": "2"})
    assert response.status_code == 302
    subject.refresh_from_db()
    assert (subject.status, subject.subject_code) == ("enrolled", "NJDT-001")

    infusion = posted({"infusion_date": f.days_ago(10).isoformat(), "product_lot": "L1", "donor_code": "D1",
                       "infusion_weight": 60, "cells_administered": 90000000}, version="3")  # fmt: skip
    response = inv_client.post(f"{url}/infuse/", infusion)
    assert response.status_code == 422
    assert "1.5 × 10^6 cells/kg, 50.0 % above the protocol dose" in text(response)
    assert 'name="confirm" value="cells_administered"' in response.content.decode()
    subject.refresh_from_db()
    assert subject.status == "enrolled"
    response = inv_client.post(f"{url}/infuse/", {**infusion, "confirm": "cells_administered"})
    assert response.status_code == 302
    subject.refresh_from_db()
    assert (subject.status, subject.infusion_date) == ("in_follow_up", f.days_ago(10))
    assert Visit.objects.filter(subject=subject).count() == 14  # SCR, D0, M1..M12
    assert "1.5 × 10^6 cells/kg" in text(inv_client.get(f"{url}/"))  # the dose on the subject page


def test_transition_views_refuse_what_the_state_machine_forbids(inv_client, site, investigator):
    """Enrolling a subject still in screening: 422 naming status; an unknown step is 404; a stale version is 422."""
    subject = f.screened_subject(investigator, site)
    url = f"/subjects/{subject.pk}"
    response = inv_client.post(f"{url}/enrol/", {"enrolment_date": f.days_ago(1).isoformat(), "version": "1"})
    assert response.status_code == 422
    assert "Enrol is not allowed for a subject who is screening" in text(response)
    assert inv_client.get(f"{url}/teleport/").status_code == 404
    response = inv_client.post(f"{url}/screen_fail/", {"reason": "x", "version": "0"})
    assert response.status_code == 422
    assert "changed by someone else" in text(response)
    subject.refresh_from_db()
    assert (subject.status, subject.version) == ("screening", 1)


def test_visit_missed_through_the_view(inv_client, site, investigator):
    """POST a reason: the visit is marked missed and the subject page is shown again."""
    subject = f.infused_subject(investigator, site)
    m1 = Visit.objects.get(subject=subject, code="M1")
    response = inv_client.post(f"/visits/{m1.pk}/missed/", {"reason": "flu"})
    assert (response.status_code, response["Location"]) == (302, f"/subjects/{subject.pk}/")
    m1.refresh_from_db()
    assert (m1.missed, m1.missed_reason) == (True, "flu")


def test_audit_views_list_the_change_with_its_reason(inv_client, site, investigator):
    """After a change with a reason, the form's and the subject's audit pages show old, new, who, role and reason."""
    subject = f.screened_subject(investigator, site)
    record = f.scr_record(subject, "screening")
    response = inv_client.post(f"/forms/{record.pk}/", posted({**LUNG_ELIGIBLE, "albumin": 38}, version="1",
                                                              reason="lab report corrected"))  # fmt: skip
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="form.save", field="albumin", old_value="40")
    assert (entry.new_value, entry.reason, entry.username, entry.role) == ("38", "lab report corrected", "inv", "investigator")
    row = "inv investigator form.save NJDT-S0001/SCR/screening Serum albumin 40 38 lab report corrected"
    assert row in text(inv_client.get(f"/forms/{record.pk}/audit/"))
    subject_page = text(inv_client.get(f"/subjects/{subject.pk}/audit/"))
    assert row in subject_page
    assert "subject.screen NJDT-S0001 screening_number NJDT-S0001" in subject_page


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


def test_security_headers_on_pages(inv_client, client, site, investigator):
    """Pages carry a strict CSP, DENY framing, nosniff and no-store caching (also the login page and a 404)."""
    subject = f.screened_subject(investigator, site)
    anonymous = Client()
    for response in (inv_client.get("/"), inv_client.get(f"/subjects/{subject.pk}/"), inv_client.get("/subjects/999999/"),
                     anonymous.get("/login/")):  # fmt: skip
        assert "default-src 'self'" in response["Content-Security-Policy"]
        assert "script-src 'self'" in response["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in response["Cache-Control"]


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
