"""PostgreSQL: the audit entries' ``changes`` text compressed with LZ4 instead of pglz (decision 0013).

An entry that carries a form's values is several kilobytes, above PostgreSQL's TOAST threshold, so
every entry was compressed with pglz as it was written; LZ4 compresses such text about as well at a
fraction of the CPU, which the bulk import spends on the database server. Existing rows keep their
compression until rewritten; SQLite has no such setting (nothing to do).
"""

from django.db import migrations


def _set(compression: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE audit_auditentry ALTER COLUMN changes SET COMPRESSION {compression}")

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_keyed_chain_entries")]

    operations = [migrations.RunPython(_set("lz4"), _set("pglz"))]
