"""The identity store: recording, correcting with a reason, the history with values, an audit entry for every view
and search (never a value), named validation errors, and the history proved against the keyed chain."""

from __future__ import annotations

import json
from importlib import import_module

import pytest
from django.db import DatabaseError, connection, transaction

from rodnan.core.identity import COMMITMENT_ITEM, WITHHELD, IdentityChange, commitment
from rodnan.web.audit.models import AuditEntry
from rodnan.web.identity.actions import check_save_identity
from rodnan.web.identity.models import AppendOnlyError, Identity
from rodnan.web.identity.models import IdentityChange as HistoryRow
from rodnan.web.identity.verify import verify_identity_history
from tests.web import factories as f
from tests.web.identity.helpers import DISTINCT, leaks, login, with_identity
from tests.web.pages import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def subject(site, investigator):
    """A screened subject of NJDT without an identity."""
    return f.screened_subject(investigator, site)


def _entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def test_coordinator_records_an_identity_from_the_screen(client, coordinator, subject):
    """The first save needs no reason: the identity is stored, one history row keeps the values, and the main trail's
    entry names the fields with their values withheld, plus the commitment the history row reproduces."""
    client.force_login(coordinator)
    response = client.post(f"/subjects/{subject.pk}/identity/edit/", {**DISTINCT, "version": "0"})
    assert (response.status_code, response["Location"]) == (302, f"/subjects/{subject.pk}/identity/")
    identity = Identity.objects.get(subject=subject)
    assert (identity.family_name, identity.date_of_birth.isoformat(), identity.hospital_record_number, identity.version) == (
        "Zyxquorva", "1961-07-23", "HRN-9876543", 1)  # fmt: skip
    [row] = HistoryRow.objects.filter(identity=identity)
    assert (row.version, row.username, row.role, row.reason) == (1, "coord", "coordinator", "")
    assert json.loads(row.changes)[0] == {"field": "family_name", "new": "Zyxquorva", "old": None}
    [entry] = _entries("identity.create")
    assert (entry.seq, entry.subject_id, entry.site_id, entry.username, entry.role, entry.object_id, entry.reason) == (
        row.audit_seq, subject.pk, subject.site_id, "coord", "coordinator", subject.label, "")  # fmt: skip
    fields = ["family_name", "given_names", "date_of_birth", "hospital_record_number", "phone", "email", "address",
              "next_of_kin_name", "next_of_kin_relation", "next_of_kin_phone"]  # fmt: skip
    assert entry.items[:-1] == [{"field": name, "old": None, "new": WITHHELD} for name in fields]
    changes = tuple(IdentityChange(name, None, DISTINCT[name]) for name in fields)
    assert entry.items[-1] == {"field": COMMITMENT_ITEM, "old": None, "new": commitment(row.salt, changes, "")}
    assert not leaks(entry.changes + entry.reason + entry.object_id)
    assert verify_identity_history() == []


def test_every_view_writes_one_audit_entry_without_values(client, coordinator, investigator, subject):
    """Each GET of the identity page or of its edit form appends one identity.view entry: who, role, subject, purpose."""
    with_identity(investigator, subject)
    client.force_login(coordinator)
    start = AuditEntry.objects.count()
    for _ in range(3):
        assert client.get(f"/subjects/{subject.pk}/identity/").status_code == 200
    assert client.get(f"/subjects/{subject.pk}/identity/edit/").status_code == 200
    views = list(AuditEntry.objects.filter(seq__gt=start).order_by("seq"))
    assert [(e.action, e.username, e.role, e.subject_id, e.site_id, e.object_id, e.reason, e.items) for e in views] == [
        ("identity.view", "coord", "coordinator", subject.pk, subject.site_id, subject.label, "identity page", [])] * 3 + [
        ("identity.view", "coord", "coordinator", subject.pk, subject.site_id, subject.label, "edit form", [])]  # fmt: skip


