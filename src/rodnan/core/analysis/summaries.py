"""Responder and remission rates with exact confidence intervals, and the adverse-event summary table.

* Rates (responders to CRISS or EUSTAR skin criteria, remission per organ): responders / subjects
  assessed, with the Clopper-Pearson exact interval (scipy ``binomtest(...).proportion_ci(method="exact")``;
  Clopper & Pearson, Biometrika 1934;26:404-13). Subjects whose flag is missing are not in the
  denominator; their number is reported.
* Adverse events, one row per SOC and per term within it (MedDRA system organ class and term, as in
  the simulator's adverse_events.csv), plus a first row for any adverse event: subjects with at least
  one event (n and % of the subjects at risk), events, subjects by their worst grade (CTCAE 1-5; a
  subject counts once, at the highest grade recorded for that row), subjects and events that were
  serious, and subjects by the closest relatedness recorded (the most related category wins; the
  categories are ordered "definitely related", "related", "probably related", "possibly related",
  "unlikely related", "not related", then any others alphabetically). "Related" (``related_subjects``)
  follows the usual convention that a reasonable possibility counts (definitely, probably or possibly
  related, or plain "related"; ICH E2A).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from rodnan.errors import InputError

AE_COLUMNS = ("subject_id", "term", "soc", "grade", "serious", "related")
RELATEDNESS_ORDER = (
    "definitely related",
    "related",
    "probably related",
    "possibly related",
    "unlikely related",
    "not related",
)
RELATED = frozenset({"definitely related", "related", "probably related", "possibly related"})
ANY_EVENT = "Any adverse event"
_TRUE = {"1", "true", "t", "yes", "y"}
_FALSE = {"0", "false", "f", "no", "n"}


@dataclass(frozen=True)
class ResponderSummary:
    """A rate with its exact (Clopper-Pearson) confidence interval.

    Attributes:
        n: subjects assessed (flag recorded).
        responders: subjects with the flag true.
        rate: responders / n (NaN if n is 0).
        lower, upper: Clopper-Pearson confidence limits (NaN if n is 0).
        n_missing: subjects whose flag is missing (not in n).
        conf_level: confidence level of the interval.
    """

    n: int
    responders: int
    rate: float
    lower: float
    upper: float
    n_missing: int
    conf_level: float


@dataclass(frozen=True, eq=False)
class AdverseEventSummary:
    """The adverse-event table.

    Attributes:
        table: rows for any event, each SOC and each term within its SOC (column ``level``: "any", "soc",
            "term"), SOCs and terms by decreasing number of subjects then name. Columns: level, soc, term,
            subjects, percent, events, grade_1 ... grade_5, grade_missing (subjects by worst grade),
            serious_subjects, serious_events, related_subjects, then one ``relatedness: <category>``
            column per category (subjects by closest relatedness).
        n_subjects: the denominator of the percentages (subjects at risk, e.g. all infused).
        relatedness_categories: the relatedness categories in the order of their columns.
    """

    table: pd.DataFrame
    n_subjects: int
    relatedness_categories: tuple[str, ...]


def summarise_responders(flags: Iterable[object], conf_level: float = 0.95) -> ResponderSummary:
    """Number and rate of responders with a Clopper-Pearson exact confidence interval.

    Args:
        flags: one value per subject: True/1 responder, False/0 non-responder, None/NaN not assessed.
        conf_level: confidence level of the interval.

    Returns:
        A :class:`ResponderSummary`.

    Raises:
        InputError: a flag that is not true, false or missing, or a confidence level outside (0, 1).
    """
    if not 0 < conf_level < 1:
        raise InputError("conf_level", "must be between 0 and 1 (exclusive)", conf_level)
    values = [_flag(value, "flags") for value in flags]
    recorded = [value for value in values if value is not None]
    n, responders = len(recorded), sum(recorded)
    if n == 0:
        return ResponderSummary(0, 0, math.nan, math.nan, math.nan, len(values), conf_level)
    interval = stats.binomtest(responders, n).proportion_ci(confidence_level=conf_level, method="exact")
    return ResponderSummary(n, responders, responders / n, float(interval.low), float(interval.high), len(values) - n, conf_level)


def summarise_responder_table(frame: pd.DataFrame, columns: Sequence[str], conf_level: float = 0.95) -> pd.DataFrame:
    """:func:`summarise_responders` for several flag columns (e.g. remission per organ), one row each.

    Columns of the result: measure, n, responders, rate, lower, upper, n_missing.
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError("frame", f"has no column {', '.join(map(repr, missing))}")
    rows = []
    for column in columns:
        summary = summarise_responders(frame[column].tolist(), conf_level)
        rows.append(
            {
                "measure": column,
                "n": summary.n,
                "responders": summary.responders,
                "rate": summary.rate,
                "lower": summary.lower,
                "upper": summary.upper,
                "n_missing": summary.n_missing,
            }
        )
    return pd.DataFrame(rows, columns=["measure", "n", "responders", "rate", "lower", "upper", "n_missing"])


