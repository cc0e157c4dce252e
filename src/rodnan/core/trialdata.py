"""The trial data contract: a trial's subjects, item values and adverse events, as endpoints and analysis read them.

It sits below both :mod:`rodnan.core.endpoints` and :mod:`rodnan.core.analysis` (decision 0009).

Two providers fill it: :func:`read_trial_dir` reads the CSV files ``rodnan simulate`` writes, and the
web application (an adapter written later against this contract) builds the same frames from its
database and passes them through :func:`from_frames`. Both go through the same checks, so every
derivation downstream sees values in the protocol's units and dates as dates.

The contract (columns in this order; extra columns are kept and ignored):

``subjects``: one row per subject, ``subject_id`` unique.

==================== ============ ==============================================================
column               type         meaning
==================== ============ ==============================================================
subject_id           str          the subject's code in the trial (never empty, unique)
site                 str          site code (``identity.sites[].code`` of the protocol)
status               str          a :class:`~rodnan.core.lifecycle.SubjectStatus` value: screening,
                                  screen_failed, consented, enrolled, in_follow_up, completed,
                                  withdrawn, died, lost_to_follow_up
screening_date       date         optional
consent_date         date         optional (informed consent)
enrolment_date       date         optional; a subject with one is in the intention-to-treat set
infusion_date        date         the MSC infusion (day 0); empty if not infused
end_date             date         when follow-up ended: last visit (completed), withdrawal date,
                                  death date, or the date the subject was declared lost; empty
                                  while in follow-up
death_date           date         optional; when empty and status is died, ``end_date`` is used
end_reason           str          optional free text
pathway              str          optional: the qualifying pathway the subject was enrolled by
sex, age             str, int     optional: taken from the baseline items ``sex``/``age`` if absent
infusion_weight_kg   float        optional: body weight on the day of infusion
cells_administered   float        optional: total viable cells infused
cells_per_kg         float        optional: dose per kg (else cells_administered / infusion_weight_kg)
==================== ============ ==============================================================

``values``: one row per item value (long), at most one per subject, visit and item.

==================== ============ ==============================================================
subject_id           str          a subject of ``subjects``
visit                str          a visit code of the schedule (SCR, D0, M1 ...); any other code is
                                  an unscheduled assessment (e.g. a repeat lung function test)
item                 str          an item code of the protocol
value                float        numbers in the item's own unit, yes/no as 1.0/0.0, choices as the
                                  0-based index of the choice in the protocol (the expression
                                  language's encoding); NaN for text and date items
text                 str          the choice code of a choice item, the text of a text item, the
                                  ISO date of a date item; "" otherwise
unit                 str          the item's unit ("" for items without one)
date                 datetime64   date of the assessment
derived              bool         True for a value computed here by the protocol's derived items
==================== ============ ==============================================================

As entered (the input of :func:`from_frames` and ``values.csv``), the columns are subject_id, visit,
item, value, unit, date: ``value`` is text or a number in ``unit`` (empty: the item's unit), yes/no
as true/false (or 1/0), a choice as its code. It is converted to the item's unit here with the
protocol's unit rules (:mod:`rodnan.core.values`) and checked against the item's plausible range;
empty values are missing and dropped; ``text`` and ``derived`` are added here. A provider gives
measured values; derived items (HAQ-DI, SF-36 scores, % predicted ...) are added where missing.

``adverse_events``: one row per adverse event: ``subject_id``, ``term`` (CTCAE/MedDRA term as
reported), ``onset_date`` (date), and optionally ``end_date``, ``grade``, ``serious``, ``related``,
``outcome``, ``meddra_code``, ``soc``, ``ae_number``.

A problem is an :class:`~rodnan.errors.InputError` whose field names the file (or frame), the line
and the column, and whose rule says what is wrong; reading stops at the first bad row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core import textfile
from rodnan.core.columns import check_column
from rodnan.core.derivation import derive_columns
from rodnan.core.lifecycle import SubjectStatus
from rodnan.core.protocol.model import Study
from rodnan.core.values import BOOLEAN_WORDS, unit_factor
from rodnan.errors import InputError

SUBJECT_COLUMNS = ("subject_id", "site", "status", "infusion_date", "end_date")
"""Columns every provider must give in ``subjects``."""
SUBJECT_DATES = ("screening_date", "consent_date", "enrolment_date", "infusion_date", "end_date", "death_date")
SUBJECT_NUMBERS = ("age", "infusion_weight_kg", "cells_administered", "cells_per_kg")
VALUE_COLUMNS = ("subject_id", "visit", "item", "value", "unit", "date")
"""Columns of ``values`` as entered (``unit`` may be empty: the item's own unit)."""
AE_COLUMNS = ("subject_id", "term", "onset_date")
AE_DATES = ("onset_date", "end_date")
STATUSES = frozenset(s.value for s in SubjectStatus)
_BOOLEAN_WORDS = {**BOOLEAN_WORDS, "1.0": 1.0, "0.0": 0.0}
_FILES = {"subjects": "subjects.csv", "values": "values.csv", "adverse_events": "adverse_events.csv"}


@dataclass(frozen=True, eq=False)
class TrialData:
    """A trial's data, checked and normalised (see the module docstring for every column).

    Attributes:
        study: the protocol the data were collected under.
        subjects: one row per subject.
        values: the long table of item values, in the items' units.
        adverse_events: one row per adverse event.
        source: where the data came from (a directory, "database", ...).
    """

    study: Study
    subjects: pd.DataFrame
    values: pd.DataFrame
    adverse_events: pd.DataFrame
    source: str


def read_trial_dir(path: str | Path, study: Study, items: Iterable[str] | None = None, derive: bool = True) -> TrialData:
    """Read a directory written by ``rodnan simulate`` (subjects.csv, values.csv, adverse_events.csv).

    Args:
        path: the directory.
        study: the protocol the data follow.
        items: read only these items' values (all when None); saves memory and time on large cohorts.
        derive: add the protocol's derived items where a visit lacks them (:func:`derive_values`).

    Raises:
        InputError: a file is missing, is not UTF-8 or not CSV, a column is missing, or a row breaks a rule;
            the field names the file, the line and the column.
    """
    folder = Path(path)
    frames: dict[str, pd.DataFrame] = {}
    for name, file in _FILES.items():
        target = folder / file
        if not target.is_file():
            if name == "adverse_events":
                frames[name] = pd.DataFrame(columns=list(AE_COLUMNS))
                continue
            raise InputError(str(target), "the file is missing (expected the output of rodnan simulate)")
        dtype: Any = str
        if name == "values":
            dtype = dict.fromkeys(("subject_id", "visit", "item", "unit", "date"), "category") | {"value": str}
        try:
            frames[name] = pd.read_csv(target, dtype=dtype, keep_default_na=False, na_values=[])
        except UnicodeDecodeError:
            textfile.check_utf8_file(target)  # names the line and column of the first bad byte
            raise InputError(str(target), textfile.NOT_UTF8) from None
        except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
            raise InputError(str(target), f"is not a usable CSV file: {str(exc).strip()}") from None
    values = frames["values"]
    if items is not None and "item" in values:
        values = values[values["item"].isin(list(items))]
    return _build(
        study,
        frames["subjects"],
        values,
        frames["adverse_events"],
        str(folder),
        {name: str(folder / file) for name, file in _FILES.items()},
        derive,
    )


def from_frames(
    study: Study,
    subjects: pd.DataFrame,
    values: pd.DataFrame,
    adverse_events: pd.DataFrame | None = None,
    source: str = "frames",
    derive: bool = True,
) -> TrialData:
    """Check and normalise frames given in the contract's layout (as entered; see the module docstring).

    ``derive`` adds the protocol's derived items where a visit lacks them (:func:`derive_values`); a
    provider that stores them already can skip it. Line numbers in errors count the header as line 1,
    so row ``i`` (0-based) is line ``i + 2``, as in a CSV file of the frame.

    Raises:
        InputError: naming the frame, the line and the column, and the rule broken.
    """
    events = adverse_events if adverse_events is not None else pd.DataFrame(columns=list(AE_COLUMNS))
    return _build(study, subjects, values, events, source, {name: name for name in _FILES}, derive)


def _build(
    study: Study,
    subjects: pd.DataFrame,
    values: pd.DataFrame,
    events: pd.DataFrame,
    source: str,
    names: dict[str, str],
    derive: bool,
) -> TrialData:
    subjects = _subjects(subjects.reset_index(drop=True), names["subjects"])
    known = pd.Index(subjects["subject_id"])
    checked = _values(study, values.reset_index(drop=True), known, names["values"])
    return TrialData(
        study=study,
        subjects=subjects,
        values=derive_values(study, checked) if derive else checked.assign(derived=False),
        adverse_events=_adverse_events(events.reset_index(drop=True), known, names["adverse_events"]),
        source=source,
    )


def derive_values(study: Study, values: pd.DataFrame) -> pd.DataFrame:
    """Add the protocol's derived items (HAQ-DI, SF-36 scores, % predicted ...) where a visit lacks them.

    The derivations of :mod:`rodnan.core.derivation` run on each subject's visit (a measured value
    always wins); the derived values are appended with ``derived`` True, dated by the visit's earliest
    date. Rows given already carry ``derived`` False.
    """
    values = values.assign(derived=False)
    targets = {code for definition in study.derived_items for code in definition.outputs.values()}
    numeric = values[~values["item"].isin([i.code for i in study.items if i.type in ("text", "date", "file")])]
    if numeric.empty or not targets:
        return values
    codes, visit_subjects, visit_codes = group_visits(numeric["subject_id"], numeric["visit"])
    n = len(visit_subjects)
    value_column = numeric["value"].to_numpy(dtype=np.float64)
    columns: dict[str, npt.NDArray[np.float64]] = {}
    for found_item, chosen in rows_by_item(numeric["item"].astype(object).to_numpy()).items():
        column = np.full(n, np.nan)
        column[codes[chosen]] = value_column[chosen]
        columns[found_item] = column
    derived = derive_columns(study, columns, n)
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, codes, numeric["date"].to_numpy().astype("datetime64[ns]").astype(np.int64))
    parts = [values]
    for code in study.in_item_order(c for c, mask in derived.items() if mask.any()):
        rows = np.flatnonzero(derived[code])
        item = study.item_by_code[code]
        parts.append(
            pd.DataFrame(
                {
                    "subject_id": visit_subjects[rows],
                    "visit": visit_codes[rows],
                    "item": code,
                    "value": columns[code][rows],
                    "text": "",
                    "unit": item.unit or "",
                    "date": first[rows].astype("datetime64[ns]"),
                    "derived": True,
                }
            )
        )
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else values
    for name in ("subject_id", "visit", "item", "unit"):
        out[name] = out[name].astype(object).astype("category")
    return out


