"""Derived items: values computed by published instruments when they were not measured.

The protocol file declares them (``derived_items``): which item, which instrument, which items feed
which instrument inputs, which output. A measured value always wins; a derived value carries the
instrument and the items it came from, so every verdict can say which was used.

One candidate at a time: :func:`derive_items`. Whole columns: :func:`derive_columns`, vectorised
for instruments that offer a column form, else one call per row that needs it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from rodnan.core import instruments, units
from rodnan.core.protocol.model import DerivedItemDef, ItemDef, Study
from rodnan.core.values import ItemValue, display_value
from rodnan.errors import InputError

FloatArray = npt.NDArray[np.float64]


def _input_value(doc: instruments.InputDoc, item: ItemDef, value: float) -> object:
    """An item's normalised value as the instrument input expects it."""
    if doc.kind == "boolean":
        return value == 1.0
    if doc.kind == "choice":
        return item.choices[int(value)].code
    if doc.unit is not None and item.unit is not None:
        return units.convert(value, item.unit, doc.unit, item.molar_mass_g_per_mol)
    return value


def _derive_one(study: Study, definition: DerivedItemDef, values: Mapping[str, float | None]) -> tuple[float | None, str]:
    """The derived value (or None) and the reason when None."""
    instrument = instruments.REGISTRY[definition.instrument]
    docs = {doc.code: doc for doc in instrument.inputs}
    answers: dict[str, object] = {}
    for name, code in definition.inputs.items():
        value = values.get(code)
        if value is not None and not np.isnan(value):
            answers[name] = _input_value(docs[name], study.item_by_code[code], value)
    try:
        score = instrument.score_items(answers, definition.options)
    except InputError as exc:
        return None, f"not derivable by {instrument.code}: {exc}"
    result = score.value if definition.output == "value" else score.subscores.get(definition.output)
    if result is None or isinstance(result, str):
        why = "; ".join(score.notes) or "not computable"
        return None, f"not derivable by {instrument.code}: {why}"
    return float(result), ""


def describe_derivation(definition: DerivedItemDef) -> str:
    """``cockcroft_gault from age, body_weight, creatinine, sex``."""
    return f"{definition.instrument} from {', '.join(definition.inputs.values())}"


def derive_items(study: Study, values: Mapping[str, ItemValue]) -> dict[str, ItemValue]:
    """Add the derived items a candidate lacks, in the order the protocol declares them.

    Args:
        study: the protocol.
        values: normalised values by item code (missing items may be absent).

    Returns:
        The values with each derivable missing item filled in (``derived_by`` says how); items
        that cannot be derived stay missing, with the reason in ``derived_by``.
    """
    out = dict(values)
    for definition in study.derived_items:
        current = out.get(definition.item)
        if current is not None and not current.is_missing:
            continue
        floats = {code: v.value for code, v in out.items()}
        value, why = _derive_one(study, definition, floats)
        item = study.item_by_code[definition.item]
        if value is None:
            out[definition.item] = ItemValue(item.code, None, "", "missing", derived_by=why)
        else:
            shown = display_value(item, value)
            out[definition.item] = ItemValue(item.code, value, "", shown, derived_by=describe_derivation(definition))
    return out


def derive_columns(study: Study, values: dict[str, FloatArray], n: int) -> dict[str, npt.NDArray[np.bool_]]:
    """Fill derived items into whole columns (in place) where they are missing.

    Instruments with a column form are evaluated vectorised; the others once per row that lacks a
    measured value.

    Returns:
        For each derived item, the mask of rows whose value was derived.
    """
    derived: dict[str, npt.NDArray[np.bool_]] = {}
    for definition in study.derived_items:
        target = values.get(definition.item)
        need = np.ones(n, bool) if target is None else np.isnan(target)
        if not need.any() or all(code not in values for code in definition.inputs.values()):
            derived[definition.item] = np.zeros(n, bool)
            continue
        instrument = instruments.REGISTRY[definition.instrument]
        column = np.full(n, np.nan) if target is None else target.copy()
        if instrument.columns is not None and definition.output == "value":
            options = {**instrument.default_options, **definition.options}
            computed = instrument.columns(_input_columns(study, definition, values), options, n)
            column[need] = computed[need]
        else:
            for i in np.flatnonzero(need):  # no column form: one instrument call per row that needs it
                row = {code: float(values[code][i]) for code in definition.inputs.values() if code in values}
                value, _ = _derive_one(study, definition, row)
                if value is not None:
                    column[i] = value
        values[definition.item] = column
        derived[definition.item] = need & ~np.isnan(column)
    return derived


def _input_columns(study: Study, definition: DerivedItemDef, values: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """Item columns converted to what the instrument inputs expect (units; choice positions)."""
    instrument = instruments.REGISTRY[definition.instrument]
    docs = {doc.code: doc for doc in instrument.inputs}
    columns: dict[str, FloatArray] = {}
    for name, code in definition.inputs.items():
        if code not in values:
            continue
        doc, item, column = docs[name], study.item_by_code[code], values[code]
        if doc.kind == "choice":
            position = np.array([doc.choices.index(c.code) for c in item.choices] + [np.nan])
            index = np.where(np.isnan(column), len(item.choices), column).astype(int)
            columns[name] = position[index]
        elif doc.kind in ("number", "integer") and doc.unit is not None and item.unit is not None:
            columns[name] = column * units.conversion_factor(item.unit, doc.unit, item.molar_mass_g_per_mol)
        else:
            columns[name] = column
    return columns
