"""Issue 15, "a visit is done when each form it expects is complete or marked not done with a reason": the form
screen marks a scheduled form not done (reason required) and reopens it, and the work lists count a visit that
took place but has forms outstanding as not complete (overdue or due), not as done because something was saved."""

from __future__ import annotations

import re

import pytest

from rodnan.web.audit.models import AuditEntry
from rodnan.web.crfs.models import FormRecord
from rodnan.web.subjects.selectors import list_due_visits, list_overdue_visits
from tests.web import factories as f
from tests.web.pages import posted, text

pytestmark = pytest.mark.django_db

AREAS = ("face", "chest", "abdomen", "upper_arm_r", "upper_arm_l", "forearm_r", "forearm_l", "hand_r", "hand_l", "fingers_r",
         "fingers_l", "thigh_r", "thigh_l", "lower_leg_r", "lower_leg_l", "foot_r", "foot_l")  # fmt: skip


def _month1(investigator, site, infused_days_ago: int):
    """An infused subject and its Month 1 records by form code."""
    subject = f.infused_subject(investigator, site, f.days_ago(infused_days_ago))
    records = {r.form_code: r for r in FormRecord.objects.filter(subject=subject, visit__code="M1")}
    return subject, records


def _save_mrss(client, record, when) -> None:
    response = client.post(f"/forms/{record.pk}/", posted({f"mrss_{a}": 1 for a in AREAS}, version="0",
                                                          visit_date=when.isoformat()))  # fmt: skip
    assert response.status_code == 302, text(response)


def _mark(client, record, reason: str, event: str = "mark_not_done"):
    record.refresh_from_db()
    return client.post(f"/forms/{record.pk}/state/", {"event": event, "reason": reason, "version": str(record.version)})


def test_a_visit_with_one_form_saved_stays_overdue_until_the_others_are_settled(inv_client, site, investigator):
    # infused 40 days ago: Month 1 (day 30) had its window from 17 to 3 days ago
    subject, records = _month1(investigator, site, 40)
    assert set(records) == {"mrss", "ssc_haq", "sf36", "vital_signs"}
    _save_mrss(inv_client, records["mrss"], f.days_ago(10))
    overdue = list_overdue_visits(investigator).filter(subject=subject, code="M1")
    # before the fix the visit left the list once anything was saved (done_on set)
    assert [(v.code, v.outstanding) for v in overdue] == [("M1", 3)]
    assert "Data incomplete: 3 forms outstanding" in text(inv_client.get("/"))
    assert _mark(inv_client, records["ssc_haq"], "patient too unwell to answer").status_code == 302
    assert [v.outstanding for v in list_overdue_visits(investigator).filter(subject=subject, code="M1")] == [2]
    assert _mark(inv_client, records["sf36"], "patient too unwell to answer").status_code == 302
    assert [v.outstanding for v in list_overdue_visits(investigator).filter(subject=subject, code="M1")] == [1]
    assert _mark(inv_client, records["vital_signs"], "patient too unwell to answer").status_code == 302
    assert not list_overdue_visits(investigator).filter(subject=subject, code="M1").exists()
    page = inv_client.get(f"/subjects/{subject.pk}/").content.decode()
    row = next(r for r in re.findall(r"<tr.*?</tr>", page, flags=re.S) if "Month 1<" in r or "Month 1 " in r)
    assert "– not done" in row
    assert "✓ done" in row
    assert "Data incomplete" not in row
    assert ">Done<" in row.replace(" ", "")


def test_a_visit_in_its_window_with_forms_outstanding_is_still_due(inv_client, site, investigator):
    subject, records = _month1(investigator, site, 30)  # Month 1's window is open today
    _save_mrss(inv_client, records["mrss"], f.today())
    assert [(v.code, v.outstanding) for v in list_due_visits(investigator).filter(subject=subject)] == [("M1", 3)]


def test_marking_not_done_needs_a_reason_and_is_audited_then_reopening_takes_values_again(client, site, investigator,
                                                                                           coordinator):  # fmt: skip
    _subject, records = _month1(investigator, site, 30)
    client.force_login(coordinator)
    record = records["sf36"]
    page = client.get(f"/forms/{record.pk}/").content.decode()
    assert "Mark this form not done" in page
    refused = _mark(client, record, "  ")
    assert refused.status_code == 422
    assert "Not changed: reason:" in text(refused)
    record.refresh_from_db()
    assert record.status == "not_started"
    assert _mark(client, record, "questionnaire forgotten at home").status_code == 302
    record.refresh_from_db()
    assert (record.status, record.state_reason) == ("not_done", "questionnaire forgotten at home")
    entry = AuditEntry.objects.get(action="record.mark_not_done", form_record_id=record.pk)
    assert (entry.user.username, entry.reason) == ("coord", "questionnaire forgotten at home")
    page = client.get(f"/forms/{record.pk}/")
    assert "Not done: questionnaire forgotten at home" in text(page)
    assert "Reopen this form" in text(page)
    assert "Save form" not in text(page)
    assert _mark(client, record, "", event="reopen").status_code == 302
    record.refresh_from_db()
    assert (record.status, record.state_reason) == ("not_started", "")
    assert AuditEntry.objects.filter(action="record.reopen", form_record_id=record.pk).count() == 1


def test_a_stale_page_cannot_mark_a_form_not_done(client, site, investigator, coordinator):
    _subject, records = _month1(investigator, site, 30)
    record = records["ssc_haq"]
    client.force_login(coordinator)
    response = client.post(f"/forms/{record.pk}/state/", {"event": "mark_not_done", "reason": "x", "version": "7"})
    assert response.status_code == 409
    assert "after you opened it" in text(response)
    record.refresh_from_db()
    assert record.status == "not_started"


def test_a_monitor_is_offered_nothing_and_refused(client, site, investigator):
    _subject, records = _month1(investigator, site, 30)
    record = records["ssc_haq"]
    client.force_login(f.make_user("mon", "monitor", site))
    assert "Mark this form not done" not in client.get(f"/forms/{record.pk}/").content.decode()
    response = _mark(client, record, "not my job")
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.status == "not_started"


def test_another_sites_record_is_not_found(client, site, investigator):
    _subject, records = _month1(investigator, site, 30)
    site_b = f.make_site_b(site.study)
    client.force_login(f.make_user("coord_b", "coordinator", site_b))
    assert _mark(client, records["ssc_haq"], "x").status_code == 404