def group_visits(
    subject_ids: pd.Series, visits: pd.Series
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_], npt.NDArray[np.object_]]:
    """Number the distinct (subject, visit) pairs: the pair of each row, and each pair's subject and visit.

    Works on the integer codes of the two columns (no tuples are built), so it stays fast for millions of rows.
    """
    subject_codes, subject_names = pd.factorize(subject_ids, use_na_sentinel=False)
    visit_codes, visit_names = pd.factorize(visits, use_na_sentinel=False)
    combined = subject_codes.astype(np.int64) * max(len(visit_names), 1) + visit_codes
    pairs, codes = np.unique(combined, return_inverse=True)
    width = max(len(visit_names), 1)
    subjects_of = np.asarray(subject_names, dtype=object)[pairs // width]
    visits_of = np.asarray(visit_names, dtype=object)[pairs % width]
    return codes.reshape(-1).astype(np.int64), subjects_of, visits_of


def rows_by_item(items: npt.NDArray[np.object_]) -> dict[str, npt.NDArray[np.int64]]:
    """Row positions of each distinct item code (one sort, not one comparison per item)."""
    index, codes = pd.factorize(items)
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(len(codes) + 1))
    return {str(code): order[bounds[k] : bounds[k + 1]] for k, code in enumerate(codes)}


