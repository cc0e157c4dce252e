"""Checks at data entry for one form: what the web form validates on the server before saving.

Each item of the form is checked as entered (the raw text, and the unit it was typed in):

* number, integer, yes/no and choice items go through :func:`rodnan.core.values.normalize_value`
  (unit conversion, hard range, whole numbers, yes/no words, choice codes);
* text items are stripped and may hold at most :data:`TEXT_MAX_LENGTH` characters;
* date items must be real dates written ``YYYY-MM-DD``;
* partial-date items must be real dates of reduced precision, ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``
  (stored as that ISO text, at its precision).

A broken rule is an error. A number outside the item's soft range (``soft_min``/``soft_max``) is a
warning, which the person entering it can confirm; a confirmed warning no longer stops the form.
Items the protocol derives (the mRSS total from the 17 areas, the SF-36 scales, HAQ-DI) are
computed from the form's own values when they were not entered.

An item may hold a *missing-data code* instead of a value (``not_done``, ``asked_unknown``, ...: the
protocol's ``missing_codes``, those its form or item allows), with a reason when the code requires one.
A coded item counts as answered for the record's completeness and is missing for scoring and analysis.
An integer item with ``versions`` (SF-36 Q4, Q5, Q9) must hold an answer of the version chosen in the
form (v1 or v2), else the form is refused naming the item and the version's answers.

A file item (a source document) takes no typed text: it holds the metadata of a file the web stored after
:func:`rodnan.core.files.check_file_content` (:class:`~rodnan.core.files.FileRef`, given in ``files``), checked
again here against the item's accepted media types and size limit.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from rodnan.core import units
from rodnan.core.derivation import derivations_for, derive_items
from rodnan.core.entered import ITEM_TYPES, EnteredValue, ReadOnlyDict
from rodnan.core.files import FileRef, check_file_ref
from rodnan.core.protocol.model import NON_EXPRESSION_TYPES, DerivedItemDef, FormDef, ItemDef, Study
from rodnan.core.values import ItemValue, format_number, normalize_value, parse_partial_date
from rodnan.errors import InputError

TEXT_MAX_LENGTH = 200
"""Longest text answer accepted, in characters (after stripping)."""

Severity = Literal["error", "warning"]
"""An error stops the form; a warning stops it until confirmed."""

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

__all__ = ["ITEM_TYPES", "EnteredValue", "EntryIssue", "FormEntryResult", "ReadOnlyDict", "answer_labels",
           "check_form_entry", "file_value", "normalized_values", "read_typed_number", "soft_range_rule",
           "version_rule"]  # fmt: skip


@dataclass(frozen=True)
class EntryIssue:
    """A problem with one entered item.

    Attributes:
        item: the item code (or the unknown key that was entered).
        rule: the rule broken, in words.
        severity: "error" or "warning".
        message: the item's label and the rule, for people ("Serum albumin: must be a number").
    """

    item: str
    rule: str
    severity: Severity
    message: str


@dataclass(frozen=True)
class FormEntryResult:
    """The checks of one form's entries.

    Attributes:
        form: the form code.
        values: the valid entered values by item code (missing items and items in error are absent).
        errors: by item code (or unknown key), the rule each breaks.
        warnings: by item code, soft-range warnings not yet confirmed.
        confirmed_warnings: by item code, soft-range warnings the person entering confirmed.
        missing_required: required items of the form that were not entered and not derived, in form order.
        derive: computes :attr:`derived`, the form's derived items that were not entered: computed
            (``value`` set) or not derivable (``value`` None); ``derived_by`` says how, or why not.
    """

    form: str
    values: dict[str, EnteredValue]
    errors: dict[str, EntryIssue]
    warnings: dict[str, EntryIssue]
    confirmed_warnings: dict[str, EntryIssue]
    missing_required: tuple[str, ...]
    derive: Callable[[], dict[str, ItemValue]] = field(repr=False, compare=False)

    @cached_property
    def derived(self) -> dict[str, ItemValue]:
        """The form's derived items that were not entered (computed on first use: the bulk import never
        shows them, and a form's scores such as the SF-36 scales cost more than its checks)."""
        return self.derive()

    @property
    def ok(self) -> bool:
        """True when nothing is in error and every warning was confirmed: the entries may be saved."""
        return not self.errors and not self.warnings

    @property
    def complete(self) -> bool:
        """True when ok and every required item is entered or derived."""
        return self.ok and not self.missing_required


