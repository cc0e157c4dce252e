"""Source documents through the screens: upload with a form, the store outside the web root, the file served to those
who may see the record (audited), replaced with a reason and never deleted, a tampered file refused (decision 0021)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from pathlib import Path

import pikepdf
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile

from rodnan.web.audit.chain import verify_chain
from rodnan.web.audit.replay import verify_and_reconcile
from rodnan.web.crfs import storage
from rodnan.web.crfs.models import FormRecord
from tests.web import factories as f
from tests.web.pages import text

pytestmark = pytest.mark.django_db

ITEM = "source_document"  # the bundled protocol's file item on the screening and lab forms


def pdf(text_on_page: str = "lab report") -> bytes:
    """A one-page PDF, different for each ``text_on_page`` (it is stored in the document's metadata)."""
    document = pikepdf.new()
    document.add_blank_page(page_size=(200, 100))
    document.docinfo["/Title"] = text_on_page
    out = io.BytesIO()
    document.save(out, deterministic_id=True)
    return out.getvalue()


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00:~\x9bU\x00\x00\x00\nIDATx"
       b"\x9cc`\x00\x00\x00\x02\x00\x01H\xaf\xa4q\x00\x00\x00\x00IEND\xaeB`\x82")  # fmt: skip  # 1x1 grey PNG, by hand


@pytest.fixture(autouse=True)
def files_dir(settings, tmp_path: Path) -> Path:
    """A fresh store per test (outside the static folders)."""
    settings.RODNAN_FILES_DIR = tmp_path / "files"
    return tmp_path / "files"


def _stored(files_dir: Path) -> list[Path]:
    return sorted(p for p in files_dir.rglob("*") if p.is_file())


def _upload(client, record: FormRecord, data: bytes, name: str, content_type: str = "application/pdf", **extra: str):
    body = {"version": str(record.version), "visit_date": f.days_ago(58).isoformat(), **extra,
            f"file_{ITEM}": SimpleUploadedFile(name, data, content_type=content_type)}  # fmt: skip
    return client.post(f"/forms/{record.pk}/", body)


@pytest.fixture
def record(investigator, site) -> FormRecord:
    """The screening form of a subject in screening (no value yet)."""
    return f.scr_record(f.open_screening(investigator, site), "screening")


def test_upload_stores_the_bytes_outside_the_database_and_the_metadata_in_the_record(client, coordinator, record, files_dir):
    """A PDF posted with the form: the record holds hash, name, type, size, when and who; the store holds the bytes,
    named by their SHA-256, read-only; the audit entry carries the metadata and the hash, never the bytes."""
    client.force_login(coordinator)
    data = pdf()
    start = f.last_seq()
    response = _upload(client, record, data, "Lab report (March).pdf", content_type="text/html")  # the browser's type: ignored
    assert response.status_code == 302
    record.refresh_from_db()
    meta = record.values[ITEM]["file"]
    sha = hashlib.sha256(data).hexdigest()
    assert (meta["sha256"], meta["name"], meta["media_type"], meta["size"], meta["uploaded_by"]) == (
        sha, "Lab report (March).pdf", "application/pdf", len(data), "coord")  # fmt: skip
    assert meta["uploaded_at"].endswith("Z")
    [path] = _stored(files_dir)
    assert path == files_dir / sha[:2] / sha
    assert path.read_bytes() == data
    assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)  # read-only
    assert "%PDF" not in json.dumps(record.values)
    [save] = [e for e in f.audit_since(start) if e.action == "record.save"]
    [item] = [i for i in save.items if i["field"] == ITEM]
    assert item["old"] is None
    assert item["new"]["file"]["sha256"] == sha
    assert "%PDF" not in save.changes
    assert verify_chain().ok


def test_the_form_shows_the_attached_file_and_is_multipart(client, coordinator, record):
    """The entry page: multipart form, the file's name, type and size, a link to view it."""
    client.force_login(coordinator)
    data = pdf()
    _upload(client, record, data, "lab.pdf")
    page = client.get(f"/forms/{record.pk}/")
    body = page.content.decode()
    assert 'enctype="multipart/form-data"' in body
    assert f'href="/forms/{record.pk}/files/{ITEM}/"' in body
    assert len(data) < 1024
    assert f"lab.pdf · PDF · {len(data)} bytes · uploaded" in text(page)
    assert 'type="file"' in body
    assert 'accept="application/pdf,image/png,image/jpeg,image/tiff,.pdf,' in body