def _fail(name: str, line: int | None, column: str | None, rule: str, value: object = None) -> InputError:
    where = name if line is None else f"{name} line {line}"
    if column is not None:
        where += f", column {column!r}"
    return InputError(where, rule, value)


def _require(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise _fail(name, 1, None, f"the header lacks the column(s) {', '.join(missing)}", ",".join(map(str, frame.columns)))


def _text(column: pd.Series) -> pd.Series:
    """Cells as stripped strings, missing as "" (object dtype); categories are stripped once each."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    stripped = np.array([str(u).strip() for u in uniques] + [""], dtype=object)
    return pd.Series(stripped[codes], index=column.index, dtype=object)


def _dates(frame: pd.DataFrame, column: str, name: str) -> pd.Series:
    """ISO dates (or dates, datetimes) to datetime64[ns]; empty cells are NaT. Each distinct text is parsed once."""
    raw = frame[column]
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return raw.astype("datetime64[ns]")
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    texts = pd.Index([str(u).strip() for u in uniques], dtype=object)
    parsed = pd.to_datetime(texts.where(texts != "", None), format="ISO8601", errors="coerce")
    bad = np.flatnonzero(parsed.isna() & (texts != ""))
    if len(bad):
        row = int(np.flatnonzero(codes == bad[0])[0])
        raise _fail(name, row + 2, column, "must be a date (YYYY-MM-DD)", raw.iloc[row])
    stamps = np.append(parsed.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns"))
    return pd.Series(stamps[codes], index=frame.index, dtype="datetime64[ns]")


def _subjects(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    _require(frame, SUBJECT_COLUMNS, name)
    out = frame.copy()
    for column in ("subject_id", "site", "status"):
        out[column] = _text(frame[column])
    empty = (out["subject_id"] == "").to_numpy()
    if empty.any():
        raise _fail(name, int(np.flatnonzero(empty)[0]) + 2, "subject_id", "the subject id is empty")
    duplicated = out["subject_id"].duplicated().to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise _fail(name, row + 2, "subject_id", "the subject id occurs more than once", out["subject_id"].iloc[row])
    unknown = ~out["status"].isin(STATUSES).to_numpy()
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise _fail(
            name, row + 2, "status", f"must be one of {', '.join(s.value for s in SubjectStatus)}", out["status"].iloc[row]
        )
    for column in SUBJECT_DATES:
        out[column] = _dates(out, column, name) if column in out else pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    died = (out["status"] == SubjectStatus.DIED.value) & out["death_date"].isna()
    out.loc[died, "death_date"] = out.loc[died, "end_date"]
    for column in SUBJECT_NUMBERS:
        if column not in out:
            continue
        raw = _text(frame[column])
        number = pd.to_numeric(raw.replace("", None), errors="coerce")
        bad = number.isna().to_numpy() & (raw != "").to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise _fail(name, row + 2, column, "must be a number", frame[column].iloc[row])
        out[column] = number.astype(np.float64)
    for column in ("pathway", "sex", "end_reason"):
        if column in out:
            out[column] = _text(frame[column])
    return out


def _values(study: Study, frame: pd.DataFrame, subjects: pd.Index, name: str) -> pd.DataFrame:
    _require(frame, [c for c in VALUE_COLUMNS if c != "unit"], name)
    n = len(frame)
    lines = np.arange(2, n + 2)
    ids = _text(frame["subject_id"])
    visits = _text(frame["visit"])
    codes = _text(frame["item"])
    units = _text(frame["unit"]) if "unit" in frame else pd.Series("", index=frame.index, dtype=object)
    raw = frame["value"]
    raw_text = _text(raw) if not pd.api.types.is_numeric_dtype(raw.dtype) else None
    for column, cells in (("subject_id", ids), ("visit", visits)):
        empty = (cells == "").to_numpy()
        if empty.any():
            raise _fail(name, int(lines[empty][0]), column, "must not be empty")
    strange = ~ids.isin(subjects).to_numpy()
    if strange.any():
        row = int(np.flatnonzero(strange)[0])
        raise _fail(name, row + 2, "subject_id", "is not a subject of the subjects table", ids.iloc[row])
    unknown = ~codes.isin(list(study.item_by_code)).to_numpy()
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise _fail(name, row + 2, "item", "is not an item of the protocol", codes.iloc[row])
    dates = _dates(frame, "date", name)
    if dates.isna().any():
        raise _fail(name, int(lines[dates.isna().to_numpy()][0]), "date", "must not be empty")
    missing = raw.isna().to_numpy() if raw_text is None else (raw_text == "").to_numpy()
    # the items only log forms collect (a pregnancy test) are records of their own, not visit values: a file may carry
    # them at a visit (the simulator does, for the import), the contract leaves them out as the web's value rows do
    scheduled = {code for form in study.scheduled_forms for code in form.items}
    logged = [code for form in study.log_forms for code in form.items if code not in scheduled]
    keep = ~missing & ~codes.isin(logged).to_numpy()
    duplicated = pd.DataFrame({"s": ids, "v": visits, "i": codes})[keep].duplicated().to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(keep)[np.flatnonzero(duplicated)[0]])
        raise _fail(
            name, row + 2, "item", f"is given twice for subject {ids.iloc[row]} at visit {visits.iloc[row]}", codes.iloc[row]
        )

    value = np.full(n, np.nan)
    text = np.full(n, "", dtype=object)
    unit_out = np.full(n, "", dtype=object)
    kept = np.flatnonzero(keep)
    for code, positions in rows_by_item(codes.to_numpy(dtype=object)[keep]).items():
        item = study.item_by_code[code]
        rows = kept[positions]
        cells = raw.iloc[rows] if raw_text is None else raw_text.iloc[rows]
        unit_out[rows] = item.unit or ""
        if item.type in ("text", "date", "file"):  # a file item's text: the attached file's name
            text[rows] = cells.astype(str).to_numpy(dtype=object)
            continue
        if item.type == "boolean":
            parsed, rule = _words(cells, _BOOLEAN_WORDS), "must be yes/no (true/false, yes/no or 1/0)"
            flags_units = units.iloc[rows].to_numpy(dtype=object)
            with_unit = flags_units != ""
            if with_unit.any():
                raise _fail(name, int(rows[with_unit][0]) + 2, "unit", "a yes/no item takes no unit", flags_units[with_unit][0])
        elif item.type == "choice":
            choices = [c.code for c in item.choices]
            parsed, rule = _words(cells, {c: float(i) for i, c in enumerate(choices)}), f"must be one of {', '.join(choices)}"
            text[rows] = np.array([*choices, ""], dtype=object)[np.nan_to_num(parsed, nan=-1).astype(int)]
        else:
            parsed = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            rule = "must be a number"
            factors = np.ones(len(rows))
            entered_units = units.iloc[rows].to_numpy(dtype=object)
            for unit in pd.unique(entered_units):
                if unit in ("", item.unit):
                    continue
                chosen = entered_units == unit
                try:
                    factors[chosen] = unit_factor(item, str(unit))
                except InputError as exc:
                    raise _fail(name, int(rows[chosen][0]) + 2, "unit", exc.rule, unit) from None
            parsed = parsed * factors
        bad = np.isnan(parsed)
        if bad.any():
            row = int(rows[bad][0])
            raise _fail(name, row + 2, "value", f"{code}: {rule}", cells.iloc[int(np.flatnonzero(bad)[0])])
        for mask, range_rule in check_column(item, parsed):
            row = int(rows[mask][0])
            raise _fail(name, row + 2, "value", f"{code}: {range_rule}", cells.iloc[int(np.flatnonzero(mask)[0])])
        value[rows] = parsed
    out = pd.DataFrame(
        {
            "subject_id": ids.to_numpy(dtype=object)[keep],
            "visit": visits.to_numpy(dtype=object)[keep],
            "item": codes.to_numpy(dtype=object)[keep],
            "value": value[keep],
            "text": text[keep],
            "unit": unit_out[keep],
            "date": dates.to_numpy()[keep],
        }
    )
    for column in ("subject_id", "visit", "item", "unit"):
        out[column] = out[column].astype("category")
    return out


def _words(cells: pd.Series, words: dict[str, float]) -> npt.NDArray[np.float64]:
    """Text cells mapped through ``words`` (case and spaces ignored); NaN for anything else."""
    codes, uniques = pd.factorize(cells.astype(str), use_na_sentinel=True)
    mapped = np.array([words.get(str(u).strip().lower(), np.nan) for u in uniques] + [np.nan], dtype=np.float64)
    result: npt.NDArray[np.float64] = mapped[codes]
    return result


def _adverse_events(frame: pd.DataFrame, subjects: pd.Index, name: str) -> pd.DataFrame:
    _require(frame, AE_COLUMNS, name)
    out = frame.copy()
    out["subject_id"] = _text(frame["subject_id"])
    out["term"] = _text(frame["term"])
    strange = ~out["subject_id"].isin(subjects).to_numpy()
    if strange.any():
        row = int(np.flatnonzero(strange)[0])
        raise _fail(name, row + 2, "subject_id", "is not a subject of the subjects table", out["subject_id"].iloc[row])
    for column in AE_DATES:
        if column in out:
            out[column] = _dates(out, column, name)
    if out["onset_date"].isna().any():
        raise _fail(name, int(np.flatnonzero(out["onset_date"].isna().to_numpy())[0]) + 2, "onset_date", "must not be empty")
    return out
