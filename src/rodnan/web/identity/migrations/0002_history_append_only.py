"""Triggers that refuse UPDATE and DELETE (and on PostgreSQL TRUNCATE) of the identity history (decision 0020).

As for the audit trail (decision 0011): SQLite rebuilds a table for most column changes, which drops its
triggers, so a later migration that alters identity_identitychange must create them again.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

TABLE = "identity_identitychange"
SQLITE_FORBID = [
    f"""CREATE TRIGGER IF NOT EXISTS identity_change_no_update BEFORE UPDATE ON {TABLE}
       BEGIN SELECT RAISE(ABORT, 'the identity history is append-only: UPDATE refused on {TABLE}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS identity_change_no_delete BEFORE DELETE ON {TABLE}
       BEGIN SELECT RAISE(ABORT, 'the identity history is append-only: DELETE refused on {TABLE}'); END""",
]
SQLITE_ALLOW = ["DROP TRIGGER IF EXISTS identity_change_no_update", "DROP TRIGGER IF EXISTS identity_change_no_delete"]
PG_FORBID = f"""
CREATE OR REPLACE FUNCTION identity_change_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'the identity history is append-only: % refused on {TABLE}', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER identity_change_append_only BEFORE UPDATE OR DELETE ON {TABLE}
  FOR EACH ROW EXECUTE FUNCTION identity_change_append_only();
CREATE TRIGGER identity_change_no_truncate BEFORE TRUNCATE ON {TABLE}
  FOR EACH STATEMENT EXECUTE FUNCTION identity_change_append_only();
"""
PG_ALLOW = f"""
DROP TRIGGER IF EXISTS identity_change_no_truncate ON {TABLE};
DROP TRIGGER IF EXISTS identity_change_append_only ON {TABLE};
DROP FUNCTION IF EXISTS identity_change_append_only();
"""


def forbid_changes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORBID, params=None)  # no placeholder parsing: the % of RAISE EXCEPTION stays
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORBID:
            schema_editor.execute(statement)


def allow_changes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_ALLOW, params=None)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_ALLOW:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("identity", "0001_initial")]

    operations = [migrations.RunPython(forbid_changes, allow_changes)]
