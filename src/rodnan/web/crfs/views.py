"""The form entry screen: generated from the protocol's form definition, validated by the core."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from rodnan.core.entry import EnteredValue, EntryIssue, FormEntryResult, check_form_entry
from rodnan.core.files import FileRef
from rodnan.core.records.checks import CheckWarningError
from rodnan.core.records.states import RecordEvent, RecordStatus
from rodnan.core.schedule import visit_timing
from rodnan.errors import InputError
from rodnan.web.accounts.access import AccessDeniedError, can
from rodnan.web.accounts.roles import Permission
from rodnan.web.crfs.actions import EditConflictError, check_add_log_record, check_record_event, check_save_form, shown
from rodnan.web.crfs.documents import received_files, stored_files
from rodnan.web.crfs.fields import (
    body_grid_rows,
    build_fields,
    posted_inputs,
    posted_missing,
    stored_inputs,
    stored_missing,
    timepoint_rows,
)
from rodnan.web.crfs.models import FormRecord
from rodnan.web.studies.protocol import study_definition
from rodnan.web.subjects.actions import EntryRejectedError
from rodnan.web.subjects.records import SCREENING_VISIT_DAY_MAX, planned, screening_result
from rodnan.web.subjects.selectors import get_form_record_for_user, get_subject_for_user
from rodnan.web.subjects.store import record_state

PATIENT_REASON = "answer changed by the patient in tablet mode"


def _context(request: HttpRequest, record: FormRecord, inputs: dict[str, tuple[str, str]], entry: FormEntryResult | None,
             confirmed: set[str], version: int, coded: dict[str, tuple[str, str]] | None = None) -> dict[str, Any]:  # fmt: skip
    definition = study_definition(record.subject.study)
    form = definition.form_by_code[record.form_code]
    files = stored_files(definition, form, record.values or {})
    if entry is None:
        stored = {k: (raw, unit or None) for k, (raw, unit) in inputs.items()}
        entry = check_form_entry(definition, form.code, stored, confirmed, coded, files)
    fields, computed = build_fields(definition, form, inputs, entry, confirmed, coded, files)
    layout = form.layout
    patient = request.GET.get("mode") == "patient" and form.patient
    screening = record.visit is not None and record.visit.day <= SCREENING_VISIT_DAY_MAX
    state = record_state(record)
    intervention = definition.intervention_form.code  # recorded by the infusion step, not edited here
    enters = can(request.user, Permission.ENTER_DATA, record.subject.site_id) and record.form_code != intervention
    can_edit = enters and state.accepts_values
    # a scheduled record still needing data may be marked not done (with its reason); one marked so may be reopened
    marks = enters and record.pk is not None and record.visit is not None and not patient
    open_statuses = (RecordStatus.NOT_STARTED, RecordStatus.IN_PROGRESS)
    return {
        "record": record, "subject": record.subject, "visit": record.visit, "form": form, "fields": fields,
        "computed": computed, "layout": layout, "patient": patient, "version": version,
        "grid_rows": body_grid_rows(form, fields),
        "timepoint_grid": timepoint_rows(definition, form, fields),
        "can_edit": can_edit,
        "can_mark_not_done": marks and state.status in open_statuses and state.accepts_values,
        "can_reopen": marks and state.status is RecordStatus.NOT_DONE and not state.flags,
        "can_audit": can(request.user, Permission.VIEW_AUDIT, record.subject.site_id),
        "needs_visit_date": record.visit is not None and record.visit.done_on is None, "today": timezone.localdate(),
        "state": state, "log": record.visit is None, "adding": record.pk is None,
        "has_saved_values": bool(record.values),
        "readonly": not can_edit,
        # never in tablet mode: the checklist shows other clinical values (HIV, pregnancy) to whoever holds the tablet
        "eligibility": screening_result(record.subject, _overrides(entry)) if screening and not patient else None,
    }  # fmt: skip


def _saved_context(request: HttpRequest, record: FormRecord) -> dict[str, Any]:
    """The form as saved: its stored values, missing-data codes and confirmed warnings, at its current version."""
    confirmed = set(record.confirmed_warnings or [])
    return _context(request, record, stored_inputs(record.values), None, confirmed, record.version, stored_missing(record.values))


def _typed(typed: dict[str, tuple[str, str | None]], code: str) -> str:
    raw, unit = typed.get(code, ("", None))
    return f"{raw} {unit}" if raw and unit else raw


def _overrides(entry: FormEntryResult) -> dict[str, EnteredValue]:
    return dict(entry.values)


@login_required
def form_entry(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the form with its saved values. POST: save (errors, warnings and conflicts keep what was typed)."""
    record = get_form_record_for_user(request.user, pk)
    definition = study_definition(record.subject.study)
    form = definition.form_by_code[record.form_code]
    if request.method != "POST":
        return render(request, "rodnan/form_entry.html", _saved_context(request, record))
    typed = posted_inputs(form, request.POST)
    coded = posted_missing(form, request.POST)
    inputs = {code: (raw, unit or "") for code, (raw, unit) in typed.items()}
    confirmed = set(request.POST.getlist("confirm"))
    version_text = str(request.POST.get("version", "")).strip()
    version = int(version_text) if version_text.isdigit() else -1  # a missing or garbled version is a conflict, not a 500
    files, refused = _uploads(request, record)
    if refused:
        return _files_refused(request, record, inputs, confirmed, version, refused, coded)
    visit_date: dt.date | None = None
    try:
        text = str(request.POST.get("visit_date", "")).strip()
        visit_date = dt.date.fromisoformat(text) if text else None
        reason = str(request.POST.get("reason", ""))
        if request.GET.get("mode") == "patient" and not reason.strip():
            reason = PATIENT_REASON  # the patient, the source of these answers, changed them on the tablet
        result = check_save_form(request.user, record, typed, expected_version=version, confirmed=confirmed,
                                 reason=reason, visit_date=visit_date, missing=coded, files=files)  # fmt: skip
    except ValueError as exc:
        return _refused(request, record, inputs, confirmed, version, exc, coded)
    except EditConflictError as exc:
        current = exc.current
        context = _context(request, record, inputs, None, confirmed, current.version, coded)
        context["conflict"] = {
            "message": str(exc),
            "rows": [(definition.item_by_code[c].label, shown(current.values.get(c)), _typed(typed, c))
                     for c in form.items if shown(current.values.get(c)) != _typed(typed, c)],
        }  # fmt: skip
        context["reason"] = request.POST.get("reason", "")
        return render(request, "rodnan/form_entry.html", context, status=409)
    except AccessDeniedError as exc:
        messages.error(request, str(exc))
        return redirect("subject_detail", pk=record.subject_id)
    n = len(result.changed)
    if request.GET.get("mode") == "patient":
        return render(request, "rodnan/thank_you.html", {"record": record})
    where = record.visit.code if record.visit is not None else f"entry {record.seq}"
    messages.success(request, f"{form.label} at {where} saved: {n} value{'s' if n != 1 else ''} changed.")
    visit = result.visit
    if visit is not None and visit.done_on is not None and visit.day > 0:
        timing = visit_timing(planned(visit), visit.done_on)
        if timing != "on_time":
            window = f"{visit.window_start.isoformat()} to {visit.window_end.isoformat()}"
            messages.warning(request, f"{visit.label} took place {timing} ({visit.done_on.isoformat()}), outside its window "
                                      f"{window}; it is flagged on the subject page.")  # fmt: skip
    return redirect("subject_detail", pk=record.subject_id)


