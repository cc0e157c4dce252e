"""The audit hash chain: appending, verifying, and every way of breaking it being caught.

Expected hashes are computed here by hand with hashlib and json from the rule the chain documents
(SHA-256 over the previous hash followed by a canonical JSON of the entry's fields, sorted keys, UTC
time with microseconds), not with the code under test. The same tests run on SQLite and on PostgreSQL;
where the databases differ (PostgreSQL's trigger refuses UPDATE, DELETE and TRUNCATE of audit
entries) each asserts its own database's behaviour.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction

from rodnan.web.audit.chain import Change, append, entry_hash, verify_chain
from rodnan.web.audit.models import AppendOnlyError, AuditEntry, AuditHead

ROOT = Path(__file__).resolve().parents[2]
RodnanCli = Callable[..., subprocess.CompletedProcess[str]]  # the conftest fixture rodnan_cli
ZERO = "0" * 64
UTC = dt.UTC


def sha256_by_hand(prev_hash: str, fields: dict[str, Any]) -> str:
    payload = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


def append_changes(count: int, start: int = 1) -> list[AuditEntry]:
    """``count`` entries, one append each, with values that name their position."""
    entries = []
    for n in range(start, start + count):
        entries += append(
            user=None, role="data_manager", changes=[Change("value.change", "FormRecord", str(n), "albumin", "", f"{n}.0 g/dL")]
        )
    return entries


def tamper(db_vendor: str, sql: str, params: tuple[object, ...] = ()) -> None:
    """Run raw SQL behind the application's back, as someone with database access would.

    On PostgreSQL the append-only triggers are switched off first (as the table's owner, the test
    user, may); inside the test's transaction, so they are back on when the test ends.
    """
    if db_vendor == "postgresql":
        alter_audit_table("DISABLE TRIGGER USER")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def alter_audit_table(action: str) -> None:
    """ALTER TABLE audit_auditentry inside the test's transaction (PostgreSQL).

    The entries' deferred foreign-key checks are run first: PostgreSQL refuses to alter a table with
    pending trigger events.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE audit_auditentry {action}")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


# -- appending and verifying ----------------------------------------------------------------------


@pytest.mark.django_db
def test_appended_entries_verify_with_the_right_count() -> None:
    first = append(
        user=None, role="coordinator", changes=[Change("subject.create", "Subject", "1"), Change("visit.plan", "Visit", "2")]
    )
    rest = append_changes(3, start=3)
    entries = first + rest

    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == ZERO
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(entries))
    head = AuditHead.objects.get(pk=1)
    assert (head.seq, head.last_hash) == (5, entries[-1].hash)
    report = verify_chain()
    assert (report.ok, report.entries, report.first_broken_seq, report.problem) == (True, 5, None, "")


@pytest.mark.django_db
def test_empty_chain_verifies() -> None:
    report = verify_chain()
    assert (report.ok, report.entries) == (True, 0)
    assert append(user=None, role="", changes=[]) == []


@pytest.mark.django_db
def test_hashes_match_a_hand_computed_sha256() -> None:
    alice = get_user_model().objects.create_user(username="alice")
    at = dt.datetime(2026, 3, 4, 13, 6, 7, 80910, tzinfo=ZoneInfo("Asia/Shanghai"))  # 05:06:07.080910 UTC
    change = Change(
        "value.change", "FormRecord", "17", "albumin", "3.1 g/dL", "2.9 g/dL", "transcription error: 2,9 µmol read as 3,1"
    )
    first, second = append(user=alice, role="investigator", changes=[change, Change("form.sign", "FormRecord", "17")], at=at)

    fields = {
        "seq": 1, "at": "2026-03-04T05:06:07.080910+00:00", "username": "alice", "role": "investigator",
        "site_id": None, "subject_id": None, "form_record_id": None, "action": "value.change", "object_type": "FormRecord",
        "object_id": "17", "field": "albumin", "old_value": "3.1 g/dL", "new_value": "2.9 g/dL",
        "reason": "transcription error: 2,9 µmol read as 3,1",
    }  # fmt: skip
    expected_first = sha256_by_hand(ZERO, fields)
    fields.update(seq=2, action="form.sign", field="", old_value="", new_value="", reason="")
    expected_second = sha256_by_hand(expected_first, fields)

    assert (first.hash, second.hash) == (expected_first, expected_second)
    stored = dict(AuditEntry.objects.values_list("seq", "hash"))
    assert stored == {1: expected_first, 2: expected_second}
    assert AuditEntry.objects.get(seq=2).prev_hash == expected_first