def _issue(item: ItemDef, rule: str, severity: Severity) -> EntryIssue:
    return EntryIssue(item.code, rule, severity, f"{item.label}: {rule}")


def soft_range_rule(item: ItemDef, value: float) -> str | None:
    """The warning rule when ``value`` (in the item's unit) is outside the item's soft range, else None.

    A missing soft bound is taken from the hard bound on that side, so an item with only
    ``soft_max`` reads "outside the expected range <min> to <soft_max>".
    """
    bounds = item.range
    if bounds is None or (bounds.soft_min is None and bounds.soft_max is None):
        return None
    low = bounds.soft_min if bounds.soft_min is not None else bounds.min
    high = bounds.soft_max if bounds.soft_max is not None else bounds.max
    if (low is None or value >= low) and (high is None or value <= high):
        return None
    shown_low = "-inf" if low is None else format_number(low)
    shown_high = units.format_quantity(math.inf if high is None else high, item.unit)
    return f"outside the expected range {shown_low} to {shown_high}; confirm it is correct"


def _check_text(item: ItemDef, raw: str) -> EnteredValue:
    text = raw.strip()
    if len(text) > TEXT_MAX_LENGTH:
        raise InputError(item.code, f"must be at most {TEXT_MAX_LENGTH} characters", len(text))
    return EnteredValue(item.code, item.type, raw, None, text, text)


def _check_date(item: ItemDef, raw: str) -> EnteredValue:
    text = raw.strip()
    try:
        if not _ISO_DATE.match(text):
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(item.code, "must be a date YYYY-MM-DD", raw) from None
    return EnteredValue(item.code, item.type, raw, None, day.isoformat(), day.isoformat())


def _check_partial_date(item: ItemDef, raw: str) -> EnteredValue:
    try:
        text = parse_partial_date(raw)
    except ValueError as exc:
        raise InputError(item.code, str(exc), raw) from None
    return EnteredValue(item.code, item.type, raw, None, text, text)


_CODED: dict[tuple[int, str, str | None], tuple[ItemDef, tuple[EnteredValue, ItemValue] | InputError]] = {}
"""Checked coded entries by (item object, text, unit): the same answer to the same item is checked once (the
bulk import checks millions of answers, most of them repeats such as "0" to "3" for an mRSS area)."""


def _check_coded(item: ItemDef, raw: str, unit: str | None) -> tuple[EnteredValue, ItemValue]:
    """A number, integer, yes/no or choice entry, checked by normalize_value (memoised: pure in its arguments)."""
    key = (id(item), raw, unit)
    cached = _CODED.get(key)
    if cached is None or cached[0] is not item:
        if len(_CODED) > 200_000:
            _CODED.clear()
        try:
            result: tuple[EnteredValue, ItemValue] | InputError = _check_coded_once(item, raw, unit)
        except InputError as exc:
            result = exc
        cached = _CODED[key] = (item, result)
    if isinstance(cached[1], InputError):  # a fresh error each time (a re-raised one would grow its traceback)
        raise InputError(cached[1].field, cached[1].rule, cached[1].value)
    return cached[1]


_NUMBER_THEN_REST = re.compile(r"^\s*([+-]?(?:\d[\d,.]*|[.,]\d[\d,.]*)(?:[eE][+-]?\d+)?)\s*(.*?)\s*$")


