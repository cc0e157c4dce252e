"""The replay of the audit trail and its reconciliation with the stored rows, on hand-built entries (one test per
rule), then on a subject's whole course as the core's plans write it (the trail must explain every row)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from rodnan.core.audit import ROW_FIELDS, changes_text
from rodnan.core.audit_replay import (
    Difference,
    Replay,
    StoredRecord,
    StoredSubject,
    StoredVisit,
    reconcile,
    replay,
)
from rodnan.core.lifecycle import Transition
from rodnan.core.protocol import Study
from rodnan.core.records import record_plans, subject_plans
from rodnan.core.records.course import Course
from rodnan.core.records.model import RecordKey
from rodnan.core.records.states import RecordEvent
from tests.core.records.test_plans import TODAY, _infused
from tests.core.records.test_plans import study as study  # the module's protocol fixture

ESR_14 = {"raw": "14", "unit": "mm/h", "value": 14.0, "type": "number"}
ESR_99 = {"raw": "99", "unit": "mm/h", "value": 99.0, "type": "number"}
SCREENED = {"status": "screening", "screening_number": "NJDT-S0001", "screening_date": "2026-01-05"}


def entry(action: str, items: list[tuple[str, Any, Any]], *, subject: int | None = 1, record: int | None = None,
          object_id: str = "NJDT-S0001", reason: str = "") -> dict[str, Any]:  # fmt: skip
    return {"action": action, "subject_id": subject, "form_record_id": record, "object_id": object_id, "reason": reason,
            "items": [{"field": f, "old": old, "new": new} for f, old, new in items]}  # fmt: skip


def screen(subject: int = 1, number: str = "NJDT-S0001") -> dict[str, Any]:
    return entry("subject.screen", [("screening_number", None, number), ("status", None, "screening"),
                                    ("screening_date", None, "2026-01-05")], subject=subject, object_id=number)  # fmt: skip


def stored_subject(**fields: str | None) -> StoredSubject:
    merged = {**SCREENED, **fields}
    return StoredSubject(1, merged.get("subject_code") or "NJDT-S0001", merged)


def record(values: dict[str, Any] | None = None, **state: Any) -> StoredRecord:
    return StoredRecord(10, 1, "NJDT-S0001/SCR/labs", values or {}, **state)


def differences(entries: list[dict[str, Any]], subjects: list[StoredSubject] | None = None,
                records: list[StoredRecord] = (), visits: list[StoredVisit] = ()) -> list[Difference]:  # type: ignore[assignment]  # fmt: skip
    return list(reconcile(replay(entries), [stored_subject()] if subjects is None else subjects, records, visits))


def test_subject_entries_set_its_fields_and_a_status_changed_without_entry_is_named() -> None:
    consent = entry("subject.consent", [("status", "screening", "consented"), ("consent_version", None, "2.0"),
                                        ("consent_date", None, "2026-01-10")])  # fmt: skip
    stored = stored_subject(status="consented", consent_version="2.0", consent_date="2026-01-10")
    assert differences([screen(), consent], [stored]) == []
    forged = stored_subject(status="withdrawn", consent_version="2.0", consent_date="2026-01-10", end_reason="")
    assert differences([screen(), consent], [forged]) == [Difference("NJDT-S0001", "", "status", "withdrawn", "consented")]
    assert (
        str(differences([screen(), consent], [forged])[0]) == "subject NJDT-S0001, status: stored 'withdrawn', trail 'consented'"
    )


def test_a_subject_without_its_screening_entry_fails_even_when_other_entries_match() -> None:
    found = differences([], [stored_subject()])
    assert found[0] == Difference("NJDT-S0001", "", "entries", "subject stored", "no subject.screen entry opens it")
    assert {d.item for d in found[1:]} == {"status", "screening_number", "screening_date"}
    consent_only = entry("subject.consent", [("status", None, "screening"), ("screening_number", None, "NJDT-S0001"),
                                             ("screening_date", None, "2026-01-05")])  # fmt: skip
    assert [d.item for d in differences([consent_only])] == ["entries"]


def test_saved_values_replace_the_items_they_name_and_an_emptied_item_goes() -> None:
    first = entry("record.add", [("esr", None, ESR_14), ("crp", None, {"raw": "3"}), ("status", "not_started", "in_progress")],
                  record=10)  # fmt: skip
    second = entry("record.save", [("crp", {"raw": "3"}, None)], record=10, reason="typo")
    assert differences([screen(), first, second], records=[record({"esr": ESR_14}, status="in_progress")]) == []


def test_a_clinical_value_changed_without_entry_names_subject_record_and_item() -> None:
    save = entry("record.save", [("esr", None, ESR_14), ("status", "not_started", "complete")], record=10)
    found = differences([screen(), save], records=[record({"esr": ESR_99}, status="complete")])
    assert found == [Difference("NJDT-S0001", "NJDT-S0001/SCR/labs", "esr", ESR_99, ESR_14)]
    assert str(found[0]) == "subject NJDT-S0001, NJDT-S0001/SCR/labs, esr: stored 99 mm/h, trail 14 mm/h"


def test_the_same_text_with_a_different_stored_value_shows_both_in_full() -> None:
    save = entry("record.save", [("esr", None, ESR_14), ("status", "not_started", "complete")], record=10)
    found = differences([screen(), save], records=[record({"esr": {**ESR_14, "value": 15.0}}, status="complete")])
    assert len(found) == 1
    assert '"value": 15.0' in str(found[0])
    assert '"value": 14.0' in str(found[0])


def test_state_events_set_the_parts_they_list() -> None:
    not_done = entry("record.mark_not_done", [("status", "not_started", "not_done"), ("reason", "", "haemolysed")],
                     record=10, reason="haemolysed")  # fmt: skip
    assert differences([screen(), not_done], records=[record(status="not_done", reason="haemolysed")]) == []
    reopen = entry("record.reopen", [("status", "not_done", "not_started"), ("reason", "haemolysed", "")], record=10)
    assert differences([screen(), not_done, reopen], records=[record()]) == []
    lock = entry("record.lock", [("flags", [], ["locked"])], record=10)
    query = entry("record.open_query", [("flags", ["locked"], ["locked", "queried"]), ("items", {}, {"esr": ["queried"]})],
                  record=10)  # fmt: skip
    assert differences([screen(), lock, query], records=[record(flags=["queried", "locked"],
                                                                item_flags={"esr": ["queried"]})]) == []  # fmt: skip


def test_a_record_state_changed_without_entry_is_named() -> None:
    save = entry("record.save", [("esr", None, ESR_14), ("status", "not_started", "complete")], record=10)
    forged = record({"esr": ESR_14}, status="complete", flags=["signed"])
    assert differences([screen(), save], records=[forged]) == [
        Difference("NJDT-S0001", "NJDT-S0001/SCR/labs", "flags", ["signed"], [])
    ]


def test_not_expected_after_an_end_takes_the_entry_reason_when_no_reason_item() -> None:
    marked = entry(
        "record.mark_not_expected", [("status", "not_started", "not_expected")], record=10, reason="died on 2026-06-10"
    )
    assert differences([screen(), marked], records=[record(status="not_expected", reason="died on 2026-06-10")]) == []
    assert [d.item for d in differences([screen(), marked], records=[record(status="not_expected")])] == ["reason"]


def test_a_save_of_a_signed_and_verified_record_derives_the_flags_the_state_machine_sets() -> None:
    items = {"esr": ["verified"], "crp": ["verified"]}
    state = entry("record.sign", [("flags", [], ["signed", "verified"]), ("items", {}, items)], record=10)
    save = entry("record.save", [("esr", ESR_14, ESR_99)], record=10, reason="typo")
    expected = record({"esr": ESR_99}, flags=["signed", "verified", "signature_broken", "changed_since_verified"],
                      item_flags={"esr": ["verified", "changed_since_verified"], "crp": ["verified"]})  # fmt: skip
    assert differences([screen(), state, save], records=[expected]) == []


def test_a_confirmed_warning_changes_no_value() -> None:
    confirm = entry("record.confirm_warning", [("esr", None, "esr <= 100")], record=10)
    assert differences([screen(), confirm], records=[record()]) == []


def test_visits_done_and_missed_and_a_visit_done_without_entry() -> None:
    done = entry("visit.done", [("done_on", None, "2026-03-03")], object_id="NJDT-S0001/M1")
    missed = entry("visit.missed", [("missed", "no", "yes")], object_id="NJDT-S0001/M2", reason="travel")
    visits = [StoredVisit(1, "M1", "NJDT-S0001/M1", "2026-03-03"), StoredVisit(1, "M2", "NJDT-S0001/M2", None, True, "travel"),
              StoredVisit(1, "M3", "NJDT-S0001/M3")]  # fmt: skip
    assert differences([screen(), done, missed], visits=visits) == []
    visits[2] = StoredVisit(1, "M3", "NJDT-S0001/M3", "2026-05-01")
    assert differences([screen(), done, missed], visits=visits) == [
        Difference("NJDT-S0001", "NJDT-S0001/M3", "done_on", "2026-05-01", None)
    ]


def test_a_record_holding_values_without_any_entry_fails_and_an_untouched_one_does_not() -> None:
    assert differences([screen()], records=[record()]) == []
    found = differences([screen()], records=[record({"esr": ESR_14}, status="in_progress")])
    assert [(d.item, d.stored, d.trail) for d in found] == [
        ("entries", "status in_progress, 1 value(s)", "no entry"),
        ("esr", ESR_14, None),
        ("status", "in_progress", "not_started"),
    ]


def test_rows_the_trail_names_but_the_database_lacks_are_differences() -> None:
    save = entry("record.save", [("esr", None, ESR_14)], record=10, object_id="NJDT-S0001/SCR/labs")
    other = screen(2, "NJDT-S0002")
    found = differences([screen(), save, other])
    assert [(d.subject, d.where, d.item) for d in found] == [("NJDT-S0002", "", "entries"), ("NJDT-S0001", "NJDT-S0001/SCR/labs",
                                                                                               "entries")]  # fmt: skip


def test_account_entries_are_not_clinical_and_plain_rows_replay_as_mappings_do() -> None:
    login = entry("auth.login", [], subject=None, object_id="alice")
    save = entry("record.save", [("esr", None, ESR_14)], record=10)
    by_mapping = replay([screen(), login, save])
    by_row = Replay()
    for seq, mapping in enumerate([screen(), login, save], 1):
        data = {**dict.fromkeys(ROW_FIELDS), "seq": seq, **mapping, "changes": json.dumps(mapping["items"])}
        by_row.feed_row(tuple(data[name] for name in ROW_FIELDS))
    assert (by_row.entries, by_row.clinical) == (by_mapping.entries, by_mapping.clinical) == (3, 2)
    assert by_row.settle().records[10].values == by_mapping.records[10].values == {"esr": ESR_14}
    assert by_row.subjects[1].fields == by_mapping.subjects[1].fields == SCREENED


# -- a whole course, as the core's plans write it -------------------------------------------------


def _as_trail_and_rows(course: Course) -> tuple[list[dict[str, Any]], list[StoredSubject], list[StoredRecord], list[StoredVisit]]:
    """The course's audit entries as the web writes them (one subject id 1, record ids by key) and its rows."""
    ids: dict[RecordKey, int] = {key: n for n, key in enumerate(course.records, 100)}
    entries = [{"action": a.action, "subject_id": 1, "form_record_id": ids.get(a.record) if a.record else None,
                "object_id": a.object_id, "reason": a.reason,
                "items": [{"field": d.field, "old": d.old, "new": d.new} for d in a.items]} for a in course.audit]  # fmt: skip
    subject = course.subject
    assert subject is not None
    fields = {name: (v.isoformat() if isinstance(v, dt.date) else v) for name in ("status", "screening_number", "screening_date",
              "subject_code", "consent_version", "consent_date", "enrolment_date", "infusion_date", "end_date", "end_reason",
              "screen_fail_reason") for v in [getattr(subject, name)]}  # fmt: skip
    records = []
    for key, row in course.records.items():
        state: dict[str, Any] = row.state.as_json()
        label = f"{key[0]}/{key[1]}#{key[2]}"
        records.append(StoredRecord(ids[key], 1, label, dict(row.values), state["status"], state["flags"], state["reason"],
                                    state["items"]))  # fmt: skip
    visits = [StoredVisit(1, v.code, v.code, v.done_on.isoformat() if v.done_on else None, v.missed, v.missed_reason)
              for v in course.visits.values()]  # fmt: skip
    return entries, [StoredSubject(1, subject.label, fields)], records, visits


