"""Baseline values and post-baseline assessments, the material every endpoint rule is evaluated on.

* **Baseline** of an item: its last value dated on or before the subject's infusion date (day 0;
  values taken on the infusion day are pre-infusion). A subject never infused has as baseline the last
  value on or before the enrolment date, or the last value at all.
* **Assessment**: one subject at one visit after the infusion date (scheduled or not), dated by the
  earliest date among the visit's values. An unscheduled visit (a code the schedule does not have,
  e.g. a repeat lung function test) is an assessment of its own.

Every item an expression reads is a float column over the assessments (NaN = missing); its
``_base``/``_chg``/``_pchg`` variables are computed from the baseline (``_pchg`` is unknown when the
baseline is 0).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core.endpoints.rules import split_variable
from rodnan.core.protocol.model import Study
from rodnan.core.trialdata import group_visits, rows_by_item

FloatArray = npt.NDArray[np.float64]


def visit_months(study: Study) -> dict[str, float]:
    """The month of every scheduled visit: n for the generated visits Mn, day / days-per-month (2 decimals) for the others."""
    fixed = {v.code for v in study.schedule.visits}
    per_month = study.schedule.days_per_month
    return {
        v.code: round(v.day / per_month, 2) if v.code in fixed else float(round(v.day / per_month))
        for v in study.schedule.all_visits
    }


def follow_up_horizon_days(study: Study) -> int:
    """Days from the infusion to the end of the last scheduled visit's window: the end of protocol follow-up."""
    last = study.schedule.all_visits[-1]
    return last.day + last.window_after


def reference_dates(subjects: pd.DataFrame) -> pd.Series:
    """Per subject (index subject_id): the date baseline is taken on or before (infusion, else enrolment; NaT: none)."""
    reference = subjects["infusion_date"]
    if "enrolment_date" in subjects:
        reference = reference.fillna(subjects["enrolment_date"])
    return pd.Series(reference.to_numpy(), index=pd.Index(subjects["subject_id"], name="subject_id"), name="reference_date")


def derive_baseline(values: pd.DataFrame, subjects: pd.DataFrame) -> pd.DataFrame:
    """The baseline record of every subject and item: subject_id, item, value, text, visit, date.

    The last value dated on or before the reference date (:func:`reference_dates`); values on the
    same date keep the order of the input (the later row wins).
    """
    reference = reference_dates(subjects)
    limit = reference.reindex(values["subject_id"].astype(object)).to_numpy()
    dates = values["date"].to_numpy()
    before = np.isnat(limit) | (dates <= limit)
    rows = values.loc[before, ["subject_id", "item", "value", "text", "visit", "date"]]
    rows = rows.assign(_order=np.arange(len(rows))).sort_values(["date", "_order"], kind="stable")
    last = rows.drop_duplicates(["subject_id", "item"], keep="last").drop(columns="_order")
    for column in ("subject_id", "item", "visit"):
        last[column] = last[column].astype(object)
    return last.sort_values(["subject_id", "item"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class Assessments:
    """Post-baseline assessments with the values of the items the endpoints read.

    Attributes:
        rows: one row per assessment, sorted by subject and date: subject_id, visit, date, start_date
            (the infusion date), day (days since infusion), month (the scheduled month, NaN when
            unscheduled).
        values: item code -> float column aligned with ``rows``.
        baseline: item code -> the subject's baseline, aligned with ``rows``.
    """

    rows: pd.DataFrame
    values: dict[str, FloatArray]
    baseline: dict[str, FloatArray]

    def __len__(self) -> int:
        return len(self.rows)

    def columns(self, study: Study, names: Iterable[str]) -> dict[str, FloatArray]:
        """The named variables (items and ``_base``/``_chg``/``_pchg``) as columns for expression evaluation."""
        out: dict[str, FloatArray] = {}
        n = len(self.rows)
        for name in names:
            item, kind = split_variable(study, name)
            value = self.values.get(item, np.full(n, np.nan))
            base = self.baseline.get(item, np.full(n, np.nan))
            if kind == "value":
                out[name] = value
            elif kind == "base":
                out[name] = base
            elif kind == "chg":
                out[name] = value - base
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    out[name] = np.where(base != 0, 100.0 * (value - base) / base, np.nan)
        return out


def baseline_columns(baseline: pd.DataFrame, subject_ids: pd.Index, items: Iterable[str]) -> dict[str, FloatArray]:
    """Baseline values as float columns aligned with ``subject_ids`` (NaN where none)."""
    wanted = list(items)
    rows = baseline[baseline["item"].isin(wanted)]
    wide = rows.pivot(index="subject_id", columns="item", values="value").reindex(index=subject_ids, columns=wanted)
    return {code: wide[code].to_numpy(dtype=np.float64, na_value=np.nan) for code in wanted}


def derive_assessments(
    study: Study, values: pd.DataFrame, subjects: pd.DataFrame, baseline: pd.DataFrame, items: Iterable[str]
) -> Assessments:
    """The post-baseline assessments of infused subjects, with the values of ``items``.

    A visit belongs to the assessments when any of its values (of any item) is dated after the
    infusion date; its date is the earliest such date.
    """
    wanted = sorted(set(items))
    start = subjects.set_index("subject_id")["infusion_date"]
    start = start[start.notna()]
    limit = start.reindex(values["subject_id"].astype(object)).to_numpy()
    dates = values["date"].to_numpy()
    after = ~np.isnat(limit) & (dates > limit)
    post = values.loc[after, ["subject_id", "visit", "item", "value", "date"]]
    codes, pair_subjects, pair_visits = group_visits(post["subject_id"].astype(object), post["visit"].astype(object))
    n = len(pair_subjects)
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, codes, post["date"].to_numpy().astype("datetime64[ns]").astype(np.int64))
    rows = pd.DataFrame(
        {
            "subject_id": pair_subjects,
            "visit": pair_visits,
            "date": first.astype("datetime64[ns]"),
        }
    )
    rows["start_date"] = start.reindex(rows["subject_id"]).to_numpy()
    rows["day"] = (rows["date"] - rows["start_date"]).dt.days.astype(np.int64)
    rows["month"] = rows["visit"].map(visit_months(study)).astype(np.float64)
    order = np.lexsort((rows["visit"].to_numpy(dtype=str), rows["date"].to_numpy(), rows["subject_id"].to_numpy(dtype=str)))
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    rows = rows.iloc[order].reset_index(drop=True)

    value_column = post["value"].to_numpy(dtype=np.float64)
    by_item = rows_by_item(post["item"].astype(object).to_numpy())
    columns: dict[str, FloatArray] = {}
    for code in wanted:
        chosen = by_item.get(code, np.array([], dtype=np.int64))
        column = np.full(n, np.nan)
        column[position[codes[chosen]]] = value_column[chosen]
        columns[code] = column
    base = baseline_columns(baseline, pd.Index(rows["subject_id"]), wanted)
    return Assessments(rows, columns, base)
