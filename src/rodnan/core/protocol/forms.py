"""Protocol models of what is collected: items, forms (scheduled and log) and derived items."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from rodnan.core.protocol.common import Code, Frozen, QuantityDef


class StandardCodeDef(Frozen):
    """A code in a standard terminology (LOINC, SNOMED CT, CDISC)."""

    system: Literal["LOINC", "SNOMED-CT", "CDISC", "MedDRA"]
    code: str
    display: str


class ChoiceDef(Frozen):
    """One allowed answer of a choice item."""

    code: Code
    label: str


class RangeDef(Frozen):
    """Plausible range in the item's unit: outside ``min``/``max`` is an error, outside ``soft_*`` a warning."""

    min: float | None = None
    max: float | None = None
    soft_min: float | None = None
    soft_max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> RangeDef:
        bounds = [b for b in (self.min, self.soft_min, self.soft_max, self.max) if b is not None]
        if bounds != sorted(bounds):
            raise ValueError("bounds must be ordered min <= soft_min <= soft_max <= max")
        return self


ItemType = Literal["number", "integer", "boolean", "choice", "text", "date", "partial_date", "file"]
"""The item types: ``partial_date`` is an ISO 8601 date of reduced precision (``2019``, ``2019-03``, ``2019-03-14``);
``file`` an attached source document (a scan or PDF), stored outside the database, the item holding its metadata."""

NON_EXPRESSION_TYPES: tuple[ItemType, ...] = ("text", "date", "partial_date", "file")
"""Item types the expression language does not read (and endpoints give no ``_base`` variables)."""

MediaType = Literal["application/pdf", "image/png", "image/jpeg", "image/tiff"]
"""The media types a ``file`` item may accept (the content is checked, not the name: :mod:`rodnan.core.files`)."""

FILE_MAX_BYTES_DEFAULT = 20 * 1024 * 1024
"""The size limit of an attached file when neither the item nor the study's ``files`` section sets one (20 MiB)."""

FILE_MAX_BYTES_CEILING = 100 * 1024 * 1024
"""The largest ``max_bytes`` a protocol may set (100 MiB): a scan is not a video."""


class FilesDef(Frozen):
    """The study's defaults for ``file`` items (``files:`` section)."""

    max_bytes: int = Field(default=FILE_MAX_BYTES_DEFAULT, gt=0, le=FILE_MAX_BYTES_CEILING,
                           description="size limit of an attached file, in bytes, for items that set none")  # fmt: skip


FormKind = Literal["scheduled", "log"]
"""``scheduled``: one record per visit that collects the form; ``log``: repeating records per subject."""

FormLayout = Literal["default", "body_grid", "questionnaire", "table"]
"""How the entry screen lays a form out: one item per row (``default``), the body-area grid of a skin
score (``body_grid``, with ``body_areas``), one question per row with its answers as buttons
(``questionnaire``), or a compact table (``table``)."""


class MissingCodeDef(Frozen):
    """A missing-data code of the study: why an item holds no value ("not done", "asked but unknown").

    ``cdisc`` is the code's CDISC/HL7 null flavour (ND, NA, UNK, ASKU, ...), carried into exports;
    ``reason_required`` makes the person entering it give a reason.
    """

    code: Code
    label: str
    cdisc: str = Field(min_length=1, max_length=8)
    reason_required: bool = False


class VersionedAnswersDef(Frozen):
    """An integer item whose allowed answers and their labels depend on a version chosen in a choice item.

    ``answers`` maps each choice code of ``item`` (e.g. ``v1``, ``v2`` of ``sf36_form``) to that
    version's answers, score -> label; an answer outside the chosen version's scores is refused.
    """

    item: Code
    answers: dict[str, dict[int, str]] = Field(min_length=1)

    @model_validator(mode="after")
    def _answers(self) -> VersionedAnswersDef:
        if any(not labels for labels in self.answers.values()):
            raise ValueError("each version needs at least one answer")
        return self


