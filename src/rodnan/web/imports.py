"""Bulk import of a cohort's paper CRFs: subjects, their visits, their records and the audit trail.

The import takes each subject through the same plans as the screens (:mod:`rodnan.core.records`:
open screening, save record, consent, enrol, infusion, missed visit, end of participation), applied
to an in-memory :class:`rodnan.core.records.course.Course` instead of the database, so no rule exists
twice: a value the screens refuse is refused here with the same named error. Then each batch of
subjects is written with a few bulk inserts and its audit entries appended to the chain in one
batch (source ``import``), in one transaction per batch.

What the import adds of its own is only what paper brings: values the entry checks reject are left
out and listed in the report (never stored), soft-range warnings count as confirmed (the paper form
is the source), and an ineligible subject is recorded as a screen failure with the failed criteria.

Values come from a :class:`rodnan.core.simulate.cohort.SimulatedCohort` (its long table has the
layout of a paper-CRF transcription: subject, visit, item, value, unit, date). Two modes:

- ``as_simulated=False`` (the demo-like default): dates are moved so that ``today`` falls inside each
  subject's course: a few are still screening, consented or waiting for the infusion, most are in
  follow-up at different months, some completed, and those the simulator withdrew, lost or let die
  are ended when their end falls before today (:func:`plan_stages`);
- ``as_simulated=True``: the simulator's dates and courses as they are, up to ``today`` (for the
  round trip of simulated files and database).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import groupby, repeat
from typing import Any, cast

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from rodnan.core.analysis.datasets import SUBJECT_INFUSION_DATE
from rodnan.core.lifecycle import SubjectStatus, Transition
from rodnan.core.protocol import Study as StudyDef
from rodnan.core.records import record_plans, subject_plans
from rodnan.core.records.checks import EARLY_COMPLETION, VISIT_WINDOW
from rodnan.core.records.course import Course
from rodnan.core.records.errors import EntryRejectedError
from rodnan.core.records.model import RecordSnapshot
from rodnan.core.simulate.cohort import SimulatedCohort
from rodnan.core.workers import default_workers, fewer_collections, run_ordered
from rodnan.errors import InputError
from rodnan.web.accounts.access import require
from rodnan.web.accounts.roles import Permission
from rodnan.web.crfs.fields import derived_within
from rodnan.web.import_rows import CourseRows, course_rows, write_course_rows
from rodnan.web.studies.models import Site, Study
from rodnan.web.studies.protocol import study_definition
from rodnan.web.subjects.models import Subject

IMPORT_REASON = "bulk import"
"""The reason given on the import's steps that ask for one."""

CONSENT_VERSION = "2.0 (2009-07-20)"
"""The consent form version the imported subjects signed (the version the demo uses)."""

IMPORT_PERMISSIONS = (
    Permission.SCREEN, Permission.ENTER_DATA, Permission.CONSENT, Permission.SCREEN_FAIL, Permission.ENROL,
    Permission.INFUSE, Permission.END_SUBJECT, Permission.MARK_VISIT,
)  # fmt: skip
"""What the importing user's role must grant at every site: each step the import records."""

PRE_INFUSION_STAGES = ((SubjectStatus.SCREENING, 0.02), (SubjectStatus.CONSENTED, 0.01), (SubjectStatus.ENROLLED, 0.01))
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
    seconds_checks: float = 0.0  # the plans: entry checks, eligibility, dose, schedule, states
    seconds_rows: float = 0.0  # bulk inserts of subjects, visits and records
    seconds_audit: float = 0.0  # the audit entries (chain.append)


class _Numbers:
    """Screening numbers and subject IDs of locked sites, allocated as the actions allocate them (count + 1)."""

    def __init__(self, sites: dict[int, Site]) -> None:
        counts = Subject.objects.filter(site__in=list(sites)).values("site_id").annotate(
            n=Count("id"), coded=Count("id", filter=Q(subject_code__isnull=False)))  # fmt: skip
        self.screened = Counter({row["site_id"]: row["n"] for row in counts})
        self.coded = Counter({row["site_id"]: row["coded"] for row in counts})

    def next_screening(self, site: Site) -> int:
        self.screened[site.pk] += 1
        return self.screened[site.pk]

    def next_subject(self, site: Site) -> int:
        self.coded[site.pk] += 1
        return self.coded[site.pk]

    def release_subject(self, site: Site) -> None:
        """Give back the subject number just taken (the enrolment it was for was refused)."""
        self.coded[site.pk] -= 1


