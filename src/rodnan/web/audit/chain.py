"""Appending to the keyed audit chain, verifying it, and checkpointing its head.

One entry per event (one action on one object) with the list of its item changes, as REDCap's log
keeps one entry per save. Each entry's hash is an HMAC-SHA256 over all of its fields and the previous
hash, under a key kept outside the database (:mod:`rodnan.core.audit` holds the format; decision 0011).
Appends lock the single :class:`AuditHead` row, so concurrent writers queue and the chain never
forks; entries are written in the caller's transaction with one ``executemany`` (PostgreSQL: COPY),
never model objects, so a change and its audit entries land together or not at all, and a batch of
3,000 entries costs milliseconds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from rodnan.core.audit import (
    GENESIS,
    ROW_FIELDS,
    ChainReport,
    Checkpoint,
    EntrySigner,
    KeyRing,
    append_checkpoint,
    canonical_time,
    changes_text,
    check_source,
    ensure_key,
    load_key_ring,
    new_checkpoint,
    read_checkpoints,
    verify_rows,
)
from rodnan.core.records.model import ItemDelta as ItemChange  # one field's change (field, old, new), as the plans give it
from rodnan.errors import InputError

__all__ = [
    "GENESIS",
    "AppendResult",
    "ChainReport",
    "Change",
    "ItemChange",
    "append",
    "checkpoint_file",
    "key_dir",
    "key_ring",
    "verify_chain",
    "write_checkpoint",
]  # fmt: skip

ENTRY_TABLE = "audit_auditentry"
HEAD_TABLE = "audit_audithead"
COLUMNS = ROW_FIELDS
"""The audit table's columns the chain writes and reads, in this order (``id`` is the database's)."""


@dataclass(frozen=True)
class Change:
    """One audited event: an action on one object, with the list of its item changes.

    ``items_text`` may carry the items already encoded by :func:`rodnan.core.audit.changes_text` (the bulk
    import encodes them in its worker processes); ``items`` are then not read.
    """

    action: str
    object_type: str = ""
    object_id: str = ""
    reason: str = ""
    items: tuple[ItemChange, ...] = ()
    site_id: int | None = None
    subject_id: int | None = None
    form_record_id: int | None = None
    items_text: str | None = None


@dataclass(frozen=True)
class AppendResult:
    """What an append wrote: the sequence numbers of its first and last entries and the new head hash."""

    first_seq: int
    last_seq: int
    head: str

    @property
    def count(self) -> int:
        """How many entries were appended."""
        return self.last_seq - self.first_seq + 1 if self.last_seq >= self.first_seq else 0


# -- where the key and the checkpoints live ---------------------------------------------------------


def key_dir() -> Path:
    """The audit key folder: ``RODNAN_AUDIT_KEY_DIR``, else ``<data>/audit/keys``."""
    configured = os.environ.get("RODNAN_AUDIT_KEY_DIR", "").strip()
    return Path(configured).resolve() if configured else Path(settings.DATA_DIR) / "audit" / "keys"


def checkpoint_file() -> Path:
    """The checkpoint file: ``RODNAN_AUDIT_CHECKPOINT_FILE``, else ``<data>/audit/checkpoints.jsonl``."""
    configured = os.environ.get("RODNAN_AUDIT_CHECKPOINT_FILE", "").strip()
    return Path(configured).resolve() if configured else Path(settings.DATA_DIR) / "audit" / "checkpoints.jsonl"


_ring_lock = threading.Lock()
_ring: tuple[Path, int, KeyRing] | None = None


def key_ring(create: bool = True) -> KeyRing:
    """The audit key ring, read once per process and again when the key folder changes (a rotation).

    Args:
        create: write the first key when the folder has none (appends); False reads only (verify).
    """
    global _ring
    folder = key_dir()
    try:
        stamp = folder.stat().st_mtime_ns
    except FileNotFoundError:
        stamp = -1
    with _ring_lock:
        if _ring is not None and _ring[0] == folder and _ring[1] == stamp and _ring[2].keys:
            return _ring[2]
        ring = ensure_key(folder) if create else load_key_ring(folder)
        if ring.keys:
            _ring = (folder, folder.stat().st_mtime_ns, ring)
        return ring


# -- append ----------------------------------------------------------------------------------------


def _lock_head(cursor: Any) -> tuple[int, str]:
    """The head row's (seq, last hash), locked until the transaction ends; recreated when a flush removed it."""
    suffix = " FOR UPDATE" if connection.vendor == "postgresql" else ""  # SQLite: BEGIN IMMEDIATE holds the write lock
    cursor.execute(f"SELECT seq, last_hash FROM {HEAD_TABLE} WHERE id = 1{suffix}")
    row = cursor.fetchone()
    if row is None:  # a flushed database (Django's transactional tests, manage.py flush) lost the head row
        cursor.execute(f"INSERT INTO {HEAD_TABLE} (id, seq, last_hash) VALUES (1, 0, %s)", [GENESIS])
        return 0, GENESIS
    return int(row[0]), str(row[1])