def test_the_file_is_served_with_the_stored_type_nosniff_and_a_sandbox_and_each_view_is_audited(client, coordinator, record):
    """GET the file: the bytes, the stored media type, nosniff, CSP sandbox, a safe name; a file.view entry names who,
    which record and item, and the hash; the chain still verifies."""
    client.force_login(coordinator)
    data = pdf()
    _upload(client, record, data, "lab.pdf", content_type="text/html")
    start = f.last_seq()
    response = client.get(f"/forms/{record.pk}/files/{ITEM}/")
    assert response.status_code == 200
    assert response.content == data
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"].startswith("sandbox")
    assert response["Content-Disposition"] == 'inline; filename="lab.pdf"'
    assert client.get(f"/forms/{record.pk}/files/{ITEM}/?download=1")["Content-Disposition"] == 'attachment; filename="lab.pdf"'
    assert client.post(f"/forms/{record.pk}/files/{ITEM}/").status_code == 405  # read only
    [view, _] = f.audit_since(start)
    sha = hashlib.sha256(data).hexdigest()
    assert (view.action, view.username, view.form_record_id) == ("file.view", "coord", record.pk)
    assert view.items == [{"field": ITEM, "old": None, "new": f"lab.pdf (sha256 {sha})"}]
    assert view.object_id.endswith("/SCR/screening")
    assert verify_chain().ok
    replayed = verify_and_reconcile()  # file.* entries hold no clinical data: the replay still explains every value
    assert replayed.ok, [str(d) for d in replayed.differences]


@pytest.mark.parametrize(
    ("data", "name", "rule"),
    [
        (PNG, "scan.pdf", "the name says PDF (.pdf) but the content is a PNG image"),
        (b"<html><body>not a scan</body></html>", "scan.pdf", "the content is an HTML, SVG or XML document"),
        (b"PK\x03\x04" + bytes(60), "scans.zip", "the content is a ZIP archive"),
        (b"", "empty.pdf", "the file is empty"),
    ],
)
def test_a_refused_upload_is_422_naming_the_item_and_stores_nothing(client, coordinator, record, files_dir, data, name, rule):
    """A PNG named .pdf, an HTML page, a ZIP, an empty file: 422 with the item's label and the rule; nothing saved."""
    client.force_login(coordinator)
    start = f.last_seq()
    response = _upload(client, record, data, name)
    assert response.status_code == 422
    assert f"Scanned source document: {rule}" in text(response)
    record.refresh_from_db()
    assert (record.version, record.values) == (0, {})
    assert _stored(files_dir) == []
    assert f.audit_since(start) == []


def test_a_file_over_the_limit_is_refused(client, coordinator, record, files_dir, settings):
    """A protocol limit of 20 MiB: 20 MiB + 1 byte is refused (before the content is read)."""
    client.force_login(coordinator)
    big = pdf() + b"\n%" + b"x" * (20 * 1024 * 1024)
    response = _upload(client, record, big, "big.pdf")
    assert response.status_code == 422
    assert "the limit is 20.0 MB" in text(response)
    assert _stored(files_dir) == []


def test_replacing_needs_a_reason_keeps_the_old_file_and_the_audit_shows_both_hashes(client, coordinator, record, files_dir):
    """A second file: without a reason 422; with one, saved; both files stay in the store; the audit entry has old
    and new hash; the audit page shows both."""
    client.force_login(coordinator)
    first, second = pdf("first"), pdf("second, corrected")
    _upload(client, record, first, "lab.pdf")
    record.refresh_from_db()
    refused = _upload(client, record, second, "lab.pdf")
    assert refused.status_code == 422
    assert "reason for change is required" in text(refused)
    record.refresh_from_db()
    assert record.values[ITEM]["file"]["sha256"] == hashlib.sha256(first).hexdigest()
    start = f.last_seq()
    saved = _upload(client, record, second, "lab.pdf", reason="the laboratory corrected its report")
    assert saved.status_code == 302
    record.refresh_from_db()
    old, new = hashlib.sha256(first).hexdigest(), hashlib.sha256(second).hexdigest()
    assert record.values[ITEM]["file"]["sha256"] == new
    assert {p.name for p in _stored(files_dir)} == {old, new}  # never deleted
    [save] = [e for e in f.audit_since(start) if e.action == "record.save"]
    [item] = [i for i in save.items if i["field"] == ITEM]
    assert (item["old"]["file"]["sha256"], item["new"]["file"]["sha256"]) == (old, new)
    assert save.reason == "the laboratory corrected its report"
    audit_page = text(client.get(f"/forms/{record.pk}/audit/"))
    assert f"lab.pdf (sha256 {old})" in audit_page
    assert f"lab.pdf (sha256 {new})" in audit_page


