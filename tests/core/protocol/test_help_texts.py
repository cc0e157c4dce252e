"""The bundled protocol's texts for people carry no developer notes (issue 15, finding 8): the notes stay YAML comments."""

from __future__ import annotations

import re

from rodnan.core.protocol import Study, bundled_protocol_path

DEVELOPER_NOTES = re.compile(r"LOINC|domain\.md|§")


def test_no_help_text_mentions_loinc_domain_md_or_sections(study: Study) -> None:
    """Every item's help text (description) and label, every choice label, form label and criterion label is plain."""
    texts = {f"item {i.code} description": i.description for i in study.items if i.description}
    texts |= {f"item {i.code} label": i.label for i in study.items}
    texts |= {f"item {i.code} choice {c.code}": c.label for i in study.items for c in i.choices}
    texts |= {f"form {f.code} label": f.label for f in study.forms}
    texts |= {f"criterion {c.code}": c.definition.label for c in study.criteria}
    noted = {where: text for where, text in texts.items() if DEVELOPER_NOTES.search(text)}
    assert noted == {}


def test_the_notes_removed_from_help_texts_stay_as_comments() -> None:
    """The unverified-LOINC notes are kept for developers, as comments beside the items."""
    text = bundled_protocol_path().read_text(encoding="utf-8")
    assert text.count("# no verified LOINC code (domain.md §11)") == 2
