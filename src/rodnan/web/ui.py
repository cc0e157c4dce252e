"""Filters for people: UCUM unit codes as they are printed on a lab report, by the core's one formatter
(:func:`rodnan.core.units.display_unit`; used by the templates)."""

from __future__ import annotations

import re

from rodnan.core.units import display_unit

_UCUM_WORD = re.compile(r"^[A-Za-z0-9*^/.()\[\]{}'%_-]+$")


def unit_label(code: str | None) -> str:
    """A UCUM code as people read it: :func:`rodnan.core.units.display_unit` ('10*9/L' -> '× 10⁹/L', '{score}' -> '')."""
    return display_unit(code)


_TRAILING = ",;)"
_NUMBER = re.compile(r"^[-+]?\d+(\.\d+)?(e[-+]?\d+)?$")


def units_in_text(text: str | None) -> str:
    """Every UCUM code that follows a number in ``text``, printed for people by the core's formatter
    ("17 mm[Hg], not > 40 mm[Hg]" -> "17 mmHg, not > 40 mmHg"); the core's own messages already print units so,
    and this leaves them as they are."""
    if not text:
        return ""
    words: list[str] = []
    for word in str(text).split(" "):
        if not words or not _NUMBER.match(words[-1]):  # a unit follows a number ("3 a"); "a" alone is an article
            words.append(word)
            continue
        core, tail = word, ""
        while core and core[-1] in _TRAILING and (core.count("(") < core.count(")") or core[-1] != ")"):
            core, tail = core[:-1], core[-1] + tail  # "g/(24.h)," keeps its own ")"
        words.append(display_unit(core) + tail if core and _UCUM_WORD.match(core) else word)
    joined = " ".join(w for w in words if w != "")
    return joined.replace(" ,", ",").replace(" ;", ";").replace(" )", ")")


def get_item(mapping: dict[str, str] | None, key: str) -> str:
    """``mapping[key]`` in a template, or "" when absent."""
    return (mapping or {}).get(key, "")


def pathway_labels(result: object) -> str:
    """The labels of a screening result's qualifying pathways, joined ("Lung involvement")."""
    codes = set(getattr(result, "qualifying_pathways", ()))
    return "; ".join(c.label for c in getattr(result, "criteria", ()) if c.kind == "pathway" and c.code in codes)
