"""The demo: one site, one user per role, and 20 simulated patients at different stages of the
trial, entered through the same actions the screens use (so every value has its audit trail).

Dates are the simulator's, moved so that today falls inside each patient's course: some are still
screening, some in follow-up at different months, some completed, one withdrawn, one dead.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.contrib.auth import get_user_model
from django.utils import timezone

from rodnan.core.analysis.datasets import SUBJECT_CELLS, SUBJECT_INFUSION_DATE
from rodnan.core.audit import canonical_time
from rodnan.core.files import FileRef, check_file_content
from rodnan.core.lifecycle import SubjectStatus, Transition
from rodnan.core.protocol import Study as StudyDef
from rodnan.core.records.checks import VISIT_WINDOW
from rodnan.core.simulate import history
from rodnan.core.simulate.candidates import simulate_candidates
from rodnan.core.simulate.cohort import simulate_cohort
from rodnan.web.accounts.actions import do_grant_membership
from rodnan.web.accounts.roles import ROLES
from rodnan.web.crfs.actions import check_add_log_record, check_save_form
from rodnan.web.crfs.documents import file_items, stored_files
from rodnan.web.crfs.fields import derived_within, stored_inputs, stored_missing
from rodnan.web.crfs.models import FormRecord
from rodnan.web.crfs.storage import store_file
from rodnan.web.identity.demo import give_demo_identities
from rodnan.web.studies.models import Site, Study
from rodnan.web.studies.protocol import load_study, study_definition
from rodnan.web.subjects import actions
from rodnan.web.subjects.models import Subject, Visit


def demo_passwords() -> dict[str, str]:
    """A password of its own for each demo user (role code -> password), generated anew: ``rodnan demo`` prints them
    once, when it creates the users; no fixed password exists anywhere."""
    return {code: secrets.token_urlsafe(12) for code in ROLES}


SEED = 962923


@dataclass(frozen=True)
class Stage:
    """Where one demo patient stands today."""

    kind: str  # screening, consented, screen_failed, eligible_consented, enrolled, follow_up, completed, withdrawn, died
    months_since_infusion: float = 0.0
    skip_last: bool = False  # leave the last visit due without data (an overdue visit on the dashboard)


STAGES: tuple[Stage, ...] = (
    Stage(SubjectStatus.SCREENING), Stage("consented"), Stage("screen_failed"), Stage("screen_failed"),
    Stage("eligible_consented"), Stage("enrolled"),
    Stage("follow_up", 0.6), Stage("follow_up", 1.6), Stage("follow_up", 2.4, skip_last=True), Stage("follow_up", 3.3),
    Stage("follow_up", 4.8), Stage("follow_up", 6.1), Stage("follow_up", 7.5, skip_last=True), Stage("follow_up", 8.9),
    Stage("follow_up", 10.2), Stage("follow_up", 11.4),
    Stage("completed", 13.5), Stage("completed", 16.0), Stage("withdrawn", 5.2), Stage("died", 7.0),
)  # fmt: skip
"""20 patients, as the issue asks: 2 screening, 2 screen failures, 1 awaiting enrolment, 1 awaiting infusion,
10 in follow-up, 2 completed, 1 withdrawn, 1 dead."""


def ensure_users(site: Site, passwords: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One user per role at ``site`` (user name = role code), created once with its password from ``passwords``
    (role code -> password; default :func:`demo_passwords`, which nobody then knows)."""
    passwords = passwords or demo_passwords()
    users: dict[str, Any] = {}
    user_model = get_user_model()
    admin = user_model.objects.filter(username="administrator").first()
    for code in ROLES:
        user = user_model.objects.filter(username=code).first()
        if user is None:
            user = user_model.objects.create_user(username=code, password=passwords[code])
        users[code] = user
    admin = users["administrator"]
    for code, user in users.items():
        do_grant_membership(admin, "administrator", user, site, code)
    return users


