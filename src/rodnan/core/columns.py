"""Item values as whole columns: text cells parsed into floats in the item's unit, and range-checked.

The rules of :mod:`rodnan.core.values` (one value at a time) applied with numpy to a column of cells,
as bulk screening (:mod:`rodnan.core.screening`) and the trial data contract
(:mod:`rodnan.core.trialdata`) read them: numbers in the item's own unit, yes/no as 1.0 / 0.0, a choice
as the index of the choice, NaN for an empty or bad cell. Each function returns the bad cells as a
mask with the rule they break, so the caller decides whether a bad cell is reported and skipped
(screening) or stops the reading (trial data).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core.protocol.model import ItemDef
from rodnan.core.values import BOOLEAN_WORDS, format_number

FloatArray = npt.NDArray[np.float64]


def _map_words(raw: pd.Series, words: dict[str, float]) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Map text cells to floats through ``words`` (case and surrounding spaces ignored).

    The column is factorised first, so each distinct spelling is looked at once, not each cell.
    Returns the values (NaN for empty or unknown cells) and the mask of non-empty unknown cells.
    """
    if isinstance(raw.dtype, pd.CategoricalDtype):  # parsed as categories: already factorised
        codes, uniques = raw.cat.codes.to_numpy(), raw.cat.categories
    else:
        codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    mapped = np.array([words.get(str(u).strip().lower(), np.nan) for u in uniques] + [np.nan], dtype=np.float64)
    values = mapped[codes]  # code -1 (empty cell) picks the trailing NaN
    unknown = np.array([str(u).strip().lower() not in words for u in uniques] + [False], dtype=bool)
    return values, unknown[codes]


def parse_column(item: ItemDef, raw: pd.Series, factor: float) -> tuple[FloatArray, npt.NDArray[np.bool_], str]:
    """Parse one column of raw cells for ``item``: values in the item's unit, a mask of bad cells, the rule.

    Empty cells are missing (NaN) and not bad. Bad cells become NaN too.
    """
    if item.type == "boolean":
        if raw.dtype == bool:
            return raw.to_numpy(dtype=np.float64), np.zeros(len(raw), bool), ""
        values, bad = _map_words(raw, BOOLEAN_WORDS)
        return values, bad, "must be yes/no (true/false, yes/no or 1/0)"
    if item.type == "choice":
        codes = [c.code for c in item.choices]
        values, bad = _map_words(raw, {c: float(i) for i, c in enumerate(codes)})
        return values, bad, f"must be one of {', '.join(codes)}"
    if pd.api.types.is_numeric_dtype(raw.dtype) and raw.dtype != bool:
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.zeros(len(raw), bool)
    else:
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = raw.notna().to_numpy() & np.isnan(values)
    if factor != 1.0:
        values = values * factor
    return values, bad, "must be a number"


def check_column(item: ItemDef, values: FloatArray) -> list[tuple[npt.NDArray[np.bool_], str]]:
    """Range and whole-number checks on converted values; returns (bad mask, rule) pairs."""
    problems: list[tuple[npt.NDArray[np.bool_], str]] = []
    if not item.is_numeric:
        return problems
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(values)
        infinite = ~finite & ~np.isnan(values)
        if infinite.any():
            problems.append((infinite, "must be a finite number"))
        bounds = item.range
        if bounds is not None and (bounds.min is not None or bounds.max is not None):
            low = -np.inf if bounds.min is None else bounds.min
            high = np.inf if bounds.max is None else bounds.max
            outside = finite & ((values < low) | (values > high))
            if outside.any():
                shown_low = "-inf" if bounds.min is None else format_number(bounds.min)
                shown_high = "inf" if bounds.max is None else format_number(bounds.max)
                problems.append((outside, f"must be within the plausible range {shown_low} to {shown_high} {item.unit}"))
        if item.type == "integer":
            fractional = finite & (np.round(values) != values)
            if fractional.any():
                problems.append((fractional, "must be a whole number"))
    return problems
