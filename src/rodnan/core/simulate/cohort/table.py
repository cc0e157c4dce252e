"""The simulated cohort as held in memory: the compact long table of item values, and its text as
``rodnan simulate`` writes it (``values.csv``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core.protocol.model import Study
from rodnan.core.simulate.params import SimulationParams

FloatArray = npt.NDArray[np.floating[Any]]  # numpy's stubs type np.round() results loosely
BoolArray = npt.NDArray[np.bool_]


VALUE_COLUMNS = ("subject_id", "visit", "item", "value", "unit", "date")


@dataclass
class ValueTable:
    """The long table of item values, held compactly (indices into the code lists, floats, day numbers).

    Numbers are in the unit ``units[unit]``; yes/no are 1.0/0.0; choices are the index of the choice.
    Text and date items are in ``texts`` (subject, visit, item, text, day).
    """

    subject: list[npt.NDArray[np.int32]] = field(default_factory=list)
    visit: list[npt.NDArray[np.int16]] = field(default_factory=list)
    item: list[npt.NDArray[np.int16]] = field(default_factory=list)
    value: list[FloatArray] = field(default_factory=list)
    unit: list[npt.NDArray[np.int16]] = field(default_factory=list)
    day: list[npt.NDArray[np.int32]] = field(default_factory=list)
    texts: list[tuple[int, int, int, str, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(v) for v in self.value) + len(self.texts)


@dataclass
class SimulatedCohort:
    """A simulated cohort: subjects, their item values per visit, their adverse events."""

    study: Study
    params: SimulationParams
    seed: int
    subjects: pd.DataFrame
    values: ValueTable
    adverse_events: pd.DataFrame
    visit_codes: tuple[str, ...]
    item_codes: tuple[str, ...]
    unit_codes: tuple[str, ...]
    _cache: dict[str, npt.NDArray[Any]] | None = field(default=None, repr=False)
    _decimals: dict[int, int] | None = field(default=None, repr=False)

    def values_frame(self, first: int = 0, stop: int | None = None, subjects: Sequence[int] | None = None) -> pd.DataFrame:
        """The item values of subjects ``first`` to ``stop - 1`` (or of the subjects at the positions
        ``subjects``) as a long table: subject_id, visit, item, value (text), unit, date; ordered by
        subject, visit and item."""
        return pd.DataFrame({name: column.astype(object) for name, column in self._rows(first, stop, subjects).items()})

    def value_columns(
        self, first: int = 0, stop: int | None = None, subjects: Sequence[int] | None = None
    ) -> dict[str, list[str]]:
        """The columns of :meth:`values_frame` as lists of strings (no table built: the bulk import reads them row by row)."""
        return {name: column.tolist() for name, column in self._rows(first, stop, subjects).items()}

    def values_csv(self, first: int = 0, stop: int | None = None, header: bool = True) -> str:
        """The same rows as :meth:`values_frame` as CSV text, built with numpy string operations
        (no field needs quoting: codes, units, numbers, ISO dates and lot codes hold no comma)."""
        rows = self._rows(first, stop)
        columns = [rows[name].tolist() for name in VALUE_COLUMNS]
        head = ",".join(VALUE_COLUMNS) + "\n" if header else ""
        body = "\n".join(map(",".join, zip(*columns, strict=True)))  # str.join runs in C for each line
        return head + body + ("\n" if body else "")

    def _rows(self, first: int, stop: int | None, subjects: Sequence[int] | None = None) -> dict[str, npt.NDArray[np.str_]]:
        arrays = self._arrays()
        stop = len(self.subjects) if stop is None else stop
        if subjects is not None:
            wanted = np.asarray(subjects, dtype=np.int32)
            chosen_mask = np.zeros(len(self.subjects), dtype=bool)
            chosen_mask[wanted] = True
            rows = chosen_mask[arrays["subject"]]  # a gather: quicker than np.isin on millions of rows
            first, stop = (int(wanted.min()), int(wanted.max()) + 1) if len(wanted) else (0, 0)
            chosen = set(wanted.tolist())
        else:
            rows = (arrays["subject"] >= first) & (arrays["subject"] < stop)
            chosen = None
        subject, visit, item = arrays["subject"][rows], arrays["visit"][rows], arrays["item"][rows]
        value, unit, day = arrays["value"][rows], arrays["unit"][rows], arrays["day"][rows]
        text = _format_values(self.study, self.item_codes, item, value, self._item_decimals())
        texts = [t for t in self.values.texts if first <= t[0] < stop and (chosen is None or t[0] in chosen)]
        if texts:
            extra = np.array(texts, dtype=object)
            subject = np.concatenate([subject, extra[:, 0].astype(np.int32)])
            visit = np.concatenate([visit, extra[:, 1].astype(np.int16)])
            item = np.concatenate([item, extra[:, 2].astype(np.int16)])
            text = np.concatenate([text, extra[:, 3]])
            unit = np.concatenate([unit, np.zeros(len(extra), np.int16)])
            day = np.concatenate([day, extra[:, 4].astype(np.int32)])
        order = np.lexsort((item, visit, subject))
        days, position = np.unique(day[order], return_inverse=True)
        dates = np.asarray(pd.to_datetime(days, unit="D").strftime("%Y-%m-%d"), dtype=str)[position.reshape(-1)]
        return {
            "subject_id": self.subjects["subject_id"].to_numpy(dtype=str)[subject[order]],
            "visit": np.array(self.visit_codes, dtype=str)[visit[order]],
            "item": np.array(self.item_codes, dtype=str)[item[order]],
            "value": text[order].astype(str),
            "unit": np.array(self.unit_codes, dtype=str)[unit[order]],
            "date": dates,
        }

    def _item_decimals(self) -> dict[int, int]:
        """Per numeric item (by index): the decimals its values are written with, chosen over the whole
        cohort, so a part of the table (a batch of subjects) writes each value as the whole table does."""
        if self._decimals is None:
            arrays = self._arrays()
            item, value = arrays["item"], arrays["value"]
            self._decimals = {
                int(index): number_decimals(value[item == index])
                for index in np.unique(item)
                if self.study.item_by_code[self.item_codes[index]].type not in ("boolean", "choice")
            }
        return self._decimals

    def _arrays(self) -> dict[str, npt.NDArray[Any]]:
        if self._cache is None:
            table = self.values
            self._cache = {
                name: (np.concatenate(getattr(table, name)) if getattr(table, name) else np.array([], dtype=dtype))
                for name, dtype in (("subject", np.int32), ("visit", np.int16), ("item", np.int16), ("value", np.float64),
                                    ("unit", np.int16), ("day", np.int32))
            }  # fmt: skip
        return self._cache


def _format_values(
    study: Study, item_codes: tuple[str, ...], item: npt.NDArray[np.int16], value: FloatArray, decimals: dict[int, int]
) -> npt.NDArray[np.object_]:
    """Values as text, formatted per item (yes/no as true/false, choice codes, numbers with ``decimals[item]``
    decimals, or the fewest that show every value given of the item exactly)."""
    out = np.empty(len(value), dtype=object)
    for index in np.unique(item):
        definition = study.item_by_code[item_codes[index]]
        rows = item == index
        values = value[rows]
        if definition.type == "boolean":
            out[rows] = np.where(values == 1.0, "true", "false")
        elif definition.type == "choice":
            out[rows] = np.array([c.code for c in definition.choices], dtype=object)[values.astype(int)]
        else:
            out[rows] = format_numbers(values, decimals.get(int(index))).astype(object)
    return out


def number_decimals(values: FloatArray) -> int:
    """The fewest decimals (0 to 4) that show every one of ``values`` (rounded to at most 4 decimals) exactly."""
    return next((d for d in range(5) if np.all(np.abs(values * 10**d - np.round(values * 10**d)) < 1e-6)), 4)


def format_numbers(values: FloatArray, decimals: int | None = None) -> npt.NDArray[np.str_]:
    """Decimal text of numbers already rounded to at most 4 decimals, with one number of decimals for
    the whole array (``decimals``, or the fewest that show every value exactly); integer arithmetic, no
    float repr."""
    decimals = number_decimals(values) if decimals is None else decimals
    scaled = np.round(values * 10**decimals).astype(np.int64)
    magnitude = np.abs(scaled)
    text = (magnitude // 10**decimals).astype(str)
    if decimals:
        fraction = np.strings.zfill((magnitude % 10**decimals).astype(str), decimals)
        text = np.strings.add(np.strings.add(text, "."), fraction)
    return np.where(scaled < 0, np.strings.add("-", text), text)
