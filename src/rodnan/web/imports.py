"""Bulk import of a cohort's paper CRFs: subjects, their visits, their form values and the audit trail.

The interactive actions (:mod:`rodnan.web.subjects.actions`, :mod:`rodnan.web.crfs.actions`) take
about 0.35 s per patient, one transaction per step; migrating thousands of paper CRFs through them
would take hours. :func:`check_import_cohort` writes the same rows with ``bulk_create``, one
transaction per batch of subjects, and keeps every rule the interactive path keeps:

- each subject moves only through :func:`rodnan.core.lifecycle.next_status`, with the dates the
  actions check (nothing in the future; consent, enrolment, infusion and end in order);
- screening numbers and subject IDs are allocated per site as the actions allocate them (the site
  rows are locked while a batch allocates);
- visits come from :func:`rodnan.core.schedule.plan_screening` and ``plan_visits``, one form record
  per form of each visit, as the actions place them;
- form values are checked by :func:`rodnan.core.entry.check_form_entry` and stored exactly as the
  form save stores them (``{code: value.as_json()}``, status complete or incomplete, version 1);
  a value the entry checks reject is left out and listed in the report, never stored;
- enrolment needs the core's eligibility verdict from the screening values (an ineligible subject
  is recorded as a screen failure with the failed criteria), the infusion needs the complete
  infusion form and is checked against the protocol dose;
- every imported item value is one audit entry (action ``form.import``, "" to the value, reason
  "bulk import"), and every lifecycle step has the entries its action writes, all appended to the
  hash chain by :func:`rodnan.web.audit.chain.append` in the batch's transaction.

Values come from a :class:`rodnan.core.simulate.cohort.SimulatedCohort` (its long table has the
layout of a paper-CRF transcription: subject, visit, item, value, unit, date). Dates are moved so
that ``today`` falls inside each subject's course: a few are still screening, consented or waiting
for the infusion, most are in follow-up at different months, some completed, and those the
simulator withdrew, lost or let die are ended when their end falls before today.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from rodnan.core.dose import check_dose
from rodnan.core.eligibility import ScreeningVerdict, evaluate_criteria
from rodnan.core.entry import EnteredValue, FormEntryResult, check_form_entry, facts_from_values
from rodnan.core.lifecycle import SubjectStatus, Transition, next_status
from rodnan.core.protocol import Study as StudyDef
from rodnan.core.schedule import PlannedVisit, plan_screening, plan_visits
from rodnan.core.simulate.cohort import SimulatedCohort
from rodnan.errors import InputError
from rodnan.web.accounts.access import require
from rodnan.web.accounts.roles import Permission
from rodnan.web.audit.chain import Change, ItemChange, append
from rodnan.web.crfs.actions import shown
from rodnan.web.crfs.fields import derived_within
from rodnan.web.crfs.models import FormRecord
from rodnan.web.studies.models import Site, Study
from rodnan.web.studies.protocol import study_definition
from rodnan.web.subjects.models import Subject, Visit

IMPORT_REASON = "bulk import"
"""The reason on every audit entry the import writes."""

CONSENT_VERSION = "2.0 (2009-07-20)"
"""The consent form version the imported subjects signed (the version the demo uses)."""

IMPORT_PERMISSIONS = (
    Permission.SCREEN, Permission.ENTER_DATA, Permission.CONSENT, Permission.SCREEN_FAIL, Permission.ENROL,
    Permission.INFUSE, Permission.END_SUBJECT, Permission.MARK_VISIT,
)  # fmt: skip
"""What the importing user's role must grant at every site: each step the import records."""

PRE_INFUSION_STAGES = (("screening", 0.02), ("consented", 0.01), ("enrolled", 0.01))
"""Stages before the infusion, with the fraction of subjects stopped there; the others are placed in follow-up."""

TAIL_DAYS = 60
"""How far past the simulated end of follow-up ``today`` may fall (the share of completed subjects)."""

END_REASONS = {
    "withdrawn": (Transition.WITHDRAW, "withdrew consent (as recorded on the imported CRF)"),
    "died": (Transition.DIE, "death (as recorded on the imported CRF)"),
    "lost_to_follow_up": (Transition.LOSE_TO_FOLLOW_UP, "lost to follow-up (as recorded on the imported CRF)"),
    "completed": (Transition.COMPLETE, ""),
}
MISSED_REASON = "no visit on the imported CRF"

