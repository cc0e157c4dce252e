"""Keyed chain (decision 0011): one entry per event with its item changes; SQLite triggers refuse UPDATE and DELETE.

The columns field, old_value and new_value go; source, changes (the items' canonical JSON) and key_id
come. Entries written in the old format (one per item, plain SHA-256) cannot be carried into the keyed
chain without rewriting their hashes, which is exactly what an audit trail must not allow: no site runs
rodnan yet, so the migration refuses a database that holds them instead of converting it.
"""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

SQLITE_FORBID = [
    """CREATE TRIGGER IF NOT EXISTS audit_entry_no_update BEFORE UPDATE ON audit_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: UPDATE refused on audit_auditentry'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_entry_no_delete BEFORE DELETE ON audit_auditentry
       BEGIN SELECT RAISE(ABORT, 'audit entries are append-only: DELETE refused on audit_auditentry'); END""",
]
SQLITE_ALLOW = ["DROP TRIGGER IF EXISTS audit_entry_no_update", "DROP TRIGGER IF EXISTS audit_entry_no_delete"]


class OldAuditEntriesError(RuntimeError):
    """The database holds audit entries of the old, unkeyed format."""


def refuse_old_entries(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditentry")
        count = cursor.fetchone()[0]
    if count:
        raise OldAuditEntriesError(
            f"this database holds {count} audit entries in the old format (one per item, unkeyed SHA-256). "
            "rodnan 0.x cannot carry them into the keyed audit chain without rewriting their hashes, which an audit "
            "trail must never do (decision 0011). Start from a new data folder or database; no site runs rodnan yet."
        )


def forbid_changes(apps: Any, schema_editor: Any) -> None:
    """SQLite: triggers refuse UPDATE and DELETE (PostgreSQL has had its own since migration 0002).

    SQLite rebuilds a table for most column changes, which drops its triggers: a later migration that
    alters audit_auditentry must run these statements again after its change.
    """
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORBID:
            schema_editor.execute(statement)


def allow_changes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_ALLOW:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_hash_not_indexed"), migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [
        migrations.RunPython(refuse_old_entries, migrations.RunPython.noop),
        migrations.RemoveField(model_name="auditentry", name="field"),
        migrations.RemoveField(model_name="auditentry", name="old_value"),
        migrations.RemoveField(model_name="auditentry", name="new_value"),
        migrations.AddField(model_name="auditentry", name="source", field=models.CharField(default="screen", max_length=100)),
        migrations.AddField(model_name="auditentry", name="changes", field=models.TextField(default="[]")),
        migrations.AddField(model_name="auditentry", name="key_id", field=models.CharField(default="", max_length=20),
                            preserve_default=False),
        # Only the indexes the chain and the audit pages use: seq, (subject, seq), (form_record, seq).
        migrations.AlterField(model_name="auditentry", name="at", field=models.DateTimeField()),
        migrations.AlterField(model_name="auditentry", name="user", field=models.ForeignKey(
            db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+",
            to=settings.AUTH_USER_MODEL)),
        migrations.AlterField(model_name="auditentry", name="site", field=models.ForeignKey(
            db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="studies.site")),
        migrations.AlterField(model_name="auditentry", name="subject", field=models.ForeignKey(
            db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="audit_entries",
            to="subjects.subject")),
        migrations.AlterField(model_name="auditentry", name="form_record", field=models.ForeignKey(
            db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="audit_entries",
            to="crfs.formrecord")),
        # last: SQLite rebuilt the table for the changes above, which would have dropped the triggers
        migrations.RunPython(forbid_changes, allow_changes),
    ]
