"""Bulk eligibility screening: many candidates from a CSV file, whole columns at a time.

The same criteria and rules as :mod:`rodnan.core.eligibility`, applied with numpy to whole columns
(no Python loop per candidate): values are parsed, converted and range-checked per column, every
criterion is evaluated as an int8 array of Kleene truth codes, and the verdict is their min/max.
Files are read in chunks, so memory stays bounded however many candidates there are.

Two layouts are accepted (see ``docs/screening.md``):

* wide: one row per candidate, a ``subject_id`` column and one column per item, headed
  ``item [unit]`` (``albumin [g/dL]``); a header without a bracket means the item's own unit;
* long: columns ``subject_id,item,value,unit``, one row per value (read whole, not in chunks).

Bad cells never stop the screening: each becomes an :class:`InputIssue` naming the line, the column
and the rule, and the value is treated as missing. Only an unusable file raises.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import os
import queue
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core import units
from rodnan.core.derivation import derive_columns, derive_items, describe_derivation
from rodnan.core.eligibility import ScreeningResult, ScreeningVerdict, build_screening_result
from rodnan.core.protocol.model import ItemDef, Study
from rodnan.core.values import BOOLEAN_WORDS, ItemValue, display_value, format_number, unit_factor
from rodnan.core.verdict import VERDICT_BY_CODE, Truth
from rodnan.errors import InputError

FloatArray = npt.NDArray[np.float64]
ID_COLUMN = "subject_id"
LONG_COLUMNS = ("subject_id", "item", "value", "unit")
CHUNK_ROWS = 100_000
_READ_OPTIONS: dict[str, Any] = {"keep_default_na": False, "na_values": [""], "skip_blank_lines": False}
DUPLICATE_RULE = "duplicated candidate: this subject id came earlier in the file; the row is not screened"
_HEADER = re.compile(r"^\s*([A-Za-z0-9_]+)\s*(?:\[(.*)\])?\s*$")
VERDICT_NAMES = np.array([v.value for v in ScreeningVerdict], dtype=object)
_ELIGIBLE, _INELIGIBLE, _INCOMPLETE = 0, 1, 2


@dataclass(frozen=True)
class InputIssue:
    """A problem with one cell, row or column of the input; the rest is still screened."""

    line: int | None
    column: str | None
    rule: str
    subject_id: str | None = None

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.subject_id:
            where.append(f"subject {self.subject_id}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where) or 'file'}: {self.rule}"


@dataclass(frozen=True)
class ColumnPlan:
    """How one wide column maps to an item."""

    header: str
    item: ItemDef
    unit: str
    factor: float


@dataclass(frozen=True)
class WidePlan:
    """The columns of a wide file that will be read, and the header problems found."""

    columns: tuple[ColumnPlan, ...]
    issues: tuple[InputIssue, ...]


@dataclass
class CandidateBatch:
    """Candidates' values as float columns in each item's unit (NaN = missing).

    ``factors`` and ``units`` keep how each value was entered (a scalar for a wide column, an
    array for long files), so reasons can show the entered value next to the converted one.
    """

    subject_ids: npt.NDArray[np.object_]
    lines: npt.NDArray[np.int64]
    values: dict[str, FloatArray]
    factors: dict[str, float | FloatArray] = field(default_factory=dict)
    units: dict[str, Any] = field(default_factory=dict)
    issues: list[InputIssue] = field(default_factory=list)
    derived: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.subject_ids)


@dataclass
class ScreenedBatch:
    """Truth codes of every criterion, and the verdicts, for a batch of candidates."""

    batch: CandidateBatch
    truths: dict[str, npt.NDArray[np.int8]]
    verdicts: npt.NDArray[np.int8]
    pathways: npt.NDArray[np.object_]
    missing: npt.NDArray[np.object_]


# --- reading --------------------------------------------------------------------------------------


def plan_wide_columns(study: Study, header: Sequence[str]) -> WidePlan:
    """Map the header of a wide file to items and unit factors.

    Raises:
        InputError: there is no ``subject_id`` column.
    """
    if ID_COLUMN not in header:
        raise InputError(
            "header",
            f"must have a {ID_COLUMN!r} column (wide layout) or the columns {', '.join(LONG_COLUMNS)} (long layout)",
            ",".join(header),
        )
    columns: list[ColumnPlan] = []
    issues: list[InputIssue] = []
    seen: dict[str, str] = {}
    for name in header:
        if name == ID_COLUMN:
            continue
        match = _HEADER.match(name)
        code = match.group(1) if match else name
        item = study.item_by_code.get(code)
        if match is None or item is None:
            issues.append(InputIssue(1, name, f"{code!r} is not an item of the protocol; the column is ignored"))
            continue
        if code in seen:
            issues.append(InputIssue(1, name, f"item {code!r} already comes from column {seen[code]!r}; this column is ignored"))
            continue
        unit = (match.group(2) or "").strip() or item.unit or ""
        try:
            factor = unit_factor(item, unit or None)
        except InputError as exc:
            issues.append(InputIssue(1, name, f"{exc.rule}; the column is ignored"))
            continue
        seen[code] = name
        columns.append(ColumnPlan(name, item, unit, factor))
    return WidePlan(tuple(columns), tuple(issues))


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


def _cell_issues(
    mask: npt.NDArray[np.bool_],
    lines: npt.NDArray[np.int64],
    ids: npt.NDArray[np.object_],
    column: str,
    rule: str,
    raw: pd.Series | None,
) -> list[InputIssue]:
    issues = []
    for i in np.flatnonzero(mask):
        shown = "" if raw is None else f" (got {raw.iloc[i]!r})"
        issues.append(InputIssue(int(lines[i]), column, f"{rule}{shown}; treated as missing", _id(ids[i])))
    return issues


def _id(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


class SeenIds:
    """Subject ids met so far in a file, to find duplicates across chunks.

    Membership is tested with ``map`` over a set's C method, so no Python code runs per candidate.
    """

    def __init__(self) -> None:
        self._ids: set[object] = set()

    def duplicated(self, ids: npt.NDArray[np.object_], unique_within: bool = False) -> npt.NDArray[np.bool_]:
        """Mask of ids seen earlier in this array or in earlier calls; records the new ones.

        ``unique_within`` skips the check among ``ids`` themselves when it was already made.
        """
        duplicated = np.fromiter(map(self._ids.__contains__, ids), dtype=bool, count=len(ids))
        if not unique_within:
            duplicated |= pd.Series(ids, dtype=object).duplicated().to_numpy()
        self._ids.update(ids)
        return duplicated


def _clean_ids(
    frame: pd.DataFrame, lines: npt.NDArray[np.int64], seen: SeenIds | None, issues: list[InputIssue]
) -> npt.NDArray[np.bool_]:
    """Mask of rows to keep: a subject id present and not seen before (in this chunk, and in
    ``seen`` when given)."""
    raw = frame[ID_COLUMN]
    no_id = raw.isna().to_numpy()
    if no_id.any():
        empty_row = np.zeros(len(frame), bool)
        empty_row[no_id] = frame.loc[no_id].isna().all(axis=1).to_numpy()
        for i in np.flatnonzero(no_id & ~empty_row):
            issues.append(InputIssue(int(lines[i]), ID_COLUMN, "the subject id is empty; the row is not screened"))
    ids = raw.to_numpy(dtype=object)
    duplicated = np.zeros(len(frame), bool)
    present = ids[~no_id]
    duplicated[~no_id] = pd.Series(present, dtype=object).duplicated().to_numpy() if seen is None else seen.duplicated(present)
    for i in np.flatnonzero(duplicated):
        issues.append(InputIssue(int(lines[i]), ID_COLUMN, DUPLICATE_RULE, str(ids[i])))
    return ~no_id & ~duplicated


def read_wide_chunk(plan: WidePlan, frame: pd.DataFrame, first_line: int, seen: SeenIds | None) -> CandidateBatch:
    """Turn one chunk of a wide file into a batch (``first_line`` is the file line of its first row).

    Duplicated subject ids are dropped within the chunk, and across chunks when ``seen`` is given.
    """
    lines = np.arange(first_line, first_line + len(frame), dtype=np.int64)
    issues: list[InputIssue] = []
    keep = _clean_ids(frame, lines, seen, issues)
    if not keep.all():
        frame = frame.loc[keep]
        lines = lines[keep]
    ids = frame[ID_COLUMN].to_numpy(dtype=object)
    values: dict[str, FloatArray] = {}
    for column in plan.columns:
        raw = frame[column.header]
        parsed, bad, rule = parse_column(column.item, raw, column.factor)
        if bad.any():
            issues += _cell_issues(bad, lines, ids, column.header, rule, raw)
        for mask, rule in check_column(column.item, parsed):
            issues += _cell_issues(mask, lines, ids, column.header, rule, raw)
            parsed = np.where(mask, np.nan, parsed)
        values[column.item.code] = parsed
    factors: dict[str, float | FloatArray] = {c.item.code: c.factor for c in plan.columns}
    units = {c.item.code: c.unit for c in plan.columns}
    issues.sort(key=lambda issue: issue.line or 0)  # by line; within a line, in column order
    return CandidateBatch(ids, lines, values, factors, units, issues)


def read_long(study: Study, frame: pd.DataFrame) -> CandidateBatch:
    """Turn a whole long file (``subject_id,item,value,unit``) into one batch."""
    frame = frame.reset_index(drop=True)
    lines = np.arange(2, 2 + len(frame), dtype=np.int64)
    issues: list[InputIssue] = []
    ids = frame[ID_COLUMN].astype("string").str.strip()
    codes = frame["item"].astype("string").str.strip()
    unit_col = (
        frame["unit"].astype("string").str.strip() if "unit" in frame else pd.Series(pd.NA, index=frame.index, dtype="string")
    )
    usable = ids.notna().to_numpy() & (ids != "").to_numpy(dtype=bool, na_value=False)
    for i in np.flatnonzero(~usable & ~frame.isna().all(axis=1).to_numpy()):
        issues.append(InputIssue(int(lines[i]), ID_COLUMN, "the subject id is empty; the row is ignored"))
    known = codes.isin(list(study.item_by_code)).to_numpy()
    for i in np.flatnonzero(usable & ~known):
        issues.append(
            InputIssue(
                int(lines[i]), "item", f"{codes.iloc[i]!r} is not an item of the protocol; the row is ignored", str(ids.iloc[i])
            )
        )
    usable &= known
    duplicated = pd.DataFrame({"s": ids, "i": codes}).duplicated().to_numpy() & usable
    for i in np.flatnonzero(duplicated):
        issues.append(
            InputIssue(
                int(lines[i]),
                "item",
                f"item {codes.iloc[i]!r} is given twice for this candidate; the first value is used",
                str(ids.iloc[i]),
            )
        )
    usable &= ~duplicated

    subjects = pd.unique(ids[usable].to_numpy(dtype=object))
    position = pd.Index(subjects)
    index = position.get_indexer(pd.Index(ids.to_numpy(dtype=object)))
    subject_lines = np.zeros(len(subjects), dtype=np.int64)
    first = ~pd.Series(ids).duplicated().to_numpy() & usable
    subject_lines[index[first]] = lines[first]
    values: dict[str, FloatArray] = {}
    factors: dict[str, float | FloatArray] = {}
    units: dict[str, Any] = {}
    for code in study.in_item_order(set(codes[usable].tolist())):
        item = study.item_by_code[code]
        rows = np.flatnonzero(usable & (codes == code).to_numpy(dtype=bool, na_value=False))
        row_units = unit_col.iloc[rows].fillna(item.unit or "").replace("", item.unit or "")
        factor = np.full(len(rows), np.nan)
        for unit in pd.unique(row_units):
            selected = (row_units == unit).to_numpy()
            try:
                factor[selected] = unit_factor(item, unit or None)
            except InputError as exc:
                for i in rows[selected]:
                    issues.append(InputIssue(int(lines[i]), "unit", f"{exc.rule}; the value is ignored", str(ids.iloc[i])))
        raw = frame["value"].iloc[rows]
        parsed, bad, rule = parse_column(item, raw, 1.0)
        parsed = (
            parsed * np.where(np.isnan(factor), np.nan, factor) if item.is_numeric else np.where(np.isnan(factor), np.nan, parsed)
        )
        row_ids = ids.iloc[rows].to_numpy(dtype=object)
        issues += _cell_issues(bad, lines[rows], row_ids, "value", rule, raw)
        for mask, rule in check_column(item, parsed):
            issues += _cell_issues(mask, lines[rows], row_ids, "value", rule, raw)
            parsed = np.where(mask, np.nan, parsed)
        column = np.full(len(subjects), np.nan)
        column[index[rows]] = parsed
        values[code] = column
        factor_column = np.ones(len(subjects))
        factor_column[index[rows]] = np.where(np.isnan(factor), 1.0, factor)
        factors[code] = factor_column
        unit_column = np.full(len(subjects), item.unit or "", dtype=object)
        unit_column[index[rows]] = row_units.to_numpy(dtype=object)
        units[code] = unit_column
    return CandidateBatch(np.asarray(subjects, dtype=object), subject_lines, values, factors, units, issues)


# --- screening ------------------------------------------------------------------------------------


def screen_batch(study: Study, batch: CandidateBatch) -> ScreenedBatch:
    """Derive missing derivable items, evaluate every criterion over the whole batch at once and
    combine the verdicts."""
    n = len(batch)
    batch.derived = derive_columns(study, batch.values, n)
    truths = {c.code: c.expression.truth_array(batch.values, n) for c in study.criteria}
    inclusion = [truths[c.code] for c in study.criteria if c.kind == "inclusion"]
    exclusion = [truths[c.code] for c in study.criteria if c.kind == "exclusion"]
    included = np.minimum.reduce(inclusion) if inclusion else np.full(n, Truth.TRUE, np.int8)
    excluded = np.maximum.reduce(exclusion) if exclusion else np.full(n, Truth.FALSE, np.int8)
    verdicts = np.full(n, _INCOMPLETE, dtype=np.int8)
    verdicts[(included == Truth.TRUE) & (excluded == Truth.FALSE)] = _ELIGIBLE
    verdicts[(included == Truth.FALSE) | (excluded == Truth.TRUE)] = _INELIGIBLE

    pathways = [c for c in study.criteria if c.kind == "pathway"]
    pathway_bits = np.zeros(n, dtype=np.int64)
    for bit, criterion in enumerate(pathways):
        pathway_bits |= (truths[criterion.code] == Truth.TRUE).astype(np.int64) << bit
    pathway_text = _label_bits(pathway_bits, [c.code for c in pathways])

    # Missing items that could change an incomplete verdict: missing, and read by an unknown criterion.
    deciding = [c for c in study.criteria if c.kind != "pathway"]
    item_codes = list(study.in_item_order({code for c in deciding for code in c.expression.item_codes}))
    missing_bits = np.zeros(n, dtype=np.int64)
    incomplete = verdicts == _INCOMPLETE
    if incomplete.any():
        unknown = {c.code: (truths[c.code] == Truth.UNKNOWN) & incomplete for c in deciding}
        for bit, code in enumerate(item_codes):
            column = batch.values.get(code)
            relevant = np.logical_or.reduce([unknown[c.code] for c in deciding if code in c.expression.item_codes])
            if column is not None:
                relevant &= np.isnan(column)
            missing_bits |= relevant.astype(np.int64) << bit
    return ScreenedBatch(batch, truths, verdicts, pathway_text, _label_bits(missing_bits, item_codes))


def _label_bits(bits: npt.NDArray[np.int64], names: list[str]) -> npt.NDArray[np.object_]:
    """Turn bit sets into ';'-joined names, building each distinct string once."""
    codes, unique = pd.factorize(bits)
    labels = np.array([";".join(name for b, name in enumerate(names) if int(u) >> b & 1) for u in unique], dtype=object)
    return labels[codes]


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
            entered = units.format_quantity(value / factor_i, unit_i) if item.is_numeric else display_value(item, value)
            values[code] = ItemValue(code, value, entered, display_value(item, value), item.is_numeric and unit_i != item.unit)
        truths = {code: Truth(int(array[i])) for code, array in screened.truths.items()}
        values = derive_items(study, values)  # only words why the rest could not be derived
        yield str(subject), build_screening_result(study, values, truths)


def detect_layout(header: Sequence[str]) -> str:
    """``long`` when the header is subject_id,item,value[,unit]; ``wide`` otherwise."""
    names = [h.strip() for h in header]
    if set(names) in ({"subject_id", "item", "value"}, set(LONG_COLUMNS)):
        return "long"
    return "wide"


Render = Callable[[Study, ScreenedBatch], list[str]]
"""Turns a screened batch into one output string per candidate (CSV line, JSON object)."""

BLOCK_BYTES = 8 << 20
"""Bytes of CSV text per block handed to a worker process (about 75,000 candidates)."""


@dataclass
class RenderedChunk:
    """A chunk of candidates screened and rendered, with what the caller needs to account for it.

    ``text`` is the candidates' renderings, UTF-8 encoded and joined by the separator, so that
    the parent process only writes bytes (no per-candidate objects cross the process boundary).
    """

    text: bytes
    subject_ids: npt.NDArray[np.object_]
    lines: npt.NDArray[np.int64]
    verdicts: npt.NDArray[np.int8]
    issues: list[InputIssue]
    rows_read: int


_WORKER_STATE: dict[str, Any] = {}
"""What a forked worker process needs; set in the parent just before the workers are forked."""


def _screen_block(block: bytes, first_line: int) -> RenderedChunk:
    """Worker: parse one block of a wide file, screen it and render each candidate."""
    state = _WORKER_STATE
    study: Study = state["study"]
    try:
        frame = pd.read_csv(io.BytesIO(block), header=None, names=state["raw_header"], **state["options"])
    except pd.errors.ParserError as exc:
        # pandas counts lines from the start of the block: make them lines of the file
        message = re.sub(r"line (\d+)", lambda m: f"line {first_line + int(m.group(1)) - 1}", str(exc).strip())
        raise InputError(state["name"], f"is not a usable CSV file: {message}") from None
    frame.columns = state["header"]
    batch = read_wide_chunk(state["plan"], frame, first_line, None)  # the parent checks across blocks
    screened = screen_batch(study, batch)
    text = state["separator"].join(state["render"](study, screened)).encode()
    return RenderedChunk(text, batch.subject_ids, batch.lines, screened.verdicts, batch.issues, len(frame))


def _blocks(handle: IO[bytes], block_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Cut a file (after its header line) into blocks of whole lines; yields (block, its first line).

    A cut never falls inside a quoted field: the number of quote characters before it is even.
    """
    line = 2
    carry = b""
    while True:
        data = handle.read(block_bytes)
        buffer = carry + data
        if not data:
            if buffer:
                yield buffer, line
            return
        cut = buffer.rfind(b"\n") + 1
        while cut > 0 and b'"' in buffer and buffer.count(b'"', 0, cut) % 2:
            cut = buffer.rfind(b"\n", 0, cut - 1) + 1
        if cut == 0:
            carry = buffer
            continue
        block, carry = buffer[:cut], buffer[cut:]
        yield block, line
        line += block.count(b"\n")