def _corrected_course(study: Study) -> Course:
    """An infused subject's course, then a complete M1 mRSS verified, signed, corrected; a test not done; a death."""
    course = _infused(study)
    assert course.subject is not None
    m1: RecordKey = ("M1", "mrss", 0)
    sites = {code: ("1", None) for code in study.form_by_code["mrss"].items if code != "mrss"}  # all 17 sites: complete
    course.apply(record_plans.plan_save_record(study, course.subject, course.records[m1], sites, today=TODAY, expected_version=0,
                                               visit=course.visits["M1"], visit_date=dt.date(2026, 3, 3)))  # fmt: skip
    course.apply(record_plans.plan_record_event(course.subject, course.records[m1], RecordEvent.VERIFY, items=["mrss_face"]))
    course.apply(record_plans.plan_record_event(course.subject, course.records[m1], RecordEvent.VERIFY))
    course.apply(record_plans.plan_record_event(course.subject, course.records[m1], RecordEvent.SIGN))
    course.apply(record_plans.plan_save_record(study, course.subject, course.records[m1], {**sites, "mrss_face": ("3", None)},
                                               today=TODAY, expected_version=course.records[m1].version, reason="typo",
                                               visit=course.visits["M1"]))  # fmt: skip
    course.apply(record_plans.plan_record_event(course.subject, course.records[("M3", "serology", 0)], RecordEvent.MARK_NOT_DONE,
                                                reason="sample haemolysed"))  # fmt: skip
    course.apply(subject_plans.plan_end_subject(course.subject, Transition.DIE, dt.date(2026, 6, 10), "sepsis", TODAY,
                                                course.visits.values(), course.records.values()))  # fmt: skip
    return course