class ItemDef(Frozen):
    """One data item: what is collected, in which unit, within which range."""

    code: Code
    label: str
    type: ItemType
    unit: str | None = Field(default=None, description="UCUM; required for number and integer items")
    accepted_units: list[str] = Field(default_factory=list)
    molar_mass: QuantityDef | None = Field(default=None, description="g/mol; lets mass and substance units convert")
    range: RangeDef | None = None
    required: bool = False
    choices: list[ChoiceDef] = Field(default_factory=list)
    codes: list[StandardCodeDef] = Field(default_factory=list)
    description: str | None = None
    missing_codes: list[Code] | None = Field(
        default=None, description="missing-data codes this item allows (default: its form's; [] allows none)"
    )
    versions: VersionedAnswersDef | None = Field(
        default=None, description="answers that depend on the instrument version chosen in another item (SF-36 v1/v2)"
    )
    accept: list[MediaType] = Field(default_factory=list, description="the media types a file item accepts")
    max_bytes: int | None = Field(
        default=None, gt=0, le=FILE_MAX_BYTES_CEILING, description="a file item's size limit in bytes (default: files.max_bytes)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ItemDef:
        if (self.type == "file") != bool(self.accept):
            raise ValueError("accept (the media types) is required for a file item and only allowed there")
        if self.max_bytes is not None and self.type != "file":
            raise ValueError("max_bytes belongs to file items")
        if len(set(self.accept)) != len(self.accept):
            raise ValueError("accept lists a media type more than once")
        numeric = self.type in ("number", "integer")
        if numeric and self.unit is None:
            raise ValueError(f"a {self.type} item needs a unit (UCUM; '1' or '{{score}}' for a pure number)")
        if not numeric and (self.unit or self.accepted_units or self.range or self.molar_mass):
            raise ValueError(f"a {self.type} item takes no unit, accepted_units, molar_mass or range")
        if (self.type == "choice") != bool(self.choices):
            raise ValueError("choices are required for a choice item and only allowed there")
        if self.molar_mass is not None and self.molar_mass.unit != "g/mol":
            raise ValueError("molar_mass must be given in g/mol")
        return self

    @property
    def is_numeric(self) -> bool:
        """True for number and integer items."""
        return self.type in ("number", "integer")

    @property
    def molar_mass_g_per_mol(self) -> float | None:
        """The molar mass in g/mol, if the protocol gives one."""
        return None if self.molar_mass is None else self.molar_mass.value


class LogDef(Frozen):
    """The items holding a log record's own dates: ``start`` (required) and ``end`` (optional)."""

    start: Code
    end: Code | None = None


class BodyAreaDef(Frozen):
    """One row of a body grid: an area scored once (``item``) or on each side (``right`` and ``left``)."""

    area: str
    item: Code | None = None
    right: Code | None = None
    left: Code | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> BodyAreaDef:
        sides = self.right is not None or self.left is not None
        if (self.item is None) == (not sides):
            raise ValueError("a body area has either an item (midline) or right and/or left items, not both")
        return self

    @property
    def codes(self) -> tuple[str, ...]:
        """The item codes of the row, right before left."""
        return tuple(code for code in (self.item, self.right, self.left) if code is not None)


TIMEPOINT_SEPARATOR = "__"
"""Joins an item code and a timepoint code into the code of the item at that timepoint (``systolic_bp__pre``)."""


def timepoint_code(item: str, timepoint: str) -> str:
    """The code of item ``item`` recorded at timepoint ``timepoint`` of a form (``systolic_bp__pre``)."""
    return f"{item}{TIMEPOINT_SEPARATOR}{timepoint}"


class TimepointDef(Frozen):
    """One time at which a form with ``timepoints`` records its items ("before the infusion", "15 min")."""

    code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$", max_length=12)]
    label: str = Field(min_length=1)


class FormDef(Frozen):
    """A case report form: an ordered list of item codes from the study's item catalogue.

    A ``scheduled`` form is collected once at each visit that lists it; a ``log`` form repeats per
    subject (medical history, adverse events), each record with a sequence number, the dates its
    ``log`` items hold and an optional link to a visit. ``layout`` chooses the entry screen and
    ``patient`` marks a form the patient fills (tablet mode).
    """

    code: Code
    label: str
    short_label: str | None = Field(default=None, max_length=16, description="column heading in visit grids (default: the label)")
    instrument: str | None = Field(default=None, description="published instrument the form implements")
    kind: FormKind = "scheduled"
    log: LogDef | None = Field(default=None, description="the start and end date items of a log form")
    layout: FormLayout = "default"
    patient: bool = Field(default=False, description="filled by the patient (tablet mode)")
    body_areas: list[BodyAreaDef] = Field(default_factory=list, description="rows of the body_grid layout")
    items: list[Code] = Field(min_length=1)
    required: Literal["all", "marked"] | list[Code] = Field(
        default="marked",
        description="items needed for the record to be complete: 'marked' (items with required: true), 'all' (every "
        "item entered on the form, those it derives excepted) or a list of item codes",
    )
    missing_codes: list[Code] | None = Field(
        default=None, description="missing-data codes its items allow (default: every code of the study; [] allows none)"
    )
    timepoints: list[TimepointDef] = Field(
        default_factory=list, description="times at which the form records each of its items (a row per time on screen)"
    )
    timepoint_items: list[Code] = Field(
        default_factory=list,
        description="set by the loader for a form with timepoints: the items as the file lists them, repeated at each "
        "timepoint; ``items`` then holds the item at each timepoint (expand_timepoints)",
    )

    @model_validator(mode="after")
    def _kind_and_layout(self) -> FormDef:
        if self.kind == "log" and self.log is None:
            raise ValueError("a log form needs log: {start: <date item>, end: <date item, optional>}")
        if self.kind == "scheduled" and self.log is not None:
            raise ValueError("log: belongs to forms of kind log")
        if self.layout == "body_grid" and not self.body_areas:
            raise ValueError("layout body_grid needs body_areas (the body-area items of the grid)")
        if self.body_areas and self.layout != "body_grid":
            raise ValueError("body_areas belong to layout body_grid")
        if self.timepoints and self.kind == "log":
            raise ValueError("timepoints belong to scheduled forms (a log form repeats its records instead)")
        if self.timepoints and self.layout not in ("default", "table"):
            raise ValueError("a form with timepoints is shown as a table (layout table or default)")
        if self.timepoint_items and not self.timepoints:
            raise ValueError("timepoint_items is set by the loader for forms with timepoints")
        return self

    def at_timepoints(self) -> list[tuple[TimepointDef, list[str]]]:
        """Each timepoint with the codes of the form's items recorded at it, in the order of ``timepoint_items``."""
        return [(tp, [timepoint_code(item, tp.code) for item in self.timepoint_items]) for tp in self.timepoints]

    @property
    def heading(self) -> str:
        """The short label, or the label when the protocol gives none."""
        return self.short_label or self.label

    @property
    def is_log(self) -> bool:
        """True for a log form (repeating per subject)."""
        return self.kind == "log"


class DerivedItemDef(Frozen):
    """Items computed by a published instrument from other items when they were not measured.

    A measured value always wins; a derived value says which instrument and items it came from.
    """

    instrument: str = Field(description="instrument code (rodnan.core.instruments.REGISTRY)")
    inputs: dict[str, Code] = Field(min_length=1, description="instrument input code -> item code")
    constants: dict[str, str | float] = Field(default_factory=dict, description="instrument input code -> fixed value")
    outputs: dict[str, Code] = Field(min_length=1, description="'value' or an instrument subscore -> item code")
    options: dict[str, str] = Field(default_factory=dict)
    option_items: dict[str, Code] = Field(
        default_factory=dict, description="option name -> choice item whose answer is the option (e.g. the SF-36 form)"
    )
    note: str | None = None


def expand_timepoints(data: Any) -> Any:
    """The raw protocol (a mapping, as read from YAML) with each form's ``timepoints`` expanded into items.

    A form with ``timepoints`` records each item it lists at each timepoint: its ``items`` become the item
    at each timepoint (``systolic_bp__pre``, ``systolic_bp__end``, ...), timepoint by timepoint, and the
    items as listed move to ``timepoint_items``; the catalogue gains, for each, a copy of the item with that
    code and the timepoint in its label. Every rule (units, ranges, codes, required, missing-data codes,
    completeness, checks, the analysis) then applies to them as to any item. A form already expanded
    (``timepoint_items`` set) and anything that is not a mapping are left as they are.
    """
    if not isinstance(data, dict) or not isinstance(data.get("forms"), list) or not isinstance(data.get("items"), list):
        return data
    items: list[Any] = list(data["items"])
    by_code = {item.get("code"): item for item in items if isinstance(item, dict)}
    forms: list[Any] = []
    for form in data["forms"]:
        timepoints = form.get("timepoints") if isinstance(form, dict) else None
        if (
            not timepoints
            or not isinstance(timepoints, list)
            or form.get("timepoint_items")
            or not isinstance(form.get("items"), list)
        ):
            forms.append(form)
            continue
        listed = list(form["items"])
        expanded: list[Any] = []
        for tp in timepoints:
            tp_code, tp_label = (tp.get("code"), tp.get("label")) if isinstance(tp, dict) else (None, None)
            for code in listed:
                if not isinstance(tp_code, str) or not isinstance(code, str):
                    continue
                new = timepoint_code(code, tp_code)
                expanded.append(new)
                base = by_code.get(code)
                if base is not None and new not in by_code:
                    when = str(tp_label)
                    copy = {**base, "code": new, "label": f"{base.get('label')}, {when[:1].lower()}{when[1:]}"}
                    by_code[new] = copy
                    items.append(copy)
        forms.append({**form, "items": expanded, "timepoint_items": listed})
    return {**data, "forms": forms, "items": items}
