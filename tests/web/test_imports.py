"""The bulk import of paper CRFs keeps every invariant of the interactive actions."""

from __future__ import annotations

import pytest

from rodnan.core.entry import check_form_entry
from rodnan.core.lifecycle import SubjectStatus
from rodnan.core.simulate.cohort import simulate_cohort
from rodnan.errors import RodnanError
from rodnan.web.audit.chain import verify_chain
from rodnan.web.audit.models import AuditEntry
from rodnan.web.audit.replay import verify_and_reconcile
from rodnan.web.crfs.models import FormRecord
from rodnan.web.imports import check_import_cohort
from rodnan.web.studies.models import Site
from rodnan.web.studies.protocol import study_definition
from rodnan.web.subjects.models import Subject
from tests.web.factories import make_site_b, make_study, make_user, site_a

pytestmark = pytest.mark.django_db


def test_an_import_is_audited_numbered_and_stored_as_the_form_save_stores_it() -> None:
    study = make_study()
    a, b = site_a(study), make_site_b(study)
    importer = make_user("imp", "investigator", a)
    from rodnan.web.accounts.models import Membership

    Membership.objects.create(user=importer, site=b, role="investigator")
    definition = study_definition(study)
    cohort = simulate_cohort(definition, 12, seed=5)
    report = check_import_cohort(importer, [a, b], cohort, seed=5)
    assert Subject.objects.count() == 12
    assert {s.site_id for s in Subject.objects.all()} == {a.pk, b.pk}
    assert all(s.status in {v.value for v in SubjectStatus} for s in Subject.objects.all())
    # numbering per site, as the interactive actions allocate it
    for site in (a, b):
        numbers = sorted(Subject.objects.filter(site=site).values_list("screening_number", flat=True))
        assert numbers == [f"{site.code}-S{i:04d}" for i in range(1, len(numbers) + 1)]
    # every stored value is what the entry check makes of it, and its audit entry (source import) carries it
    record = FormRecord.objects.exclude(values={}).exclude(form_code="infusion").order_by("id").first()
    typed = {code: (v["raw"], v["unit"]) for code, v in record.values.items()}
    entry = check_form_entry(definition, record.form_code, typed, set(typed))
    assert {c: v.as_json() for c, v in entry.values.items()} == record.values
    imported = AuditEntry.objects.filter(action="record.save", form_record=record)
    assert {
        item["field"]: item["new"] for entry in imported for item in entry.items if item["field"] != "status"
    } == record.values
    assert set(imported.values_list("source", flat=True)) == {"import"}
    assert verify_chain().ok
    replayed = verify_and_reconcile()  # the import's entries explain every row it wrote
    assert replayed.ok, [str(d) for d in replayed.differences]
    assert report.subjects == 12
    assert report.audit_entries == AuditEntry.objects.count()
    _check_new_forms(definition, report)


def _check_new_forms(definition, report) -> None:
    """The simulator's vital signs, sample dates and pregnancy tests come through (decision 0019): no infusion was
    refused for a missing pregnancy test, every infused subject's vitals around the infusion hold values at each time,
    the pregnancy tests are log records, every saved laboratory record holds its sample date."""
    assert not [r for r in report.rejected if "pregnancy" in str(r)], report.rejected
    vitals = next(form for form in definition.forms if form.timepoints)
    infused = Subject.objects.exclude(infusion_date=None)
    assert infused.exists()
    for subject in infused:
        record = FormRecord.objects.get(subject=subject, visit__code="D0", form_code=vitals.code)
        assert all(any(code in record.values for code in codes) for _, codes in vitals.at_timepoints())
    assert FormRecord.objects.filter(form_code="pregnancy_test", visit__isnull=True).exclude(values={}).exists()
    labs = FormRecord.objects.filter(form_code__in=("organ_function", "serology", "lymphocytes")).exclude(values={})
    assert labs.exists()
    assert all("sample_date" in values for values in labs.values_list("values", flat=True))


def test_an_importer_without_the_role_at_every_site_is_refused() -> None:
    study = make_study()
    a, b = site_a(study), make_site_b(study)
    importer = make_user("imp", "investigator", a)
    with pytest.raises(RodnanError):
        check_import_cohort(importer, [a, b], simulate_cohort(study_definition(study), 2, seed=1))
    assert Subject.objects.count() == 0


def _site_content(site: Site) -> list[tuple[object, ...]]:
    """A site's imported subjects as comparable content: numbers (site code taken out), fields, records, audit."""

    def plain(text: object) -> object:
        return text.replace(site.code, "<site>") if isinstance(text, str) else text

    out: list[tuple[object, ...]] = []
    for subject in Subject.objects.filter(site=site).order_by("screening_number"):
        records = sorted(
            (r.visit.code if r.visit else "", r.form_code, r.seq, r.status, r.version, r.values, r.start_date)
            for r in FormRecord.objects.filter(subject=subject).select_related("visit")
        )
        visits = sorted(subject.visits.values_list("code", "target_date", "done_on", "missed", "missed_reason"))
        audit = [(e.action, plain(e.object_id), e.reason, plain(e.changes), e.form_record.form_code if e.form_record else None)
                 for e in AuditEntry.objects.filter(subject=subject).order_by("seq")]  # fmt: skip
        dates = (subject.screening_date, subject.consent_date, subject.enrolment_date, subject.infusion_date, subject.end_date)
        out.append((plain(subject.screening_number), plain(subject.subject_code), subject.status, dates,
                    plain(subject.end_reason), plain(subject.screen_fail_reason), records, visits, audit))  # fmt: skip
    return out


def test_worker_processes_build_the_same_import_as_one_process() -> None:
    study = make_study()
    a, b = site_a(study), make_site_b(study)
    c = Site.objects.create(study=study, code="SITEC", name="Third", city="Nanjing", country="CN")
    d = Site.objects.create(study=study, code="SITED", name="Fourth", city="Nanjing", country="CN")
    importer = make_user("imp", "investigator", a)
    from rodnan.web.accounts.models import Membership

    for site in (b, c, d):
        Membership.objects.create(user=importer, site=site, role="investigator")
    cohort = simulate_cohort(study_definition(study), 14, seed=4)
    alone = check_import_cohort(importer, [a, b], cohort, seed=4, workers=1, batch_size=3)
    forked = check_import_cohort(importer, [c, d], cohort, seed=4, workers=2, batch_size=3)
    assert (alone.subjects, alone.audit_entries, alone.values) == (forked.subjects, forked.audit_entries, forked.values)
    assert alone.subjects == 14
    assert len(_site_content(a)) == 7
    assert _site_content(a) == _site_content(c)
    assert _site_content(b) == _site_content(d)
    assert verify_chain().ok
    assert verify_and_reconcile().ok
