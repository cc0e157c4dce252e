"""The trial's analysis in one call: :func:`analyse_trial` turns :class:`TrialData` into every statistic of the report.

The report (``rodnan report``), the in-silico trial and the tests share this one path from data to results,
so a number in the report is the number a test checks. No figures and no I/O here: the figures
(:mod:`rodnan.core.analysis.figures`) and the report (:mod:`rodnan.reports`) read a :class:`TrialAnalysis`.

What is computed (docs/report.md lists the same, section by section):

* **Datasets**: the endpoints of the protocol (:func:`~rodnan.core.endpoints.evaluate_endpoints`) and the
  ADaM-like datasets ADSL, ADTTE, BDS and responders (:mod:`rodnan.core.analysis.datasets`).
* **Disposition** (CONSORT): screened, screen failures, eligible, enrolled, infused, discontinued (by
  reason), completed, counted from the subjects table. Candidates screened but never registered are not
  in the data: :attr:`Disposition.screening_recorded` is False when no subject in the data failed or is
  still in screening, and the report then says the screening log was not recorded.
* **Kaplan-Meier** for DFS and OS (the infused subjects, time in months from the infusion: AVALMO), with
  the log-log ("exponential Greenwood") 95 % interval, the median, the rates at 6 and 12 months and the
  numbers at risk at 0, 3, 6, 9 and 12 months.
* **Cox models** for DFS and OS: one univariable model per baseline covariate of the protocol's analysis
  plan (``analysis.cox.covariates``; continuous covariates per a clinically sized step, e.g. mRSS per 5
  points), each with Firth's penalised likelihood when events per variable are below 10 or the likelihood
  is monotone (``penalizer="auto"``). A multivariable model of the prespecified covariates
  (``analysis.cox.multivariable``, in that priority order) is fitted only where the events allow at least
  ``min_events_per_covariate`` events per covariate for two or more of them; it uses the first
  ``events // min_events_per_covariate`` of the list (Firth when EPV < 10); otherwise the reason is recorded.
* **Change over time**: a linear mixed model (REML, random intercept and slope per subject; random
  intercept only if that fit fails) of the plan's ``longitudinal`` parameters (for NCT00962923: mRSS,
  SF-36 PCS and MCS, HAQ-DI) on months since the infusion (the baseline record at month 0), and the paired
  Wilcoxon test of baseline against the plan's ``comparison_visit`` for those and for its
  ``organ_parameters``. The mixed models take most of the analysis's time: where this process may run on
  two processors (or ``processes=2``), a forked process starts fitting them while this one analyses
  survival, then both take the models left (:func:`~rodnan.core.workers.share_work`); the numbers are
  the same either way.

Every trial-specific choice (parameters, covariates, visits) comes from the protocol's ``analysis:``
section (:class:`~rodnan.core.protocol.model.AnalysisDef`); this module holds only the methods.
* **Responders** (ACR-CRISS, EUSTAR skin improvement at month 12) and **remission** per organ involved at
  baseline (at any visit, at month 12, sustained), with Clopper-Pearson intervals.
* **Adverse events** of the infused subjects by SOC and term, worst grade, seriousness and relatedness.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rodnan.core.analysis.cox import CoxResult, UnivariableCoxResult, fit_cox, fit_univariable_cox
from rodnan.core.analysis.datasets import (
    derive_parameter_visits,
    derive_responses,
    derive_subject_level,
    derive_time_to_event,
)
from rodnan.core.analysis.disposition import Disposition, derive_disposition
from rodnan.core.analysis.longitudinal import MixedModelResult, WilcoxonResult, compare_paired_wilcoxon, fit_mixed_model
from rodnan.core.analysis.summaries import (
    AE_COLUMNS,
    AdverseEventSummary,
    summarise_adverse_events,
    summarise_responders,
)
from rodnan.core.analysis.survival import ConfType, KaplanMeierResult, fit_kaplan_meier
from rodnan.core.endpoints import EndpointsResult, evaluate_endpoints
from rodnan.core.protocol.model import AnalysisDef, CoxCovariateDef, Study
from rodnan.core.trialdata import TrialData
from rodnan.core.units import display_unit
from rodnan.core.workers import default_workers, share_work
from rodnan.errors import InputError

CONF_LEVEL = 0.95
CONF_TYPE: ConfType = "log-log"
"""Kaplan-Meier interval transform: log-log (SAS, Stata, lifelines), best coverage in small samples."""
AT_RISK_MONTHS: tuple[float, ...] = (0.0, 3.0, 6.0, 9.0, 12.0)
RATE_MONTHS: tuple[float, ...] = (6.0, 12.0)


def analysis_plan(study: Study) -> AnalysisDef:
    """The protocol's analysis plan.

    Raises:
        InputError: the protocol has no ``analysis:`` section.
    """
    if study.analysis is None:
        raise InputError("analysis", "the protocol has no analysis section: the parameters and covariates are not defined")
    return study.analysis


__all__ = [
    "AT_RISK_MONTHS",
    "CONF_LEVEL",
    "CONF_TYPE",
    "RATE_MONTHS",
    "ChangeAnalysis",
    "CoxCovariateDef",
    "Disposition",
    "SurvivalAnalysis",
    "TrialAnalysis",
    "analyse_trial",
    "analysis_plan",
    "covariate_frame",
    "derive_disposition",
]

_TRUTH_FLAG = {0: False, 1: None, 2: True}


@dataclass(frozen=True, eq=False)
class SurvivalAnalysis:
    """Time-to-event analysis of one endpoint (DFS or OS); times in months from the infusion.

    Attributes:
        paramcd: "DFS" or "OS".
        label: the endpoint's label from the protocol.
        rows: the ADTTE rows analysed (one per infused subject).
        kaplan_meier: the Kaplan-Meier fit on AVALMO and 1 - CNSR.
        rates: ``kaplan_meier.survival_at(RATE_MONTHS)``.
        at_risk: ``kaplan_meier.at_risk(AT_RISK_MONTHS)``.
        events_by_rule: events per SRCRULE (DFS) with the rule's label: rule, label, events.
        censoring: censored subjects per reason: reason, subjects.
        cox_frame: one row per analysed subject: AVALMO, EVENT and the scaled covariates.
        cox_univariable: one model per covariate of the plan's ``cox.covariates`` (column names = ADSL columns).
        cox_multivariable: the multivariable model, or None when the events do not allow one.
        multivariable_note: which covariates it uses and why, or why it was not fitted.
    """

    paramcd: str
    label: str
    rows: pd.DataFrame
    kaplan_meier: KaplanMeierResult
    rates: pd.DataFrame
    at_risk: pd.DataFrame
    events_by_rule: pd.DataFrame
    censoring: pd.DataFrame
    cox_frame: pd.DataFrame
    cox_univariable: UnivariableCoxResult
    cox_multivariable: CoxResult | None
    multivariable_note: str


@dataclass(frozen=True, eq=False)
class ChangeAnalysis:
    """Change over time in one parameter.

    Attributes:
        paramcd, label, unit: the parameter (label without the unit).
        short_label: a short name for tables and figures (the parameter's ``short_label``, else the label).
        long: the records modelled: subject, month (0 at baseline), value.
        mixed_model: the linear mixed model (None for parameters not modelled, or when it cannot be fitted).
        mixed_model_note: why there is no model, or that the random slope was dropped.
        wilcoxon: baseline against the plan's ``comparison_visit`` (None when no pair is complete).
        baseline_median, followup_median: medians over the complete pairs.
    """

    paramcd: str
    label: str
    short_label: str
    unit: str
    long: pd.DataFrame
    mixed_model: MixedModelResult | None
    mixed_model_note: str
    wilcoxon: WilcoxonResult | None
    baseline_median: float
    followup_median: float


@dataclass(frozen=True, eq=False)
class TrialAnalysis:
    """Every statistic of the report, with the datasets they came from (see the module docstring).

    Attributes:
        study: the protocol.
        source: where the data came from.
        cutoff: the data cut-off (None: all data).
        endpoints: the evaluated endpoints.
        subject_level, time_to_event, parameter_visits, responses: ADSL, ADTTE, BDS, responder BDS.
        disposition: CONSORT counts.
        survival: "DFS" and "OS" analyses.
        change: one :class:`ChangeAnalysis` per ``longitudinal`` and ``organ_parameters`` parameter of the
            plan that the data have.
        responders: one row per response: code, label, visit, n, responders, rate, lower, upper, n_missing.
        remission: one row per organ and measure (any visit, at month 12, sustained): organ, label, measure,
            involved, n, responders, rate, lower, upper, n_missing.
        adverse_events: the AE table of the infused subjects.
        adverse_event_records: the AEs of the infused subjects (rows of ``TrialData.adverse_events``) with
            USUBJID and MONTH (onset, months from the infusion; negative during the conditioning regimen).
        adverse_events_before_infusion: AEs of infused subjects with onset before the infusion (in the table).
        adverse_events_not_infused: AEs of subjects never infused (not in the table).
        plan: the protocol's analysis plan (parameters, covariates, comparison visit).
        cox_covariates: the covariate definitions used (``plan.cox.covariates``).
        conf_level, conf_type: of the intervals (Kaplan-Meier transform).
        notes: what a reader must know about the analysis as a whole.
    """

    study: Study
    source: str
    cutoff: pd.Timestamp | None
    endpoints: EndpointsResult
    subject_level: pd.DataFrame
    time_to_event: pd.DataFrame
    parameter_visits: pd.DataFrame
    responses: pd.DataFrame
    disposition: Disposition
    survival: Mapping[str, SurvivalAnalysis]
    change: Mapping[str, ChangeAnalysis]
    responders: pd.DataFrame
    remission: pd.DataFrame
    adverse_events: AdverseEventSummary
    adverse_event_records: pd.DataFrame
    adverse_events_before_infusion: int
    adverse_events_not_infused: int
    plan: AnalysisDef
    cox_covariates: tuple[CoxCovariateDef, ...]
    conf_level: float
    conf_type: ConfType
    notes: tuple[str, ...]


def analyse_trial(data: TrialData, cutoff: dt.date | None = None, processes: int | None = None) -> TrialAnalysis:
    """Run every analysis of the report on ``data`` (see the module docstring).

    Args:
        data: the trial's data (:func:`~rodnan.core.trialdata.read_trial_dir` or ``from_frames``).
        cutoff: data cut-off date passed to :func:`~rodnan.core.endpoints.evaluate_endpoints`.
        processes: 2 or more (the default where this process may run on two processors or more) fits the
            mixed models in a forked process as well as this one, while this one analyses survival first;
            1 fits them here, after survival. The results are the same.

    Returns:
        A :class:`TrialAnalysis`. Models that cannot be estimated (no events, too few subjects) are
        results with warnings or notes, not exceptions.

    Raises:
        InputError: the protocol has no endpoints or no analysis section, or no subject was infused.
    """
    study = data.study
    plan = analysis_plan(study)
    endpoints = evaluate_endpoints(data, cutoff)
    adsl = derive_subject_level(data, endpoints)
    adtte = derive_time_to_event(data, endpoints)
    bds = derive_parameter_visits(data, endpoints)
    responses = derive_responses(data, endpoints)
    infused = adsl[adsl["SAFFL"] == "Y"].reset_index(drop=True)
    if infused.empty:
        raise InputError("subjects", "no subject has an infusion date: there is nothing to analyse")
    notes: list[str] = []
    longs = _long_frames(study, plan, bds, adsl)
    modelled = [paramcd for paramcd in longs if paramcd in plan.longitudinal]

    def analyse_survival() -> dict[str, SurvivalAnalysis]:
        return {
            paramcd: _survival(study, plan, adtte, infused, paramcd, label)
            for paramcd, label in (("DFS", _endpoint_label(study, "DFS")), ("OS", _endpoint_label(study, "OS")))
        }

    def fit(paramcd: str) -> tuple[MixedModelResult | None, str]:
        return _mixed_model(longs[paramcd])

    if (default_workers() if processes is None else processes) >= 2:
        survival, fits = share_work(modelled, fit, analyse_survival)
    else:
        survival, fits = analyse_survival(), [fit(paramcd) for paramcd in modelled]
    change = _change(plan, bds, longs, dict(zip(modelled, fits, strict=True)))
    events = data.adverse_events
    treated_ids = set(infused["SUBJID"])
    treated_events = events[events["subject_id"].isin(treated_ids)]
    start = infused.set_index("SUBJID")["TRTSDT"]
    onset_days = (treated_events["onset_date"] - treated_events["subject_id"].map(start)).dt.days
    records = treated_events.assign(
        USUBJID=treated_events["subject_id"].map(infused.set_index("SUBJID")["USUBJID"]),
        MONTH=onset_days.to_numpy(dtype=np.float64, na_value=np.nan) / study.schedule.days_per_month,
    ).reset_index(drop=True)
    before = int((onset_days < 0).sum())
    not_infused = len(events) - len(treated_events)
    if not_infused:
        notes.append(f"{not_infused} adverse event(s) of subjects never infused are not in the safety table.")
    return TrialAnalysis(
        study=study,
        source=data.source,
        cutoff=endpoints.cutoff,
        endpoints=endpoints,
        subject_level=adsl,
        time_to_event=adtte,
        parameter_visits=bds,
        responses=responses,
        disposition=derive_disposition(data.subjects),
        survival=survival,
        change=change,
        responders=_responders(study, responses, len(infused)),
        remission=_remission(study, endpoints, responses),
        adverse_events=summarise_adverse_events(_ae_frame(treated_events), len(infused)),
        adverse_event_records=records,
        adverse_events_before_infusion=before,
        adverse_events_not_infused=not_infused,
        plan=plan,
        cox_covariates=tuple(plan.cox.covariates),
        conf_level=CONF_LEVEL,
        conf_type=CONF_TYPE,
        notes=tuple(notes),
    )


# --- survival ---------------------------------------------------------------------------------------


def _endpoint_label(study: Study, paramcd: str) -> str:
    endpoints = study.endpoints
    if endpoints is None:  # evaluate_endpoints has already raised
        return paramcd
    return endpoints.dfs.label if paramcd == "DFS" else endpoints.os.label


def covariate_frame(infused: pd.DataFrame, covariates: Sequence[CoxCovariateDef]) -> pd.DataFrame:
    """The Cox models' covariates of each subject (index USUBJID), scaled: value / ``per``, or 0/1 for choices."""
    out = pd.DataFrame(index=pd.Index(infused["USUBJID"], name="USUBJID"))
    for definition in covariates:
        if definition.column not in infused:
            out[definition.column] = np.nan
            continue
        column = infused[definition.column]
        if definition.positive is not None:
            text = column.fillna("").astype(str).to_numpy(dtype=object)
            out[definition.column] = np.where(text == "", np.nan, (text == definition.positive).astype(np.float64))
        else:
            out[definition.column] = column.to_numpy(dtype=np.float64) / definition.per
    return out


def _survival(
    study: Study, plan: AnalysisDef, adtte: pd.DataFrame, infused: pd.DataFrame, paramcd: str, label: str
) -> SurvivalAnalysis:
    rows = adtte[adtte["PARAMCD"] == paramcd].reset_index(drop=True)
    time = rows["AVALMO"].to_numpy(dtype=np.float64)
    event = (rows["CNSR"].to_numpy() == 0).astype(np.float64)
    km = fit_kaplan_meier(time, event, CONF_LEVEL, CONF_TYPE)
    covariates = covariate_frame(infused, plan.cox.covariates).reindex(rows["USUBJID"].to_numpy())
    frame = pd.DataFrame({"AVALMO": time, "EVENT": event}, index=covariates.index)
    frame = pd.concat([frame, covariates], axis=1).reset_index()
    names = [c.column for c in plan.cox.covariates]
    univariable = fit_univariable_cox(frame, "AVALMO", "EVENT", names, penalizer="auto", conf_level=CONF_LEVEL)
    multivariable, note = _multivariable(frame, plan)
    happened = rows[rows["CNSR"] == 0]
    rules = study.endpoints.dfs.events if study.endpoints is not None else []
    rule_labels = {rule.code: rule.label for rule in rules}
    by_rule = happened.groupby("SRCRULE", sort=False).size()
    events_by_rule = pd.DataFrame(
        {
            "rule": list(by_rule.index),
            "label": [rule_labels.get(str(code), str(code) or "Death") for code in by_rule.index],
            "events": by_rule.to_numpy(dtype=np.int64),
        }
    )
    if paramcd == "DFS" and rules:
        order = {rule.code: k for k, rule in enumerate(rules)}
        events_by_rule = events_by_rule.sort_values("rule", key=lambda s: s.map(order).fillna(99)).reset_index(drop=True)
    censored = rows[rows["CNSR"] == 1].groupby("EVNTDESC").size().sort_values(ascending=False)
    censoring = pd.DataFrame({"reason": list(censored.index), "subjects": censored.to_numpy(dtype=np.int64)})
    return SurvivalAnalysis(
        paramcd=paramcd,
        label=label,
        rows=rows,
        kaplan_meier=km,
        rates=km.survival_at(RATE_MONTHS),
        at_risk=km.at_risk(AT_RISK_MONTHS),
        events_by_rule=events_by_rule,
        censoring=censoring,
        cox_frame=frame,
        cox_univariable=univariable,
        cox_multivariable=multivariable,
        multivariable_note=note,
    )


def _multivariable(frame: pd.DataFrame, plan: AnalysisDef) -> tuple[CoxResult | None, str]:
    """The prespecified multivariable model, trimmed to the events available (see the module docstring)."""
    prespecified, per_covariate = plan.cox.multivariable, plan.cox.min_events_per_covariate
    usable = [c for c in prespecified if frame[c].notna().any() and frame[c].nunique(dropna=True) > 1]
    complete = frame.dropna(subset=usable)
    events = int(complete["EVENT"].sum())
    k = min(len(usable), events // per_covariate)
    if k < 2:
        return None, (
            f"not fitted: {events} event(s) among the {len(complete)} subjects with the prespecified covariates allow "
            f"fewer than 2 covariates at {per_covariate} events per covariate; see the "
            "univariable models"
        )
    chosen = usable[:k]
    while len(chosen) >= 2:
        subset = frame.dropna(subset=chosen)
        constant = [c for c in chosen if subset[c].nunique() < 2]
        if not constant:
            break
        chosen = [c for c in chosen if c not in constant]
    if len(chosen) < 2:
        return None, "not fitted: fewer than 2 prespecified covariates vary among the complete cases"
    fit = fit_cox(frame, "AVALMO", "EVENT", chosen, penalizer="auto", conf_level=CONF_LEVEL)
    labels = {c.column: c.label for c in plan.cox.covariates}
    dropped = [labels[c] for c in prespecified if c not in chosen]
    note = f"{', '.join(labels[c] for c in chosen)}; {fit.events} events, EPV {fit.events_per_variable:.1f}"
    if fit.penalizer == "firth":
        note += "; Firth's penalised likelihood"
    if dropped:
        note += f"; left out for lack of events or variation: {', '.join(dropped)}"
    return fit, note


# --- change over time -------------------------------------------------------------------------------


def _long_frames(study: Study, plan: AnalysisDef, bds: pd.DataFrame, adsl: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each parameter's records in long form (USUBJID, AVISIT, AVISITN, MONTH since the infusion, AVAL, BASE,
    CHG): the baseline record at month 0 and every post-baseline record, for the plan's ``longitudinal`` and
    ``organ_parameters`` parameters that the data have."""
    per_month = study.schedule.days_per_month
    start = adsl.set_index("USUBJID")["TRTSDT"]
    out: dict[str, pd.DataFrame] = {}
    for paramcd in dict.fromkeys((*plan.longitudinal, *plan.organ_parameters)):
        records = bds[bds["PARAMCD"] == paramcd]
        if records.empty:
            continue
        post = records["CHG"].notna().to_numpy()
        baseline = (records["ABLFL"] == "Y").to_numpy()
        chosen = records[post | baseline]
        days = (chosen["ADT"] - chosen["USUBJID"].map(start)).dt.days.to_numpy(dtype=np.float64)
        month = np.where(chosen["ABLFL"].to_numpy() == "Y", 0.0, days / per_month)
        out[paramcd] = pd.DataFrame(
            {
                "USUBJID": chosen["USUBJID"].to_numpy(dtype=object),
                "AVISIT": chosen["AVISIT"].to_numpy(dtype=object),
                "AVISITN": np.where(chosen["ABLFL"].to_numpy() == "Y", 0.0, chosen["AVISITN"].to_numpy(dtype=np.float64)),
                "MONTH": month,
                "AVAL": chosen["AVAL"].to_numpy(dtype=np.float64),
                "BASE": chosen["BASE"].to_numpy(dtype=np.float64),
                "CHG": chosen["CHG"].to_numpy(dtype=np.float64),
            }
        ).reset_index(drop=True)
    return out


def _change(
    plan: AnalysisDef,
    bds: pd.DataFrame,
    longs: Mapping[str, pd.DataFrame],
    models: Mapping[str, tuple[MixedModelResult | None, str]],
) -> dict[str, ChangeAnalysis]:
    out: dict[str, ChangeAnalysis] = {}
    short_labels = plan.short_labels
    for paramcd, long in longs.items():
        records = bds[bds["PARAMCD"] == paramcd]
        label, unit = _split_label(str(records["PARAM"].iloc[0]))
        baseline = (records["ABLFL"] == "Y").to_numpy()
        model, note = models.get(paramcd, (None, ""))
        at_visit = records[records["AVISIT"] == plan.comparison_visit].drop_duplicates("USUBJID").set_index("USUBJID")
        base = records[baseline].drop_duplicates("USUBJID").set_index("USUBJID")["AVAL"]
        pairs = pd.DataFrame({"base": base, "followup": at_visit["AVAL"].reindex(base.index)})
        wilcoxon = compare_paired_wilcoxon(pairs["base"], pairs["followup"]) if len(pairs) else None
        if wilcoxon is not None and wilcoxon.n_pairs == 0:
            wilcoxon = None
        complete = pairs.dropna()
        out[paramcd] = ChangeAnalysis(
            paramcd=paramcd,
            label=label,
            short_label=short_labels.get(paramcd, label),
            unit=unit,
            long=long,
            mixed_model=model,
            mixed_model_note=note,
            wilcoxon=wilcoxon,
            baseline_median=float(complete["base"].median()) if len(complete) else math.nan,
            followup_median=float(complete["followup"].median()) if len(complete) else math.nan,
        )
    return out


def _split_label(param: str) -> tuple[str, str]:
    """PARAM "Label (UCUM unit)" -> ("Label", the unit as people read it: :func:`rodnan.core.units.display_unit`)."""
    if param.endswith(")") and " (" in param:
        label, unit = param[:-1].rsplit(" (", 1)
    else:
        label, unit = param, ""
    return label, display_unit(unit)


def _mixed_model(long: pd.DataFrame) -> tuple[MixedModelResult | None, str]:
    """Random intercept and slope; random intercept alone when that fit fails or does not converge."""
    if long["USUBJID"].nunique() < 2 or long["MONTH"].nunique() < 2:
        return None, "not fitted: fewer than two subjects or time points"
    fit = fit_mixed_model(long, "AVAL", "USUBJID", "MONTH", random_slope=True)
    if fit.converged and np.isfinite(fit.slope.se):
        return fit, ""
    simpler = fit_mixed_model(long, "AVAL", "USUBJID", "MONTH", random_slope=False)
    return simpler, "random slope dropped: the model with a random slope did not converge"


# --- responders and remission -----------------------------------------------------------------------


def _responders(study: Study, responses: pd.DataFrame, n_infused: int) -> pd.DataFrame:
    rows: list[dict[str, object]] = []
    definitions = study.endpoints.responses if study.endpoints is not None else []
    for definition in definitions:
        flags = responses.loc[responses["PARAMCD"] == definition.code.upper(), "AVAL"].to_numpy(dtype=np.float64)
        summary = summarise_responders([None if math.isnan(v) else bool(v) for v in flags], CONF_LEVEL)
        rows.append(
            {
                "code": definition.code,
                "label": definition.label,
                "visit": definition.visit,
                "n": summary.n,
                "responders": summary.responders,
                "rate": summary.rate,
                "lower": summary.lower,
                "upper": summary.upper,
                "n_missing": summary.n_missing + (n_infused - len(flags)),
            }
        )
    return pd.DataFrame(rows, columns=["code", "label", "visit", "n", "responders", "rate", "lower", "upper", "n_missing"])


def _remission(study: Study, endpoints: EndpointsResult, responses: pd.DataFrame) -> pd.DataFrame:
    columns = ["organ", "label", "measure", "involved", "n", "responders", "rate", "lower", "upper", "n_missing"]
    remission = study.endpoints.remission if study.endpoints is not None else None
    if remission is None:
        return pd.DataFrame(columns=columns)
    summary = endpoints.remission_summary
    last = f"M{study.schedule.follow_up_months}"
    rows: list[dict[str, object]] = []
    for organ in remission.organs:
        involved = summary[(summary["organ"] == organ.code) & (summary["involved"] == 2)]
        at_last = responses[(responses["PARAMCD"] == f"RM{organ.code.upper()}") & (responses["AVISIT"] == last)]
        measures: list[tuple[str, list[bool | None]]] = [
            ("at any scheduled visit", [_TRUTH_FLAG[int(v)] for v in involved["remission"]]),
            (f"at month {study.schedule.follow_up_months}", [None if math.isnan(v) else bool(v) for v in at_last["AVAL"]]),
            (
                f"sustained ({remission.sustained.visits} consecutive visits)",
                [_TRUTH_FLAG[int(v)] for v in involved["sustained"]],
            ),
        ]
        for measure, flags in measures:
            flags = flags + [None] * max(len(involved) - len(flags), 0)
            result = summarise_responders(flags, CONF_LEVEL)
            rows.append(
                {
                    "organ": organ.code,
                    "label": organ.label,
                    "measure": measure,
                    "involved": len(involved),
                    "n": result.n,
                    "responders": result.responders,
                    "rate": result.rate,
                    "lower": result.lower,
                    "upper": result.upper,
                    "n_missing": result.n_missing,
                }
            )
    return pd.DataFrame(rows, columns=columns)


# --- adverse events ---------------------------------------------------------------------------------


def _ae_frame(events: pd.DataFrame) -> pd.DataFrame:
    """The AE columns the summary reads; an optional column the provider lacks becomes missing ("not coded")."""
    out = events.copy()
    for column in AE_COLUMNS:
        if column not in out:
            out[column] = "not coded" if column == "soc" else None
    out["soc"] = out["soc"].fillna("").astype(str).replace("", "not coded")
    return out
