"""Evaluate the protocol's endpoints on a trial's data: DFS, OS, organ remission, responses.

Handling rules (shared/domain.md §9.2; docs/endpoints.md):

* **Time origin**: the infusion date (day 0). Subjects never infused have no time-to-event rows.
* **Event date**: the date of the first assessment showing the event (visit-based detection). Under
  a confirmation rule the first date counts, not the date of the confirming test. Adverse-event
  triggers use the onset date, death the death date.
* **Confirmation**: a finding of a rule with ``confirmation`` is *confirmed* when a later assessment
  within ``within_days`` meets the rule too, *refuted* when every such assessment is decided and does
  not, and *possible* when there is none (or none decided). ``possible_events`` says whether a
  possible finding is an event (``count``) or not (``ignore``).
* **Missing components**: a rule that cannot be decided at an assessment does not rule the event
  out, but a rule that is met there is an event all the same (Kleene logic).
* **Censoring**: subjects without an event are censored at the last assessment where every
  enabled assessed rule was decided (``last_complete_assessment``; or at the last assessment at all,
  ``last_assessment``), or at the infusion date when there is none. Withdrawal and loss to follow-up
  are censored, not events; a known death counts as E1 up to the end of protocol follow-up.
* **Ties**: two rules on the same date: the one listed first in the protocol is reported.
* **OS**: death from any cause; otherwise censored at the last contact (the last value, adverse event
  date, completion or withdrawal date).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from rodnan.core.endpoints.assessments import (
    Assessments,
    baseline_columns,
    derive_assessments,
    derive_baseline,
    follow_up_horizon_days,
)
from rodnan.core.endpoints.responses import CRISS_CORE_ITEMS, derive_remission, derive_responses_at_visits
from rodnan.core.endpoints.rules import CompiledEndpoints, CompiledRule, compile_endpoints, split_variable
from rodnan.core.lifecycle import SubjectStatus
from rodnan.core.protocol.model import Study
from rodnan.core.trialdata import TrialData
from rodnan.core.verdict import Truth

TruthArray = npt.NDArray[np.int8]
FINDINGS = ("no", "unknown", "met", "confirmed", "possible", "refuted")
"""What a rule found at an assessment: not met, undecided, met (no confirmation needed), and for rules
with confirmation: met and confirmed, met but unconfirmed ('possible'), met but refuted by the repeat."""

CENSOR_REASONS = {
    "completed": "Completed follow-up without an event",
    "withdrawn": "Withdrawn from the study",
    "lost_to_follow_up": "Lost to follow-up",
    "ongoing": "In follow-up at the data cut-off",
    "died": "Death not counted as an event of this endpoint",
}
"""Censoring reason codes and their descriptions (EVNTDESC of a censored record)."""

_STATUS_REASON = {
    SubjectStatus.COMPLETED.value: "completed",
    SubjectStatus.WITHDRAWN.value: "withdrawn",
    SubjectStatus.LOST_TO_FOLLOW_UP.value: "lost_to_follow_up",
    SubjectStatus.DIED.value: "died",
}
_CONTACT_STATUSES = (SubjectStatus.COMPLETED.value, SubjectStatus.WITHDRAWN.value)


@dataclass(frozen=True, eq=False)
class EndpointsResult:
    """Endpoints evaluated on a trial's data. Dates are datetime64; truth codes int8 (0 no, 1 unknown, 2 yes).

    Attributes:
        study: the protocol.
        cutoff: the data cut-off (None: all data).
        baseline: the baseline record of each subject and item (subject_id, item, value, text, visit, date).
        involvement: index subject_id (every subject), one truth column per pathway, at baseline.
        assessments: one row per post-baseline assessment (subject_id, visit, date, start_date, day,
            month), the finding of each assessed DFS rule (a column per rule code, values of
            :data:`FINDINGS`), and ``complete`` (every rule decided).
        dfs: one row per infused subject: subject_id, start_date, event (bool), date, days, rule,
            rule_label, status (confirmed / possible / "" when the rule needs no confirmation), visit
            (of the event or the censoring assessment; "AE" for an adverse-event trigger), censor_reason
            (:data:`CENSOR_REASONS` code, "" for events), censor_date_source,
            last_complete_date, last_complete_visit.
        os: one row per infused subject: subject_id, start_date, event, date, days, censor_reason,
            censor_date_source.
        remission: one row per subject involved at baseline, organ and scheduled month: subject_id,
            organ, visit, month, date, truth, sustained.
        remission_summary: one row per subject and organ: subject_id, organ, involved (truth at
            baseline), remission (truth at any visit), remission_date, sustained (truth),
            sustained_date (the first visit of the first sustained run).
        responses: one row per infused subject and response: subject_id, response, visit, date,
            truth, value (the CRISS probability; NaN for others).
    """

    study: Study
    cutoff: pd.Timestamp | None
    baseline: pd.DataFrame
    involvement: pd.DataFrame
    assessments: pd.DataFrame
    dfs: pd.DataFrame
    os: pd.DataFrame
    remission: pd.DataFrame
    remission_summary: pd.DataFrame
    responses: pd.DataFrame


def evaluate_endpoints(data: TrialData, cutoff: dt.date | None = None) -> EndpointsResult:
    """Evaluate every endpoint of the protocol on ``data`` (see the module docstring for the rules).

    Args:
        data: the trial's data (:mod:`rodnan.core.trialdata`).
        cutoff: data cut-off date: values, adverse events and deaths after it are ignored, and subjects
            whose follow-up ended after it count as ongoing.

    Raises:
        InputError: the protocol has no endpoints section.
    """
    study = data.study
    compiled = compile_endpoints(study)
    cut = None if cutoff is None else pd.Timestamp(cutoff)
    values, events, subjects = data.values, data.adverse_events, _subjects_at(data.subjects, cut)
    if cut is not None:
        values = values[values["date"] <= cut]
        events = events[events["onset_date"] <= cut]
    baseline = derive_baseline(values, subjects)
    variables = compiled.variables()
    items = {split_variable(study, v)[0] for v in variables}
    if any(r.definition.instrument == "acr_criss" for r in compiled.responses):
        items |= set(CRISS_CORE_ITEMS) & set(study.item_by_code)
    assessments = derive_assessments(study, values, subjects, baseline, items)
    columns = assessments.columns(study, variables)
    involvement = _involvement(compiled, baseline, pd.Index(subjects["subject_id"], name="subject_id"))
    findings = _findings(compiled, assessments, columns, involvement)
    treated = subjects[subjects["infusion_date"].notna()].reset_index(drop=True)
    dfs, table = _dfs(study, compiled, treated, assessments, findings, events)
    remission, summary = derive_remission(study, compiled, assessments, columns, involvement, pd.Index(treated["subject_id"]))
    responses = derive_responses_at_visits(compiled, treated, assessments, columns, events)
    return EndpointsResult(
        study=study,
        cutoff=cut,
        baseline=baseline,
        involvement=involvement,
        assessments=table,
        dfs=dfs,
        os=_os(treated, values, events, cut),
        remission=remission,
        remission_summary=summary,
        responses=responses,
    )


def _subjects_at(subjects: pd.DataFrame, cut: pd.Timestamp | None) -> pd.DataFrame:
    """Subjects as known at the cut-off: dates after it are unknown, and a later end means still in follow-up."""
    if cut is None:
        return subjects
    out = subjects.copy()
    ended_later = out["end_date"].notna() & (out["end_date"] > cut)
    out.loc[ended_later & out["status"].isin(list(_STATUS_REASON)), "status"] = SubjectStatus.IN_FOLLOW_UP.value
    out.loc[ended_later, "end_date"] = pd.NaT
    out.loc[out["death_date"] > cut, "death_date"] = pd.NaT
    out.loc[out["infusion_date"] > cut, "infusion_date"] = pd.NaT
    return out


def _involvement(compiled: CompiledEndpoints, baseline: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """Each pathway (organ involvement) evaluated on each subject's baseline values."""
    out = pd.DataFrame(index=ids)
    for code, expression in compiled.pathways.items():
        columns = baseline_columns(baseline, ids, expression.item_codes)
        out[code] = expression.truth_array(columns, len(ids))
    return out