def append(
    *, user: Any, role: str, changes: Iterable[Change], source: str = "screen", at: dt.datetime | None = None
) -> AppendResult:
    """Append one entry per change, by ``user`` acting as ``role``, in the caller's transaction.

    Args:
        user: the user object, or None for an anonymous event (a failed login names the user name
            tried in ``object_id``).
        role: the role code the user acted in.
        changes: the events, in order.
        source: ``screen``, ``import``, ``api:<token name>``, ``patient`` or ``system``.
        at: the time of the events (default now); an aware datetime.

    Returns:
        The first and last sequence numbers and the new head hash (first > last when nothing was appended).

    Raises:
        InputError: a bad ``source``, a naive ``at``, or item values that are not JSON values.
    """
    check_source(source)
    changes = list(changes)
    if at is not None and timezone.is_naive(at):
        raise InputError("at", "must be an aware datetime (with a time zone)", at)
    at = at or timezone.now()
    at_text = canonical_time(at)
    user_id = getattr(user, "pk", None) if user is not None else None
    username = getattr(user, "username", "") if user is not None else ""
    ring = key_ring()
    key_id = ring.current
    signer = EntrySigner(ring.key(key_id))
    texts = [  # errors before the lock
        change.items_text if change.items_text is not None else changes_text((i.field, i.old, i.new) for i in change.items)
        for change in changes
    ]
    # as the column stores it: PostgreSQL parses this text (COPY); SQLite keeps Django's text of the naive UTC time
    stored_at = at_text[:-1] + "+00:00" if connection.vendor == "postgresql" else connection.ops.adapt_datetimefield_value(at)
    with transaction.atomic(), connection.cursor() as cursor:
        seq, prev = _lock_head(cursor)
        if not changes:
            return AppendResult(seq + 1, seq, prev)
        first = seq + 1
        rows = []
        mac = signer.mac
        for change, text in zip(changes, texts, strict=True):
            seq += 1
            values = [seq, at_text, user_id, username, role, source, change.site_id, change.subject_id, change.form_record_id,
                      change.action, change.object_type, change.object_id, change.reason, key_id, text]  # fmt: skip
            digest = mac(prev, values)
            values[1] = stored_at
            values.append(prev)
            values.append(digest)
            rows.append(values)
            prev = digest
        _insert(cursor, rows)
        cursor.execute(f"UPDATE {HEAD_TABLE} SET seq = %s, last_hash = %s WHERE id = 1", [seq, prev])
    return AppendResult(first, seq, prev)


def _insert(cursor: Any, rows: list[list[Any]]) -> None:
    """Insert the rows: COPY on PostgreSQL, one executemany on SQLite."""
    names = ", ".join(COLUMNS)
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(f"COPY {ENTRY_TABLE} ({names}) FROM STDIN") as copy:
            for row in rows:  # psycopg formats and escapes each field (in C)
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in COLUMNS)
    cursor.cursor.executemany(f"INSERT INTO {ENTRY_TABLE} ({names}) VALUES ({marks})", rows)


# -- verify and checkpoint -------------------------------------------------------------------------