def read_typed_number(item: ItemDef, raw: str, unit: str | None = None) -> tuple[str, str | None]:
    """Split a number typed into a number field from a unit typed after it, and catch a decimal comma.

    "10,5" is refused with the way to write it ("use a decimal point: 10.5"). "0.9 mg/dL" is read as 0.9 in mg/dL
    when mg/dL is one of the units the item accepts (its own or an ``accepted_units`` one, matched as people write
    them: "mmHg", "µmol/L", "umol/l", "x10^9/L", "g/24h"), exactly as if mg/dL had been chosen in the unit selector;
    a unit the item does not accept is refused, naming the units it does.

    Args:
        item: a number or integer item.
        raw: the text typed.
        unit: the unit chosen beside the field (None or the item's own unit: none chosen).

    Returns:
        (the number as typed, the UCUM unit typed, so that the audit trail shows it): ``raw`` and ``unit`` unchanged
        when no unit was typed.

    Raises:
        InputError: a decimal comma, a unit the item does not accept, a unit typed that differs from another one chosen.
    """
    match = _NUMBER_THEN_REST.match(raw)
    if match is None:
        return raw, unit  # not a number at all: normalize_value says "must be a number"
    number, rest = match.groups()
    if "," in number:
        plain = number.replace(",", ".") if "." not in number and number.count(",") == 1 else None
        if plain is None:
            raise InputError(item.code, "must be a number written without thousands separators, with a decimal point", raw)
        raise InputError(item.code, f"use a decimal point: {plain}{' ' + rest if rest else ''}", raw)
    if not rest:
        return raw, unit
    if rest.replace(" ", "").isdigit():
        raise InputError(item.code, "must be a number written without spaces or thousands separators", raw)
    accepted = [item.unit or "", *[u for u in item.accepted_units if u != item.unit]]
    wanted = units.unit_key(rest)
    found = [u for u in accepted if u == rest.strip()] or [u for u in accepted if units.unit_key(u) == wanted and wanted]
    if len(found) != 1:
        shown = ", ".join(units.display_unit(u) for u in accepted if units.display_unit(u))
        rule = f"{rest} is not a unit this item accepts" + (f" ({shown})" if shown else " (it takes no unit)")
        raise InputError(item.code, rule, raw)
    typed = found[0]
    if unit is not None and unit not in (item.unit, typed):
        rule = f"the unit typed ({units.display_unit(typed)}) differs from the unit chosen ({units.display_unit(unit)})"
        raise InputError(item.code, rule, raw)
    return number, typed


def _check_coded_once(item: ItemDef, raw: str, unit: str | None) -> tuple[EnteredValue, ItemValue]:
    if item.is_numeric:
        raw, unit = read_typed_number(item, raw, unit)
    normalized = normalize_value(item, raw, unit)
    assert normalized.value is not None  # the raw text is not blank
    value: float | str = normalized.value
    display = normalized.display
    if item.type == "choice":
        choice = item.choices[int(normalized.value)]
        value, display = choice.code, choice.label
    entered = EnteredValue(item.code, item.type, raw, unit, value, display, normalized.converted)
    return entered, normalized


_FormItem = tuple[str, ItemDef, bool, bool]  # code, definition, numeric, has a soft range
_FormParts = tuple[
    tuple[_FormItem, ...],
    frozenset[str],
    tuple[str, ...],
    tuple[DerivedItemDef, ...],
    tuple[DerivedItemDef, ...],
    tuple[ItemDef, ...],
]
_FORMS: dict[tuple[int, str], tuple[Study, _FormParts]] = {}
"""Per (protocol object, form): its items with their definitions, their codes as a set, its required items,
the derived items its entry computes and those its required items need, its items with versioned answers (the
object is kept, so its id stays its own)."""


def _form_parts(study: Study, form: FormDef) -> _FormParts:
    """A form's items (code, definition), their codes and the derived items needed for them (made once per
    protocol and form)."""
    key = (id(study), form.code)
    cached = _FORMS.get(key)
    if cached is None or cached[0] is not study:
        if len(_FORMS) > 256:  # many protocol objects (tests of edited protocols): start again
            _FORMS.clear()
        items = tuple(
            (
                code,
                item,
                item.is_numeric,
                item.is_numeric and item.range is not None and (item.range.soft_min, item.range.soft_max) != (None, None),
            )
            for code in form.items
            for item in (study.item_by_code[code],)
        )
        required = study.required_items(form.code)
        versioned = tuple(item for _, item, _, _ in items if item.versions is not None)
        every, needed = derivations_for(study, form.items), derivations_for(study, required)
        parts = (items, frozenset(form.items), required, every, needed, versioned)
        cached = _FORMS[key] = (study, parts)
    return cached[1]


