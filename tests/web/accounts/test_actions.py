"""Account management: password rules, creating users and granting, changing and revoking roles, each audited."""

from __future__ import annotations

import pytest

from rodnan.errors import InputError
from rodnan.web.accounts.access import AccessDeniedError
from rodnan.web.accounts.actions import check_create_user, check_grant_membership, check_revoke_membership, do_grant_membership
from rodnan.web.accounts.models import Membership
from rodnan.web.audit.chain import verify_chain
from tests.web import factories as f

pytestmark = pytest.mark.django_db


def test_create_user_is_audited(admin, site):
    """A new user: user.create then membership.request (a clinical role waits for a second administrator)."""
    start = f.last_seq()
    user, path = check_create_user(admin, site, "  nurse1 ", "coordinator")
    assert user.username == "nurse1"
    assert not user.has_usable_password()  # nobody knows a password until the user sets one through the link
    assert path.startswith("/set-password/")
    got = [
        (e.action, e.username, e.role, e.object_id, e.field, e.old_value, e.new_value, e.site_id)
        for e in f.flat(f.audit_since(start))
    ]
    assert got == [
        ("user.create", "admin", "administrator", "nurse1", "", "", "", site.pk),
        ("membership.request", "admin", "administrator", "nurse1", "role", "", "coordinator", site.pk),
    ]


def test_create_user_refuses_taken_names_and_unknown_roles(admin, site, investigator):
    """A taken user name and a role that does not exist are refused, naming the field."""
    with pytest.raises(InputError) as caught:
        check_create_user(admin, site, "inv", "coordinator")
    assert caught.value.field == "username"
    with pytest.raises(InputError) as caught:
        check_create_user(admin, site, "nurse2", "superuser")
    assert caught.value.field == "role"


def test_membership_grant_change_and_revoke_are_audited(admin, site, settings):
    """Grant monitor, change to data manager, re-grant the same role (no entry), revoke: old and new role each time
    (with the second administrator's approval switched off; test_segregation covers it)."""
    settings.ROLE_APPROVAL = False
    user = f.make_user("sam")
    start = f.last_seq()
    check_grant_membership(admin, user, site, "monitor")
    check_grant_membership(admin, user, site, "data_manager")
    check_grant_membership(admin, user, site, "data_manager")
    assert Membership.objects.get(user=user, site=site).role == "data_manager"
    check_revoke_membership(admin, user, site)
    assert not Membership.objects.filter(user=user).exists()
    got = [(e.action, e.username, e.role, e.object_id, e.old_value, e.new_value) for e in f.flat(f.audit_since(start))]
    assert got == [
        ("membership.grant", "admin", "administrator", "sam", "", "monitor"),
        ("membership.grant", "admin", "administrator", "sam", "monitor", "data_manager"),
        ("membership.revoke", "admin", "administrator", "sam", "data_manager", ""),
    ]
    assert verify_chain().ok


def test_only_administrators_grant_and_nobody_revokes_their_own_admin_role(admin, site, investigator):
    """An investigator cannot grant roles; an administrator cannot remove their own administrator role."""
    user = f.make_user("sam")
    with pytest.raises(AccessDeniedError, match="manage users"):
        check_grant_membership(investigator, user, site, "investigator")
    assert not Membership.objects.filter(user=user).exists()
    with pytest.raises(InputError) as caught:
        check_revoke_membership(admin, admin, site)
    assert caught.value.field == "membership"
    assert Membership.objects.get(user=admin).role == "administrator"


def test_do_grant_membership_replaces_the_role_and_forgets_the_cached_one(admin, site):
    """do_grant_membership keeps one role per user and site, and the user's new role applies at once."""
    from rodnan.web.accounts.access import role_at

    user = f.make_user("sam", "monitor", site)
    assert role_at(user, site).code == "monitor"
    do_grant_membership(admin, "administrator", user, site, "coordinator")
    assert Membership.objects.filter(user=user).count() == 1
    assert role_at(user, site).code == "coordinator"