SQLITE_IMPORT_CACHE_KIB = 512 * 1024
"""SQLite page cache of the importing connection, KiB (the default is 2 MiB)."""

Row = tuple[str, str, str, dt.date]  # item, value as written, unit, visit date (already moved)


@dataclass
class ImportReport:
    """What an import wrote."""

    subjects: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    visits: int = 0
    form_records: int = 0
    forms_saved: int = 0
    values: int = 0
    audit_entries: int = 0
    rejected: list[tuple[str, str, str, str, str]] = field(default_factory=list)  # subject, visit, form, item, rule
    seconds: float = 0.0
    seconds_checks: float = 0.0  # building the courses: entry checks, eligibility, dose, schedule
    seconds_rows: float = 0.0  # bulk inserts of subjects, visits and form records
    seconds_audit: float = 0.0  # hashing and inserting the audit entries (chain.append)


@dataclass
class _Event:
    """An audit entry waiting for the primary keys of the rows it names."""

    action: str
    object_type: str
    object_id: str
    field: str
    old: str
    new: str
    reason: str
    subject: Subject
    record: FormRecord | None = None

    def change(self) -> Change:
        return Change(self.action, self.object_type, self.object_id, self.reason, (ItemChange(self.field, self.old, self.new),),
                      site_id=self.subject.site_id, subject_id=self.subject.pk,
                      form_record_id=self.record.pk if self.record is not None else None)  # fmt: skip


@dataclass
class _Course:
    """One subject as it will be written: the rows and, in order, the audit entries."""

    subject: Subject
    visits: list[Visit] = field(default_factory=list)
    records: list[tuple[Visit, FormRecord]] = field(default_factory=list)
    events: list[_Event] = field(default_factory=list)


def _reason(detail: str = "") -> str:
    return f"{IMPORT_REASON}: {detail}" if detail else IMPORT_REASON


def _text(value: object) -> str:
    return "" if value in (None, "") else (value.isoformat() if isinstance(value, dt.date) else str(value))


class _Numbers:
    """Screening numbers and subject IDs of locked sites, allocated as the actions allocate them (count + 1)."""

    def __init__(self, sites: dict[int, Site]) -> None:
        counts = Subject.objects.filter(site__in=list(sites)).values("site_id").annotate(
            n=Count("id"), coded=Count("id", filter=Q(subject_code__isnull=False)))  # fmt: skip
        self.screened = Counter({row["site_id"]: row["n"] for row in counts})
        self.coded = Counter({row["site_id"]: row["coded"] for row in counts})

    def screening_number(self, site: Site) -> str:
        self.screened[site.pk] += 1
        return f"{site.code}-S{self.screened[site.pk]:04d}"

    def subject_code(self, site: Site) -> str:
        self.coded[site.pk] += 1
        return f"{site.code}-{self.coded[site.pk]:03d}"


