"""Tampering with the audit trail as an insider with write access to the database would: each case is caught.

Every test appends five entries (by two users), writes a checkpoint of the head, then changes the
database behind the application's back with raw SQL, the append-only triggers dropped (SQLite) or
switched off (PostgreSQL) first, inside the test's transaction. ``verify`` must fail and its message
must name the entry. The same tests run on SQLite and on PostgreSQL (``RODNAN_TEST_DATABASE``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from rodnan.core.audit import read_checkpoints
from rodnan.web.audit.chain import Change, ItemChange, append, checkpoint_file, verify_chain, write_checkpoint
from rodnan.web.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def users() -> tuple[Any, Any]:
    model = get_user_model()
    return model.objects.create_user(username="alice"), model.objects.create_user(username="bob")


@pytest.fixture
def trail(users: tuple[Any, Any]) -> None:
    """Five entries (alice's odd, bob's even) and a checkpoint of entry #5; the chain verifies."""
    for n in range(1, 6):
        item = ItemChange("esr", {"raw": str(10 + n), "unit": "mm/h", "value": 10 + n}, {"raw": str(20 + n), "unit": "mm/h"})
        append(user=users[(n - 1) % 2], role="investigator",
               changes=[Change("form.save", "form", f"S{n}", f"reason {n}", (item,))])  # fmt: skip
    write_checkpoint()
    report = verify_chain()
    assert (report.ok, report.entries, report.checkpoint.seq if report.checkpoint else None) == (True, 5, 5)


def sql(db_vendor: str, statement: str, params: tuple[object, ...] = ()) -> None:
    """Raw SQL behind the application's back, the append-only triggers out of the way first."""
    with connection.cursor() as cursor:
        if db_vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_entry_no_update")
            cursor.execute("DROP TRIGGER IF EXISTS audit_entry_no_delete")
        cursor.execute(statement, params)


def broken(seq: int, words: str) -> str:
    report = verify_chain()
    assert not report.ok
    assert report.first_broken_seq == seq, report.problem
    assert words in report.problem
    assert f"#{seq}" in report.problem
    return report.problem


@pytest.mark.usefixtures("trail")
def test_an_edited_value(db_vendor: str) -> None:
    row = AuditEntry.objects.get(seq=3)
    forged = row.changes.replace('"raw":"23"', '"raw":"99"')
    assert forged != row.changes
    sql(db_vendor, "UPDATE audit_auditentry SET changes = %s WHERE seq = 3", (forged,))
    assert broken(3, "changed after it was written") == (
        "entry #3 was changed after it was written (its keyed hash does not match its fields)"
    )


@pytest.mark.usefixtures("trail")
def test_an_edited_reason(db_vendor: str) -> None:
    sql(db_vendor, "UPDATE audit_auditentry SET reason = 'typo' WHERE seq = 2")
    broken(2, "entry #2 was changed after it was written")


@pytest.mark.usefixtures("trail")
def test_an_edited_time(db_vendor: str) -> None:
    earlier = AuditEntry.objects.get(seq=4).at - dt.timedelta(days=3)
    sql(db_vendor, "UPDATE audit_auditentry SET at = %s WHERE seq = 4", (connection.ops.adapt_datetimefield_value(earlier),))
    assert AuditEntry.objects.get(seq=4).at == earlier
    broken(4, "entry #4 was changed after it was written")


@pytest.mark.usefixtures("trail")
def test_a_changed_user_id(db_vendor: str, users: tuple[Any, Any]) -> None:
    alice, bob = users
    sql(db_vendor, "UPDATE audit_auditentry SET user_id = %s WHERE seq = 3", (bob.pk,))
    assert AuditEntry.objects.get(seq=3).user_id == bob.pk != alice.pk
    broken(3, "entry #3 was changed after it was written")


@pytest.mark.usefixtures("trail")
def test_one_deleted_entry(db_vendor: str) -> None:
    sql(db_vendor, "DELETE FROM audit_auditentry WHERE seq = 3")
    assert broken(3, "missing") == "entry #3 is missing (the next entry is #4)"


@pytest.mark.usefixtures("trail")
def test_two_reordered_entries(db_vendor: str) -> None:
    sql(db_vendor, "UPDATE audit_auditentry SET seq = 1000 WHERE seq = 2")
    sql(db_vendor, "UPDATE audit_auditentry SET seq = 2 WHERE seq = 3")
    sql(db_vendor, "UPDATE audit_auditentry SET seq = 3 WHERE seq = 1000")
    assert list(AuditEntry.objects.order_by("seq").values_list("object_id", flat=True)) == ["S1", "S3", "S2", "S4", "S5"]
    broken(2, "entry #2 does not link to entry #1")


