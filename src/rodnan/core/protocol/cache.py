"""A cache of parsed protocol YAML: the plain tree of a valid protocol text, kept as JSON and named by a hash.

Parsing the bundled protocol's YAML with line numbers (ruamel.yaml's round-trip loader, pure Python) takes
about 0.7 s on a 2-core machine, in every process that loads it: each ``rodnan`` command, web worker and
background worker. The tree a text parses to never changes, so :func:`~rodnan.core.protocol.load.load_protocol_text`
keeps the tree of each text it has validated, and a later load of the same text reads it back (about
10 ms) and validates it again (the models and the rules across the document always run). Only the YAML
step is skipped; a text that fails is never cached, so its problems keep their line numbers.

The file's name is the SHA-256 of the text, of the ruamel.yaml version and of :data:`FORMAT`; dates (YAML
timestamps) are stored as ``{"__date__": "2009-08-19"}``. A missing, unreadable or corrupt file is a
cache miss; a folder that cannot be written is silently not used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CACHE_ENV = "RODNAN_PROTOCOL_CACHE"
"""Environment variable: the folder for the cached trees ("off": no cache). Default: ``protocols`` in the
per-user cache folder (``~/.cache/rodnan/protocols`` on Linux)."""

FORMAT = "rodnan-protocol-tree-1"
"""Part of every file's name: a new format makes the old files misses."""


def cache_folder() -> Path | None:
    """The cache folder (:data:`CACHE_ENV`), or None when the cache is off."""
    setting = os.environ.get(CACHE_ENV, "").strip()
    if setting.lower() == "off":
        return None
    if setting:
        return Path(setting)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rodnan")) / "protocols"


def _file(text: str) -> Path | None:
    folder = cache_folder()
    if folder is None:
        return None
    from ruamel.yaml import __version__ as yaml_version

    digest = hashlib.sha256(f"{FORMAT}\n{yaml_version}\n{text}".encode()).hexdigest()
    return folder / f"{digest}.json"


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        raise TypeError("a YAML timestamp with a time is not cached")  # not in protocols; never guessed back
    if isinstance(value, dt.date):
        return {"__date__": value.isoformat()}
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _decode(mapping: dict[str, Any]) -> Any:
    if len(mapping) == 1 and "__date__" in mapping:
        return dt.date.fromisoformat(mapping["__date__"])
    return mapping


def read_tree(text: str) -> Any | None:
    """The cached tree of ``text``, or None (no cache, a miss, or a file that cannot be read or decoded)."""
    path = _file(text)
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"), object_hook=_decode)
    except (OSError, ValueError):
        return None


def write_tree(text: str, tree: Any) -> None:
    """Keep ``tree`` (the plain tree of a valid ``text``) for the next load; does nothing when it cannot."""
    path = _file(text)
    if path is None:
        return
    try:
        encoded = json.dumps(tree, default=_encode, ensure_ascii=False, separators=(",", ":"))
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tree-", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(encoded)
        os.replace(temporary, path)  # atomic: a concurrent reader sees the whole file or none
    except (OSError, TypeError, ValueError):
        return