class _Builder:
    """Builds one subject's course in memory, step by step as the actions would take it."""

    def __init__(self, definition: StudyDef, study: Study, user: Any, now: dt.datetime, today: dt.date,
                 report: ImportReport) -> None:  # fmt: skip
        self.definition, self.study, self.user, self.now, self.today = definition, study, user, now, today
        self.report = report
        self.version = definition.protocol.version
        self.date_items = {item.code for item in definition.items if item.type == "date"}
        self.shift = dt.timedelta(0)

    # -- rows -------------------------------------------------------------------------------------
    def _visit(self, course: _Course, planned: PlannedVisit) -> Visit:
        visit = Visit(subject=course.subject, code=planned.code, label=planned.label, day=planned.day,
                      target_date=planned.target, window_start=planned.window_start, window_end=planned.window_end)  # fmt: skip
        course.visits.append(visit)
        for form in planned.forms:
            course.records.append(
                (visit, FormRecord(subject=course.subject, visit=visit, form_code=form, protocol_version=self.version))
            )
        return visit

    def _event(self, course: _Course, action: str, object_type: str, object_id: str, field_name: str, old: object,
               new: object, reason: str = IMPORT_REASON, record: FormRecord | None = None) -> None:  # fmt: skip
        course.events.append(_Event(action, object_type, object_id, field_name, _text(old), _text(new), reason,
                                    course.subject, record))  # fmt: skip

    def _transition(self, course: _Course, transition: Transition, detail: str = "") -> None:
        subject = course.subject
        old = subject.status
        subject.status = next_status(SubjectStatus(old), transition).value
        subject.version += 1
        self._event(course, f"subject.{transition.value}", "subject", subject.label, "status", old, subject.status,
                    _reason(detail))  # fmt: skip

    def _check_date(self, name: str, value: dt.date, not_before: dt.date | None) -> None:
        if value > self.today or (not_before is not None and value < not_before):
            raise InputError(name, f"must lie between {_text(not_before) or 'the start'} and today", value.isoformat())

    def _entries(self, form: str, rows: Sequence[Row]) -> dict[str, tuple[str, str | None]]:
        """A form's entries from the visit's CRF rows (date answers moved like the visit dates)."""
        definition = self.definition.form_by_code[form]
        # items the form computes from its own answers (the mRSS total, SF-36 scores) are not stored, as on screen
        items = set(definition.items) - derived_within(self.definition, definition)
        return {
            item: ((dt.date.fromisoformat(value) + self.shift).isoformat() if item in self.date_items else value, unit or None)
            for item, value, unit, _ in rows
            if item in items and value != ""
        }

    def _check(self, course: _Course, visit_code: str, form: str, entries: dict[str, tuple[str, str | None]]
               ) -> FormEntryResult:  # fmt: skip
        """The entry check of one form, with values in error left out (and reported); warnings confirmed as on paper."""
        entry = check_form_entry(self.definition, form, entries, set(entries))
        if entry.errors:
            for code, issue in entry.errors.items():
                self.report.rejected.append((course.subject.label, visit_code, form, code, issue.rule))
                entries.pop(code, None)
            entry = check_form_entry(self.definition, form, entries, set(entries))
        return entry

    def _store(self, course: _Course, visit: Visit, record: FormRecord, entry: FormEntryResult, complete: bool) -> None:
        """Store the values as the form save does, with one ``form.import`` entry per value."""
        record.values = {code: value.as_json() for code, value in entry.values.items()}
        record.confirmed_warnings = sorted(entry.confirmed_warnings)
        record.status = FormRecord.Status.COMPLETE if complete else FormRecord.Status.INCOMPLETE
        record.version = 1
        record.updated_at, record.updated_by = self.now, self.user
        where = f"{course.subject.label}/{visit.code}/{record.form_code}"
        for code in self.definition.form_by_code[record.form_code].items:
            if code in record.values:
                self._event(course, "form.import", "form", where, code, "", shown(record.values[code]), record=record)
        for code in record.confirmed_warnings:
            self._event(course, "form.confirm_warning", "form", where, code, "", entry.confirmed_warnings[code].rule,
                        record=record)  # fmt: skip
        self.report.forms_saved += 1
        self.report.values += len(record.values)

    def _enter_visit(self, course: _Course, visit: Visit, rows: Sequence[Row], done_on: dt.date) -> None:
        """Enter a visit's forms from its CRF rows: the visit is done on ``done_on`` (one ``visit.done`` entry)."""
        saved = False
        for record_visit, record in course.records:
            if record_visit is not visit:
                continue
            entries = self._entries(record.form_code, rows)
            if not entries:
                continue
            entry = self._check(course, visit.code, record.form_code, entries)
            if not entry.values:
                continue
            if not saved:
                visit.done_on, visit.missed = done_on, False
                self._event(course, "visit.done", "visit", f"{course.subject.label}/{visit.code}", "done_on", "", done_on)
                saved = True
            self._store(course, visit, record, entry, entry.complete)

    # -- the course -------------------------------------------------------------------------------
    def build(self, site: Site, numbers: _Numbers, info: dict[str, Any], rows: dict[str, list[Row]], stage: str,
              shift: dt.timedelta) -> _Course:  # fmt: skip
        """The course of one subject, up to ``stage`` (or as far as ``today`` reaches for "follow_up")."""
        self.shift = shift

        def moved(name: str) -> dt.date | None:
            text = str(info.get(name) or "")
            return dt.date.fromisoformat(text) + shift if text else None

        screened = moved("screening_date")
        assert screened is not None
        self._check_date("screening_date", screened, None)
        subject = Subject(study=self.study, site=site, screening_number=numbers.screening_number(site),
                          status=SubjectStatus.SCREENING.value, screening_date=screened, version=1)  # fmt: skip
        course = _Course(subject)
        self._event(course, "subject.screen", "subject", subject.label, "screening_number", "", subject.screening_number)
        self._event(course, "subject.screen", "subject", subject.label, "screening_date", None, screened)
        screening = self._visit(course, plan_screening(self.definition, screened))
        scr_rows = rows.get(screening.code, [])
        if scr_rows and scr_rows[0][3] <= self.today:
            self._enter_visit(course, screening, scr_rows, scr_rows[0][3])
        consent = moved("consent_date")
        if stage == "screening" or consent is None or consent > self.today:
            return course
        self._check_date("consent_date", consent, None)
        self._transition(course, Transition.CONSENT)
        subject.consent_version, subject.consent_date = CONSENT_VERSION, consent
        self._event(course, "subject.consent", "subject", subject.label, "consent_version", "", CONSENT_VERSION)
        self._event(course, "subject.consent", "subject", subject.label, "consent_date", None, consent)
        enrolment = moved("enrolment_date")
        if stage == "consented" or enrolment is None or enrolment > self.today:
            return course
        self._check_date("enrolment_date", enrolment, consent)
        if not self._enrol(course, screening, enrolment, numbers):
            return course
        infusion = moved("infusion_date")
        if stage == "enrolled" or infusion is None or infusion > self.today:
            return course
        if not self._infuse(course, rows.get("D0", []), enrolment):
            return course
        self._follow_up(course, info, rows, moved("death_date") or moved("end_date"))
        return course

    def _enrol(self, course: _Course, screening: Visit, enrolment: dt.date, numbers: _Numbers) -> bool:
        subject = course.subject
        merged: dict[str, EnteredValue] = {}
        for visit, record in course.records:  # the screening values, later records winning (as screening_values)
            if visit is screening:
                merged.update({code: EnteredValue.from_json(data) for code, data in record.values.items()})
        result = evaluate_criteria(self.definition, facts_from_values(merged))
        if result.verdict is not ScreeningVerdict.ELIGIBLE:
            failed = [c.label for c in result.criteria if c.kind != "pathway" and c.verdict.value != "met"]
            reason = f"not {result.verdict.value}: " + "; ".join(failed[:3])
            self._transition(course, Transition.SCREEN_FAIL, reason)
            subject.screen_fail_reason, subject.end_date = reason, enrolment
            return False
        self._transition(course, Transition.ENROL, f"eligible; qualifying pathway(s): {', '.join(result.qualifying_pathways)}")
        subject.subject_code, subject.enrolment_date = numbers.subject_code(subject.site), enrolment
        self._event(course, "subject.enrol", "subject", subject.label, "subject_code", "", subject.subject_code)
        self._event(course, "subject.enrol", "subject", subject.label, "enrolment_date", None, enrolment)
        return True

    def _infuse(self, course: _Course, d0_rows: Sequence[Row], enrolment: dt.date) -> bool:
        subject = course.subject
        form = self.definition.form_by_code["infusion"]
        entry = self._check(course, "D0", "infusion", self._entries("infusion", d0_rows))
        if not entry.complete or any(code not in entry.values for code in form.items):
            self.report.rejected.append((subject.label, "D0", "infusion", "form", "incomplete: the infusion is not recorded"))
            return False
        infusion = dt.date.fromisoformat(str(entry.values["infusion_date"].value))
        self._check_date("infusion_date", infusion, enrolment)
        cells, weight = entry.values["cells_administered"].value, entry.values["infusion_weight"].value
        dose = check_dose(self.definition, float(cells), float(weight)) if cells is not None and weight is not None else None
        self._transition(course, Transition.INFUSE, dose.message if dose else "")
        subject.infusion_date = infusion
        planned = [p for p in plan_visits(self.definition, infusion) if p.day >= 0]
        visits = [self._visit(course, p) for p in planned]
        d0 = next(v for v in visits if v.day == 0)
        d0.done_on = infusion
        record = next(r for v, r in course.records if v is d0 and r.form_code == "infusion")
        self._store(course, d0, record, entry, True)
        self._event(course, "visit.schedule", "subject", subject.label, "visits", "", f"{len(planned)} visits from {infusion}")
        return True

    def _follow_up(self, course: _Course, info: dict[str, Any], rows: dict[str, list[Row]], end: dt.date | None) -> None:
        subject = course.subject
        status = str(info.get("status") or "")
        ends = end is not None and end <= self.today and status in END_REASONS
        stop_at = min(self.today, end) if ends and end is not None else self.today
        for visit in course.visits:
            if visit.day <= 0:
                continue
            visit_rows = rows.get(visit.code, [])
            if visit_rows and visit_rows[0][3] <= stop_at:
                self._check_date("visit_date", visit_rows[0][3], subject.infusion_date)
                self._enter_visit(course, visit, visit_rows, visit_rows[0][3])
            elif not visit_rows and visit.window_end < stop_at:
                visit.missed, visit.missed_reason = True, _reason(MISSED_REASON)
                self._event(course, "visit.missed", "visit", f"{subject.label}/{visit.code}", "missed", "no", "yes",
                            visit.missed_reason)  # fmt: skip
        if not ends or end is None:
            return
        transition, detail = END_REASONS[status]
        if transition is Transition.COMPLETE:
            end = max((v.done_on for v in course.visits if v.done_on), default=end)
        self._check_date("end_date", end, subject.infusion_date)
        self._transition(course, transition, detail)
        subject.end_date, subject.end_reason = end, detail
        self._event(course, f"subject.{transition.value}", "subject", subject.label, "end_date", None, end)