class _Builder:
    """Builds one subject's course in memory, step by step through the plans the screens use."""

    def __init__(self, definition: StudyDef, today: dt.date, report: ImportReport) -> None:
        self.definition, self.today, self.report = definition, today, report
        self.date_items = {item.code for item in definition.items if item.type == "date"}
        stored = {f.code: set(f.items) - derived_within(definition, f) for f in definition.forms}
        self.forms_of: dict[str, tuple[str, ...]] = {}  # item -> the forms that store it
        for form in definition.forms:
            for item in sorted(stored[form.code]):
                self.forms_of[item] = (*self.forms_of.get(item, ()), form.code)
        self.shift = dt.timedelta(0)

    def _entries_by_form(self, rows: Sequence[Row]) -> dict[str, dict[str, tuple[str, str | None]]]:
        """A visit's CRF rows as each form's entries (date answers moved like the visit dates); items a form
        computes from its own answers (the mRSS total, SF-36 scores) are not stored, as on screen."""
        by_form: dict[str, dict[str, tuple[str, str | None]]] = {}
        for item, value, unit, _ in rows:
            if value == "":
                continue
            for code in self.forms_of.get(item, ()):
                shown = (dt.date.fromisoformat(value) + self.shift).isoformat() if item in self.date_items else value
                by_form.setdefault(code, {})[item] = (shown, unit or None)
        return by_form

    def _drop_errors(self, course: Course, visit_code: str, form: str, exc: InputError,
                     entries: dict[str, tuple[str, str | None]]) -> bool:  # fmt: skip
        """Leave out (and report) the values the plan refused as errors: paper values in error are never stored.

        Returns True when something was left out (the plan may be asked again), False for any other refusal.
        """
        assert course.subject is not None
        errors = exc.entry.errors if isinstance(exc, EntryRejectedError) else {}
        for code, issue in errors.items():
            self.report.rejected.append((course.subject.label, visit_code, form, code, issue.rule))
            entries.pop(code, None)
        if not errors:
            self.report.rejected.append((course.subject.label, visit_code, form, exc.field, exc.rule))
        return bool(errors)

    def _save(self, course: Course, record: RecordSnapshot, entries: dict[str, tuple[str, str | None]], done_on: dt.date
              ) -> None:  # fmt: skip
        assert course.subject is not None
        visit_code, form, _ = record.key
        plan = None
        while entries and plan is None:
            try:
                plan = record_plans.plan_save_record(
                    self.definition, course.subject, record, entries, today=self.today, expected_version=record.version,
                    confirmed={*entries, VISIT_WINDOW}, reason=IMPORT_REASON, visit=course.visits[str(visit_code)],
                    visit_date=done_on,
                )  # fmt: skip
            except InputError as exc:
                if not self._drop_errors(course, str(visit_code), form, exc, entries):
                    return
        if plan is None or plan.empty:
            return
        course.apply(plan)
        self.report.forms_saved += 1
        self.report.values += len(course.records[record.key].values)

    def _add_logs(self, course: Course, rows: Sequence[Row], link: str | None) -> None:
        """The log forms' entries among a visit's rows (a pregnancy test), each added as one log record."""
        by_form = self._entries_by_form(rows)
        assert course.subject is not None
        for form in self.definition.log_forms:
            entries = by_form.get(form.code)
            if not entries or form.log is None or form.log.start not in entries:
                continue
            try:
                seq = course.next_seq(form.code)
                plan = record_plans.plan_add_log_record(self.definition, course.subject, form.code, seq, entries,
                                                        today=self.today, confirmed=set(entries), visit_code=link)  # fmt: skip
            except InputError as exc:
                self.report.rejected.append((course.subject.label, link or "", form.code, exc.field, exc.rule))
                continue
            course.apply(plan)
            self.report.forms_saved += 1
            self.report.values += len(entries)

    def _enter_visit(self, course: Course, visit_code: str, rows: Sequence[Row], done_on: dt.date) -> None:
        intervention = self.definition.intervention_form.code
        by_form = self._entries_by_form(rows)
        for record in course.visit_records(visit_code):
            if record.form_code != intervention:
                self._save(course, record, dict(by_form.get(record.form_code, {})), done_on)

    def build(self, site: Site, numbers: _Numbers, info: dict[str, Any], rows: dict[str, list[Row]], stage: str,
              shift: dt.timedelta) -> Course:  # fmt: skip
        """The course of one subject, up to ``stage`` (or as far as ``today`` reaches for "in_follow_up")."""
        self.shift = shift
        definition, today = self.definition, self.today

        def moved(name: str) -> dt.date | None:
            text = str(info.get(name) or "")
            return dt.date.fromisoformat(text) + shift if text else None

        course = Course(definition.protocol.version)
        screened = moved("screening_date")
        if screened is None:
            raise InputError("screening_date", "is required for every imported subject", info.get("subject_id"))
        course.apply(subject_plans.plan_open_screening(definition, site.code, numbers.next_screening(site), screened, today))
        screening = next(iter(course.visits))
        scr_rows = rows.get(screening, [])
        if scr_rows and scr_rows[0][3] <= today:
            self._enter_visit(course, screening, scr_rows, scr_rows[0][3])
            self._add_logs(course, scr_rows, screening)
        consent = moved("consent_date")
        if stage == SubjectStatus.SCREENING or consent is None or consent > today:
            return course
        assert course.subject is not None
        course.apply(subject_plans.plan_consent(course.subject, CONSENT_VERSION, consent, today))
        enrolment = moved("enrolment_date")
        if stage == SubjectStatus.CONSENTED or enrolment is None or enrolment > today:
            return course
        if not self._enrol(course, screening, enrolment, numbers, site):
            return course
        infusion = moved(SUBJECT_INFUSION_DATE)
        if stage == SubjectStatus.ENROLLED or infusion is None or infusion > today:
            return course
        if not self._infuse(course, rows):
            return course
        self._follow_up(course, info, rows, moved("death_date") or moved("end_date"))
        return course

    def _enrol(self, course: Course, screening: str, enrolment: dt.date, numbers: _Numbers, site: Site) -> bool:
        assert course.subject is not None
        values = subject_plans.screening_values(course.records.values(), {screening})
        try:
            plan = subject_plans.plan_enrol(self.definition, course.subject, values, enrolment, numbers.next_subject(site),
                                            site.code, self.today)  # fmt: skip
        except InputError as exc:
            if exc.field != "eligibility":
                raise
            numbers.release_subject(site)
            result = subject_plans.screening_result(self.definition, values)
            failed = [c.label for c in result.criteria if c.kind != "pathway" and c.verdict.value != "met"]
            reason = f"not {result.verdict.value}: " + "; ".join(failed[:3])
            course.apply(subject_plans.plan_screen_fail(course.subject, reason, self.today, on=enrolment))
            return False
        course.apply(plan)
        return True

    def _infuse(self, course: Course, rows: dict[str, list[Row]]) -> bool:
        assert course.subject is not None
        form = self.definition.intervention_form
        day0 = next((v.code for v in self.definition.schedule.visits if form.code in v.forms), "")
        entries = self._entries_by_form(rows.get(day0, [])).get(form.code, {})
        self._add_logs(course, rows.get(day0, []), None)  # what the infusion requires (a pregnancy test before it)
        try:
            plan = subject_plans.plan_infusion(self.definition, course.subject, entries, set(entries), self.today,
                                               records=course.records.values())  # fmt: skip
        except InputError as exc:
            self.report.rejected.append(
                (course.subject.label, day0, form.code, exc.field, f"the infusion is not recorded: {exc.rule}")
            )
            return False
        course.apply(plan)
        self.report.forms_saved += 1
        self.report.values += len(plan.records[0].record.values)
        day0_rows = rows.get(day0, [])
        if day0_rows:  # the day's other forms (the vital signs around the infusion), on the infusion date
            self._enter_visit(course, day0, day0_rows, course.visits[day0].done_on or self.today)
        return True

    def _follow_up(self, course: Course, info: dict[str, Any], rows: dict[str, list[Row]], end: dt.date | None) -> None:
        assert course.subject is not None
        status = str(info.get("status") or "")
        ends = end is not None and end <= self.today and status in END_REASONS
        stop_at = min(self.today, end) if ends and end is not None else self.today
        for code, visit in list(course.visits.items()):
            if visit.day <= 0:
                continue
            visit_rows = rows.get(code, [])
            if visit_rows and visit_rows[0][3] <= stop_at:
                self._enter_visit(course, code, visit_rows, visit_rows[0][3])
            elif not visit_rows and visit.window_end < stop_at:
                course.apply(subject_plans.plan_mark_visit_missed(course.subject, visit, f"{IMPORT_REASON}: {MISSED_REASON}"))
        if not ends or end is None:
            return
        transition, detail = END_REASONS[status]
        if transition is Transition.COMPLETE:
            end = max((v.done_on for v in course.visits.values() if v.done_on), default=end)
            if end < max(v.window_start for v in course.visits.values()):  # the rule early_completion wants a reason
                detail = "follow-up completed before the last scheduled visit (as recorded on the imported CRF)"
        course.apply(subject_plans.plan_end_subject(course.subject, transition, end, detail, self.today,
                                                    course.visits.values(), course.records.values(),
                                                    confirmed={EARLY_COMPLETION}))  # fmt: skip


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
    for i, (infusion, end) in enumerate(zip(frame[SUBJECT_INFUSION_DATE].tolist(), frame["end_date"].tolist(), strict=True)):
        infused = dt.date.fromisoformat(str(infusion))
        stage, low = SubjectStatus.IN_FOLLOW_UP.value, 0.0
        for name, fraction in PRE_INFUSION_STAGES:
            if low <= draw[i] < low + fraction:
                stage = name
            low += fraction
        if stage != SubjectStatus.IN_FOLLOW_UP.value:
            out.append((stage, today - dt.timedelta(days=1) - infused))
            continue
        span = (dt.date.fromisoformat(str(end)) - infused).days + TAIL_DAYS if end else 365 + TAIL_DAYS
        out.append((stage, today - dt.timedelta(days=int(position[i] * span)) - infused))
    return out