def _values_by_visit(cohort_values: pd.DataFrame) -> dict[str, list[tuple[str, str, str, str]]]:
    out: dict[str, list[tuple[str, str, str, str]]] = {}
    for row in cohort_values.itertuples(index=False):
        out.setdefault(str(row.visit), []).append((str(row.item), str(row.value), str(row.unit), str(row.date)))
    return out


def _shift(date_text: str, shift: dt.timedelta) -> dt.date:
    return dt.date.fromisoformat(date_text) + shift


def _form_entries(definition: StudyDef, form: str, rows: list[tuple[str, str, str, str]], shift: dt.timedelta
                  ) -> dict[str, tuple[str, str | None]]:  # fmt: skip
    # items the form computes from its own answers (the mRSS total, SF-36 scores) are not stored, as on screen
    items = set(definition.form_by_code[form].items) - derived_within(definition, definition.form_by_code[form])
    entries: dict[str, tuple[str, str | None]] = {}
    for item, value, unit, _ in rows:
        if item not in items or value == "":
            continue
        if definition.item_by_code[item].type == "date":
            value = _shift(value, shift).isoformat()
        entries[item] = (value, unit or None)
    return entries


def _save_visit(user: Any, subject: Subject, visit: Visit, rows: list[tuple[str, str, str, str]], shift: dt.timedelta) -> None:
    definition = study_definition(subject.study)
    visit_date = _shift(rows[0][3], shift) if rows else visit.target_date
    for record in FormRecord.objects.filter(visit=visit).exclude(form_code=definition.intervention_form.code).order_by("id"):
        entries = _form_entries(definition, record.form_code, rows, shift)
        if not entries:
            continue
        for _attempt in range(2):
            try:
                check_save_form(user, record, entries, expected_version=record.version, visit_date=visit_date,
                                confirmed={*entries, VISIT_WINDOW})  # fmt: skip
                break
            except actions.EntryRejectedError as exc:  # a simulated value the entry checks reject: leave it out
                for code in list(exc.entry.errors):
                    entries.pop(code, None)
                if not entries:
                    break
        record.refresh_from_db()


def _add_logs(user: Any, subject: Subject, rows: list[tuple[str, str, str, str]], shift: dt.timedelta) -> None:
    """The log forms' entries among a visit's simulated rows (a pregnancy test), each added as one log record."""
    definition = study_definition(subject.study)
    for form in definition.log_forms:
        entries = _form_entries(definition, form.code, rows, shift)
        if entries and form.log is not None and form.log.start in entries:
            check_add_log_record(user, subject, form.code, entries, confirmed=set(entries))


def fill_demo(progress: Callable[[int, int], None] | None = None, passwords: Mapping[str, str] | None = None) -> Study:
    """Load the protocol, create the site's users (with ``passwords``, role code -> password; see :func:`ensure_users`)
    and the 20 demo patients (once; a second call does nothing)."""
    study = load_study()
    site = Site.objects.filter(study=study).order_by("id").first()
    assert site is not None
    users = ensure_users(site, passwords)
    if Subject.objects.filter(site=site).exists():
        return study
    definition = study_definition(study)
    today = timezone.localdate()
    enrolled_stages = [
        s for s in STAGES if s.kind in ("enrolled", "follow_up", "completed", "withdrawn", "died", "eligible_consented")
    ]
    cohort = simulate_cohort(definition, len(enrolled_stages), SEED)
    pool = simulate_candidates(definition, 60, SEED)
    subjects_frame = cohort.subjects
    coordinator, investigator = users["coordinator"], users["investigator"]
    cohort_index = 0
    failing = [i for i, v in enumerate(pool.intended_verdict) if v == "ineligible"]
    incomplete = [i for i, v in enumerate(pool.intended_verdict) if v == "incomplete"]
    for n, stage in enumerate(STAGES):
        if stage.kind in (SubjectStatus.SCREENING, "consented", "screen_failed"):
            row = pool.frame.iloc[failing.pop(0) if stage.kind == "screen_failed" else incomplete.pop(0)]
            screened = today - dt.timedelta(days=5 + 3 * n)
            subject = actions.check_open_screening(coordinator, site, study, screened)
            _enter_history(coordinator, subject)
            _enter_candidate(coordinator, subject, definition, row, screened)
            if stage.kind == "consented":
                actions.check_consent(coordinator, subject, "2.0 (2009-07-20)", screened)
            if stage.kind == "screen_failed":
                from rodnan.web.subjects.records import screening_result

                result = screening_result(subject)
                failed = [c.label for c in result.criteria if c.kind == "exclusion" and c.verdict.value == "met"]
                failed += [c.label for c in result.criteria if c.kind == "inclusion" and c.verdict.value == "not_met"]
                actions.check_screen_fail(investigator, subject, "Not eligible: " + "; ".join(failed[:3]))
        else:
            info = subjects_frame.iloc[cohort_index]
            values = _values_by_visit(cohort.values_frame(cohort_index, cohort_index + 1))
            cohort_index += 1
            _enrol_simulated(users, site, study, stage, info, values, today)
        if progress:
            progress(n + 1, len(STAGES))
    _enter_missing_codes(coordinator, site)
    _attach_source_document(coordinator, site)
    give_demo_identities(coordinator, site)  # invented, plainly fake identities (decision 0020)
    return study