def test_saving_other_values_keeps_the_file(client, coordinator, record):
    """A later save without a new upload keeps the attached file (no change to it in the audit)."""
    client.force_login(coordinator)
    data = pdf()
    _upload(client, record, data, "lab.pdf")
    record.refresh_from_db()
    start = f.last_seq()
    response = client.post(f"/forms/{record.pk}/", {"version": str(record.version), "v_esr": "17"})
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.values[ITEM]["file"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert record.values["esr"]["raw"] == "17"
    [save] = [e for e in f.audit_since(start) if e.action == "record.save"]
    assert [i["field"] for i in save.items] == ["esr"]


def test_a_tampered_file_is_refused_with_a_clear_page_and_audited(client, coordinator, record, files_dir):
    """The stored bytes changed on disk: the file is not sent (409), the page says so, a file.refused entry is written."""
    client.force_login(coordinator)
    data = pdf()
    _upload(client, record, data, "lab.pdf")
    [path] = _stored(files_dir)
    os.chmod(path, 0o640)
    path.write_bytes(data.replace(b"lab report", b"lab rep0rt"))
    start = f.last_seq()
    response = client.get(f"/forms/{record.pk}/files/{ITEM}/")
    assert response.status_code == 409
    assert response["Content-Type"].startswith("text/html")
    assert "has changed on disk" in text(response)
    assert "It was not sent" in text(response)
    [refusal] = f.audit_since(start)
    assert refusal.action == "file.refused"
    path.unlink()
    assert "is missing from the store" in text(client.get(f"/forms/{record.pk}/files/{ITEM}/"))


@pytest.mark.parametrize(
    ("role", "can_view"),
    [("investigator", True), ("coordinator", True), ("monitor", True), ("data_manager", True), ("statistician", True),
     ("safety_reviewer", True), ("administrator", False)],
)  # fmt: skip
def test_who_may_view_the_file(client, coordinator, record, site, role, can_view):
    """Every role that views subjects (VIEW_SUBJECTS) may open the file; the administrator sees no clinical data (404)."""
    client.force_login(coordinator)
    _upload(client, record, pdf(), "lab.pdf")
    client.force_login(f.make_user(f"u_{role}", role, site))
    assert client.get(f"/forms/{record.pk}/files/{ITEM}/").status_code == (200 if can_view else 404)


@pytest.mark.parametrize("role", ["monitor", "data_manager", "statistician", "safety_reviewer"])
def test_roles_that_only_read_cannot_upload_and_store_nothing(client, record, site, files_dir, role):
    """A monitor (or any role without ENTER_DATA) posting a file: refused, nothing stored, the record unchanged."""
    client.force_login(f.make_user(f"u_{role}", role, site))
    response = _upload(client, record, pdf(), "lab.pdf")
    assert response.status_code == 302  # back to the subject with the refusal as a message
    record.refresh_from_db()
    assert record.values == {}
    assert _stored(files_dir) == []


def test_another_sites_staff_get_404(client, coordinator, record, site):
    """A coordinator of site B: the file of a site A record is "not found", and nothing is audited as viewed."""
    client.force_login(coordinator)
    _upload(client, record, pdf(), "lab.pdf")
    other = f.make_user("coord_b", "coordinator", f.make_site_b(site.study))
    client.force_login(other)
    start = f.last_seq()
    assert client.get(f"/forms/{record.pk}/files/{ITEM}/").status_code == 404
    assert f.audit_since(start) == []


def test_no_file_or_not_a_file_item_is_404(client, coordinator, record):
    """An item with no file, an item that is not a file item, an unknown item: 404."""
    client.force_login(coordinator)
    assert client.get(f"/forms/{record.pk}/files/{ITEM}/").status_code == 404
    client.post(f"/forms/{record.pk}/", {"version": "0", "v_esr": "17", "visit_date": f.days_ago(58).isoformat()})
    assert client.get(f"/forms/{record.pk}/files/esr/").status_code == 404
    assert client.get(f"/forms/{record.pk}/files/nothing_here/").status_code == 404


def test_the_store_refuses_a_folder_that_is_served(settings):
    """RODNAN_FILES_DIR under STATIC_ROOT (or a static source folder) is a configuration error."""
    settings.RODNAN_FILES_DIR = Path(settings.STATIC_ROOT) / "files"
    with pytest.raises(ImproperlyConfigured, match="outside the served folder"):
        storage.files_dir()


def test_identical_content_is_stored_once(files_dir):
    """Storing the same bytes twice writes one file; a wrong hash is refused."""
    data = pdf()
    sha = hashlib.sha256(data).hexdigest()
    assert storage.store_file(data, sha) == storage.store_file(data, sha)
    assert len(_stored(files_dir)) == 1
    with pytest.raises(storage.StoredFileError, match="is not the SHA-256"):
        storage.store_file(data + b"x", sha)
    assert storage.read_file(sha) == data
