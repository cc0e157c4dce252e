"""Source documents in the core: the content check of an attached file (hand-made bytes), its stored metadata, the
file item in the entry check and the save plan, and the protocol rules of ``type: file``."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zlib
from struct import pack

import pikepdf
import pytest

from rodnan.core.entry import EnteredValue, check_form_entry, file_value
from rodnan.core.files import FileRef, check_file_content, detect_media_type, format_size, sanitize_filename
from rodnan.core.protocol import Study
from rodnan.core.protocol.model import FILE_MAX_BYTES_DEFAULT, ItemDef
from rodnan.core.records.errors import EntryRejectedError
from rodnan.core.records.model import RecordSnapshot, SubjectSnapshot
from rodnan.core.records.record_plans import plan_save_record, shown
from rodnan.errors import InputError
from tests.protocol_edits import broken, problems

ITEM = ItemDef(code="scan", label="Scan", type="file", accept=["application/pdf", "image/png"])
PDF_ONLY = ItemDef(code="scan", label="Scan", type="file", accept=["application/pdf"])
LIMIT = 1024 * 1024


def pdf_bytes(pages: int = 1) -> bytes:
    """A small valid PDF (blank pages), written by pikepdf."""
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(200, 100))
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True)
    return out.getvalue()


def png_bytes(width: int = 2, height: int = 1) -> bytes:
    """A PNG written by hand (signature, IHDR, IDAT, IEND; PNG specification §5), greyscale 8-bit."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return pack(">I", len(data)) + kind + data + pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_a_pdf_passes_with_its_type_size_hash_and_name() -> None:
    """A real PDF: media type from the content, its size, its SHA-256 and the name kept."""
    data = pdf_bytes()
    checked = check_file_content(ITEM, data, "lab 2026-03.pdf", LIMIT)
    assert checked.media_type == "application/pdf"
    assert checked.size == len(data)
    assert checked.sha256 == hashlib.sha256(data).hexdigest()
    assert checked.name == "lab 2026-03.pdf"


def test_a_hand_made_png_passes() -> None:
    """A PNG built byte by byte is read by Pillow as a PNG."""
    checked = check_file_content(ITEM, png_bytes(), "scan.png", LIMIT)
    assert (checked.media_type, checked.name) == ("image/png", "scan.png")


def test_file_ref_round_trips_through_json() -> None:
    """The metadata stored in the record's values reads back unchanged."""
    ref = FileRef("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc.pdf", "application/pdf", 3,
                  "2026-12-08T00:00:00Z", "coord")  # fmt: skip
    assert FileRef.from_json(json.loads(json.dumps(ref.as_json()))) == ref


@pytest.mark.parametrize(
    ("data", "name", "rule"),
    [
        (b"", "empty.pdf", "the file is empty"),
        (png_bytes(), "scan.pdf", "the name says PDF (.pdf) but the content is a PNG image"),
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "report.pdf", "the content is an HTML, SVG or XML document"),
        (b"PK\x03\x04" + b"\x00" * 40, "scans.pdf", "the content is a ZIP archive (or an Office document)"),
        (b"%PDF-1.7\nthis is not a pdf at all\n", "broken.pdf", "the PDF cannot be read"),
        (png_bytes()[:30], "cut.png", "the PNG image cannot be read"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "photo.jpg", "the content is a JPEG image; this item accepts PDF or PNG image"),
    ],
)
def test_bad_files_are_refused_naming_the_item_and_the_rule(data: bytes, name: str, rule: str) -> None:
    """Empty, a PNG named .pdf, HTML, a ZIP, a damaged PDF, a truncated PNG, a type the item does not accept."""
    with pytest.raises(InputError) as caught:
        check_file_content(ITEM, data, name, LIMIT)
    assert caught.value.field == "scan"
    assert caught.value.rule.startswith(rule), caught.value.rule


def test_a_file_over_the_limit_is_refused_before_it_is_read() -> None:
    """One byte over the limit: refused with both sizes in words."""
    data = pdf_bytes()
    with pytest.raises(InputError) as caught:
        check_file_content(ITEM, data, "big.pdf", len(data) - 1)
    assert caught.value.rule == f"the file is {format_size(len(data))}; the limit is {format_size(len(data) - 1)}"
    assert check_file_content(ITEM, data, "fits.pdf", len(data)).size == len(data)  # exactly the limit passes


