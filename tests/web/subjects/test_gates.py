"""Lifecycle steps offered only when allowed (issue 15, finding 7): the subject page's buttons, the step pages
opened by URL and the server's POST refusals agree for every step x role x subject status."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from rodnan.core.lifecycle import SubjectStatus, Transition
from rodnan.core.records.checks import EARLY_COMPLETION
from rodnan.web.accounts.roles import ROLES
from rodnan.web.subjects import actions
from rodnan.web.subjects.models import Subject
from tests.web import factories as f
from tests.web.pages import posted, text

pytestmark = pytest.mark.django_db

FORM = '<form method="post">'


def _url(subject: Subject, step: str = "") -> str:
    return f"/subjects/{subject.pk}/" + (f"{step}/" if step else "")


def test_coordinator_is_offered_neither_enrolment_nor_infusion(client, site, investigator, coordinator):
    """A consented and an enrolled subject seen by a coordinator: no Enrol / Record MSC infusion button, the
    sentence saying who may, and the pages opened by URL answer 403 with that sentence instead of the form."""
    consented = f.consented_subject(investigator, site)
    client.force_login(coordinator)
    page = client.get(_url(consented))
    assert f'href="{_url(consented, "enrol")}"' not in page.content.decode()
    assert "Only an investigator can record a screen failure, enrol a subject or withdraw a subject." in text(page)
    enrol = client.get(_url(consented, "enrol"))
    assert enrol.status_code == 403
    assert "Only an investigator can enrol a subject." in text(enrol)
    assert FORM not in enrol.content.decode()

    enrolled = f.enrolled_subject(investigator, site)
    page = client.get(_url(enrolled)).content.decode()
    assert f'href="{_url(enrolled, "infuse")}"' not in page
    assert "Record MSC infusion" not in page
    infuse = client.get(_url(enrolled, "infuse"))
    assert infuse.status_code == 403
    assert "Only an investigator can record the infusion." in text(infuse)
    assert FORM not in infuse.content.decode()
    # the server's refusal of the POST is as before
    refused = client.post(_url(enrolled, "infuse"), _infusion(enrolled))
    assert refused.status_code == 422
    assert "not allowed: infuse needs a role that grants it (Study coordinator here)" in text(refused)


def test_record_death_is_not_offered_for_a_dead_patient(inv_client, site, investigator):
    """Died yesterday: no "Record death" (nor any step) on the page, the sentence with the date, and
    /die/ opened by URL answers 409 with the sentence instead of the form."""
    subject = f.infused_subject(investigator, site)
    actions.check_end_subject(investigator, subject, Transition.DIE, f.days_ago(1), "stroke")
    page = inv_client.get(_url(subject))
    assert f'href="{_url(subject, "die")}"' not in page.content.decode()
    assert "Record death" not in text(page)
    sentence = f"This patient died on {f.days_ago(1).isoformat()}: nothing more can be recorded."
    assert sentence in text(page)
    die = inv_client.get(_url(subject, "die"))
    assert die.status_code == 409
    assert sentence in text(die)
    assert FORM not in die.content.decode()


def _infusion(subject: Subject) -> dict[str, str]:
    return posted({code: value for code, (value, _) in f.infusion_entries(f.days_ago(10)).items()}, version=str(subject.version))


VALID_POST: dict[Transition, Callable[[Subject], dict[str, str]]] = {
    Transition.CONSENT: lambda s: {"consent_version": "2.0", "consent_date": f.days_ago(20).isoformat(),
                                   "version": str(s.version)},
    Transition.SCREEN_FAIL: lambda s: {"reason": "creatinine too high", "version": str(s.version)},
    Transition.ENROL: lambda s: {"enrolment_date": f.days_ago(15).isoformat(), "version": str(s.version)},
    Transition.INFUSE: _infusion,
    **{t: (lambda s: {"end_date": f.days_ago(1).isoformat(), "reason": "a reason", "version": str(s.version)})
       for t in (Transition.WITHDRAW, Transition.DIE, Transition.LOSE_TO_FOLLOW_UP)},
    # the factories' follow-up is days old: completing it is early, a warning the investigator confirms (decision 0016)
    Transition.COMPLETE: lambda s: {"end_date": f.days_ago(1).isoformat(), "reason": "a reason", "version": str(s.version),
                                    "confirm": EARLY_COMPLETION},
}  # fmt: skip
"""A POST body each step accepts from a subject in a status that allows it (dates fit the factories' course)."""


def _ended(make: Callable[[Any, Any], Subject], step: Transition, reason: str = "a reason") -> Callable[[Any, Any], Subject]:
    def build(user: Any, site: Any) -> Subject:
        subject = make(user, site)
        if step is Transition.SCREEN_FAIL:
            return actions.check_screen_fail(user, subject, reason)
        confirmed = {EARLY_COMPLETION} if step is Transition.COMPLETE else set()
        return actions.check_end_subject(user, subject, step, f.days_ago(2), reason, confirmed=confirmed)

    return build


SUBJECT_IN: dict[SubjectStatus, Callable[[Any, Any], Subject]] = {
    SubjectStatus.SCREENING: f.screened_subject,
    SubjectStatus.CONSENTED: f.consented_subject,
    SubjectStatus.ENROLLED: f.enrolled_subject,
    SubjectStatus.IN_FOLLOW_UP: f.infused_subject,
    SubjectStatus.SCREEN_FAILED: _ended(f.screened_subject, Transition.SCREEN_FAIL),
    SubjectStatus.COMPLETED: _ended(f.infused_subject, Transition.COMPLETE),
    SubjectStatus.WITHDRAWN: _ended(f.consented_subject, Transition.WITHDRAW),
    SubjectStatus.DIED: _ended(f.infused_subject, Transition.DIE),
    SubjectStatus.LOST_TO_FOLLOW_UP: _ended(f.infused_subject, Transition.LOSE_TO_FOLLOW_UP),
}
"""A subject in each status, built by an investigator through the actions."""


def _accepted(client: Any, url: str, data: dict[str, str]) -> int:
    """The status of a POST whose writes are rolled back afterwards (the subject stays as it was)."""
    with transaction.atomic():
        status = int(client.post(url, data).status_code)
        transaction.set_rollback(True)
    return status


@pytest.mark.parametrize("status", list(SubjectStatus))
def test_what_the_pages_offer_is_what_the_server_accepts(client, site, investigator, status):
    """For a subject in ``status`` and every role x step: the button on the subject page, a GET of the step's
    page showing its form and a valid POST being accepted (302) are all true or all false; a refused page
    answers 403 for the role, else 409, and a refused POST answers 422 as before."""
    subject = SUBJECT_IN[status](investigator, site)
    assert subject.status == status.value  # the premise
    users = {code: (investigator if code == "investigator" else f.make_user(code, code, site)) for code in ROLES}
    seen: list[tuple[str, str, bool]] = []
    for code, user in users.items():
        client.force_login(user)
        page = client.get(_url(subject))
        buttons = (
            set(re.findall(rf'href="{_url(subject)}([a-z_]+)/"', page.content.decode())) if page.status_code == 200 else set()
        )
        for step in Transition:
            get = client.get(_url(subject, step.value))
            shown = get.status_code == 200 and FORM in get.content.decode()
            posted_status = _accepted(client, _url(subject, step.value), VALID_POST[step](subject))
            accepted = posted_status == 302
            where = (code, step.value)
            assert (step.value in buttons) == shown == accepted, (where, buttons, get.status_code, posted_status)
            if not accepted and code != "administrator":  # the administrator sees no subject at all (404)
                assert posted_status == 422, where
                assert get.status_code in (403, 409), where
                assert FORM not in get.content.decode(), where
            seen.append((code, step.value, accepted))
        subject.refresh_from_db()
        assert subject.status == status.value  # nothing was kept
    # the investigator may take exactly the steps the status allows; the coordinator only consent
    open_to = {(code, step) for code, step, ok in seen if ok}
    expected_steps = {
        SubjectStatus.SCREENING: {"consent", "screen_fail"},
        SubjectStatus.CONSENTED: {"screen_fail", "enrol", "withdraw"},
        SubjectStatus.ENROLLED: {"infuse", "withdraw", "die"},
        SubjectStatus.IN_FOLLOW_UP: {"complete", "withdraw", "die", "lose_to_follow_up"},
    }.get(status, set())
    expected = {("investigator", s) for s in expected_steps} | (
        {("coordinator", "consent")} if "consent" in expected_steps else set()
    )
    assert open_to == expected