@pytest.mark.django_db
@pytest.mark.parametrize(
    "at",
    [
        dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        dt.datetime(2026, 1, 2, 3, 4, 5, 0, tzinfo=UTC),  # no microseconds: still written as .000000
        dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        dt.datetime(2026, 7, 1, 0, 0, 0, 1, tzinfo=ZoneInfo("Asia/Shanghai")),  # the day before in UTC
        dt.datetime(2026, 3, 29, 2, 30, 0, 500000, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))),
    ],
    ids=["micro", "zero-micro", "end-of-year", "shanghai", "odd-offset"],
)
def test_hash_is_the_same_after_the_database_round_trip(at: dt.datetime) -> None:
    """The hash computed at append equals the one recomputed from what the database gives back."""
    (written,) = append(
        user=None, role="monitor", changes=[Change("query.open", "FormRecord", "9", "weight", "70", "70.5")], at=at
    )

    read = AuditEntry.objects.get(seq=1)
    assert read.at == at
    assert read.at.microsecond == at.microsecond
    row = AuditEntry.objects.values().get(seq=1)
    assert entry_hash(ZERO, row) == written.hash == read.hash
    by_hand = {name: row[name] for name in ("seq", "username", "role", "site_id", "subject_id", "form_record_id", "action",
                                            "object_type", "object_id", "field", "old_value", "new_value", "reason")}  # fmt: skip
    by_hand["at"] = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    assert sha256_by_hand(ZERO, by_hand) == read.hash
    assert verify_chain().ok


@pytest.mark.django_db
def test_a_rolled_back_transaction_leaves_no_entry_and_no_gap() -> None:
    def failing_change() -> None:
        with transaction.atomic():
            append_changes(3, start=3)
            raise RuntimeError("the change failed after its audit entries were written")

    append_changes(2)
    with pytest.raises(RuntimeError, match="the change failed"):
        failing_change()
    assert AuditEntry.objects.count() == 2
    assert AuditHead.objects.get(pk=1).seq == 2
    (next_entry,) = append_changes(1, start=3)
    assert next_entry.seq == 3
    assert verify_chain().ok


# -- tampering -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_changed_value_is_caught_at_its_entry(db_vendor: str) -> None:
    append_changes(5)
    tamper(db_vendor, "UPDATE audit_auditentry SET new_value = %s WHERE seq = %s", ("9.9 g/dL", 3))

    assert AuditEntry.objects.get(seq=3).new_value == "9.9 g/dL"
    report = verify_chain()
    assert (report.ok, report.first_broken_seq, report.entries) == (False, 3, 2)
    assert "entry #3 was changed" in report.problem


@pytest.mark.django_db
def test_a_rewritten_entry_with_a_fresh_hash_breaks_the_next_link(db_vendor: str) -> None:
    """Recomputing the edited entry's own hash does not help: the next entry still names the old one."""
    append_changes(4)
    row = AuditEntry.objects.values().get(seq=2)
    row["new_value"] = "forged"
    forged_hash = entry_hash(row["prev_hash"], row)  # the hash rule is public: a forger can recompute it
    tamper(db_vendor, "UPDATE audit_auditentry SET new_value = %s, hash = %s WHERE seq = %s", ("forged", forged_hash, 2))

    report = verify_chain()
    assert (report.ok, report.first_broken_seq, report.entries) == (False, 3, 2)
    assert "entry #3 does not link to entry #2" in report.problem


