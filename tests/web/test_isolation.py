"""Site isolation and role rules: staff of site A never reach site B's subjects (404, never 403, so
nothing leaks), read-only roles cannot write, and the roles table grants what the study depends on."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from rodnan.core.lifecycle import Transition
from rodnan.web.accounts.models import Membership
from rodnan.web.accounts.roles import ROLES, Permission
from rodnan.web.audit.models import AuditEntry
from rodnan.web.crfs.models import FormRecord
from rodnan.web.subjects.models import Subject, Visit
from tests.candidates import LUNG_ELIGIBLE
from tests.web import factories as f

pytestmark = pytest.mark.django_db

READ_ONLY_ROLES = ("monitor", "data_manager", "statistician", "safety_reviewer")


@pytest.fixture
def study():
    return f.make_study()


@pytest.fixture
def site_a(study):
    return f.site_a(study)


@pytest.fixture
def site_b(study):
    return f.make_site_b(study)


@pytest.fixture
def b_subject(site_b):
    """An infused subject of site B (SITEB-S0001, SITEB-001) with a saved screening form."""
    investigator_b = f.make_user("inv_b", "investigator", site_b)
    return f.infused_subject(investigator_b, site_b)


@pytest.fixture
def a_subject(site_a):
    """A subject of site A in screening (NJDT-S0001), eligible values saved."""
    return f.screened_subject(f.make_user("inv_a", "investigator", site_a), site_a)


def _login(role: str, site) -> Client:
    client = Client()
    client.force_login(f.make_user(f"{role}_a", role, site))
    return client


def _without_csrf(content: bytes) -> bytes:
    """A page without its CSRF token (masked afresh on every response)."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)


def _urls_of(subject: Subject) -> tuple[list[str], list[str]]:
    """Every URL that names the subject, its visits or its forms: (GET urls, POST urls)."""
    records = list(FormRecord.objects.filter(subject=subject))
    visits = list(Visit.objects.filter(subject=subject))
    get = [f"/subjects/{subject.pk}/", f"/subjects/{subject.pk}/audit/"]
    get += [f"/subjects/{subject.pk}/identity/", f"/subjects/{subject.pk}/identity/edit/"]  # decision 0020
    get += [f"/subjects/{subject.pk}/{t.value}/" for t in Transition]
    get += [f"/forms/{r.pk}/" for r in records] + [f"/forms/{r.pk}/audit/" for r in records]
    post = [f"/subjects/{subject.pk}/{t.value}/" for t in Transition] + [f"/subjects/{subject.pk}/identity/edit/"]
    post += [f"/forms/{r.pk}/" for r in records] + [f"/forms/{r.pk}/eligibility/" for r in records]
    post += [f"/visits/{v.pk}/missed/" for v in visits]
    return get, post


@pytest.mark.parametrize("role", ["investigator", "coordinator", *READ_ONLY_ROLES, "administrator"])
def test_site_b_subject_is_not_found_for_every_site_a_role(role, site_a, b_subject):
    """Every subject, visit, form, audit and transition URL of a site-B subject answers 404 to site-A staff; nothing changes."""
    client = _login(role, site_a)
    get_urls, post_urls = _urls_of(b_subject)
    # SCR 10 forms, D0 2, M1..M12 4 each plus 3 more at M3, M6, M9, M12: 72 forms on 14 visits
    assert (len(get_urls), len(post_urls)) == (2 + 2 + 8 + 2 * 72, 8 + 1 + 2 * 72 + 14)
    before = (b_subject.version, AuditEntry.objects.filter(subject=b_subject).count())
    for url in get_urls:
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"SITEB" not in response.content, url
    data = {"version": "1", "reason": "x", "v_albumin": "40", "consent_version": "2", "consent_date": f.days_ago(1).isoformat()}
    for url in post_urls:
        response = client.post(url, data)
        assert response.status_code == 404, url
        assert b"SITEB" not in response.content, url
    b_subject.refresh_from_db()
    assert (b_subject.version, AuditEntry.objects.filter(subject=b_subject).count()) == before
    assert not Visit.objects.filter(subject=b_subject, missed=True).exists()