def _uploads(request: HttpRequest, record: FormRecord) -> tuple[dict[str, FileRef], dict[str, EntryIssue]]:
    """The record's files after this POST: those it holds, replaced by the files uploaded (checked and stored only
    for a user who may enter data here), and the uploads refused (item -> error)."""
    definition = study_definition(record.subject.study)
    form = definition.form_by_code[record.form_code]
    kept = stored_files(definition, form, record.values or {})
    if not request.FILES or not can(request.user, Permission.ENTER_DATA, record.subject.site_id):
        return kept, {}  # a role that cannot enter data stores nothing (the save then refuses it)
    received, refused = received_files(request, definition, form)
    return {**kept, **received}, refused


def _files_refused(request: HttpRequest, record: FormRecord, inputs: dict[str, tuple[str, str]], confirmed: set[str],
                   version: int, refused: dict[str, EntryIssue], coded: dict[str, tuple[str, str]]) -> HttpResponse:  # fmt: skip
    """The form again (422) with the refused files' errors (the item and the rule); nothing saved."""
    context = _context(request, record, inputs, None, confirmed, version, coded)
    for f in context["fields"]:
        f.error = refused.get(f.code, f.error)
    context["problems"] = [(code, issue.message) for code, issue in refused.items()]
    context["reason"] = request.POST.get("reason", "")
    context["visit_date"] = str(request.POST.get("visit_date", "")).strip()
    return render(request, "rodnan/form_entry.html", context, status=422)


def _refused(request: HttpRequest, record: FormRecord, inputs: dict[str, tuple[str, str]], confirmed: set[str], version: int,
             exc: ValueError, coded: dict[str, tuple[str, str]] | None = None) -> HttpResponse:  # fmt: skip
    """The form again with what was typed and why it was not saved (422)."""
    if isinstance(exc, EntryRejectedError):
        context = _context(request, record, inputs, exc.entry, confirmed, version, coded)
        context["form_error"] = f"{exc.field}: {exc.rule}" if not exc.entry.errors and not exc.entry.warnings else ""
        context["reason_error"] = exc.rule if exc.field == "reason" else ""
        context["visit_date_error"] = f"visit date: {exc.rule}" if exc.field == "visit_date" else ""
        context["visit_date"] = str(request.POST.get("visit_date", "")).strip()
        if isinstance(exc, CheckWarningError):  # a warning rule of the core: confirm it and save again
            context["confirm_check"] = exc.finding
        context["reason"] = request.POST.get("reason", "")
        context["problems"] = [(code, issue.message) for code, issue in [*exc.entry.errors.items(), *exc.entry.warnings.items()]]
        return render(request, "rodnan/form_entry.html", context, status=422)
    context = _context(request, record, inputs, None, confirmed, version, coded)
    if isinstance(exc, InputError):  # the record's state (locked, not expected, ...) or another named rule
        context["form_error"] = f"this record {exc.rule}" if exc.field == "record" else f"{exc.field}: {exc.rule}"
    else:
        context["form_error"] = f"visit date: must be a date YYYY-MM-DD ({exc})"
    return render(request, "rodnan/form_entry.html", context, status=422)