def summarise_adverse_events(ae_frame: pd.DataFrame, n_subjects: int) -> AdverseEventSummary:
    """Adverse events by system organ class and term: subjects, events, worst grade, seriousness, relatedness.

    Args:
        ae_frame: one row per adverse event with columns subject_id, term, soc, grade (1-5 or missing),
            serious (True/False, 1/0, Y/N), related (relatedness category text); other columns (ae_number,
            meddra_code, dates, outcome) are ignored.
        n_subjects: subjects at risk (the denominator of the percentages), at least the number of subjects
            with an event.

    Returns:
        An :class:`AdverseEventSummary`.

    Raises:
        InputError: a missing column, a grade outside 1-5, a seriousness that is not yes/no, a missing
            subject, term or SOC, or ``n_subjects`` smaller than the subjects in ``ae_frame``.
    """
    missing = [c for c in AE_COLUMNS if c not in ae_frame.columns]
    if missing:
        raise InputError("ae_frame", f"has no column {', '.join(map(repr, missing))}")
    events = ae_frame[list(AE_COLUMNS)].copy()
    for column in ("subject_id", "term", "soc"):
        if events[column].isna().any() or (events[column].astype(str).str.strip() == "").any():
            raise InputError(column, "must not be missing in any adverse event")
    grade = pd.to_numeric(events["grade"], errors="coerce")
    if (grade.notna() & ~grade.isin([1, 2, 3, 4, 5])).any() or (grade.isna() & events["grade"].notna()).any():
        raise InputError("grade", "must be 1, 2, 3, 4 or 5 (or missing)")
    events["grade"] = grade
    serious = [_flag(value, "serious") for value in events["serious"]]
    if any(value is None for value in serious):
        raise InputError("serious", "must be yes or no for every adverse event")
    events["serious"] = np.asarray(serious, dtype=bool)
    events["related"] = events["related"].map(_relatedness)
    n_with_events = int(events["subject_id"].nunique())
    if isinstance(n_subjects, bool) or not isinstance(n_subjects, (int, np.integer)) or n_subjects < max(n_with_events, 1):
        raise InputError("n_subjects", f"must be a whole number >= the {n_with_events} subjects with an event", n_subjects)
    categories = _relatedness_order(events["related"])
    rank = {category: k for k, category in enumerate(categories)}
    events["related_rank"] = events["related"].map(rank)

    rows = [_row("any", "", "", events, int(n_subjects), categories)]
    socs = events.groupby("soc")["subject_id"].nunique().reset_index(name="subjects")
    for soc in socs.sort_values(["subjects", "soc"], ascending=[False, True])["soc"]:
        in_soc = events.loc[events["soc"] == soc]
        rows.append(_row("soc", str(soc), "", in_soc, int(n_subjects), categories))
        terms = in_soc.groupby("term")["subject_id"].nunique().reset_index(name="subjects")
        for term in terms.sort_values(["subjects", "term"], ascending=[False, True])["term"]:
            rows.append(_row("term", str(soc), str(term), in_soc.loc[in_soc["term"] == term], int(n_subjects), categories))
    if events.empty:
        rows[0]["term"] = ANY_EVENT
    table = pd.DataFrame(rows)
    return AdverseEventSummary(table, int(n_subjects), categories)


def _row(
    level: str, soc: str, term: str, events: pd.DataFrame, n_subjects: int, categories: tuple[str, ...]
) -> dict[str, object]:
    by_subject = events.groupby("subject_id")
    subjects = int(events["subject_id"].nunique())
    worst_grade = by_subject["grade"].max()  # NaN only if every grade of the subject is missing
    closest = by_subject["related_rank"].min()
    row: dict[str, object] = {
        "level": level,
        "soc": soc,
        "term": term if level != "any" else ANY_EVENT,
        "subjects": subjects,
        "percent": 100.0 * subjects / n_subjects,
        "events": len(events),
    }
    for grade in range(1, 6):
        row[f"grade_{grade}"] = int((worst_grade == grade).sum())
    row["grade_missing"] = int(worst_grade.isna().sum())
    row["serious_subjects"] = int(events.loc[events["serious"], "subject_id"].nunique())
    row["serious_events"] = int(events["serious"].sum())
    row["related_subjects"] = int(events.loc[events["related"].isin(RELATED), "subject_id"].nunique())
    for k, category in enumerate(categories):
        row[f"relatedness: {category}"] = int((closest == k).sum())
    return row


def _flag(value: object, field: str) -> bool | None:
    """True, False or None (missing) from booleans, 0/1 numbers and yes/no words."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        if isinstance(value, (float, np.floating)) and math.isnan(value):
            return None
        if value in (0, 1):
            return bool(value)
        raise InputError(field, "must be true/false, 1/0 or missing", value)
    if value is pd.NA or value is pd.NaT:
        return None
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if text in {"", "nan", "na", "none"}:
        return None
    raise InputError(field, "must be true/false, 1/0, yes/no or missing", value)


def _relatedness(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "missing"
    return re.sub(r"\s+", " ", str(value).strip().lower()) or "missing"


def _relatedness_order(values: pd.Series) -> tuple[str, ...]:
    present = set(values)
    known = [category for category in RELATEDNESS_ORDER if category in present]
    others = sorted(present - set(RELATEDNESS_ORDER) - {"missing"})
    return (*known, *others, *(["missing"] if "missing" in present else []))
