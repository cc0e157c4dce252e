"""Reads, always scoped to the sites where the user may view subjects. A subject of another site
is "not found", never "forbidden", so its existence does not leak."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from rodnan.core.lifecycle import SubjectStatus
from rodnan.core.records.completeness import SETTLED
from rodnan.core.records.states import RecordStatus
from rodnan.web.accounts.access import site_ids_with
from rodnan.web.accounts.roles import Permission
from rodnan.web.crfs.models import FormRecord
from rodnan.web.studies.protocol import STUDY_WITHOUT_TEXT
from rodnan.web.subjects.models import Subject, Visit

ENROLLED_STATES = (SubjectStatus.ENROLLED, SubjectStatus.IN_FOLLOW_UP, SubjectStatus.COMPLETED, SubjectStatus.WITHDRAWN,
                   SubjectStatus.DIED, SubjectStatus.LOST_TO_FOLLOW_UP)  # fmt: skip
ACTIVE_STATES = (SubjectStatus.SCREENING, SubjectStatus.CONSENTED, SubjectStatus.ENROLLED, SubjectStatus.IN_FOLLOW_UP)


def viewable_site_ids(user: Any) -> list[int]:
    """The ids of the sites whose subjects the user may see (from the memberships read once per request;
    the selectors filter by these ids: no join, no subquery)."""
    return site_ids_with(user, Permission.VIEW_SUBJECTS)


def list_subjects_for_user(user: Any, status: str = "", search: str = "", site: str = "") -> QuerySet[Subject]:
    """The user's subjects, optionally filtered by status, site code and a number fragment."""
    subjects = Subject.objects.filter(site_id__in=viewable_site_ids(user)).select_related("site")
    if status:
        subjects = subjects.filter(status=status)
    if site:
        subjects = subjects.filter(site__code=site)
    if search:
        subjects = subjects.filter(Q(screening_number__icontains=search) | Q(subject_code__icontains=search))
    return subjects.order_by("site__code", "screening_number")


def get_subject_for_user(user: Any, pk: int) -> Subject:
    """One subject of the user's sites.

    Raises:
        Http404: no such subject at the user's sites.
    """
    try:  # get(), not first(): no ORDER BY and LIMIT to compile for a primary-key lookup
        return (
            Subject.objects.select_related("site", "study")
            .defer(f"study__{STUDY_WITHOUT_TEXT}")
            .get(pk=pk, site_id__in=viewable_site_ids(user))
        )
    except Subject.DoesNotExist:
        raise Http404("no such subject at your sites") from None


def get_form_record_for_user(user: Any, pk: int) -> FormRecord:
    """One form record of a subject at the user's sites (Http404 otherwise)."""
    try:
        return (
            FormRecord.objects.select_related("subject", "subject__study", "visit", "updated_by")
            .defer(f"subject__study__{STUDY_WITHOUT_TEXT}")
            .get(pk=pk, subject__site_id__in=viewable_site_ids(user))
        )
    except FormRecord.DoesNotExist:
        raise Http404("no such form at your sites") from None


def get_visit_for_user(user: Any, pk: int) -> Visit:
    """One visit of a subject at the user's sites (Http404 otherwise)."""
    try:
        return Visit.objects.select_related("subject", "subject__site").get(pk=pk, subject__site_id__in=viewable_site_ids(user))
    except Visit.DoesNotExist:
        raise Http404("no such visit at your sites") from None


OUTSTANDING = tuple(status.value for status in RecordStatus if status not in SETTLED)
"""Record statuses that leave a visit's data incomplete: those the core does not count as settled."""


def _unsettled(visits: QuerySet[Visit]) -> QuerySet[Visit]:
    """The visits not yet complete: not done, or done with forms outstanding (not started or in progress; the
    visit is then "data incomplete", :mod:`rodnan.core.records.completeness`), each annotated with
    ``outstanding``, its number of outstanding forms."""
    records = FormRecord.objects.filter(visit=OuterRef("pk"), status__in=OUTSTANDING)
    count = records.order_by().values("visit").annotate(n=Count("id")).values("n")
    return visits.annotate(outstanding=Coalesce(Subquery(count, output_field=IntegerField()), 0)).filter(
        Q(done_on__isnull=True) | Q(outstanding__gt=0)
    )


def list_overdue_visits(user: Any, today: dt.date | None = None) -> QuerySet[Visit]:
    """Visits past their window and not complete (not done, or done with forms outstanding), not marked missed,
    of active subjects at the user's sites; each with ``outstanding``, its number of outstanding forms."""
    today = today or timezone.localdate()
    visits = Visit.objects.filter(subject__site_id__in=viewable_site_ids(user), window_end__lt=today, missed=False,
                                  subject__status__in=[s.value for s in ACTIVE_STATES])  # fmt: skip
    return _unsettled(visits).select_related("subject", "subject__site").order_by("window_end")


def list_due_visits(user: Any, today: dt.date | None = None) -> QuerySet[Visit]:
    """Visits whose window is open today and that are not yet complete (as :func:`list_overdue_visits`)."""
    today = today or timezone.localdate()
    visits = Visit.objects.filter(subject__site_id__in=viewable_site_ids(user), window_start__lte=today, window_end__gte=today,
                                  missed=False, subject__status__in=[s.value for s in ACTIVE_STATES])  # fmt: skip
    return _unsettled(visits).select_related("subject", "subject__site").order_by("window_end")


def list_incomplete_forms(user: Any) -> QuerySet[FormRecord]:
    """Forms started but incomplete, and forms not started at visits that took place (screen failures aside)."""
    return (
        FormRecord.objects.filter(subject__site_id__in=viewable_site_ids(user))
        .exclude(subject__status=SubjectStatus.SCREEN_FAILED.value)
        .filter(Q(status=RecordStatus.IN_PROGRESS.value) | Q(status=RecordStatus.NOT_STARTED.value, visit__done_on__isnull=False))
        .select_related("subject", "visit")
        .order_by("visit__done_on", "subject__screening_number")
    )


def study_counts(user: Any) -> dict[str, int]:
    """Subjects by status at the user's sites."""
    rows = Subject.objects.filter(site_id__in=viewable_site_ids(user)).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}