DEMO_MISSING_REASON = "recorded for the demo: the value was not obtained"
"""The reason given with a demo missing-data code whose protocol definition requires one."""


def _enter_missing_codes(user: Any, site: Site) -> None:
    """Every missing-data code of the protocol once, on the subject followed longest: each replaces a saved value
    of an item that allows it (the latest visits' records first, items in form order), as a change with a reason,
    so the audit trail shows the value, the code and the reason. An item whose code the entry checks refuse is
    passed over for the next one."""
    in_follow_up = Subject.objects.filter(site=site, status=SubjectStatus.IN_FOLLOW_UP).order_by("id")
    subject = max(in_follow_up, key=lambda s: s.visits.filter(done_on__isnull=False).count(), default=None)
    if subject is None:
        return
    definition = study_definition(subject.study)
    records = list(
        FormRecord.objects.filter(subject=subject, visit__done_on__isnull=False, visit__day__gt=0)
        .exclude(values={})
        .order_by("-visit__day", "id")
        .values_list("pk", flat=True)
    )
    coded: set[tuple[int, str]] = set()
    for missing in definition.missing_codes:
        _code_one_value(user, definition, records, missing.code, DEMO_MISSING_REASON if missing.reason_required else "", coded)


def _code_one_value(user: Any, definition: StudyDef, records: list[int], code: str, why: str, done: set[tuple[int, str]]) -> bool:
    """Set ``code`` on the first saved value of ``records`` that allows it and the entry checks accept; True once done."""
    for pk in records:
        record = FormRecord.objects.get(pk=pk)
        inputs, missing = stored_inputs(record.values), stored_missing(record.values)
        for item in definition.form_by_code[record.form_code].items:
            if (pk, item) in done or item in missing or not inputs.get(item, ("", None))[0]:
                continue
            if code not in {allowed.code for allowed in definition.allowed_missing_codes(record.form_code, item)}:
                continue
            entries = {k: (raw, unit or None) for k, (raw, unit) in inputs.items() if k != item and raw}
            label = definition.missing_code_by_code[code].label
            kept = stored_files(definition, definition.form_by_code[record.form_code], record.values)  # its files stay
            try:
                check_save_form(user, record, entries, expected_version=record.version,
                                confirmed=set(record.confirmed_warnings or ()),
                                reason=f"{definition.item_by_code[item].label}: {label.lower()}",
                                missing={**missing, item: (code, why)}, files=kept)  # fmt: skip
            except actions.EntryRejectedError:
                continue
            done.add((pk, item))
            return True
    return False


