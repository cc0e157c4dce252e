"""The keyed audit chain on plain data: the canonical entry, its MAC, the key ring, checkpoints, verification.

No Django here: the web application appends with these functions, and ``rodnan audit verify``, an
export or an offline tool verifies a trail read from anywhere (a database cursor, a CSV file) with
the same code. Decision 0011 explains the format; in short:

- An entry's hashed fields are, in this order, :data:`HASHED_FIELDS`: ``seq, at, user_id, username,
  role, source, site_id, subject_id, form_record_id, action, object_type, object_id, reason, key_id,
  changes``. ``at`` is written as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; ``changes`` is the entry's
  item changes as canonical JSON text (:func:`changes_text`), hashed as the text stored.
- The message is, in UTF-8, ``ENTRY_DOMAIN + prev_hash + "\\n" + json.dumps([the fields before
  changes], ensure_ascii=False, separators=(",", ":")) + "\\n" + changes``; the entry's hash is
  HMAC-SHA256 of it under the key ``key_id`` names, in lowercase hex. The first entry's previous
  hash is :data:`GENESIS`.
- Keys are 32 random bytes, one file per key (``<key_id>.key``, hex, mode 0600) in a key folder
  outside the database; the newest key (highest number) signs new entries, older ones stay in the
  ring so old entries verify (:class:`KeyRing`).
- A checkpoint is the head (sequence, hash), the time and the key id, signed with the same key,
  written as one JSON line to an append-only file outside the database (:class:`Checkpoint`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

from rodnan.errors import InputError, RodnanError

GENESIS = "0" * 64
"""The previous hash of the first entry."""

ENTRY_DOMAIN = "rodnan-audit-entry-v1\n"
"""Prefix of every entry's MAC message (an entry's MAC can never pass for a checkpoint's)."""

CHECKPOINT_DOMAIN = "rodnan-audit-checkpoint-v1\n"
"""Prefix of every checkpoint's MAC message."""

HASHED_FIELDS = (
    "seq", "at", "user_id", "username", "role", "source", "site_id", "subject_id", "form_record_id",
    "action", "object_type", "object_id", "reason", "key_id", "changes",
)  # fmt: skip
"""The fields an entry's MAC covers, in the order they are written into its message (``changes`` last)."""

ROW_FIELDS = (*HASHED_FIELDS, "prev_hash", "hash")
"""A plain row as :func:`verify_rows` reads it: the hashed fields, then the previous hash and the hash."""


