"""ORM rows to core objects: a subject's screening values, its eligibility, its visits' states."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from rodnan.core.dose import DoseCheck
from rodnan.core.eligibility import ScreeningResult
from rodnan.core.entry import EnteredValue
from rodnan.core.protocol.model import FormDef, ItemDef
from rodnan.core.records import subject_plans
from rodnan.core.records.completeness import visit_complete
from rodnan.core.records.model import RecordSnapshot
from rodnan.core.records.requirements import UnmetRequirement, unmet_requirements
from rodnan.core.records.states import RecordStatus
from rodnan.core.schedule import PlannedVisit, VisitState, visit_state, visit_timing
from rodnan.web.crfs.models import FormRecord
from rodnan.web.studies.protocol import study_definition
from rodnan.web.subjects.models import Subject, Visit
from rodnan.web.subjects.store import record_snapshot

SCREENING_VISIT_DAY_MAX = -1
"""Visits before day 0 (the infusion) are screening visits."""


def entered_values(records: list[FormRecord]) -> dict[str, EnteredValue]:
    """The values of several form records merged by item (later records win)."""
    merged: dict[str, EnteredValue] = {}
    for record in records:
        for code, data in (record.values or {}).items():
            merged[code] = EnteredValue.from_json(data)
    return merged


def screening_values(subject: Subject) -> dict[str, EnteredValue]:
    """Every value entered at the subject's screening visit."""
    records = list(FormRecord.objects.filter(subject=subject, visit__day__lte=SCREENING_VISIT_DAY_MAX).order_by("id"))
    return entered_values(records)


def screening_result(subject: Subject, overrides: dict[str, EnteredValue] | None = None) -> ScreeningResult:
    """The core's eligibility verdict from the screening values (``overrides``: values being typed, not saved)."""
    values = screening_values(subject)
    if overrides:
        values.update(overrides)
    return subject_plans.screening_result(study_definition(subject.study), values)


def subject_records(subject: Subject) -> list[RecordSnapshot]:
    """Every record of the subject (scheduled and log) as the core's snapshots."""
    visits = dict(Visit.objects.filter(subject=subject).values_list("id", "code"))
    rows = FormRecord.objects.filter(subject=subject).order_by("id")
    return [record_snapshot(row, visits.get(row.visit_id) if row.visit_id is not None else None) for row in rows]


def unmet_before_infusion(subject: Subject, today: dt.date | None = None) -> tuple[UnmetRequirement, ...]:
    """The protocol's requirements of the infusion that no record of the subject could satisfy for any date the
    infusion step would accept (from the enrolment, or screening, to today): what the infusion page says first."""
    definition = study_definition(subject.study)
    if not definition.requirements:
        return ()
    last = today or timezone.localdate()
    first = min(subject.enrolment_date or subject.screening_date, last)
    return unmet_requirements(definition, screening_values(subject), subject_records(subject), first, last)


def infusion_values(subject: Subject) -> dict[str, EnteredValue]:
    """The values of the subject's intervention form (the protocol's ``intervention.form``; empty before the infusion)."""
    form_code = study_definition(subject.study).intervention_form.code
    rows = list(FormRecord.objects.filter(subject=subject, form_code=form_code).values_list("values", flat=True)[:1])
    stored = (rows[0] if rows else None) or {}
    return {code: EnteredValue.from_json(data) for code, data in stored.items()}


def infusion_dose(subject: Subject, values: Mapping[str, EnteredValue]) -> DoseCheck | None:
    """The dose check of infusion values, when weight and cells (the protocol's intervention roles) are both given."""
    return subject_plans.infusion_dose(study_definition(subject.study), values)


def planned(visit: Visit) -> PlannedVisit:
    """A visit row as the core's planned visit."""
    return PlannedVisit(
        code=visit.code, label=visit.label, day=visit.day, target=visit.target_date, window_start=visit.window_start,
        window_end=visit.window_end, forms=(),
    )  # fmt: skip


def state_of(visit: Visit, today: dt.date | None = None, end: dt.date | None = None, forms_complete: bool = True) -> VisitState:
    """Upcoming, due, overdue, done, data incomplete, missed or not expected (after the subject's ``end``), today."""
    return visit_state(planned(visit), today or timezone.localdate(), visit.done_on, visit.missed, forms_complete, end)


@dataclass(frozen=True)
class GridCell:
    """One form of one visit on the subject page."""

    record_id: int | None  # None: the form is not collected at this visit
    status: str  # not_started / incomplete / complete / not_collected


@dataclass(frozen=True)
class GridRow:
    """One visit on the subject page: its state and a cell per form column."""

    visit: Visit
    state: VisitState
    cells: list[GridCell]
    timing: str = ""  # early / late when the visit took place outside its window


def visit_grid(subject: Subject, today: dt.date | None = None) -> tuple[list[str], list[GridRow]]:
    """The visits x forms grid: form codes in protocol order, and one row per visit."""
    definition = study_definition(subject.study)
    visits = list(subject.visits.order_by("day"))
    scheduled = FormRecord.objects.filter(subject=subject, visit__isnull=False)
    records: dict[tuple[int, str], tuple[int, str]] = {
        (visit_id, code): (pk, status)
        for pk, visit_id, code, status in scheduled.values_list("id", "visit_id", "form_code", "status")
    }
    used = {code for (_, code) in records}
    columns = [f.code for f in definition.forms if f.code in used]
    rows = []
    for visit in visits:
        cells = []
        for code in columns:
            pk, status = records.get((visit.pk, code), (None, "not_collected"))
            cells.append(GridCell(pk, status))
        timing = visit_timing(planned(visit), visit.done_on) if visit.done_on else ""
        statuses = {cell.status for cell in cells} - {"not_collected"}
        by_form = {code: cell.status for code, cell in zip(columns, cells, strict=True) if cell.record_id is not None}
        if statuses == {RecordStatus.NOT_EXPECTED.value}:
            state = VisitState.NOT_EXPECTED
        else:
            complete = visit_complete(by_form, by_form)
            state = state_of(visit, today, subject.end_date, forms_complete=complete)
        rows.append(GridRow(visit, state, cells, "" if timing == "on_time" else timing))
    return columns, rows


@dataclass(frozen=True)
class LogTable:
    """One log form on the subject page: its items shown as columns and its entries (``shown``: one text per column)."""

    form: FormDef
    columns: list[ItemDef]
    rows: list[tuple[FormRecord, list[str]]]
    """Each entry with its values as shown, one per column."""


def _shown(record: FormRecord, columns: list[ItemDef]) -> list[str]:
    """A record's values as shown in the columns' order ("" where no value is stored)."""
    values = record.values or {}
    return [EnteredValue.from_json(values[c.code]).display if c.code in values else "" for c in columns]


def log_tables(subject: Subject) -> list[LogTable]:
    """The protocol's log forms with the subject's entries, in sequence order, each with its values as shown."""
    definition = study_definition(subject.study)
    if not definition.log_forms:
        return []
    rows = list(FormRecord.objects.filter(subject=subject, visit__isnull=True).order_by("form_code", "seq"))
    tables = []
    for form in definition.log_forms:
        columns = [definition.item_by_code[code] for code in form.items]
        entries = [(row, _shown(row, columns)) for row in rows if row.form_code == form.code]
        tables.append(LogTable(form, columns, entries))
    return tables


def form_label(subject: Subject, code: str) -> str:
    """A form's label from the protocol."""
    form = study_definition(subject.study).form_by_code.get(code)
    return form.label if form else code


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON object or an empty dict."""
    return value if isinstance(value, dict) else {}