def check_form_entry(
    study: Study,
    form_code: str,
    entries: Mapping[str, tuple[str, str | None]],
    confirmed: Collection[str] = (),
    missing: Mapping[str, tuple[str, str]] | None = None,
    files: Mapping[str, FileRef] | None = None,
) -> FormEntryResult:
    """Check the entries of one form and derive what the protocol derives from them.

    Args:
        study: the protocol.
        form_code: the form the entries belong to.
        entries: item code -> (the text as typed, the unit typed or None for the item's own unit).
            Items of the form that are absent or blank are missing; a blank unit is the item's own.
        confirmed: item codes whose soft-range warning the person entering has confirmed.
        missing: item code -> (missing-data code, reason) for items that hold a code instead of a value
            (the code must be one the item allows; a reason where the code requires one).
        files: file item code -> the metadata of the file attached (stored by the caller after
            :func:`rodnan.core.files.check_file_content`); checked against the item's ``accept`` and size limit.

    Returns:
        The valid values, errors, warnings (open and confirmed), missing required items and the
        derived items of the form.

    Raises:
        InputError: ``form_code`` is not a form of the protocol.
    """
    form = study.form_by_code.get(form_code)
    if form is None:
        raise InputError("form", "is not a form of the protocol", form_code)
    values: dict[str, EnteredValue] = {}
    normalized: dict[str, ItemValue] = {}
    errors: dict[str, EntryIssue] = {}
    warnings: dict[str, EntryIssue] = {}
    confirmed_warnings: dict[str, EntryIssue] = {}
    items, codes, required, derivations, required_derivations, versioned = _form_parts(study, form)
    for key in entries:
        if key not in codes:
            unknown = f"not an item of form {form.code}"
            errors[key] = EntryIssue(key, unknown, "error", f"{key}: {unknown}")
    entered: set[str] = set()
    coded = _CODED
    for code, item, numeric, soft in items:
        got = entries.get(code)
        if got is None:
            continue
        raw, unit = got
        if not raw or raw.isspace():
            continue
        entered.add(code)
        if unit is not None:
            unit = unit.strip() or None
        known = coded.get((id(item), raw, unit))  # the memo of _check_coded, read here first (millions of answers)
        if known is not None and known[0] is item and not isinstance(known[1], InputError):
            values[code], normalized[code] = checked = known[1]
        else:
            try:
                if unit is not None and not numeric:
                    raise InputError(code, f"a {item.type} item takes no unit", unit)
                kind = item.type
                if kind == "text":
                    values[code] = _check_text(item, raw)
                    continue
                if kind == "date":
                    values[code] = _check_date(item, raw)
                    continue
                if kind == "partial_date":
                    values[code] = _check_partial_date(item, raw)
                    continue
                if kind == "file":
                    raise InputError(code, "attach a file: a file item takes no typed value", raw)
                values[code], normalized[code] = checked = _check_coded(item, raw, unit)
            except InputError as exc:
                errors[code] = _issue(item, exc.rule, "error")
                continue
        if soft:
            number = checked[1].value
            rule = None if number is None else soft_range_rule(item, number)
            if rule is not None:
                (confirmed_warnings if code in confirmed else warnings)[code] = _issue(item, rule, "warning")

    if files:
        _check_files(study, form, files, entered, values, errors)
    if missing:
        _check_missing_codes(study, form, missing, entered, values, errors)
    for item in versioned:
        code = item.code
        if code in values and code not in errors:
            rule = version_rule(study, item, values)
            if rule is not None:
                errors[code] = _issue(item, rule, "error")
                del values[code]
                normalized.pop(code, None)

    def derive(definitions: tuple[DerivedItemDef, ...] = derivations) -> dict[str, ItemValue]:
        return {
            code: value
            for code, value in derive_items(study, normalized, definitions).items()
            if code in codes and code not in entered and value.derived_by is not None
        }

    unentered = [code for code in required if code not in entered]
    needed = derive(required_derivations) if unentered and required_derivations else {}
    outstanding = tuple(code for code in unentered if code not in needed or needed[code].is_missing)
    return FormEntryResult(form.code, values, errors, warnings, confirmed_warnings, outstanding, derive)


def version_rule(study: Study, item: ItemDef, values: Mapping[str, EnteredValue]) -> str | None:
    """The rule an answer of a versioned item breaks for the version chosen on the form, or None.

    None too when the item has no versions, has no value, or the version is not (yet) chosen.
    """
    versions = item.versions
    answer = values.get(item.code)
    if versions is None or answer is None or answer.value is None:
        return None
    chosen = values.get(versions.item)
    if chosen is None or chosen.value is None:
        return None
    answers = versions.answers.get(str(chosen.value), {})
    if int(float(answer.value)) in answers:
        return None
    return f"must be {min(answers)} to {max(answers)} on {chosen.display} ({chosen.value}): " + ", ".join(
        f"{n} {label}" for n, label in sorted(answers.items())
    )


