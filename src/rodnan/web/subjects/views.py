"""Screens of the study and its subjects: dashboard, subject list, subject page, lifecycle steps."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from rodnan.core.dose import format_cells
from rodnan.core.lifecycle import SubjectStatus, Transition
from rodnan.errors import InputError
from rodnan.web.accounts.access import AccessDeniedError, can, memberships_of, site_ids_with, sites_with
from rodnan.web.accounts.roles import Permission
from rodnan.web.crfs.fields import posted_inputs
from rodnan.web.studies.protocol import current_study, study_definition
from rodnan.web.subjects import actions
from rodnan.web.subjects.gates import closed_sentences, gate, open_steps
from rodnan.web.subjects.models import Subject
from rodnan.web.subjects.records import infusion_dose, infusion_values, log_tables, screening_result, visit_grid
from rodnan.web.subjects.selectors import (
    ENROLLED_STATES,
    get_subject_for_user,
    get_visit_for_user,
    list_due_visits,
    list_incomplete_forms,
    list_overdue_visits,
    list_subjects_for_user,
    study_counts,
    viewable_site_ids,
)
from rodnan.web.ui import unit_label


def _date(request: HttpRequest, name: str) -> dt.date:
    text = str(request.POST.get(name, "")).strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(name, "must be a date YYYY-MM-DD", text) from None


def _version(request: HttpRequest) -> int | None:
    text = request.POST.get("version", "")
    return int(text) if text.isdigit() else None


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The study page: enrolment against the target, subjects by status, overdue and due visits, open forms."""
    if not viewable_site_ids(request.user):
        return (
            redirect("users")
            if site_ids_with(request.user, Permission.MANAGE_USERS)
            else render(request, "rodnan/no_access.html")
        )
    study = current_study()
    counts = study_counts(request.user)
    enrolled = sum(counts.get(s.value, 0) for s in ENROLLED_STATES)
    target = study.target_enrolment
    statuses = [(s, counts.get(s.value, 0)) for s in SubjectStatus]
    overdue = list(list_overdue_visits(request.user)[:50])
    due = list(list_due_visits(request.user)[:50])
    incomplete = list_incomplete_forms(request.user)
    headings = {f.code: f.heading for f in study_definition(study).forms}
    return render(request, "rodnan/home.html", {
        "study": study, "enrolled": enrolled, "target": target,
        "percent": min(100, round(100 * enrolled / target)) if target else 0,
        "statuses": statuses, "overdue": overdue, "overdue_count": list_overdue_visits(request.user).count(), "due": due,
        "incomplete": [(r, headings.get(r.form_code, r.form_code)) for r in incomplete[:50]],
        "incomplete_count": incomplete.count(),
        "can_screen": bool(site_ids_with(request.user, Permission.SCREEN)), "today": timezone.localdate(),
    })  # fmt: skip


LIST_COLUMNS = ("pk", "subject_code", "screening_number", "site__code", "status", "screening_date", "infusion_date")
"""What a row of the subject list shows (read as values: no model objects for 50 rows)."""


@login_required
def subject_list(request: HttpRequest) -> HttpResponse:
    """Subjects of the user's sites, filterable by status, site and number."""
    if not viewable_site_ids(request.user):  # an administrator (or a user without a role): the study page says where to go
        return redirect("home")
    status = request.GET.get("status", "")
    search = request.GET.get("q", "").strip()
    site = request.GET.get("site", "")
    subjects = list_subjects_for_user(request.user, status=status, search=search, site=site).values(*LIST_COLUMNS)
    page = Paginator(subjects, 50).get_page(request.GET.get("page"))
    screen_sites = list(sites_with(request.user, Permission.SCREEN))
    viewable = set(viewable_site_ids(request.user))
    return render(request, "rodnan/subject_list.html", {
        "page": page, "status": status, "q": search, "site": site, "statuses": list(SubjectStatus),
        "status_labels": {s.value: s.label for s in SubjectStatus},
        "query": urlencode({"status": status, "site": site, "q": search}),
        "site_codes": [h.site_code for h in memberships_of(request.user) if h.site_id in viewable],
        "screen_sites": screen_sites, "today": timezone.localdate(),
    })  # fmt: skip


@login_required
@require_POST
def subject_new(request: HttpRequest) -> HttpResponse:
    """Open a screening record (POST: site, screening date)."""
    site = sites_with(request.user, Permission.SCREEN).filter(pk=request.POST.get("site") or 0).first()
    if site is None:
        messages.error(request, "site: choose a site where you may screen")
        return redirect("subject_list")
    try:
        subject = actions.check_open_screening(request.user, site, current_study(), _date(request, "screening_date"))
    except (InputError, AccessDeniedError) as exc:
        messages.error(request, str(exc))
        return redirect("subject_list")
    messages.success(request, f"Screening {subject.screening_number} opened: enter the screening forms below.")
    return redirect("subject_detail", pk=subject.pk)