def plan_stages(cohort: SimulatedCohort, today: dt.date, seed: int | None = None) -> list[tuple[str, dt.timedelta]]:
    """Per subject of the cohort, the stage to stop at and the shift that moves its dates around ``today``.

    A few (:data:`PRE_INFUSION_STAGES`) stop before the infusion, with today the day before it; the
    others are placed with today uniformly between their infusion and :data:`TAIL_DAYS` past their
    simulated end, so they are in follow-up at different months, completed, or ended as simulated.
    """
    rng = np.random.default_rng(cohort.seed + 1 if seed is None else seed)
    frame = cohort.subjects
    n = len(frame)
    draw, position = rng.random(n), rng.random(n)
    out: list[tuple[str, dt.timedelta]] = []
    for i, (infusion, end) in enumerate(zip(frame["infusion_date"].tolist(), frame["end_date"].tolist(), strict=True)):
        infused = dt.date.fromisoformat(str(infusion))
        stage, low = "follow_up", 0.0
        for name, fraction in PRE_INFUSION_STAGES:
            if low <= draw[i] < low + fraction:
                stage = name
            low += fraction
        if stage != "follow_up":
            out.append((stage, today - dt.timedelta(days=1) - infused))
            continue
        span = (dt.date.fromisoformat(str(end)) - infused).days + TAIL_DAYS if end else 365 + TAIL_DAYS
        out.append((stage, today - dt.timedelta(days=int(position[i] * span)) - infused))
    return out


