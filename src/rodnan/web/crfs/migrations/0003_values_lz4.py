"""PostgreSQL: a record's ``values`` compressed with LZ4 instead of pglz (decision 0013).

A form's values (e.g. the 36 SF-36 answers, each with its text, unit and display) exceed PostgreSQL's
TOAST threshold, so they were compressed with pglz as they were written; LZ4 costs a fraction of the
CPU. Existing rows keep their compression until rewritten; SQLite has no such setting.
"""

from django.db import migrations


def _set(compression: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f'ALTER TABLE crfs_formrecord ALTER COLUMN "values" SET COMPRESSION {compression}')

    return run


class Migration(migrations.Migration):
    dependencies = [("crfs", "0002_records_log_and_states")]

    operations = [migrations.RunPython(_set("lz4"), _set("pglz"))]