def test_the_name_is_not_trusted_and_the_browser_type_is_never_asked() -> None:
    """A PDF named .png is refused; a PDF with no extension gets .pdf; the item accepting only PDF refuses a PNG."""
    with pytest.raises(InputError, match="the name says PNG image"):
        check_file_content(ITEM, pdf_bytes(), "scan.png", LIMIT)
    assert check_file_content(ITEM, pdf_bytes(), "scan", LIMIT).name == "scan.pdf"
    with pytest.raises(InputError, match="this item accepts PDF"):
        check_file_content(PDF_ONLY, png_bytes(), "scan.png", LIMIT)


def test_a_password_protected_pdf_is_refused() -> None:
    """An encrypted PDF cannot be read by the monitor: refused."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    with pytest.raises(InputError, match="protected by a password"):
        check_file_content(ITEM, out.getvalue(), "locked.pdf", LIMIT)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("C:\\scans\\lab.pdf", "lab.pdf"),
        ("../../etc/passwd", "passwd.pdf"),
        ('<img src=x onerror="a()">.pdf', "_img src=x onerror=_a()_.pdf"),
        ("bericht\u0000\u202e.pdf", "bericht.pdf"),
        ("   ", "document.pdf"),
        ("化验单.PDF", "化验单.PDF"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_sanitize_filename(name: str, expected: str) -> None:
    """No folders, control characters or markup; the extension of the media type; at most 120 characters."""
    assert sanitize_filename(name, "application/pdf") == expected


def test_detect_media_type_reads_the_first_bytes() -> None:
    """Signatures: %PDF-, the PNG signature, FF D8 FF, II*\\0 and MM\\0*; anything else None."""
    assert detect_media_type(b"%PDF-1.4") == "application/pdf"
    assert detect_media_type(b"II*\x00rest") == detect_media_type(b"MM\x00*rest") == "image/tiff"
    assert detect_media_type(b"GIF89a") is None


def test_file_ref_from_json_names_the_bad_key() -> None:
    """A hash that is not 64 hex digits, a negative size, an unknown media type: each named."""
    good = FileRef("0" * 64, "a.pdf", "application/pdf", 10, "2026-12-08T00:00:00Z", "coord").as_json()
    for key, value, field in [("sha256", "XYZ", "file.sha256"), ("size", -1, "file.size"), ("media_type", "text/html",
                                                                                            "file.media_type")]:  # fmt: skip
        with pytest.raises(InputError) as caught:
            FileRef.from_json({**good, key: value})
        assert caught.value.field == field


# --- the file item in the entry check and the save plan ---------------------------------------------


def _ref(study: Study, sha: str = "a" * 64, name: str = "lab.pdf", size: int = 2048, media: str = "application/pdf") -> FileRef:
    return FileRef(sha, name, media, size, "2026-12-08T01:02:03Z", "coord")


def _file_item(study: Study, form: str = "organ_function") -> str:
    return next(code for code in study.form_by_code[form].items if study.item_by_code[code].type == "file")


def test_the_lab_forms_and_the_screening_form_take_a_source_document(study: Study) -> None:
    """organ_function, serology, lymphocytes and screening each list an optional file item."""
    for form in ("organ_function", "serology", "lymphocytes", "screening"):
        code = _file_item(study, form)
        assert code not in study.required_items(form)
        assert study.file_limit(study.item_by_code[code]) == 20 * 1024 * 1024 == FILE_MAX_BYTES_DEFAULT


def test_entry_takes_the_metadata_and_refuses_typed_text(study: Study) -> None:
    """A file item holds the metadata (name as raw, hash as value); text typed into it is refused."""
    code = _file_item(study)
    entry = check_form_entry(study, "organ_function", {}, files={code: _ref(study)})
    value = entry.values[code]
    assert (value.type, value.raw, value.value, value.display) == ("file", "lab.pdf", "a" * 64, "lab.pdf · PDF · 2.0 KB")
    assert EnteredValue.from_json(json.loads(json.dumps(value.as_json()))) == value
    typed = check_form_entry(study, "organ_function", {code: ("lab.pdf", None)})
    assert typed.errors[code].rule == "attach a file: a file item takes no typed value"


def test_entry_checks_the_metadata_against_the_item(study: Study) -> None:
    """A media type the item does not accept (a GIF is none of the four) or a size over the limit: named errors."""
    code = _file_item(study)
    over = check_form_entry(study, "organ_function", {}, files={code: _ref(study, size=20 * 1024 * 1024 + 1)})
    assert over.errors[code].rule == "the file is 20.0 MB; the limit is 20.0 MB"
    unsanitised = check_form_entry(study, "organ_function", {}, files={code: _ref(study, name="../x.pdf")})
    assert "sanitised" in unsanitised.errors[code].rule
    elsewhere = check_form_entry(study, "mrss", {}, files={code: _ref(study)})
    assert elsewhere.errors[code].rule == "not an item of form mrss"


def _snapshot(values: dict[str, object] | None = None, version: int = 0) -> RecordSnapshot:
    return RecordSnapshot((None, "organ_function", 0), values=dict(values or {}), version=version)  # type: ignore[arg-type]


def test_replacing_a_file_needs_a_reason_and_the_audit_holds_both_hashes(study: Study) -> None:
    """First upload: a change without reason. A different file (same name): refused without a reason; with one, the
    audit entry's old and new values carry the old and the new hash."""
    code = _file_item(study)
    subject = SubjectSnapshot("NJDT-001", "in_follow_up", 3, "S-001", dt.date(2026, 1, 5))
    first = plan_save_record(study, subject, _snapshot(), {}, today=dt.date(2026, 12, 8), expected_version=0,
                             files={code: _ref(study)})  # fmt: skip
    saved = first.records[0].record
    assert saved.values[code]["file"]["sha256"] == "a" * 64  # type: ignore[index]
    assert "content" not in json.dumps(saved.values)  # metadata only
    again = plan_save_record(study, subject, saved, {}, today=dt.date(2026, 12, 8), expected_version=saved.version,
                             files={code: _ref(study)})  # fmt: skip
    assert again.empty  # the same file again: nothing changed
    new = _ref(study, sha="b" * 64)
    with pytest.raises(EntryRejectedError, match="reason for change is required"):
        plan_save_record(study, subject, saved, {}, today=dt.date(2026, 12, 8), expected_version=saved.version,
                         files={code: new})  # fmt: skip
    replaced = plan_save_record(study, subject, saved, {}, today=dt.date(2026, 12, 8), expected_version=saved.version,
                                files={code: new}, reason="the lab sent a corrected report")  # fmt: skip
    [change] = [a for a in replaced.audit if a.action == "record.save"]
    [delta] = [d for d in change.items if d.field == code]
    assert (delta.old["file"]["sha256"], delta.new["file"]["sha256"]) == ("a" * 64, "b" * 64)  # type: ignore[index]
    assert change.reason == "the lab sent a corrected report"
    assert shown(delta.old) == f"lab.pdf (sha256 {'a' * 64})"


