"""Fast bulk inserts of plain rows: ids allocated up front, one ``executemany`` (SQLite) or ``COPY`` (PostgreSQL).

Django's ``bulk_create`` builds a model instance per row and prepares every field of it through the
field's methods; for the bulk import's hundreds of thousands of rows that preparation cost more than
the database's own work (decision 0013). :func:`insert_rows` takes rows as tuples of plain Python
values for the columns named, converts each column once by its field's type, and inserts them with
ids it allocated in the caller's transaction:

- SQLite: the transaction holds the write lock from its start (``BEGIN IMMEDIATE``, see
  :mod:`rodnan.web.database_url`), so the next ids are the largest id (or the table's AUTOINCREMENT
  counter) plus one;
- PostgreSQL: the ids are drawn from the column's sequence (safe with concurrent writers), and the
  rows are sent with ``COPY``.

Columns not given get what ``bulk_create`` would store (the field's default, the time for
``auto_now``/``auto_now_add``); no signals are sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models
from django.utils import timezone

Convert = Callable[[Any], Any]


def json_text(value: Any) -> str | None:
    """A JSON field's value as the column stores it (Django's ``JSONField`` without an encoder: ``json.dumps``)."""
    if value is None:
        return None
    if not value and isinstance(value, list | dict):  # most records have no flags, warnings or item flags
        return "[]" if isinstance(value, list) else "{}"
    return json.dumps(value)


def _converter(field: models.Field[Any, Any], encoded: bool) -> Convert | None:
    """How a Python value of ``field`` goes to the database driver (None: as it is)."""
    if isinstance(field, models.JSONField):
        if encoded:
            return None
        if field.encoder is not None:
            raise NotImplementedError(f"{field.name}: bulk.insert_rows does not use a JSON field's own encoder")
        return json_text
    if connection.vendor == "postgresql":
        return None  # psycopg's COPY adapts ints, strings, bools, dates and aware datetimes itself
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return lambda value: None if value is None else value.isoformat()
    if isinstance(field, models.DecimalField | models.UUIDField | models.DurationField | models.TimeField):
        raise NotImplementedError(f"{field.name}: bulk.insert_rows does not convert a {type(field).__name__}")
    return None


def _concrete(field: Any) -> models.Field[Any, Any]:
    """A model's field with a column of its own (not a reverse relation or a many-to-many).

    Raises:
        ValueError: naming the field otherwise.
    """
    if not isinstance(field, models.Field) or field.column is None or field.many_to_many:
        raise ValueError(f"{field.name}: not a column of its model's table")
    return field


def _omitted_value(field: models.Field[Any, Any]) -> Any:
    """The value ``bulk_create`` would store for a field not given: now for ``auto_now``/``auto_now_add``,
    else the field's default ("" for a text field without one)."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return timezone.now()
    return field.get_default()


def _allocate(cursor: Any, table: str, count: int) -> list[int]:
    """``count`` new ids of ``table``'s ``id`` column, in the caller's transaction."""
    quoted = connection.ops.quote_name(table)
    if connection.vendor == "postgresql":
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [quoted, count])
        return [int(row[0]) for row in cursor.fetchall()]
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {quoted}")
    last = int(cursor.fetchone()[0])
    cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
    counter = cursor.fetchone()
    last = max(last, int(counter[0]) if counter else 0)
    return list(range(last + 1, last + 1 + count))


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, encoded: bool = False
) -> list[int]:
    """Insert ``rows`` (values for ``columns``, in that order; no ``id``) into ``model``'s table.

    Args:
        model: the model whose table receives the rows.
        columns: field names (``subject_id`` or ``subject`` for a foreign key: its id either way); the
            other fields get their defaults.
        encoded: the JSON fields' values are given as JSON text already (:func:`json_text`).
        rows: one sequence of Python values per row (ids for foreign keys; dicts and lists for JSON
            fields; ``date``/aware ``datetime`` objects for date and time fields).

    Returns:
        The new rows' ids, in the order of ``rows``.

    Raises:
        django.db.IntegrityError: a row breaks a constraint (the caller's transaction is spoilt).
    """
    if not rows:
        return []
    meta = model._meta
    given = [_concrete(meta.get_field(name)) for name in columns]
    omitted = [f for f in meta.concrete_fields if not f.primary_key and f not in given]
    fixed = [_omitted_value(f) for f in omitted]
    fields = given + omitted
    names = [str(field.column) for field in fields]
    converters = [
        (i, convert) for i, field in enumerate(fields) if (convert := _converter(field, encoded and i < len(given))) is not None
    ]
    table = meta.db_table
    with connection.cursor() as cursor:
        ids = _allocate(cursor, table, len(rows))
        prepared: list[list[Any]] = []
        for pk, row in zip(ids, rows, strict=True):
            values = [pk, *row, *fixed]
            for i, convert in converters:
                values[i + 1] = convert(values[i + 1])
            prepared.append(values)
        quoted = ", ".join(connection.ops.quote_name(name) for name in ("id", *names))
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({quoted}) FROM STDIN") as copy:
                for values in prepared:
                    copy.write_row(values)
        else:
            marks = ", ".join("?" for _ in range(len(names) + 1))
            cursor.cursor.executemany(f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({marks})", prepared)
    return ids