def _rows_by_subject(cohort: SimulatedCohort, first: int, stop: int, shifts: Sequence[dt.timedelta]
                     ) -> list[dict[str, list[Row]]]:  # fmt: skip
    frame = cohort.values_frame(first, stop)
    index = {sid: i for i, sid in enumerate(cohort.subjects["subject_id"].tolist()[first:stop])}
    out: list[dict[str, list[Row]]] = [{} for _ in range(stop - first)]
    dates: dict[str, dt.date] = {}
    columns = (frame[c].tolist() for c in ("subject_id", "visit", "item", "value", "unit", "date"))
    for sid, visit, item, value, unit, date in zip(*columns, strict=True):
        i = index[sid]
        day = dates.get(date) or dates.setdefault(date, dt.date.fromisoformat(date))
        out[i].setdefault(visit, []).append((item, value, unit, day + shifts[first + i]))
    return out


def _write(courses: list[_Course], user: Any, role_code: str, report: ImportReport) -> None:
    """Insert the batch's rows, then append its audit entries to the chain."""
    start = time.perf_counter()
    Subject.objects.bulk_create([c.subject for c in courses])
    Visit.objects.bulk_create([v for c in courses for v in c.visits])
    FormRecord.objects.bulk_create([r for c in courses for _, r in c.records])
    middle = time.perf_counter()
    changes = [event.change() for c in courses for event in c.events]
    append(user=user, role=role_code, changes=changes, source="import")
    report.audit_entries += len(changes)
    report.seconds_rows += middle - start
    report.seconds_audit += time.perf_counter() - middle


