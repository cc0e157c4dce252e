"""Editing the bundled protocol text to break one rule, and reading back the loader's problems."""

from __future__ import annotations

import pytest

from rodnan.core.protocol import bundled_protocol_path, load_protocol_text
from rodnan.errors import ProtocolError


def bundled_text() -> str:
    """The bundled protocol file's text."""
    return bundled_protocol_path().read_text(encoding="utf-8")


def broken(old: str, new: str) -> str:
    """The bundled protocol with the one occurrence of ``old`` replaced by ``new``."""
    text = bundled_text()
    assert text.count(old) == 1, old
    return text.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    """The 1-based line of ``needle`` in ``text``."""
    return text[: text.index(needle)].count("\n") + 1


def problems(text: str) -> list[tuple[int | None, str, str]]:
    """(line, dotted path, rule) of each problem the loader reports for ``text`` (which must not load)."""
    with pytest.raises(ProtocolError) as caught:
        load_protocol_text(text, "broken.yaml")
    return [(p.line, p.dotted_path, p.rule) for p in caught.value.problems]