def _rows_by_subject(cohort: SimulatedCohort, positions: Sequence[int], shifts: Sequence[dt.timedelta]
                     ) -> list[dict[str, list[Row]]]:  # fmt: skip
    """The CRF rows of the subjects at ``positions`` of the cohort, by visit, dates moved by each one's shift."""
    table = cohort.value_columns(subjects=positions)
    ids = cohort.subjects["subject_id"].tolist()
    index = {ids[p]: k for k, p in enumerate(positions)}
    out: list[dict[str, list[Row]]] = [{} for _ in positions]
    items, values, units = table["item"], table["value"], table["unit"]
    start = 0
    # the table is ordered by subject and visit: each run of one (subject, visit, date) is sliced at once
    for (sid, visit, date), run in groupby(zip(table["subject_id"], table["visit"], table["date"], strict=True)):
        stop = start + len(list(run))
        k = index[sid]
        day = dt.date.fromisoformat(date) + shifts[positions[k]]
        visit_rows = out[k].get(visit)
        if visit_rows is None:
            visit_rows = out[k][visit] = []
        visit_rows.extend(zip(items[start:stop], values[start:stop], units[start:stop], repeat(day, stop - start), strict=True))
        start = stop
    return out


@dataclass
class _Chunk:
    """One batch of subjects built (in a worker process or here): their courses, and the site numbers the
    build started from (the batch is rebuilt when the sites' numbers moved meanwhile)."""

    positions: list[int]
    started_at: dict[int, tuple[int, int]]  # site id -> (screened, coded) before the batch
    rows: CourseRows
    report: ImportReport