def do_import_cohort(
    user: Any, role_code: str, sites: Iterable[Site], cohort: SimulatedCohort, today: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None, *, batch_size: int = 50, seed: int | None = None,
) -> ImportReport:  # fmt: skip
    """Import every subject of ``cohort``, spread over ``sites`` in turn; the caller has checked ``user``'s role.

    One transaction per ``batch_size`` subjects; ``progress(done, total)`` after each.

    Raises:
        InputError: no sites, sites of different studies, or a date of the cohort that breaks the
            order the actions enforce (nothing of that batch is written).
    """
    started = timezone.now()
    sites = list(sites)
    if not sites:
        raise InputError("sites", "at least one site is needed", None)
    study = sites[0].study
    if any(site.study_id != study.pk for site in sites):
        raise InputError("sites", "must all belong to one study", [s.code for s in sites])
    today = today or timezone.localdate()
    definition = study_definition(study)
    report = ImportReport()
    with _sqlite_cache(SQLITE_IMPORT_CACHE_KIB):
        _import(user, role_code, sites, cohort, today, progress, batch_size, seed, study, definition, report)
    report.seconds = (timezone.now() - started).total_seconds()
    return report


@contextmanager
def _sqlite_cache(kib: int) -> Iterator[None]:
    """On SQLite, a larger page cache for this connection while the import runs (restored after).

    Each audit entry adds a key at a random place of the unique index on its hash; with SQLite's
    default 2 MiB cache nearly every such insert reads a page back from the file.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


def _import(user: Any, role_code: str, sites: list[Site], cohort: SimulatedCohort, today: dt.date,
            progress: Callable[[int, int], None] | None, batch_size: int, seed: int | None, study: Study,
            definition: StudyDef, report: ImportReport) -> None:  # fmt: skip
    stages = plan_stages(cohort, today, seed)
    shifts = [shift for _, shift in stages]
    subjects = cohort.subjects.to_dict("records")
    total = len(subjects)
    for first in range(0, total, batch_size):
        stop = min(first + batch_size, total)
        rows = _rows_by_subject(cohort, first, stop, shifts)
        with transaction.atomic():
            locked = {s.pk: s for s in Site.objects.select_for_update().filter(pk__in=[s.pk for s in sites]).order_by("pk")}
            numbers = _Numbers(locked)
            builder = _Builder(definition, study, user, timezone.now(), today, report)
            courses = []
            start = time.perf_counter()
            for i in range(first, stop):
                stage, shift = stages[i]
                site = locked[sites[i % len(sites)].pk]
                courses.append(builder.build(site, numbers, subjects[i], rows[i - first], stage, shift))
            report.seconds_checks += time.perf_counter() - start
            _write(courses, user, role_code, report)
        for course in courses:
            report.subjects += 1
            report.statuses[course.subject.status] += 1
            report.visits += len(course.visits)
            report.form_records += len(course.records)
        if progress:
            progress(stop, total)


def check_import_cohort(
    user: Any, sites: Iterable[Site], cohort: SimulatedCohort, today: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None, *, batch_size: int = 50, seed: int | None = None,
) -> ImportReport:  # fmt: skip
    """Import ``cohort`` (see :func:`do_import_cohort`) after checking that ``user`` holds, at every site,
    one role that grants each step the import records (screening to end of follow-up: an investigator).

    Raises:
        AccessDeniedError: the user's role at a site lacks one of :data:`IMPORT_PERMISSIONS`.
        InputError: the user holds different roles at the sites (the audit entries name one role).
    """
    sites = list(sites)
    roles = {require(user, permission, site).code for site in sites for permission in IMPORT_PERMISSIONS}
    if len(roles) != 1:
        raise InputError("role", "the importing user must hold one role at every site", sorted(roles))
    return do_import_cohort(user, roles.pop(), sites, cohort, today, progress, batch_size=batch_size, seed=seed)