def test_no_identity_yet_shows_nothing_and_audits_nothing(client, coordinator, subject):
    """A subject without an identity: the page offers to record one; nothing was revealed, so nothing is audited."""
    client.force_login(coordinator)
    start = AuditEntry.objects.count()
    page = client.get(f"/subjects/{subject.pk}/identity/")
    assert "No identity is recorded" in text(page)
    assert "Record the identity" in text(page)
    assert AuditEntry.objects.count() == start


def test_a_saved_identity_changes_only_with_a_reason_and_keeps_its_history(client, investigator, subject):
    """Without a reason the change is refused (422, named, nothing saved); with one, version 2 and a second history row
    with old and new values, shown on the identity page; the main trail names the fields only."""
    with_identity(investigator, subject)
    client.force_login(investigator)
    edit = client.get(f"/subjects/{subject.pk}/identity/edit/")
    assert "Reason for change" in text(edit)
    changed = {**DISTINCT, "family_name": "Zyxquorvo", "phone": "", "version": "1"}
    refused = client.post(f"/subjects/{subject.pk}/identity/edit/", changed)
    assert refused.status_code == 422
    assert "Reason for change: is required to change a saved identity" in text(refused)
    assert Identity.objects.get(subject=subject).version == 1
    response = client.post(f"/subjects/{subject.pk}/identity/edit/", {**changed, "reason": "spelling on the ID card"})
    assert response.status_code == 302
    identity = Identity.objects.get(subject=subject)
    assert (identity.family_name, identity.phone, identity.version) == ("Zyxquorvo", "", 2)
    second = HistoryRow.objects.get(identity=identity, version=2)
    assert second.reason == "spelling on the ID card"
    assert json.loads(second.changes) == [{"field": "family_name", "old": "Zyxquorva", "new": "Zyxquorvo"},
                                          {"field": "phone", "old": "+86 25 8765 4321", "new": None}]  # fmt: skip
    [entry] = _entries("identity.change")
    assert [(i["field"], i["old"], i["new"]) for i in entry.items[:-1]] == [("family_name", WITHHELD, WITHHELD),
                                                                              ("phone", WITHHELD, None)]  # fmt: skip
    assert entry.reason == ""  # the reason may name the patient: it stays in the identity store
    page = text(client.get(f"/subjects/{subject.pk}/identity/"))
    assert "Zyxquorva Zyxquorvo spelling on the ID card" in page  # old value, new value, reason
    assert verify_identity_history() == []


def test_saving_the_same_values_again_changes_nothing(investigator, subject):
    """No change: no new version, no history row, no audit entry, no reason asked."""
    with_identity(investigator, subject)
    start = AuditEntry.objects.count()
    plan = check_save_identity(investigator, subject, DISTINCT, "", expected_version=1)
    assert plan.empty
    assert Identity.objects.get(subject=subject).version == 1
    assert (HistoryRow.objects.count(), AuditEntry.objects.count()) == (1, start)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"date_of_birth": "2099-01-01"}, "Date of birth: cannot be in the future"),
        ({"family_name": ""}, "Family name: is required"),
        ({"hospital_record_number": "NJ#1"}, "Hospital record number: must hold only letters, digits and . / -"),
        ({"email": "nobody@"}, "E-mail: must be an e-mail address"),
        ({"next_of_kin_phone": ""}, "Next of kin's phone: is required when a next of kin is named"),
    ],
)
def test_validation_errors_are_named_and_keep_the_typing(client, coordinator, subject, change, message):
    """A field breaking a rule: 422, the field's label and the rule, the typed values kept in the form, nothing saved."""
    client.force_login(coordinator)
    response = client.post(f"/subjects/{subject.pk}/identity/edit/", {**DISTINCT, **change, "version": "0"})
    assert response.status_code == 422
    assert message in text(response)
    assert 'value="Qelvinth Marisol"' in response.content.decode()
    assert not Identity.objects.filter(subject=subject).exists()
    assert not AuditEntry.objects.filter(action__startswith="identity.").exists()