def answer_labels(study: Study, item: ItemDef, version: str | None) -> dict[int, str] | None:
    """A versioned item's answers (score -> label) for ``version`` (a choice code of its version item).

    Without a version chosen (or an unknown one), every version's answers, each label followed by its
    version ("Yes (v1) · All of the time (v2)"), so nothing is offered under another version's wording.
    None for an item without versions.
    """
    versions = item.versions
    if versions is None:
        return None
    chosen = versions.answers.get(version or "")
    if chosen is not None:
        return dict(chosen)
    order = [choice.code for choice in study.item_by_code[versions.item].choices if choice.code in versions.answers]
    scores = sorted({n for answers in versions.answers.values() for n in answers})
    return {
        n: " · ".join(f"{versions.answers[code][n]} ({code})" for code in order if n in versions.answers[code]) for n in scores
    }


def _check_missing_codes(
    study: Study,
    form: FormDef,
    missing: Mapping[str, tuple[str, str]],
    entered: set[str],
    values: dict[str, EnteredValue],
    errors: dict[str, EntryIssue],
) -> None:
    """Add the missing-data codes given for items of the form to ``values`` (as answered), or errors naming the rule."""
    for code, (given, reason) in missing.items():
        given, reason = given.strip(), reason.strip()
        if not given:
            continue
        item = study.item_by_code.get(code)
        if item is None or code not in form.items:
            errors[code] = EntryIssue(
                code, f"not an item of form {form.code}", "error", f"{code}: not an item of form {form.code}"
            )
            continue
        if code in entered:
            errors[code] = _issue(item, "give either a value or a missing-data code, not both", "error")
            values.pop(code, None)
            continue
        allowed = study.allowed_missing_codes(form.code, code)
        chosen = next((c for c in allowed if c.code == given), None)
        if chosen is None:
            rule = (f"missing-data code {given!r} is not allowed here (allowed: {', '.join(c.code for c in allowed)})"
                    if allowed else "takes no missing-data code: enter a value")  # fmt: skip
            errors[code] = _issue(item, rule, "error")
            continue
        if chosen.reason_required and not reason:
            errors[code] = _issue(item, f"{chosen.label.lower()} needs a reason", "error")
            continue
        if len(reason) > TEXT_MAX_LENGTH:
            errors[code] = _issue(item, f"the reason must be at most {TEXT_MAX_LENGTH} characters", "error")
            continue
        entered.add(code)
        values[code] = EnteredValue(
            code, item.type, "", None, None, f"{chosen.label} ({chosen.cdisc})", False, chosen.code, reason
        )


def _check_files(
    study: Study,
    form: FormDef,
    files: Mapping[str, FileRef],
    entered: set[str],
    values: dict[str, EnteredValue],
    errors: dict[str, EntryIssue],
) -> None:
    """Add the attached files' metadata to ``values`` (as answered), or errors naming the item and the rule."""
    for code, ref in files.items():
        item = study.item_by_code.get(code)
        if item is None or code not in form.items:
            errors[code] = EntryIssue(
                code, f"not an item of form {form.code}", "error", f"{code}: not an item of form {form.code}"
            )
            continue
        if code in errors:
            continue
        try:
            check_file_ref(item, ref, study.file_limit(item))
        except InputError as exc:
            errors[code] = _issue(item, exc.rule, "error")
            continue
        entered.add(code)
        values[code] = file_value(item, ref)


def file_value(item: ItemDef, ref: FileRef) -> EnteredValue:
    """The entered value of a file item holding ``ref``: ``raw`` the file's name, ``value`` its SHA-256."""
    return EnteredValue(item.code, item.type, ref.name, None, ref.sha256, ref.display, file=ref)


def normalized_values(study: Study, values: Mapping[str, EnteredValue]) -> dict[str, ItemValue]:
    """Entered values normalised for evaluation (the criteria, the derivations), as the entry check normalised
    them (the same memoised check); text, date and partial-date items, which criteria do not read, are left out.

    Raises:
        InputError: an item unknown to ``study`` (a value stored under an older protocol).
    """
    out: dict[str, ItemValue] = {}
    for code, value in values.items():
        if value.type in NON_EXPRESSION_TYPES or value.missing:
            continue
        item = study.item_by_code.get(code)
        if item is None:
            raise InputError(code, "is not an item of the protocol", value.raw)
        out[code] = _check_coded(item, value.raw, value.unit)[1]
    return out
