"""The subject screens through Django's test client: the dashboard, the subject list, a subject's page, its
lifecycle transitions and missed visits."""

from __future__ import annotations

import pytest

from rodnan.web.subjects.models import Subject, Visit
from tests.web import factories as f
from tests.web.pages import posted, text

pytestmark = pytest.mark.django_db


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
    assert "Month 1 " + f"{month1.window_start.isoformat()} – {month1.window_end.isoformat()} Not done 3" in rows[0]


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
    assert "Lung involvement met met: DLCO, % predicted 60 % < 70 %" in page
    assert "Pregnancy not met" in page
    assert "NJDT-S0001" in page
    subject = f.enrolled_subject(investigator, site)
    page = text(inv_client.get(f"/subjects/{subject.pk}/"))
    assert "NJDT-001" in page  # the first subject is still screening: this is the first enrolment
    assert "qualifying pathway" not in page


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
    assert "1.5 × 10⁶ cells/kg, 50.0 % above the protocol dose" in text(response)
    assert 'name="confirm" value="cells_administered"' in response.content.decode()
    subject.refresh_from_db()
    assert subject.status == "enrolled"
    response = inv_client.post(f"{url}/infuse/", {**infusion, "confirm": "cells_administered"})
    assert response.status_code == 302
    subject.refresh_from_db()
    assert (subject.status, subject.infusion_date) == ("in_follow_up", f.days_ago(10))
    assert Visit.objects.filter(subject=subject).count() == 14  # SCR, D0, M1..M12
    assert "1.5 × 10⁶ cells/kg" in text(inv_client.get(f"{url}/"))  # the dose on the subject page


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
