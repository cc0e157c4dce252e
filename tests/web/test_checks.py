"""Issue 15, findings 1 and 2 through the screens, and the bulk import refusing the same: the core's lifecycle
checks (rodnan.core.records.checks) reach every write path."""

from __future__ import annotations

import pytest

from rodnan.core.lifecycle import Transition
from rodnan.core.records.course import Course
from rodnan.web.crfs.models import FormRecord
from rodnan.web.imports import ImportReport, _Builder
from rodnan.web.studies.protocol import study_definition
from rodnan.web.subjects import actions
from rodnan.web.subjects.models import Subject
from rodnan.web.subjects.selectors import list_overdue_visits
from rodnan.web.subjects.store import record_snapshot, subject_snapshot, visit_snapshot
from tests.web import factories as f
from tests.web.pages import posted, text

pytestmark = pytest.mark.django_db


def _dead(investigator, site) -> Subject:
    """Infused 50 days ago (Month 1: target 20 days ago, window 27 .. 13 days ago), died 22 days ago."""
    subject = f.infused_subject(investigator, site, f.days_ago(50))
    return actions.check_end_subject(investigator, subject, Transition.DIE, f.days_ago(22), "sepsis")


def test_finding_1_a_visit_after_the_death_is_refused_on_the_form_screen(inv_client, site, investigator):
    subject = _dead(investigator, site)
    record = FormRecord.objects.get(subject=subject, visit__code="M1", form_code="mrss")
    assert record.status == "not_started"  # Month 1's window opened before the death: it may still hold a visit held before
    response = inv_client.post(f"/forms/{record.pk}/", posted({"mrss_face": 1}, version="0", visit_date=f.today().isoformat()))
    assert response.status_code == 422
    assert (f"Not saved: visit_date: [after_end] {f.today().isoformat()} is after the subject's death on "
            f"{f.days_ago(22).isoformat()}") in text(response)  # fmt: skip
    record.refresh_from_db()
    assert (record.values, record.visit.done_on) == ({}, None)
    # held before the death: saved
    response = inv_client.post(f"/forms/{record.pk}/", posted({"mrss_face": 1}, version="0",
                                                              visit_date=f.days_ago(24).isoformat()))  # fmt: skip
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.visit.done_on == f.days_ago(24)


def test_finding_1_the_later_visits_are_not_expected_and_not_overdue(inv_client, site, investigator):
    subject = _dead(investigator, site)
    page = text(inv_client.get(f"/subjects/{subject.pk}/"))
    # Month 1 (target 20 days ago, after the death) would be overdue (window closed 13 days ago); Month 2 upcoming
    assert "Month 1" in page
    assert "Overdue" not in page
    assert "Upcoming" not in page
    assert page.count("Not expected") >= 12
    assert not list_overdue_visits(investigator).filter(subject=subject).exists()


def test_finding_2_completion_on_the_infusion_day_needs_a_reason_and_a_confirmation(inv_client, site, investigator):
    subject = f.infused_subject(investigator, site, f.days_ago(40))
    url = f"/subjects/{subject.pk}/complete/"
    day0 = f.days_ago(40).isoformat()
    response = inv_client.post(url, {"end_date": day0, "reason": "", "version": subject.version})
    assert response.status_code == 422
    assert f"[early_completion] follow-up completed on {day0}, before the last scheduled visit Month 12" in text(response)
    response = inv_client.post(url, {"end_date": day0, "reason": "moved abroad", "version": subject.version})
    assert response.status_code == 422
    assert 'name="confirm" value="early_completion"' in response.content.decode()
    subject.refresh_from_db()
    assert subject.status == "in_follow_up"
    response = inv_client.post(url, {"end_date": day0, "reason": "moved abroad", "version": subject.version,
                                     "confirm": "early_completion"})  # fmt: skip
    assert response.status_code == 302
    subject.refresh_from_db()
    assert (subject.status, subject.end_date, subject.end_reason) == ("completed", f.days_ago(40), "moved abroad")


def test_a_visit_outside_its_window_is_confirmed_on_the_form_screen(inv_client, site, investigator):
    subject = f.infused_subject(investigator, site, f.days_ago(40))  # Month 1 window 17 .. 3 days ago
    record = FormRecord.objects.get(subject=subject, visit__code="M1", form_code="mrss")
    data = posted({"mrss_face": 1}, version="0", visit_date=f.days_ago(1).isoformat())
    response = inv_client.post(f"/forms/{record.pk}/", data)
    assert response.status_code == 422
    assert 'name="confirm" value="visit_window"' in response.content.decode()
    assert f'value="{f.days_ago(1).isoformat()}"' in response.content.decode()  # the visit date typed is kept
    response = inv_client.post(f"/forms/{record.pk}/", {**data, "confirm": "visit_window"})
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.visit.done_on == f.days_ago(1)


def test_the_import_refuses_a_visit_after_the_death_as_the_screens_do(site, investigator):
    """The import's builder, given a CRF visit dated after the subject's death, leaves it out with the rule named."""
    definition = study_definition(site.study)
    subject = _dead(investigator, site)
    course = Course(definition.protocol.version)
    course.subject = subject_snapshot(subject)
    course.visits = {v.code: visit_snapshot(v) for v in subject.visits.order_by("day")}
    course.records = {s.key: s for s in (record_snapshot(r) for r in FormRecord.objects.filter(subject=subject))}
    report = ImportReport()
    builder = _Builder(definition, f.today(), report)
    builder._enter_visit(course, "M1", [("mrss_face", "1", "", f.today())], f.today())
    assert report.rejected == [(subject.label, "M1", "mrss", "visit_date",
                                f"[after_end] {f.today().isoformat()} is after the subject's death on "
                                f"{f.days_ago(22).isoformat()}")]  # fmt: skip
    assert course.records[("M1", "mrss", 0)].values == {}
    assert course.visits["M1"].done_on is None
    # the same visit held before the death is imported
    builder._enter_visit(course, "M1", [("mrss_face", "1", "", f.days_ago(24))], f.days_ago(24))
    assert course.visits["M1"].done_on == f.days_ago(24)