def test_record_number_is_unique_per_site_only(site, investigator, subject):
    """A second subject of the same site cannot take the record number (named error); a subject of site B can."""
    with_identity(investigator, subject)
    other = f.screened_subject(investigator, site)
    response = login("coordinator", site).post(f"/subjects/{other.pk}/identity/edit/",
                                               {**DISTINCT, "hospital_record_number": "hrn-9876543", "version": "0"})  # fmt: skip
    assert response.status_code == 422
    assert f"Hospital record number: is already recorded for subject {subject.label} at this site" in text(response)
    site_b = f.make_site_b(site.study)
    investigator_b = f.make_user("inv_b", "investigator", site_b)
    subject_b = with_identity(investigator_b, f.screened_subject(investigator_b, site_b))
    assert Identity.objects.get(subject=subject_b).hospital_record_number == "HRN-9876543"


def test_a_record_number_taken_a_moment_ago_is_refused_by_name(site, investigator, subject, monkeypatch):
    """Two subjects given the same number at the same moment: the look-up saw no holder, the database's unique
    constraint refuses the second save, and the user gets a named error, not a server error; nothing is half written."""
    with_identity(investigator, subject)
    other = f.screened_subject(investigator, site)
    monkeypatch.setattr("rodnan.web.identity.actions.record_number_holder", lambda subject, typed: None)
    client = login("coordinator", site)
    start = AuditEntry.objects.count()
    response = client.post(f"/subjects/{other.pk}/identity/edit/", {**DISTINCT, "version": "0"})
    assert response.status_code == 422
    assert "Hospital record number: was recorded for another subject" in text(response)
    assert (Identity.objects.count(), HistoryRow.objects.count(), AuditEntry.objects.count()) == (1, 1, start)


def test_a_stale_page_is_refused(client, investigator, subject):
    """Two people editing: the second save, from a page of version 1 after version 2 was saved, is refused by name."""
    with_identity(investigator, subject)
    check_save_identity(investigator, subject, {**DISTINCT, "given_names": "Qelvinth"}, "middle name dropped", 1)
    client.force_login(investigator)
    response = client.post(f"/subjects/{subject.pk}/identity/edit/", {**DISTINCT, "phone": "+86 25 0000 0000", "version": "1",
                                                                      "reason": "new phone"})  # fmt: skip
    assert response.status_code == 422
    assert "changed by someone else" in text(response)
    assert Identity.objects.get(subject=subject).phone == "+86 25 8765 4321"


def test_search_finds_by_record_number_and_name_and_audits_the_subjects_found(client, coordinator, investigator, site, subject):
    """Record number (exact, any case), family name and given name (by their beginning) find the subject; the page shows
    its pseudonymous ID; each search is one identity.search entry listing what was found, never the text typed."""
    with_identity(investigator, subject)
    other_identity = {**DISTINCT, "family_name": "Test-Li", "given_names": "Demo Wei", "hospital_record_number": "X-1"}
    other = with_identity(investigator, f.screened_subject(investigator, site), other_identity)
    client.force_login(coordinator)
    start = AuditEntry.objects.count()
    for term, found in (("hrn-9876543", [subject]), ("zyxq", [subject]), ("Marisol", [subject]), ("li", [other]),
                        ("Wei", [other]), ("9876", []), ("Nobody", [])):  # fmt: skip
        response = client.post("/identity/search/", {"q": term})
        assert response.status_code == 200
        shown = [s.label for s in (subject, other) if f">{s.label}</a>" in response.content.decode()]
        assert shown == [s.label for s in found], term
    searches = list(AuditEntry.objects.filter(seq__gt=start).order_by("seq"))
    assert [(e.action, e.username, e.site_id, [i["new"] for i in e.items]) for e in searches] == [
        ("identity.search", "coord", site.pk, [subject.label]), ("identity.search", "coord", site.pk, [subject.label]),
        ("identity.search", "coord", site.pk, [subject.label]), ("identity.search", "coord", site.pk, [other.label]),
        ("identity.search", "coord", site.pk, [other.label]), ("identity.search", "coord", site.pk, [None]),
        ("identity.search", "coord", site.pk, [None])]  # fmt: skip
    assert not any(leaks(e.changes + e.reason + e.object_id) for e in searches)
    results = client.post("/identity/search/", {"q": "zyxq"}).content.decode()
    assert "Zyxquorva" not in results  # the results show the pseudonymous ID, not the name


