"""The store of attached source documents: files outside the web root, addressed by their SHA-256, never deleted.

A file lives at ``<RODNAN_FILES_DIR>/<first two hex digits>/<sha256>``, written once (a temporary file in the
same folder, fsync, rename, fsync of the folder) and made read-only; identical content is stored once. Nothing
here deletes or overwrites a stored file: a record that replaces its file keeps the old one in the store and
in its audit trail (decision 0021). Reading checks the hash of the bytes read, so a file changed on disk is
refused, never served.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from rodnan.errors import RodnanError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class StoredFileError(RodnanError):
    """A stored file is missing, or its bytes no longer have the hash the record holds (changed on disk)."""

    def __init__(self, sha256: str, problem: str) -> None:
        super().__init__(f"the stored file {sha256} {problem}")
        self.sha256 = sha256
        self.problem = problem


def _served_folders() -> list[Path]:
    """Folders whose files the web server may send as they are (the static files)."""
    folders = [Path(settings.STATIC_ROOT)] if getattr(settings, "STATIC_ROOT", None) else []
    folders += [Path(str(f[1] if isinstance(f, tuple | list) else f)) for f in getattr(settings, "STATICFILES_DIRS", [])]
    media = getattr(settings, "MEDIA_ROOT", "")
    if media:
        folders.append(Path(media))
    return [f.resolve() for f in folders]


def files_dir() -> Path:
    """The folder of the stored files (``RODNAN_FILES_DIR``), created when missing.

    Raises:
        ImproperlyConfigured: the folder lies inside a folder the web server serves, or holds one.
    """
    folder = Path(settings.RODNAN_FILES_DIR).resolve()
    for served in _served_folders():
        if folder == served or served in folder.parents or folder in served.parents:
            raise ImproperlyConfigured(f"RODNAN_FILES_DIR ({folder}) must lie outside the served folder {served}")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def file_path(sha256: str) -> Path:
    """Where the file with this SHA-256 is (or would be) stored.

    Raises:
        StoredFileError: ``sha256`` is not 64 lower-case hex digits (never a path of its own).
    """
    if not _SHA256.match(sha256):
        raise StoredFileError(sha256, "is not named by a SHA-256")
    return files_dir() / sha256[:2] / sha256


def store_file(data: bytes, sha256: str) -> Path:
    """Store ``data`` under its SHA-256 (written once; a file already there is kept as it is).

    Args:
        data: the bytes (checked by :func:`rodnan.core.files.check_file_content` before).
        sha256: their SHA-256, which the store checks again.

    Returns:
        The stored file's path.

    Raises:
        StoredFileError: ``sha256`` is not the hash of ``data``.
    """
    if hashlib.sha256(data).hexdigest() != sha256:
        raise StoredFileError(sha256, "is not the SHA-256 of the bytes given")
    path = file_path(sha256)
    if path.exists():
        return path  # identical content, stored once (and never overwritten)
    path.parent.mkdir(exist_ok=True, mode=0o700)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o440)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a crash
    finally:
        os.close(folder)
    return path


def read_file(sha256: str) -> bytes:
    """The bytes of a stored file, after checking that they still have their SHA-256.

    Raises:
        StoredFileError: the file is missing or its content has changed.
    """
    path = file_path(sha256)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StoredFileError(sha256, "is missing from the store") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise StoredFileError(sha256, "has changed on disk: its content no longer has the hash the record holds")
    return data