def _not_json(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _encoder(sort_keys: bool, allow_nan: bool) -> Any:
    """``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` as one function, made once.

    The C encoder is called directly: ``json.dumps`` with options builds a new encoder on every call,
    which cost more than the HMAC itself (bench/audit.py). The output is the same text.
    """
    if c_make_encoder is None:  # pragma: no cover - CPython always has the C encoder
        encoder = json.JSONEncoder(sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"), allow_nan=allow_nan)
        return encoder.encode
    made = c_make_encoder(None, _not_json, encode_basestring, None, ":", ",", sort_keys, False, allow_nan)

    def encode(value: object) -> str:
        return "".join(made(value, 0))

    return encode


_fields_json = _encoder(sort_keys=False, allow_nan=True)
_changes_json = _encoder(sort_keys=True, allow_nan=False)

SOURCES = ("screen", "import", "patient", "system")
"""Where an entry comes from; besides these, ``api:<token name>``."""

KEY_BYTES = 32
_KEY_NAME = re.compile(r"^k([1-9][0-9]{0,8})$")
_API_SOURCE = re.compile(r"^api:[^\s:][^\n]{0,80}$")


class AuditKeyError(RodnanError):
    """A key is missing, unreadable or malformed."""


def check_source(source: str) -> str:
    """``source`` if it is one of :data:`SOURCES` or ``api:<token name>``.

    Raises:
        InputError: naming ``source`` and the allowed values.
    """
    if source in SOURCES or _API_SOURCE.match(source):
        return source
    raise InputError("source", f"must be one of {', '.join(SOURCES)} or api:<token name>", source)


def canonical_time(at: dt.datetime | str) -> str:
    """An entry's time as hashed: UTC with microseconds, ``2026-03-04T05:06:07.080910Z``.

    A naive datetime is taken as UTC (SQLite gives the stored UTC time back without a zone); a string
    is parsed first (ISO 8601, with a space or a ``T``).
    """
    if isinstance(at, str):
        if len(at) == 26 and at[10] in " T" and at[19] == ".":  # SQLite's stored text, naive UTC: no parsing needed
            return f"{at[:10]}T{at[11:]}Z"
        if len(at) == 27 and at[10] == "T" and at[26] == "Z":
            return at
        at = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds") + "Z"


def changes_text(items: Iterable[tuple[str, Any, Any]]) -> str:
    """The canonical JSON text of an entry's item changes: ``[{"field":…,"new":…,"old":…}, …]``.

    Keys sorted at every level, no spaces, UTF-8 characters as they are; the order of the items is kept.

    Raises:
        InputError: naming ``changes`` when a value is not JSON-serialisable.
    """
    try:
        return str(_changes_json([{"field": name, "new": new, "old": old} for name, old, new in items]))
    except (TypeError, ValueError) as exc:
        raise InputError("changes", f"old and new values must be JSON values ({exc})", None) from None


def canonical_json(value: object) -> str:
    """One JSON value as :func:`changes_text` writes it (keys sorted at every level, no spaces, UTF-8 as is).

    Raises:
        InputError: naming ``changes`` when ``value`` is not a JSON value.
    """
    try:
        return str(_changes_json(value))
    except (TypeError, ValueError) as exc:
        raise InputError("changes", f"old and new values must be JSON values ({exc})", None) from None


def changes_text_of(items: Iterable[tuple[str, str, str]]) -> str:
    """:func:`changes_text` of items whose old and new values are already encoded by :func:`canonical_json`
    (the same text: a caller that stores a value and audits it encodes it once)."""
    return changes_text_joined([change_item_text(name, old, new) for name, old, new in items])


def change_item_text(name: str, old: str, new: str) -> str:
    """One item of :func:`changes_text`, its old and new values already encoded by :func:`canonical_json`
    (a caller may keep the text of an item that repeats, e.g. the same answer entered on a new form)."""
    return f'{{"field":{_name_json(name)},"new":{new},"old":{old}}}'


def changes_text_joined(item_texts: Sequence[str]) -> str:
    """:func:`changes_text` from its items' texts (:func:`change_item_text`), in order."""
    return "[" + ",".join(item_texts) + "]"


@functools.lru_cache(maxsize=4096)
def _name_json(name: str) -> str:
    """A field name as a JSON string (item codes repeat: encoded once each)."""
    return str(_changes_json(name))


def entry_message(prev_hash: str, values: Sequence[Any]) -> bytes:
    """The bytes an entry's MAC covers: the domain, the previous hash, the JSON array of the fields before
    ``changes``, and the changes text.

    ``values`` are the entry's :data:`HASHED_FIELDS` in that order, ``at`` already canonical.
    """
    return f"{ENTRY_DOMAIN}{prev_hash}\n{_fields_json(list(values[:-1]))}\n{values[-1]}".encode()


class EntrySigner:
    """HMAC-SHA256 of entry messages under one key, with the key's pads hashed once (RFC 2104)."""

    def __init__(self, key: bytes) -> None:
        block = key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest().ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def mac(self, prev_hash: str, values: Sequence[Any]) -> str:
        """The hex MAC of :func:`entry_message` (``values``: the hashed fields in order, ``at`` canonical)."""
        inner = self._inner.copy()
        inner.update(f"{ENTRY_DOMAIN}{prev_hash}\n{_fields_json(list(values[:-1]))}\n{values[-1]}".encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def entry_mac(key: bytes, prev_hash: str, values: Sequence[Any]) -> str:
    """HMAC-SHA256 (hex) of :func:`entry_message` under ``key``."""
    return hmac.digest(key, entry_message(prev_hash, values), "sha256").hex()


def row_tuple(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A mapping with the :data:`ROW_FIELDS` as the plain row :func:`verify_rows` reads."""
    return tuple(row[name] for name in ROW_FIELDS)


# -- keys ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRing:
    """The audit keys by id; ``current`` signs new entries and checkpoints."""

    keys: Mapping[str, bytes]
    folder: Path | None = None

    @property
    def current(self) -> str:
        """The newest key's id (``k<n>`` with the highest n)."""
        if not self.keys:
            raise AuditKeyError(f"no audit key in {self.folder}" if self.folder else "no audit key")
        return max(self.keys, key=_key_number)

    def key(self, key_id: str) -> bytes:
        """The key ``key_id`` names.

        Raises:
            AuditKeyError: the ring has no such key.
        """
        try:
            return self.keys[key_id]
        except KeyError:
            where = f" in {self.folder}" if self.folder else ""
            raise AuditKeyError(f"audit key {key_id!r} is not in the key ring{where}") from None


def _key_number(key_id: str) -> int:
    match = _KEY_NAME.match(key_id)
    if not match:
        raise AuditKeyError(f"audit key id {key_id!r} is not k<number>")
    return int(match.group(1))


def _read_key(path: Path) -> bytes:
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise AuditKeyError(f"audit key file {path} does not hold hex digits") from None
    if len(key) != KEY_BYTES:
        raise AuditKeyError(f"audit key file {path} holds {len(key)} bytes, not {KEY_BYTES}")
    return key


def load_key_ring(folder: Path) -> KeyRing:
    """Every key in ``folder`` (files ``k<n>.key``); an empty ring when the folder has none."""
    keys: dict[str, bytes] = {}
    if folder.is_dir():
        for path in folder.glob("k*.key"):
            if _KEY_NAME.match(path.stem):
                keys[path.stem] = _read_key(path)
    return KeyRing(keys, folder)


def _write_new_key(folder: Path, key_id: str) -> bool:
    """Write a fresh key as ``key_id`` unless that file exists (atomic: written aside, then linked)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = folder / f"{key_id}.key"
    if final.exists():
        return False
    temporary = folder / f".{key_id}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as out:
            out.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, final)  # fails if another process created it first: theirs stands
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def ensure_key(folder: Path) -> KeyRing:
    """The key ring of ``folder``, with a first key ``k1`` created (mode 0600) when there is none.

    Safe when several processes start at once: only one key ``k1`` is ever written.
    """
    ring = load_key_ring(folder)
    if ring.keys:
        return ring
    _write_new_key(folder, "k1")
    return load_key_ring(folder)


def rotate_key(folder: Path) -> str:
    """Add a new key with the next number; returns its id (new entries use it, old keys stay)."""
    ring = load_key_ring(folder)
    number = max((_key_number(k) for k in ring.keys), default=0) + 1
    while not _write_new_key(folder, f"k{number}"):
        number += 1
    return f"k{number}"


# -- checkpoints -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at a moment, signed with an audit key: ``seq``, ``hash``, ``at`` (UTC text), ``key_id``."""

    seq: int
    hash: str
    at: str
    key_id: str
    signature: str = ""

    def message(self) -> bytes:
        """The bytes the signature covers."""
        body = json.dumps([self.seq, self.hash, self.at, self.key_id], separators=(",", ":"))
        return (CHECKPOINT_DOMAIN + body).encode()

    def signed(self, ring: KeyRing) -> Checkpoint:
        """This checkpoint with its signature under its key."""
        mac = hmac.digest(ring.key(self.key_id), self.message(), "sha256").hex()
        return Checkpoint(self.seq, self.hash, self.at, self.key_id, mac)

    def signature_ok(self, ring: KeyRing) -> bool:
        """Whether the signature is the key's MAC of the checkpoint."""
        return hmac.compare_digest(self.signed(ring).signature, self.signature)

    def line(self) -> str:
        """The checkpoint as one JSON line (no newline)."""
        fields = {"seq": self.seq, "hash": self.hash, "at": self.at, "key_id": self.key_id, "signature": self.signature}
        return json.dumps(fields, separators=(", ", ": "))

    @classmethod
    def parse(cls, line: str, number: int = 0) -> Checkpoint:
        """A checkpoint from its JSON line.

        Raises:
            InputError: naming the checkpoint line and what is wrong with it.
        """
        where = f"checkpoint line {number}" if number else "checkpoint"
        try:
            data = json.loads(line)
            return cls(int(data["seq"]), str(data["hash"]), str(data["at"]), str(data["key_id"]), str(data["signature"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(where, f"must be a JSON object with seq, hash, at, key_id and signature ({exc})", line) from None


def new_checkpoint(ring: KeyRing, seq: int, head_hash: str, at: dt.datetime) -> Checkpoint:
    """The signed checkpoint of head ``seq``/``head_hash`` at time ``at``, under the ring's current key."""
    return Checkpoint(seq, head_hash, canonical_time(at), ring.current).signed(ring)


def append_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Append ``checkpoint`` as one line to ``path`` (created 0600), under an exclusive lock, synced to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        os.write(descriptor, (checkpoint.line() + "\n").encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)  # closing releases the lock


def read_checkpoints(path: Path) -> list[Checkpoint]:
    """Every checkpoint in the file, oldest first (none when the file does not exist).

    Raises:
        InputError: a line is not a checkpoint (naming its line number).
    """
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Checkpoint.parse(line, number) for number, line in enumerate(lines, 1) if line.strip()]


# -- verification ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying a chain: how many entries verified, the head, and the first problem."""

    entries: int
    ok: bool
    first_broken_seq: int | None = None
    problem: str = ""
    head_seq: int = 0
    head_hash: str = GENESIS
    checkpoint: Checkpoint | None = None
    keys_used: tuple[str, ...] = field(default=())


def verify_rows(
    rows: Iterable[Sequence[Any]],
    ring: KeyRing,
    head: tuple[int, str] | None = None,
    checkpoints: Sequence[Checkpoint] = (),
) -> ChainReport:
    """Verify a chain given as plain rows in ``seq`` order: tuples of the :data:`ROW_FIELDS` (:func:`row_tuple`).

    Each entry must follow the previous one without a gap, link to its hash, and carry the MAC of its
    fields under its key. Then the chain must end where ``head`` (the head row: sequence and hash) says,
    and every checkpoint (each signature checked first) must name an entry present with that hash, so
    a wiped trail or a cut tail is found even when the head row was rewritten to match.

    Args:
        rows: the entries, in ascending ``seq``.
        ring: the audit keys.
        head: the head row's (sequence, last hash); None when there is none.
        checkpoints: the checkpoint file's lines, oldest first.

    Returns:
        The report; its ``problem`` names the first entry (or checkpoint) that is wrong.
    """
    head_seq = head[0] if head is not None else None
    wanted = {c.seq: c for c in checkpoints}
    for number, checkpoint in enumerate(checkpoints, 1):
        if checkpoint.key_id not in ring.keys:
            return ChainReport(0, False, None, f"checkpoint {number} (entry #{checkpoint.seq}, {checkpoint.at}) names key "
                                               f"{checkpoint.key_id!r}, which is not in the key ring")  # fmt: skip
        if not checkpoint.signature_ok(ring):
            return ChainReport(0, False, None, f"checkpoint {number} (entry #{checkpoint.seq}, {checkpoint.at}) has a "
                                               "signature that does not match: the checkpoint file was edited")  # fmt: skip
    prev = GENESIS
    count = 0
    keys_used: set[str] = set()
    pads: dict[str, tuple[Any, Any]] = {}  # key id -> its HMAC pads, hashed once (EntrySigner)
    key_at = HASHED_FIELDS.index("key_id")
    last = len(HASHED_FIELDS)
    fields_json, compare, domain = _fields_json, hmac.compare_digest, ENTRY_DOMAIN
    # The loop below is entry_message and EntrySigner.mac written out: it runs once per entry of the trail.
    for row in rows:
        seq = row[0]
        if head_seq is not None and seq > head_seq:
            problem = f"entry #{seq} lies beyond the chain's head (entry #{head_seq}): the head row was rewritten"
            return ChainReport(count, False, seq, problem)
        count += 1
        if seq != count:
            if seq < count:
                problem = f"entry #{seq} appears again after entry #{count - 1} (the sequence goes backwards)"
                return ChainReport(count - 1, False, seq, problem)
            return ChainReport(count - 1, False, count, f"entry #{count} is missing (the next entry is #{seq})")
        if row[last] != prev:
            problem = f"entry #{seq} does not link to entry #{seq - 1} (its previous hash differs): entries were removed, reordered or rewritten"  # noqa: E501
            return ChainReport(count - 1, False, seq, problem)
        key_id = row[key_at]
        pad = pads.get(key_id)
        if pad is None:
            if key_id not in ring.keys:
                return ChainReport(count - 1, False, seq, f"entry #{seq} names key {key_id!r}, which is not in the key ring")
            signer = EntrySigner(ring.keys[key_id])
            pad = pads[key_id] = (signer._inner, signer._outer)
            keys_used.add(key_id)
        fields = list(row[: key_at + 1])
        at = fields[1]
        if type(at) is not str or len(at) != 27 or at[26] != "Z":  # not yet canonical (most rows are: _rows formats it)
            fields[1] = canonical_time(at)
        inner = pad[0].copy()
        inner.update(f"{domain}{prev}\n{fields_json(fields)}\n{row[key_at + 1]}".encode())
        outer = pad[1].copy()
        outer.update(inner.digest())
        if not compare(outer.hexdigest(), row[last + 1]):
            problem = f"entry #{seq} was changed after it was written (its keyed hash does not match its fields)"
            return ChainReport(count - 1, False, seq, problem)
        prev = row[last + 1]
        signed = wanted.get(seq)
        if signed is not None and signed.hash != prev:
            problem = f"entry #{seq} is not the entry the checkpoint of {signed.at} signed (hash differs)"
            return ChainReport(count - 1, False, seq, problem)
    used = tuple(sorted(keys_used, key=_key_number))
    if head is not None and (head[0] != count or head[1] != prev):
        problem = f"the chain ends at entry #{count} but its head records entry #{head[0]}"
        problem += (
            f": entries #{count + 1} to #{head[0]} were removed from the end" if head[0] > count else " (the head was rewritten)"
        )
        broken = count + 1 if head[0] > count else head[0]
        return ChainReport(count, False, broken, problem, count, prev, None, used)
    latest = max(checkpoints, key=lambda c: c.seq, default=None)
    if latest is not None and latest.seq > count:
        problem = (f"the chain ends at entry #{count} but the checkpoint of {latest.at} signed entry #{latest.seq}: "
                   f"entries #{count + 1} to #{latest.seq} were removed")  # fmt: skip
        return ChainReport(count, False, count + 1, problem, count, prev, latest, used)
    return ChainReport(count, True, None, "", count, prev, latest, used)
