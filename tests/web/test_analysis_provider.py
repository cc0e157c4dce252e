"""The web database provides the analysis interface: the demo's patients, read back through the same
checks as the simulator's files, give the endpoints and datasets."""

from __future__ import annotations

import pytest

from rodnan.core.analysis.datasets import derive_time_to_event
from rodnan.core.endpoints import evaluate_endpoints
from rodnan.core.entry import EnteredValue
from rodnan.web.analysis import trial_data_from_database
from rodnan.web.crfs.models import FormRecord
from rodnan.web.demo import STAGES, fill_demo
from rodnan.web.subjects.models import Subject

pytestmark = pytest.mark.django_db


def test_the_demo_database_reads_as_trial_data() -> None:
    fill_demo()
    data = trial_data_from_database(derive=False)
    assert len(data.subjects) == len(STAGES) == Subject.objects.count()
    infused = Subject.objects.filter(infusion_date__isnull=False)
    # every stored, dated value arrives once (items shared by two forms of a visit once)
    stored = {
        (r.subject.label, r.visit.code, code)
        for r in FormRecord.objects.filter(visit__done_on__isnull=False).select_related("subject", "visit")
        for code in r.values
    }
    assert len(data.values) == len(stored)
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
