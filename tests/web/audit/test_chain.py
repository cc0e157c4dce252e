"""The keyed audit chain: appending, verifying, checkpoints, keys, and every way of breaking it being caught.

Expected hashes are computed here by hand with hmac, hashlib and json from the rule decision 0011
documents (HMAC-SHA256 under the key file's bytes, over the domain line, the previous hash and the JSON
array of the entry's fields), not with the code under test. The same tests run on SQLite and on
PostgreSQL; tampering is done as an insider with database access would (raw SQL, triggers dropped first
where they would block it).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction

from rodnan.core.audit import rotate_key
from rodnan.errors import InputError
from rodnan.web.audit import chain
from rodnan.web.audit.chain import Change, ItemChange, append, verify_chain
from rodnan.web.audit.models import AppendOnlyError, AuditEntry, AuditHead

ROOT = Path(__file__).resolve().parents[3]
RodnanCli = Callable[..., subprocess.CompletedProcess[str]]  # the conftest fixture rodnan_cli
ZERO = "0" * 64
UTC = dt.UTC


def key_bytes(key_id: str = "k1") -> bytes:
    return bytes.fromhex((Path(os.environ["RODNAN_AUDIT_KEY_DIR"]) / f"{key_id}.key").read_text().strip())


def mac_by_hand(key: bytes, prev_hash: str, values: list[Any]) -> str:
    """The documented rule: domain line, previous hash, JSON array of the fields before ``changes``, the changes text."""
    fields = json.dumps(values[:-1], ensure_ascii=False, separators=(",", ":"))
    message = "rodnan-audit-entry-v1\n" + prev_hash + "\n" + fields + "\n" + values[-1]
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def append_changes(count: int, start: int = 1) -> None:
    """``count`` entries, one append each, with values that name their position."""
    for n in range(start, start + count):
        item = ItemChange("albumin", "", f"{n}.0 g/dL")
        append(user=None, role="data_manager", changes=[Change("value.change", "FormRecord", str(n), items=(item,))])


def stored(seq: int) -> AuditEntry:
    return AuditEntry.objects.get(seq=seq)


def tamper(db_vendor: str, sql: str, params: tuple[object, ...] = ()) -> None:
    """Run raw SQL behind the application's back, as someone with database access would.

    The append-only triggers are dropped (SQLite) or switched off (PostgreSQL, as the table's owner may)
    first; inside the test's transaction, so they are back when the test ends.
    """
    drop_triggers(db_vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def drop_triggers(db_vendor: str) -> None:
    if db_vendor == "postgresql":
        alter_audit_table("DISABLE TRIGGER USER")
        return
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS audit_entry_no_update")
        cursor.execute("DROP TRIGGER IF EXISTS audit_entry_no_delete")


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
    append_changes(3, start=3)

    assert (first.first_seq, first.last_seq, first.count) == (1, 2, 2)
    entries = list(AuditEntry.objects.order_by("seq"))
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == ZERO
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(entries))
    assert first.head == entries[1].hash
    head = AuditHead.objects.get(pk=1)
    assert (head.seq, head.last_hash) == (5, entries[-1].hash)
    report = verify_chain()
    assert (report.ok, report.entries, report.first_broken_seq, report.problem) == (True, 5, None, "")
    assert (report.head_seq, report.head_hash) == (5, entries[-1].hash)


@pytest.mark.django_db
def test_empty_chain_verifies() -> None:
    report = verify_chain()
    assert (report.ok, report.entries) == (True, 0)
    result = append(user=None, role="", changes=[])
    assert (result.count, AuditEntry.objects.count()) == (0, 0)


@pytest.mark.django_db
def test_hashes_match_a_hand_computed_hmac() -> None:
    alice = get_user_model().objects.create_user(username="alice")
    at = dt.datetime(2026, 3, 4, 13, 6, 7, 80910, tzinfo=ZoneInfo("Asia/Shanghai"))  # 05:06:07.080910 UTC
    esr = {"raw": "14", "unit": "mm/h", "value": 14}
    items = (ItemChange("albumin", "3.1 g/dL", "2.9 g/dL"), ItemChange("esr", None, esr))
    change = Change("form.save", "form", "NJDT-001/M3/labs", "transcription error: 2,9 µmol read as 3,1", items)
    append(
        user=alice, role="investigator", changes=[change, Change("form.sign", "FormRecord", "17")], at=at, source="api:lab-feed"
    )

    key = key_bytes("k1")
    changes = (
        '[{"field":"albumin","new":"2.9 g/dL","old":"3.1 g/dL"},'
        '{"field":"esr","new":{"raw":"14","unit":"mm/h","value":14},"old":null}]'
    )
    first = [1, "2026-03-04T05:06:07.080910Z", alice.pk, "alice", "investigator", "api:lab-feed", None, None, None, "form.save",
             "form", "NJDT-001/M3/labs", "transcription error: 2,9 µmol read as 3,1", "k1", changes]  # fmt: skip
    expected_first = mac_by_hand(key, ZERO, first)
    second = [2, "2026-03-04T05:06:07.080910Z", alice.pk, "alice", "investigator", "api:lab-feed", None, None, None, "form.sign",
              "FormRecord", "17", "", "k1", "[]"]  # fmt: skip
    expected_second = mac_by_hand(key, expected_first, second)

    assert dict(AuditEntry.objects.values_list("seq", "hash")) == {1: expected_first, 2: expected_second}
    assert stored(1).changes == changes
    assert stored(1).items[1] == {"field": "esr", "old": None, "new": esr}
    assert (stored(2).prev_hash, stored(2).source, stored(2).key_id, stored(2).user_id) == (
        expected_first,
        "api:lab-feed",
        "k1",
        alice.pk,
    )
    assert verify_chain().ok


def test_the_key_file_is_created_once_with_mode_0600(db: None) -> None:
    folder = Path(os.environ["RODNAN_AUDIT_KEY_DIR"])
    assert not folder.exists()
    append_changes(1)
    key = folder / "k1.key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert len(key_bytes()) == 32
    first = key.read_text()
    append_changes(1, start=2)
    assert key.read_text() == first
    assert sorted(p.name for p in folder.iterdir()) == ["k1.key"]


@pytest.mark.django_db
def test_bad_source_time_and_values_are_refused_by_name() -> None:
    for source in ("web", "api:", "api: spaced", "", "import "):
        with pytest.raises(InputError) as caught:
            append(user=None, role="", changes=[Change("x")], source=source)
        assert caught.value.field == "source"
    with pytest.raises(InputError) as caught:
        append(user=None, role="", changes=[Change("x")], at=dt.datetime(2026, 1, 1))
    assert caught.value.field == "at"
    with pytest.raises(InputError) as caught:
        append(user=None, role="", changes=[Change("x", items=(ItemChange("when", None, dt.date(2026, 1, 1)),))])
    assert caught.value.field == "changes"
    assert AuditEntry.objects.count() == 0
    for source in ("screen", "import", "patient", "system", "api:ward-3 tablet"):
        append(user=None, role="", changes=[Change("x")], source=source)
    assert list(AuditEntry.objects.values_list("source", flat=True)) == [
        "screen",
        "import",
        "patient",
        "system",
        "api:ward-3 tablet",
    ]
    assert verify_chain().ok


@pytest.mark.django_db
def test_a_rotated_key_signs_new_entries_and_old_ones_still_verify() -> None:
    append_changes(2)
    assert rotate_key(Path(os.environ["RODNAN_AUDIT_KEY_DIR"])) == "k2"
    append_changes(2, start=3)

    assert list(AuditEntry.objects.values_list("key_id", flat=True)) == ["k1", "k1", "k2", "k2"]
    row = stored(3)
    values = [3, row.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), None, "", "data_manager", "screen", None, None, None,
              "value.change", "FormRecord", "3", "", "k2", row.changes]  # fmt: skip
    assert row.hash == mac_by_hand(key_bytes("k2"), stored(2).hash, values)
    report = verify_chain()
    assert (report.ok, report.entries, report.keys_used) == (True, 4, ("k1", "k2"))

    (Path(os.environ["RODNAN_AUDIT_KEY_DIR"]) / "k1.key").unlink()  # an old key lost: its entries cannot be verified
    report = verify_chain()
    assert (report.ok, report.first_broken_seq) == (False, 1)
    assert "entry #1 names key 'k1', which is not in the key ring" in report.problem


@pytest.mark.django_db
@pytest.mark.parametrize(
    "at",
    [
        dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        dt.datetime(2026, 1, 2, 3, 4, 5, 0, tzinfo=UTC),  # no microseconds: still hashed as .000000
        dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        dt.datetime(2026, 7, 1, 0, 0, 0, 1, tzinfo=ZoneInfo("Asia/Shanghai")),  # the day before in UTC
        dt.datetime(2026, 3, 29, 2, 30, 0, 500000, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))),
    ],
    ids=["micro", "zero-micro", "end-of-year", "shanghai", "odd-offset"],
)
def test_hash_is_the_same_after_the_database_round_trip(at: dt.datetime) -> None:
    """The hash computed at append equals the one recomputed from what the database (and the ORM) gives back."""
    result = append(
        user=None,
        role="monitor",
        changes=[Change("query.open", "FormRecord", "9", items=(ItemChange("weight", 70, 70.5),))],
        at=at,
    )

    read = stored(1)
    assert read.at == at
    assert read.at.microsecond == at.microsecond
    values = [1, at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), None, "", "monitor", "screen", None, None, None,
              "query.open", "FormRecord", "9", "", "k1", '[{"field":"weight","new":70.5,"old":70}]']  # fmt: skip
    assert mac_by_hand(key_bytes(), ZERO, values) == read.hash == result.head
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
    append_changes(1, start=3)
    assert stored(3).object_id == "3"
    assert verify_chain().ok


@pytest.mark.django_db
def test_the_orm_refuses_to_change_or_delete_an_entry() -> None:
    append_changes(2)
    entry = stored(1)
    entry.reason = "edited"
    with pytest.raises(AppendOnlyError, match="cannot be changed"):
        entry.save()
    with pytest.raises(AppendOnlyError, match="cannot be deleted"):
        entry.delete()

    assert stored(1).reason == ""
    assert AuditEntry.objects.count() == 2
    assert verify_chain().ok


@pytest.mark.django_db
def test_the_orm_refuses_bulk_updates_and_deletes() -> None:
    """QuerySet.update(), delete(), bulk_update() and update_or_create() never reach the database."""
    append_changes(3)
    entries = AuditEntry.objects.filter(seq__gte=2)
    with pytest.raises(AppendOnlyError, match="cannot be updated"):
        entries.update(reason="edited")
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
    assert verify_chain().ok


@pytest.mark.django_db
def test_the_database_refuses_raw_update_and_delete(db_vendor: str) -> None:
    """Triggers refuse them on both databases (SQLite: migration audit/0004; PostgreSQL: audit/0002, TRUNCATE too)."""
    append_changes(3)
    statements = [
        ("UPDATE", "UPDATE audit_auditentry SET reason = 'x' WHERE seq = 2"),
        ("DELETE", "DELETE FROM audit_auditentry WHERE seq = 3"),
        ("DELETE", "DELETE FROM audit_auditentry"),
    ]
    if db_vendor == "postgresql":
        statements.append(("TRUNCATE", "TRUNCATE audit_auditentry"))
        # The test run lifts the TRUNCATE ban so Django can empty tables between tests (tests/django_env.py);
        # put it back for this test (its transaction rolls this back).
        alter_audit_table("ENABLE TRIGGER audit_entry_no_truncate")
    else:
        # The test run drops the DELETE trigger for the same reason: create it again as migration 0004 does.
        from importlib import import_module

        migration = import_module("rodnan.web.audit.migrations.0004_keyed_chain_entries")
        with connection.cursor() as cursor:
            for statement in migration.SQLITE_FORBID:
                cursor.execute(statement)
    for operation, sql in statements:
        with (
            pytest.raises(DatabaseError, match=f"append-only: {operation} refused"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert AuditEntry.objects.count() == 3
    assert list(AuditEntry.objects.values_list("reason", flat=True)) == ["", "", ""]
    assert verify_chain().ok


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
from tests.web.audit.test_chain import append_from_threads
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
        env = {**_env_without_database_url(), "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
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

    append_changes(1)
    assert (stored(1).seq, stored(1).prev_hash) == (1, ZERO)
    assert verify_chain().ok


# -- rodnan audit verify ---------------------------------------------------------------------------


def test_cli_verify_checkpoint_and_rotation_on_the_demo_then_tampered(tmp_path: Path, rodnan_cli: RodnanCli) -> None:
    data = tmp_path / "demo"
    demo = rodnan_cli("demo", "--data", str(data), "--no-serve")
    assert demo.returncode == 0, demo.stderr
    database = data / "rodnan.sqlite3"
    with closing(sqlite3.connect(database)) as db:
        count = db.execute("SELECT count(*) FROM audit_auditentry").fetchone()[0]
        head = db.execute("SELECT hash FROM audit_auditentry WHERE seq = ?", (count,)).fetchone()[0]
    assert count > 100  # 20 patients' data entry

    intact = rodnan_cli("audit", "verify", "--data", str(data))
    assert intact.returncode == 0, intact.stderr
    assert f"audit chain intact: {count} entries verified" in intact.stdout
    assert f"head: entry #{count} {head}" in intact.stdout
    assert "no checkpoint yet" in intact.stdout
    assert "stored data intact: 20 subjects" in intact.stdout
    assert "identity history intact: 20 change(s) match" in intact.stdout  # the demo's invented identities (decision 0020)

    # a clinical value changed with no entry: the chain holds, the replay names subject, record and item
    with closing(sqlite3.connect(database)) as db, db:
        record, raw, value = (
            db.execute("""SELECT r.id, json_extract(r."values", '$.esr.raw'), json_extract(r."values", '$.esr.value')
                                           FROM crfs_formrecord r
                                    WHERE json_extract(r."values", '$.esr') IS NOT NULL ORDER BY r.id LIMIT 1""").fetchone()
        )
        label = db.execute(
            """SELECT coalesce(s.subject_code, s.screening_number) || '/' || v.code || '/' || r.form_code
                              FROM crfs_formrecord r JOIN subjects_subject s ON s.id = r.subject_id
                              JOIN subjects_visit v ON v.id = r.visit_id WHERE r.id = ?""",
            (record,),
        ).fetchone()[0]
        db.execute("""UPDATE crfs_formrecord SET "values" = json_set("values", '$.esr.raw', '99', '$.esr.value', 99.0)
                      WHERE id = ?""", (record,))  # fmt: skip
    forged = rodnan_cli("audit", "verify", "--data", str(data))
    assert forged.returncode == 1
    assert "audit chain intact" in forged.stdout
    message = " ".join(forged.stderr.split())
    assert "stored data differ from the audit trail: 1 difference(s)" in message
    assert f"subject {label.split('/')[0]}, {label}, esr: stored 99 mm/h, trail {raw} mm/h" in message
    with closing(sqlite3.connect(database)) as db, db:  # put it back as the trail says
        db.execute("""UPDATE crfs_formrecord SET "values" = json_set("values", '$.esr.raw', ?, '$.esr.value', ?)
                      WHERE id = ?""", (raw, value, record))  # fmt: skip

    written = rodnan_cli("audit", "checkpoint", "--data", str(data))
    assert written.returncode == 0, written.stderr
    line = json.loads(written.stdout.strip())
    assert (line["seq"], line["hash"], line["key_id"]) == (count, head, "k1")
    assert (data / "audit" / "checkpoints.jsonl").read_text().strip() == written.stdout.strip()
    rotated = rodnan_cli("audit", "rotate-key", "--data", str(data))
    assert rotated.returncode == 0, rotated.stderr
    assert "new audit key k2" in rotated.stdout
    assert sorted(p.name for p in (data / "audit" / "keys").iterdir()) == ["k1.key", "k2.key"]
    again = rodnan_cli("audit", "verify", "--data", str(data))
    assert again.returncode == 0, again.stderr
    assert f"latest checkpoint: entry #{count} at {line['at']} (key k1), matched" in again.stdout

    # as an insider with the database file: cut the last 10 entries and rewrite the head to match
    with closing(sqlite3.connect(database)) as db, db:
        with pytest.raises(sqlite3.DatabaseError, match="append-only: DELETE refused"):
            db.execute("DELETE FROM audit_auditentry WHERE seq > ?", (count - 10,))
        db.execute("DROP TRIGGER audit_entry_no_delete")
        db.execute("DELETE FROM audit_auditentry WHERE seq > ?", (count - 10,))
        new_head = db.execute("SELECT hash FROM audit_auditentry WHERE seq = ?", (count - 10,)).fetchone()[0]
        db.execute("UPDATE audit_audithead SET seq = ?, last_hash = ?", (count - 10, new_head))
    broken = rodnan_cli("audit", "verify", "--data", str(data))
    assert broken.returncode == 1
    message = " ".join(broken.stderr.split())
    assert f"audit chain broken at entry #{count - 9}: the chain ends at entry #{count - 10} but the checkpoint of" in message
    assert f"signed entry #{count}: entries #{count - 9} to #{count} were removed" in message


# -- reading the trail ahead --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_chain_read_in_small_pages_verifies_and_a_break_stops_the_reading(
    db_vendor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    append_changes(7)
    monkeypatch.setattr(chain, "_pages", functools.partial(chain._pages, chunk=2))  # 4 pages, read ahead by a thread
    pages: list[int] = []
    report = verify_chain(feed=lambda page: pages.append(len(page)))
    assert (report.ok, report.entries, pages) == (True, 7, [2, 2, 2, 1])
    tamper(db_vendor, "UPDATE audit_auditentry SET reason = %s WHERE seq = 3", ("edited",))
    report = verify_chain()
    assert (report.ok, report.first_broken_seq, report.entries) == (False, 3, 2)
    assert not [t for t in threading.enumerate() if t.name == "audit-read-ahead"]  # stopped before anything else ran
    assert AuditEntry.objects.count() == 7  # the connection is free again


def test_the_read_ahead_hands_over_every_page_in_order_and_raises_the_readers_error() -> None:
    def pages(fail_after: int | None) -> Iterator[list[tuple[Any, ...]]]:
        for n in range(5):
            if n == fail_after:
                raise RuntimeError("the database went away")
            yield [(n,)]

    assert list(chain._read_ahead(pages(None))) == [[(0,)], [(1,)], [(2,)], [(3,)], [(4,)]]
    read = chain._read_ahead(pages(3))
    assert [next(read), next(read), next(read)] == [[(0,)], [(1,)], [(2,)]]
    with pytest.raises(RuntimeError, match="the database went away"):
        next(read)
    early = chain._read_ahead(pages(None))
    assert next(early) == [(0,)]
    early.close()
    assert not [t for t in threading.enumerate() if t.name == "audit-read-ahead"]
