"""The web database provides the analysis interface: the demo's patients, read back through the same
checks as the simulator's files, give the endpoints and datasets."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from rodnan.cli.report import database_report
from rodnan.core.analysis.datasets import derive_time_to_event
from rodnan.core.analysis.pipeline import analyse_trial
from rodnan.core.endpoints import evaluate_endpoints
from rodnan.core.entry import EnteredValue
from rodnan.core.simulate.cohort import simulate_cohort
from rodnan.web import analysis
from rodnan.web.analysis import trial_data_from_database
from rodnan.web.audit.chain import head
from rodnan.web.crfs.models import FormRecord
from rodnan.web.demo import STAGES, fill_demo
from rodnan.web.imports import check_import_cohort
from rodnan.web.studies.protocol import study_definition
from rodnan.web.subjects.models import Subject

pytestmark = pytest.mark.django_db


def test_the_demo_database_reads_as_trial_data() -> None:
    fill_demo()
    data = trial_data_from_database(derive=False)
    assert len(data.subjects) == len(STAGES) == Subject.objects.count()
    infused = Subject.objects.filter(infusion_date__isnull=False)
    # every stored, dated value arrives once (items shared by two forms of a visit once); a missing-data code is no value
    records = list(FormRecord.objects.filter(visit__done_on__isnull=False).select_related("subject", "visit"))
    stored = {(r.subject.label, r.visit.code, code) for r in records for code, v in r.values.items() if not v.get("missing")}
    coded = {
        (r.subject.label, r.visit.code, code): v["missing"] for r in records for code, v in r.values.items() if v.get("missing")
    }
    assert len(data.values) == len(stored)
    assert set(coded.values()) == {c.code for c in study_definition(Subject.objects.first().study).missing_codes}
    # coded items are missing (NaN) in the contract, never a code string in the number column
    assert data.values["value"].dtype.kind == "f"
    for (subject, visit, code), _ in coded.items():
        at_visit = data.values[(data.values["subject_id"] == subject) & (data.values["visit"] == visit)]
        assert at_visit.set_index("item")["value"].reindex([code]).isna().all()
    # the mRSS with an area not assessed has no total (all 17 areas needed), not a total of 16
    ((subject, visit, _),) = (key for key, code in coded.items() if code == "not_assessed")
    with_derived = trial_data_from_database()
    at_visit = with_derived.values[(with_derived.values["subject_id"] == subject) & (with_derived.values["visit"] == visit)]
    assert "mrss" not in set(at_visit["item"])
    # a value as entered in another unit comes back in the protocol's unit
    record = next(r for r in FormRecord.objects.exclude(values={}) if any(v.get("converted") for v in r.values.values()))
    code, entered = next((c, EnteredValue.from_json(v)) for c, v in record.values.items() if v.get("converted"))
    row = data.values[(data.values["subject_id"] == record.subject.label) & (data.values["item"] == code)
                      & (data.values["visit"] == record.visit.code)]  # fmt: skip
    assert row["value"].iloc[0] == pytest.approx(entered.value)
    result = evaluate_endpoints(data)
    tte = derive_time_to_event(data, result)
    assert set(tte["USUBJID"]) == {f"NCT00962923-{s.label}" for s in infused}  # USUBJID: study, then subject
    assert (tte["AVAL"] >= 0).all()
    os_rows = tte[tte["PARAMCD"] == "OS"]
    assert int((os_rows["CNSR"] == 0).sum()) == Subject.objects.filter(status="died").count()


def test_the_report_from_the_database_states_its_audit_head_lock_and_data_hash(site, investigator, tmp_path, monkeypatch):
    """The report of a database built through the write path: the footer's audit head is the chain's head row,
    the lock says none is recorded (True when data management reports one), the data SHA-256 is the
    ``sha256sum`` of the contract's frames written as CSV files, and the report's numbers are those of the analysis."""
    cohort = simulate_cohort(study_definition(site.study), 6, seed=4)
    today = max(dt.date.fromisoformat(str(end)) for end in cohort.subjects["end_date"] if end)
    check_import_cohort(investigator, [site], cohort, today=today, as_simulated=True)
    seq, last_hash = head()
    now = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
    paths, head_text, lock_text = database_report(tmp_path / "report", "the trial", pdf=False, now=now)
    html = paths.html.read_text(encoding="utf-8")
    assert (head_text, lock_text) == (f"entry #{seq}, hash {last_hash}", "no lock recorded")
    assert f'<span id="audit-head">entry #{seq}, hash {last_hash}</span>' in html
    assert '<span id="database-lock">no lock recorded</span>' in html
    assert f"audit entry {seq} " in html.split("</style>")[0]  # the PDF's page footer
    # the data hash: the frames as CSV files, hashed as the simulator folder's files are
    data = trial_data_from_database()
    folder = tmp_path / "frames"
    folder.mkdir()
    for name in ("subjects", "values", "adverse_events"):
        getattr(data, name).to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
    listing = "".join(f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}\n"
                      for n in ("adverse_events.csv", "subjects.csv", "values.csv"))  # fmt: skip
    assert f'<code id="data-sha256">{hashlib.sha256(listing.encode()).hexdigest()}</code>' in html
    # the numbers: the OS events of the analysis of the same data
    survival = analyse_trial(data).survival["OS"].kaplan_meier
    assert f"{survival.events} event(s) in {survival.n} subjects" in html
    # the Methods state how complete the forms read are, by record state (counted here from the rows themselves)
    done = FormRecord.objects.filter(visit__done_on__isnull=False)
    complete, total = done.filter(status="complete").count(), done.count()
    assert total > complete > 0
    methods = html.split("forms by state: ", 1)[1].split(".</li>", 1)[0]
    stated = dict(part.split(" ", 1)[::-1] for part in methods.split(" (", 1)[0].split(", "))
    assert stated == {label: f"{done.filter(status=status).count():,}" for status, label in
                      (("complete", "complete"), ("in_progress", "in progress"), ("not_started", "not started"),
                       ("not_done", "not done")) if done.filter(status=status).exists()}  # fmt: skip
    assert methods.endswith(f"({total:,} forms at the visits that took place)")
    # a lock, once recorded, is stated
    monkeypatch.setattr(analysis, "database_locked", lambda study: True)
    locked = database_report(tmp_path / "locked", pdf=False, now=now)[0].html.read_text(encoding="utf-8")
    assert '<span id="database-lock">locked</span>' in locked


@pytest.mark.django_db(transaction=True)
def test_read_for_report_in_its_own_transaction_gives_the_head_with_the_data(site, investigator):
    """Outside any transaction (as the command runs), the data, the head and the lock are read in one snapshot
    (repeatable read on PostgreSQL): the head is the chain's, the subjects those imported."""
    cohort = simulate_cohort(study_definition(site.study), 3, seed=2)
    today = max(dt.date.fromisoformat(str(end)) for end in cohort.subjects["end_date"] if end)
    check_import_cohort(investigator, [site], cohort, today=today, as_simulated=True)
    snapshot = analysis.read_for_report()
    assert snapshot.audit_head == head()
    assert snapshot.locked is None
    assert len(snapshot.data.subjects) == Subject.objects.count() == 3
    assert snapshot.protocol_sha256 == site.study.protocol_sha256