def as_rows(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The entries as the chain check reads them: plain rows of ROW_FIELDS, ``changes`` as the canonical text written."""
    rows = []
    for seq, mapping in enumerate(entries, 1):
        text = changes_text((item["field"], item["old"], item["new"]) for item in mapping["items"])
        data = {**dict.fromkeys(ROW_FIELDS), "seq": seq, **mapping, "changes": text}
        rows.append(tuple(data[name] for name in ROW_FIELDS))
    return rows


def replay_rows(rows: list[tuple[Any, ...]], page: int = 3) -> Replay:
    """The rows folded a page at a time, as verify_chain hands them over."""
    folded = Replay()
    for start in range(0, len(rows), page):
        folded.feed_rows(rows[start : start + page])
    return folded


def test_the_plans_trail_explains_a_whole_course_and_a_single_forged_value_is_found(study: Study) -> None:
    course = _corrected_course(study)
    m1: RecordKey = ("M1", "mrss", 0)
    derived = course.records[m1].state.as_json()  # the flags a save derives are part of the course (and of no entry)
    assert {"signature_broken", "changed_since_verified"} <= set(derived["flags"])
    assert derived["items"] == {"mrss_face": ["changed_since_verified", "verified"]}
    entries, subjects, records, visits = _as_trail_and_rows(course)
    assert list(reconcile(replay(entries), subjects, records, visits)) == []

    forged = [r if r.label != "M3/serology#0" else StoredRecord(r.id, 1, r.label, r.values, "not_started") for r in records]
    found = list(reconcile(replay(entries), subjects, forged, visits))
    assert [(d.where, d.item, d.stored, d.trail) for d in found] == [
        ("M3/serology#0", "status", "not_started", "not_done"), ("M3/serology#0", "reason", "", "sample haemolysed"),
    ]  # fmt: skip


def test_the_whole_course_read_as_rows_replays_as_the_mappings_do(study: Study) -> None:
    entries, subjects, records, visits = _as_trail_and_rows(_corrected_course(study))
    by_rows, by_mappings = replay_rows(as_rows(entries)).settle(), replay(entries)
    assert by_rows.entries == by_mappings.entries == len(entries)
    for record_id, told in by_mappings.records.items():
        read = by_rows.records[record_id]
        assert (read.values, read.status, read.flags, read.reason, read.item_flags, read.raw) == (
            told.values, told.status, told.flags, told.reason, told.item_flags, {})  # fmt: skip
    assert {k: v.fields for k, v in by_rows.subjects.items()} == {k: v.fields for k, v in by_mappings.subjects.items()}
    assert list(reconcile(replay_rows(as_rows(entries)), subjects, records, visits)) == []
    forged = [r if r.label != "M1/mrss#0" else StoredRecord(r.id, 1, r.label, {**r.values, "mrss_face": ESR_14}, r.status,
                                                           r.flags, r.reason, r.item_flags) for r in records]  # fmt: skip
    found = list(reconcile(replay_rows(as_rows(entries)), subjects, forged, visits))
    assert [(d.where, d.item, d.stored) for d in found] == [("M1/mrss#0", "mrss_face", ESR_14)]
    assert found[0].trail == next(r for r in records if r.label == "M1/mrss#0").values["mrss_face"]


def test_rows_keep_only_the_last_value_of_each_item_and_a_null_removes_it() -> None:
    rows = as_rows([screen(), entry("record.save", [("esr", None, ESR_14), ("crp", None, 1.5), ("status", None, "in_progress")],
                                    record=10, object_id="NJDT-S0001/SCR/labs"),
                    entry("record.save", [("esr", ESR_14, ESR_99)], record=10, object_id="NJDT-S0001/SCR/labs"),
                    entry("record.save", [("crp", 1.5, None), ("status", "in_progress", "complete")], record=10,
                          object_id="NJDT-S0001/SCR/labs")])  # fmt: skip
    folded = replay_rows(rows, page=2)
    assert set(folded.records[10].raw) == {"esr", "crp"}  # still JSON text: nothing decoded before the comparison
    assert (folded.settle().records[10].values, folded.records[10].status) == ({"esr": ESR_99}, "complete")
    stored = record({"esr": ESR_99}, status="complete")
    assert list(reconcile(replay_rows(rows), [stored_subject()], [stored], [])) == []


def test_a_row_whose_changes_are_not_item_changes_is_a_difference_naming_the_entry() -> None:
    rows = as_rows([screen(), entry("record.save", [("esr", None, ESR_14)], record=10, object_id="NJDT-S0001/SCR/labs")])
    broken = [*rows, (3, *rows[1][1:14], '{"field": "esr"}', *rows[1][15:]), (4, *rows[1][1:14], "[{not json", *rows[1][15:])]
    found = list(reconcile(replay_rows(broken), [stored_subject()], [record({"esr": ESR_14}, status="not_started")], []))
    assert [str(d) for d in found[:2]] == [
        "entry #3, changes: stored (none), trail 'not a list of item changes: the entry explains nothing'",
        "entry #4, changes: stored (none), trail 'not a list of item changes: the entry explains nothing'",
    ]


@pytest.mark.parametrize("cut", [0, 1, 5])
def test_a_truncated_trail_under_existing_data_fails(study: Study, cut: int) -> None:
    entries, subjects, records, visits = _as_trail_and_rows(_infused(study))
    kept = entries[: len(entries) - cut] if cut else []
    assert list(reconcile(replay(kept), subjects, records, visits)) != []