def _subject_context(request: HttpRequest, subject: Subject) -> dict[str, Any]:
    definition = study_definition(subject.study)
    columns, rows = visit_grid(subject)
    transitions = open_steps(request.user, subject)
    eligibility = screening_result(subject) if subject.status in (SubjectStatus.SCREENING, SubjectStatus.CONSENTED) else None
    return {
        "subject": subject, "rows": rows,
        "columns": [(c, definition.form_by_code[c].heading, definition.form_by_code[c].label) for c in columns],
        "transitions": transitions, "closed": closed_sentences(request.user, subject), "eligibility": eligibility,
        "status": SubjectStatus(subject.status),
        "can_mark": can(request.user, Permission.MARK_VISIT, subject.site_id),
        "can_audit": can(request.user, Permission.VIEW_AUDIT, subject.site_id), "today": timezone.localdate(),
        "can_identity": can(request.user, Permission.VIEW_IDENTITY, subject.site_id),  # decision 0020: staff roles only
        "dose": infusion_dose(subject, infusion_values(subject)) if subject.infusion_date else None,
        "forward": ("consent", "enrol", "infuse"),
        "logs": log_tables(subject), "can_enter": can(request.user, Permission.ENTER_DATA, subject.site_id),
    }  # fmt: skip


@login_required
def subject_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A subject: identity and status, eligibility while screening, the visits x forms grid, next steps."""
    subject = get_subject_for_user(request.user, pk)
    return render(request, "rodnan/subject_detail.html", _subject_context(request, subject))


@login_required
def subject_transition(request: HttpRequest, pk: int, transition: str) -> HttpResponse:
    """One lifecycle step (GET: its form; POST: do it).

    A GET the user may not take gets the plain sentence why instead of the form (:func:`gates.gate`:
    403 for the role, 409 for the subject's status); a POST is refused by the actions as before (422).
    """
    subject = get_subject_for_user(request.user, pk)
    try:
        step = Transition(transition)
    except ValueError:
        from django.http import Http404

        raise Http404("no such step") from None
    context: dict[str, Any] = {"subject": subject, "step": step, "today": timezone.localdate(), "errors": {}, "post": {}}
    if request.method != "POST":
        allowed = gate(request.user, subject, step)
        if not allowed.open:
            context["refusal"] = allowed.reason
            return render(request, "rodnan/transition.html", context, status=allowed.status)
    definition = study_definition(subject.study)
    if step is Transition.INFUSE:
        context["items"] = [definition.item_by_code[c] for c in definition.intervention_form.items]
        context["dose"] = f"{format_cells(definition.intervention.dose.value)} {unit_label(definition.intervention.dose.unit)}"
        context["tolerance"] = round(definition.intervention.dose_tolerance * 100)
    if step is Transition.ENROL:
        context["eligibility"] = screening_result(subject)
    if request.method == "POST":
        context["post"] = request.POST
        try:
            _do_transition(request, subject, step, definition)
        except actions.EntryRejectedError as exc:
            context["errors"] = {**{k: v.message for k, v in exc.entry.errors.items()},
                                 **{k: v.message for k, v in exc.entry.warnings.items()}}  # fmt: skip
            context["errors"].setdefault(exc.field, f"{exc.field}: {exc.rule}")
            cells = definition.intervention_items.cells
            context["warnings"] = set(exc.entry.warnings) | ({cells} if exc.field == cells else set())
            return render(request, "rodnan/transition.html", context, status=422)
        except (InputError, AccessDeniedError) as exc:
            context["errors"] = {getattr(exc, "field", "form"): str(exc)}
            if isinstance(exc, actions.ConfirmationNeededError):  # a warning rule of the core: confirm it and submit again
                context["confirm_rule"], context["confirm_message"] = exc.finding.code, exc.finding.message
            return render(request, "rodnan/transition.html", context, status=422)
        messages.success(request, f"{subject.label}: {step.label} recorded.")
        return redirect("subject_detail", pk=subject.pk)
    return render(request, "rodnan/transition.html", context)


def _do_transition(request: HttpRequest, subject: Subject, step: Transition, definition: Any) -> None:
    version, user, post = _version(request), request.user, request.POST
    if step is Transition.CONSENT:
        actions.check_consent(user, subject, str(post.get("consent_version", "")), _date(request, "consent_date"), version)
    elif step is Transition.SCREEN_FAIL:
        actions.check_screen_fail(user, subject, str(post.get("reason", "")), version)
    elif step is Transition.ENROL:
        actions.check_enrol(user, subject, _date(request, "enrolment_date"), version)
    elif step is Transition.INFUSE:
        confirmed = set(post.getlist("confirm"))
        actions.check_record_infusion(user, subject, posted_inputs(definition.intervention_form, post), confirmed, version)
    else:
        actions.check_end_subject(user, subject, step, _date(request, "end_date"), str(post.get("reason", "")), version,
                                  confirmed=set(post.getlist("confirm")))  # fmt: skip


@login_required
@require_POST
def visit_missed(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a visit missed, with a reason."""
    visit = get_visit_for_user(request.user, pk)
    try:
        actions.check_mark_visit_missed(request.user, visit, str(request.POST.get("reason", "")))
        messages.success(request, f"{visit.code} marked missed.")
    except (InputError, AccessDeniedError) as exc:
        messages.error(request, str(exc))
    return redirect("subject_detail", pk=visit.subject_id)