def test_not_found_looks_the_same_as_a_missing_subject(site_a, b_subject):
    """A site-B subject and a subject that does not exist give the same answer to site-A staff."""
    client = _login("investigator", site_a)
    missing = Subject.objects.order_by("-pk").first().pk + 1000
    there, absent = client.get(f"/subjects/{b_subject.pk}/"), client.get(f"/subjects/{missing}/")
    assert there.status_code == absent.status_code == 404
    assert _without_csrf(there.content) == _without_csrf(absent.content)
    # a POST-only URL answers GET with 405 whether or not the visit exists
    visit = Visit.objects.filter(subject=b_subject).first()
    assert client.get(f"/visits/{visit.pk}/missed/").status_code == client.get("/visits/99999999/missed/").status_code == 405


@pytest.mark.parametrize("role", ["investigator", "coordinator", *READ_ONLY_ROLES])
def test_lists_and_dashboard_hold_no_site_b_numbers(role, site_a, a_subject, b_subject):
    """Site-A lists, searches and the dashboard show NJDT subjects only, and count only them."""
    client = _login(role, site_a)
    for url in ("/", "/subjects/", "/subjects/?q=SITEB", "/subjects/?site=SITEB", "/subjects/?status=in_follow_up"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"SITEB-S0001" not in response.content, url  # the search box may echo "SITEB"; numbers never appear
        assert b"SITEB-001" not in response.content, url
    assert b"NJDT-S0001" in client.get("/subjects/").content
    page = client.get("/").content.decode()
    assert "<strong>0</strong> of 20 enrolled" in page  # site B's enrolled subject is not counted


def test_site_a_staff_cannot_open_screening_at_site_b(site_a, site_b):
    """A site-A coordinator posting site B's id to 'new screening' opens nothing."""
    client = _login("coordinator", site_a)
    response = client.post("/subjects/new/", {"site": site_b.pk, "screening_date": f.days_ago(1).isoformat()})
    assert response.status_code == 302
    assert not Subject.objects.exists()


def test_member_of_both_sites_sees_both(site_a, site_b, a_subject, b_subject):
    """A monitor with a role at each site sees the subjects of both."""
    monitor = f.make_user("mon_ab", "monitor", site_a)
    Membership.objects.create(user=monitor, site=site_b, role="monitor")
    client = Client()
    client.force_login(monitor)
    content = client.get("/subjects/").content
    assert b"NJDT-S0001" in content
    assert b"SITEB-001" in content
    assert client.get(f"/subjects/{b_subject.pk}/").status_code == 200


@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_read_only_roles_cannot_write(role, site_a, a_subject):
    """Monitors, data managers, statisticians and safety reviewers: every write is refused, changes nothing, audits nothing."""
    client = _login(role, site_a)
    record = f.scr_record(a_subject, "screening")
    demographics = f.scr_record(a_subject, "demographics")
    start = AuditEntry.objects.exclude(action__startswith="auth.").count()

    response = client.post(f"/forms/{record.pk}/", {"version": "1", "v_albumin": "38", "reason": "monitor edit"})
    assert response.status_code == 302  # back to the subject with the refusal as a message
    response = client.post(f"/forms/{demographics.pk}/", {"version": "1", "v_age": "50"}, follow=True)
    assert "not allowed: enter data" in response.content.decode()
    response = client.post(f"/subjects/{a_subject.pk}/consent/",
                           {"consent_version": "2", "consent_date": f.days_ago(1).isoformat(), "version": "1"})  # fmt: skip
    assert response.status_code == 422
    assert "not allowed: consent" in response.content.decode()
    client.post(f"/subjects/{a_subject.pk}/screen_fail/", {"reason": "monitor thinks so", "version": "1"})
    client.post("/subjects/new/", {"site": site_a.pk, "screening_date": f.days_ago(1).isoformat()})
    visit = Visit.objects.get(subject=a_subject, code="SCR")
    client.post(f"/visits/{visit.pk}/missed/", {"reason": "monitor"})

    record.refresh_from_db()
    demographics.refresh_from_db()
    a_subject.refresh_from_db()
    # demographics holds the factory's child-bearing answer (version 1) and nothing the monitor typed
    assert (record.version, record.values["albumin"]["raw"], demographics.version) == (1, "40", 1)
    assert "age" not in demographics.values
    assert (a_subject.status, a_subject.version) == ("screening", 1)
    assert Subject.objects.count() == 1
    assert Visit.objects.filter(missed=True).count() == 0
    assert AuditEntry.objects.exclude(action__startswith="auth.").count() == start
    # reading is allowed
    assert client.get(f"/subjects/{a_subject.pk}/").status_code == 200
    assert client.get(f"/forms/{record.pk}/").status_code == 200
    assert "Read only" in client.get(f"/forms/{record.pk}/").content.decode()


@pytest.mark.parametrize(("role", "status"), [("monitor", 200), ("data_manager", 200), ("safety_reviewer", 200),
                                              ("statistician", 403), ("coordinator", 200), ("investigator", 200)])  # fmt: skip
def test_audit_trail_visibility_by_role(role, status, site_a, a_subject):
    """The statistician reads pseudonymous data but not the audit trail (403); the other clinical roles see it."""
    client = _login(role, site_a)
    record = f.scr_record(a_subject, "screening")
    assert client.get(f"/subjects/{a_subject.pk}/audit/").status_code == status
    assert client.get(f"/forms/{record.pk}/audit/").status_code == status
    assert client.get(f"/subjects/{a_subject.pk}/").status_code == 200


def test_administrator_sees_no_subjects_but_manages_users(site_a, site_b, a_subject):
    """The administrator is sent to the users page, finds no subject, and creates a user with a role (audited)."""
    client = _login("administrator", site_a)
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, "/users/")
    assert b"NJDT-S0001" not in client.get("/subjects/").content
    assert client.get(f"/subjects/{a_subject.pk}/").status_code == 404
    assert client.get(f"/forms/{f.scr_record(a_subject, 'screening').pk}/").status_code == 404
    f.make_user("inv_b", "investigator", site_b)
    users_page = client.get("/users/")
    assert users_page.status_code == 200
    assert b"inv_a" in users_page.content  # the administrator's site only
    assert b"inv_b" not in users_page.content
    assert client.get("/account-events/").status_code == 200

    response = client.post("/users/", {"op": "create", "site": site_a.pk, "username": "nurse1", "role": "coordinator"})
    assert response.status_code == 200
    assert "/set-password/" in response.content.decode()
    nurse = get_user_model().objects.get(username="nurse1")
    assert not Membership.objects.filter(user=nurse).exists()  # a clinical role awaits a second administrator
    assert [(e.action, e.username, e.role, e.new_value) for e in f.flat(list(AuditEntry.objects.filter(object_id="nurse1")))] == [
        ("user.create", "administrator_a", "administrator", ""),
        ("membership.request", "administrator_a", "administrator", "coordinator"),
    ]
    # but not at a site the administrator does not administer
    client.post("/users/", {"op": "grant", "site": site_b.pk, "user": nurse.pk, "role": "investigator"})
    assert not Membership.objects.filter(user=nurse, site=site_b).exists()