def test_file_value_display(study: Study) -> None:
    """file_value: raw the name, value the hash, display name · type · size."""
    item = study.item_by_code[_file_item(study)]
    value = file_value(item, _ref(study, media="image/tiff", size=3 * 1024 * 1024))
    assert value.display == "lab.pdf · TIFF image · 3.0 MB"


# --- the protocol ---------------------------------------------------------------------------------

FILE_ITEM = """  - code: source_document
    label: Scanned source document
    type: file
    accept: [application/pdf, image/png, image/jpeg, image/tiff]"""


@pytest.mark.parametrize(
    ("new", "path", "rule"),
    [
        (FILE_ITEM.replace("image/tiff]", "image/gif]"), ".accept.3", "Input should be 'application/pdf'"),
        (FILE_ITEM + "\n    max_bytes: 0", ".max_bytes", "Input should be greater than 0"),
        (FILE_ITEM + "\n    max_bytes: 1000000000", ".max_bytes", "Input should be less than or equal to 104857600"),
        (FILE_ITEM.replace("    accept: [application/pdf, image/png, image/jpeg, image/tiff]", "    accept: []"), "",
         "accept (the media types) is required for a file item"),
        (FILE_ITEM.replace("type: file", "type: text"), "", "accept (the media types) is required for a file item and only "
                                                            "allowed there"),
        (FILE_ITEM.replace("image/png,", "application/pdf,"), "", "accept lists a media type more than once"),
    ],
)  # fmt: skip
def test_protocol_check_names_bad_media_types_and_limits(new: str, path: str, rule: str) -> None:
    """Unknown media types, limits of 0 or over 100 MiB, accept missing or misplaced: each a problem at its path."""
    found = problems(broken(FILE_ITEM, new))
    assert any((p.endswith(path) and r_.startswith(rule)) or rule in r_ for _, p, r_ in found), found
    assert all(p.startswith("items[") for _, p, _ in found), found


def test_protocol_check_names_a_bad_study_limit() -> None:
    """files.max_bytes must be a positive number of bytes."""
    found = problems(broken("  max_bytes: 20971520", "  max_bytes: -5"))
    assert [(p, r) for _, p, r in found] == [("files.max_bytes", "Input should be greater than 0")]
