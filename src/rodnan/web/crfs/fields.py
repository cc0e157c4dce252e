"""What the entry screen shows for each item of a form, built from the protocol's definitions:
widget, units to choose from, answer anchors, hints, current value and its error or warning."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rodnan.core.entry import EntryIssue, FormEntryResult, answer_labels
from rodnan.core.files import EXTENSIONS, FileRef
from rodnan.core.protocol import Study
from rodnan.core.protocol.model import FormDef, ItemDef

_ANCHOR = re.compile(r"(?:^|,|\.\.|;)\s*(\d+)\s+([^,;.]+?)\s*(?=,|\.\.|;|$)")
RADIO_LAYOUTS = ("questionnaire", "body_grid")
"""Layouts whose small integer items are answered by buttons (one per score) rather than typed."""
PARTIAL_DATE_PATTERN = r"\d{4}(-\d{2}(-\d{2})?)?"
"""The HTML pattern of a partial-date input (the core checks that the month and day exist)."""
PARTIAL_DATE_PLACEHOLDER = "YYYY, YYYY-MM or YYYY-MM-DD"


def anchors(item: ItemDef) -> dict[int, str]:
    """Answer labels parsed from an item's description ("0 without any difficulty, 1 with some ...")."""
    return {int(number): text.strip() for number, text in _ANCHOR.findall(item.description or "")}


@dataclass
class Field:
    """One item on the entry screen."""

    item: ItemDef
    widget: str  # number, select, radio, text, date, partial_date, boolean, file
    raw: str = ""
    unit: str = ""
    units: list[str] = field(default_factory=list)
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    error: EntryIssue | None = None
    warning: EntryIssue | None = None
    confirmed: bool = False
    computed: str = ""  # value the core derived, shown beside a blank input
    converted: str = ""  # the value in the item's unit, when it was entered in another unit
    missing: str = ""  # the missing-data code chosen instead of a value ("" for none)
    missing_reason: str = ""
    missing_options: list[tuple[str, str, bool]] = field(default_factory=list)  # (code, "ND · Not done", needs a reason)
    required: bool = False  # needed (a value or a missing-data code) for the record to be complete
    file: FileRef | None = None  # the file a file item holds (saved)

    @property
    def accept(self) -> str:
        """The HTML ``accept`` of a file input: the item's media types and their extensions (the server checks the
        content whatever the browser lets through)."""
        return ",".join([*self.item.accept, *(ext for m in self.item.accept for ext in EXTENSIONS[m])])

    @property
    def code(self) -> str:
        return self.item.code

    @property
    def pattern(self) -> str:
        """The HTML ``pattern`` of the input ("" when the browser need not check a format)."""
        return PARTIAL_DATE_PATTERN if self.widget == "partial_date" else ""

    @property
    def placeholder(self) -> str:
        """The input's placeholder ("" when none)."""
        return PARTIAL_DATE_PLACEHOLDER if self.widget == "partial_date" else ""


def body_grid_rows(form: FormDef, fields: list[Field]) -> list[tuple[str, Field | None, Field | None]]:
    """The rows of a ``body_grid`` form as the protocol lists its body areas: (area, right or midline, left)."""
    by_code = {f.code: f for f in fields}
    rows: list[tuple[str, Field | None, Field | None]] = []
    for area in form.body_areas:
        first = area.item if area.item is not None else area.right
        rows.append((area.area, by_code.get(first) if first else None, by_code.get(area.left) if area.left else None))
    return rows


def timepoint_rows(
    study: Study, form: FormDef, fields: list[Field]
) -> tuple[list[ItemDef], list[tuple[str, list[Field | None]]]]:  # fmt: skip
    """A form with timepoints as a table: the items as columns, and one row per timepoint (its label, a field per item)."""
    if not form.timepoints:
        return [], []
    by_code = {f.code: f for f in fields}
    columns = [study.item_by_code[code] for code in form.timepoint_items]
    return columns, [(tp.label, [by_code.get(code) for code in codes]) for tp, codes in form.at_timepoints()]


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
    confirmed: set[str] | None = None, coded: Mapping[str, tuple[str, str]] | None = None,
    files: Mapping[str, FileRef] | None = None,
) -> tuple[list[Field], list[tuple[ItemDef, str]]]:  # fmt: skip
    """The input fields of a form (with typed or stored values, missing-data codes and attached files) and the computed
    items (label, value)."""
    required = set(study.required_items(form.code))
    coded = coded or {}
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
        f = Field(item, _widget(form, item), raw=raw, unit=unit or (item.unit or ""), required=code in required)
        f.missing, f.missing_reason = coded.get(code, ("", ""))
        if item.type == "file":
            f.raw, f.file = "", (files or {}).get(code)
        f.missing_options = [
            (c.code, f"{c.cdisc} · {c.label}", c.reason_required) for c in study.allowed_missing_codes(form.code, code)
        ]
        if item.is_numeric and item.accepted_units:
            f.units = [item.unit or "", *[u for u in item.accepted_units if u != item.unit]]
        if item.type == "choice":
            f.options = [(c.code, c.label) for c in item.choices]
        elif f.widget == "radio":
            span = (item.range.min, item.range.max) if item.range else (None, None)
            # a block of questions states its answers once (SF-36 Q3a-j): later items reuse them
            versioned = answer_labels(study, item, _version(item, values, entry)) if item.versions else None
            if versioned is not None:  # the chosen version's own answers and labels (SF-36 v1 yes/no, v2 5 levels)
                f.options = [(str(n), label) for n, label in sorted(versioned.items())]
            else:
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


def _version(item: ItemDef, values: Mapping[str, tuple[str, str]], entry: FormEntryResult | None) -> str | None:
    """The version chosen on the form for a versioned item (the checked choice code, else as typed)."""
    assert item.versions is not None
    chooser = item.versions.item
    checked = entry.values.get(chooser) if entry is not None else None
    if checked is not None and isinstance(checked.value, str):
        return checked.value
    return values.get(chooser, ("", ""))[0] or None


def _widget(form: FormDef, item: ItemDef) -> str:
    if item.type == "choice":
        return "select"
    if item.type == "boolean":
        return "boolean"
    if item.type in ("text", "date", "partial_date", "file"):
        return item.type
    small = (
        item.range is not None
        and item.range.min is not None
        and item.range.max is not None
        and item.range.max - item.range.min <= 10
    )
    if item.type == "integer" and small and form.layout in RADIO_LAYOUTS:
        return "radio"
    return "number"


def stored_missing(values: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """A record's stored missing-data codes as (code, reason) per item."""
    return {
        code: (str(data["missing"]), str(data.get("missing_reason") or ""))
        for code, data in values.items()
        if isinstance(data, dict) and data.get("missing")
    }


def posted_missing(form: FormDef, post: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """The missing-data codes chosen per item (``m_<item>``) with their reasons (``mr_<item>``)."""
    out: dict[str, tuple[str, str]] = {}
    for code in form.items:
        chosen = str(post.get(f"m_{code}", "")).strip()
        if chosen:
            out[code] = (chosen, str(post.get(f"mr_{code}", "")).strip())
    return out


def stored_inputs(values: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """A record's stored values as (raw, unit) per item, to fill the inputs."""
    out: dict[str, tuple[str, str]] = {}
    for code, data in values.items():
        if isinstance(data, dict) and data.get("type") != "file":  # a file is no text to type again
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
