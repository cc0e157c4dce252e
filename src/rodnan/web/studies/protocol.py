"""The protocol the web application serves: loaded into the database once, parsed once per process."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.db import transaction

from rodnan.core.protocol import Study as StudyDef
from rodnan.core.protocol import bundled_protocol_path, load_protocol_text
from rodnan.web.studies.models import Site, Study


def protocol_path() -> Path:
    """The protocol file named by the RODNAN_PROTOCOL setting, else the bundled one."""
    configured = getattr(settings, "RODNAN_PROTOCOL", "")
    return Path(configured) if configured else bundled_protocol_path()


@lru_cache(maxsize=8)
def _parse(text: str, source: str) -> StudyDef:
    return load_protocol_text(text, source)


_DEFINITIONS: dict[tuple[int, str], StudyDef] = {}


def study_definition(study: Study) -> StudyDef:
    """The validated core study of a loaded protocol version (parsed once per process).

    Looked up by the study's id and protocol SHA-256, so a page reads the study row without its
    protocol text (``STUDY_WITHOUT_TEXT``); the text is read only the first time in a process.
    """
    key = (study.pk, study.protocol_sha256)
    definition = _DEFINITIONS.get(key)
    if definition is None:
        definition = _DEFINITIONS[key] = _parse(study.protocol_text, f"{study.code} {study.version}")
    return definition


STUDY_WITHOUT_TEXT = "protocol_text"
"""The field to defer when reading a study for a page (``.defer("subject__study__" + STUDY_WITHOUT_TEXT)``)."""


def current_study() -> Study:
    """The most recently loaded protocol version."""
    return Study.objects.order_by("-loaded_at", "-id").first() or load_study()


@transaction.atomic
def load_study(path: Path | None = None) -> Study:
    """Load a protocol file (validated by the core) and its sites; an already loaded version is reused.

    Raises:
        ProtocolError: the file is not a valid protocol (every problem with path and line).
    """
    path = path or protocol_path()
    text = path.read_text(encoding="utf-8")
    definition = _parse(text, str(path))
    meta, identity = definition.protocol, definition.identity
    study, _ = Study.objects.get_or_create(
        code=meta.code,
        version=meta.version,
        defaults={
            "registry_number": identity.registry_number,
            "title": identity.title,
            "target_enrolment": identity.target_enrolment,
            "protocol_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "protocol_text": text,
        },
    )
    for site in identity.sites:
        Site.objects.get_or_create(
            code=site.code, defaults={"study": study, "name": site.name, "city": site.city, "country": site.country}
        )
    return study
