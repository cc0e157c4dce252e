"""A subject's rows in memory, changed by plans exactly as the database would be.

The bulk import builds each subject's course with the same plans the screens use, applying each plan
to a :class:`Course` instead of the database, then writes all courses in a few bulk inserts. Tests use
it to follow a subject through the trial without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rodnan.core.records.model import SCHEDULED_SEQ, AuditChange, Plan, RecordKey, RecordSnapshot, SubjectSnapshot, VisitSnapshot


@dataclass
class Course:
    """One subject's fields, visits (by code, in calendar order) and records (by key), and the audit entries so far."""

    protocol_version: str
    subject: SubjectSnapshot | None = None
    visits: dict[str, VisitSnapshot] = field(default_factory=dict)
    records: dict[RecordKey, RecordSnapshot] = field(default_factory=dict)
    audit: list[AuditChange] = field(default_factory=list)

    def apply(self, plan: Plan) -> Course:
        """Apply ``plan`` as :func:`rodnan.web.subjects.store.apply_plan` writes it; returns self."""
        if plan.subject is not None:
            self.subject = plan.subject
        for planned in plan.new_visits:
            self.visits[planned.code] = VisitSnapshot(planned.code, planned.label, planned.day, planned.target,
                                                      planned.window_start, planned.window_end)  # fmt: skip
            for form in planned.forms:
                key: RecordKey = (planned.code, form, SCHEDULED_SEQ)
                self.records[key] = RecordSnapshot(key, protocol_version=self.protocol_version)
        for write in plan.visits:
            self.visits[write.code] = replace(self.visits[write.code], done_on=write.done_on, missed=write.missed,
                                              missed_reason=write.missed_reason)  # fmt: skip
        for record in plan.records:
            self.records[record.record.key] = record.record
        self.audit.extend(plan.audit)
        return self

    def visit_records(self, visit_code: str) -> list[RecordSnapshot]:
        """The scheduled records of one visit, in the order they were placed."""
        return [r for key, r in self.records.items() if key[0] == visit_code]

    def next_seq(self, form_code: str) -> int:
        """The next sequence number of a log form."""
        return 1 + max((key[2] for key in self.records if key[0] is None and key[1] == form_code), default=0)