@pytest.mark.django_db
def test_a_removed_middle_entry_is_reported_missing(db_vendor: str) -> None:
    append_changes(5)
    tamper(db_vendor, "DELETE FROM audit_auditentry WHERE seq = %s", (3,))

    report = verify_chain()
    assert (report.ok, report.first_broken_seq, report.entries) == (False, 3, 2)
    assert report.problem == "entry #3 is missing (the next entry is #4)"


@pytest.mark.django_db
def test_removed_last_entries_are_caught_by_the_head(db_vendor: str) -> None:
    append_changes(5)
    tamper(db_vendor, "DELETE FROM audit_auditentry WHERE seq >= %s", (4,))

    report = verify_chain()
    assert (report.ok, report.first_broken_seq, report.entries) == (False, 4, 3)
    assert "ends at entry #3 but its head records #5" in report.problem


@pytest.mark.django_db
def test_the_orm_refuses_to_change_or_delete_an_entry() -> None:
    append_changes(2)
    entry = AuditEntry.objects.get(seq=1)
    entry.new_value = "edited"
    with pytest.raises(AppendOnlyError, match="cannot be changed"):
        entry.save()
    with pytest.raises(AppendOnlyError, match="cannot be deleted"):
        entry.delete()

    assert AuditEntry.objects.get(seq=1).new_value == "1.0 g/dL"
    assert AuditEntry.objects.count() == 2
    assert verify_chain().ok


@pytest.mark.django_db
def test_the_orm_refuses_bulk_updates_and_deletes() -> None:
    """QuerySet.update(), delete(), bulk_update() and update_or_create() never reach the database."""
    append_changes(3)
    entries = AuditEntry.objects.filter(seq__gte=2)
    with pytest.raises(AppendOnlyError, match="cannot be updated"):
        entries.update(new_value="edited")
    with pytest.raises(AppendOnlyError, match="cannot be deleted"):
        entries.delete()
    with pytest.raises(AppendOnlyError, match="cannot be deleted"):
        AuditEntry.objects.all().delete()
    changed = list(entries)
    for entry in changed:
        entry.reason = "tidied"
    with pytest.raises(AppendOnlyError, match="cannot be updated"):
        AuditEntry.objects.bulk_update(changed, ["reason"])
    with pytest.raises(AppendOnlyError, match="appended by"):
        AuditEntry.objects.update_or_create(seq=2, defaults={"reason": "x"})

    assert list(AuditEntry.objects.values_list("reason", flat=True)) == ["", "", ""]
    assert AuditEntry.objects.count() == 3
    assert verify_chain().ok


