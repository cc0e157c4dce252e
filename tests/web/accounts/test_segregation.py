"""Issue 16, segregation of duties: an administrator never holds a clinical role nor grants itself one, a new account
sets its own password through a one-time expiring link (nobody else knows it), and /users/ finds only users of the
administrator's own sites."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from rodnan.errors import InputError
from rodnan.web.accounts.actions import check_create_user, check_decide_request, check_grant_membership
from rodnan.web.accounts.models import Membership, RoleRequest
from rodnan.web.audit.models import AuditEntry
from tests.web import factories as f
from tests.web.pages import text

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-enough-passphrase-9"


def _link(response) -> str:
    match = re.search(r'id="password-link"[^>]*value="http://testserver(/set-password/[^"]+)"', response.content.decode())
    assert match, text(response)
    return match.group(1)


def test_an_administrator_cannot_grant_itself_a_clinical_role(client, site, admin, investigator):
    """Before the fix: POST /users/ op=grant, its own user, role=investigator made it an investigator."""
    subject = f.open_screening(investigator, site)
    client.force_login(admin)
    response = client.post("/users/", {"op": "grant", "site": site.pk, "user": admin.pk, "role": "investigator"}, follow=True)
    assert "administrators cannot grant a role to themselves" in text(response)
    assert Membership.objects.get(user=admin, site=site).role == "administrator"
    assert client.get(f"/subjects/{subject.pk}/").status_code == 404  # still no clinical data


def test_an_administrator_never_holds_a_clinical_role_at_another_site(site, admin):
    site_b = f.make_site_b(site.study)
    other_admin = f.make_user("admin2", "administrator", site_b)
    f.make_user("admin3", "administrator", site)
    with pytest.raises(InputError, match="an administrator never holds a clinical role") as caught:
        check_grant_membership(other_admin, admin, site_b, "monitor")  # admin is an administrator at NJDT
    assert caught.value.field == "role"
    investigator = f.make_user("inv_b", "investigator", site_b)
    with pytest.raises(InputError, match="holds a clinical role"):
        check_grant_membership(admin, investigator, site, "administrator")
    # a role without clinical data at another site stays possible only for non-administrators: none exists but administrator
    assert Membership.objects.filter(user=investigator).count() == 1


def test_a_new_account_sets_its_own_password_through_a_one_time_link(client, site, admin):
    """Before the fix the administrator chose the new investigator's password and could log in as them."""
    client.force_login(admin)
    response = client.post("/users/", {"op": "create", "site": site.pk, "username": "dr.li", "role": "investigator",
                                       "password": NEW_PASSWORD})  # fmt: skip
    link = _link(response)
    user = get_user_model().objects.get(username="dr.li")
    assert not user.has_usable_password()  # a password posted by the administrator is ignored
    assert "/set-password/" not in client.get("/users/").content.decode()  # shown that once
    newcomer = Client()
    assert newcomer.post("/login/", {"username": "dr.li", "password": NEW_PASSWORD}).status_code == 200  # not logged in
    weak = newcomer.post(link, {"new_password1": "short", "new_password2": "short"})
    assert weak.status_code == 422
    assert "at least 12 characters" in text(weak)
    done = newcomer.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert (done.status_code, done["Location"]) == (302, "/login/")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert AuditEntry.objects.filter(action="user.set_password", object_id="dr.li", user=user).count() == 1
    # used once: the link is dead
    again = Client().get(link)
    assert again.status_code == 410
    assert "expired or has already been used" in text(again)


def test_the_link_expires(client, site, admin, settings):
    _, path = check_create_user(admin, site, "nurse.zhou", "coordinator")
    settings.PASSWORD_RESET_TIMEOUT = -1  # every link is older than the timeout
    assert Client().get(path).status_code == 410


def test_a_new_link_for_a_forgotten_password_disables_the_old_one(client, site, admin, investigator):
    client.force_login(admin)
    assert investigator.check_password(f.PASSWORD)
    link = _link(client.post("/users/", {"op": "link", "site": site.pk, "user": investigator.pk}))
    investigator.refresh_from_db()
    assert not investigator.has_usable_password()
    assert AuditEntry.objects.filter(action="user.password_link", object_id="inv").count() == 1
    assert Client().post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}).status_code == 302
    # and no link for itself
    response = client.post("/users/", {"op": "link", "site": site.pk, "user": admin.pk}, follow=True)
    assert "cannot issue a link for themselves" in text(response)


def test_users_looks_up_only_users_of_the_administrators_sites(client, site, admin):
    """Before the fix an administrator of site A could pull a user of site B into site A by stepping through ids."""
    site_b = f.make_site_b(site.study)
    outsider = f.make_user("inv_b", "investigator", site_b)
    client.force_login(admin)
    response = client.post("/users/", {"op": "grant", "site": site.pk, "user": outsider.pk, "role": "monitor"}, follow=True)
    assert "no such user at your sites" in text(response)
    assert not Membership.objects.filter(user=outsider, site=site).exists()
    assert "inv_b" not in text(response)


def _second_admin(site):
    return f.make_user("admin2", "administrator", site)


def test_a_clinical_role_waits_for_a_second_administrator(client, site, admin):
    """Granting a role that sees clinical data asks; another administrator of the site approves; then it holds."""
    user = f.make_user("dr.wu")
    asked = check_grant_membership(admin, user, site, "investigator")
    assert isinstance(asked, RoleRequest)
    assert not Membership.objects.filter(user=user).exists()
    assert check_grant_membership(admin, user, site, "investigator") == asked  # asked twice: one request
    with pytest.raises(InputError, match="another administrator must approve"):
        check_decide_request(admin, asked, approve=True)
    second = _second_admin(site)
    client.force_login(second)
    page = client.get("/users/")
    assert "Roles awaiting approval" in text(page)
    response = client.post("/users/", {"op": "approve", "site": site.pk, "user": user.pk, "request": asked.pk}, follow=True)
    assert "Investigator for dr.wu at NJDT approved" in text(response)
    assert Membership.objects.get(user=user, site=site).role == "investigator"
    actions = list(AuditEntry.objects.filter(object_id="dr.wu").values_list("action", "user__username"))
    assert actions == [("membership.request", "admin"), ("membership.approve", "admin2"), ("membership.grant", "admin2")]
    with pytest.raises(InputError, match="approved already"):
        check_decide_request(second, asked, approve=False)


def test_a_rejected_role_is_never_granted_and_a_reading_role_without_clinical_data_needs_no_approval(site, admin):
    user = f.make_user("dr.xu")
    asked = check_grant_membership(admin, user, site, "monitor")
    assert check_decide_request(_second_admin(site), asked, approve=False) is None
    assert not Membership.objects.filter(user=user).exists()
    assert RoleRequest.objects.get(pk=asked.pk).decision == "rejected"
    # administrator: no clinical data, granted at once (segregation still holds: dr.xu holds no clinical role)
    assert isinstance(check_grant_membership(admin, user, site, "administrator"), Membership)


def test_the_switch_turns_approval_off(site, admin, settings):
    settings.ROLE_APPROVAL = False
    user = f.make_user("dr.ma")
    assert isinstance(check_grant_membership(admin, user, site, "coordinator"), Membership)
