"""Derived items: values computed by published instruments when they were not measured.

The protocol file declares them (``derived_items``): which item, which instrument, which items feed
which instrument inputs, which output. A measured value always wins; a derived value carries the
instrument and the items it came from, so every verdict can say which was used.

One candidate at a time: :func:`derive_items`. Whole columns: :func:`derive_columns`, vectorised
for instruments that offer a column form, else one call per row that needs it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

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


def _options(study: Study, definition: DerivedItemDef, values: Mapping[str, float | None]) -> dict[str, str] | None:
    """The instrument options: fixed ones, and those read from choice items (None if such an item is missing)."""
    options = dict(definition.options)
    for name, code in definition.option_items.items():
        value = values.get(code)
        if value is None or value != value:  # missing or NaN
            return None
        options[name] = study.item_by_code[code].choices[int(value)].code
    return options


_DOCS: dict[str, tuple[instruments.InstrumentDef, dict[str, instruments.InputDoc]]] = {}


def _input_docs(instrument: instruments.InstrumentDef) -> dict[str, instruments.InputDoc]:
    """An instrument's inputs by code (made once per instrument)."""
    cached = _DOCS.get(instrument.code)
    if cached is None or cached[0] is not instrument:
        cached = _DOCS[instrument.code] = (instrument, {doc.code: doc for doc in instrument.inputs})
    return cached[1]


def _derive_one(study: Study, definition: DerivedItemDef, values: Mapping[str, float | None]) -> tuple[dict[str, float], str]:
    """The derived outputs that could be computed (output name -> value) and why the others could not."""
    instrument = instruments.REGISTRY[definition.instrument]
    options = _options(study, definition, values)
    if options is None:
        missing = ", ".join(definition.option_items.values())
        return {}, f"not derivable by {instrument.code}: {missing} missing"
    docs = _input_docs(instrument)
    answers: dict[str, object] = dict(definition.constants)
    item_by_code = study.item_by_code
    for name, code in definition.inputs.items():
        value = values.get(code)
        if value is not None and value == value:  # not missing, not NaN
            doc = docs[name]
            answers[name] = value if doc.kind == "number" and doc.unit is None else _input_value(doc, item_by_code[code], value)
    try:
        score = instrument.score_items(answers, options)
    except InputError as exc:
        return {}, f"not derivable by {instrument.code}: {exc}"
    results: dict[str, float] = {}
    for output in definition.outputs:
        result = score.value if output == "value" else score.subscores.get(output)
        if result is not None and not isinstance(result, str):
            results[output] = float(result)
    why = (
        ""
        if len(results) == len(definition.outputs)
        else f"not derivable by {instrument.code}: {'; '.join(score.notes) or 'not computable'}"
    )
    return results, why


def describe_derivation(definition: DerivedItemDef) -> str:
    """``cockcroft_gault from age, body_weight, creatinine, sex``; long lists are shortened."""
    sources = list(definition.inputs.values())
    shown = ", ".join(sources) if len(sources) <= 6 else f"{sources[0]} ... {sources[-1]} ({len(sources)} items)"
    return f"{definition.instrument} from {shown}"


def derivations_for(study: Study, targets: Collection[str]) -> tuple[DerivedItemDef, ...]:
    """The protocol's derived items needed to compute ``targets``: those with an output among them, and,
    transitively, those whose outputs the former read, in the protocol's order."""
    needed = set(targets)
    chosen: list[DerivedItemDef] = []
    for definition in reversed(study.derived_items):
        if needed & set(definition.outputs.values()):
            chosen.append(definition)
            needed |= set(definition.inputs.values()) | set(definition.option_items.values())
    return tuple(reversed(chosen))


def derive_items(
    study: Study, values: Mapping[str, ItemValue], definitions: Sequence[DerivedItemDef] | None = None
) -> dict[str, ItemValue]:
    """Add the derived items a candidate lacks, in the order the protocol declares them.

    Args:
        study: the protocol.
        values: normalised values by item code (missing items may be absent).
        definitions: only these derived items (see :func:`derivations_for`); default every one.

    Returns:
        The values with each derivable missing item filled in (``derived_by`` says how); items
        that cannot be derived stay missing, with the reason in ``derived_by``.
    """
    out = dict(values)
    numbers = {code: v.value for code, v in out.items()}
    for definition in study.derived_items if definitions is None else definitions:
        wanted = {output: code for output, code in definition.outputs.items() if code not in out or out[code].is_missing}
        if not wanted:
            continue
        results, why = _derive_one(study, definition, numbers)
        for output, code in wanted.items():
            item = study.item_by_code[code]
            value = results.get(output)
            if value is None:
                out[code] = ItemValue(code, None, "", "missing", derived_by=why)
            else:
                out[code] = ItemValue(code, value, "", display_value(item, value), derived_by=describe_derivation(definition))
            numbers[code] = value
    return out


def derive_columns(study: Study, values: dict[str, FloatArray], n: int) -> dict[str, npt.NDArray[np.bool_]]:
    """Fill derived items into whole columns (in place) where they are missing.

    Instruments with a column form are evaluated vectorised (for a single ``value`` output with
    fixed options); the others once per row that lacks a measured value.

    Returns:
        For each derived item, the mask of rows whose value was derived.
    """
    derived: dict[str, npt.NDArray[np.bool_]] = {}
    for definition in study.derived_items:
        targets = list(definition.outputs.values())
        needs = {code: (np.ones(n, bool) if code not in values else np.isnan(values[code])) for code in targets}
        need_any = np.logical_or.reduce(list(needs.values()))
        if not need_any.any() or all(code not in values for code in definition.inputs.values()):
            derived.update({code: np.zeros(n, bool) for code in targets})
            continue
        columns = {code: (values[code].copy() if code in values else np.full(n, np.nan)) for code in targets}
        instrument = instruments.REGISTRY[definition.instrument]
        vectorised = list(definition.outputs) == ["value"] and not definition.option_items and not definition.constants
        if instrument.columns is not None and vectorised:
            options = {**instrument.default_options, **definition.options}
            computed = instrument.columns(_input_columns(study, definition, values), options, n)
            [code] = targets
            columns[code][needs[code]] = computed[needs[code]]
        else:
            sources = [*definition.inputs.values(), *definition.option_items.values()]
            docs = {doc.code: doc for doc in instrument.inputs}
            rows = need_any.copy()
            for name, code in definition.inputs.items():  # rows lacking a required input cannot be derived
                if docs[name].required:
                    rows &= ~np.isnan(values[code]) if code in values else False
            for i in np.flatnonzero(rows):  # no column form: one instrument call per row that can be derived
                row = {code: float(values[code][i]) for code in sources if code in values}
                results, _ = _derive_one(study, definition, row)
                for output, code in definition.outputs.items():
                    if needs[code][i] and output in results:
                        columns[code][i] = results[output]
        for code in targets:
            values[code] = columns[code]
            derived[code] = needs[code] & ~np.isnan(columns[code])
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
