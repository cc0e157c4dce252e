"""rodnan.web.bulk.insert_rows writes what the ORM reads back, with ids the database keeps counting from."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from rodnan.web.bulk import insert_rows
from rodnan.web.crfs.models import FormRecord
from rodnan.web.subjects.models import Subject, Visit
from tests.web.factories import make_study, make_user, site_a

pytestmark = pytest.mark.django_db(transaction=True)


def test_rows_read_back_as_given_and_later_saves_get_fresh_ids() -> None:
    study = make_study()
    site = site_a(study)
    user = make_user("bulk", "investigator", site)
    now = timezone.now().replace(microsecond=123456)
    day = dt.date(2026, 3, 4)
    with transaction.atomic():
        subject_ids = insert_rows(
            Subject,
            ("study_id", "site_id", "screening_number", "status", "screening_date", "subject_code", "created_at", "version"),
            [(study.pk, site.pk, "NJDT-S9001", "screening", day, None, now, 1),
             (study.pk, site.pk, "NJDT-S9002", "enrolled", day, "NJDT-901", now, 3)],
        )  # fmt: skip
        visit_ids = insert_rows(
            Visit,
            ("subject_id", "code", "label", "day", "target_date", "window_start", "window_end", "done_on", "missed"),
            [(subject_ids[1], "M1", "Month 1", 30, day, day - dt.timedelta(days=7), day + dt.timedelta(days=7), None, True)],
        )
        values = {"mrss_total": {"item": "mrss_total", "raw": "12", "unit": None, "value": 12.0, "display": "12 – ü"}}
        record_ids = insert_rows(
            FormRecord,
            ("subject_id", "visit_id", "form_code", "seq", "protocol_version", "values", "confirmed_warnings", "status",
             "flags", "item_flags", "version", "start_date", "updated_at", "updated_by_id"),
            [(subject_ids[1], visit_ids[0], "mrss", 0, "1", values, ["x"], "complete", ["verified"], {"a": ["queried"]}, 2,
              "2019-03", now, user.pk)],
        )  # fmt: skip
    assert subject_ids[1] == subject_ids[0] + 1
    first, second = Subject.objects.get(pk=subject_ids[0]), Subject.objects.get(pk=subject_ids[1])
    assert (first.screening_number, first.subject_code, first.screening_date) == ("NJDT-S9001", None, day)
    assert (second.subject_code, second.version, second.created_at) == ("NJDT-901", 3, now)
    assert (first.screen_fail_reason, first.consent_date) == ("", None)  # not given: the field's default, as bulk_create
    visit = Visit.objects.get(pk=visit_ids[0])
    assert (visit.subject_id, visit.window_end, visit.done_on, visit.missed) == (subject_ids[1], dt.date(2026, 3, 11), None, True)
    record = FormRecord.objects.get(pk=record_ids[0])
    assert record.values == values
    assert (record.confirmed_warnings, record.flags, record.item_flags) == (["x"], ["verified"], {"a": ["queried"]})
    assert (record.start_date, record.end_date, record.updated_at, record.updated_by_id) == ("2019-03", None, now, user.pk)
    # the database's own id counter moved past the ids taken: an ordinary save does not collide
    later = Subject.objects.create(study=study, site=site, screening_number="NJDT-S9003", status="screening",
                                   screening_date=day)  # fmt: skip
    assert later.pk > subject_ids[1]
    assert insert_rows(Subject, ("study_id",), []) == []
