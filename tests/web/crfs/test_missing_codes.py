"""Issue 15 on screen: missing-data codes beside the fields, SF-36 answers of the chosen version, clearing a scored
mRSS area with a reason, and a visit shown as done only when its forms are."""

from __future__ import annotations

import re

import pytest

from rodnan.web.audit.models import AuditEntry
from rodnan.web.crfs.models import FormRecord
from tests.web import factories as f
from tests.web.pages import posted, text

pytestmark = pytest.mark.django_db

MRSS = dict(zip(
    ["mrss_face", "mrss_chest", "mrss_abdomen", "mrss_upper_arm_r", "mrss_upper_arm_l", "mrss_forearm_r", "mrss_forearm_l",
     "mrss_hand_r", "mrss_hand_l", "mrss_fingers_r", "mrss_fingers_l", "mrss_thigh_r", "mrss_thigh_l", "mrss_lower_leg_r",
     "mrss_lower_leg_l", "mrss_foot_r", "mrss_foot_l"],
    [1, 2, 1, 1, 1, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 0, 0], strict=True))  # fmt: skip


def _options(response, code: str) -> list[str]:
    """The answer labels offered for a radio item (its radio group, without the blank 'not answered' choice)."""
    page = response.content.decode()
    group = re.search(rf'name="v_{code}" value="1".*?value=""', page, re.S)
    assert group is not None
    return re.findall(r'<span class="rl">([^<]+)</span>', group.group(0))


def test_an_mrss_area_not_assessed_on_screen_is_complete_audited_and_shown(inv_client, site, investigator):
    subject = f.open_screening(investigator, site)
    record = f.scr_record(subject, "mrss")
    areas = {k: v for k, v in MRSS.items() if k != "mrss_forearm_l"}
    start = f.last_seq()
    data = posted(areas, version="0", visit_date=f.days_ago(58).isoformat(), m_mrss_forearm_l="not_assessed")
    refused = inv_client.post(f"/forms/{record.pk}/", data)
    assert refused.status_code == 422  # "not assessed" needs a reason
    assert "not assessed needs a reason" in text(refused)
    data["mr_mrss_forearm_l"] = "dressing over a digital ulcer"
    assert inv_client.post(f"/forms/{record.pk}/", data).status_code == 302
    record.refresh_from_db()
    assert record.status == "complete"
    assert (record.values["mrss_forearm_l"]["missing"], record.values["mrss_forearm_l"]["missing_reason"]) == (
        "not_assessed", "dressing over a digital ulcer")  # fmt: skip
    entry = AuditEntry.objects.get(seq__gt=start, action="record.save")
    assert '"missing":"not_assessed"' in entry.changes.replace(" ", "")
    page = inv_client.get(f"/forms/{record.pk}/")
    html = page.content.decode()
    assert re.search(r'name="m_mrss_forearm_l".*?<option value="not_assessed" selected>', html, re.S)
    assert 'name="mr_mrss_forearm_l" value="dressing over a digital ulcer"' in html
    assert "not computable" in text(page)  # 16 of 17 areas: no total


def test_a_scored_mrss_area_can_be_cleared_with_a_reason(inv_client, site, investigator):
    subject = f.open_screening(investigator, site)
    record = f.scr_record(subject, "mrss")
    inv_client.post(f"/forms/{record.pk}/", posted(MRSS, version="0", visit_date=f.days_ago(58).isoformat()))
    page = inv_client.get(f"/forms/{record.pk}/").content.decode()
    assert re.search(r'name="v_mrss_face" value=""', page)  # the blank choice beside the scores
    cleared = posted({**MRSS, "mrss_face": ""}, version="1")
    refused = inv_client.post(f"/forms/{record.pk}/", cleared)
    assert refused.status_code == 422
    assert "reason: a reason is required to clear a saved answer (mrss_face)" in text(refused)
    start = f.last_seq()
    assert inv_client.post(f"/forms/{record.pk}/", {**cleared, "reason": "scored on the wrong sheet"}).status_code == 302
    record.refresh_from_db()
    assert "mrss_face" not in record.values
    assert record.status == "in_progress"
    entry = AuditEntry.objects.get(seq__gt=start, action="record.save")
    assert entry.reason == "scored on the wrong sheet"
    assert '"field":"mrss_face"' in entry.changes.replace(" ", "")


def test_sf36_answers_and_labels_follow_the_version(inv_client, site, investigator):
    subject = f.open_screening(investigator, site)
    record = f.scr_record(subject, "sf36")
    fresh = inv_client.get(f"/forms/{record.pk}/")  # no version chosen yet: each label names its version
    assert _options(fresh, "sf36_q4a")[:3] == ["Yes (v1) · All of the time (v2)", "No (v1) · Most of the time (v2)",
                                               "Some of the time (v2)"]  # fmt: skip
    data = posted({"sf36_form": "v1", "sf36_q1": 2, "sf36_q4a": 5}, version="0", visit_date=f.days_ago(58).isoformat())
    refused = inv_client.post(f"/forms/{record.pk}/", data)
    assert refused.status_code == 422
    assert "Q4a Physical health: cut down time spent on work or other activities: must be 1 to 2 on SF-36 version 1" in text(
        refused
    )
    assert _options(refused, "sf36_q4a") == ["Yes", "No"]
    assert FormRecord.objects.get(pk=record.pk).version == 0
    assert inv_client.post(f"/forms/{record.pk}/", {**data, "v_sf36_q4a": "2"}).status_code == 302
    v2 = inv_client.post(f"/forms/{record.pk}/", posted({"sf36_form": "v2", "sf36_q1": 2, "sf36_q4a": "2"}, version="1",
                                                       reason="the v2 form was used"))  # fmt: skip
    assert v2.status_code == 302
    page = inv_client.get(f"/forms/{record.pk}/")
    assert _options(page, "sf36_q4a") == [
        "All of the time", "Most of the time", "Some of the time", "A little of the time", "None of the time"]  # fmt: skip


def test_the_screening_visit_with_2_of_9_forms_is_not_shown_done(inv_client, site, investigator):
    subject = f.open_screening(investigator, site)
    for form, values in (("demographics", {"sex": "female", "age": 40, "height": 165, "body_weight": 60}), ("mrss", MRSS)):
        record = f.scr_record(subject, form)
        data = posted(values, version=str(record.version), visit_date=f.days_ago(58).isoformat())
        assert inv_client.post(f"/forms/{record.pk}/", data).status_code == 302
    page = text(inv_client.get(f"/subjects/{subject.pk}/"))
    row = page.split("Screening and baseline", 1)[1][:80]
    assert "Data incomplete" in row
    assert not row.lstrip().startswith("Done")
