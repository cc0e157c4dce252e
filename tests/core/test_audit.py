"""The audit chain's pure core: a trail built by hand (hmac, json) verifies offline, without Django; changes are named."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from pathlib import Path

import pytest

from rodnan.core.audit import (
    GENESIS,
    Checkpoint,
    KeyRing,
    append_checkpoint,
    canonical_json,
    canonical_time,
    changes_text,
    changes_text_of,
    check_source,
    ensure_key,
    load_key_ring,
    new_checkpoint,
    read_checkpoints,
    rotate_key,
    verify_rows,
)
from rodnan.errors import InputError

KEY = bytes(range(32))


def by_hand(prev: str, fields: list[object], changes: str) -> str:
    message = f"rodnan-audit-entry-v1\n{prev}\n{json.dumps(fields, ensure_ascii=False, separators=(',', ':'))}\n{changes}"
    return hmac.new(KEY, message.encode(), hashlib.sha256).hexdigest()


def trail(n: int) -> list[tuple[object, ...]]:
    """``n`` plain rows as an export would give them: the hashed fields, then prev_hash and hash."""
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        changes = json.dumps([{"field": "esr", "new": seq, "old": None}], separators=(",", ":"))
        fields: list[object] = [seq, f"2026-01-0{seq}T08:00:00.000000Z", 7, "alice", "investigator", "screen", 1, 2, 3,
                                "form.save", "form", f"S/{seq}", "", "k1"]  # fmt: skip
        digest = by_hand(prev, fields, changes)
        rows.append((*fields, changes, prev, digest))
        prev = digest
    return rows


def test_a_hand_built_trail_verifies_and_each_change_is_named() -> None:
    ring = KeyRing({"k1": KEY})
    rows = trail(4)
    report = verify_rows(rows, ring, head=(4, str(rows[-1][-1])))
    assert (report.ok, report.entries, report.head_seq, report.keys_used) == (True, 4, 4, ("k1",))

    edited = [*rows[:2], (*rows[2][:12], "edited", *rows[2][13:]), rows[3]]
    report = verify_rows(edited, ring)
    assert (report.ok, report.first_broken_seq, report.entries) == (False, 3, 2)
    assert report.problem.startswith("entry #3 was changed after it was written")

    assert verify_rows([rows[0], rows[2], rows[3]], ring).problem == "entry #2 is missing (the next entry is #3)"
    assert verify_rows(rows, KeyRing({"k1": bytes(32)})).first_broken_seq == 1  # the wrong key


def test_the_time_is_canonical_whatever_form_it_arrives_in() -> None:
    expected = "2026-03-04T05:06:07.080910Z"
    shanghai = dt.timezone(dt.timedelta(hours=8))
    assert canonical_time(dt.datetime(2026, 3, 4, 13, 6, 7, 80910, tzinfo=shanghai)) == expected
    assert canonical_time(dt.datetime(2026, 3, 4, 5, 6, 7, 80910)) == expected  # naive: UTC (SQLite)
    assert canonical_time("2026-03-04 05:06:07.080910") == expected
    assert canonical_time("2026-03-04 05:06:07") == "2026-03-04T05:06:07.000000Z"
    assert canonical_time("2026-03-04T13:06:07.080910+08:00") == expected


def test_changes_text_is_canonical_json_and_refuses_other_values() -> None:
    text = changes_text([("esr", None, {"value": 14, "unit": "mm/h", "raw": "14"}), ("note", "a", "ü")])
    assert text == '[{"field":"esr","new":{"raw":"14","unit":"mm/h","value":14},"old":null},{"field":"note","new":"ü","old":"a"}]'
    assert json.loads(text)[0]["new"]["value"] == 14
    for bad in (dt.date(2026, 1, 1), float("nan"), {1, 2}):
        with pytest.raises(InputError) as caught:
            changes_text([("x", None, bad)])
        assert caught.value.field == "changes"
    assert check_source("api:lab feed") == "api:lab feed"
    with pytest.raises(InputError):
        check_source("cron")


def test_keys_are_created_once_rotated_and_checkpoints_signed(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    ring = ensure_key(folder)
    assert (ring.current, oct(os.stat(folder / "k1.key").st_mode & 0o777)) == ("k1", "0o600")
    assert ensure_key(folder).keys == ring.keys
    assert rotate_key(folder) == "k2"
    ring = load_key_ring(folder)
    assert (ring.current, sorted(ring.keys)) == ("k2", ["k1", "k2"])

    path = tmp_path / "checkpoints.jsonl"
    checkpoint = new_checkpoint(ring, 4, "ab" * 32, dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=dt.UTC))
    append_checkpoint(path, checkpoint)
    (read,) = read_checkpoints(path)
    assert read == checkpoint
    assert read.key_id == "k2"
    message = b'rodnan-audit-checkpoint-v1\n[4,"' + b"ab" * 32 + b'","2026-05-06T07:08:09.000000Z","k2"]'
    assert read.signature == hmac.new(ring.keys["k2"], message, hashlib.sha256).hexdigest()
    assert read.signature_ok(ring)
    assert not Checkpoint(5, read.hash, read.at, read.key_id, read.signature).signature_ok(ring)


def test_changes_text_of_encoded_values_is_the_changes_text() -> None:
    value = {
        "item": "mrss_face",
        "type": "integer",
        "raw": "2",
        "unit": None,
        "value": 2.0,
        "display": '2 – ü\\"',
        "converted": False,
    }
    items = [("mrss_face", None, value), ("status", "in_progress", "complete"), ("名", [1, 2.5, {"b": 1, "a": None}], True)]
    expected = changes_text(items)
    assert changes_text_of((name, canonical_json(old), canonical_json(new)) for name, old, new in items) == expected
    assert json.loads(expected)[0] == {"field": "mrss_face", "new": value, "old": None}
    assert changes_text_of([]) == changes_text([]) == "[]"