@pytest.mark.django_db
def test_raw_update_delete_truncate_refused_on_postgresql_and_caught_on_sqlite(db_vendor: str) -> None:
    """PostgreSQL's trigger (migration audit/0002) refuses them; SQLite has no trigger, so verify is the guard."""
    append_changes(3)
    statements = [
        ("UPDATE", "UPDATE audit_auditentry SET new_value = 'x' WHERE seq = 2"),
        ("DELETE", "DELETE FROM audit_auditentry WHERE seq = 3"),
    ]
    if db_vendor == "postgresql":
        statements.append(("TRUNCATE", "TRUNCATE audit_auditentry"))
        # The test run lifts the TRUNCATE ban so Django can empty tables between tests (tests/django_env.py);
        # put it back for this test (its transaction rolls this back).
        alter_audit_table("ENABLE TRIGGER audit_entry_no_truncate")
        for operation, sql in statements:
            with (
                pytest.raises(DatabaseError, match=f"append-only: {operation} refused"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(sql)
        assert AuditEntry.objects.count() == 3
        assert verify_chain().ok
    else:
        assert db_vendor == "sqlite"
        for _operation, sql in statements:
            with connection.cursor() as cursor:
                cursor.execute(sql)
        report = verify_chain()
        assert (report.ok, report.first_broken_seq) == (False, 2)


# -- concurrency and flushes -----------------------------------------------------------------------


def append_from_threads(threads: int, each: int) -> list[str]:
    """``threads`` threads, started together, each appending ``each`` entries; returns their errors."""
    barrier = threading.Barrier(threads)
    errors: list[str] = []

    def work(number: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(each):
                append(user=None, role="", changes=[Change("test.concurrent", "Thread", f"{number}-{i}")])
        except Exception as exc:  # reported to the test, which fails on any
            errors.append(f"thread {number}: {exc!r}")
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    return errors


SQLITE_FILE_SCRIPT = """
import json, sys
from pathlib import Path
from rodnan.web import runtime
runtime.setup(Path(sys.argv[1]))
runtime.migrate()
from tests.web.test_audit_chain import append_from_threads
from rodnan.web.audit.chain import verify_chain
from rodnan.web.audit.models import AuditEntry
errors = append_from_threads(int(sys.argv[2]), int(sys.argv[3]))
report = verify_chain()
print(json.dumps({"errors": errors, "ok": report.ok, "entries": report.entries, "problem": report.problem,
                  "seqs": list(AuditEntry.objects.values_list("seq", flat=True)),
                  "ids": sorted(AuditEntry.objects.values_list("object_id", flat=True))}))
"""


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_never_fork_the_chain(db_vendor: str, tmp_path: Path) -> None:
    """Four writers at once: one contiguous chain that verifies, every append present exactly once.

    On PostgreSQL the threads share the test database (row lock on the head). SQLite's in-memory test
    database is not shared between connections the same way, so there the threads run in a subprocess
    against a SQLite file configured as in production (BEGIN IMMEDIATE, WAL, busy timeout).
    """
    threads, each = 4, 25
    if db_vendor == "postgresql":
        errors = append_from_threads(threads, each)
        report = verify_chain()
        result = {
            "errors": errors, "ok": report.ok, "entries": report.entries, "problem": report.problem,
            "seqs": list(AuditEntry.objects.values_list("seq", flat=True)),
            "ids": sorted(AuditEntry.objects.values_list("object_id", flat=True)),
        }  # fmt: skip
    else:
        assert db_vendor == "sqlite"
        env = {**_env_without_database_url(), "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-c", SQLITE_FILE_SCRIPT, str(tmp_path / "data"), str(threads), str(each)],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result["errors"] == []
    assert (result["ok"], result["entries"], result["problem"]) == (True, threads * each, "")
    assert result["seqs"] == list(range(1, threads * each + 1))
    assert result["ids"] == sorted(f"{n}-{i}" for n in range(threads) for i in range(each))


def _env_without_database_url() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}


@pytest.mark.django_db(transaction=True)
def test_the_chain_starts_again_after_a_flush() -> None:
    """Emptying the database (as Django's transactional tests do) removes the head row too: appends still work."""
    append_changes(2)
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditHead.objects.exists()
    assert verify_chain().ok

    (entry,) = append_changes(1)
    assert (entry.seq, entry.prev_hash) == (1, ZERO)
    assert verify_chain().ok


# -- rodnan audit verify ---------------------------------------------------------------------------


def test_cli_verify_on_the_demo_then_on_a_tampered_copy(tmp_path: Path, rodnan_cli: RodnanCli) -> None:
    data = tmp_path / "demo"
    demo = rodnan_cli("demo", "--data", str(data), "--no-serve")
    assert demo.returncode == 0, demo.stderr
    database = data / "rodnan.sqlite3"
    with closing(sqlite3.connect(database)) as db:
        count = db.execute("SELECT count(*) FROM audit_auditentry").fetchone()[0]
    assert count > 100  # 20 patients' data entry

    intact = rodnan_cli("audit", "verify", "--data", str(data))
    assert intact.returncode == 0, intact.stderr
    assert f"audit chain intact: {count} entries verified" in intact.stdout

    target = count // 2
    with closing(sqlite3.connect(database)) as db, db:
        changed = db.execute("UPDATE audit_auditentry SET new_value = new_value || ' (edited)' WHERE seq = ?", (target,)).rowcount
    assert changed == 1

    broken = rodnan_cli("audit", "verify", "--data", str(data))
    assert broken.returncode == 1
    message = " ".join(broken.stderr.split())
    assert f"audit chain broken at entry #{target}: entry #{target} was changed after it was written" in message
    assert f"({target - 1} entries before it verified)" in message