@pytest.mark.parametrize("role", ["investigator", "coordinator", *READ_ONLY_ROLES])
def test_clinical_roles_cannot_manage_users(role, site_a):
    """Only administrators reach the users page and the account events (403 for the others)."""
    client = _login(role, site_a)
    assert client.get("/users/").status_code == 403
    assert client.get("/account-events/").status_code == 403
    client.post("/users/", {"op": "create", "site": site_a.pk, "username": "sneaky", "role": "investigator"})
    assert not get_user_model().objects.filter(username="sneaky").exists()


def test_user_without_a_role_sees_nothing(site_a, a_subject):
    """A user with no membership gets the 'no site' page and 404 for the subject."""
    client = Client()
    client.force_login(f.make_user("nobody"))
    assert "No site yet" in client.get("/").content.decode()
    assert client.get(f"/subjects/{a_subject.pk}/").status_code == 404


def test_forms_of_site_b_stay_unchanged_after_site_a_attempts(site_a, b_subject):
    """A site-A investigator posting a site-B form (with a correct version) stores nothing."""
    client = _login("investigator", site_a)
    record = FormRecord.objects.get(subject=b_subject, visit__code="SCR", form_code="screening")
    data = {f"v_{k}": str(v) for k, v in LUNG_ELIGIBLE.items()} | {"v_albumin": "30", "version": "1", "reason": "x"}
    assert client.post(f"/forms/{record.pk}/", data).status_code == 404
    record.refresh_from_db()
    assert (record.version, record.values["albumin"]["raw"]) == (1, "40")