def source_document_pdf(title: str, lines: list[str]) -> bytes:
    """A one-page PDF that stands for a scanned laboratory report: the title and one line per value, in Helvetica.

    Deterministic: the same title and lines give the same bytes (no dates, a fixed document id).
    """
    import io

    import pikepdf

    def shown(text: str) -> str:
        plain = text.encode("latin-1", "replace").decode("latin-1")
        return "(" + plain.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"

    ops = ["BT", "/F1 14 Tf", "56 780 Td", f"{shown(title)} Tj", "/F1 10 Tf"]
    for line in lines[:45]:
        ops += ["0 -16 Td", f"{shown(line)} Tj"]
    ops.append("ET")
    pdf = pikepdf.new()
    font = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica,
                              Encoding=pikepdf.Name.WinAnsiEncoding)  # fmt: skip
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page, MediaBox=[0, 0, 595, 842], Contents=pdf.make_stream("\n".join(ops).encode("latin-1")),
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
    )  # fmt: skip
    pdf.pages.append(pikepdf.Page(page))
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    return out.getvalue()


def _attach_source_document(user: Any, site: Site) -> None:
    """A source document on the subject followed longest: a PDF of the latest saved record of a form with a file
    item, standing for the laboratory's report of its values, checked, stored and attached as a user would."""
    in_follow_up = Subject.objects.filter(site=site, status=SubjectStatus.IN_FOLLOW_UP).order_by("id")
    subject = max(in_follow_up, key=lambda s: s.visits.filter(done_on__isnull=False).count(), default=None)
    if subject is None:
        return
    definition = study_definition(subject.study)
    forms = [form.code for form in definition.forms if file_items(definition, form)]
    record = (FormRecord.objects.filter(subject=subject, form_code__in=forms, visit__done_on__isnull=False)
              .exclude(values={}).select_related("visit").order_by("-visit__day", "id").first())  # fmt: skip
    if record is None or record.visit is None:
        return
    form = definition.form_by_code[record.form_code]
    code = file_items(definition, form)[0]
    item = definition.item_by_code[code]
    lines = [f"{definition.item_by_code[k].label}: {v.get('display', '')}" for k, v in record.values.items()
             if k in form.items and isinstance(v, dict) and v.get("type") != "file"]  # fmt: skip
    title = f"{form.label} - {subject.label} - {record.visit.label} ({record.visit.done_on})"
    data = source_document_pdf(title, lines)
    name = f"{subject.label}-{record.visit.code}-{form.code}.pdf"
    checked = check_file_content(item, data, name, definition.file_limit(item))
    store_file(data, checked.sha256)
    ref = FileRef(checked.sha256, checked.name, checked.media_type, checked.size, canonical_time(timezone.now()),
                  user.get_username())  # fmt: skip
    entries = {k: (raw, unit or None) for k, (raw, unit) in stored_inputs(record.values).items() if raw}
    files = {**stored_files(definition, form, record.values), code: ref}
    check_save_form(user, record, entries, expected_version=record.version, confirmed=set(record.confirmed_warnings or ()),
                    missing=stored_missing(record.values), files=files)  # fmt: skip


def _enter_history(user: Any, subject: Subject) -> None:
    """The patient's medical history (simulated: Raynaud's phenomenon and some comorbidities), one log record each."""
    if history.FORM not in study_definition(subject.study).form_by_code:
        return
    for entries in history.simulate_medical_history(subject.screening_date, SEED + subject.pk):
        check_add_log_record(user, subject, history.FORM, entries)


def _enter_candidate(user: Any, subject: Subject, definition: StudyDef, row: Any, screened: dt.date) -> None:
    entries: dict[str, tuple[str, str | None]] = {}
    for column, value in row.items():
        if column == "subject_id" or str(value) == "":
            continue
        code, _, unit = str(column).partition(" [")
        entries[code] = (str(value), unit.removesuffix("]") or None)
    visit = subject.visits.get()
    for record in FormRecord.objects.filter(visit=visit).order_by("id"):
        items = set(definition.form_by_code[record.form_code].items)
        form_entries = {k: v for k, v in entries.items() if k in items}
        if form_entries:  # a candidate row has no dates: the form's required dates (a lab's sample date) are the visit's
            for code in definition.required_items(record.form_code):
                if definition.item_by_code[code].type == "date" and code not in form_entries:
                    form_entries[code] = (screened.isoformat(), None)
            check_save_form(
                user, record, form_entries, expected_version=record.version, visit_date=screened, confirmed=set(form_entries)
            )