@login_required
def log_add(request: HttpRequest, pk: int, form_code: str) -> HttpResponse:
    """GET: an empty entry of a log form (e.g. one medical-history condition). POST: add it as the subject's next entry."""
    subject = get_subject_for_user(request.user, pk)
    definition = study_definition(subject.study)
    form = definition.form_by_code.get(form_code)
    if form is None or form.log is None:
        raise Http404("no such log form in the protocol")
    if not can(request.user, Permission.ENTER_DATA, subject.site_id):  # an empty form to add is no page for a reader
        raise PermissionDenied("your role does not enter data: it reads the log on the subject page")
    last = FormRecord.objects.filter(subject=subject, visit__isnull=True, form_code=form.code).aggregate(n=Max("seq"))["n"]
    record = FormRecord(subject=subject, form_code=form.code, seq=(last or 0) + 1, version=0, values={})
    if request.method != "POST":
        return render(request, "rodnan/form_entry.html", _context(request, record, {}, None, set(), 0))
    typed = posted_inputs(form, request.POST)
    coded = posted_missing(form, request.POST)
    inputs = {code: (raw, unit or "") for code, (raw, unit) in typed.items()}
    confirmed = set(request.POST.getlist("confirm"))
    files, refused = _uploads(request, record)
    if refused:
        return _files_refused(request, record, inputs, confirmed, 0, refused, coded)
    try:
        added = check_add_log_record(request.user, subject, form.code, typed, confirmed=confirmed, missing=coded,
                                     files=files)  # fmt: skip
    except ValueError as exc:
        return _refused(request, record, inputs, confirmed, 0, exc, coded)
    except AccessDeniedError as exc:
        messages.error(request, str(exc))
        return redirect("subject_detail", pk=subject.pk)
    messages.success(request, f"{form.label}: entry {added.seq} added.")
    return redirect("subject_detail", pk=subject.pk)


STATE_EVENTS = {"mark_not_done": RecordEvent.MARK_NOT_DONE, "reopen": RecordEvent.REOPEN}
"""The record state changes the form screen offers (data management adds its own screens)."""


@login_required
@require_POST
def record_state_change(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a scheduled form not done (a reason is required) or reopen one marked so; the form again with the
    refusal otherwise (422: a missing reason or a state that does not allow it; 409: changed meanwhile)."""
    record = get_form_record_for_user(request.user, pk)
    event = STATE_EVENTS.get(str(request.POST.get("event", "")))
    if event is None or record.visit is None:
        raise Http404("no such change of this record")
    version_text = str(request.POST.get("version", "")).strip()
    version = int(version_text) if version_text.isdigit() else -1
    reason = str(request.POST.get("reason", ""))
    try:
        changed = check_record_event(request.user, record, event, reason=reason, expected_version=version)
    except AccessDeniedError as exc:
        messages.error(request, str(exc))
        return redirect("subject_detail", pk=record.subject_id)
    except (ValueError, EditConflictError) as exc:
        record.refresh_from_db()
        context = _saved_context(request, record)
        context["state_error"] = f"{exc.field}: {exc.rule}" if isinstance(exc, InputError) else str(exc)
        context["state_reason_typed"] = reason
        return render(request, "rodnan/form_entry.html", context, status=409 if isinstance(exc, EditConflictError) else 422)
    form = study_definition(record.subject.study).form_by_code[record.form_code]
    where = record.visit.code
    if event is RecordEvent.MARK_NOT_DONE:
        messages.success(request, f"{form.label} at {where} marked not done: {changed.state_reason}.")
    else:
        messages.success(request, f"{form.label} at {where} reopened: it takes values again.")
    return redirect("subject_detail", pk=record.subject_id)


@login_required
@require_POST
def eligibility_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The eligibility checklist recomputed from the values being typed (nothing is saved)."""
    record = get_form_record_for_user(request.user, pk)
    definition = study_definition(record.subject.study)
    form = definition.form_by_code[record.form_code]
    entry = check_form_entry(definition, form.code, posted_inputs(form, request.POST), set(request.POST.getlist("confirm")),
                             posted_missing(form, request.POST))  # fmt: skip
    return render(request, "rodnan/eligibility.html", {"eligibility": screening_result(record.subject, _overrides(entry)),
                                                        "live": True})  # fmt: skip
