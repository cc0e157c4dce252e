"""Never exported: a subject with a distinctive identity, recorded, corrected, viewed and searched for, and then every
way data leaves the identity store's screens is searched for its values: the trial data contract the report and the
analysis read (the web database's provider), the audit trail (its table, its pages, its verification and replay) and
the logs (every logger at DEBUG while the identity screens are used)."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

from rodnan.web.analysis import read_for_report, trial_data_from_database
from rodnan.web.audit.models import AuditEntry
from rodnan.web.audit.replay import verify_and_reconcile
from rodnan.web.crfs.models import FormRecord
from rodnan.web.identity.actions import check_save_identity
from tests.web import factories as f
from tests.web.identity.helpers import DISTINCT, NEEDLES, leaks, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def subject(site, investigator):
    """An infused subject (values at screening and day 0) whose distinctive identity was recorded, corrected (the old
    values too must never leak), viewed and searched for by its coordinator."""
    subject = f.infused_subject(investigator, site)
    check_save_identity(investigator, subject, {**DISTINCT, "family_name": "Zyxquorvaa"})
    check_save_identity(investigator, subject, DISTINCT, "typo in Zyxquorva", expected_version=1)
    coordinator = login("coordinator", site)
    assert coordinator.get(f"/subjects/{subject.pk}/identity/").status_code == 200
    assert coordinator.post("/identity/search/", {"q": "Zyxquorva"}).status_code == 200
    return subject


def test_the_fixture_really_holds_the_values(subject):
    """The check below could not fail if the values were not stored: they are, in the identity store's tables."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT family_name, hospital_record_number FROM identity_identity")
        assert cursor.fetchall() == [("Zyxquorva", "HRN-9876543")]
        cursor.execute("SELECT changes, reason FROM identity_identitychange ORDER BY version")
        history = " ".join(" ".join(row) for row in cursor.fetchall())
    assert set(leaks(history)) == set(NEEDLES)  # every needle is in the history, so a leak of any would be seen


def test_trial_data_contract_holds_no_identity_value(subject):
    """The analysis's and the report's input from the web database (subjects, values, adverse events, and the snapshot
    the report reads) holds none of the identity's values, however it is written out."""
    data = trial_data_from_database()
    written = "\n".join(frame.to_csv() for frame in (data.subjects, data.values, data.adverse_events))
    assert subject.label in written  # the subject is there, pseudonymously
    assert leaks(written) == []
    snapshot = read_for_report()
    assert leaks(repr(snapshot.data.subjects.to_dict()) + repr(snapshot.data.values.to_dict()) + repr(snapshot)) == []


def test_audit_table_and_pages_hold_no_identity_value(subject, site):
    """Every text column of every audit entry, and the subject's and its forms' audit pages as a monitor and as a
    coordinator read them, hold no identity value; the identity events are there, by name."""
    rows = AuditEntry.objects.values_list("username", "role", "action", "object_type", "object_id", "reason", "changes")
    assert leaks(" ".join(" ".join(map(str, row)) for row in rows)) == []
    record = FormRecord.objects.filter(subject=subject).exclude(values={}).first()
    for role in ("monitor", "coordinator"):
        client = login(role, site, f"{role}_reader")
        page = client.get(f"/subjects/{subject.pk}/audit/").content.decode()
        assert all(action in page for action in ("identity.create", "identity.change", "identity.view"))
        assert leaks(page) == []
        assert leaks(client.get(f"/forms/{record.pk}/audit/").content.decode()) == []


def test_audit_verify_and_replay_pass_and_hold_no_identity_value(subject):
    """``rodnan audit verify``'s work (chain, replay, reconciliation) passes with the identity entries in the chain and
    reports nothing that names the patient."""
    report = verify_and_reconcile()
    assert report.ok, report
    assert report.chain.entries == AuditEntry.objects.count()
    assert leaks(repr(report)) == []


LOGGERS = ("", "django", "django.request", "django.security", "django.db.backends", "rodnan")
"""The root logger and the project's configured loggers (those do not propagate to the root: settings.LOGGING)."""


def test_identity_screens_log_no_value(site, investigator, caplog):
    """Every logger at DEBUG while the identity is recorded, refused (a named error), viewed, edited and searched for:
    no value reaches a log record. A probe logged through the project's own logger proves the capture sees it."""
    subject = f.screened_subject(investigator, site)
    client = login("coordinator", site)
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers[1:]:
        logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.DEBUG):
            for logger in loggers:
                logger.setLevel(logging.DEBUG)
            logging.getLogger("rodnan.probe").debug("probe %s", "Zyxquorva")
            client.post(f"/subjects/{subject.pk}/identity/edit/", {**DISTINCT, "email": "zyxquorva@", "version": "0"})
            client.post(f"/subjects/{subject.pk}/identity/edit/", {**DISTINCT, "version": "0"})
            client.get(f"/subjects/{subject.pk}/identity/")
            client.get(f"/subjects/{subject.pk}/identity/edit/")
            bad_phone = {**DISTINCT, "phone": "12", "version": "1", "reason": "Zyxquorva"}
            client.post(f"/subjects/{subject.pk}/identity/edit/", bad_phone)
            client.post("/identity/search/", {"q": "Zyxquorva"})
            client.post("/identity/search/", {"q": "HRN-9876543"})
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
            if logger.name != "root":
                logger.removeHandler(caplog.handler)
    records = [r for r in caplog.records if r.name != "rodnan.probe"]
    assert [r.getMessage() for r in caplog.records if r.name == "rodnan.probe"] == ["probe Zyxquorva"]
    assert any(r.name == "django.request" for r in records)  # the refused save (422) was logged, by its path
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in records)
    assert leaks(logged) == []