def _enrol_simulated(users: dict[str, Any], site: Site, study: Study, stage: Stage, info: Any,
                     values: dict[str, list[tuple[str, str, str, str]]], today: dt.date) -> None:  # fmt: skip
    coordinator, investigator = users["coordinator"], users["investigator"]
    sim_infusion = dt.date.fromisoformat(str(info[SUBJECT_INFUSION_DATE]))
    if stage.kind in ("eligible_consented", "enrolled"):
        shift = (today - dt.timedelta(days=4)) - dt.date.fromisoformat(str(info["enrolment_date"]))
    else:
        shift = (today - dt.timedelta(days=round(stage.months_since_infusion * 30.4375))) - sim_infusion
    screened = _shift(str(info["screening_date"]), shift)
    subject = actions.check_open_screening(coordinator, site, study, screened)
    _enter_history(coordinator, subject)
    screening_visit = subject.visits.get()
    _save_visit(coordinator, subject, screening_visit, values.get(screening_visit.code, []), shift)
    _add_logs(coordinator, subject, values.get(screening_visit.code, []), shift)
    subject = actions.check_consent(coordinator, subject, "2.0 (2009-07-20)", _shift(str(info["consent_date"]), shift))
    if stage.kind == "eligible_consented":
        return
    subject = actions.check_enrol(investigator, subject, _shift(str(info["enrolment_date"]), shift))
    if stage.kind == "enrolled":
        return
    roles = study_definition(study).intervention_items  # the simulator names its columns after these items
    infusion = {
        roles.date: ((sim_infusion + shift).isoformat(), None), roles.lot: (str(info[roles.lot]), None),
        roles.weight: (f"{float(info['infusion_weight_kg']):g}", None), roles.cells: (str(int(info[SUBJECT_CELLS])), None),
    }  # fmt: skip
    if roles.donor is not None:
        infusion[roles.donor] = (str(info[roles.donor]), None)
    day0 = study_definition(study).intervention_visit.code
    _add_logs(coordinator, subject, values.get(day0, []), shift)  # what the infusion requires (a pregnancy test before it)
    subject = actions.check_record_infusion(investigator, subject, infusion, confirmed=set(infusion))
    _save_visit(coordinator, subject, subject.visits.get(code=day0), values.get(day0, []), shift)
    end = {"withdrawn": Transition.WITHDRAW, "died": Transition.DIE, "completed": Transition.COMPLETE}.get(stage.kind)
    visits = list(subject.visits.filter(day__gt=0).order_by("day"))
    stop_at = (
        today
        if end is None or end is Transition.COMPLETE
        else sim_infusion + shift + dt.timedelta(days=round(stage.months_since_infusion * 30.4375) - 20)
    )
    done = [v for v in visits if v.code in values and _shift(values[v.code][0][3], shift) <= stop_at]
    if stage.skip_last and done:
        done = done[:-1]
    for visit in done:
        _save_visit(coordinator, subject, visit, values[visit.code], shift)
    for visit in visits:
        visit.refresh_from_db()
        if visit.done_on is None and visit.window_end < min(today, stop_at) and visit.code not in values:
            actions.check_mark_visit_missed(coordinator, visit, "patient did not attend (simulated)")
    if end is Transition.COMPLETE:
        last = max((v.done_on for v in subject.visits.all() if v.done_on), default=today)
        actions.check_end_subject(investigator, subject, end, last, "")
    elif end is Transition.WITHDRAW:
        actions.check_end_subject(investigator, subject, end, stop_at, "withdrew consent (moved away from Nanjing)")
    elif end is Transition.DIE:
        actions.check_end_subject(investigator, subject, end, stop_at, "sepsis after pneumonia (simulated)")
