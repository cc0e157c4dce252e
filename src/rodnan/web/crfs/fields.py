"""What the entry screen shows for each item of a form, built from the protocol's definitions:
widget, units to choose from, answer anchors, hints, current value and its error or warning."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rodnan.core.entry import EntryIssue, FormEntryResult
from rodnan.core.protocol import Study
from rodnan.core.protocol.model import FormDef, ItemDef

_ANCHOR = re.compile(r"(?:^|,|\.\.|;)\s*(\d+)\s+([^,;.]+?)\s*(?=,|\.\.|;|$)")
QUESTIONNAIRES = ("sf36", "ssc_haq")
"""Forms a patient fills on a tablet: one question per row, answers as large buttons."""

MRSS_PAIRS: tuple[tuple[str, str | None, str | None], ...] = (
    ("Face", "mrss_face", None), ("Anterior chest", "mrss_chest", None), ("Abdomen", "mrss_abdomen", None),
    ("Upper arm", "mrss_upper_arm_r", "mrss_upper_arm_l"), ("Forearm", "mrss_forearm_r", "mrss_forearm_l"),
    ("Hand (dorsum)", "mrss_hand_r", "mrss_hand_l"), ("Fingers", "mrss_fingers_r", "mrss_fingers_l"),
    ("Thigh", "mrss_thigh_r", "mrss_thigh_l"), ("Lower leg", "mrss_lower_leg_r", "mrss_lower_leg_l"),
    ("Foot (dorsum)", "mrss_foot_r", "mrss_foot_l"),
)  # fmt: skip
"""The 17 mRSS areas as the body grid shows them: one row per area, right and left side."""


def anchors(item: ItemDef) -> dict[int, str]:
    """Answer labels parsed from an item's description ("0 without any difficulty, 1 with some ...")."""
    return {int(number): text.strip() for number, text in _ANCHOR.findall(item.description or "")}


@dataclass
class Field:
    """One item on the entry screen."""

    item: ItemDef
    widget: str  # number, select, radio, text, date, boolean
    raw: str = ""
    unit: str = ""
    units: list[str] = field(default_factory=list)
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    error: EntryIssue | None = None
    warning: EntryIssue | None = None
    confirmed: bool = False
    computed: str = ""  # value the core derived, shown beside a blank input
    converted: str = ""  # the value in the item's unit, when it was entered in another unit

    @property
    def code(self) -> str:
        return self.item.code


def derived_within(study: Study, form: FormDef) -> set[str]:
    """Output items of derived items whose inputs all belong to this form (shown as computed, not typed)."""
    items = set(form.items)
    out: set[str] = set()
    for definition in study.derived_items:
        if set(definition.inputs.values()) <= items:
            out |= {code for code in definition.outputs.values() if code in items}
    return out


def build_fields(
    study: Study, form: FormDef, values: Mapping[str, tuple[str, str]], entry: FormEntryResult | None = None,
    confirmed: set[str] | None = None,
) -> tuple[list[Field], list[tuple[ItemDef, str]]]:  # fmt: skip
    """The input fields of a form (with typed or stored values) and the computed items (label, value)."""
    computed_codes = derived_within(study, form)
    fields: list[Field] = []
    computed: list[tuple[ItemDef, str]] = []
    derived = entry.derived if entry else {}
    inherited: dict[tuple[float | None, float | None], dict[int, str]] = {}
    for code in form.items:
        item = study.item_by_code[code]
        if code in computed_codes:
            value = derived.get(code)
            if value is not None and not value.is_missing:
                computed.append((item, value.display))
            else:
                why = value.derived_by if value is not None and value.derived_by else "answers missing"
                computed.append((item, f"not computable: {why}"))
            continue
        raw, unit = values.get(code, ("", ""))
        f = Field(item, _widget(form, item), raw=raw, unit=unit or (item.unit or ""))
        if item.is_numeric and item.accepted_units:
            f.units = [item.unit or "", *[u for u in item.accepted_units if u != item.unit]]
        if item.type == "choice":
            f.options = [(c.code, c.label) for c in item.choices]
        elif f.widget == "radio":
            span = (item.range.min, item.range.max) if item.range else (None, None)
            # a block of questions states its answers once (SF-36 Q3a-j): later items reuse them
            labels = anchors(item) or inherited.get(span, {})
            if labels:
                inherited[span] = labels
            low, high = int(item.range.min or 0), int(item.range.max or 0)  # type: ignore[union-attr]
            f.options = [(str(n), labels.get(n, "")) for n in range(low, high + 1)]
        if entry is not None:
            f.error = entry.errors.get(code)
            f.warning = entry.warnings.get(code) or entry.confirmed_warnings.get(code)
            value = entry.derived.get(code)
            if value is not None and not value.is_missing:
                f.computed = value.display
            entered = entry.values.get(code)
            if entered is not None and entered.converted:
                f.converted = entered.display
        f.confirmed = bool(confirmed and code in confirmed)
        fields.append(f)
    return fields, computed


def _widget(form: FormDef, item: ItemDef) -> str:
    if item.type == "choice":
        return "select"
    if item.type == "boolean":
        return "boolean"
    if item.type in ("text", "date"):
        return item.type
    small = (
        item.range is not None
        and item.range.min is not None
        and item.range.max is not None
        and item.range.max - item.range.min <= 10
    )
    if item.type == "integer" and small and (form.code in QUESTIONNAIRES or form.code == "mrss"):
        return "radio"
    return "number"


def stored_inputs(values: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """A record's stored values as (raw, unit) per item, to fill the inputs."""
    out: dict[str, tuple[str, str]] = {}
    for code, data in values.items():
        if isinstance(data, dict):
            out[code] = (str(data.get("raw", "")), str(data.get("unit") or ""))
    return out


def posted_inputs(form: FormDef, post: Mapping[str, Any]) -> dict[str, tuple[str, str | None]]:
    """The (raw, unit) the user typed per item (a blank unit means the item's own)."""
    out: dict[str, tuple[str, str | None]] = {}
    for code in form.items:
        raw = str(post.get(f"v_{code}", "")).strip()
        unit = str(post.get(f"u_{code}", "")).strip() or None
        if raw:
            out[code] = (raw, unit)
    return out