def test_search_by_url_does_nothing(client, coordinator, investigator, subject):
    """A name in the URL (which access logs record) is not searched: the search form posts."""
    with_identity(investigator, subject)
    client.force_login(coordinator)
    start = AuditEntry.objects.count()
    page = client.get("/identity/search/?q=Zyxquorva").content.decode()
    assert subject.label not in page
    assert 'method="post"' in page
    assert AuditEntry.objects.count() == start


def test_history_is_append_only_in_the_code_and_in_the_database(investigator, subject, db_vendor):
    """The model refuses change and deletion; the database's triggers refuse UPDATE and DELETE too."""
    with_identity(investigator, subject)
    row = HistoryRow.objects.get()
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
    with pytest.raises(AppendOnlyError):
        HistoryRow.objects.all().delete()
    statements = ["UPDATE identity_identitychange SET reason = 'x'", "DELETE FROM identity_identitychange"]
    # The test run lifts the ban that keeps Django from emptying the table between tests (tests/django_env.py): put it
    # back for this test (its transaction rolls this back).
    with connection.cursor() as cursor:
        if db_vendor == "postgresql":
            statements.append("TRUNCATE identity_identitychange")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # PostgreSQL alters no table with deferred checks pending
            cursor.execute("ALTER TABLE identity_identitychange ENABLE TRIGGER identity_change_no_truncate")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            for statement in import_module("rodnan.web.identity.migrations.0002_history_append_only").SQLITE_FORBID:
                cursor.execute(statement)
    for statement in statements:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert HistoryRow.objects.get().reason == ""


def _drop_triggers(db_vendor: str) -> None:
    with connection.cursor() as cursor:
        if db_vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # PostgreSQL alters no table with deferred checks pending
            cursor.execute("DROP TRIGGER identity_change_append_only ON identity_identitychange")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            cursor.execute("DROP TRIGGER identity_change_no_update")


def test_verify_finds_a_history_rewritten_behind_the_triggers(investigator, subject, db_vendor):
    """An insider who drops the trigger and rewrites a history value (and the identity to match) is caught: the row no
    longer gives the commitment the keyed chain holds. A stored identity changed without its history is caught too."""
    with_identity(investigator, subject)
    assert verify_identity_history() == []
    Identity.objects.filter(subject=subject).update(family_name="Forged")
    assert verify_identity_history() == [f"identity of subject #{subject.pk}: family_name differs from its history"]
    _drop_triggers(db_vendor)
    row = HistoryRow.objects.get()
    forged = row.changes.replace("Zyxquorva", "Forged", 1)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE identity_identitychange SET changes = %s WHERE id = %s", [forged, row.pk])
    assert verify_identity_history() == [
        f"identity history of subject #{subject.pk}, version 1: the values or the reason differ from what entry "
        f"#{row.audit_seq} committed to"]  # fmt: skip


def test_postgresql_application_role_may_not_change_the_history():
    """``rodnan audit grant-app-role`` revokes the rights to change or empty the history, as for the audit entries."""
    from rodnan.web.audit.database import app_role_statements

    statements = app_role_statements("rodnan_app")
    revoke = "REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON identity_identitychange FROM rodnan_app"
    grant = "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO rodnan_app"
    assert statements.index(grant) < statements.index(revoke)  # revoked after the grant on every table, or it would not hold
