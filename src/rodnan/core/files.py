"""Source documents: the content check of an attached file and the metadata a ``file`` item stores.

A ``file`` item of the protocol (``type: file``, ``accept:`` media types, ``max_bytes``) holds a scan
or PDF attached to a record. The bytes never enter the database values or the audit chain: the web
stores them outside the web root, content-addressed by SHA-256, and the item's value holds
:class:`FileRef` (hash, sanitised name, media type, size, when and by whom it was uploaded).

The type is read from the bytes, never from the browser's content type or the file's name: a PDF must
open with pikepdf, an image with Pillow (and have the format its first bytes announce). A file whose
name claims another type than its content, an HTML page, a ZIP archive, an empty file or a file over
the limit is refused with :class:`~rodnan.errors.InputError` naming the item and the rule.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import get_args

from rodnan.core.protocol.forms import ItemDef, MediaType
from rodnan.errors import InputError

MEDIA_TYPES: tuple[MediaType, ...] = get_args(MediaType)
"""Every media type a file item may accept."""

MEDIA_LABELS: dict[str, str] = {"application/pdf": "PDF", "image/png": "PNG image", "image/jpeg": "JPEG image",
                                "image/tiff": "TIFF image"}  # fmt: skip
"""Each media type in words, for messages and the screen."""

EXTENSIONS: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe"),
    "image/tiff": (".tif", ".tiff"),
}
"""The file-name extensions of each media type (the first is given to a name that has none)."""

NAME_MAX_LENGTH = 120
"""Longest stored file name, in characters (the extension kept)."""

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE = re.compile(r"[^\w .()+,=-]+")  # \w: letters and digits of any script, and _


def format_size(size: int) -> str:
    """A size in bytes for people: "812 bytes", "14.2 KB", "3.1 MB" (1 KB = 1,024 bytes)."""
    if size < 1024:
        return f"{size} byte{'s' if size != 1 else ''}"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def detect_media_type(data: bytes) -> str | None:
    """The media type the first bytes announce (PDF, PNG, JPEG, TIFF), or None for anything else.

    Only a first guess: :func:`check_file_content` then opens the file with the library that reads it.
    """
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    return None


def _what_else(data: bytes) -> str:
    """What a file of no accepted type seems to be, for the message."""
    head = data[:512].lstrip().lower()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip()
    if head.startswith((b"<!doctype html", b"<html", b"<script", b"<svg", b"<?xml")):
        return "an HTML, SVG or XML document"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "a ZIP archive (or an Office document)"
    if data.startswith(b"GIF8"):
        return "a GIF image"
    if data.startswith((b"MZ", b"\x7fELF")):
        return "a program"
    return "not a PDF, PNG, JPEG or TIFF file"


def sanitize_filename(name: str, media_type: str) -> str:
    """A file name safe to store and show: no folders, no control or markup characters, at most
    :data:`NAME_MAX_LENGTH` characters, with an extension of its media type.

    ``C:\\scans\\<b>lab</b>.PDF`` becomes ``_b_lab__b_.PDF``; a name left empty becomes ``document.pdf``.
    """
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _UNSAFE.sub("_", base).strip(" .")
    stem, dot, ext = base.rpartition(".")
    if not dot or f".{ext.lower()}" not in EXTENSIONS.get(media_type, ()):
        stem, ext = base, EXTENSIONS.get(media_type, (".bin",))[0][1:]
    stem = stem.strip(" .")[: NAME_MAX_LENGTH - len(ext) - 1] or "document"
    return f"{stem}.{ext}"


@dataclass(frozen=True)
class CheckedFile:
    """A file whose content passed the check: what it is, how big, its hash and its stored name."""

    media_type: str
    size: int
    sha256: str
    name: str


def check_file_content(item: ItemDef, data: bytes, filename: str, max_bytes: int) -> CheckedFile:
    """Check an uploaded file against a ``file`` item: its real type (from the bytes), its size, its name.

    Args:
        item: the file item (its ``accept`` lists the media types allowed).
        data: the file's bytes.
        filename: the name the browser sent (only its extension is compared with the content; it is sanitised).
        max_bytes: the size limit (:meth:`rodnan.core.protocol.model.Study.file_limit`).

    Returns:
        The media type read from the content, the size, the SHA-256 (hex) and the sanitised name.

    Raises:
        InputError: ``field`` the item's code, with the rule: empty, over the limit, not an accepted type,
            a name claiming another type, or a file its reader cannot open.
    """
    code = item.code
    size = len(data)
    if item.type != "file":
        raise InputError(code, f"is a {item.type} item and takes no file", filename)
    if size == 0:
        raise InputError(code, "the file is empty", filename)
    if size > max_bytes:
        raise InputError(code, f"the file is {format_size(size)}; the limit is {format_size(max_bytes)}", filename)
    accepted = " or ".join(MEDIA_LABELS[m] for m in item.accept)
    media_type = detect_media_type(data)
    if media_type is None:
        raise InputError(code, f"the content is {_what_else(data)}; this item accepts {accepted}", filename)
    label = MEDIA_LABELS[media_type]
    if media_type not in item.accept:
        raise InputError(code, f"the content is a {label}; this item accepts {accepted}", filename)
    ext = ("." + filename.rpartition(".")[2].lower()) if "." in filename else ""
    claimed = next((m for m, exts in EXTENSIONS.items() if ext in exts), None)
    if claimed is not None and claimed != media_type:
        raise InputError(code, f"the name says {MEDIA_LABELS[claimed]} ({ext}) but the content is a {label}", filename)
    if media_type == "application/pdf":
        _open_pdf(code, data, filename)
    else:
        _open_image(code, data, filename, media_type)
    return CheckedFile(media_type, size, hashlib.sha256(data).hexdigest(), sanitize_filename(filename, media_type))


def _open_pdf(code: str, data: bytes, filename: str) -> None:
    import pikepdf  # a dependency of the reports too; imported here so the rest of the core never loads qpdf

    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            pages = len(pdf.pages)
    except pikepdf.PasswordError:
        raise InputError(code, "the PDF is protected by a password; attach an unprotected copy", filename) from None
    except (pikepdf.PdfError, ValueError, OSError) as exc:
        raise InputError(code, f"the PDF cannot be read ({str(exc).splitlines()[0][:120] or 'damaged'})", filename) from None
    if pages == 0:
        raise InputError(code, "the PDF has no pages", filename)


_PIL_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg", "TIFF": "image/tiff"}


def _open_image(code: str, data: bytes, filename: str, media_type: str) -> None:
    from PIL import Image  # Pillow: installed with pikepdf, declared in pyproject.toml for this check

    label = MEDIA_LABELS[media_type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                found = _PIL_FORMATS.get(image.format or "")
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # verify() checks the structure; decoding the pixels finds a truncated file
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(code, f"the {label} has too many pixels to be a scan", filename) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(code, f"the {label} cannot be read ({str(exc)[:120] or 'damaged'})", filename) from None
    if found != media_type:
        raise InputError(code, f"the content is not a readable {label}", filename)


@dataclass(frozen=True)
class FileRef:
    """The value a ``file`` item stores: the attached file's metadata, never its bytes.

    Attributes:
        sha256: the SHA-256 of the bytes (hex, 64 characters); the file's address in the store.
        name: the original file name, sanitised (:func:`sanitize_filename`).
        media_type: the media type read from the content (:data:`MEDIA_TYPES`).
        size: the size in bytes.
        uploaded_at: when it was uploaded (ISO 8601, UTC).
        uploaded_by: the user name of who uploaded it.
    """

    sha256: str
    name: str
    media_type: str
    size: int
    uploaded_at: str
    uploaded_by: str

    @property
    def details(self) -> str:
        """Its type and size for people: "PDF · 14.2 KB"."""
        return f"{MEDIA_LABELS.get(self.media_type, self.media_type)} · {format_size(self.size)}"

    @property
    def display(self) -> str:
        """The file for people: "lab-2026-03.pdf · PDF · 14.2 KB"."""
        return f"{self.name} · {self.details}"

    def as_json(self) -> dict[str, object]:
        """The metadata as a JSON-ready dict; :meth:`from_json` reads it back."""
        return {"sha256": self.sha256, "name": self.name, "media_type": self.media_type, "size": self.size,
                "uploaded_at": self.uploaded_at, "uploaded_by": self.uploaded_by}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> FileRef:
        """Read back (and check) metadata stored by :meth:`as_json`.

        Raises:
            InputError: a key missing or of the wrong type, a hash that is not 64 hex digits, an unknown media type.
        """
        texts = {}
        for key in ("sha256", "name", "media_type", "uploaded_at", "uploaded_by"):
            value = data.get(key)
            if not isinstance(value, str):
                raise InputError(f"file.{key}", "must be a string", value)
            texts[key] = value
        size = data.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InputError("file.size", "must be a whole number of bytes", size)
        if not _SHA256.match(texts["sha256"]):
            raise InputError("file.sha256", "must be 64 lower-case hexadecimal digits", texts["sha256"])
        if texts["media_type"] not in MEDIA_TYPES:
            raise InputError("file.media_type", f"must be one of {', '.join(MEDIA_TYPES)}", texts["media_type"])
        return cls(texts["sha256"], texts["name"], texts["media_type"], size, texts["uploaded_at"], texts["uploaded_by"])


def check_file_ref(item: ItemDef, ref: FileRef, max_bytes: int) -> None:
    """Check that stored metadata fits a file item (the type it accepts, its limit): what the entry check asks
    of a file before the record takes it.

    Raises:
        InputError: ``field`` the item's code: not a file item, a media type it does not accept, over the limit,
            or a bad hash or name.
    """
    if item.type != "file":
        raise InputError(item.code, f"is a {item.type} item and takes no file", ref.name)
    if ref.media_type not in item.accept:
        accepted = " or ".join(MEDIA_LABELS[m] for m in item.accept)
        raise InputError(item.code, f"the file is a {MEDIA_LABELS.get(ref.media_type, ref.media_type)}; this item accepts "
                                    f"{accepted}", ref.name)  # fmt: skip
    if ref.size == 0 or ref.size > max_bytes:
        raise InputError(item.code, f"the file is {format_size(ref.size)}; the limit is {format_size(max_bytes)}", ref.name)
    if not _SHA256.match(ref.sha256):
        raise InputError(item.code, "the file's hash must be 64 lower-case hexadecimal digits", ref.sha256)
    if not ref.name or ref.name != sanitize_filename(ref.name, ref.media_type):
        raise InputError(item.code, "the file name must be sanitised (rodnan.core.files.sanitize_filename)", ref.name)


__all__ = [
    "EXTENSIONS",
    "MEDIA_LABELS",
    "MEDIA_TYPES",
    "CheckedFile",
    "FileRef",
    "check_file_content",
    "check_file_ref",
    "detect_media_type",
    "format_size",
    "sanitize_filename",
]
