"""Reading candidates' cells into batches: wide columns planned from the header, long rows grouped by
candidate; bad cells become :class:`InputIssue` and missing values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core.columns import check_column, parse_column
from rodnan.core.protocol.model import ItemDef, Study
from rodnan.core.values import unit_factor
from rodnan.errors import InputError

FloatArray = npt.NDArray[np.float64]
ID_COLUMN = "subject_id"
LONG_COLUMNS = ("subject_id", "item", "value", "unit")


ISSUE_KINDS = (
    "unknown item",
    "duplicated column",
    "unusable unit",
    "unreadable value",
    "outside the plausible range",
    "not a whole number",
    "empty subject id",
    "duplicated subject id",
    "duplicated value",
    "other",
)
"""The kinds of :class:`InputIssue`, in the order ``rodnan screen`` counts them."""

DUPLICATE_RULE = "duplicated candidate: this subject id came earlier in the file; the row is not screened"
_HEADER = re.compile(r"^\s*([A-Za-z0-9_]+)\s*(?:\[(.*)\])?\s*$")


@dataclass(frozen=True)
class InputIssue:
    """A problem with one cell, row or column of the input; the rest is still screened."""

    line: int | None
    column: str | None
    rule: str
    subject_id: str | None = None
    kind: str = "other"
    """What went wrong, in a few words, for the count of problems by kind (one of :data:`ISSUE_KINDS`)."""

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
            issues.append(
                InputIssue(1, name, f"{code!r} is not an item of the protocol; the column is ignored", kind="unknown item")
            )
            continue
        if code in seen:
            rule = f"item {code!r} already comes from column {seen[code]!r}; this column is ignored"
            issues.append(InputIssue(1, name, rule, kind="duplicated column"))
            continue
        unit = (match.group(2) or "").strip() or item.unit or ""
        try:
            factor = unit_factor(item, unit or None)
        except InputError as exc:
            issues.append(InputIssue(1, name, f"{exc.rule}; the column is ignored", kind="unusable unit"))
            continue
        seen[code] = name
        columns.append(ColumnPlan(name, item, unit, factor))
    return WidePlan(tuple(columns), tuple(issues))


def _cell_issues(
    mask: npt.NDArray[np.bool_],
    lines: npt.NDArray[np.int64],
    ids: npt.NDArray[np.object_],
    column: str,
    rule: str,
    raw: pd.Series | None,
) -> list[InputIssue]:
    issues = []
    kind = _kind(rule)
    for i in np.flatnonzero(mask):
        shown = "" if raw is None else f" (got {_plain(raw.iloc[i])!r})"
        issues.append(InputIssue(int(lines[i]), column, f"{rule}{shown}; treated as missing", _id(ids[i]), kind))
    return issues


def _plain(value: object) -> object:
    """A numpy scalar as the Python number it holds (its repr is ``-5``, not ``np.int64(-5)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _kind(rule: str) -> str:
    """The kind of a cell's problem, from the rules of :mod:`rodnan.core.columns`."""
    if rule.startswith("must be within the plausible range"):
        return "outside the plausible range"
    if rule.startswith("must be a whole number"):
        return "not a whole number"
    return "unreadable value"


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
            issues.append(
                InputIssue(int(lines[i]), ID_COLUMN, "the subject id is empty; the row is not screened", kind="empty subject id")
            )
    ids = raw.to_numpy(dtype=object)
    duplicated = np.zeros(len(frame), bool)
    present = ids[~no_id]
    duplicated[~no_id] = pd.Series(present, dtype=object).duplicated().to_numpy() if seen is None else seen.duplicated(present)
    for i in np.flatnonzero(duplicated):
        issues.append(InputIssue(int(lines[i]), ID_COLUMN, DUPLICATE_RULE, str(ids[i]), "duplicated subject id"))
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
        issues.append(
            InputIssue(int(lines[i]), ID_COLUMN, "the subject id is empty; the row is ignored", kind="empty subject id")
        )
    known = codes.isin(list(study.item_by_code)).to_numpy()
    for i in np.flatnonzero(usable & ~known):
        issues.append(
            InputIssue(
                int(lines[i]),
                "item",
                f"{codes.iloc[i]!r} is not an item of the protocol; the row is ignored",
                str(ids.iloc[i]),
                "unknown item",
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
                "duplicated value",
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
                    rule = f"{exc.rule}; the value is ignored"
                    issues.append(InputIssue(int(lines[i]), "unit", rule, str(ids.iloc[i]), "unusable unit"))
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


def detect_layout(header: Sequence[str]) -> str:
    """``long`` when the header is subject_id,item,value[,unit]; ``wide`` otherwise."""
    names = [h.strip() for h in header]
    if set(names) in ({"subject_id", "item", "value"}, set(LONG_COLUMNS)):
        return "long"
    return "wide"
