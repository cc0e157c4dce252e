"""The infusion screens and the protocol's requirement of a negative pregnancy test, and the vital signs recorded
around the infusion (issue 15; decision 0019)."""

from __future__ import annotations

import datetime as dt

import pytest

from rodnan.errors import InputError
from rodnan.web.crfs.actions import check_add_log_record
from rodnan.web.crfs.models import FormRecord
from rodnan.web.subjects import actions
from rodnan.web.subjects.models import Subject, Visit
from rodnan.web.subjects.records import visit_grid
from tests.candidates import LUNG_ELIGIBLE
from tests.web import factories as f
from tests.web.pages import posted, text

pytestmark = pytest.mark.django_db

WOMAN = {**LUNG_ELIGIBLE, "sex": "female", "childbearing_potential": True}
SENTENCE = "The infusion cannot be recorded yet. A negative pregnancy test within 7 days before the infusion"


def _enrolled_woman(investigator, site) -> Subject:
    subject = f.consented_subject(investigator, site, WOMAN)
    return actions.check_enrol(investigator, subject, f.days_ago(50))


def _test(user, subject: Subject, on: dt.date, result: str = "negative") -> None:
    entries = {"pregnancy_test_date": (on.isoformat(), None), "pregnancy_test_kind": ("urine", None),
               "pregnancy_test_result": (result, None)}  # fmt: skip
    check_add_log_record(user, subject, "pregnancy_test", entries, confirmed={"pregnancy_test_positive"})


def test_the_infusion_of_a_woman_without_a_negative_test_is_refused_naming_the_rule(site, investigator):
    """The action refuses with the requirement's code as field; nothing changes."""
    subject = _enrolled_woman(investigator, site)
    with pytest.raises(InputError) as refused:
        actions.check_record_infusion(investigator, subject, f.infusion_entries(f.days_ago(2)))
    assert refused.value.field == "negative_pregnancy_test"
    assert "[negative_pregnancy_test] A negative pregnancy test within 7 days before the infusion" in refused.value.rule
    subject.refresh_from_db()
    assert (subject.status, subject.infusion_date) == ("enrolled", None)


def test_the_infusion_page_says_the_test_is_missing_before_it_is_filled(site, investigator, inv_client):
    """GET: the plain sentence instead of the form (409), and the subject page says it where the button would be;
    with a negative test of 3 days ago the page opens and the infusion is recorded."""
    subject = _enrolled_woman(investigator, site)
    url = f"/subjects/{subject.pk}"
    page = inv_client.get(f"{url}/infuse/")
    assert page.status_code == 409
    assert SENTENCE in text(page)
    assert 'name="v_cells_administered"' not in page.content.decode()
    detail = text(inv_client.get(f"{url}/"))
    assert SENTENCE in detail
    assert f'href="{url}/infuse/"' not in inv_client.get(f"{url}/").content.decode()
    # a POST is refused by the action, naming the rule
    infusion = posted({"infusion_date": f.days_ago(1).isoformat(), "product_lot": "L1", "donor_code": "D1",
                       "infusion_weight": 60, "cells_administered": 60000000}, version=str(subject.version))  # fmt: skip
    refused = inv_client.post(f"{url}/infuse/", infusion)
    assert refused.status_code == 422
    assert "negative_pregnancy_test" in text(refused)
    _test(investigator, subject, f.days_ago(3))
    assert inv_client.get(f"{url}/infuse/").status_code == 200
    assert inv_client.post(f"{url}/infuse/", infusion).status_code == 302
    subject.refresh_from_db()
    assert subject.status == "in_follow_up"


def test_a_positive_or_old_test_keeps_the_page_closed(site, investigator, inv_client):
    """A positive test, or a negative one 7 days before the enrolment (so no infusion date could be allowed)."""
    subject = _enrolled_woman(investigator, site)
    _test(investigator, subject, f.days_ago(2), "positive")
    _test(investigator, subject, f.days_ago(58))  # enrolled 50 days ago: 8 days before the enrolment
    assert inv_client.get(f"/subjects/{subject.pk}/infuse/").status_code == 409


def test_the_infusion_vitals_save_per_time_and_count_for_the_visit(site, investigator, inv_client):
    """After the infusion, D0 expects the vitals around it: saved time by time from the table, the visit is
    'Data incomplete' until every time is entered, then done."""
    subject = f.infused_subject(investigator, site, f.days_ago(40))
    d0 = Visit.objects.get(subject=subject, code="D0")
    record = FormRecord.objects.get(visit=d0, form_code="infusion_vitals")
    assert _d0_state(subject) == "incomplete"  # the infusion's record alone does not settle D0
    page = inv_client.get(f"/forms/{record.pk}/")
    assert page.status_code == 200
    shown = text(page)
    assert "Before the infusion" in shown
    assert "1 h after the end of the infusion" in shown
    assert 'name="v_systolic_bp__during"' in page.content.decode()
    values = {"systolic_bp": 118, "diastolic_bp": 74, "heart_rate": 80, "body_temperature": 36.7, "respiratory_rate": 16,
              "spo2": 98}  # fmt: skip
    times = ("pre", "during", "end", "after_1h")
    first = {f"{item}__{time}": value for time in times[:3] for item, value in values.items()}
    response = inv_client.post(f"/forms/{record.pk}/", posted(first, version="0"))
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.status == "in_progress"
    assert record.values["systolic_bp__during"]["value"] == 118.0
    assert "systolic_bp__after_1h" not in record.values
    assert _d0_state(subject) == "incomplete"
    last = {f"{item}__after_1h": value for item, value in values.items()}
    response = inv_client.post(f"/forms/{record.pk}/", posted({**first, **last}, version="1"))
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.status == "complete"
    assert len(record.values) == 24
    statuses = dict(FormRecord.objects.filter(visit=d0).values_list("form_code", "status"))
    assert statuses == {"infusion": "complete", "infusion_vitals": "complete"}
    assert _d0_state(subject) == "done"


def _d0_state(subject: Subject) -> str:
    _, rows = visit_grid(subject)
    return next(row.state.value for row in rows if row.visit.code == "D0")
