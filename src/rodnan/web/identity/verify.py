"""The identity history checked against the keyed audit chain and against the stored identities.

The main trail holds, for each identity change, the changed fields' names and a commitment to the values
(:func:`rodnan.core.identity.commitment`). A history row whose values, reason or salt were edited no longer
gives the commitment its chain entry carries; a history row without its entry, or an entry without its row,
is reported too; and each stored identity must equal its history replayed (the last new value of each field).
The chain itself is verified by ``rodnan audit verify`` (:func:`rodnan.web.audit.chain.verify_chain`).
"""

from __future__ import annotations

from rodnan.core.identity import COMMITMENT_ITEM, IDENTITY_FIELDS, changes_from_json, commitment
from rodnan.web.audit.models import AuditEntry
from rodnan.web.identity.models import Identity, IdentityChange

CHANGE_ACTIONS = ("identity.create", "identity.change")


def verify_identity_history() -> list[str]:
    """Every problem found, each naming the history row or the entry (empty: the history is what the chain says).

    Messages name subjects by their database id and entries by number, never an identity value.
    """
    problems: list[str] = []
    entries = {e.seq: e for e in AuditEntry.objects.filter(action__in=CHANGE_ACTIONS)}
    replayed: dict[int, dict[str, str | None]] = {}
    seen: set[int] = set()
    for row in IdentityChange.objects.select_related("identity").order_by("identity_id", "version"):
        where = f"identity history of subject #{row.identity.subject_id}, version {row.version}"
        entry = entries.get(row.audit_seq)
        changes = changes_from_json(row.changes)
        state = replayed.setdefault(row.identity_id, {})
        for change in changes:
            state[change.field] = change.new
        if entry is None:
            problems.append(f"{where}: the audit trail has no identity entry #{row.audit_seq}")
            continue
        seen.add(entry.seq)
        if entry.subject_id != row.identity.subject_id:
            problems.append(f"{where}: entry #{entry.seq} is about another subject")
        named = [item["field"] for item in entry.items if item["field"] != COMMITMENT_ITEM]
        carried = [item["new"] for item in entry.items if item["field"] == COMMITMENT_ITEM]
        if named != [c.field for c in changes]:
            problems.append(f"{where}: the fields changed differ from entry #{entry.seq}'s")
        if carried != [commitment(row.salt, changes, row.reason)]:
            problems.append(f"{where}: the values or the reason differ from what entry #{entry.seq} committed to")
    for seq in sorted(set(entries) - seen):
        problems.append(f"entry #{seq} ({entries[seq].action}) has no row in the identity history")
    for identity in Identity.objects.all():
        state = replayed.get(identity.pk, {})
        stored = identity.as_fields()
        for name in IDENTITY_FIELDS:
            if (getattr(stored, name) or None) != state.get(name):
                problems.append(f"identity of subject #{identity.subject_id}: {name} differs from its history")
    return problems
