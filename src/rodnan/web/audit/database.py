"""PostgreSQL: run the application as a role that cannot change or delete audit entries (decision 0011).

The tables belong to the owner role that runs the migrations; the application connects as another
role with read and write rights on every table except the audit entries, where it may only read and
insert (the chain's head row still takes UPDATE). Even with the triggers dropped by someone who holds
only the application's password, PostgreSQL then refuses UPDATE, DELETE and TRUNCATE of audit entries.
"""

from __future__ import annotations

import re

from rodnan.errors import InputError

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def app_role_statements(role: str) -> list[str]:
    """The statements (run by the owner, after every migration) that give ``role`` the application's rights.

    Raises:
        InputError: naming ``role`` when it is not a plain lower-case PostgreSQL identifier.
    """
    if not _ROLE.match(role):
        raise InputError("role", "must be a lower-case PostgreSQL role name (letters, digits, _)", role)
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON audit_auditentry FROM {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON identity_identitychange FROM {role}",  # decision 0020
    ]


def grant_app_role(role: str) -> list[str]:
    """Run :func:`app_role_statements` on the configured PostgreSQL database (as its owner); returns them.

    Raises:
        InputError: the database is not PostgreSQL, or ``role`` is not a plain role name.
    """
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        raise InputError("DATABASE_URL", "roles exist on PostgreSQL only; on SQLite the triggers are the database's guard",
                         connection.vendor)  # fmt: skip
    statements = app_role_statements(role)
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return statements