def _findings(
    compiled: CompiledEndpoints,
    assessments: Assessments,
    columns: dict[str, npt.NDArray[np.float64]],
    involvement: pd.DataFrame,
) -> dict[str, npt.NDArray[np.object_]]:
    """The finding of every assessed rule at every assessment (values of :data:`FINDINGS`)."""
    n = len(assessments)
    ids = assessments.rows["subject_id"]
    out: dict[str, npt.NDArray[np.object_]] = {}
    for rule in compiled.rules:
        if not rule.is_assessed:
            continue
        truth: TruthArray = np.zeros(n, dtype=np.int8)
        if rule.expression is not None:
            truth = rule.expression.truth_array(columns, n)
        for code, expression in rule.organs:
            now = expression.truth_array(columns, n)
            before = involvement[code].reindex(ids).to_numpy(dtype=np.int8)
            truth = np.maximum(truth, np.minimum(now, np.int8(2) - before))
        found = np.array(FINDINGS, dtype=object)[truth]  # 0 no, 1 unknown, 2 met
        if rule.confirmation_days is not None:
            found = _confirm(assessments.rows, truth, rule.confirmation_days, found)
        out[rule.code] = found
    return out


def _confirm(rows: pd.DataFrame, truth: TruthArray, days: int, found: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """Met findings become confirmed, refuted or possible by the later assessments within ``days``."""
    met = np.flatnonzero(truth == Truth.TRUE)
    if len(met) == 0:
        return found
    found = found.copy()
    found[met] = "possible"
    subjects, dates = rows["subject_id"].to_numpy(dtype=object), rows["date"].to_numpy()
    left = pd.DataFrame({"i": met, "s": subjects[met], "d": dates[met]})
    right = pd.DataFrame({"s": subjects, "d2": dates, "t2": truth})
    pairs = left.merge(right, on="s")
    pairs = pairs[(pairs["d2"] > pairs["d"]) & (pairs["d2"] <= pairs["d"] + pd.Timedelta(days=days))]
    best = pairs.groupby("i")["t2"].max()  # any repeat met: confirmed; every repeat decided and not met: refuted
    found[best.index[best == Truth.TRUE].to_numpy()] = "confirmed"
    found[best.index[best == Truth.FALSE].to_numpy()] = "refuted"
    return found


def _dfs(
    study: Study,
    compiled: CompiledEndpoints,
    treated: pd.DataFrame,
    assessments: Assessments,
    findings: dict[str, npt.NDArray[np.object_]],
    events: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One DFS row per infused subject, and the assessment table with each rule's findings."""
    rows = assessments.rows
    table = rows.copy()
    counted = {"met", "confirmed"} | ({"possible"} if compiled.definition.dfs.possible_events == "count" else set())
    complete = np.ones(len(rows), dtype=bool)
    candidates: list[pd.DataFrame] = []
    for rule in compiled.rules:
        if rule.code in findings:
            found = findings[rule.code]
            table[rule.code] = found
            complete &= found != "unknown"
            hit = np.isin(found, list(counted))
            status = found[hit] if rule.confirmation_days is not None else np.full(int(hit.sum()), "", dtype=object)
            candidates.append(
                _candidates(rows.loc[hit, "subject_id"], rows.loc[hit, "date"], rows.loc[hit, "visit"], rule, status)
            )
    table["complete"] = complete

    start = treated.set_index("subject_id")["infusion_date"]
    last_seen = rows.groupby("subject_id")["date"].max()
    horizon = pd.concat([start + pd.Timedelta(days=follow_up_horizon_days(study)), last_seen.reindex(start.index)], axis=1).max(
        axis=1
    )
    for rule in compiled.rules:
        if rule.terms and len(events):
            chosen = events["term"].str.lower().isin(list(rule.terms)) & events["subject_id"].isin(start.index)
            hits = events[chosen]
            onset = hits["onset_date"]
            keep = (onset >= start.reindex(hits["subject_id"]).to_numpy()) & (
                onset <= horizon.reindex(hits["subject_id"]).to_numpy()
            )
            hits = hits[keep.to_numpy()]
            candidates.append(_candidates(hits["subject_id"], hits["onset_date"], pd.Series("AE", index=hits.index), rule))
        if rule.definition.death:
            death = treated.set_index("subject_id")["death_date"]
            died = death.notna() & (death <= horizon)
            candidates.append(_candidates(pd.Series(died.index[died]), death[died], pd.Series("", index=death.index[died]), rule))
    found_events = (
        pd.concat(candidates, ignore_index=True) if candidates else _candidates(pd.Series(dtype=object), None, None, None)
    )
    first = found_events.sort_values(["subject_id", "date", "order"], kind="stable").drop_duplicates("subject_id")
    first = first.set_index("subject_id").reindex(start.index)

    before_event = table["date"].to_numpy() < first["date"].reindex(table["subject_id"]).fillna(pd.Timestamp.max).to_numpy()
    complete_rows = table[table["complete"].to_numpy() & before_event]
    last_complete = complete_rows.groupby("subject_id")[["date", "visit"]].last().reindex(start.index)
    by_complete = compiled.definition.dfs.censoring == "last_complete_assessment"
    last = last_complete if by_complete else table.groupby("subject_id")[["date", "visit"]].last().reindex(start.index)
    event = first["date"].notna().to_numpy()
    reason = treated["status"].map(_STATUS_REASON).fillna("ongoing").to_numpy(dtype=object)
    censor_date = last["date"].fillna(start)
    labels = {rule.code: rule.definition.label for rule in compiled.rules}
    source = np.where(
        last["date"].notna(),
        "Last complete assessment" if by_complete else "Last assessment",
        "Infusion date (no qualifying assessment after the infusion)",
    )
    dfs = pd.DataFrame(
        {
            "subject_id": start.index.to_numpy(dtype=object),
            "start_date": start.to_numpy(),
            "event": event,
            "date": np.where(event, first["date"].to_numpy(), censor_date.to_numpy()),
            "rule": first["rule"].fillna("").to_numpy(dtype=object),
            "rule_label": first["rule"].map(labels).fillna("").to_numpy(dtype=object),
            "status": first["status"].fillna("").to_numpy(dtype=object),
            "visit": np.where(
                event, first["visit"].fillna("").to_numpy(dtype=object), last["visit"].fillna("").to_numpy(dtype=object)
            ),
            "censor_reason": np.where(event, "", reason),
            "censor_date_source": np.where(event, "", source),
            "last_complete_date": last_complete["date"].to_numpy(),
            "last_complete_visit": last_complete["visit"].fillna("").to_numpy(dtype=object),
        }
    )
    dfs["date"] = dfs["date"].astype("datetime64[ns]")
    dfs["days"] = (dfs["date"] - dfs["start_date"]).dt.days.astype(np.int64)
    return dfs, table


def _candidates(
    subject_ids: pd.Series,
    dates: pd.Series | None,
    visits: pd.Series | None,
    rule: CompiledRule | None,
    status: npt.NDArray[np.object_] | None = None,
) -> pd.DataFrame:
    n = len(subject_ids)
    return pd.DataFrame(
        {
            "subject_id": subject_ids.to_numpy(dtype=object),
            "date": np.array([], dtype="datetime64[ns]") if dates is None else dates.to_numpy(dtype="datetime64[ns]"),
            "visit": np.array([], dtype=object) if visits is None else visits.to_numpy(dtype=object),
            "order": np.full(n, -1 if rule is None else rule.order, dtype=np.int64),
            "rule": np.full(n, "" if rule is None else rule.code, dtype=object),
            "status": np.full(n, "", dtype=object) if status is None else status,
        }
    )


def _os(treated: pd.DataFrame, values: pd.DataFrame, events: pd.DataFrame, cut: pd.Timestamp | None) -> pd.DataFrame:
    """Overall survival: death, or censored at the last contact."""
    start = treated.set_index("subject_id")["infusion_date"]
    contacts = [values.groupby("subject_id", observed=True)["date"].max()]
    for column in ("onset_date", "end_date"):
        if column in events and len(events):
            contacts.append(events.groupby("subject_id")[column].max())
    ended = treated[treated["status"].isin(_CONTACT_STATUSES)].set_index("subject_id")["end_date"]
    contacts.append(ended)
    last_contact = pd.concat([c.reindex(start.index) for c in contacts], axis=1).max(axis=1)
    if cut is not None:
        last_contact = last_contact.where(last_contact <= cut, cut)
    last_contact = pd.concat([last_contact, start], axis=1).max(axis=1)
    death = treated.set_index("subject_id")["death_date"]
    event = death.notna().to_numpy()
    reason = treated["status"].map(_STATUS_REASON).fillna("ongoing").replace("died", "ongoing").to_numpy(dtype=object)
    os = pd.DataFrame(
        {
            "subject_id": start.index.to_numpy(dtype=object),
            "start_date": start.to_numpy(),
            "event": event,
            "date": np.where(event, death.to_numpy(), last_contact.to_numpy()),
            "censor_reason": np.where(event, "", reason),
            "censor_date_source": np.where(event, "", "Last contact (last assessment, adverse event, completion or withdrawal)"),
        }
    )
    os["date"] = os["date"].astype("datetime64[ns]")
    os["days"] = (os["date"] - os["start_date"]).dt.days.astype(np.int64)
    return os