def head() -> tuple[int, str] | None:
    """The head row's (seq, last hash), or None when the row is missing."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT seq, last_hash FROM {HEAD_TABLE} WHERE id = 1")
        row = cursor.fetchone()
    return (int(row[0]), str(row[1])) if row else None


def _pages(limit: int | None, chunk: int = 20000) -> Generator[list[tuple[Any, ...]], None, None]:
    """Every entry as a plain row (:data:`rodnan.core.audit.ROW_FIELDS`) in seq order, up to ``limit``, a page at a time.

    Read in pages by seq, so memory stays flat on both databases; the time comes as text in the canonical
    form (PostgreSQL formats it; SQLite's stored text is rewritten in SQL), not as datetimes built and
    formatted again. The next page is read by a thread while the caller checks this one
    (:func:`_read_ahead`).
    """
    if connection.vendor == "postgresql":
        at = """to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
        mark = "%s"
    else:
        # no declared type: the driver leaves the stored text alone; Django stores UTC as "YYYY-MM-DD HH:MM:SS.ffffff",
        # rewritten here to the canonical form (any other stored form is left to canonical_time)
        at = ("CASE WHEN length(at) = 26 AND substr(at, 11, 1) = ' ' AND substr(at, 20, 1) = '.' "
              "THEN substr(at, 1, 10) || 'T' || substr(at, 12) || 'Z' ELSE CAST(at AS TEXT) END")  # fmt: skip
        mark = "?"
    names = ", ".join(at if name == "at" else name for name in COLUMNS)
    stop = f" AND seq <= {int(limit)}" if limit is not None else ""
    query = f"SELECT {names} FROM {ENTRY_TABLE} WHERE seq > {mark}{stop} ORDER BY seq LIMIT {int(chunk)}"
    connection.ensure_connection()
    raw = connection.connection  # the DB-API connection, in the caller's transaction (the same snapshot)

    def read() -> Iterator[list[tuple[Any, ...]]]:
        last = -1
        while True:
            cursor = raw.cursor()
            try:
                cursor.execute(query, [last])
                page = cursor.fetchall()
            finally:
                cursor.close()
            if not page:
                return
            yield page
            last = page[-1][0]

    return _read_ahead(read())


_DONE = object()


def _read_ahead(pages: Iterator[list[tuple[Any, ...]]], depth: int = 2) -> Generator[list[tuple[Any, ...]], None, None]:
    """``pages``, read by a thread up to ``depth`` pages ahead of the caller.

    The database's work (PostgreSQL's server, SQLite's B-tree, both without Python's lock) then overlaps the
    caller's checking of the page before. The thread uses the caller's connection, and nothing else does
    until it has stopped: when the caller stops early (a broken chain) the thread is told and waited for.
    """
    ahead: queue.Queue[object] = queue.Queue(maxsize=depth)
    stopping = threading.Event()

    def put(item: object) -> bool:
        while not stopping.is_set():
            try:
                ahead.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for page in pages:
                if not put(page):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the caller, raised there
            put(exc)

    thread = threading.Thread(target=work, name="audit-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ahead.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast(list[tuple[Any, ...]], item)
    finally:
        stopping.set()
        thread.join()


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a long read (restored afterwards, as it was).

    Reading the trail allocates millions of short-lived tuples and strings that form no cycle (reference
    counting frees them); each allocation burst still triggers the collector, which then walks every
    object alive: about a tenth of a 1,000,000-entry verification (bench/replay.py, decision 0014).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def verify_chain(checkpoints: bool = True, feed: Callable[[Sequence[tuple[Any, ...]]], None] | None = None) -> ChainReport:
    """Verify the whole chain against the head row and (``checkpoints``) the checkpoint file.

    The head is read first: entries appended while the verification runs are beyond it and not read.
    ``feed``, when given, is called with each page of rows read (a list, in seq order), before they are
    verified (the replay reads the trail in the same pass: :mod:`rodnan.web.audit.replay`).
    """
    current = head() or (0, GENESIS)
    marks = read_checkpoints(checkpoint_file()) if checkpoints else []
    read = _pages(current[0])
    pages = _fed(read, feed) if feed is not None else read
    try:
        with cyclic_gc_paused():
            report = verify_rows(itertools.chain.from_iterable(pages), key_ring(create=False), current, marks)
    finally:
        read.close()  # a broken chain stops the reading early: the read-ahead thread is stopped before the next query
    if not report.ok:
        return report
    # Entries past the head read at the start may have been appended since; past the head read now, they
    # cannot (an append commits its entries and the head together): the head row was rewritten.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max(seq) FROM {ENTRY_TABLE}")
        last = cursor.fetchone()[0]
    now = head() or (0, GENESIS)
    if last is not None and last > now[0]:
        problem = f"entry #{last} lies beyond the chain's head (entry #{now[0]}): the head row was rewritten"
        return ChainReport(report.entries, False, now[0] + 1, problem, report.head_seq, report.head_hash, report.checkpoint,
                           report.keys_used)  # fmt: skip
    return report


def _fed(
    pages: Iterable[list[tuple[Any, ...]]], feed: Callable[[Sequence[tuple[Any, ...]]], None]
) -> Iterator[list[tuple[Any, ...]]]:
    for page in pages:
        feed(page)
        yield page


def write_checkpoint(at: dt.datetime | None = None) -> Checkpoint:
    """Sign the current head and append it to the checkpoint file; returns the checkpoint."""
    current = head() or (0, GENESIS)
    checkpoint = new_checkpoint(key_ring(), current[0], current[1], at or timezone.now())
    append_checkpoint(checkpoint_file(), checkpoint)
    return checkpoint
