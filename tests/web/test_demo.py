"""The demo data: 20 simulated patients at the stages the demo promises, one user per role, a valid
audit chain, and a second run that adds nothing."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.contrib.auth import get_user_model

from rodnan.web import demo
from rodnan.web.accounts.models import Membership
from rodnan.web.audit.chain import verify_chain
from rodnan.web.audit.models import AuditEntry
from rodnan.web.audit.replay import verify_and_reconcile
from rodnan.web.crfs.models import FormRecord
from rodnan.web.subjects.models import Subject, Visit
from tests.web import factories as f

pytestmark = pytest.mark.django_db

# demo.STAGES by the status each stage leaves the subject in, counted by hand: 1 screening,
# 1 consented + 1 eligible_consented, 2 screen failures, 1 enrolled, 10 follow-up, 2 completed,
# 1 withdrawn, 1 died.
EXPECTED_STATUSES = {
    "screening": 1, "consented": 2, "screen_failed": 2, "enrolled": 1, "in_follow_up": 10, "completed": 2,
    "withdrawn": 1, "died": 1,
}  # fmt: skip
STAGE_TO_STATUS = {
    "screening": "screening", "consented": "consented", "eligible_consented": "consented", "screen_failed": "screen_failed",
    "enrolled": "enrolled", "follow_up": "in_follow_up", "completed": "completed", "withdrawn": "withdrawn", "died": "died",
}  # fmt: skip


def test_stage_table_matches_the_expected_mix():
    """demo.STAGES holds 20 patients in the mix written out above."""
    assert len(demo.STAGES) == 20
    assert Counter(STAGE_TO_STATUS[s.kind] for s in demo.STAGES) == EXPECTED_STATUSES


def _check_subjects() -> None:
    """20 subjects at NJDT, counted by status; enrolled subjects have IDs NJDT-001.. and screening numbers NJDT-S0001.."""
    assert Subject.objects.count() == 20
    assert dict(Counter(Subject.objects.values_list("status", flat=True))) == EXPECTED_STATUSES
    assert set(Subject.objects.values_list("site__code", flat=True)) == {"NJDT"}
    numbers = sorted(Subject.objects.values_list("screening_number", flat=True))
    assert numbers == [f"NJDT-S{n:04d}" for n in range(1, 21)]
    codes = sorted(c for c in Subject.objects.values_list("subject_code", flat=True) if c)
    assert codes == [f"NJDT-{n:03d}" for n in range(1, 16)]  # 1 enrolled + 10 + 2 + 1 + 1 reached enrolment
    infused = Subject.objects.exclude(infusion_date=None)
    assert infused.count() == 14  # follow-up, completed, withdrawn, died
    for subject in infused:
        assert Visit.objects.filter(subject=subject).count() == 14  # SCR, D0, M1..M12
    assert FormRecord.objects.filter(form_code="infusion", status="complete").count() == 14


PASSWORDS = demo.demo_passwords()


def test_every_demo_user_gets_its_own_generated_password():
    """Issue 16: the seven demo accounts shared one printed password."""
    first, second = demo.demo_passwords(), demo.demo_passwords()
    assert len(set(first.values())) == len(first) == len(f.ROLE_CODES)
    assert first != second
    assert all(len(p) >= 16 for p in first.values())


def _check_users() -> None:
    """Seven users named after their role, each holding that role at NJDT, each with its own password."""
    users = get_user_model().objects.order_by("username")
    assert sorted(u.username for u in users) == sorted(f.ROLE_CODES)
    memberships = {(m.user.username, m.site.code, m.role) for m in Membership.objects.select_related("user", "site")}
    assert memberships == {(code, "NJDT", code) for code in f.ROLE_CODES}
    # each its own password: the one fill_demo was given, never another user's
    assert users.get(username="monitor").check_password(PASSWORDS["monitor"])
    assert not users.get(username="monitor").check_password(PASSWORDS["investigator"])


def _check_audit() -> None:
    """Every demo write went through the actions: the chain verifies and records each subject's screening."""
    report = verify_chain()
    assert report.ok, report.problem
    assert report.entries == AuditEntry.objects.count() > 0
    assert AuditEntry.objects.filter(action="subject.screen", changes__contains='"field":"screening_number"').count() == 20
    assert AuditEntry.objects.filter(action="subject.enrol", changes__contains='"field":"status"').count() == 15
    assert AuditEntry.objects.filter(action="subject.infuse").count() == 14
    replayed = verify_and_reconcile()  # the trail explains every stored value, state, visit and subject
    assert replayed.ok, [str(d) for d in replayed.differences]
    assert (replayed.subjects, replayed.records) == (20, FormRecord.objects.count())