# --- the roles table -----------------------------------------------------------------------------

P = Permission
EXPECTED_ROLES = {
    "investigator": {P.VIEW_SUBJECTS, P.SCREEN, P.ENTER_DATA, P.CONSENT, P.SCREEN_FAIL, P.ENROL, P.INFUSE, P.END_SUBJECT,
                     P.MARK_VISIT, P.VIEW_AUDIT, P.VIEW_IDENTITY, P.EDIT_IDENTITY},
    "coordinator": {P.VIEW_SUBJECTS, P.SCREEN, P.ENTER_DATA, P.CONSENT, P.MARK_VISIT, P.VIEW_AUDIT, P.VIEW_IDENTITY,
                    P.EDIT_IDENTITY},
    "monitor": {P.VIEW_SUBJECTS, P.VIEW_AUDIT},
    "data_manager": {P.VIEW_SUBJECTS, P.VIEW_AUDIT},
    "statistician": {P.VIEW_SUBJECTS},
    "safety_reviewer": {P.VIEW_SUBJECTS, P.VIEW_AUDIT},
    "administrator": {P.MANAGE_USERS, P.VIEW_ACCOUNT_AUDIT},
}  # fmt: skip
"""Who may do what, written out: a change to ROLES must change this table too."""

CLINICAL_WRITES = {P.SCREEN, P.ENTER_DATA, P.CONSENT, P.SCREEN_FAIL, P.ENROL, P.INFUSE, P.END_SUBJECT, P.MARK_VISIT}


def test_roles_table_is_the_declared_one():
    """Every role and its permissions, exactly."""
    assert set(ROLES) == set(f.ROLE_CODES)
    assert {code: set(role.permissions) for code, role in ROLES.items()} == EXPECTED_ROLES


@pytest.mark.parametrize("role", ["monitor", "statistician", "data_manager", "safety_reviewer", "administrator"])
def test_reading_roles_have_no_clinical_write(role):
    """Monitors, statisticians, data managers, safety reviewers and administrators never write clinical data."""
    assert not (ROLES[role].permissions & CLINICAL_WRITES)
    assert ROLES[role].writes_clinical_data is False


def test_only_investigators_enrol_and_infuse():
    """Enrolment and infusion (and screen failure, ending a subject) belong to the investigator alone."""
    for permission in (P.ENROL, P.INFUSE, P.SCREEN_FAIL, P.END_SUBJECT):
        assert [code for code, role in ROLES.items() if permission in role.permissions] == ["investigator"]


def test_administrator_sees_no_clinical_data_and_statistician_no_audit():
    """The administrator holds no clinical permission; the statistician cannot read the audit trail."""
    assert P.VIEW_SUBJECTS not in ROLES["administrator"].permissions
    assert P.VIEW_AUDIT not in ROLES["statistician"].permissions
    assert [code for code, role in ROLES.items() if P.MANAGE_USERS in role.permissions] == ["administrator"]
