"""The report states how complete the data it read are, by record state (issue 15: the report uses the record
states, not "something was saved")."""

from __future__ import annotations

from rodnan.reports.provenance import DatabaseState


def test_the_forms_by_state_read_as_people_say_them() -> None:
    state = DatabaseState("SQLite db.sqlite3", 12, "ab", None, (("not_started", 2), ("complete", 1200), ("not_done", 1)))
    assert state.completeness_text == "2 not started, 1,200 complete, 1 not done (1,203 forms at the visits that took place)"


def test_no_counts_no_text() -> None:
    assert DatabaseState("SQLite db.sqlite3", 12, "ab").completeness_text == ""
    assert (
        DatabaseState("x", 1, "a", None, (("complete", 1),)).completeness_text
        == "1 complete (1 form at the visits that took place)"
    )
