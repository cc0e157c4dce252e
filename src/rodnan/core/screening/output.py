"""A screened batch as output: a table, CSV lines (fast, vectorised) and full results with reasons."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from rodnan.core.derivation import derive_items, describe_derivation
from rodnan.core.eligibility import ScreeningResult, build_screening_result
from rodnan.core.protocol.model import Study
from rodnan.core.screening.evaluate import VERDICT_NAMES, ScreenedBatch
from rodnan.core.values import ItemValue, display_value
from rodnan.core.verdict import VERDICT_BY_CODE, Truth


def output_columns(study: Study) -> list[str]:
    """Columns of the tabular output: subject, verdict, pathways, one per criterion, missing items."""
    return ["subject_id", "verdict", "qualifying_pathways", *[c.code for c in study.criteria], "missing_items"]


def frame_of(study: Study, screened: ScreenedBatch) -> pd.DataFrame:
    """The screened batch as a table with :func:`output_columns`."""
    names = np.array([v.value for v in VERDICT_BY_CODE], dtype=object)
    columns: dict[str, Any] = {
        "subject_id": screened.batch.subject_ids,
        "verdict": VERDICT_NAMES[screened.verdicts],
        "qualifying_pathways": screened.pathways,
    }
    for criterion in study.criteria:
        columns[criterion.code] = names[screened.truths[criterion.code]]
    columns["missing_items"] = screened.missing
    return pd.DataFrame(columns)


def csv_header(study: Study) -> str:
    """The header line of the CSV output (with its newline)."""
    return ",".join(output_columns(study)) + "\n"


def csv_rows(study: Study, screened: ScreenedBatch) -> list[str]:
    """The screened batch as CSV lines without newlines (as ``frame_of(...).to_csv`` writes them).

    Fast without a loop per candidate: everything after the subject id depends only on the
    criterion truths and the missing items, which take few distinct values; each distinct line
    tail is formatted once and joined to the ids with one vectorised concatenation.
    """
    criteria = study.criteria
    key = np.zeros(len(screened.batch), dtype=np.int64)
    for j, criterion in enumerate(criteria):
        key |= screened.truths[criterion.code].astype(np.int64) << (2 * j)
    missing_codes, missing_labels = pd.factorize(screened.missing)
    base = len(missing_labels) + 1
    tails, first, inverse = np.unique(key * base + missing_codes, return_index=True, return_inverse=True)
    # Format each distinct tail once, column by column (vectorised over the distinct tails).
    names = np.array([v.value for v in VERDICT_BY_CODE], dtype=object)
    keys = tails // base
    columns = [
        VERDICT_NAMES[screened.verdicts[first]].tolist(),
        screened.pathways[first].tolist(),
        *(names[(keys >> (2 * j)) & 3].tolist() for j in range(len(criteria))),
        screened.missing[first].tolist(),
    ]
    labels = np.array(["," + ",".join(cells) for cells in zip(*columns, strict=True)], dtype=object)
    ids = screened.batch.subject_ids
    if any(ch in "".join(ids.tolist()) for ch in ',"\r\n'):  # rare: quote the ids that need it
        ids = np.array([_csv_quote(i) for i in ids.tolist()], dtype=object)
    lines: list[str] = (ids + labels[inverse.reshape(-1)]).tolist()
    return lines


def _csv_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\r\n') else text


def _as_entered(value: float, unit: str) -> str:
    """A number as entered with its UCUM unit ("72000 /mm3", as :func:`rodnan.core.values.normalize_value` writes it;
    the reasons print the unit for people); a pure number or an annotation such as ``{score}`` has none."""
    shown = f"{value:.6g}"
    return shown if unit in ("", "1") or (unit.startswith("{") and unit.endswith("}")) else f"{shown} {unit}"


def results_of(study: Study, screened: ScreenedBatch) -> Iterator[tuple[str, ScreeningResult]]:
    """Full per-candidate results with reasons (for JSON and table output; one row at a time).

    The truths come from the vectorised evaluation; only the wording is built per row.
    """
    batch = screened.batch
    derivations = {code: describe_derivation(d) for d in study.derived_items for code in d.outputs.values()}
    for i, subject in enumerate(batch.subject_ids):
        values: dict[str, ItemValue] = {}
        for code, column in batch.values.items():
            value = float(column[i])
            item = study.item_by_code[code]
            if np.isnan(value):
                continue
            derived = batch.derived.get(code)
            if derived is not None and derived[i]:
                values[code] = ItemValue(code, value, "", display_value(item, value), derived_by=derivations[code])
                continue
            factor = batch.factors.get(code, 1.0)
            factor_i = float(factor if isinstance(factor, float) else factor[i])
            unit = batch.units.get(code, item.unit or "")
            unit_i = str(unit if isinstance(unit, str) else unit[i])
            entered = _as_entered(value / factor_i, unit_i) if item.is_numeric else display_value(item, value)
            values[code] = ItemValue(code, value, entered, display_value(item, value), item.is_numeric and unit_i != item.unit)
        truths = {code: Truth(int(array[i])) for code, array in screened.truths.items()}
        values = derive_items(study, values)  # only words why the rest could not be derived
        yield str(subject), build_screening_result(study, values, truths)