def _check_source_document() -> None:
    """One subject has a source document: a PDF of its latest lab record, stored with the hash the record holds."""
    import io

    import pikepdf

    from rodnan.web.crfs.storage import read_file

    held = [(r, code, v["file"]) for r in FormRecord.objects.exclude(values={}) for code, v in r.values.items()
            if isinstance(v, dict) and v.get("file")]  # fmt: skip
    assert len(held) == 1
    record, _, meta = held[0]
    assert record.subject.status == "in_follow_up"
    assert meta["media_type"] == "application/pdf"
    assert meta["name"] == f"{record.subject.label}-{record.visit.code}-{record.form_code}.pdf"
    with pikepdf.open(io.BytesIO(read_file(meta["sha256"]))) as pdf:  # read_file checks the hash
        assert record.subject.label.encode() in pdf.pages[0].Contents.read_bytes()
    assert demo.source_document_pdf("T", ["a: 1"]) == demo.source_document_pdf("T", ["a: 1"])  # deterministic


def _check_new_forms() -> None:
    """Issue 15's vital signs, pregnancy tests and sample dates reach the demo (decision 0019): every infused subject's
    infusion vitals hold a value at each of the four times, each woman of child-bearing potential who was infused has a
    negative test dated within 7 days before her infusion, and every saved laboratory record holds its sample date."""
    from rodnan.core.protocol import load_protocol

    study = load_protocol()
    vitals = next(form for form in study.forms if form.timepoints)
    for subject in Subject.objects.exclude(infusion_date=None):
        record = FormRecord.objects.get(subject=subject, visit__code="D0", form_code=vitals.code)
        for _, codes in vitals.at_timepoints():
            assert any(code in record.values for code in codes), (subject.label, codes)
        demographics = FormRecord.objects.get(subject=subject, visit__code="SCR", form_code="demographics").values
        if demographics["sex"]["value"] == "female" and demographics["childbearing_potential"]["value"] == 1.0:
            tests = FormRecord.objects.filter(subject=subject, form_code="pregnancy_test").values_list("values", flat=True)
            days = [(subject.infusion_date - dt.date.fromisoformat(v["pregnancy_test_date"]["value"])).days for v in tests
                    if v["pregnancy_test_result"]["value"] == "negative"]  # fmt: skip
            assert any(0 <= d <= 7 for d in days), (subject.label, days)
    labs = FormRecord.objects.filter(form_code__in=("organ_function", "serology", "lymphocytes")).exclude(values={})
    assert labs.count() > 0
    assert all("sample_date" in values for values in labs.values_list("values", flat=True))


def _snapshot() -> tuple[object, ...]:
    return (Subject.objects.count(), get_user_model().objects.count(), Membership.objects.count(), AuditEntry.objects.count(),
            sorted(FormRecord.objects.values_list("id", "version")))  # fmt: skip


def test_fill_demo_builds_the_demo_once(settings, tmp_path):
    """One run builds subjects, users, a source document and a valid audit trail (checked above); a second run adds
    nothing."""
    settings.RODNAN_FILES_DIR = tmp_path / "files"
    demo.fill_demo(passwords=PASSWORDS)
    _check_subjects()
    _check_users()
    _check_source_document()
    _check_audit()
    _check_new_forms()
    before = _snapshot()
    demo.fill_demo()
    assert _snapshot() == before
    assert verify_chain().ok
