"""Read a ``DATABASE_URL``-style setting into Django's DATABASES entry.

Two schemes: ``sqlite:///path/to/file.sqlite3`` and ``postgresql://user:password@host:port/name``
(``postgres://`` too). A Unix-socket host goes in the query: ``postgresql://postgres@/rodnan?host=/tmp/pgsock&port=5544``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from rodnan.errors import InputError

SQLITE_OPTIONS: dict[str, Any] = {
    # BEGIN IMMEDIATE takes the write lock at the start of a transaction, so two writers queue
    # instead of failing half-way (the audit chain reads its head and appends in one transaction).
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
}
"""WAL with ``synchronous=FULL``: every commit is on disk before the save is acknowledged, so a power loss never
takes back a save the user saw succeed (NORMAL may lose the last commits; decision 0024 has the measurements).
``RODNAN_SQLITE_SYNCHRONOUS=NORMAL`` chooses throughput over that."""

SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA")


def sqlite_database(path: Path) -> dict[str, Any]:
    """The DATABASES entry of a SQLite file (``RODNAN_SQLITE_SYNCHRONOUS``: FULL, the default, NORMAL or EXTRA).

    Raises:
        InputError: an unknown ``RODNAN_SQLITE_SYNCHRONOUS``.
    """
    options = dict(SQLITE_OPTIONS)
    chosen = os.environ.get("RODNAN_SQLITE_SYNCHRONOUS", "FULL").strip().upper()
    if chosen not in SYNCHRONOUS:
        raise InputError("RODNAN_SQLITE_SYNCHRONOUS", f"must be one of {', '.join(SYNCHRONOUS)}", chosen)
    options["init_command"] = f"PRAGMA journal_mode=WAL; PRAGMA synchronous={chosen};"
    # CONN_MAX_AGE: each server thread keeps its connection for a minute instead of opening one per request
    # (opening one, with Django's SQL functions and the pragmas, cost 0.56 ms of CPU: a tenth of a page view)
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "OPTIONS": options, "CONN_MAX_AGE": 60}


POSTGRESQL_OPTIONS: dict[str, Any] = {"server_side_binding": True, "prepare_threshold": 5}
"""Server-side binding lets psycopg prepare a statement the fifth time a connection runs it: PostgreSQL then
skips parsing and planning the queries every page repeats (session, user, memberships); with the
connections kept for a minute this cut the benchmark's CPU per request by 13 % (decision 0007). Behind a
transaction-mode connection pooler (PgBouncer < 1.21), pass ``?prepare_threshold=none`` in the URL."""


def _postgresql_options(query: dict[str, str]) -> dict[str, Any]:
    """Driver options: the defaults above, then the URL's query (strings, but these two typed)."""
    options: dict[str, Any] = dict(POSTGRESQL_OPTIONS) | query
    if "server_side_binding" in query:
        options["server_side_binding"] = query["server_side_binding"].strip().lower() in ("1", "true", "yes", "on")
    if "prepare_threshold" in query:
        text = query["prepare_threshold"].strip().lower()
        if text in ("", "none", "off"):
            options["prepare_threshold"] = None
        elif text.isdigit():
            options["prepare_threshold"] = int(text)
        else:
            raise InputError("DATABASE_URL", "prepare_threshold must be a whole number or none", query["prepare_threshold"])
    return options


def parse_database_url(url: str) -> dict[str, Any]:
    """The DATABASES entry a URL names.

    Raises:
        InputError: naming ``DATABASE_URL`` and the rule, for an unknown scheme or a missing name.
    """
    parts = urlsplit(url.strip())
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if not path or path == "/":
            raise InputError("DATABASE_URL", "a sqlite URL needs a file path (sqlite:///path/db.sqlite3)", url)
        return sqlite_database(Path(path))
    if parts.scheme in ("postgres", "postgresql"):
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise InputError("DATABASE_URL", "a postgresql URL needs a database name (postgresql://user@host:5432/name)", url)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        host = unquote(parts.hostname or "") or query.pop("host", "")
        port = str(parts.port or query.pop("port", "") or "")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": host,
            "PORT": port,
            "CONN_MAX_AGE": 60,
            "OPTIONS": _postgresql_options(query),
        }
    raise InputError("DATABASE_URL", "scheme must be sqlite or postgresql", parts.scheme or url)