@pytest.mark.usefixtures("trail")
def test_a_deleted_tail(db_vendor: str) -> None:
    sql(db_vendor, "DELETE FROM audit_auditentry WHERE seq >= 4")
    assert broken(4, "the chain ends at entry #3 but its head records entry #5") == (
        "the chain ends at entry #3 but its head records entry #5: entries #4 to #5 were removed from the end"
    )


@pytest.mark.usefixtures("trail")
def test_a_deleted_tail_with_the_head_rewritten(db_vendor: str) -> None:
    third = AuditEntry.objects.get(seq=3).hash
    sql(db_vendor, "DELETE FROM audit_auditentry WHERE seq >= 4")
    sql(db_vendor, "UPDATE audit_audithead SET seq = 3, last_hash = %s WHERE id = 1", (third,))
    problem = broken(4, "the checkpoint of")
    assert "the chain ends at entry #3 but the checkpoint of" in problem
    assert problem.endswith("signed entry #5: entries #4 to #5 were removed")
    report = verify_chain(checkpoints=False)  # without the checkpoint file, the rewritten head hides the cut
    assert (report.ok, report.entries) == (True, 3)


@pytest.mark.usefixtures("trail")
def test_the_head_rewritten_back_with_entries_beyond_it(db_vendor: str) -> None:
    third = AuditEntry.objects.get(seq=3).hash
    sql(db_vendor, "UPDATE audit_audithead SET seq = 3, last_hash = %s WHERE id = 1", (third,))
    broken(4, "entries #4 to #5 were removed")  # the checkpoint of #5 comes first
    report = verify_chain(checkpoints=False)
    assert (report.ok, report.first_broken_seq) == (False, 4)
    assert report.problem == "entry #5 lies beyond the chain's head (entry #3): the head row was rewritten"


@pytest.mark.usefixtures("trail")
def test_every_hash_recomputed_without_the_key(db_vendor: str) -> None:
    """The forger rewrites entry #2 and recomputes every hash (the field rule is public, the key is not) and the head."""
    sql(db_vendor, "UPDATE audit_auditentry SET reason = 'nothing happened' WHERE seq = 2")
    prev = "0" * 64
    for row in AuditEntry.objects.order_by("seq").values():
        fields = {k: str(v) for k, v in row.items() if k not in ("id", "prev_hash", "hash")}
        digest = hashlib.sha256((prev + json.dumps(fields, sort_keys=True)).encode()).hexdigest()
        sql(db_vendor, "UPDATE audit_auditentry SET prev_hash = %s, hash = %s WHERE seq = %s", (prev, digest, row["seq"]))
        prev = digest
    sql(db_vendor, "UPDATE audit_audithead SET last_hash = %s WHERE id = 1", (prev,))
    broken(1, "entry #1 was changed after it was written")


@pytest.mark.usefixtures("trail")
def test_the_trail_and_the_head_wiped(db_vendor: str) -> None:
    sql(db_vendor, "DELETE FROM audit_auditentry")
    sql(db_vendor, "DELETE FROM audit_audithead")
    assert AuditEntry.objects.count() == 0
    problem = broken(1, "entries #1 to #5 were removed")
    assert problem.startswith("the chain ends at entry #0 but the checkpoint of")


@pytest.mark.usefixtures("trail")
def test_an_edited_checkpoint_file_is_caught() -> None:
    path = checkpoint_file()
    (checkpoint,) = read_checkpoints(path)
    line = json.loads(path.read_text())
    line["seq"] = 3
    path.write_text(json.dumps(line) + "\n")
    report = verify_chain()
    assert not report.ok
    assert report.problem == (
        f"checkpoint 1 (entry #3, {checkpoint.at}) has a signature that does not match: the checkpoint file was edited"
    )


@pytest.mark.usefixtures("trail")
def test_a_later_checkpoint_of_a_rewritten_chain_does_not_hide_the_change(db_vendor: str) -> None:
    """Entries rewritten, then a fresh checkpoint (by the application, with the key): the entries still fail their MAC."""
    sql(db_vendor, "UPDATE audit_auditentry SET reason = 'rewritten' WHERE seq = 5")
    write_checkpoint()
    broken(5, "entry #5 was changed after it was written")