def screen_csv_rendered(
    study: Study,
    source: str | Path | IO[str],
    render: Render,
    separator: str = "\n",
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[RenderedChunk]:
    """Screen a candidates CSV and render every candidate, in parallel worker processes.

    A wide file on disk larger than one block is cut into blocks of whole lines that forked worker
    processes parse, screen and render; the results come back in file order, and duplicated
    subject ids across blocks are removed here. Anything else (long layout, an open stream, a
    small file, one CPU) is screened in this process by :func:`screen_csv`, with the same output.

    Args:
        study: the protocol.
        source: path or open text file.
        render: function turning a screened batch into one string per candidate; must be a
            module-level function (workers receive it by fork).
        separator: what goes between two candidates' strings; must not occur inside one.
        workers: worker processes (default: the number of CPUs).
        progress: called with the number of rows processed.
        block_bytes: size of the blocks handed to workers (a file no larger is screened here).

    Raises:
        InputError: the file is unusable.
    """
    workers = workers or os.cpu_count() or 1
    path = Path(source) if isinstance(source, str | Path) else None
    parallel = (
        path is not None
        and workers > 1
        and "fork" in mp.get_all_start_methods()
        and path.is_file()
        and path.stat().st_size > block_bytes
    )
    header = _read_header(source) if parallel else None
    if not parallel or header is None or detect_layout(header[1]) == "long":
        for screened, issues in screen_csv(study, source, progress=progress):
            batch = screened.batch
            text = separator.join(render(study, screened)).encode()
            yield RenderedChunk(text, batch.subject_ids, batch.lines, screened.verdicts, issues, len(batch))
        return
    assert path is not None
    raw_header, clean_header = header
    plan = plan_wide_columns(study, clean_header)
    _WORKER_STATE.update(
        study=study, plan=plan, raw_header=raw_header, header=clean_header, render=render, separator=separator, name=str(path),
        options={**_READ_OPTIONS, "dtype": _dtypes(plan, raw_header, clean_header)},
    )  # fmt: skip
    seen = SeenIds()
    first_issues = list(plan.issues)
    with path.open("rb") as handle, ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
        handle.readline()  # the header
        pending: deque[Future[RenderedChunk]] = deque()
        blocks = _blocks(handle, block_bytes)
        for block, line in blocks:
            pending.append(pool.submit(_screen_block, block, line))
            if len(pending) >= 2 * workers:
                yield _accept(pending.popleft().result(), seen, first_issues, separator, progress)
                first_issues = []
        while pending:
            yield _accept(pending.popleft().result(), seen, first_issues, separator, progress)
            first_issues = []
    if first_issues:
        empty = np.array([], dtype=object)
        yield RenderedChunk(b"", empty, np.array([], np.int64), np.array([], np.int8), first_issues, 0)


def _accept(
    chunk: RenderedChunk, seen: SeenIds, issues: list[InputIssue], separator: str, progress: Callable[[int], None] | None
) -> RenderedChunk:
    """Drop candidates whose id came in an earlier block; add the header issues to the first chunk."""
    duplicated = seen.duplicated(chunk.subject_ids, unique_within=True)
    chunk.issues = issues + chunk.issues
    if duplicated.any():
        for i in np.flatnonzero(duplicated):
            chunk.issues.append(InputIssue(int(chunk.lines[i]), ID_COLUMN, DUPLICATE_RULE, str(chunk.subject_ids[i])))
        keep = ~duplicated
        pieces = chunk.text.split(separator.encode())
        chunk.text = separator.encode().join(piece for piece, k in zip(pieces, keep.tolist(), strict=True) if k)
        chunk.subject_ids, chunk.lines, chunk.verdicts = chunk.subject_ids[keep], chunk.lines[keep], chunk.verdicts[keep]
    if progress:
        progress(chunk.rows_read)
    return chunk


def _read_header(source: str | Path | IO[str]) -> tuple[list[str], list[str]] | None:
    """The raw and the stripped column names, or None when the file has none (the caller reports it)."""
    try:
        raw = pd.read_csv(source, nrows=0).columns.tolist()
    except (OSError, UnicodeDecodeError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return None
    return raw, [h.strip() for h in raw]


def _dtypes(plan: WidePlan, raw_header: list[str], header: list[str]) -> dict[str, Any]:
    """Read the subject id as text and yes/no and choice columns straight into categories."""
    categorical = {c.header for c in plan.columns if c.item.type in ("boolean", "choice")}
    return {
        raw: ("category" if clean in categorical else str)
        for raw, clean in zip(raw_header, header, strict=True)
        if clean in categorical or clean == ID_COLUMN
    }


def _prefetch(chunks: Iterator[pd.DataFrame], depth: int = 2) -> Iterator[pd.DataFrame]:
    """Parse the next chunks in a background thread while the current one is screened.

    pandas' C parser releases the GIL while it tokenises, so on two cores parsing overlaps the
    screening. Exceptions raised while parsing are re-raised here, in order.
    """
    pending: queue.Queue[pd.DataFrame | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)

    def put(item: pd.DataFrame | BaseException | None) -> bool:
        """Queue an item unless the consumer has gone; tell whether it was queued."""
        while not stop.is_set():
            try:
                pending.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    worker = threading.Thread(target=produce, name="rodnan-csv-reader", daemon=True)
    worker.start()
    try:
        while (item := pending.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def screen_csv(
    study: Study,
    source: str | Path | IO[str],
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[ScreenedBatch, list[InputIssue]]]:
    """Screen a candidates CSV in chunks; yields each screened batch with its input issues.

    Args:
        study: the protocol.
        source: a path or an open text file.
        chunk_rows: rows per chunk (bounds memory for wide files).
        progress: called with the number of rows just processed.

    Raises:
        InputError: the file is unusable (unreadable, empty, no subject_id column, broken CSV).
    """
    read_options: dict[str, Any] = {**_READ_OPTIONS, "dtype": {ID_COLUMN: str}}
    name = str(source) if isinstance(source, str | Path) else getattr(source, "name", "<input>")
    try:
        header = pd.read_csv(source, nrows=0).columns.tolist()
        if not isinstance(source, str | Path):
            source.seek(0)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(name, f"cannot be read: {exc}") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise InputError(name, f"is not a usable CSV file: {exc}") from None
    raw_header, header = header, [h.strip() for h in header]
    try:
        if detect_layout(header) == "long":
            frame = pd.read_csv(source, **{**read_options, "dtype": str})
            frame.columns = header
            batch = read_long(study, frame)
            if progress:
                progress(len(frame))
            yield screen_batch(study, batch), batch.issues
            return
        plan = plan_wide_columns(study, header)
        dtypes = _dtypes(plan, raw_header, header)
        issues: list[InputIssue] = list(plan.issues)
        seen = SeenIds()
        line = 2
        chunks = pd.read_csv(source, chunksize=chunk_rows, **{**read_options, "dtype": dtypes})
        for chunk in _prefetch(chunks):
            chunk.columns = header
            batch = read_wide_chunk(plan, chunk, line, seen)
            line += len(chunk)
            if progress:
                progress(len(chunk))
            yield screen_batch(study, batch), issues + batch.issues
            issues = []
        if issues:
            yield screen_batch(study, CandidateBatch(np.array([], dtype=object), np.array([], dtype=np.int64), {})), issues
    except pd.errors.ParserError as exc:
        raise InputError(name, f"is not a usable CSV file: {exc}") from None
