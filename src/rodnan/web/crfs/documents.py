"""Source documents on the screens: files received with a form (checked by the core, then stored) and the view
that serves an attached file to those who may see its record, audited (decision 0021)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from rodnan.core.audit import canonical_time
from rodnan.core.entry import EntryIssue
from rodnan.core.files import FileRef, check_file_content, format_size
from rodnan.core.protocol.model import FormDef, Study
from rodnan.core.records.model import ItemDelta
from rodnan.core.records.record_plans import record_label
from rodnan.errors import InputError
from rodnan.web.accounts.access import role_at
from rodnan.web.audit.chain import Change, append
from rodnan.web.crfs.models import FormRecord
from rodnan.web.crfs.storage import StoredFileError, read_file, store_file
from rodnan.web.studies.protocol import study_definition
from rodnan.web.subjects.selectors import get_form_record_for_user
from rodnan.web.subjects.store import record_snapshot, subject_snapshot

INLINE_TYPES = ("application/pdf", "image/png", "image/jpeg")
"""Media types a browser shows itself (opened in the tab); others, and ``?download=1``, are downloaded."""

SANDBOX_POLICY = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
"""The Content-Security-Policy of a served file: a sandbox (no script, no form, no same-origin access) even if a
browser were to read the file as a page."""


def file_items(study: Study, form: FormDef) -> tuple[str, ...]:
    """The form's file items, in form order."""
    return tuple(code for code in form.items if study.item_by_code[code].type == "file")


def stored_files(study: Study, form: FormDef, values: Mapping[str, Any]) -> dict[str, FileRef]:
    """The files a record holds, by item (what a save without a new upload keeps)."""
    out: dict[str, FileRef] = {}
    for code in file_items(study, form):
        data = values.get(code)
        if isinstance(data, Mapping) and isinstance(data.get("file"), Mapping) and not data.get("missing"):
            out[code] = FileRef.from_json(data["file"])
    return out


def received_files(request: HttpRequest, study: Study, form: FormDef) -> tuple[dict[str, FileRef], dict[str, EntryIssue]]:
    """The files uploaded with a form (``file_<item>``): each checked by the core, then stored.

    Returns:
        The metadata of each accepted file by item, and the refused files' errors by item (item, rule).
    """
    files: dict[str, FileRef] = {}
    errors: dict[str, EntryIssue] = {}
    for code in file_items(study, form):
        upload = request.FILES.get(f"file_{code}")
        if upload is None:
            continue
        item = study.item_by_code[code]
        limit = study.file_limit(item)
        name = str(upload.name or "")
        try:
            if upload.size is not None and upload.size > limit:  # refused before the bytes are read
                raise InputError(code, f"the file is {format_size(upload.size)}; the limit is {format_size(limit)}", name)
            data = upload.read(limit + 1)
            checked = check_file_content(item, data, name, limit)
        except InputError as exc:
            errors[code] = EntryIssue(code, exc.rule, "error", f"{item.label}: {exc.rule}")
            continue
        store_file(data, checked.sha256)
        files[code] = FileRef(checked.sha256, checked.name, checked.media_type, checked.size, canonical_time(timezone.now()),
                              request.user.get_username())  # fmt: skip
    return files, errors


def _audit(request: HttpRequest, record: FormRecord, action: str, item: str, new: str) -> None:
    role = role_at(request.user, record.subject.site_id)
    where = record_label(subject_snapshot(record.subject), record_snapshot(record))
    change = Change(action, "record", where, "", (ItemDelta(item, None, new),), site_id=record.subject.site_id,
                    subject_id=record.subject_id, form_record_id=record.pk)  # fmt: skip
    with transaction.atomic():
        append(user=request.user, role=role.code if role else "", changes=[change])


@login_required
@require_GET
def record_file(request: HttpRequest, pk: int, item_code: str) -> HttpResponse:
    """The file a record's item holds, to a user who may see the record (other sites: 404), audited as ``file.view``.

    The bytes are checked against the hash the record holds before anything is sent: a changed file is refused
    with a page that says so (409), and the refusal is audited (``file.refused``). The file goes out with its
    stored media type (never the uploaded one), ``nosniff``, a sandboxing Content-Security-Policy and a safe name.
    """
    record = get_form_record_for_user(request.user, pk)
    study = study_definition(record.subject.study)
    item = study.item_by_code.get(item_code)
    data = (record.values or {}).get(item_code)
    if item is None or item.type != "file" or not isinstance(data, Mapping) or not isinstance(data.get("file"), Mapping):
        raise Http404("no such file on this form")
    ref = FileRef.from_json(data["file"])
    seen = f"{ref.name} (sha256 {ref.sha256})"  # as the record's own audit entries show a file (record_plans.shown)
    try:
        content = read_file(ref.sha256)
    except StoredFileError as exc:
        _audit(request, record, "file.refused", item.code, f"{seen}: {exc.problem}")
        context = {"code": 409, "title": "This file cannot be shown",
                   "message": f"{ref.name} (SHA-256 {ref.sha256}) {exc.problem}. It was not sent. The refusal is in the "
                              "audit trail; tell the data manager, who can restore the file from the backup."}  # fmt: skip
        return render(request, "rodnan/error.html", context, status=409)
    _audit(request, record, "file.view", item.code, seen)
    response = HttpResponse(content, content_type=ref.media_type)
    inline = ref.media_type in INLINE_TYPES and request.GET.get("download") != "1"
    response["Content-Disposition"] = content_disposition_header(not inline, ref.name) or "attachment"
    response["Content-Length"] = str(len(content))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX_POLICY
    response["Cache-Control"] = "no-store, private"
    return response