def do_import_cohort(
    user: Any, role_code: str, sites: Iterable[Site], cohort: SimulatedCohort, today: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None, *, batch_size: int = 50, seed: int | None = None,
    as_simulated: bool = False, workers: int | None = None,
) -> ImportReport:  # fmt: skip
    """Import every subject of ``cohort``, spread over ``sites`` in turn; the caller has checked ``user``'s role.

    One transaction per ``batch_size`` subjects of a site group; ``progress(done, total)`` after each. With
    ``as_simulated`` the simulator's dates and courses are kept as they are, up to ``today``. The courses
    are built in ``workers`` forked processes (default: one per processor; never more than the sites),
    each for its share of the sites, and written here in a fixed order (:mod:`rodnan.core.workers`); the
    result does not depend on the number of workers.

    Raises:
        InputError: no sites, sites of different studies, or a date of the cohort that breaks the
            order the plans enforce (nothing of that batch is written).
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
    kept = [(SubjectStatus.IN_FOLLOW_UP.value, dt.timedelta(0))] * len(cohort.subjects)
    stages = kept if as_simulated else plan_stages(cohort, today, seed)
    with _sqlite_cache(SQLITE_IMPORT_CACHE_KIB), fewer_collections():
        _import(user, role_code, sites, cohort, today, progress, batch_size, stages, study, definition, report,
                default_workers() if workers is None else workers)  # fmt: skip
    report.seconds = (timezone.now() - started).total_seconds()
    return report


@contextmanager
def _sqlite_cache(kib: int) -> Iterator[None]:
    """On SQLite, a larger page cache for this connection while the import runs (restored after)."""
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
            progress: Callable[[int, int], None] | None, batch_size: int, stages: list[tuple[str, dt.timedelta]],
            study: Study, definition: StudyDef, report: ImportReport, workers: int) -> None:  # fmt: skip
    """Build the batches in ``workers`` processes (each one a share of the sites, so it numbers its own
    subjects as the actions would), and write them here in a fixed order, one transaction each."""
    shifts = [shift for _, shift in stages]
    # pandas types the records' keys as Hashable; the cohort's columns are named by strings
    subjects = cast("list[dict[str, Any]]", cohort.subjects.to_dict("records"))
    total = len(subjects)
    by_pk = {site.pk: site for site in sites}
    lanes_n = max(1, min(workers, len(sites)))
    lanes: list[list[list[int]]] = []
    for lane in range(lanes_n):
        positions = [i for i in range(total) if (i % len(sites)) % lanes_n == lane]
        lanes.append([positions[k : k + batch_size] for k in range(0, len(positions), batch_size)])
    numbers = _Numbers(by_pk)

    def build(positions: list[int], numbers: _Numbers = numbers) -> _Chunk:
        start = time.perf_counter()
        chunk_sites = {sites[i % len(sites)].pk for i in positions}
        started_at = {pk: (numbers.screened[pk], numbers.coded[pk]) for pk in chunk_sites}
        rows = _rows_by_subject(cohort, positions, shifts)
        built = ImportReport()
        builder = _Builder(definition, today, built)
        courses = []
        for k, i in enumerate(positions):
            site = by_pk[sites[i % len(sites)].pk]
            courses.append((site, builder.build(site, numbers, subjects[i], rows[k], *stages[i])))
        prepared = course_rows([(site.pk, course) for site, course in courses])
        built.seconds_checks = time.perf_counter() - start
        return _Chunk(positions, started_at, prepared, built)

    done = 0
    for chunk in run_ordered(lanes, build):
        with transaction.atomic():
            locked = {s.pk: s for s in Site.objects.select_for_update().filter(pk__in=list(by_pk)).order_by("pk")}
            now_at = _Numbers(locked)
            if any((now_at.screened[pk], now_at.coded[pk]) != counts for pk, counts in chunk.started_at.items()):
                chunk = build(chunk.positions, now_at)  # a site took subjects meanwhile: number this batch afresh
            _merge(report, chunk.report)
            written = write_course_rows(chunk.rows, study, user, role_code)
        report.subjects += len(chunk.rows.subjects)
        report.statuses.update(chunk.rows.statuses)
        report.visits += written.visits
        report.form_records += written.records
        report.audit_entries += written.audit_entries
        report.seconds_rows += written.seconds_rows
        report.seconds_audit += written.seconds_audit
        done += len(chunk.positions)
        if progress:
            progress(done, total)


def _merge(report: ImportReport, built: ImportReport) -> None:
    """Add a batch's build figures (values saved and rejected, the time of the plans) to the import's report."""
    report.forms_saved += built.forms_saved
    report.values += built.values
    report.rejected.extend(built.rejected)
    report.seconds_checks += built.seconds_checks


def check_import_cohort(
    user: Any, sites: Iterable[Site], cohort: SimulatedCohort, today: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None, *, batch_size: int = 50, seed: int | None = None,
    as_simulated: bool = False, workers: int | None = None,
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
    return do_import_cohort(user, roles.pop(), sites, cohort, today, progress, batch_size=batch_size, seed=seed,
                            as_simulated=as_simulated, workers=workers)  # fmt: skip
