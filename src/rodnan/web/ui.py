"""Filters for people: UCUM unit codes as they are printed on a lab report (used by the templates)."""

from __future__ import annotations

import re

UNIT_LABELS: dict[str, str] = {
    "{score}": "", "{cells}": "cells", "{cells}/kg": "cells/kg", "1": "", "a": "years", "mo": "months", "d": "days",
    "10*9/L": "×10⁹/L", "10*12/L": "×10¹²/L", "10*6/L": "×10⁶/L", "/uL": "/µL", "10*3/uL": "×10³/µL", "10*6/uL": "×10⁶/µL",
    "mm[Hg]": "mmHg", "g/(24.h)": "g/24 h", "mg/(24.h)": "mg/24 h", "umol/L": "µmol/L", "ug/L": "µg/L", "[iU]/mL": "IU/mL",
    "[iU]/L": "IU/L", "[IU]/mL": "IU/mL", "[arb'U]/mL": "U/mL", "mm/h": "mm/h",
    "[lb_av]": "lb", "[in_i]": "in", "mL/min": "mL/min", "mL/min/{1.73_m2}": "mL/min/1.73 m²",
    "mmol/min/kPa": "mmol/min/kPa", "mL/min/mm[Hg]": "mL/min/mmHg", "%": "%", "Cel": "°C", "/min": "/min",
}  # fmt: skip
"""UCUM codes of this protocol's items and their printed form (UCUM stays what is stored and audited)."""

_BRACED = re.compile(r"\{([^}]*)\}")


def unit_label(code: str | None) -> str:
    """'10*9/L' -> '×10⁹/L', 'mm[Hg]' -> 'mmHg', '{score}' -> ''; other codes lose their braces and brackets."""
    if not code:
        return ""
    if code in UNIT_LABELS:
        return UNIT_LABELS[code]
    text = _BRACED.sub(r"\1", code).replace("[", "").replace("]", "")
    return "µ" + text[1:] if text.startswith("u") else text


_TRAILING = ",;)"
_NUMBER = re.compile(r"^[-+]?\d+(\.\d+)?(e[-+]?\d+)?$")


def units_in_text(text: str | None) -> str:
    """Every UCUM code of the table above that follows a number in ``text``, printed for people
    ("mpap_echo 17 mm[Hg], not > 40 mm[Hg]" -> "mpap_echo 17 mmHg, not > 40 mmHg")."""
    if not text:
        return ""
    words: list[str] = []
    for word in str(text).split(" "):
        if not words or not _NUMBER.match(words[-1]):  # a unit follows a number ("3 a"); "a" alone is an article
            words.append(word)
            continue
        core, tail = word, ""
        while core not in UNIT_LABELS and core and core[-1] in _TRAILING:  # "g/(24.h)," keeps its own ")"
            core, tail = core[:-1], core[-1] + tail
        words.append(unit_label(core) + tail if core in UNIT_LABELS else word)
    joined = " ".join(w for w in words if w != "")
    return joined.replace(" ,", ",").replace(" ;", ";").replace(" )", ")")


def get_item(mapping: dict[str, str] | None, key: str) -> str:
    """``mapping[key]`` in a template, or "" when absent."""
    return (mapping or {}).get(key, "")


def pathway_labels(result: object) -> str:
    """The labels of a screening result's qualifying pathways, joined ("Lung involvement")."""
    codes = set(getattr(result, "qualifying_pathways", ()))
    return "; ".join(c.label for c in getattr(result, "criteria", ()) if c.kind == "pathway" and c.code in codes)
